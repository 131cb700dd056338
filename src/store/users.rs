//! Queries and changes on `users`.

use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use crate::{
    domain::{CredentialEpoch, EmailAddress, Role, User, Username, session::now},
    entities::users,
};

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("the username is taken")]
    UsernameTaken,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Inserts a user with an already hashed password.
pub async fn create(
    db: &impl ConnectionTrait,
    username: &Username,
    password_hash: String,
    role: Role,
    email: Option<&EmailAddress>,
) -> Result<User, CreateUserError> {
    let id = Uuid::now_v7();
    let row = users::ActiveModel {
        id: Set(id),
        username: Set(username.as_str().to_owned()),
        password_hash: Set(password_hash),
        created_at: Set(now()),
        credential_epoch: Set(CredentialEpoch::FIRST.0),
        role: Set(role.as_str().to_owned()),
        suspended_at: Set(None),
        suspension_reason: Set(None),
        // Left out of the statement when absent (the column's default, NULL).
        email: email.map_or(NotSet, |e| Set(Some(e.as_str().to_owned()))),
        verified_email: NotSet,
    };
    match users::Entity::insert(row).exec_without_returning(db).await {
        Ok(_) => Ok(User {
            id,
            username: username.as_str().to_owned(),
            role,
        }),
        Err(e) if super::is_unique_violation(&e) => Err(CreateUserError::UsernameTaken),
        Err(e) => Err(e.into()),
    }
}

pub async fn exists(db: &impl ConnectionTrait, username: &Username) -> Result<bool, DbErr> {
    let found = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::Username.eq(username.as_str()))
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    Ok(found.is_some())
}

pub async fn find_by_username(
    db: &impl ConnectionTrait,
    username: &Username,
) -> Result<Option<User>, DbErr> {
    let row = users::Entity::find()
        .select_only()
        .columns([
            users::Column::Id,
            users::Column::Username,
            users::Column::Role,
        ])
        .filter(users::Column::Username.eq(username.as_str()))
        .into_tuple::<(Uuid, String, String)>()
        .one(db)
        .await?;
    Ok(row.map(|(id, username, role)| User {
        id,
        username,
        role: Role::from_stored(&role),
    }))
}

/// A user, their password hash and its credential epoch, for checking a login.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
    pub epoch: CredentialEpoch,
    /// Suspended accounts cannot log in.
    pub suspended: bool,
}

pub async fn find_credentials(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<Credentials>, DbErr> {
    let row = users::Entity::find()
        .filter(users::Column::Username.eq(username))
        .one(db)
        .await?;
    Ok(row.map(|u| Credentials {
        user: User {
            id: u.id,
            username: u.username,
            role: Role::from_stored(&u.role),
        },
        password_hash: u.password_hash,
        epoch: CredentialEpoch(u.credential_epoch),
        suspended: u.suspended_at.is_some(),
    }))
}

/// The password hash of user `id`.
pub async fn password_hash(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<String>, DbErr> {
    users::Entity::find_by_id(id)
        .select_only()
        .column(users::Column::PasswordHash)
        .into_tuple::<String>()
        .one(db)
        .await
}

/// Stores a new password hash and moves the credential epoch on, so that
/// every session made under the old password stops being valid. Returns
/// the new epoch (None if there is no such user).
pub async fn set_password_hash(
    db: &impl ConnectionTrait,
    id: Uuid,
    hash: String,
) -> Result<Option<CredentialEpoch>, DbErr> {
    let row = users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .col_expr(
            users::Column::CredentialEpoch,
            Expr::col(users::Column::CredentialEpoch).add(1),
        )
        .filter(users::Column::Id.eq(id))
        .exec_with_returning(db)
        .await?;
    Ok(row.first().map(|u| CredentialEpoch(u.credential_epoch)))
}
