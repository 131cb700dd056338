//! Account recovery and self-service: email addresses and their
//! verification, forgotten passwords, security notices, export and deletion.
//!
//! Tokens follow the rules of session secrets: 256 random bits, stored only
//! as a hash, single use, never used up by opening a link (GET), and void
//! once the password changes by any other way (a reset token is bound to
//! the credential epoch it was issued under).
//!
//! A forgotten-password request answers the same whatever it names, and in
//! the same time: the account is looked up and the throttle's slots taken
//! either way (keyed by the account's id, or by the login typed when it names
//! none), and the rest (a token, a mail) happens in the background.

use std::{net::IpAddr, time::Duration};

use anyhow::Context;
use chrono::TimeDelta;
use uuid::Uuid;

use crate::{
    config::BaseUrl,
    domain::{
        Authenticated, EmailAddress, OneTimeToken, PasswordError, PasswordInput, PasswordRules,
        User, Username,
        session::{ClientInfo, now},
        user_agent,
    },
    services::accounts::{PASSWORDS_DIFFER, WRONG_CURRENT_PASSWORD},
    services::export::{self, ExportDocument},
    services::mail::Mailer,
    services::notices::{self, Occasion},
    services::passwords::{HashError, PasswordHasher},
    services::throttle::{Throttle, Throttled},
    store::Store,
    store::recovery::{self as store, Addresses, NewToken, Purpose, Recipient, VerifyError},
};

/// How long an email-verification link works.
pub const VERIFICATION_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What the forgotten-password form always answers.
pub const FORGOT_ANSWER: &str =
    "If that account exists and has a verified email address, a link is on its way.";
pub const LINK_GONE: &str = "This link does not work: it was used already, it has expired, or the password has changed since it was sent.";
pub const CONFIRM_MISMATCH: &str = "Type your username exactly to confirm.";
pub const SAME_ADDRESS: &str = "That is already your confirmed address.";
pub const ADDRESS_TAKEN: &str = "That address is already verified on another account.";

