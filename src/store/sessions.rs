//! Queries and changes on `sessions`: the storage side of server sessions.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, JoinType, Order,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait,
    sea_query::{Expr, ExprTrait, Query},
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::rows::Columns;
use crate::{
    domain::{
        CredentialEpoch, Role, User,
        session::{ClientInfo, Deadlines},
    },
    entities::{sessions, users},
};

/// The key/value data of a session (what Django calls `request.session`).
pub type SessionData = Map<String, Value>;

/// A session row as the session layer needs it on every request.
#[derive(Debug, Clone)]
pub struct StoredSession {
    pub id: Uuid,
    pub user: Option<User>,
    pub data: SessionData,
    pub version: i64,
    pub last_seen_at: DateTime<Utc>,
    pub deadlines: Deadlines,
    /// Started with "Remember me".
    pub remember: bool,
    /// The account's credentials changed after the session was made (its
    /// credential epoch is behind the account's): it is no longer valid.
    pub credentials_changed: bool,
}

/// A row of [`select_stored`].
pub(super) struct SessionRow {
    id: Uuid,
    user_id: Option<Uuid>,
    username: Option<String>,
    data: Value,
    version: i64,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    absolute_expires_at: DateTime<Utc>,
    remember: bool,
    session_epoch: i64,
    user_epoch: Option<i64>,
    user_role: Option<String>,
}

impl SessionRow {
    /// The columns of [`select_stored`], in order.
    pub(super) fn decode<C: Columns>(row: &C) -> Result<Self, C::Error> {
        Ok(Self {
            id: row.column(0)?,
            user_id: row.column(1)?,
            data: row.column(2)?,
            version: row.column(3)?,
            last_seen_at: row.column(4)?,
            expires_at: row.column(5)?,
            absolute_expires_at: row.column(6)?,
            remember: row.column(7)?,
            username: row.column(8)?,
            session_epoch: row.column(9)?,
            user_epoch: row.column(10)?,
            user_role: row.column(11)?,
        })
    }
}

/// Decoded by position (see [`super::rows`]); prefixes are never used.
impl FromQueryResult for SessionRow {
    fn from_query_result(row: &sea_orm::QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        Self::decode(row)
    }
}

impl From<SessionRow> for StoredSession {
    fn from(row: SessionRow) -> Self {
        let user = match (row.user_id, row.username) {
            (Some(id), Some(username)) => Some(User {
                id,
                username,
                role: row
                    .user_role
                    .as_deref()
                    .map(Role::from_stored)
                    .unwrap_or_default(),
            }),
            _ => None,
        };
        Self {
            id: row.id,
            user,
            data: match row.data {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            version: row.version,
            last_seen_at: row.last_seen_at,
            deadlines: Deadlines {
                expires_at: row.expires_at,
                absolute_expires_at: row.absolute_expires_at,
            },
            remember: row.remember,
            credentials_changed: row.user_epoch.is_some_and(|e| e != row.session_epoch),
        }
    }
}

pub struct NewSession<'a> {
    pub secret_hash: Vec<u8>,
    pub user_id: Option<Uuid>,
    pub data: SessionData,
    pub now: DateTime<Utc>,
    pub deadlines: Deadlines,
    pub remember: bool,
    pub client: &'a ClientInfo,
    /// The credential epoch the person's password was checked at.
    pub credential_epoch: CredentialEpoch,
}

pub async fn create(
    db: &impl ConnectionTrait,
    new: NewSession<'_>,
) -> Result<StoredSession, DbErr> {
    let id = Uuid::new_v4();
    let row = sessions::ActiveModel {
        id: Set(id),
        secret_hash: Set(new.secret_hash),
        user_id: Set(new.user_id),
        data: Set(Value::Object(new.data.clone())),
        version: Set(0),
        created_at: Set(new.now),
        last_seen_at: Set(new.now),
        expires_at: Set(new.deadlines.expires_at),
        absolute_expires_at: Set(new.deadlines.absolute_expires_at),
        user_agent: Set(new.client.user_agent.clone()),
        ip: Set(new.client.ip.clone()),
        remember: Set(new.remember),
        credential_epoch: Set(new.credential_epoch.0),
    };
    sessions::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(StoredSession {
        id,
        user: None,
        data: new.data,
        version: 0,
        last_seen_at: new.now,
        deadlines: new.deadlines,
        remember: new.remember,
        credentials_changed: false,
    })
}

pub(super) fn select_stored() -> sea_orm::Select<sessions::Entity> {
    sessions::Entity::find()
        .select_only()
        .columns([
            sessions::Column::Id,
            sessions::Column::UserId,
            sessions::Column::Data,
            sessions::Column::Version,
            sessions::Column::LastSeenAt,
            sessions::Column::ExpiresAt,
            sessions::Column::AbsoluteExpiresAt,
            sessions::Column::Remember,
        ])
        .column_as(users::Column::Username, "username")
        .column_as(sessions::Column::CredentialEpoch, "session_epoch")
        .column_as(users::Column::CredentialEpoch, "user_epoch")
        .column_as(users::Column::Role, "user_role")
        .join(JoinType::LeftJoin, sessions::Relation::User.def())
}

/// The hash is unique, so at most one row comes back. Without the `LIMIT ?`
/// that `one()` adds, SQLite keeps this hot statement prepared (a bound
/// LIMIT is read when planning, so it would be prepared anew).
pub(super) fn by_secret_hash(secret_hash: &[u8]) -> sea_orm::Select<sessions::Entity> {
    select_stored().filter(sessions::Column::SecretHash.eq(secret_hash.to_vec()))
}

