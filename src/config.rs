//! Settings: command-line flags, each with an environment fallback.

use std::{net::SocketAddr, time::Duration};

use clap::{ArgAction, Args, Parser, Subcommand, builder::BoolishValueParser};

use crate::{
    domain::{PasswordRules, SessionPolicy, rate_limit::LimitSetting},
    server::ConnectionLimits,
    throttle::Limits,
};

#[derive(Debug, Parser)]
#[command(name = "tangerine", version, about = "A self-hosted posting board")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Serve the board over HTTP (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Delete expired sessions, print how many, then exit.
    ClearSessions,
}

/// Every flag is global: it may stand before or after the subcommand.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(
        long,
        env = "TANGERINE_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub addr: SocketAddr,

    /// Database to use: `sqlite://FILE` (created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://tangerine.db",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,

    /// A session ends after this much inactivity.
    #[arg(long, env = "TANGERINE_SESSION_IDLE", default_value = "14d", value_parser = positive_duration, global = true)]
    pub session_idle: Duration,

    /// A session started without "Remember me" ends after this much inactivity.
    #[arg(long, env = "TANGERINE_SESSION_IDLE_SHORT", default_value = "12h", value_parser = positive_duration, global = true)]
    pub session_idle_short: Duration,

    /// A session ends this long after it started, however active.
    #[arg(long, env = "TANGERINE_SESSION_MAX_AGE", default_value = "30d", value_parser = positive_duration, global = true)]
    pub session_max_age: Duration,

    /// A session's row is refreshed (idle deadline slid forward) at most this often.
    #[arg(long, env = "TANGERINE_SESSION_REFRESH", default_value = "60s", value_parser = duration, global = true)]
    pub session_refresh: Duration,

    /// Mark cookies `Secure` and use `__Host-` names (serve behind HTTPS).
    #[arg(long, env = "TANGERINE_SECURE_COOKIES", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new(), global = true)]
    pub secure_cookies: bool,

    /// Give cookies no `Max-Age`, so that they end when the browser closes.
    #[arg(long, env = "TANGERINE_EXPIRE_AT_BROWSER_CLOSE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new(), global = true)]
    pub expire_at_browser_close: bool,

    /// A person keeps at most this many live sessions; a new login beyond it
    /// ends the least recently used one.
    #[arg(long, env = "TANGERINE_MAX_SESSIONS_PER_USER", default_value = "50", value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub max_sessions_per_user: u32,

    /// Failed logins allowed per username (and per device that has logged
    /// in to the account before) within the login window; further attempts
    /// get 429 until the window passes. 0 turns the limit off.
    #[arg(
        long,
        env = "TANGERINE_LOGIN_MAX_FAILURES",
        default_value = "5",
        global = true
    )]
    pub login_max_failures: u32,

    /// Failed logins allowed per client address (IPv6: per /64) within the
    /// login window. 0 turns the limit off.
    #[arg(
        long,
        env = "TANGERINE_LOGIN_MAX_FAILURES_PER_ADDRESS",
        default_value = "50",
        global = true
    )]
    pub login_max_failures_per_address: u32,

    /// Passwords waiting to be hashed at most; beyond, logins and sign-ups
    /// get 503 with Retry-After. 0 turns the bound off.
    #[arg(
        long,
        env = "TANGERINE_MAX_PENDING_LOGINS",
        default_value = "64",
        global = true
    )]
    pub max_pending_logins: u32,

    /// The shortest password accepted for a new account or a new password.
    #[arg(long, env = "TANGERINE_PASSWORD_MIN_LENGTH", default_value = "8", value_parser = clap::value_parser!(u16).range(1..=256), global = true)]
    pub password_min_length: u16,

    /// Accounts created per client address, as COUNT/DURATION (`10/1h`);
    /// 0 turns the limit off.
    #[arg(
        long,
        env = "TANGERINE_SIGNUP_LIMIT",
        default_value = "10/1h",
        global = true
    )]
    pub signup_limit: LimitSetting,

    /// Posts written or edited per account, as COUNT/DURATION (`30/10m`);
    /// 0 turns the limit off.
    #[arg(
        long,
        env = "TANGERINE_POST_LIMIT",
        default_value = "30/10m",
        global = true
    )]
    pub post_limit: LimitSetting,

    /// The window in which failed logins are counted.
    #[arg(long, env = "TANGERINE_LOGIN_WINDOW", default_value = "15m", value_parser = positive_duration, global = true)]
    pub login_window: Duration,

    /// Take the client's address from the rightmost `X-Forwarded-For` entry
    /// (the one a reverse proxy in front added); without it the header is ignored.
    #[arg(long, env = "TANGERINE_TRUST_PROXY", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new(), global = true)]
    pub trust_proxy: bool,

    /// Connections open at once; beyond, a new one takes the place of the
    /// longest idle one, or waits while all are busy (0: no cap).
    #[arg(
        long,
        env = "TANGERINE_MAX_CONNECTIONS",
        default_value = "768",
        global = true
    )]
    pub max_connections: usize,

    /// A connection waiting for a request (or whose client does not take
    /// its answer) is closed after this long (0s: never).
    #[arg(long, env = "TANGERINE_IDLE_TIMEOUT", default_value = "30s", value_parser = duration, global = true)]
    pub idle_timeout: Duration,

    /// A request's line and headers must arrive within this of their first
    /// byte (0s: no limit).
    #[arg(long, env = "TANGERINE_HEADER_TIMEOUT", default_value = "10s", value_parser = duration, global = true)]
    pub header_timeout: Duration,

    /// A request's body must arrive within this of its headers (0s: no limit).
    #[arg(long, env = "TANGERINE_BODY_TIMEOUT", default_value = "30s", value_parser = duration, global = true)]
    pub body_timeout: Duration,

    /// Bytes of rendered posts kept in memory for the pages (0: none).
    #[arg(long, env = "TANGERINE_CARD_CACHE_SIZE", default_value = "64MiB", value_parser = byte_size, global = true)]
    pub card_cache_size: usize,

    /// A page of posts in the API holds at most about this many bytes of
    /// posts, whatever its `limit` (at least one post; 0: no bound).
    #[arg(long, env = "TANGERINE_API_PAGE_SIZE", default_value = "1MiB", value_parser = byte_size, global = true)]
    pub api_page_size: usize,
}

