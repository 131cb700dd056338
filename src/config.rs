//! Settings: the subcommands, their flags (each with an environment
//! fallback), and the checks that turn a bad configuration into one line
//! naming the flag and what would work, before anything is touched.
//!
//! `tangerine` alone serves. The serving flags are [`Settings`]: a new one is
//! a field there, with a line in [`Settings::effective_security`] if the
//! start-up log should show it, and a check in [`Settings::check`] if it
//! bounds another. The database flags, which every subcommand uses, are
//! [`DatabaseSettings`]; they may stand before or after the subcommand.
//! Each subcommand's `--help` lists only the flags it uses.
//!
//! Values that contradict each other are refused when both were given (on
//! the command line or in the environment); a default that does not fit
//! under a value that was given is lowered to fit, and the start-up log says
//! so. That is why [`Given`] records which flags were given.

use std::{collections::BTreeMap, convert::Infallible, fmt, net::IpAddr, time::Duration};

use clap::{
    ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand, ValueEnum,
    builder::BoolishValueParser, parser::ValueSource,
};
use sea_orm::sqlx::sqlite::SqliteSynchronous;

use crate::{
    domain::{PasswordRules, Role, SessionPolicy, SignupMode, rate_limit::LimitSetting},
    http::server::ConnectionLimits,
    services::throttle::Limits,
    store::Target,
};

#[derive(Debug, Parser)]
#[command(name = "tangerine", version, about = "A self-hosted posting board")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a subcommand Tangerine serves: these are `serve`'s flags.
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the board over HTTP (the default).
    Serve(Box<Settings>),
    /// Apply pending database migrations, say which, then exit.
    Migrate(DatabaseSettings),
    /// Delete expired sessions, print how many, then exit.
    ClearSessions(DatabaseSettings),
    /// Manage accounts: create, set-password, role, suspend, unsuspend, list, reset-link.
    User(UserArgs),
}

/// `tangerine user …`: accounts from the command line, with the server
/// running or not. Each subcommand is a variant of [`UserCommand`].
#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
    #[command(flatten)]
    pub database: DatabaseSettings,
    /// The shortest password accepted, as for `serve`.
    #[arg(long, env = "TANGERINE_PASSWORD_MIN_LENGTH", default_value = "8", value_parser = clap::value_parser!(u16).range(1..=256), global = true)]
    pub password_min_length: u16,
}