#[derive(Debug, thiserror::Error)]
pub enum ForgotError {
    #[error("too many reset requests")]
    Throttled { retry_after: Duration },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub fn forgot_throttled_message(retry_after: Duration) -> String {
    format!(
        "Too many password-reset requests lately. Try again in {}.",
        crate::domain::rate_limit::in_minutes(retry_after)
    )
}

/// A token that is unknown, used, expired or void.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the link is not valid")]
    Gone,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why a reset was refused, field by field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResetErrors {
    pub new: Option<PasswordError>,
    pub new_confirm: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("the link is not valid")]
    Gone,
    /// A password rule refused the new password: the token stays valid.
    #[error("the new password has errors")]
    Invalid(ResetErrors),
    #[error("busy")]
    Busy,
    /// The account is suspended: its password is not reset (the link stays
    /// valid for when it is reinstated).
    #[error("{}", crate::services::accounts::SUSPENDED)]
    Suspended,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyEmailError {
    #[error("the link is not valid")]
    Gone,
    #[error("the address is verified on another account")]
    AddressTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why a change that needs the current password was refused, field by field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConfirmedErrors {
    pub current_password: Option<String>,
    /// The email address (a change of address) or the typed username (deletion).
    pub other: Option<String>,
}

impl ConfirmedErrors {
    fn is_empty(&self) -> bool {
        self.current_password.is_none() && self.other.is_none()
    }
}

/// A change that needs the current password: a new address, a deletion.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmedError {
    #[error("the form has errors")]
    Invalid(ConfirmedErrors),
    #[error("too many wrong passwords")]
    Throttled { retry_after: Duration },
    #[error("busy")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The recovery and self-service use cases, with what they need.
#[derive(Clone)]
pub struct Recovery {
    store: Store,
    hasher: PasswordHasher,
    throttle: Throttle,
    rules: PasswordRules,
    mailer: Mailer,
    base: BaseUrl,
    reset_lifetime: Duration,
}

/// The dependencies of [`Recovery`].
pub struct RecoveryParts {
    pub store: Store,
    pub hasher: PasswordHasher,
    pub throttle: Throttle,
    pub rules: PasswordRules,
    pub mailer: Mailer,
    pub base: BaseUrl,
    pub reset_lifetime: Duration,
}

fn lifetime(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// Makes a reset token for `recipient` and returns its link.
async fn issue_reset(
    db: &sea_orm::DatabaseConnection,
    recipient: &Recipient,
    base: &BaseUrl,
    valid_for: Duration,
) -> anyhow::Result<String> {
    let token = OneTimeToken::generate().context("Failed to read OS randomness")?;
    let at = now();
    store::insert_token(
        db,
        NewToken {
            hash: token.hash(),
            user_id: recipient.user.id,
            purpose: Purpose::PasswordReset,
            epoch: Some(recipient.epoch),
            email: None,
            now: at,
            expires_at: at + lifetime(valid_for),
        },
    )
    .await
    .context("Failed to store a reset token")?;
    Ok(base.join(&format!("/password/reset/{}", token.encode())))
}

#[derive(Debug, thiserror::Error)]
pub enum ResetLinkError {
    #[error("there is no account named `{0}`")]
    NoSuchAccount(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A one-time reset link for account `name`, for an operator to hand over
/// (`tangerine user reset-link`): no address needed.
pub async fn reset_link_for(
    kept: &Store,
    name: &str,
    base: &BaseUrl,
    valid_for: Duration,
) -> Result<String, ResetLinkError> {
    let missing = || ResetLinkError::NoSuchAccount(name.to_owned());
    let username = Username::parse(name).map_err(|_| missing())?;
    let recipient = store::find_by_username(kept.pool(), &username)
        .await
        .context("Failed to look up the account")?
        .ok_or_else(missing)?;
    Ok(issue_reset(kept.pool(), &recipient, base, valid_for).await?)
}

impl Recovery {
    pub fn new(parts: RecoveryParts) -> Self {
        Self {
            store: parts.store,
            hasher: parts.hasher,
            throttle: parts.throttle,
            rules: parts.rules,
            mailer: parts.mailer,
            base: parts.base,
            reset_lifetime: parts.reset_lifetime,
        }
    }

    /// A forgotten password: mails a reset link to the account's verified
    /// address, if the login names an account that has one. The answer is
    /// the same either way.
    #[tracing::instrument(skip_all)]
    pub async fn forgot(&self, login: &str, client_ip: Option<IpAddr>) -> Result<(), ForgotError> {
        let found = store::find_by_login(self.store.pool(), login)
            .await
            .context("Failed to look up an account")?;
        let key = match &found {
            Some(r) => r.user.id.to_string(),
            None => login.to_owned(),
        };
        if let Err(Throttled { retry_after }) = self
            .throttle
            .password_reset_request(&key, client_ip)
            .await?
        {
            return Err(ForgotError::Throttled { retry_after });
        }
        if let Some(recipient) = found
            && let Some(to) = recipient.verified_email.clone()
        {
            let this = self.clone();
            tokio::spawn(async move {
                match issue_reset(
                    this.store.pool(),
                    &recipient,
                    &this.base,
                    this.reset_lifetime,
                )
                .await
                {
                    Ok(link) => this.mailer.send(notices::reset_link(
                        &to,
                        &recipient.user.username,
                        &link,
                        this.reset_lifetime,
                        &this.base,
                    )),
                    Err(e) => tracing::warn!(
                        "no reset link sent: {}",
                        crate::telemetry::one_line(e.as_ref())
                    ),
                }
            });
        }
        Ok(())
    }

    /// The person a reset link is for, if it may still be used. Opening a
    /// link does not use it up.
    pub async fn reset_link_owner(&self, token: &str) -> Result<User, TokenError> {
        let token = OneTimeToken::parse(token).ok_or(TokenError::Gone)?;
        store::find_token(
            self.store.pool(),
            &token.hash(),
            Purpose::PasswordReset,
            now(),
        )
        .await
        .context("Failed to look up a reset token")?
        .map(|t| t.recipient.user)
        .ok_or(TokenError::Gone)
    }

    /// Resets the password with `token`: the same rules as a sign-up; a
    /// refusal leaves the token valid. On success the credential epoch moves
    /// on, so every session of the person ends; the caller starts a fresh
    /// one from the returned epoch.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        token: &str,
        new: &PasswordInput,
        new_confirm: Option<&PasswordInput>,
        client: &ClientInfo,
    ) -> Result<Authenticated, ResetError> {
        let token = OneTimeToken::parse(token).ok_or(ResetError::Gone)?;
        let owner = store::find_token(
            self.store.pool(),
            &token.hash(),
            Purpose::PasswordReset,
            now(),
        )
        .await
        .context("Failed to look up a reset token")?
        .ok_or(ResetError::Gone)?;
        if store::is_suspended(self.store.pool(), owner.recipient.user.id)
            .await
            .context("Failed to look up an account")?
        {
            return Err(ResetError::Suspended);
        }
        let mut errors = ResetErrors::default();
        let password = self
            .rules
            .check(new.clone(), &owner.recipient.user.username)
            .map_err(|e| errors.new = Some(e))
            .ok();
        if let Some(confirm) = new_confirm
            && errors.new.is_none()
            && confirm.expose() != new.expose()
        {
            errors.new_confirm = Some(PASSWORDS_DIFFER.to_owned());
        }
        let (Some(password), true) = (
            password,
            errors.new.is_none() && errors.new_confirm.is_none(),
        ) else {
            return Err(ResetError::Invalid(errors));
        };
        let hash = self.hasher.hash(&password).await.map_err(|e| match e {
            HashError::Busy => ResetError::Busy,
            HashError::Failed(e) => e.into(),
        })?;
        let (user, epoch) = store::use_reset_token(self.store.pool(), &token.hash(), hash, now())
            .await
            .context("Failed to reset a password")?
            .ok_or(ResetError::Gone)?;
        if let Some(to) = &owner.recipient.verified_email {
            self.notify(to, &user, client, notices::password_reset);
        }
        Ok(Authenticated { user, epoch })
    }

    /// The account's addresses, for its settings.
    pub async fn addresses(&self, user: &User) -> anyhow::Result<Addresses> {
        store::addresses(self.store.pool(), user.id)
            .await
            .context("Failed to load an account's address")
    }

    /// Checks `password` as the current password of `user`, counted like a
    /// login for the name: a stolen session must not become a way to guess it.
    async fn check_current_password(
        &self,
        user: &User,
        password: &PasswordInput,
    ) -> Result<bool, ConfirmedError> {
        if password.is_overlong() {
            return Ok(false);
        }
        let slots = match self.throttle.password_check(&user.username).await? {
            Ok(slots) => slots,
            Err(Throttled { retry_after }) => {
                return Err(ConfirmedError::Throttled { retry_after });
            }
        };
        let stored = crate::store::users::password_hash(self.store.pool(), user.id)
            .await
            .context("Failed to load a password hash");
        let verified = match stored {
            Ok(stored) => self.hasher.verify(password, stored).await,
            Err(e) => Err(e.into()),
        };
        match verified {
            Ok(true) => {
                self.throttle.give_back(slots).await?;
                Ok(true)
            }
            Ok(false) => {
                slots.keep();
                Ok(false)
            }
            Err(e) => {
                self.throttle.give_back(slots).await?;
                Err(match e {
                    HashError::Busy => ConfirmedError::Busy,
                    HashError::Failed(e) => e.into(),
                })
            }
        }
    }

    /// Gives the account a new address (unverified until its link is
    /// followed), mails the link to it, and tells the old verified address.
    #[tracing::instrument(skip_all, fields(user = %user.username))]
    pub async fn change_email(
        &self,
        user: &User,
        current_password: &PasswordInput,
        email: &str,
        client: &ClientInfo,
    ) -> Result<(), ConfirmedError> {
        let mut errors = ConfirmedErrors::default();
        let address = EmailAddress::parse(email)
            .map_err(|e| errors.other = Some(e.to_string()))
            .ok();
        if !self.check_current_password(user, current_password).await? {
            errors.current_password = Some(WRONG_CURRENT_PASSWORD.to_owned());
        }
        let before = self.addresses(user).await?;
        if let (Some(address), Some(verified)) = (&address, &before.verified_email)
            && address.normalized() == verified.to_lowercase()
        {
            errors.other = Some(SAME_ADDRESS.to_owned());
        }
        let (Some(address), true) = (address, errors.is_empty()) else {
            return Err(ConfirmedError::Invalid(errors));
        };
        store::set_email(self.store.pool(), user.id, &address)
            .await
            .context("Failed to store an email address")?;
        self.send_verification(user).await?;
        if let Some(old) = before.verified_email
            && old.to_lowercase() != address.normalized()
        {
            self.notify(&old, user, client, notices::email_changed);
        }
        Ok(())
    }

    /// Stores the address given at sign-up and mails its verification link.
    pub async fn add_signup_email(&self, user: &User, email: &EmailAddress) -> anyhow::Result<()> {
        store::set_email(self.store.pool(), user.id, email)
            .await
            .context("Failed to store an email address")?;
        self.send_verification(user).await
    }

    /// Mails a new verification link to the account's unverified address
    /// (nothing when it has none, or it is verified already).
    pub async fn send_verification(&self, user: &User) -> anyhow::Result<()> {
        let addresses = self.addresses(user).await?;
        let (Some(email), false) = (addresses.email, addresses.verified) else {
            return Ok(());
        };
        let token = OneTimeToken::generate().context("Failed to read OS randomness")?;
        let at = now();
        store::insert_token(
            self.store.pool(),
            NewToken {
                hash: token.hash(),
                user_id: user.id,
                purpose: Purpose::EmailVerification,
                epoch: None,
                email: Some(&email),
                now: at,
                expires_at: at + lifetime(VERIFICATION_LIFETIME),
            },
        )
        .await
        .context("Failed to store a verification token")?;
        let link = self.base.join(&format!("/email/verify/{}", token.encode()));
        self.mailer.send(notices::verify_address(
            &email,
            &user.username,
            &link,
            &self.base,
        ));
        Ok(())
    }

    /// The person and address a verification link is for, if it may still
    /// be used (opening it does not use it up).
    pub async fn verification_link_owner(&self, token: &str) -> Result<(User, String), TokenError> {
        let token = OneTimeToken::parse(token).ok_or(TokenError::Gone)?;
        let found = store::find_token(
            self.store.pool(),
            &token.hash(),
            Purpose::EmailVerification,
            now(),
        )
        .await
        .context("Failed to look up a verification token")?
        .ok_or(TokenError::Gone)?;
        Ok((found.recipient.user, found.email.unwrap_or_default()))
    }

    /// Uses a verification link: its address becomes the account's verified one.
    pub async fn verify_email(&self, token: &str) -> Result<(User, String), VerifyEmailError> {
        let token = OneTimeToken::parse(token).ok_or(VerifyEmailError::Gone)?;
        match store::use_verification_token(self.store.pool(), &token.hash(), now()).await {
            Ok(Some(done)) => Ok(done),
            Ok(None) => Err(VerifyEmailError::Gone),
            Err(VerifyError::AddressTaken) => Err(VerifyEmailError::AddressTaken),
            Err(VerifyError::Db(e)) => Err(anyhow::Error::new(e)
                .context("Failed to verify an address")
                .into()),
        }
    }

    /// A login from a browser that carried no device cookie of the account:
    /// tells its verified address, in the background.
    pub fn new_login(&self, user: &User, client: &ClientInfo) {
        self.notify_later(user, client, notices::new_login);
    }

    /// The password was changed on the settings page or through the API.
    pub fn password_changed(&self, user: &User, client: &ClientInfo) {
        self.notify_later(user, client, notices::password_changed);
    }

    /// A moderator suspended the account (`reason` as they gave it): tells
    /// its verified address, in the background. For the suspension's use
    /// case to call.
    pub fn account_suspended(&self, user: &User, reason: Option<&str>) {
        let (this, user, reason) = (self.clone(), user.clone(), reason.map(str::to_owned));
        tokio::spawn(async move {
            if let Some(to) = this.verified_address_of(&user).await {
                this.mailer.send(notices::account_suspended(
                    &to,
                    &user.username,
                    now(),
                    reason.as_deref(),
                    &this.base,
                ));
            }
        });
    }

    /// A moderator reinstated the account: tells its verified address, in
    /// the background.
    pub fn account_reinstated(&self, user: &User) {
        let (this, user) = (self.clone(), user.clone());
        tokio::spawn(async move {
            if let Some(to) = this.verified_address_of(&user).await {
                this.mailer.send(notices::account_reinstated(
                    &to,
                    &user.username,
                    now(),
                    &this.base,
                ));
            }
        });
    }

    /// The account's verified address, if any (a failure to look is logged).
    async fn verified_address_of(&self, user: &User) -> Option<String> {
        match store::addresses(self.store.pool(), user.id).await {
            Ok(addresses) => addresses.verified_email,
            Err(e) => {
                tracing::warn!("no notice sent: {}", crate::store::errors::describe(&e));
                None
            }
        }
    }

    /// Looks up the account's verified address in the background, and
    /// mails it `notice` if there is one.
    fn notify_later(
        &self,
        user: &User,
        client: &ClientInfo,
        notice: fn(&str, &Occasion<'_>) -> crate::services::mail::Mail,
    ) {
        let (this, user, client) = (self.clone(), user.clone(), client.clone());
        tokio::spawn(async move {
            if let Some(to) = this.verified_address_of(&user).await {
                this.notify(&to, &user, &client, notice);
            }
        });
    }

    fn notify(
        &self,
        to: &str,
        user: &User,
        client: &ClientInfo,
        notice: fn(&str, &Occasion<'_>) -> crate::services::mail::Mail,
    ) {
        let device = user_agent::describe(client.user_agent.as_deref());
        let occasion = Occasion {
            username: &user.username,
            at: now(),
            device: &device,
            ip: client.ip.as_deref(),
            base: &self.base,
        };
        self.mailer.send(notice(to, &occasion));
    }

    /// Everything Tangerine holds about `user`.
    pub async fn export(
        &self,
        user: &User,
        current_session: Option<Uuid>,
    ) -> anyhow::Result<ExportDocument> {
        export::gather(&self.store, user, current_session).await
    }

    /// Deletes the account after checking the current password and the
    /// username typed to confirm: its sessions, tokens and posts go with it,
    /// at once and everywhere.
    #[tracing::instrument(skip_all, fields(user = %user.username))]
    pub async fn delete_account(
        &self,
        user: &User,
        current_password: &PasswordInput,
        confirm: Option<&str>,
    ) -> Result<(), ConfirmedError> {
        let mut errors = ConfirmedErrors::default();
        if let Some(typed) = confirm
            && !typed.trim().eq_ignore_ascii_case(&user.username)
        {
            errors.other = Some(CONFIRM_MISMATCH.to_owned());
        }
        if !self.check_current_password(user, current_password).await? {
            errors.current_password = Some(WRONG_CURRENT_PASSWORD.to_owned());
        }
        if !errors.is_empty() {
            return Err(ConfirmedError::Invalid(errors));
        }
        store::delete_user(self.store.pool(), user.id)
            .await
            .context("Failed to delete an account")?;
        tracing::info!("account deleted");
        Ok(())
    }
}
