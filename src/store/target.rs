//! Which database a `--database-url` names, read without connecting: a
//! SQLite file (or one in memory), or a database on a PostgreSQL server.
//!
//! What is read here is what the start-up log and every error message name
//! (the absolute path of a SQLite file; a PostgreSQL server, database and
//! user), so that no message ever needs the URL itself, which may hold a
//! password.

use std::{
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
};

use sea_orm::sqlx::sqlite::SqliteConnectOptions;

/// What to write instead of a URL that names something else.
const WHAT_WORKS: &str = "use sqlite://FILE or postgres://USER:PASSWORD@HOST:PORT/DATABASE";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file, by the path the URL gives (relative to the working
    /// directory when it is relative).
    SqliteFile(PathBuf),
    /// A SQLite database that lives in memory, as long as the process.
    SqliteMemory,
    Postgres(PostgresTarget),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresTarget {
    /// `host:port`, or the folder of a Unix socket.
    pub server: String,
    pub database: String,
    /// The user named in the URL; none when the URL leaves it to the
    /// environment (`PGUSER`, or the name of the operating system's user).
    pub user: Option<String>,
}

/// Why a URL names no database Tangerine can use, in words that fit after
/// "--database-url ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("has an unknown scheme `{0}:`; {WHAT_WORKS}")]
    UnknownScheme(String),
    #[error("has no scheme; {WHAT_WORKS}")]
    NoScheme,
    #[error("names no SQLite file; use sqlite://FILE, such as sqlite://tangerine.db")]
    NoSqliteFile,
    #[error("is not a SQLite URL Tangerine can read ({0}); use sqlite://FILE")]
    BadSqlite(String),
    #[error(
        "is not a PostgreSQL URL Tangerine can read ({0}); use postgres://USER:PASSWORD@HOST:PORT/DATABASE"
    )]
    BadPostgres(String),
    #[error(
        "names no PostgreSQL database; add its name, as in postgres://USER:PASSWORD@HOST:5432/tangerine"
    )]
    NoPostgresDatabase,
}

impl Target {
    /// Reads `url`. Errors name the URL's scheme at most, never the rest.
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let url = url.trim();
        let Some((scheme, _)) = url.split_once(':') else {
            return Err(TargetError::NoScheme);
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => parse_sqlite(url),
            "postgres" | "postgresql" => parse_postgres(url).map(Target::Postgres),
            // A scheme is letters, digits, `+`, `-` and `.`; anything else
            // before the first colon is no scheme at all (and perhaps a
            // password: it is not repeated).
            s if !s.is_empty()
                && s.len() <= 32
                && s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                Err(TargetError::UnknownScheme(s.to_owned()))
            }
            _ => Err(TargetError::NoScheme),
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Target::SqliteFile(_) | Target::SqliteMemory)
    }

    /// The SQLite file, as an absolute path.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match self {
            Target::SqliteFile(path) => Some(absolute(path)),
            _ => None,
        }
    }
}

/// What the start-up log and messages call the database.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::SqliteFile(path) => write!(f, "SQLite file {}", absolute(path).display()),
            Target::SqliteMemory => f.write_str("SQLite in memory"),
            Target::Postgres(pg) => {
                write!(
                    f,
                    "PostgreSQL database \"{}\" at {}",
                    pg.database, pg.server
                )?;
                match &pg.user {
                    Some(user) => write!(f, " as user \"{user}\""),
                    None => Ok(()),
                }
            }
        }
    }
}

/// `path` made absolute against the working directory (it need not exist).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn parse_sqlite(url: &str) -> Result<Target, TargetError> {
    // As sqlx reads it: what follows `sqlite://` or `sqlite:`, up to `?`.
    let rest = url
        .get("sqlite:".len()..)
        .map(|r| r.strip_prefix("//").unwrap_or(r))
        .unwrap_or_default();
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = database == ":memory:"
        || url::form_urlencoded::parse(params.as_bytes())
            .any(|(key, value)| key == "mode" && value == "memory");
    let options = SqliteConnectOptions::from_str(url).map_err(|e| {
        TargetError::BadSqlite(
            e.to_string()
                .trim_start_matches("error with configuration: ")
                .to_owned(),
        )
    })?;
    if in_memory {
        return Ok(Target::SqliteMemory);
    }
    if database.is_empty() {
        return Err(TargetError::NoSqliteFile);
    }
    Ok(Target::SqliteFile(options.get_filename().to_path_buf()))
}

fn parse_postgres(url: &str) -> Result<PostgresTarget, TargetError> {
    let parsed = url::Url::parse(url).map_err(|e| TargetError::BadPostgres(e.to_string()))?;
    let database = decode(parsed.path().trim_start_matches('/'));
    if database.is_empty() {
        return Err(TargetError::NoPostgresDatabase);
    }
    let socket = parsed
        .query_pairs()
        .find(|(key, value)| key == "host" && value.starts_with('/'))
        .map(|(_, value)| value.into_owned());
    let port = parsed.port().unwrap_or(5432);
    let server = match (socket, parsed.host_str()) {
        (Some(folder), _) => format!("socket {folder}"),
        (None, Some(host)) if !host.is_empty() => format!("{host}:{port}"),
        (None, _) => format!("localhost:{port}"),
    };
    let user = Some(decode(parsed.username())).filter(|u| !u.is_empty());
    Ok(PostgresTarget {
        server,
        database,
        user,
    })
}