#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Create an account (in every sign-up mode).
    Create {
        /// The username: 3–32 letters, digits or `_`.
        name: String,
        /// The account's role.
        #[arg(long, value_enum, default_value = "member")]
        role: RoleArg,
        /// Read the password from one line of standard input instead of
        /// asking for it twice on the terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password and end every session of the person.
    SetPassword {
        name: String,
        /// Read the password from one line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give a person a role.
    Role {
        name: String,
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// Suspend a person: their sessions end and they cannot log in.
    Suspend {
        name: String,
        /// Why (shown in the moderation log), up to 500 characters.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Let a suspended person log in again.
    Unsuspend { name: String },
    /// List every account, tab-separated.
    List,
    /// Print a one-time password-reset link for account NAME (for a board
    /// without mail).
    ResetLink {
        /// The account's username.
        #[arg(value_name = "NAME")]
        name: String,
        /// The address people reach the board at, such as `https://board.example`.
        #[arg(long, env = "TANGERINE_BASE_URL", value_parser = BaseUrl::parse, value_name = "URL")]
        base_url: Option<BaseUrl>,
        /// How long the link works.
        #[arg(long, env = "TANGERINE_RESET_TOKEN_LIFETIME", default_value = "1h", value_parser = positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
        reset_token_lifetime: Duration,
    },
}

/// A role as the command line takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Member,
    Moderator,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Member => Role::Member,
            RoleArg::Moderator => Role::Moderator,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// What the command line asks for, with the flags that belong to it.
#[derive(Debug)]
pub enum Invocation {
    Serve(Box<Settings>),
    Migrate(DatabaseSettings),
    ClearSessions(DatabaseSettings),
    User(UserCommand, DatabaseSettings, PasswordRules),
}

impl Cli {
    /// What to do. Serving flags go with serving: before `migrate` or
    /// `clear-sessions` they are refused rather than silently ignored.
    pub fn invocation(self) -> Result<Invocation, ConfigError> {
        let before: Vec<String> = self
            .settings
            .given
            .on_command_line()
            .filter(|id| !DatabaseSettings::IDS.contains(id))
            .map(flag)
            .collect();
        let misplaced = |subcommand: &str| {
            ConfigError(format!(
                "`{subcommand}` does not use {} (a flag of `serve`); it takes only --database-url and --sqlite-synchronous",
                before.join(", ")
            ))
        };
        match self.command {
            None => Ok(Invocation::Serve(Box::new(self.settings))),
            Some(Command::Serve(after)) => {
                let after_given = after
                    .given
                    .on_command_line()
                    .any(|id| !DatabaseSettings::IDS.contains(&id));
                match (before.is_empty(), after_given) {
                    (true, _) => Ok(Invocation::Serve(after)),
                    (false, false) => Ok(Invocation::Serve(Box::new(self.settings))),
                    (false, true) => Err(ConfigError(format!(
                        "give `serve`'s flags on one side of `serve`: {} came before it, others after",
                        before.join(", ")
                    ))),
                }
            }
            Some(_) if !before.is_empty() => Err(misplaced(match self.command {
                Some(Command::Migrate(_)) => "migrate",
                Some(Command::User(_)) => "user",
                _ => "clear-sessions",
            })),
            Some(Command::Migrate(db)) => Ok(Invocation::Migrate(db)),
            Some(Command::ClearSessions(db)) => Ok(Invocation::ClearSessions(db)),
            Some(Command::User(UserArgs {
                command: UserCommand::ResetLink { base_url: None, .. },
                ..
            })) => Err(ConfigError(
                "`user reset-link` needs --base-url (or TANGERINE_BASE_URL): the address \
                 people reach the board at, such as https://board.example"
                    .to_owned(),
            )),
            Some(Command::User(user)) => Ok(Invocation::User(
                user.command,
                user.database,
                PasswordRules {
                    min_chars: usize::from(user.password_min_length),
                },
            )),
        }
    }
}

/// The flags of `serve`.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// First: clap takes each flag's value out of the matches as it reads it.
    #[command(flatten)]
    pub given: Given,

    /// Address to listen on: HOST:PORT, or :PORT or PORT for 127.0.0.1.
    #[arg(
        long,
        env = "TANGERINE_ADDR",
        default_value = "127.0.0.1:3000",
        value_parser = ListenAddr::parse,
        value_name = "HOST:PORT"
    )]
    pub addr: ListenAddr,

    #[command(flatten)]
    pub database: DatabaseSettings,

    /// A session ends after this much inactivity.
    #[arg(long, env = "TANGERINE_SESSION_IDLE", default_value = "14d", value_parser = positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub session_idle: Duration,

    /// A session started without "Remember me" ends after this much inactivity.
    #[arg(long, env = "TANGERINE_SESSION_IDLE_SHORT", default_value = "12h", value_parser = positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub session_idle_short: Duration,

    /// A session ends this long after it started, however active.
    #[arg(long, env = "TANGERINE_SESSION_MAX_AGE", default_value = "30d", value_parser = positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub session_max_age: Duration,

    /// A session's row is refreshed (idle deadline slid forward) at most this often.
    #[arg(long, env = "TANGERINE_SESSION_REFRESH", default_value = "60s", value_parser = duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub session_refresh: Duration,

    /// Mark cookies `Secure` and use `__Host-` names (serve behind HTTPS).
    #[arg(long, env = "TANGERINE_SECURE_COOKIES", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub secure_cookies: bool,

    /// Give cookies no `Max-Age`, so that they end when the browser closes.
    #[arg(long, env = "TANGERINE_EXPIRE_AT_BROWSER_CLOSE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub expire_at_browser_close: bool,

    /// A person keeps at most this many live sessions; a new login beyond it
    /// ends the least recently used one.
    #[arg(long, env = "TANGERINE_MAX_SESSIONS_PER_USER", default_value = "50", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_sessions_per_user: u32,

    /// Live personal access tokens a person may hold; creating one beyond
    /// is refused (409) until one is revoked or expires. 0 turns the limit off.
    #[arg(long, env = "TANGERINE_MAX_TOKENS_PER_USER", default_value = "50")]
    pub max_tokens_per_user: u32,

    /// Failed logins allowed per username (and per device that has logged
    /// in to the account before) within the login window; further attempts
    /// get 429 until the window passes. 0 turns the limit off.
    #[arg(long, env = "TANGERINE_LOGIN_MAX_FAILURES", default_value = "5")]
    pub login_max_failures: u32,

    /// Failed logins allowed per client address (IPv6: per /64) within the
    /// login window. 0 turns the limit off.
    #[arg(
        long,
        env = "TANGERINE_LOGIN_MAX_FAILURES_PER_ADDRESS",
        default_value = "50"
    )]
    pub login_max_failures_per_address: u32,

    /// Passwords waiting to be hashed at most; beyond, logins and sign-ups
    /// get 503 with Retry-After. 0 turns the bound off.
    #[arg(long, env = "TANGERINE_MAX_PENDING_LOGINS", default_value = "64")]
    pub max_pending_logins: u32,

    /// The shortest password accepted for a new account or a new password.
    #[arg(long, env = "TANGERINE_PASSWORD_MIN_LENGTH", default_value = "8", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub password_min_length: u16,

    /// Accounts created per client address, as COUNT/DURATION (`10/1h`);
    /// 0 turns the limit off.
    #[arg(
        long,
        env = "TANGERINE_SIGNUP_LIMIT",
        default_value = "10/1h",
        value_parser = limit_setting,
        value_name = "COUNT/DURATION",
        allow_hyphen_values = true
    )]
    pub signup_limit: LimitSetting,

    /// Posts written or edited per account, as COUNT/DURATION (`30/10m`);
    /// 0 turns the limit off.
    #[arg(
        long,
        env = "TANGERINE_POST_LIMIT",
        default_value = "30/10m",
        value_parser = limit_setting,
        value_name = "COUNT/DURATION",
        allow_hyphen_values = true
    )]
    pub post_limit: LimitSetting,

    /// The window in which failed logins are counted.
    #[arg(long, env = "TANGERINE_LOGIN_WINDOW", default_value = "15m", value_parser = positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub login_window: Duration,

    /// Take the client's address from the rightmost `X-Forwarded-For` entry
    /// (the one a reverse proxy in front added); without it the header is ignored.
    #[arg(long, env = "TANGERINE_TRUST_PROXY", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub trust_proxy: bool,

    /// Connections open at once; beyond, a new one takes the place of the
    /// longest idle one, or waits while all are busy (0: no cap).
    #[arg(long, env = "TANGERINE_MAX_CONNECTIONS", default_value = "768")]
    pub max_connections: usize,

    /// A connection waiting for a request (or whose client does not take
    /// its answer) is closed after this long (0s: never).
    #[arg(long, env = "TANGERINE_IDLE_TIMEOUT", default_value = "30s", value_parser = duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub idle_timeout: Duration,

    /// A request's line and headers must arrive within this of their first
    /// byte (0s: no limit).
    #[arg(long, env = "TANGERINE_HEADER_TIMEOUT", default_value = "10s", value_parser = duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub header_timeout: Duration,

    /// A request's body must arrive within this of its headers (0s: no limit).
    #[arg(long, env = "TANGERINE_BODY_TIMEOUT", default_value = "30s", value_parser = duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub body_timeout: Duration,

    /// Bytes of rendered posts kept in memory for the pages (0: none).
    #[arg(long, env = "TANGERINE_CARD_CACHE_SIZE", default_value = "64MiB", value_parser = byte_size, value_name = "SIZE")]
    pub card_cache_size: usize,

    /// Who may make an account: `open` (anyone), `invite` (holders of an
    /// invite link that an admin made) or `closed` (nobody; `tangerine user
    /// create` always may).
    #[arg(long, env = "TANGERINE_SIGNUPS", default_value = "open", value_parser = signup_mode, value_name = "MODE")]
    pub signups: SignupMode,

    /// An invite link expires this long after it was made (0s: never).
    #[arg(long, env = "TANGERINE_INVITE_LIFETIME", default_value = "7d", value_parser = duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub invite_lifetime: Duration,

    /// Whether anyone may read the moderation log at /moderation (`true` or
    /// `false`); staff always see it at /admin/log.
    #[arg(long, env = "TANGERINE_PUBLIC_MODERATION_LOG", default_value = "true", value_parser = true_or_false, value_name = "true|false", action = ArgAction::Set)]
    pub public_moderation_log: bool,

    /// A page of posts in the API holds at most about this many bytes of
    /// posts, whatever its `limit` (at least one post; 0: no bound).
    #[arg(long, env = "TANGERINE_API_PAGE_SIZE", default_value = "1MiB", value_parser = byte_size, value_name = "SIZE")]
    pub api_page_size: usize,

    /// The SMTP server mail leaves through: `smtp://USER:PASSWORD@HOST:587`
    /// (STARTTLS), `smtps://USER:PASSWORD@HOST:465` (TLS), or `smtp://` to a
    /// loopback address (plain, for a local relay). Without it, mail is
    /// written as files into --mail-dir.
    #[arg(
        long,
        env = "TANGERINE_SMTP_URL",
        value_parser = SmtpUrl::from_arg,
        value_name = "URL",
        hide_env_values = true
    )]
    pub smtp_url: Option<SmtpUrl>,

    /// The sender of every message, such as `Tangerine <board@example.com>`.
    #[arg(
        long,
        env = "TANGERINE_MAIL_FROM",
        default_value = "Tangerine <tangerine@localhost>",
        value_name = "MAILBOX"
    )]
    pub mail_from: String,

    /// The address people reach the board at, for links in mail, such as
    /// `https://board.example` (needed with --smtp-url; without, the
    /// address Tangerine listens on).
    #[arg(long, env = "TANGERINE_BASE_URL", value_parser = BaseUrl::parse, value_name = "URL")]
    pub base_url: Option<BaseUrl>,

    /// Where mail is written as `.eml` files when no --smtp-url is given.
    #[arg(
        long,
        env = "TANGERINE_MAIL_DIR",
        default_value = "./tangerine-mail/",
        value_name = "DIR"
    )]
    pub mail_dir: std::path::PathBuf,

    /// How long a password-reset link works.
    #[arg(long, env = "TANGERINE_RESET_TOKEN_LIFETIME", default_value = "1h", value_parser = positive_duration, value_name = "DURATION", allow_hyphen_values = true)]
    pub reset_token_lifetime: Duration,

    /// Password-reset requests per account, as COUNT/DURATION (`5/1h`); 0
    /// turns the limit off.
    #[arg(
        long,
        env = "TANGERINE_FORGOT_PASSWORD_LIMIT",
        default_value = "5/1h",
        value_parser = limit_setting,
        value_name = "COUNT/DURATION",
        allow_hyphen_values = true
    )]
    pub forgot_password_limit: LimitSetting,

    /// Password-reset requests per client address, as COUNT/DURATION
    /// (`20/1h`); 0 turns the limit off.
    #[arg(
        long,
        env = "TANGERINE_FORGOT_PASSWORD_LIMIT_PER_ADDRESS",
        default_value = "20/1h",
        value_parser = limit_setting,
        value_name = "COUNT/DURATION",
        allow_hyphen_values = true
    )]
    pub forgot_password_limit_per_address: LimitSetting,
}

