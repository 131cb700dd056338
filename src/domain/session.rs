//! The rules of a session's life: its secret, and when it ends.
//!
//! A session has two deadlines. The idle one (`expires_at`) slides forward when
//! the session is used; the absolute one never moves. `expires_at` is always
//! capped by the absolute deadline, so "is it over?" and "may it be purged?"
//! both only need `expires_at`.

use std::{fmt, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

/// 256 bits from the operating system's CSPRNG.
const SECRET_LEN: usize = 32;

/// The random secret that a session cookie carries. Only its SHA-256 is
/// stored, so the database never holds anything a cookie could be made from.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret([u8; SECRET_LEN]);

impl SessionSecret {
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; SECRET_LEN];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Reads a cookie value; anything that is not exactly a secret's encoding
    /// (missing, truncated, padded, garbage) is `None`.
    pub fn parse(cookie_value: &str) -> Option<Self> {
        let mut bytes = [0u8; SECRET_LEN];
        match URL_SAFE_NO_PAD.decode_slice(cookie_value.as_bytes(), &mut bytes) {
            Ok(SECRET_LEN) => Some(Self(bytes)),
            _ => None,
        }
    }

    /// The value to put in the cookie.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// What the database stores and looks the session up by.
    pub fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.0).to_vec()
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(***)")
    }
}

/// Where a session is used from: recorded when it starts, the address
/// updated when it is refreshed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// How long sessions live, and how often their row may be written to.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    /// Inactivity after which a remembered session ends.
    pub idle: Duration,
    /// Inactivity after which a session started without "Remember me" ends.
    pub idle_short: Duration,
    /// Lifetime after which a session ends however active it is.
    pub max_age: Duration,
    /// A session's row is refreshed at most once per this interval.
    pub refresh: Duration,
}

/// The deadlines of a session, as stored in its row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadlines {
    pub expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
}

impl Deadlines {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at && now < self.absolute_expires_at
    }

    /// Seconds the cookie should live from `now`: what is left of the idle
    /// time, which is already capped by the absolute deadline.
    pub fn max_age_secs(&self, now: DateTime<Utc>) -> i64 {
        (self.expires_at - now).num_seconds().max(0)
    }
}

impl SessionPolicy {
    fn idle(&self, remember: bool) -> Duration {
        if remember { self.idle } else { self.idle_short }
    }

    /// Deadlines of a session that starts now.
    pub fn start(&self, now: DateTime<Utc>, remember: bool) -> Deadlines {
        let absolute_expires_at = later(now, self.max_age);
        Deadlines {
            expires_at: later(now, self.idle(remember)).min(absolute_expires_at),
            absolute_expires_at,
        }
    }

    /// Whether a session last written at `last_seen_at` should be written again.
    pub fn refresh_due(&self, last_seen_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now.signed_duration_since(last_seen_at) >= delta(self.refresh)
    }

    /// The idle deadline after use at `now`: slid forward, capped by the absolute one.
    pub fn slide(&self, deadlines: Deadlines, now: DateTime<Utc>, remember: bool) -> Deadlines {
        Deadlines {
            expires_at: later(now, self.idle(remember)).min(deadlines.absolute_expires_at),
            ..deadlines
        }
    }
}