impl Settings {
    pub fn session_policy(&self) -> SessionPolicy {
        SessionPolicy {
            idle: self.session_idle,
            idle_short: self.session_idle_short,
            max_age: self.session_max_age,
            refresh: self.session_refresh,
        }
    }

    /// The limits on logins and sign-ups.
    pub fn limits(&self) -> Limits {
        let per_window = |count: u32| {
            if count == 0 {
                LimitSetting::Off
            } else {
                LimitSetting::On(crate::domain::rate_limit::RateLimit {
                    count,
                    window: self.login_window,
                })
            }
        };
        Limits {
            login_failures: per_window(self.login_max_failures),
            login_failures_per_address: per_window(self.login_max_failures_per_address),
            signups: self.signup_limit,
            posts: self.post_limit,
        }
    }

    pub fn password_rules(&self) -> PasswordRules {
        PasswordRules {
            min_chars: usize::from(self.password_min_length),
        }
    }

    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections,
            idle: self.idle_timeout,
            header: self.header_timeout,
            body: self.body_timeout,
        }
    }

    /// The database URL without its password, for log lines.
    pub fn database_url_for_logs(&self) -> String {
        redact_url_password(&self.database_url)
    }
}

/// Parses `90s`, `15m`, `12h`, `14d` and the other forms humantime accepts.
pub fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e} (use a duration such as 90s, 15m, 12h or 14d)"))
}

/// Parses a number of bytes: `65536`, `512KiB`, `64MiB`, `1GiB`.
pub fn byte_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let unit_bytes: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err("use a size such as 65536, 512KiB, 64MiB or 1GiB".to_owned()),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit_bytes))
        .ok_or_else(|| "use a size such as 65536, 512KiB, 64MiB or 1GiB".to_owned())
}