/// The flags of every subcommand: which database, and how SQLite writes.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// First: clap takes each flag's value out of the matches as it reads it.
    #[command(flatten)]
    pub given: Given,

    /// The database: `sqlite://FILE` (created if missing) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (which must exist).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://tangerine.db",
        value_parser = DatabaseUrl::from_arg,
        value_name = "URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: DatabaseUrl,

    /// When SQLite waits for writes to reach the disk: `normal` (at
    /// checkpoints: a crash of the process loses nothing, a power loss may
    /// lose the last commits) or `full` (at every commit).
    #[arg(
        long,
        env = "TANGERINE_SQLITE_SYNCHRONOUS",
        default_value = "normal",
        value_enum,
        value_name = "MODE",
        global = true
    )]
    pub sqlite_synchronous: SqliteSync,
}

impl DatabaseSettings {
    const IDS: [&'static str; 2] = ["database_url", "sqlite_synchronous"];

    /// The database the URL names, or why it names none Tangerine can use.
    pub fn check(&self) -> Result<Target, ConfigError> {
        let target = Target::parse(self.database_url.expose())
            .map_err(|e| ConfigError(format!("--database-url {e}")))?;
        if self.given.contains("sqlite_synchronous") && !target.is_sqlite() {
            return Err(ConfigError(
                "--sqlite-synchronous applies to SQLite only, and --database-url names a PostgreSQL \
                 database (whose durability is its own setting, synchronous_commit); leave \
                 --sqlite-synchronous out"
                    .to_owned(),
            ));
        }
        Ok(target)
    }
}

/// When SQLite waits for its writes to reach the disk (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqliteSync {
    /// At checkpoints of the write-ahead log.
    Normal,
    /// At every commit.
    Full,
}

impl SqliteSync {
    pub fn to_sqlx(self) -> SqliteSynchronous {
        match self {
            SqliteSync::Normal => SqliteSynchronous::Normal,
            SqliteSync::Full => SqliteSynchronous::Full,
        }
    }
}

impl fmt::Display for SqliteSync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SqliteSync::Normal => "NORMAL",
            SqliteSync::Full => "FULL",
        })
    }
}

