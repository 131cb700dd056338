//! Login throttling: failed logins are counted per username and per client
//! address; past the limit, attempts are refused (429) until the window
//! passes, whatever the password.
//!
//! The counts live in the database, not in memory: every instance behind a
//! load balancer sees the same failures (in-memory counts would multiply the
//! allowance by the number of instances), and memory stays flat however many
//! names an attacker tries. Rows stay bounded too: an address is refused
//! after a few failures and refused attempts are not recorded, and rows that
//! have left the window are purged.

use std::{net::IpAddr, time::Duration};

use anyhow::Context;
use sea_orm::DatabaseConnection;

use crate::{
    db::login_failures,
    domain::{session::now, throttle::ThrottlePolicy},
};

#[derive(Debug, Clone, Copy)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
}

/// What a login attempt is counted under.
#[derive(Debug, Clone)]
pub struct AttemptKeys {
    user: String,
    ip: Option<String>,
}

impl AttemptKeys {
    /// Names count case-insensitively, as logins match them. Control
    /// characters are dropped: they can be in no name, and some databases
    /// refuse them in text.
    pub fn new(username: &str, ip: Option<IpAddr>) -> Self {
        let name: String = username
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect();
        Self {
            user: format!("user:{name}"),
            ip: ip.map(|ip| format!("ip:{ip}")),
        }
    }

    fn all(&self) -> Vec<String> {
        std::iter::once(self.user.clone())
            .chain(self.ip.clone())
            .collect()
    }
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self { policy }
    }

    pub fn window(&self) -> Duration {
        self.policy.window
    }

    /// `Some(wait)` when the attempt must be refused.
    pub async fn check(
        &self,
        db: &DatabaseConnection,
        keys: &AttemptKeys,
    ) -> anyhow::Result<Option<Duration>> {
        let now = now();
        let since = self.policy.since(now);
        let mut wait = None;
        for key in keys.all() {
            let failures =
                login_failures::recent(db, &key, since, u64::from(self.policy.max_failures))
                    .await
                    .context("Failed to count failed logins")?;
            wait = wait.max(self.policy.retry_after(&failures, now));
        }
        Ok(wait)
    }

    pub async fn record_failure(
        &self,
        db: &DatabaseConnection,
        keys: &AttemptKeys,
    ) -> anyhow::Result<()> {
        login_failures::insert(db, &keys.all(), now())
            .await
            .context("Failed to record a failed login")
    }

    /// A successful login clears the name's failures (not the address's:
    /// one good password must not reopen an address that guesses).
    pub async fn record_success(
        &self,
        db: &DatabaseConnection,
        keys: &AttemptKeys,
    ) -> anyhow::Result<()> {
        login_failures::delete_key(db, &keys.user)
            .await
            .context("Failed to clear failed logins")?;
        Ok(())
    }

    /// Deletes failures that have left the window; returns how many.
    pub async fn purge(&self, db: &DatabaseConnection) -> anyhow::Result<u64> {
        login_failures::delete_before(db, self.policy.since(now()))
            .await
            .context("Failed to purge old failed logins")
    }
}
