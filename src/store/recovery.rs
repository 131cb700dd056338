//! Email addresses on accounts, the one-time tokens mailed to them, what an
//! export reads, and deleting an account.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use crate::{
    domain::{CredentialEpoch, EmailAddress, Role, User, Username},
    entities::{account_tokens, moderation_log, posts, users},
};

/// What a token is for; stored as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    EmailVerification,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::PasswordReset => "reset",
            Purpose::EmailVerification => "verify-email",
        }
    }
}

/// An account as recovery sees it: who, and the address that may receive
/// its mail (None unless verified).
#[derive(Debug, Clone)]
pub struct Recipient {
    pub user: User,
    pub epoch: CredentialEpoch,
    pub verified_email: Option<String>,
}

/// An account's addresses as its settings show them.
#[derive(Debug, Clone, Default)]
pub struct Addresses {
    /// The address given last, verified or not.
    pub email: Option<String>,
    pub verified: bool,
    /// The address that receives mail now (the verified one), if any.
    pub verified_email: Option<String>,
}

fn recipient(row: users::Model) -> Recipient {
    Recipient {
        user: User {
            id: row.id,
            role: Role::from_stored(&row.role),
            username: row.username,
        },
        epoch: CredentialEpoch(row.credential_epoch),
        verified_email: row.email.filter(|_| row.verified_email.is_some()),
    }
}

/// The account a forgot-password form names: a username, or a verified
/// address (case-insensitively). Unverified addresses find nobody.
pub async fn find_by_login(
    db: &impl ConnectionTrait,
    login: &str,
) -> Result<Option<Recipient>, DbErr> {
    let login = login.trim();
    // What no account can have (a control character, which PostgreSQL
    // refuses in text, or more than an address holds) still costs one query.
    let impossible = login.chars().any(char::is_control) || login.chars().count() > 254;
    let filter = if impossible {
        users::Column::Username.eq("")
    } else if login.contains('@') {
        users::Column::VerifiedEmail.eq(login.to_lowercase())
    } else {
        match Username::parse(login) {
            Ok(name) => users::Column::Username.eq(name.as_str()),
            // Still one query, as for a name that could exist.
            Err(_) => users::Column::Username.eq(""),
        }
    };
    Ok(users::Entity::find()
        .filter(filter)
        .one(db)
        .await?
        .map(recipient))
}

pub async fn find_by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Recipient>, DbErr> {
    Ok(users::Entity::find_by_id(id).one(db).await?.map(recipient))
}

pub async fn find_by_username(
    db: &impl ConnectionTrait,
    username: &Username,
) -> Result<Option<Recipient>, DbErr> {
    Ok(users::Entity::find()
        .filter(users::Column::Username.eq(username.as_str()))
        .one(db)
        .await?
        .map(recipient))
}

pub async fn addresses(db: &impl ConnectionTrait, id: Uuid) -> Result<Addresses, DbErr> {
    let row = users::Entity::find_by_id(id).one(db).await?;
    Ok(row.map_or_else(Addresses::default, |u| Addresses {
        verified: u.verified_email.is_some(),
        verified_email: u.email.clone().filter(|_| u.verified_email.is_some()),
        email: u.email,
    }))
}