/// A database URL, which may hold a password: `Debug` and `Display` star it.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Never fails: the URL is read by [`DatabaseSettings::check`], whose
    /// messages do not repeat it (clap's would).
    fn from_arg(s: &str) -> Result<Self, Infallible> {
        Ok(Self(s.to_owned()))
    }

    /// The URL itself, password and all: for connecting, never for a message.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::telemetry::redact(&self.0))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// An SMTP server's URL, which may hold a password: `Debug` and `Display`
/// star it. Read by [`SmtpUrl::server`] in [`Settings::check`].
#[derive(Clone)]
pub struct SmtpUrl(String);

/// How mail is protected on its way to the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte.
    Tls,
    /// `smtp://` to another machine: STARTTLS, required.
    StartTls,
    /// `smtp://` to a loopback address: no encryption (a local relay).
    Plain,
}

/// An SMTP server, read from [`SmtpUrl`].
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub security: SmtpSecurity,
    pub host: String,
    pub port: u16,
    /// User name and password, decoded.
    pub credentials: Option<(String, String)>,
}

impl fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SmtpServer({:?} {}:{}{})",
            self.security,
            self.host,
            self.port,
            if self.credentials.is_some() {
                " with credentials"
            } else {
                ""
            }
        )
    }
}

const SMTP_FORMS: &str = "use smtp://USER:PASSWORD@HOST:587 (STARTTLS), smtps://USER:PASSWORD@HOST:465 (TLS), or smtp://127.0.0.1:PORT for a local relay";

impl SmtpUrl {
    fn from_arg(s: &str) -> Result<Self, Infallible> {
        Ok(Self(s.to_owned()))
    }

    /// The server the URL names, or why it names none (without repeating
    /// the URL, which may hold a password).
    pub fn server(&self) -> Result<SmtpServer, ConfigError> {
        let refuse = |why: &str| ConfigError(format!("--smtp-url {why}; {SMTP_FORMS}"));
        let url =
            url::Url::parse(self.0.trim()).map_err(|e| refuse(&format!("cannot be read ({e})")))?;
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(refuse("names no host")),
        };
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let (security, default_port) = match url.scheme() {
            "smtps" => (SmtpSecurity::Tls, 465),
            "smtp" if loopback => (SmtpSecurity::Plain, 25),
            "smtp" => (SmtpSecurity::StartTls, 587),
            other => return Err(refuse(&format!("has the scheme `{other}:`"))),
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(refuse(
                "has a path or query; give only the user, password, host and port",
            ));
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(password)) => Some((decode(user), decode(password))),
            (_, None) => return Err(refuse("has a user but no password")),
        };
        Ok(SmtpServer {
            security,
            host,
            port: url.port().unwrap_or(default_port),
            credentials,
        })
    }
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::telemetry::redact(&self.0))
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({self})")
    }
}