/// Where the passwords of the URLs in `text` stand: in each
/// `scheme://user:password@…`, what lies between the first `:` after the
/// `//` and the last `@` before the URL ends (at a space or a quote). A URL
/// too broken for a URL parser still has its password found; a path with
/// an `@` in it may be taken for one, which only hides more.
pub fn password_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let start = from + found + 3;
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || "\"'`<>".contains(c))
            .map_or(text.len(), |e| start + e);
        let token = &text[start..end];
        if let Some(at) = token.rfind('@')
            && let Some(colon) = token[..at].find(':')
        {
            let (password_start, password_end) = (start + colon + 1, start + at);
            // The placeholder that messages show as the form to use.
            if &text[password_start..password_end] != "PASSWORD" && password_start < password_end {
                spans.push(password_start..password_end);
            }
        }
        from = end.max(start);
    }
    spans
}

/// The passwords of the URLs in `text` (as written, and percent-decoded),
/// so that they can be kept out of every message.
pub fn passwords_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for span in password_spans(text) {
        let raw = &text[span];
        out.push(raw.to_owned());
        let decoded = decode(raw);
        if decoded != raw {
            out.push(decoded);
        }
    }
    out
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(server: &str, database: &str, user: Option<&str>) -> Target {
        Target::Postgres(PostgresTarget {
            server: server.into(),
            database: database.into(),
            user: user.map(Into::into),
        })
    }

    #[test]
    fn urls_name_their_database() {
        for (url, expected) in [
            (
                "sqlite://tangerine.db",
                Target::SqliteFile("tangerine.db".into()),
            ),
            ("sqlite:x.db?mode=rwc", Target::SqliteFile("x.db".into())),
            (
                "sqlite:///var/lib/t.db",
                Target::SqliteFile("/var/lib/t.db".into()),
            ),
            ("sqlite::memory:", Target::SqliteMemory),
            ("sqlite://:memory:", Target::SqliteMemory),
            (
                "postgres://app:s3cret@db.example:6543/board",
                pg("db.example:6543", "board", Some("app")),
            ),
            (
                "postgresql://127.0.0.1/test",
                pg("127.0.0.1:5432", "test", None),
            ),
            (
                "postgres:///board?host=/run/postgresql",
                pg("socket /run/postgresql", "board", None),
            ),
        ] {
            assert_eq!(Target::parse(url), Ok(expected), "{url}");
        }
    }

    #[test]
    fn urls_that_name_nothing_usable_are_refused_without_repeating_them() {
        for (url, expected) in [
            (
                "postgress://tangerine:hunter2@127.0.0.1:5432/x",
                TargetError::UnknownScheme("postgress".into()),
            ),
            (
                "mysql://root:hunter2@localhost/x",
                TargetError::UnknownScheme("mysql".into()),
            ),
            ("tangerine.db", TargetError::NoScheme),
            ("hunter2 :x", TargetError::NoScheme),
            ("sqlite:", TargetError::NoSqliteFile),
            ("sqlite://", TargetError::NoSqliteFile),
            (
                "postgres://postgres@127.0.0.1:5432/",
                TargetError::NoPostgresDatabase,
            ),
            (
                "postgres://postgres@127.0.0.1:5432",
                TargetError::NoPostgresDatabase,
            ),
        ] {
            let err = Target::parse(url).unwrap_err();
            assert_eq!(err, expected, "{url}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        let err = Target::parse("postgres://u:hunter2@127.0.0.1:99999/x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "is not a PostgreSQL URL Tangerine can read (invalid port number); use postgres://USER:PASSWORD@HOST:PORT/DATABASE"
        );
    }

    #[test]
    fn passwords_are_found_even_in_urls_too_broken_to_parse() {
        assert_eq!(
            passwords_in("sqlite://tangerine:m4rker@/nowhere/x.db"),
            vec!["m4rker".to_owned()]
        );
        assert_eq!(
            passwords_in("postgres://u:m4rker@[::1/x and mysql://r:other@h"),
            vec!["m4rker".to_owned(), "other".to_owned()]
        );
        assert_eq!(
            passwords_in("postgres://USER:PASSWORD@HOST:PORT/DATABASE"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn passwords_are_found_as_written_and_decoded() {
        assert_eq!(
            passwords_in("postgres://app:p%40ss@db/x"),
            vec!["p%40ss".to_owned(), "p@ss".to_owned()]
        );
        assert_eq!(passwords_in("postgres://app@db/x"), Vec::<String>::new());
        assert_eq!(passwords_in("sqlite://x.db"), Vec::<String>::new());
    }

    #[test]
    fn targets_are_described_without_a_password() {
        let target = Target::parse("postgres://app:s3cret@db:5432/board").unwrap();
        assert_eq!(
            target.to_string(),
            "PostgreSQL database \"board\" at db:5432 as user \"app\""
        );
        let file = Target::parse("sqlite://t.db").unwrap().to_string();
        assert!(
            file.starts_with("SQLite file /") && file.ends_with("/t.db"),
            "{file}"
        );
    }
}