fn positive_duration(s: &str) -> Result<Duration, String> {
    match duration(s)? {
        d if d.is_zero() => Err("must be longer than zero".to_owned()),
        d => Ok(d),
    }
}

fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_parse() {
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("15m"), Ok(Duration::from_secs(15 * 60)));
        assert_eq!(duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(duration("14d"), Ok(Duration::from_secs(14 * 86400)));
        assert_eq!(duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_explain_themselves() {
        let err = duration("fortnight").unwrap_err();
        assert!(err.contains("14d"), "{err}");
        assert!(duration("").is_err());
        assert!(positive_duration("0s").is_err());
    }

    #[test]
    fn flags_work_before_and_after_the_subcommand() {
        let before =
            Cli::try_parse_from(["tangerine", "--session-idle", "2h", "clear-sessions"]).unwrap();
        let after =
            Cli::try_parse_from(["tangerine", "clear-sessions", "--session-idle", "2h"]).unwrap();
        for cli in [before, after] {
            assert_eq!(cli.command, Some(Command::ClearSessions));
            assert_eq!(cli.settings.session_idle, Duration::from_secs(7200));
        }
    }

    #[test]
    fn serve_is_the_default_and_defaults_are_documented_ones() {
        let cli = Cli::try_parse_from(["tangerine"]).unwrap();
        assert_eq!(cli.command, None);
        let s = cli.settings;
        assert_eq!(s.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.session_idle, Duration::from_secs(14 * 86400));
        assert_eq!(s.session_max_age, Duration::from_secs(30 * 86400));
        assert_eq!(s.session_refresh, Duration::from_secs(60));
        assert!(!s.secure_cookies);
        assert!(!s.expire_at_browser_close);
        assert_eq!(s.session_idle_short, Duration::from_secs(12 * 3600));
        assert_eq!(s.max_sessions_per_user, 50);
        assert_eq!(s.login_max_failures, 5);
        assert_eq!(s.login_max_failures_per_address, 50);
        assert_eq!(s.max_pending_logins, 64);
        assert_eq!(s.password_min_length, 8);
        assert_eq!(s.signup_limit.to_string(), "10/1h");
        assert_eq!(s.post_limit.to_string(), "30/10m");
        assert_eq!(s.login_window, Duration::from_secs(15 * 60));
        assert!(!s.trust_proxy);
        assert_eq!(s.max_connections, 768);
        assert_eq!(s.idle_timeout, Duration::from_secs(30));
        assert_eq!(s.header_timeout, Duration::from_secs(10));
        assert_eq!(s.body_timeout, Duration::from_secs(30));
        assert_eq!(s.card_cache_size, 64 << 20);
        assert_eq!(s.api_page_size, 1 << 20);
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(byte_size("65536"), Ok(65536));
        assert_eq!(byte_size("0"), Ok(0));
        assert_eq!(byte_size("512KiB"), Ok(512 << 10));
        assert_eq!(byte_size("64MiB"), Ok(64 << 20));
        assert_eq!(byte_size("1GiB"), Ok(1 << 30));
        assert!(byte_size("64MB").unwrap_err().contains("64MiB"));
        assert!(byte_size("").is_err());
        assert!(byte_size("MiB").is_err());
    }

    #[test]
    fn switches_take_no_value() {
        assert!(Cli::try_parse_from(["tangerine", "--secure-cookies", "true"]).is_err());
        let cli = Cli::try_parse_from(["tangerine", "--secure-cookies"]).unwrap();
        assert!(cli.settings.secure_cookies);
    }

    #[test]
    fn passwords_are_cut_out_of_database_urls() {
        assert_eq!(
            redact_url_password("postgres://app:s3cret@db:5432/tangerine"),
            "postgres://app:***@db:5432/tangerine"
        );
        assert_eq!(
            redact_url_password("sqlite://tangerine.db"),
            "sqlite://tangerine.db"
        );
    }
}
