//! Signing up, logging in and changing a password: the rules, with the
//! database, the hasher and the throttle.

use std::{net::IpAddr, time::Duration};

use anyhow::Context;
use sea_orm::TransactionTrait;

use crate::{
    domain::{
        Authenticated, CredentialEpoch, EmailAddress, PasswordError, PasswordInput, PasswordRules,
        Role, SessionSecret, SignupMode, User, Username, UsernameError, rate_limit, session::now,
    },
    services::passwords::{HashError, PasswordHasher},
    services::throttle::{KnownDevice, Throttle, Throttled},
    store::{self, Store, users::CreateUserError},
};

/// What a sign-up form or request carries.
#[derive(Debug)]
pub struct SignupInput<'a> {
    pub username: &'a str,
    pub password: &'a PasswordInput,
    /// The second copy of the password, where the form asks for one.
    pub password_confirm: Option<&'a PasswordInput>,
    /// The invite code, where sign-ups need one.
    pub invite: Option<&'a str>,
    /// An email address, optional (blank is none); unverified until its
    /// owner follows the link mailed to it.
    pub email: Option<&'a str>,
}

/// Why a sign-up was refused, field by field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SignupErrors {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<PasswordError>,
    pub password_confirm: Option<String>,
}

impl SignupErrors {
    pub fn is_empty(&self) -> bool {
        self.username.is_none()
            && self.email.is_none()
            && self.password.is_none()
            && self.password_confirm.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error("the sign-up form has errors")]
    Invalid(SignupErrors),
    #[error("the username is taken")]
    UsernameTaken,
    /// `--signups closed`.
    #[error("{SIGNUPS_CLOSED}")]
    Closed,
    /// `--signups invite`, and no live invite code came with it.
    #[error("{INVITE_REQUIRED}")]
    InviteRequired,
    /// Too many accounts from this address lately.
    #[error("too many sign-ups")]
    Throttled { retry_after: Duration },
    /// Too many passwords waiting to be hashed.
    #[error("busy")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The same answer whether the name exists or not.
    #[error("wrong username or password")]
    InvalidCredentials,
    /// The password was right, and the account is suspended.
    #[error("{SUSPENDED}")]
    Suspended,
    /// Too many failures for this name, device or address, lately.
    #[error("too many failed logins")]
    Throttled { retry_after: Duration },
    /// Too many passwords waiting to be checked.
    #[error("busy")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
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
    pub new: Option<PasswordError>,
    pub new_confirm: Option<String>,
}

impl PasswordChangeErrors {
    pub fn is_empty(&self) -> bool {
        self.current.is_none() && self.new.is_none() && self.new_confirm.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("the password change has errors")]
    Invalid(PasswordChangeErrors),
    #[error("too many wrong passwords")]
    Throttled { retry_after: Duration },
    #[error("busy")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub const USERNAME_TAKEN: &str = "That username is taken.";
pub const PASSWORDS_DIFFER: &str = "The two passwords differ.";
pub const BAD_CREDENTIALS: &str = "Wrong username or password.";
pub const SUSPENDED: &str = "This account is suspended.";
pub const SIGNUPS_CLOSED: &str = "Sign-ups are closed.";
pub const INVITE_REQUIRED: &str =
    "Sign-ups need an invite: that link is unknown, used, revoked or expired.";
pub const WRONG_CURRENT_PASSWORD: &str = "That is not your current password.";
pub const BUSY: &str = "Too many logins are being checked right now. Try again in a moment.";
/// How long to wait when the hasher is busy.
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(2);

/// The message for a throttled login, with the wait rounded up to minutes.
pub fn throttled_message(retry_after: Duration) -> String {
    format!(
        "Too many failed logins. Try again in {}.",
        rate_limit::in_minutes(retry_after)
    )
}

/// The message for a refused sign-up, with the wait rounded up to minutes.
pub fn signup_throttled_message(retry_after: Duration) -> String {
    format!(
        "Too many accounts were made from your address lately. Try again in {}.",
        rate_limit::in_minutes(retry_after)
    )
}

/// A login attempt as it arrives.
#[derive(Debug)]
pub struct LoginAttempt<'a> {
    pub username: &'a str,
    pub password: &'a PasswordInput,
    pub client_ip: Option<IpAddr>,
    /// This browser, if its device cookie names the account tried.
    pub device: Option<KnownDevice>,
}