/// Durations from the command line are at most 100 years (see
/// `config::MAX_DURATION`); anything larger than chrono can hold is treated
/// as "practically forever".
pub fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// `d` after `t`, or the last time chrono holds: never an overflow.
pub fn later(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(delta(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `d` before `t`, or the first time chrono holds: never an overflow.
pub fn earlier(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_sub_signed(delta(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Now, at the microsecond precision that both SQLite and PostgreSQL keep, so
/// that a time read back equals the time written.
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(idle: u64, max_age: u64, refresh: u64) -> SessionPolicy {
        SessionPolicy {
            idle: Duration::from_secs(idle),
            idle_short: Duration::from_secs(idle / 2),
            max_age: Duration::from_secs(max_age),
            refresh: Duration::from_secs(refresh),
        }
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    /// Durations beyond what chrono holds (the command line refuses them,
    /// but the rules do not rely on that) give the last time there is.
    #[test]
    fn no_lifetime_overflows_a_date() {
        let forever = SessionPolicy {
            idle: Duration::MAX,
            idle_short: Duration::MAX,
            max_age: Duration::MAX,
            refresh: Duration::MAX,
        };
        let d = forever.start(t(0), true);
        assert_eq!(d.absolute_expires_at, DateTime::<Utc>::MAX_UTC);
        assert_eq!(
            forever.slide(d, t(10), false).expires_at,
            DateTime::<Utc>::MAX_UTC
        );
        assert!(!forever.refresh_due(t(0), t(10)));
        assert!(d.is_live(t(10)));
        assert!(d.max_age_secs(t(0)) > 0);
        assert_eq!(earlier(t(0), Duration::MAX), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn a_secret_round_trips_through_its_cookie_value() {
        let secret = SessionSecret::generate().unwrap();
        let value = secret.encode();
        assert_eq!(value.len(), 43);
        assert_eq!(SessionSecret::parse(&value), Some(secret));
    }

    #[test]
    fn two_secrets_differ() {
        assert_ne!(
            SessionSecret::generate().unwrap(),
            SessionSecret::generate().unwrap()
        );
    }

    #[test]
    fn malformed_cookie_values_are_not_secrets() {
        let good = SessionSecret::generate().unwrap().encode();
        for bad in [
            "",
            "garbage",
            &good[..42],
            &format!("{good}A"),
            &format!("{good}="),
            &good.replace(|_| true, "!"),
            "😀😀😀",
        ] {
            assert!(SessionSecret::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_hash_is_sha256_of_the_secret_bytes() {
        let secret = SessionSecret([7u8; 32]);
        let hash = secret.hash();
        assert_eq!(hash.len(), 32);
        assert_eq!(hash, Sha256::digest([7u8; 32]).to_vec());
        assert_ne!(hash, secret.0.to_vec());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let secret = SessionSecret::generate().unwrap();
        assert_eq!(format!("{secret:?}"), "SessionSecret(***)");
    }

    #[test]
    fn a_new_session_expires_after_the_idle_time() {
        let d = policy(60, 3600, 10).start(t(0), true);
        assert_eq!(d.expires_at, t(60));
        assert_eq!(d.absolute_expires_at, t(3600));
        assert!(d.is_live(t(59)));
        assert!(!d.is_live(t(60)));
        assert_eq!(d.max_age_secs(t(0)), 60);
    }

    #[test]
    fn the_idle_deadline_never_passes_the_absolute_one() {
        let p = policy(600, 100, 10);
        let d = p.start(t(0), true);
        assert_eq!(d.expires_at, t(100));
        let slid = p.slide(d, t(90), true);
        assert_eq!(slid.expires_at, t(100));
        assert_eq!(slid.max_age_secs(t(90)), 10);
    }

    #[test]
    fn use_slides_the_idle_deadline() {
        let p = policy(60, 3600, 10);
        let d = p.slide(p.start(t(0), true), t(50), true);
        assert_eq!(d.expires_at, t(110));
        assert!(d.is_live(t(100)));
    }

    #[test]
    fn a_session_not_remembered_lives_by_the_short_idle_time() {
        let p = policy(60, 3600, 10);
        let d = p.start(t(0), false);
        assert_eq!(d.expires_at, t(30));
        assert_eq!(p.slide(d, t(20), false).expires_at, t(50));
        // Still capped by the absolute lifetime.
        let capped = policy(60, 40, 10);
        assert_eq!(
            capped
                .slide(capped.start(t(0), false), t(20), false)
                .expires_at,
            t(40)
        );
    }

    #[test]
    fn refresh_is_due_once_the_interval_has_passed() {
        let p = policy(60, 3600, 10);
        assert!(!p.refresh_due(t(0), t(9)));
        assert!(p.refresh_due(t(0), t(10)));
        assert!(policy(60, 3600, 0).refresh_due(t(0), t(0)));
    }

    #[test]
    fn past_deadlines_give_a_zero_max_age() {
        let d = policy(60, 3600, 10).start(t(0), true);
        assert_eq!(d.max_age_secs(t(100)), 0);
    }
}