/// Gives account `id` the address `email`, unverified, and voids the
/// verification links sent for any earlier address.
pub async fn set_email(
    db: &DatabaseConnection,
    id: Uuid,
    email: &EmailAddress,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    users::Entity::update_many()
        .col_expr(users::Column::Email, Expr::value(email.as_str()))
        .col_expr(
            users::Column::VerifiedEmail,
            Expr::value(Option::<String>::None),
        )
        .filter(users::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    account_tokens::Entity::delete_many()
        .filter(account_tokens::Column::UserId.eq(id))
        .filter(account_tokens::Column::Purpose.eq(Purpose::EmailVerification.as_str()))
        .exec(&txn)
        .await?;
    txn.commit().await
}

/// A token to store: only its hash, and what keeps it valid.
pub struct NewToken<'a> {
    pub hash: Vec<u8>,
    pub user_id: Uuid,
    pub purpose: Purpose,
    /// A reset token's: valid while the account is at this epoch.
    pub epoch: Option<CredentialEpoch>,
    /// A verification token's: valid while the account has this address.
    pub email: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_token(db: &impl ConnectionTrait, token: NewToken<'_>) -> Result<(), DbErr> {
    let row = account_tokens::ActiveModel {
        token_hash: Set(token.hash),
        user_id: Set(token.user_id),
        purpose: Set(token.purpose.as_str().to_owned()),
        credential_epoch: Set(token.epoch.map(|e| e.0)),
        email: Set(token.email.map(str::to_owned)),
        created_at: Set(token.now),
        expires_at: Set(token.expires_at),
    };
    account_tokens::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A token that may still be used, with its account.
#[derive(Debug, Clone)]
pub struct ValidToken {
    pub recipient: Recipient,
    /// A verification token's address.
    pub email: Option<String>,
}

/// The live token with hash `hash` for `purpose`: unexpired, and still
/// matching its account's epoch (reset) or address (verification).
pub async fn find_token(
    db: &impl ConnectionTrait,
    hash: &[u8],
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Option<ValidToken>, DbErr> {
    let Some(token) = account_tokens::Entity::find_by_id(hash.to_vec())
        .filter(account_tokens::Column::Purpose.eq(purpose.as_str()))
        .filter(account_tokens::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(user) = users::Entity::find_by_id(token.user_id).one(db).await? else {
        return Ok(None);
    };
    let still_valid = match purpose {
        Purpose::PasswordReset => token.credential_epoch == Some(user.credential_epoch),
        Purpose::EmailVerification => token.email.is_some() && token.email == user.email,
    };
    Ok(still_valid.then(|| ValidToken {
        recipient: recipient(user),
        email: token.email,
    }))
}

/// Uses reset token `hash`: in one transaction it is deleted (a second use
/// finds nothing), the password hash stored and the credential epoch moved
/// on, provided the token has not expired and the account is still at the
/// token's epoch. Every other reset token of the account goes too. Returns
/// the account and its new epoch, or None when the token is not (or no
/// longer) valid.
///
/// The first statement writes (the delete), so that on SQLite the
/// transaction holds the write lock from its start: two uses of one token
/// at once take turns, and the second finds nothing, rather than one of them
/// failing to upgrade a read.
pub async fn use_reset_token(
    db: &DatabaseConnection,
    hash: &[u8],
    password_hash: String,
    now: DateTime<Utc>,
) -> Result<Option<(User, CredentialEpoch)>, DbErr> {
    let txn = db.begin().await?;
    let deleted = account_tokens::Entity::delete_many()
        .filter(account_tokens::Column::TokenHash.eq(hash.to_vec()))
        .filter(account_tokens::Column::Purpose.eq(Purpose::PasswordReset.as_str()))
        .exec_with_returning(&txn)
        .await?;
    let Some(token) = deleted.into_iter().next() else {
        return Ok(None);
    };
    let (Some(epoch), true) = (token.credential_epoch, token.expires_at > now) else {
        return Ok(None);
    };
    let updated = users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(
            users::Column::CredentialEpoch,
            Expr::col(users::Column::CredentialEpoch).add(1),
        )
        .filter(users::Column::Id.eq(token.user_id))
        .filter(users::Column::CredentialEpoch.eq(epoch))
        .exec_with_returning(&txn)
        .await?;
    let Some(user) = updated.into_iter().next() else {
        return Ok(None);
    };
    account_tokens::Entity::delete_many()
        .filter(account_tokens::Column::UserId.eq(user.id))
        .filter(account_tokens::Column::Purpose.eq(Purpose::PasswordReset.as_str()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    let epoch = CredentialEpoch(user.credential_epoch);
    Ok(Some((
        User {
            id: user.id,
            role: Role::from_stored(&user.role),
            username: user.username,
        },
        epoch,
    )))
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Another account has verified the same address first.
    #[error("the address is verified on another account")]
    AddressTaken,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Uses verification token `hash`: deletes it and marks its address
/// verified, in one transaction that writes first (as
/// [`use_reset_token`]). None when the token is not valid.
pub async fn use_verification_token(
    db: &DatabaseConnection,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<(User, String)>, VerifyError> {
    let txn = db.begin().await?;
    let deleted = account_tokens::Entity::delete_many()
        .filter(account_tokens::Column::TokenHash.eq(hash.to_vec()))
        .filter(account_tokens::Column::Purpose.eq(Purpose::EmailVerification.as_str()))
        .exec_with_returning(&txn)
        .await?;
    let Some(token) = deleted.into_iter().next() else {
        return Ok(None);
    };
    let (Some(email), true) = (token.email, token.expires_at > now) else {
        return Ok(None);
    };
    let updated = users::Entity::update_many()
        .col_expr(
            users::Column::VerifiedEmail,
            Expr::value(email.to_lowercase()),
        )
        .filter(users::Column::Id.eq(token.user_id))
        .filter(users::Column::Email.eq(email.as_str()))
        .exec_with_returning(&txn)
        .await;
    let user = match updated {
        Ok(rows) => match rows.into_iter().next() {
            Some(user) => user,
            None => return Ok(None),
        },
        Err(e) if super::is_unique_violation(&e) => return Err(VerifyError::AddressTaken),
        Err(e) => return Err(e.into()),
    };
    txn.commit().await?;
    Ok(Some((
        User {
            id: user.id,
            role: Role::from_stored(&user.role),
            username: user.username,
        },
        email,
    )))
}

/// Deletes tokens that have expired; returns how many.
pub async fn delete_expired_tokens(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(account_tokens::Entity::delete_many()
        .filter(account_tokens::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?
        .rows_affected)
}

/// Deletes account `id`. Its sessions, posts and tokens go with it (their
/// foreign keys cascade), in the same statement, on both databases.
pub async fn delete_user(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, DbErr> {
    Ok(users::Entity::delete_by_id(id)
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

/// The account's own row, for an export.
pub struct AccountRow {
    pub id: Uuid,
    pub username: String,
    pub created_at: DateTime<Utc>,
    pub email: Option<String>,
    pub email_verified: bool,
}

pub async fn account(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<AccountRow>, DbErr> {
    Ok(users::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|u| AccountRow {
            id: u.id,
            username: u.username,
            created_at: u.created_at,
            email_verified: u.verified_email.is_some(),
            email: u.email,
        }))
}

/// Every post of `author`, oldest first, with its Markdown.
pub async fn posts_of(db: &impl ConnectionTrait, author: Uuid) -> Result<Vec<posts::Model>, DbErr> {
    posts::Entity::find()
        .filter(posts::Column::AuthorId.eq(author))
        .order_by_asc(posts::Column::CreatedAt)
        .order_by_asc(posts::Column::Id)
        .all(db)
        .await
}

/// One entry of the moderation log that concerns a person.
#[derive(Debug, Clone)]
pub struct ModerationEntry {
    pub action: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// The moderation-log entries concerning account `id`, oldest first.
pub async fn moderation_actions(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Vec<ModerationEntry>, DbErr> {
    let rows = moderation_log::Entity::find()
        .select_only()
        .columns([
            moderation_log::Column::Action,
            moderation_log::Column::Reason,
            moderation_log::Column::CreatedAt,
        ])
        .filter(moderation_log::Column::TargetUserId.eq(id))
        .order_by_asc(moderation_log::Column::CreatedAt)
        .order_by_asc(moderation_log::Column::Id)
        .into_tuple::<(String, Option<String>, DateTime<Utc>)>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(action, reason, at)| ModerationEntry { action, reason, at })
        .collect())
}

/// Whether account `id` is suspended (a reset then changes nothing).
pub async fn is_suspended(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, DbErr> {
    let suspended_at = users::Entity::find_by_id(id)
        .select_only()
        .column(users::Column::SuspendedAt)
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(db)
        .await?;
    Ok(matches!(suspended_at, Some(Some(_))))
}

/// Reset tokens of account `id` (for tests and the purge's bookkeeping).
pub async fn count_tokens(db: &impl ConnectionTrait, id: Uuid) -> Result<u64, DbErr> {
    account_tokens::Entity::find()
        .select_only()
        .column(account_tokens::Column::TokenHash)
        .filter(account_tokens::Column::UserId.eq(id))
        .into_tuple::<Vec<u8>>()
        .all(db)
        .await
        .map(|rows| rows.len() as u64)
}
