//! Throttling: limits on failed logins, on sign-ups and on posting, counted
//! in the database so that every instance shares them.
//!
//! A slot is taken *before* the work it limits (argon2 for a login), in one
//! atomic statement per key (see `store::rate_limits`): however many requests
//! arrive together, no more than the limit get through, and the rest are
//! refused without hashing. A login's slot stays taken while its password is
//! checked and stays counted if the password was wrong; a success gives its
//! own slot back. Refused attempts take nothing.
//!
//! Who a login counts against follows OWASP's "device cookies": an attempt
//! from a browser that once logged in to this very account (and so carries
//! its signed device cookie) counts against that device alone, so someone
//! guessing the password from elsewhere cannot lock its owner out; any other
//! attempt counts against the username and against the client address
//! (IPv6 by its /64), the address with a higher limit so that one person's
//! typos do not lock out a whole office behind one address.

use std::{net::IpAddr, time::Duration};

use anyhow::Context;
use sea_orm::DatabaseConnection;

use crate::{
    domain::{
        rate_limit::{LimitSetting, RateLimit, address_key, whole_seconds},
        session::now,
    },
    store::{
        Store,
        rate_limits::{self, Outcome, Take, Taken},
    },
};

/// The limits, as configured.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failed logins per username, and per device of an account.
    pub login_failures: LimitSetting,
    /// Failed logins per client address.
    pub login_failures_per_address: LimitSetting,
    /// Accounts created per client address.
    pub signups: LimitSetting,
    /// Posts written or edited per account.
    pub posts: LimitSetting,
    /// Password-reset requests per account (or per login typed, for none).
    pub password_resets: LimitSetting,
    /// Password-reset requests per client address.
    pub password_resets_per_address: LimitSetting,
}

impl Limits {
    /// No limit at all: for what an operator does at the command line, and
    /// for seeding the benchmark.
    pub const OFF: Self = Self {
        login_failures: LimitSetting::Off,
        login_failures_per_address: LimitSetting::Off,
        signups: LimitSetting::Off,
        posts: LimitSetting::Off,
        password_resets: LimitSetting::Off,
        password_resets_per_address: LimitSetting::Off,
    };
}

/// A refusal: try again after `retry_after` (whole seconds, at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many attempts; try again in {} s", retry_after.as_secs())]
pub struct Throttled {
    pub retry_after: Duration,
}

/// Slots taken for one attempt, to be given back if it should not count.
#[derive(Debug, Default)]
#[must_use = "a slot is given back or deliberately kept"]
pub struct Slots(Vec<Taken>);

/// A browser's device id, from a device cookie that names the account
/// being logged in to.
#[derive(Debug, Clone)]
pub struct KnownDevice(pub String);

/// The limits, counted in the store's `rate_limits` (shared by instances).
#[derive(Clone)]
pub struct Throttle {
    store: Store,
    limits: Limits,
}

