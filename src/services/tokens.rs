//! Personal access tokens: what lets a script act as a person through the
//! API with `Authorization: Bearer tgr_…`, without a cookie jar or a CSRF
//! token.
//!
//! A token is a random secret shown to its owner once; the database keeps
//! only its SHA-256 (as for session secrets), so a copy of the database
//! holds nothing that authenticates. A token carries a scope (`read` or
//! `write`) and a fixed lifetime; it survives a password change (as on
//! GitHub: a script keeps working), but not the account's suspension or
//! deletion ([`end_all`], and the table's `ON DELETE CASCADE`).
//!
//! A wrong token costs its sender like a wrong password: every failed check
//! counts against the client address's failed-login limit, and an address
//! over that limit is refused before its token is even looked up. The count
//! is read before the lookup and a slot taken only after a failed one (not
//! taken first and given back, as for a login), so that the requests of a
//! valid token write nothing: checks already under way when the count
//! fills still finish, but none is counted beyond the limit.

use std::{net::IpAddr, time::Duration};

use anyhow::Context;
use uuid::Uuid;

use crate::{
    domain::{
        User,
        session::{delta, now},
        token::{Lifetime, Scope, Token, TokenName, TokenSecret},
    },
    services::throttle::{Throttle, Throttled},
    store::{
        Store,
        tokens::{self, NewToken},
    },
};

/// A request for a new token, as submitted (a form or JSON).
#[derive(Debug, Clone)]
pub struct TokenInput<'a> {
    pub name: &'a str,
    pub scope: &'a str,
    pub expires_in_days: i64,
}

/// What is wrong with a request for a token, field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenErrors {
    pub name: Option<String>,
    pub scope: Option<String>,
    pub expires_in_days: Option<String>,
}

impl TokenErrors {
    /// Every problem, in the form's order, as one sentence.
    pub fn message(&self) -> String {
        [&self.name, &self.scope, &self.expires_in_days]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

pub const SCOPE_INVALID: &str = "Choose the scope read or write.";
pub const LIFETIME_INVALID: &str = "Choose a lifetime of 7, 30, 90 or 365 days.";

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("the token request is invalid")]
    Invalid(TokenErrors),
    #[error("too many tokens")]
    TooMany { limit: u32 },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl CreateError {
    pub fn too_many_message(limit: u32) -> String {
        format!(
            "You already have {limit} tokens, the most you may hold. Revoke one you no longer use first."
        )
    }
}

/// A new token: its row, and its secret, which is shown this once.
#[derive(Debug)]
pub struct Created {
    pub token: Token,
    pub secret: TokenSecret,
}

/// The tokens use cases, with the store and the failed-check limit.
#[derive(Clone)]
pub struct Tokens {
    store: Store,
    throttle: Throttle,
}

impl Tokens {
    pub fn new(store: Store, throttle: Throttle) -> Self {
        Self { store, throttle }
    }

    /// Makes a token for `user`. At most `max_per_user` live tokens (0: no limit).
    pub async fn create(
        &self,
        user: &User,
        input: TokenInput<'_>,
        max_per_user: u32,
    ) -> Result<Created, CreateError> {
        let db = self.store.pool();
        let name = TokenName::parse(input.name);
        let scope = Scope::parse(input.scope);
        let lifetime = Lifetime::parse(input.expires_in_days);
        let (Ok(name), Some(scope), Some(lifetime)) = (&name, scope, lifetime) else {
            return Err(CreateError::Invalid(TokenErrors {
                name: name.err().map(|e| e.to_string()),
                scope: scope.is_none().then(|| SCOPE_INVALID.to_owned()),
                expires_in_days: lifetime.is_none().then(|| LIFETIME_INVALID.to_owned()),
            }));
        };
        let now = now();
        let secret = TokenSecret::generate().context("Failed to make a token secret")?;
        let made = tokens::create_within_limit(
            db,
            NewToken {
                secret_hash: secret.hash(),
                user_id: user.id,
                name: name.as_str(),
                scope,
                now,
                expires_at: lifetime.expires_at(now),
            },
            (max_per_user > 0).then_some(max_per_user),
        )
        .await
        .context("Failed to store a token")?;
        let Some(token) = made else {
            return Err(CreateError::TooMany {
                limit: max_per_user,
            });
        };
        tracing::info!(token = %token.id, scope = scope.as_str(), "token created");
        Ok(Created { token, secret })
    }

    /// `user`'s live tokens, newest first.
    pub async fn list(&self, user: &User) -> anyhow::Result<Vec<Token>> {
        let db = self.store.pool();
        tokens::list_live_for_user(db, user.id, now())
            .await
            .context("Failed to list tokens")
    }

    /// Revokes `user`'s token `id`; false when it is not one of theirs (or
    /// not a token id at all), which callers answer like an unknown one.
    pub async fn revoke(&self, user: &User, id: &str) -> anyhow::Result<bool> {
        let db = self.store.pool();
        let Ok(id) = Uuid::try_parse(id) else {
            return Ok(false);
        };
        let revoked = tokens::delete_for_user(db, user.id, id)
            .await
            .context("Failed to revoke a token")?;
        if revoked {
            tracing::info!(token = %id, "token revoked");
        }
        Ok(revoked)
    }

    /// Checks a presented bearer token. Its last use is recorded at most once
    /// per `refresh` (as a session's refresh is), so that a busy script does
    /// not write on every request.
    pub async fn authenticate(
        &self,
        presented: &str,
        client_ip: Option<IpAddr>,
        refresh: Duration,
    ) -> Result<TokenCaller, TokenRefusal> {
        let db = self.store.pool();
        let throttle = &self.throttle;
        throttle
            .token_check(client_ip)
            .await?
            .map_err(TokenRefusal::Throttled)?;
        let now = now();
        let found = match TokenSecret::parse(presented) {
            Some(secret) => tokens::find_by_secret_hash(db, &secret.hash())
                .await
                .context("Failed to look up a token")?,
            None => None,
        };
        let Some(found) = found.filter(|f| f.token.expires_at > now) else {
            throttle.token_failure(client_ip).await?;
            return Err(TokenRefusal::Invalid);
        };
        let due = found
            .token
            .last_used_at
            .is_none_or(|last| now.signed_duration_since(last) >= delta(refresh));
        if due {
            tokens::touch(db, found.token.id, now)
                .await
                .context("Failed to record a token's use")?;
        }
        Ok(TokenCaller {
            id: found.token.id,
            user: found.user,
            scope: found.token.scope,
        })
    }
}

/// Deletes tokens that have expired; returns how many.
pub async fn purge_expired(store: &Store) -> anyhow::Result<u64> {
    tokens::delete_expired(store.pool(), now())
        .await
        .context("Failed to purge expired tokens")
}

/// Who a valid token acts for, and what it may do.
#[derive(Debug, Clone)]
pub struct TokenCaller {
    pub id: Uuid,
    pub user: User,
    pub scope: Scope,
}

/// Why a presented token does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum TokenRefusal {
    /// Malformed, unknown, revoked or expired: all the same to the caller.
    #[error("the token is not valid")]
    Invalid,
    /// The client address has too many failed logins (or token checks).
    #[error(transparent)]
    Throttled(Throttled),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}