/// The session whose cookie secret hashes to `secret_hash`, with its user, in one query.
pub async fn find_by_secret_hash(
    db: &impl ConnectionTrait,
    secret_hash: &[u8],
) -> Result<Option<StoredSession>, DbErr> {
    let rows = by_secret_hash(secret_hash)
        .into_model::<SessionRow>()
        .all(db)
        .await?;
    Ok(rows.into_iter().next().map(Into::into))
}

pub async fn find_by_id(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<StoredSession>, DbErr> {
    let row = select_stored()
        .filter(sessions::Column::Id.eq(id))
        .into_model::<SessionRow>()
        .one(db)
        .await?;
    Ok(row.map(Into::into))
}

/// A refresh: the session was used at `now` from `ip`, and its idle deadline moves.
#[derive(Debug, Clone)]
pub struct Touch {
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
}

fn with_touch(
    update: sea_orm::UpdateMany<sessions::Entity>,
    touch: &Touch,
) -> sea_orm::UpdateMany<sessions::Entity> {
    let update = update
        .col_expr(sessions::Column::LastSeenAt, Expr::value(touch.now))
        .col_expr(sessions::Column::ExpiresAt, Expr::value(touch.expires_at));
    match &touch.ip {
        Some(ip) => update.col_expr(sessions::Column::Ip, Expr::value(ip.clone())),
        None => update,
    }
}

/// Writes a refresh. Returns whether the row still existed.
pub async fn touch(db: &impl ConnectionTrait, id: Uuid, touch: &Touch) -> Result<bool, DbErr> {
    let result = with_touch(sessions::Entity::update_many(), touch)
        .filter(sessions::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Compare-and-swap of the data: written only if the row is still at
/// `expected_version`. Returns whether it was written.
pub async fn save_data(
    db: &impl ConnectionTrait,
    id: Uuid,
    expected_version: i64,
    data: &SessionData,
    touch: Option<&Touch>,
) -> Result<bool, DbErr> {
    let update = match touch {
        Some(touch) => with_touch(sessions::Entity::update_many(), touch),
        None => sessions::Entity::update_many(),
    };
    let result = update
        .col_expr(
            sessions::Column::Data,
            Expr::value(Value::Object(data.clone())),
        )
        .col_expr(
            sessions::Column::Version,
            Expr::col(sessions::Column::Version).add(1),
        )
        .filter(sessions::Column::Id.eq(id))
        .filter(sessions::Column::Version.eq(expected_version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn delete(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, DbErr> {
    let result = sessions::Entity::delete_by_id(id).exec(db).await?;
    Ok(result.rows_affected == 1)
}

/// Deletes up to `batch` sessions that expired before `now`; returns how many.
/// Small batches keep each statement (and its lock) short.
pub async fn delete_expired_batch(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    batch: u64,
) -> Result<u64, DbErr> {
    let expired = Query::select()
        .column(sessions::Column::Id)
        .from(sessions::Entity)
        .and_where(sessions::Column::ExpiresAt.lte(now))
        .limit(batch)
        .to_owned();
    let result = sessions::Entity::delete_many()
        .filter(sessions::Column::Id.in_subquery(expired))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Gives a session a new secret (its cookie changes; its id and data stay),
/// made under the account's credential epoch `epoch`.
pub async fn set_secret_hash(
    db: &impl ConnectionTrait,
    id: Uuid,
    secret_hash: Vec<u8>,
    epoch: CredentialEpoch,
) -> Result<bool, DbErr> {
    let result = sessions::Entity::update_many()
        .col_expr(sessions::Column::SecretHash, Expr::value(secret_hash))
        .col_expr(sessions::Column::CredentialEpoch, Expr::value(epoch.0))
        .filter(sessions::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A session as its owner sees it in the list of their sessions.
#[derive(Debug, Clone, FromQueryResult)]
pub struct SessionListing {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub remember: bool,
}

/// `user_id`'s sessions still live at `now`, most recently used first.
pub async fn list_live_for_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<SessionListing>, DbErr> {
    sessions::Entity::find()
        .select_only()
        .columns([
            sessions::Column::Id,
            sessions::Column::CreatedAt,
            sessions::Column::LastSeenAt,
            sessions::Column::ExpiresAt,
            sessions::Column::UserAgent,
            sessions::Column::Ip,
            sessions::Column::Remember,
        ])
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::ExpiresAt.gt(now))
        .filter(sessions::Column::AbsoluteExpiresAt.gt(now))
        .order_by(sessions::Column::LastSeenAt, Order::Desc)
        .order_by(sessions::Column::CreatedAt, Order::Desc)
        .into_model::<SessionListing>()
        .all(db)
        .await
}

/// Deletes session `id` if it is `user_id`'s. Returns whether it was.
pub async fn delete_for_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    id: Uuid,
) -> Result<bool, DbErr> {
    let result = sessions::Entity::delete_many()
        .filter(sessions::Column::Id.eq(id))
        .filter(sessions::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes every session of `user_id` except `keep`; returns how many.
pub async fn delete_others(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    keep: Uuid,
) -> Result<u64, DbErr> {
    let result = sessions::Entity::delete_many()
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::Id.ne(keep))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Deletes `user_id`'s sessions beyond the `keep` most recently used ones
/// (and any that have expired); returns how many.
pub async fn trim_for_user(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    keep: usize,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let live = list_live_for_user(db, user_id, now).await?;
    let mut doomed: Vec<Uuid> = live.iter().skip(keep).map(|s| s.id).collect();
    let expired = sessions::Entity::delete_many()
        .filter(sessions::Column::UserId.eq(user_id))
        .filter(sessions::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?
        .rows_affected;
    if doomed.is_empty() {
        return Ok(expired);
    }
    doomed.sort();
    let result = sessions::Entity::delete_many()
        .filter(sessions::Column::Id.is_in(doomed))
        .exec(db)
        .await?;
    Ok(expired + result.rows_affected)
}
