//! Signing up and logging in: the rules, with the database and the hasher.

use std::{net::IpAddr, time::Duration};

use anyhow::Context;
use sea_orm::DatabaseConnection;

use crate::{
    db::{self, users::CreateUserError},
    domain::{Password, PasswordError, PasswordInput, User, Username, UsernameError},
    passwords::PasswordHasher,
    throttle::{AttemptKeys, LoginThrottle},
};

/// What a sign-up form or request carries.
#[derive(Debug)]
pub struct SignupInput<'a> {
    pub username: &'a str,
    pub password: &'a PasswordInput,
    /// The second copy of the password, where the form asks for one.
    pub password_confirm: Option<&'a PasswordInput>,
}

/// Why a sign-up was refused, field by field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SignupErrors {
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_confirm: Option<String>,
}

impl SignupErrors {
    pub fn is_empty(&self) -> bool {
        self.username.is_none() && self.password.is_none() && self.password_confirm.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error("the sign-up form has errors")]
    Invalid(SignupErrors),
    #[error("the username is taken")]
    UsernameTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub const USERNAME_TAKEN: &str = "That username is taken.";
pub const PASSWORDS_DIFFER: &str = "The two passwords differ.";
pub const BAD_CREDENTIALS: &str = "Wrong username or password.";

/// Parses a sign-up, then creates the account.
#[tracing::instrument(skip_all, fields(username = %input.username))]
pub async fn sign_up(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    input: SignupInput<'_>,
) -> Result<User, SignupError> {
    let mut errors = SignupErrors::default();
    let username = Username::parse(input.username)
        .map_err(|e: UsernameError| errors.username = Some(e.to_string()))
        .ok();
    let password = Password::parse(input.password.clone())
        .map_err(|e: PasswordError| errors.password = Some(e.to_string()))
        .ok();
    if let Some(confirm) = input.password_confirm
        && errors.password.is_none()
        && confirm.expose() != input.password.expose()
    {
        errors.password_confirm = Some(PASSWORDS_DIFFER.to_owned());
    }
    let (Some(username), Some(password), true) = (username, password, errors.is_empty()) else {
        return Err(SignupError::Invalid(errors));
    };

    // A cheap check first, so that a taken name costs no hashing; the unique
    // index still decides when two sign-ups race for one name.
    if db::users::exists(db, &username)
        .await
        .context("Failed to look up a username")?
    {
        return Err(SignupError::UsernameTaken);
    }
    let hash = hasher.hash(&password).await?;
    match db::users::create(db, &username, hash).await {
        Ok(user) => Ok(user),
        Err(CreateUserError::UsernameTaken) => Err(SignupError::UsernameTaken),
        Err(CreateUserError::Db(e)) => Err(anyhow::Error::new(e)
            .context("Failed to insert a user")
            .into()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The same answer whether the name exists or not.
    #[error("wrong username or password")]
    InvalidCredentials,
    /// Too many failures for this name or from this address, lately.
    #[error("too many failed logins")]
    Throttled { retry_after: Duration },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The message for a throttled login, with the wait rounded up to minutes.
pub fn throttled_message(retry_after: Duration) -> String {
    let minutes = retry_after.as_secs().div_ceil(60).max(1);
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    format!("Too many failed logins. Try again in {minutes} {unit}.")
}

/// A login attempt: refused outright while throttled (refusals are not
/// counted), otherwise checked, with a failure counted against the name and
/// the address and a success clearing the name's count.
#[tracing::instrument(skip_all)]
pub async fn log_in(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    throttle: &LoginThrottle,
    username: &str,
    password: &PasswordInput,
    client_ip: Option<IpAddr>,
) -> Result<User, LoginError> {
    let keys = AttemptKeys::new(username, client_ip);
    if let Some(retry_after) = throttle.check(db, &keys).await? {
        return Err(LoginError::Throttled { retry_after });
    }
    match authenticate(db, hasher, username, password).await {
        Ok(user) => {
            throttle.record_success(db, &keys).await?;
            Ok(user)
        }
        Err(LoginError::InvalidCredentials) => {
            throttle.record_failure(db, &keys).await?;
            Err(LoginError::InvalidCredentials)
        }
        Err(other) => Err(other),
    }
}

/// Checks a username and password. Unknown names are verified against a
/// dummy hash, so that neither the answer nor its timing tells them apart.
#[tracing::instrument(skip_all)]
pub async fn authenticate(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    username: &str,
    password: &PasswordInput,
) -> Result<User, LoginError> {
    // Names are stored lowercase; a name that could never be valid still
    // goes through a (dummy) verification.
    let lookup = Username::parse(username).ok();
    let credentials = match &lookup {
        Some(name) => db::users::find_credentials(db, name.as_str())
            .await
            .context("Failed to look up a user")?,
        None => None,
    };
    let (user, phc) = match credentials {
        Some(c) => (Some(c.user), Some(c.password_hash)),
        None => (None, None),
    };
    let verified = hasher.verify(password, phc).await?;
    match user {
        Some(user) if verified => Ok(user),
        _ => Err(LoginError::InvalidCredentials),
    }
}

/// What a password change carries.
#[derive(Debug)]
pub struct PasswordChange<'a> {
    pub current: &'a PasswordInput,
    pub new: &'a PasswordInput,
    /// The second copy of the new password, where the form asks for one.
    pub new_confirm: Option<&'a PasswordInput>,
}

/// Why a password change was refused, field by field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PasswordChangeErrors {
    pub current: Option<String>,
    pub new: Option<String>,
    pub new_confirm: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("the password change has errors")]
    Invalid(PasswordChangeErrors),
    #[error("too many wrong passwords")]
    Throttled { retry_after: Duration },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub const WRONG_CURRENT_PASSWORD: &str = "That is not your current password.";

/// Checks the current password, then stores the new one's hash. A wrong
/// current password counts as a failed login for this name and address: a
/// stolen session must not become a way to guess the password.
#[tracing::instrument(skip_all, fields(user = %user.username))]
pub async fn change_password(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    throttle: &LoginThrottle,
    user: &User,
    change: PasswordChange<'_>,
    client_ip: Option<IpAddr>,
) -> Result<(), PasswordChangeError> {
    let mut errors = PasswordChangeErrors::default();
    let new = Password::parse(change.new.clone())
        .map_err(|e| errors.new = Some(e.to_string()))
        .ok();
    if let Some(confirm) = change.new_confirm
        && new.is_some()
        && confirm.expose() != change.new.expose()
    {
        errors.new_confirm = Some(PASSWORDS_DIFFER.to_owned());
    }
    let keys = AttemptKeys::new(&user.username, client_ip);
    if let Some(retry_after) = throttle.check(db, &keys).await? {
        return Err(PasswordChangeError::Throttled { retry_after });
    }
    let stored = db::users::password_hash(db, user.id)
        .await
        .context("Failed to load a password hash")?;
    if !hasher.verify(change.current, stored).await? {
        throttle.record_failure(db, &keys).await?;
        errors.current = Some(WRONG_CURRENT_PASSWORD.to_owned());
    }
    let (Some(new), true) = (new, errors == PasswordChangeErrors::default()) else {
        return Err(PasswordChangeError::Invalid(errors));
    };
    let hash = hasher.hash(&new).await?;
    db::users::set_password_hash(db, user.id, hash)
        .await
        .context("Failed to store a password hash")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_messages_round_up_to_minutes() {
        assert_eq!(
            throttled_message(Duration::from_secs(1)),
            "Too many failed logins. Try again in 1 minute."
        );
        assert_eq!(
            throttled_message(Duration::from_secs(61)),
            "Too many failed logins. Try again in 2 minutes."
        );
        assert_eq!(
            throttled_message(Duration::from_secs(900)),
            "Too many failed logins. Try again in 15 minutes."
        );
    }
}
