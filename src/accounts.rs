//! Signing up and logging in: the rules, with the database and the hasher.

use anyhow::Context;
use sea_orm::DatabaseConnection;

use crate::{
    db::{self, users::CreateUserError},
    domain::{Password, PasswordError, PasswordInput, User, Username, UsernameError},
    passwords::PasswordHasher,
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
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
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