/// The address people reach the board at (`https://board.example`, or
/// with a path prefix), without a trailing slash: links in mail start with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        const FORMS: &str =
            "use the address people reach the board at, such as https://board.example";
        let url = url::Url::parse(s.trim()).map_err(|e| format!("{e}; {FORMS}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("the scheme must be http or https; {FORMS}"));
        }
        if url.host().is_none() {
            return Err(format!("no host; {FORMS}"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("a user or password has no place in it; {FORMS}"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("no query or fragment; {FORMS}"));
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    /// `path` (starting with `/`) under this address.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where to listen: an address, or a host name resolved when binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddr {
    host: ListenHost,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ListenHost {
    Ip(IpAddr),
    Name(String),
}

const ADDR_FORMS: &str =
    "use HOST:PORT, :PORT or PORT, such as 127.0.0.1:3000, localhost:3000, [::1]:3000 or :3000";

impl ListenAddr {
    /// `HOST:PORT` (an IPv4 address, `[IPv6]`, or a host name), or `:PORT`
    /// and `PORT` alone, which mean 127.0.0.1 like the default.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let loopback = ListenHost::Ip(IpAddr::from([127, 0, 0, 1]));
        let port = |p: &str| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("no port number; {ADDR_FORMS}"));
            }
            p.parse::<u16>()
                .map_err(|_| "the port must be a number from 0 to 65535".to_owned())
        };
        if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
            return Ok(Self {
                host: loopback,
                port: port(s)?,
            });
        }
        if let Some(p) = s.strip_prefix(':').filter(|p| !p.contains(':')) {
            return Ok(Self {
                host: loopback,
                port: port(p)?,
            });
        }
        if let Ok(addr) = s.parse::<std::net::SocketAddr>() {
            return Ok(Self {
                host: ListenHost::Ip(addr.ip()),
                port: addr.port(),
            });
        }
        let Some((host, p)) = s.rsplit_once(':') else {
            return Err(format!("no port; {ADDR_FORMS}"));
        };
        let port = port(p)?;
        if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return match inner.parse::<std::net::Ipv6Addr>() {
                Ok(ip) => Ok(Self {
                    host: ListenHost::Ip(IpAddr::V6(ip)),
                    port,
                }),
                Err(_) => Err(format!("`{inner}` is not an IPv6 address; {ADDR_FORMS}")),
            };
        }
        if host.contains(':') {
            return Err(format!(
                "put an IPv6 address in brackets, as in [::1]:{port}"
            ));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Self {
                host: ListenHost::Ip(ip),
                port,
            });
        }
        let is_name = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !is_name {
            return Err(format!(
                "`{host}` is not a host name or address; {ADDR_FORMS}"
            ));
        }
        Ok(Self {
            host: ListenHost::Name(host.to_ascii_lowercase()),
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host name, when one was given rather than an address.
    pub fn host_name(&self) -> Option<&str> {
        match &self.host {
            ListenHost::Name(name) => Some(name),
            ListenHost::Ip(_) => None,
        }
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            ListenHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            ListenHost::Ip(ip) => write!(f, "{ip}:{}", self.port),
            ListenHost::Name(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

/// A configuration that cannot work: one line naming the flag and what
/// would work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// What [`Settings::check`] found: the database the URL names, and the
/// defaults it lowered to fit values that were given.
#[derive(Debug, Clone)]
pub struct Checked {
    pub database: Target,
    pub lowered: Vec<String>,
    /// The SMTP server, when one is configured.
    pub smtp: Option<SmtpServer>,
    /// The sender of every message.
    pub mail_from: lettre::message::Mailbox,
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
            password_resets: self.forgot_password_limit,
            password_resets_per_address: self.forgot_password_limit_per_address,
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

    /// Checks the settings as a whole, and lowers the defaults that would
    /// exceed a bound that was given (see the module's documentation).
    pub fn check(&mut self) -> Result<Checked, ConfigError> {
        let database = self.database.check()?;
        let smtp = self.smtp_url.as_ref().map(SmtpUrl::server).transpose()?;
        if smtp.is_some() && self.base_url.is_none() {
            return Err(ConfigError(
                "--smtp-url is set but --base-url is not: links in mail need the address people \
                 reach the board at; give --base-url (or TANGERINE_BASE_URL), such as https://board.example"
                    .to_owned(),
            ));
        }
        let mail_from = self.mail_from.parse().map_err(|_| {
            ConfigError(format!(
                "--mail-from `{}` is not a mailbox; use an address such as board@example.com or \
                 `Tangerine <board@example.com>`",
                self.mail_from
            ))
        })?;
        let lowered = self.check_session_lifetimes()?;
        Ok(Checked {
            database,
            lowered,
            smtp,
            mail_from,
        })
    }

    /// A session's lifetimes nest: refresh < idle-short <= idle <= max-age.
    fn check_session_lifetimes(&mut self) -> Result<Vec<String>, ConfigError> {
        struct Lifetime {
            id: &'static str,
            value: Duration,
            given: bool,
        }
        let given = |id| self.given.contains(id);
        // Longest first; the last must be strictly shorter than those above.
        let mut chain = [
            ("session_max_age", self.session_max_age),
            ("session_idle", self.session_idle),
            ("session_idle_short", self.session_idle_short),
            ("session_refresh", self.session_refresh),
        ]
        .map(|(id, value)| Lifetime {
            id,
            value,
            given: given(id),
        });
        const REFRESH: usize = 3;
        let strict = |lower: usize| lower == REFRESH;
        let fits = |lower: Duration, upper: Duration, strict: bool| {
            if strict {
                lower < upper
            } else {
                lower <= upper
            }
        };
        // Values given that contradict each other, or a default above them,
        // are refused; the nearest bound is named.
        for lower in 1..chain.len() {
            if !chain[lower].given {
                continue;
            }
            for upper in (0..lower).rev() {
                let (l, u) = (&chain[lower], &chain[upper]);
                if fits(l.value, u.value, strict(lower)) {
                    continue;
                }
                let default = if u.given { "" } else { ", its default" };
                let (lf, uf, lv, uv) = (flag(l.id), flag(u.id), show(l.value), show(u.value));
                return Err(ConfigError(if strict(lower) {
                    format!(
                        "{lf} ({lv}) is not shorter than {uf} ({uv}{default}): sessions would end between refreshes; make {lf} shorter than {uv}"
                    )
                } else {
                    format!(
                        "{lf} ({lv}) is longer than {uf} ({uv}{default}); make {lf} at most {uv}, or {uf} at least {lv}"
                    )
                }));
            }
        }
        // A default that does not fit under a value given is lowered to fit.
        let mut lowered = Vec::new();
        for lower in 1..chain.len() {
            if chain[lower].given {
                continue;
            }
            let Some(upper) = (0..lower).min_by_key(|&u| chain[u].value) else {
                continue;
            };
            let bound = chain[upper].value;
            if fits(chain[lower].value, bound, strict(lower)) {
                continue;
            }
            let fitted = if strict(lower) { bound / 2 } else { bound };
            lowered.push(format!(
                "{} lowered from its default {} to {} to fit {} {}",
                flag(chain[lower].id),
                show(chain[lower].value),
                show(fitted),
                flag(chain[upper].id),
                show(bound)
            ));
            chain[lower].value = fitted;
        }
        [
            self.session_max_age,
            self.session_idle,
            self.session_idle_short,
            self.session_refresh,
        ] = chain.map(|l| l.value);
        Ok(lowered)
    }

    /// The settings that decide how safe sessions and logins are, as the
    /// start-up log lists them.
    pub fn effective_security(&self) -> Vec<(&'static str, String)> {
        let on_off = |b: bool| if b { "on" } else { "off" }.to_owned();
        vec![
            ("--secure-cookies", on_off(self.secure_cookies)),
            ("--trust-proxy", on_off(self.trust_proxy)),
            (
                "--expire-at-browser-close",
                on_off(self.expire_at_browser_close),
            ),
            ("--session-idle", show(self.session_idle)),
            ("--session-idle-short", show(self.session_idle_short)),
            ("--session-max-age", show(self.session_max_age)),
            ("--session-refresh", show(self.session_refresh)),
            (
                "--max-sessions-per-user",
                self.max_sessions_per_user.to_string(),
            ),
            (
                "--max-tokens-per-user",
                self.max_tokens_per_user.to_string(),
            ),
            ("--login-max-failures", self.login_max_failures.to_string()),
            (
                "--login-max-failures-per-address",
                self.login_max_failures_per_address.to_string(),
            ),
            ("--login-window", show(self.login_window)),
            ("--max-pending-logins", self.max_pending_logins.to_string()),
            (
                "--password-min-length",
                self.password_min_length.to_string(),
            ),
            ("--signup-limit", self.signup_limit.to_string()),
            ("--post-limit", self.post_limit.to_string()),
            ("--signups", self.signups.to_string()),
            ("--invite-lifetime", show(self.invite_lifetime)),
            (
                "--public-moderation-log",
                self.public_moderation_log.to_string(),
            ),
            ("--max-connections", self.max_connections.to_string()),
            ("--idle-timeout", show(self.idle_timeout)),
            ("--header-timeout", show(self.header_timeout)),
            ("--body-timeout", show(self.body_timeout)),
            ("--reset-token-lifetime", show(self.reset_token_lifetime)),
            (
                "--forgot-password-limit",
                self.forgot_password_limit.to_string(),
            ),
            (
                "--forgot-password-limit-per-address",
                self.forgot_password_limit_per_address.to_string(),
            ),
        ]
    }
}

/// Which flags were given, on the command line or in the environment,
/// rather than left at their defaults. Flattened into a struct of flags, it
/// reads the same matches they are read from.
#[derive(Debug, Clone, Default)]
pub struct Given(BTreeMap<String, ValueSource>);

impl Given {
    /// Whether the flag with id `id` (its field's name) was given.
    pub fn contains(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }

    fn on_command_line(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(|(_, source)| **source == ValueSource::CommandLine)
            .map(|(id, _)| id.as_str())
    }
}

impl FromArgMatches for Given {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self(
            matches
                .ids()
                .filter_map(|id| {
                    let source = matches.value_source(id.as_str())?;
                    matches!(source, ValueSource::CommandLine | ValueSource::EnvVariable)
                        .then(|| (id.as_str().to_owned(), source))
                })
                .collect(),
        ))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for Given {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd
    }
}

/// A flag's name from its id: `session_idle` is `--session-idle`.
fn flag(id: &str) -> String {
    format!("--{}", id.replace('_', "-"))
}

/// The longest a duration may be: 100 years (of 365.25 days, as humantime
/// counts `100y`). Every date computed from one stays far inside the range
/// of dates that chrono and both databases hold.
pub const MAX_DURATION: Duration = Duration::from_secs(3_155_760_000);

const DURATION_FORMS: &str = "use a duration such as 90s, 15m, 12h or 14d";

/// Parses `90s`, `15m`, `12h`, `14d` and the other forms humantime accepts,
/// up to [`MAX_DURATION`].
pub fn duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.starts_with('-') {
        return Err(format!("a duration cannot be negative; {DURATION_FORMS}"));
    }
    let d = humantime::parse_duration(s).map_err(|e| format!("{e}; {DURATION_FORMS}"))?;
    if d > MAX_DURATION {
        return Err(
            "longer than 100 years, the longest a duration may be; use at most 100y".to_owned(),
        );
    }
    Ok(d)
}

fn positive_duration(s: &str) -> Result<Duration, String> {
    match duration(s)? {
        d if d.is_zero() => Err(format!("must be longer than zero; {DURATION_FORMS}")),
        d => Ok(d),
    }
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

fn signup_mode(s: &str) -> Result<SignupMode, String> {
    s.parse()
}

fn true_or_false(s: &str) -> Result<bool, String> {
    match s.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("use true or false".to_owned()),
    }
}

/// `COUNT/DURATION` (see [`LimitSetting`]), its window at most [`MAX_DURATION`].
fn limit_setting(s: &str) -> Result<LimitSetting, String> {
    let setting = s.parse::<LimitSetting>()?;
    match setting.limit() {
        Some(limit) if limit.window > MAX_DURATION => Err(
            "the duration is longer than 100 years, the longest a duration may be; use at most 100y"
                .to_owned(),
        ),
        _ => Ok(setting),
    }
}

/// A duration as flags take it: `14d`, `12h`, `90s`, `1500ms`.
pub fn show(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 {
        return format!("{}ms", d.as_millis());
    }
    match secs {
        0 => "0s".to_owned(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(args: &[&str]) -> Settings {
        let mut argv = vec!["tangerine"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().settings
    }

    fn checked(args: &[&str]) -> Result<(Settings, Vec<String>), String> {
        let mut s = settings(args);
        s.check().map(|c| (s, c.lowered)).map_err(|e| e.0)
    }

    #[test]
    fn human_durations_parse() {
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("15m"), Ok(Duration::from_secs(15 * 60)));
        assert_eq!(duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(duration("14d"), Ok(Duration::from_secs(14 * 86400)));
        assert_eq!(duration("0s"), Ok(Duration::ZERO));
        assert_eq!(duration("100y"), Ok(MAX_DURATION));
    }

    #[test]
    fn bad_durations_explain_themselves() {
        let err = duration("fortnight").unwrap_err();
        assert!(err.contains("14d"), "{err}");
        assert!(duration("").is_err());
        assert!(positive_duration("0s").is_err());
        assert_eq!(
            duration("-5m").unwrap_err(),
            "a duration cannot be negative; use a duration such as 90s, 15m, 12h or 14d"
        );
        assert_eq!(
            duration("300000y").unwrap_err(),
            "longer than 100 years, the longest a duration may be; use at most 100y"
        );
    }

    #[test]
    fn negative_durations_are_read_as_values_with_or_without_an_equals_sign() {
        for argv in [
            vec!["tangerine", "--session-idle", "-5m"],
            vec!["tangerine", "--session-idle=-5m"],
        ] {
            let err = Cli::try_parse_from(argv).unwrap_err().to_string();
            assert!(
                err.contains("invalid value '-5m' for '--session-idle <DURATION>'")
                    && err.contains("cannot be negative"),
                "{err}"
            );
        }
    }

    #[test]
    fn database_flags_work_before_and_after_the_subcommand() {
        for argv in [
            [
                "tangerine",
                "--database-url",
                "sqlite://a.db",
                "clear-sessions",
            ],
            [
                "tangerine",
                "clear-sessions",
                "--database-url",
                "sqlite://a.db",
            ],
        ] {
            match Cli::try_parse_from(argv).unwrap().invocation().unwrap() {
                Invocation::ClearSessions(db) => {
                    assert_eq!(db.database_url.expose(), "sqlite://a.db")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn serving_flags_are_refused_beside_other_subcommands() {
        let err = Cli::try_parse_from(["tangerine", "--session-idle", "2h", "migrate"])
            .unwrap()
            .invocation()
            .unwrap_err();
        assert_eq!(
            err.0,
            "`migrate` does not use --session-idle (a flag of `serve`); it takes only --database-url and --sqlite-synchronous"
        );
        assert!(Cli::try_parse_from(["tangerine", "migrate", "--session-idle", "2h"]).is_err());
    }

    #[test]
    fn serve_flags_stand_before_or_after_serve() {
        for argv in [
            vec!["tangerine", "--addr", ":4000", "serve"],
            vec!["tangerine", "serve", "--addr", ":4000"],
            vec!["tangerine", "--addr", ":4000"],
        ] {
            match Cli::try_parse_from(argv).unwrap().invocation().unwrap() {
                Invocation::Serve(s) => assert_eq!(s.addr.to_string(), "127.0.0.1:4000"),
                other => panic!("{other:?}"),
            }
        }
        assert!(
            Cli::try_parse_from(["tangerine", "--addr", ":4000", "serve", "--trust-proxy"])
                .unwrap()
                .invocation()
                .is_err()
        );
    }

    #[test]
    fn serve_is_the_default_and_defaults_are_documented_ones() {
        let cli = Cli::try_parse_from(["tangerine"]).unwrap();
        assert!(cli.command.is_none());
        let s = cli.settings;
        assert_eq!(s.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.database.database_url.expose(), "sqlite://tangerine.db");
        assert_eq!(s.database.sqlite_synchronous, SqliteSync::Normal);
        assert_eq!(s.session_idle, Duration::from_secs(14 * 86400));
        assert_eq!(s.session_max_age, Duration::from_secs(30 * 86400));
        assert_eq!(s.session_refresh, Duration::from_secs(60));
        assert!(!s.secure_cookies);
        assert!(!s.expire_at_browser_close);
        assert_eq!(s.session_idle_short, Duration::from_secs(12 * 3600));
        assert_eq!(s.max_sessions_per_user, 50);
        assert_eq!(s.max_tokens_per_user, 50);
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
        assert_eq!(s.signups, SignupMode::Open);
        assert_eq!(s.invite_lifetime, Duration::from_secs(7 * 86400));
        assert!(s.public_moderation_log);
    }

    #[test]
    fn operator_flags_take_their_documented_values() {
        let s = settings(&[
            "--signups",
            "invite",
            "--invite-lifetime",
            "2d",
            "--public-moderation-log",
            "false",
        ]);
        assert_eq!(s.signups, SignupMode::Invite);
        assert_eq!(s.invite_lifetime, Duration::from_secs(2 * 86400));
        assert!(!s.public_moderation_log);
        for bad in [
            &["--signups", "sometimes"][..],
            &["--public-moderation-log", "yes"][..],
            &["--invite-lifetime", "-1d"][..],
        ] {
            let mut argv = vec!["tangerine"];
            argv.extend_from_slice(bad);
            assert!(Cli::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn user_subcommands_parse() {
        let cli = Cli::try_parse_from([
            "tangerine",
            "user",
            "create",
            "root",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .unwrap();
        match cli.invocation().unwrap() {
            Invocation::User(
                UserCommand::Create {
                    name,
                    role,
                    password_stdin,
                },
                _,
                _,
            ) => {
                assert_eq!(name, "root");
                assert_eq!(role, RoleArg::Admin);
                assert!(password_stdin);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["tangerine", "user", "role", "root", "owner"]).is_err());
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
    fn listen_addresses_take_every_usual_form() {
        for (given, shown, name) in [
            ("127.0.0.1:3000", "127.0.0.1:3000", None),
            ("0.0.0.0:80", "0.0.0.0:80", None),
            ("[::1]:3000", "[::1]:3000", None),
            (":3000", "127.0.0.1:3000", None),
            ("3000", "127.0.0.1:3000", None),
            ("localhost:3000", "localhost:3000", Some("localhost")),
            (
                "Board.Example:8080",
                "board.example:8080",
                Some("board.example"),
            ),
        ] {
            let addr = ListenAddr::parse(given).unwrap();
            assert_eq!(addr.to_string(), shown, "{given}");
            assert_eq!(addr.host_name(), name, "{given}");
        }
        for (given, says) in [
            ("localhost", "no port"),
            (":99999", "from 0 to 65535"),
            ("::1:3000", "brackets"),
            ("local host:3000", "not a host name"),
            ("", "no port"),
        ] {
            let err = ListenAddr::parse(given).unwrap_err();
            assert!(err.contains(says), "{given}: {err}");
        }
    }

    #[test]
    fn explicit_lifetimes_that_contradict_each_other_are_refused() {
        for (args, message) in [
            (
                &["--session-idle", "40d", "--session-max-age", "1d"][..],
                "--session-idle (40d) is longer than --session-max-age (1d); make --session-idle at most 1d, or --session-max-age at least 40d",
            ),
            (
                &["--session-idle-short", "90d"][..],
                "--session-idle-short (90d) is longer than --session-idle (14d, its default); make --session-idle-short at most 14d, or --session-idle at least 90d",
            ),
            (
                &["--session-idle", "40d"][..],
                "--session-idle (40d) is longer than --session-max-age (30d, its default); make --session-idle at most 30d, or --session-max-age at least 40d",
            ),
            (
                &["--session-refresh", "1h", "--session-idle-short", "1h"][..],
                "--session-refresh (1h) is not shorter than --session-idle-short (1h): sessions would end between refreshes; make --session-refresh shorter than 1h",
            ),
        ] {
            assert_eq!(checked(args).unwrap_err(), message, "{args:?}");
        }
    }

    #[test]
    fn defaults_that_exceed_a_given_bound_are_lowered_and_said_so() {
        let (s, lowered) = checked(&["--session-max-age", "1h"]).unwrap();
        assert_eq!(s.session_idle, Duration::from_secs(3600));
        assert_eq!(s.session_idle_short, Duration::from_secs(3600));
        assert_eq!(s.session_refresh, Duration::from_secs(60));
        assert_eq!(
            lowered,
            [
                "--session-idle lowered from its default 14d to 1h to fit --session-max-age 1h",
                "--session-idle-short lowered from its default 12h to 1h to fit --session-max-age 1h",
            ]
        );
        let (s, lowered) = checked(&["--session-idle", "1s"]).unwrap();
        assert_eq!(s.session_idle_short, Duration::from_secs(1));
        assert_eq!(s.session_refresh, Duration::from_millis(500));
        assert_eq!(lowered.len(), 2, "{lowered:?}");
        let (_, lowered) = checked(&[]).unwrap();
        assert!(lowered.is_empty());
    }

    #[test]
    fn database_urls_are_checked_before_anything_is_opened() {
        assert_eq!(
            checked(&["--database-url", "postgress://u:hunter2@h/x"]).unwrap_err(),
            "--database-url has an unknown scheme `postgress:`; use sqlite://FILE or postgres://USER:PASSWORD@HOST:PORT/DATABASE"
        );
        assert!(
            checked(&[
                "--database-url",
                "postgres://u@h/x",
                "--sqlite-synchronous",
                "full"
            ])
            .unwrap_err()
            .starts_with("--sqlite-synchronous applies to SQLite only")
        );
    }

    #[test]
    fn smtp_urls_choose_their_security_and_port() {
        let server = |url: &str| SmtpUrl(url.to_owned()).server().unwrap();
        let s = server("smtp://mailer:p%40ss@mail.example:587");
        assert_eq!(s.security, SmtpSecurity::StartTls);
        assert_eq!((s.host.as_str(), s.port), ("mail.example", 587));
        assert_eq!(s.credentials, Some(("mailer".into(), "p@ss".into())));
        let s = server("smtps://mailer:pw@mail.example");
        assert_eq!((s.security, s.port), (SmtpSecurity::Tls, 465));
        let s = server("smtp://mail.example");
        assert_eq!((s.security, s.port), (SmtpSecurity::StartTls, 587));
        assert_eq!(s.credentials, None);
        for local in [
            "smtp://127.0.0.1:2525",
            "smtp://[::1]:2525",
            "smtp://localhost:2525",
        ] {
            let s = server(local);
            assert_eq!((s.security, s.port), (SmtpSecurity::Plain, 2525), "{local}");
        }
        let s = server("smtp://127.0.0.1");
        assert_eq!((s.security, s.port), (SmtpSecurity::Plain, 25));
        assert!(!format!("{s:?}").contains("pw"));
    }

    #[test]
    fn bad_smtp_urls_are_named_without_their_password() {
        for (url, says) in [
            ("ftp://u:s3cr3t@mail.example", "scheme `ftp:`"),
            ("smtp://u:s3cr3t@", "cannot be read"),
            ("smtp://u@mail.example", "a user but no password"),
            ("smtp://u:s3cr3t@mail.example/path", "path or query"),
            ("not a url", "cannot be read"),
        ] {
            let err = SmtpUrl(url.to_owned()).server().unwrap_err().0;
            assert!(
                err.starts_with("--smtp-url ") && err.contains(says),
                "{url}: {err}"
            );
            assert!(!err.contains("s3cr3t"), "{err}");
        }
        let url = SmtpUrl("smtp://mailer:s3cr3t@mail.example:587".to_owned());
        assert_eq!(url.to_string(), "smtp://mailer:***@mail.example:587");
        assert!(!format!("{url:?}").contains("s3cr3t"));
    }

    #[test]
    fn mail_settings_are_checked_together() {
        assert_eq!(
            checked(&["--smtp-url", "smtp://u:pw@mail.example:587"]).unwrap_err(),
            "--smtp-url is set but --base-url is not: links in mail need the address people reach the board at; give --base-url (or TANGERINE_BASE_URL), such as https://board.example"
        );
        assert!(
            checked(&[
                "--smtp-url",
                "smtp://u:pw@mail.example:587",
                "--base-url",
                "https://board.example"
            ])
            .is_ok()
        );
        assert!(
            checked(&["--mail-from", "not a mailbox"])
                .unwrap_err()
                .starts_with("--mail-from `not a mailbox` is not a mailbox")
        );
        let cli = Cli::try_parse_from(["tangerine"]).unwrap();
        assert_eq!(
            cli.settings.mail_dir,
            std::path::PathBuf::from("./tangerine-mail/")
        );
        assert_eq!(cli.settings.reset_token_lifetime, Duration::from_secs(3600));
        assert_eq!(cli.settings.forgot_password_limit.to_string(), "5/1h");
        assert_eq!(
            cli.settings.forgot_password_limit_per_address.to_string(),
            "20/1h"
        );
        assert!(cli.settings.smtp_url.is_none() && cli.settings.base_url.is_none());
    }

    #[test]
    fn base_urls_lose_their_trailing_slash_and_refuse_what_links_cannot_use() {
        let base = BaseUrl::parse("https://board.example/").unwrap();
        assert_eq!(base.join("/sessions"), "https://board.example/sessions");
        let base = BaseUrl::parse("https://example.org/board/").unwrap();
        assert_eq!(base.join("/sessions"), "https://example.org/board/sessions");
        for bad in [
            "board.example",
            "ftp://board.example",
            "https://u:p@board.example",
            "https://board.example/?x=1",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_reset_link_needs_a_base_url() {
        let err = Cli::try_parse_from(["tangerine", "user", "reset-link", "alice"])
            .unwrap()
            .invocation()
            .unwrap_err();
        assert!(err.0.contains("--base-url"), "{}", err.0);
        match Cli::try_parse_from([
            "tangerine",
            "user",
            "reset-link",
            "alice",
            "--base-url",
            "https://b.example",
        ])
        .unwrap()
        .invocation()
        .unwrap()
        {
            Invocation::User(
                UserCommand::ResetLink {
                    name,
                    base_url: Some(base_url),
                    reset_token_lifetime,
                },
                ..,
            ) => {
                assert_eq!(name, "alice");
                assert_eq!(base_url.as_str(), "https://b.example");
                assert_eq!(reset_token_lifetime, Duration::from_secs(3600));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn database_urls_never_show_their_password() {
        let cli = Cli::try_parse_from([
            "tangerine",
            "--database-url",
            "postgres://app:s3cret@db:5432/tangerine",
        ])
        .unwrap();
        assert_eq!(
            cli.settings.database.database_url.to_string(),
            "postgres://app:***@db:5432/tangerine"
        );
        assert!(!format!("{cli:?}").contains("s3cret"));
    }
}