/// Whether an account whose password was right may log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Good,
    Suspended,
}

/// The accounts use cases, with what they need.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    hasher: PasswordHasher,
    throttle: Throttle,
    rules: PasswordRules,
    signups: SignupMode,
}

/// Why the command line could not make an account or set a password.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("{0}")]
    Refused(String),
    #[error("there is nobody named {0}")]
    NoSuchUser(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Accounts {
    pub fn new(
        store: Store,
        hasher: PasswordHasher,
        throttle: Throttle,
        rules: PasswordRules,
    ) -> Self {
        Self {
            store,
            hasher,
            throttle,
            rules,
            signups: SignupMode::Open,
        }
    }

    /// Who may sign up (`--signups`).
    pub fn with_signups(self, signups: SignupMode) -> Self {
        Self { signups, ..self }
    }

    pub fn signups(&self) -> SignupMode {
        self.signups
    }

    /// Whether `code` is a live invite (for showing the sign-up form).
    pub async fn invite_is_live(&self, code: &str) -> anyhow::Result<bool> {
        Ok(self.live_invite(Some(code)).await?.is_some())
    }

    async fn live_invite(&self, code: Option<&str>) -> anyhow::Result<Option<uuid::Uuid>> {
        let Some(secret) = code.and_then(SessionSecret::parse) else {
            return Ok(None);
        };
        store::moderation::live_invite(self.store.pool(), &secret.hash(), now())
            .await
            .context("Failed to look up an invite")
    }

    /// Makes an account from the command line: the password rules apply,
    /// the sign-up mode and limits do not.
    pub async fn create_account(
        &self,
        username: &str,
        password: &PasswordInput,
        role: Role,
    ) -> Result<User, OperatorError> {
        let name = Username::parse(username).map_err(|e| OperatorError::Refused(e.to_string()))?;
        let password = self
            .rules
            .check(password.clone(), username)
            .map_err(|e| OperatorError::Refused(e.to_string()))?;
        let hash = self.hasher.hash(&password).await.map_err(|e| match e {
            HashError::Busy => OperatorError::Refused(BUSY.to_owned()),
            HashError::Failed(e) => e.into(),
        })?;
        match store::users::create(self.store.pool(), &name, hash, role, None).await {
            Ok(user) => Ok(user),
            Err(CreateUserError::UsernameTaken) => {
                Err(OperatorError::Refused(USERNAME_TAKEN.to_owned()))
            }
            Err(CreateUserError::Db(e)) => Err(anyhow::Error::new(e)
                .context("Failed to insert a user")
                .into()),
        }
    }

    /// Sets `username`'s password from the command line and ends every
    /// session they have.
    pub async fn set_password(
        &self,
        username: &str,
        password: &PasswordInput,
    ) -> Result<User, OperatorError> {
        let name = Username::parse(username)
            .map_err(|_| OperatorError::NoSuchUser(username.to_owned()))?;
        let user = store::users::find_by_username(self.store.pool(), &name)
            .await
            .context("Failed to look up a user")?
            .ok_or_else(|| OperatorError::NoSuchUser(name.as_str().to_owned()))?;
        let password = self
            .rules
            .check(password.clone(), &user.username)
            .map_err(|e| OperatorError::Refused(e.to_string()))?;
        let hash = self.hasher.hash(&password).await.map_err(|e| match e {
            HashError::Busy => OperatorError::Refused(BUSY.to_owned()),
            HashError::Failed(e) => e.into(),
        })?;
        let txn = self.store.pool().begin().await.context("Failed to begin")?;
        store::users::set_password_hash(&txn, user.id, hash)
            .await
            .context("Failed to store a password hash")?;
        store::moderation::delete_sessions(&txn, user.id)
            .await
            .context("Failed to end sessions")?;
        crate::services::moderation::log_password_set(&txn, &user)
            .await
            .map_err(|e| anyhow::anyhow!("Failed to log: {e}"))?;
        txn.commit().await.context("Failed to commit")?;
        Ok(user)
    }

    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The person called `username`, if there is one.
    pub async fn find(&self, username: &Username) -> anyhow::Result<Option<User>> {
        store::users::find_by_username(self.store.pool(), username)
            .await
            .context("Failed to look up a user")
    }

    /// Whether the database answers (for `/healthz`); if not, why, in one line.
    pub async fn database_answers(&self) -> Result<(), String> {
        store::ping(self.store.pool())
            .await
            .map_err(|e| store::errors::describe(&e))
    }

    /// Parses a sign-up, takes the address's sign-up slot, then creates the
    /// account. Refusals of any kind do not count against the address.
    #[tracing::instrument(skip_all, fields(username = %input.username))]
    pub async fn sign_up(
        &self,
        input: SignupInput<'_>,
        client_ip: Option<IpAddr>,
    ) -> Result<Authenticated, SignupError> {
        let invite = match self.signups {
            SignupMode::Open => None,
            SignupMode::Closed => return Err(SignupError::Closed),
            SignupMode::Invite => match self.live_invite(input.invite).await? {
                Some(id) => Some(id),
                None => return Err(SignupError::InviteRequired),
            },
        };
        let mut errors = SignupErrors::default();
        let username = Username::parse(input.username)
            .map_err(|e: UsernameError| errors.username = Some(e.to_string()))
            .ok();
        let email = match input.email.map(str::trim).filter(|e| !e.is_empty()) {
            Some(email) => EmailAddress::parse(email)
                .map_err(|e| errors.email = Some(e.to_string()))
                .ok(),
            None => None,
        };
        let password = self
            .rules
            .check(input.password.clone(), input.username)
            .map_err(|e| errors.password = Some(e))
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
        if store::users::exists(self.store.pool(), &username)
            .await
            .context("Failed to look up a username")?
        {
            return Err(SignupError::UsernameTaken);
        }
        let slots = match self.throttle.signup(client_ip).await? {
            Ok(slots) => slots,
            Err(Throttled { retry_after }) => return Err(SignupError::Throttled { retry_after }),
        };
        let hash = match self.hasher.hash(&password).await {
            Ok(hash) => hash,
            Err(e) => {
                self.throttle.give_back(slots).await?;
                return Err(match e {
                    HashError::Busy => SignupError::Busy,
                    HashError::Failed(e) => e.into(),
                });
            }
        };
        match self
            .create_invited(&username, hash, invite, email.as_ref())
            .await
        {
            Ok(Some(user)) => {
                slots.keep();
                Ok(Authenticated {
                    user,
                    epoch: CredentialEpoch::FIRST,
                })
            }
            Ok(None) => {
                self.throttle.give_back(slots).await?;
                Err(SignupError::InviteRequired)
            }
            Err(CreateUserError::UsernameTaken) => {
                self.throttle.give_back(slots).await?;
                Err(SignupError::UsernameTaken)
            }
            Err(CreateUserError::Db(e)) => {
                self.throttle.give_back(slots).await?;
                Err(anyhow::Error::new(e)
                    .context("Failed to insert a user")
                    .into())
            }
        }
    }

    /// Creates the account and, with an invite, uses the invite up in the
    /// same transaction: `None` when another sign-up used it first.
    async fn create_invited(
        &self,
        username: &Username,
        hash: String,
        invite: Option<uuid::Uuid>,
        email: Option<&EmailAddress>,
    ) -> Result<Option<User>, CreateUserError> {
        let Some(invite) = invite else {
            return store::users::create(self.store.pool(), username, hash, Role::Member, email)
                .await
                .map(Some);
        };
        let txn = self.store.pool().begin().await?;
        let user = store::users::create(&txn, username, hash, Role::Member, email).await?;
        if !store::moderation::claim_invite(&txn, invite, user.id, now()).await? {
            txn.rollback().await?;
            return Ok(None);
        }
        txn.commit().await?;
        Ok(Some(user))
    }

    /// A login attempt. A password longer than any can be fails at once,
    /// uncounted. Otherwise a slot is taken before any hashing (refused
    /// while the name, device or address has none left), the password is
    /// checked, and the slot stays counted if it was wrong.
    #[tracing::instrument(skip_all)]
    pub async fn log_in(&self, attempt: LoginAttempt<'_>) -> Result<Authenticated, LoginError> {
        if attempt.password.is_overlong() {
            return Err(LoginError::InvalidCredentials);
        }
        let slots = match self
            .throttle
            .login_attempt(attempt.username, attempt.client_ip, attempt.device.as_ref())
            .await?
        {
            Ok(slots) => slots,
            Err(Throttled { retry_after }) => return Err(LoginError::Throttled { retry_after }),
        };
        match self.authenticate(attempt.username, attempt.password).await {
            Ok(Some((_, Standing::Suspended))) => {
                self.throttle.give_back(slots).await?;
                Err(LoginError::Suspended)
            }
            Ok(Some((who, Standing::Good))) => {
                self.throttle.give_back(slots).await?;
                Ok(who)
            }
            Ok(None) => {
                slots.keep();
                Err(LoginError::InvalidCredentials)
            }
            Err(e) => {
                self.throttle.give_back(slots).await?;
                Err(match e {
                    HashError::Busy => LoginError::Busy,
                    HashError::Failed(e) => e.into(),
                })
            }
        }
    }

    /// Checks a username and password. Unknown names are verified against a
    /// dummy hash, so that neither the answer nor its timing tells them apart.
    async fn authenticate(
        &self,
        username: &str,
        password: &PasswordInput,
    ) -> Result<Option<(Authenticated, Standing)>, HashError> {
        // Names are stored lowercase; a name that could never be valid still
        // goes through a (dummy) verification.
        let lookup = Username::parse(username).ok();
        let credentials = match &lookup {
            Some(name) => store::users::find_credentials(self.store.pool(), name.as_str())
                .await
                .context("Failed to look up a user")?,
            None => None,
        };
        let (who, phc) = match credentials {
            Some(c) => (
                Some((
                    Authenticated {
                        user: c.user,
                        epoch: c.epoch,
                    },
                    if c.suspended {
                        Standing::Suspended
                    } else {
                        Standing::Good
                    },
                )),
                Some(c.password_hash),
            ),
            None => (None, None),
        };
        let verified = self.hasher.verify(password, phc).await?;
        Ok(who.filter(|_| verified))
    }

    /// Checks the current password, then stores the new one's hash and
    /// returns the account's new credential epoch: every session made
    /// before it stops being valid (the caller renews its own). A wrong
    /// current password counts like a failed login for this name: a stolen
    /// session must not become a way to guess the password.
    #[tracing::instrument(skip_all, fields(user = %user.username))]
    pub async fn change_password(
        &self,
        user: &User,
        change: PasswordChange<'_>,
    ) -> Result<CredentialEpoch, PasswordChangeError> {
        let mut errors = PasswordChangeErrors::default();
        let new = self
            .rules
            .check_change(change.new.clone(), change.current, &user.username)
            .map_err(|e| errors.new = Some(e))
            .ok();
        if let Some(confirm) = change.new_confirm
            && new.is_some()
            && confirm.expose() != change.new.expose()
        {
            errors.new_confirm = Some(PASSWORDS_DIFFER.to_owned());
        }
        if change.current.is_overlong() {
            errors.current = Some(WRONG_CURRENT_PASSWORD.to_owned());
        } else {
            let slots = match self.throttle.password_check(&user.username).await? {
                Ok(slots) => slots,
                Err(Throttled { retry_after }) => {
                    return Err(PasswordChangeError::Throttled { retry_after });
                }
            };
            let stored = store::users::password_hash(self.store.pool(), user.id)
                .await
                .context("Failed to load a password hash");
            let verified = match stored {
                Ok(stored) => self.hasher.verify(change.current, stored).await,
                Err(e) => Err(e.into()),
            };
            match verified {
                Ok(true) => self.throttle.give_back(slots).await?,
                Ok(false) => {
                    slots.keep();
                    errors.current = Some(WRONG_CURRENT_PASSWORD.to_owned());
                }
                Err(e) => {
                    self.throttle.give_back(slots).await?;
                    return Err(match e {
                        HashError::Busy => PasswordChangeError::Busy,
                        HashError::Failed(e) => e.into(),
                    });
                }
            }
        }
        let (Some(new), true) = (new, errors.is_empty()) else {
            return Err(PasswordChangeError::Invalid(errors));
        };
        let hash = self.hasher.hash(&new).await.map_err(|e| match e {
            HashError::Busy => PasswordChangeError::Busy,
            HashError::Failed(e) => e.into(),
        })?;
        store::users::set_password_hash(self.store.pool(), user.id, hash)
            .await
            .context("Failed to store a password hash")?
            .ok_or_else(|| PasswordChangeError::Unexpected(anyhow::anyhow!("the account is gone")))
    }
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
