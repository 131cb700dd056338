//! Queries and changes on `api_tokens`: the storage side of personal access
//! tokens.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    FromQueryResult, JoinType, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    RelationTrait, TransactionTrait, sea_query::Expr,
};
use uuid::Uuid;

use crate::{
    domain::{
        User,
        token::{Scope, Token},
    },
    entities::{api_tokens, users},
};

/// A row as the rest of the code sees it: never its secret's hash.
fn token_of(m: api_tokens::Model) -> Token {
    Token {
        id: m.id,
        name: m.name,
        // Only the two scopes are ever written; anything else reads as
        // the narrower one.
        scope: Scope::parse(&m.scope).unwrap_or(Scope::Read),
        created_at: m.created_at,
        expires_at: m.expires_at,
        last_used_at: m.last_used_at,
    }
}

/// A new token's row.
pub struct NewToken<'a> {
    pub secret_hash: Vec<u8>,
    pub user_id: Uuid,
    pub name: &'a str,
    pub scope: Scope,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn create(db: &impl ConnectionTrait, new: NewToken<'_>) -> Result<Token, DbErr> {
    let row = api_tokens::Model {
        id: Uuid::now_v7(),
        secret_hash: new.secret_hash,
        user_id: new.user_id,
        name: new.name.to_owned(),
        scope: new.scope.as_str().to_owned(),
        created_at: new.now,
        expires_at: new.expires_at,
        last_used_at: None,
    };
    let active = api_tokens::ActiveModel {
        id: Set(row.id),
        secret_hash: Set(row.secret_hash.clone()),
        user_id: Set(row.user_id),
        name: Set(row.name.clone()),
        scope: Set(row.scope.clone()),
        created_at: Set(row.created_at),
        expires_at: Set(row.expires_at),
        last_used_at: Set(None),
    };
    api_tokens::Entity::insert(active)
        .exec_without_returning(db)
        .await?;
    Ok(token_of(row))
}

/// `user_id`'s tokens that have not expired at `now`, newest first.
pub async fn list_live_for_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Token>, DbErr> {
    Ok(api_tokens::Entity::find()
        .filter(api_tokens::Column::UserId.eq(user_id))
        .filter(api_tokens::Column::ExpiresAt.gt(now))
        .order_by(api_tokens::Column::CreatedAt, Order::Desc)
        .order_by(api_tokens::Column::Id, Order::Desc)
        .all(db)
        .await?
        .into_iter()
        .map(token_of)
        .collect())
}

/// Inserts `new` unless its owner already holds `max` live tokens (`None`:
/// no limit); `None` when refused. The owner's row is locked first (a write
/// to it, in the transaction), so that tokens made at once for one person
/// take turns: each counts what the others made, and the limit holds.
pub async fn create_within_limit(
    db: &DatabaseConnection,
    new: NewToken<'_>,
    max: Option<u32>,
) -> Result<Option<Token>, DbErr> {
    let txn = db.begin().await?;
    users::Entity::update_many()
        .col_expr(
            users::Column::CredentialEpoch,
            Expr::col(users::Column::CredentialEpoch),
        )
        .filter(users::Column::Id.eq(new.user_id))
        .exec(&txn)
        .await?;
    if let Some(max) = max {
        let live = api_tokens::Entity::find()
            .filter(api_tokens::Column::UserId.eq(new.user_id))
            .filter(api_tokens::Column::ExpiresAt.gt(new.now))
            .count(&txn)
            .await?;
        if live >= u64::from(max) {
            txn.rollback().await?;
            return Ok(None);
        }
    }
    let token = create(&txn, new).await?;
    txn.commit().await?;
    Ok(Some(token))
}

/// A token found by its secret's hash, with its owner.
#[derive(Debug, Clone)]
pub struct FoundToken {
    pub token: Token,
    pub user: User,
}

#[derive(FromQueryResult)]
struct FoundRow {
    id: Uuid,
    name: String,
    scope: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    user_id: Uuid,
    username: String,
    role: String,
}

/// The token whose secret hashes to `hash`, with its owner: one indexed
/// lookup joined to `users`.
pub async fn find_by_secret_hash(
    db: &impl ConnectionTrait,
    hash: &[u8],
) -> Result<Option<FoundToken>, DbErr> {
    let row = api_tokens::Entity::find()
        .select_only()
        .columns([
            api_tokens::Column::Id,
            api_tokens::Column::Name,
            api_tokens::Column::Scope,
            api_tokens::Column::CreatedAt,
            api_tokens::Column::ExpiresAt,
            api_tokens::Column::LastUsedAt,
            api_tokens::Column::UserId,
        ])
        .column(users::Column::Username)
        .column(users::Column::Role)
        .join(JoinType::InnerJoin, api_tokens::Relation::User.def())
        .filter(api_tokens::Column::SecretHash.eq(hash.to_vec()))
        .into_model::<FoundRow>()
        .one(db)
        .await?;
    Ok(row.map(|r| FoundToken {
        token: Token {
            id: r.id,
            name: r.name,
            scope: Scope::parse(&r.scope).unwrap_or(Scope::Read),
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
        },
        user: User {
            id: r.user_id,
            username: r.username,
            role: crate::domain::Role::from_stored(&r.role),
        },
    }))
}

/// Records that token `id` was used at `now`.
pub async fn touch(db: &impl ConnectionTrait, id: Uuid, now: DateTime<Utc>) -> Result<(), DbErr> {
    api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::LastUsedAt, Expr::value(now))
        .filter(api_tokens::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes token `id` if it is `user_id`'s. Returns whether it was.
pub async fn delete_for_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    id: Uuid,
) -> Result<bool, DbErr> {
    let result = api_tokens::Entity::delete_many()
        .filter(api_tokens::Column::Id.eq(id))
        .filter(api_tokens::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes every token of `user_id`; returns how many.
pub async fn delete_all_for_user(db: &impl ConnectionTrait, user_id: Uuid) -> Result<u64, DbErr> {
    let result = api_tokens::Entity::delete_many()
        .filter(api_tokens::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Deletes every token that has expired at `now`; returns how many.
pub async fn delete_expired(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let result = api_tokens::Entity::delete_many()
        .filter(api_tokens::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