impl Throttle {
    pub fn new(store: Store, limits: Limits) -> Self {
        Self { store, limits }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Takes a login attempt's slots: the device's own, or the username's
    /// and the address's.
    pub async fn login_attempt(
        &self,
        username: &str,
        client_ip: Option<IpAddr>,
        device: Option<&KnownDevice>,
    ) -> anyhow::Result<Result<Slots, Throttled>> {
        let mut keys = Vec::new();
        if let Some(device) = device {
            push(
                &mut keys,
                format!("login-device:{}", device.0),
                self.limits.login_failures,
            );
        } else {
            push(&mut keys, user_key(username), self.limits.login_failures);
            if let Some(ip) = client_ip {
                push(
                    &mut keys,
                    address_login_key(ip),
                    self.limits.login_failures_per_address,
                );
            }
        }
        take(self.store.pool(), &keys).await
    }

    /// Takes a slot for checking the current password of `username` (a
    /// password change): it counts against the username like a login.
    pub async fn password_check(&self, username: &str) -> anyhow::Result<Result<Slots, Throttled>> {
        let mut keys = Vec::new();
        push(&mut keys, user_key(username), self.limits.login_failures);
        take(self.store.pool(), &keys).await
    }

    /// Takes a sign-up's slot for the client address.
    pub async fn signup(
        &self,
        client_ip: Option<IpAddr>,
    ) -> anyhow::Result<Result<Slots, Throttled>> {
        let mut keys = Vec::new();
        if let Some(ip) = client_ip {
            push(
                &mut keys,
                format!("signup:{}", address_key(ip)),
                self.limits.signups,
            );
        }
        take(self.store.pool(), &keys).await
    }

    /// Takes the slot of a post written or edited by `author`.
    pub async fn post(&self, author: uuid::Uuid) -> anyhow::Result<Result<Slots, Throttled>> {
        let mut keys = Vec::new();
        push(&mut keys, format!("post:{author}"), self.limits.posts);
        take(self.store.pool(), &keys).await
    }

    /// Whether API token checks from `client_ip` are refused for now: the
    /// address has used up its failed logins (`Throttled`). Checked before a
    /// token is looked up; takes nothing.
    pub async fn token_check(
        &self,
        client_ip: Option<IpAddr>,
    ) -> anyhow::Result<Result<(), Throttled>> {
        let (Some(ip), Some(limit)) = (client_ip, self.limits.login_failures_per_address.limit())
        else {
            return Ok(Ok(()));
        };
        let key = address_login_key(ip);
        let now = now();
        let full = rate_limits::full_until(
            self.store.pool(),
            &Take {
                key: &key,
                max: limit.count,
                window_ms: i64::try_from(limit.window.as_millis()).unwrap_or(i64::MAX),
            },
            now,
        )
        .await
        .context("Failed to check the failed-login count")?;
        Ok(match full {
            None => Ok(()),
            Some(window_ends_ms) => Err(throttled_until(window_ends_ms, now)),
        })
    }

    /// Counts a failed API token check against `client_ip`, like a failed
    /// login from that address.
    pub async fn token_failure(&self, client_ip: Option<IpAddr>) -> anyhow::Result<()> {
        let mut keys = Vec::new();
        if let Some(ip) = client_ip {
            push(
                &mut keys,
                address_login_key(ip),
                self.limits.login_failures_per_address,
            );
        }
        // A full count stays full: nothing more to record.
        take(self.store.pool(), &keys).await.map(|taken| {
            if let Ok(slots) = taken {
                slots.keep();
            }
        })
    }

    /// Takes a password-reset request's slots: `account`'s (the account's
    /// id, or the login typed when it names none, so that both cost the
    /// same) and the client address's.
    pub async fn password_reset_request(
        &self,
        account: &str,
        client_ip: Option<IpAddr>,
    ) -> anyhow::Result<Result<Slots, Throttled>> {
        let mut keys = Vec::new();
        let account: String = account
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_control())
            // The key column holds 160 characters.
            .take(140)
            .collect();
        push(
            &mut keys,
            format!("forgot:{account}"),
            self.limits.password_resets,
        );
        if let Some(ip) = client_ip {
            push(
                &mut keys,
                format!("forgot-address:{}", address_key(ip)),
                self.limits.password_resets_per_address,
            );
        }
        take(self.store.pool(), &keys).await
    }

    /// Gives `slots` back: the attempt succeeded, or did not count.
    pub async fn give_back(&self, slots: Slots) -> anyhow::Result<()> {
        rate_limits::give_back(self.store.pool(), &slots.0)
            .await
            .context("Failed to give back a throttle slot")
    }

    /// Forgets counts whose window has ended; returns how many.
    pub async fn purge(&self) -> anyhow::Result<u64> {
        rate_limits::delete_ended(self.store.pool(), now())
            .await
            .context("Failed to purge ended throttle windows")
    }
}

impl Slots {
    /// The attempt counts: its slots stay taken until their window ends.
    pub fn keep(self) {}
}

/// The key a username counts under: case-insensitive, as logins match
/// names, without control characters (some databases refuse them in text),
/// and bounded in length like any name.
fn user_key(username: &str) -> String {
    let name: String = username
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    format!("login-user:{name}")
}

/// The key failed logins (and failed token checks) count under per address.
fn address_login_key(ip: IpAddr) -> String {
    format!("login-address:{}", address_key(ip))
}

fn throttled_until(window_ends_ms: i64, now: chrono::DateTime<chrono::Utc>) -> Throttled {
    let wait_ms = window_ends_ms.saturating_sub(now.timestamp_millis());
    let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
    Throttled {
        retry_after: whole_seconds(wait),
    }
}

fn push(keys: &mut Vec<(String, RateLimit)>, key: String, setting: LimitSetting) {
    if let Some(limit) = setting.limit() {
        keys.push((key, limit));
    }
}

async fn take(
    db: &DatabaseConnection,
    keys: &[(String, RateLimit)],
) -> anyhow::Result<Result<Slots, Throttled>> {
    if keys.is_empty() {
        return Ok(Ok(Slots::default()));
    }
    let takes: Vec<Take<'_>> = keys
        .iter()
        .map(|(key, limit)| Take {
            key,
            max: limit.count,
            window_ms: i64::try_from(limit.window.as_millis()).unwrap_or(i64::MAX),
        })
        .collect();
    let now = now();
    let outcome = rate_limits::take_all(db, &takes, now)
        .await
        .context("Failed to count an attempt")?;
    Ok(match outcome {
        Outcome::Taken(taken) => Ok(Slots(taken)),
        Outcome::Full { window_ends_ms } => Err(throttled_until(window_ends_ms, now)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_count_case_insensitively_and_bounded() {
        assert_eq!(user_key(" Maria "), "login-user:maria");
        assert_eq!(user_key("a\u{0}b"), "login-user:ab");
        assert_eq!(user_key(&"x".repeat(500)).len(), "login-user:".len() + 64);
    }
}
