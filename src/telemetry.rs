//! Logs: `tracing` to standard error, filtered by `RUST_LOG`; every line
//! passed through [`redact`], every error told in [`one_line`], and a panic
//! in a request reported once, by the request's own log line (see
//! [`catch_panics`]) rather than by the default panic message and backtrace.

use std::{
    borrow::Cow,
    cell::RefCell,
    error::Error,
    future::Future,
    io::{IsTerminal, Write},
    panic::AssertUnwindSafe,
    sync::RwLock,
};

use futures_util::FutureExt;
use tracing_subscriber::{EnvFilter, fmt, fmt::MakeWriter};

/// What every log line is filtered by when `RUST_LOG` is not set. sqlx
/// warns (and informs) about each connection it drops while a database is
/// down, which a request's own line already reports.
const DEFAULT_FILTER: &str = "info,sqlx=error,sea_orm=warn";

pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // Standard output is kept for what subcommands print.
    let _ = fmt()
        .with_env_filter(filter)
        .with_writer(RedactedStderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Strings that no message may show: the passwords of the configured URLs.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Strings shorter than this are not searched for: a one- or two-letter
/// password would turn every log line to stars. URLs still lose them (see
/// [`redact`]).
const SHORTEST_SECRET: usize = 3;

/// Keeps `secret` out of every log line and error message from now on.
pub fn keep_secret(secret: &str) {
    if secret.len() < SHORTEST_SECRET {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_owned());
    }
}

/// `text` with the password of every URL in it (`scheme://user:password@…`)
/// and every secret given to [`keep_secret`] replaced by `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    if text.contains("://") {
        out = Cow::Owned(redact_url_passwords(text));
    }
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), "***"));
        }
    }
    out
}

fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut kept = 0;
    for span in crate::store::target::password_spans(text) {
        out.push_str(&text[kept..span.start]);
        out.push_str("***");
        kept = span.end;
    }
    out.push_str(&text[kept..]);
    out
}

/// Standard error, every write redacted. The formatter writes a whole
/// event at once, so a URL is never split between two writes.
struct RedactedStderr;

impl<'a> MakeWriter<'a> for RedactedStderr {
    type Writer = RedactedStderr;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedStderr
    }
}

impl Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `err` and its causes in one line: each cause once (drivers repeat
/// their source in their own message), a database error as
/// [`crate::store::errors::describe`] tells it, no backtrace, no line breaks,
/// and redacted.
pub fn one_line(err: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let (text, last) = if let Some(db) = e.downcast_ref::<sea_orm::DbErr>() {
            (crate::store::errors::describe(db), true)
        } else if let Some(sqlx) = e.downcast_ref::<sea_orm::sqlx::Error>() {
            (crate::store::errors::describe_sqlx(sqlx), true)
        } else if let Some(io) = e.downcast_ref::<std::io::Error>() {
            (crate::store::errors::describe_io(io), true)
        } else {
            (e.to_string(), false)
        };
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        if last {
            break;
        }
        current = e.source();
    }
    redact(&parts.join(": ")).into_owned()
}

tokio::task_local! {
    /// Set while a request is being handled (see [`catch_panics`]).
    static IN_REQUEST: ();
}

thread_local! {
    /// The message of the panic being unwound on this thread inside a request.
    static PANIC_IN_REQUEST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the default panic message (and, with `RUST_BACKTRACE`, its
/// backtrace) for panics inside a request: [`catch_panics`] hands the
/// message to the request, which logs it on its own line. Other panics (a
/// bug in a background task) are logged here, redacted, with a backtrace
/// when `RUST_BACKTRACE` asks for one.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.payload_as_str().unwrap_or("a panic without a message");
        let message = match info.location() {
            Some(at) => format!("{message} (at {}:{})", at.file(), at.line()),
            None => message.to_owned(),
        };
        let message = redact(&message).into_owned();
        if IN_REQUEST.try_with(|_| ()).is_ok() {
            PANIC_IN_REQUEST.with(|slot| *slot.borrow_mut() = Some(message));
            return;
        }
        let backtrace = std::backtrace::Backtrace::capture();
        match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => {
                tracing::error!("panic: {message}\n{backtrace}");
            }
            _ => tracing::error!("panic: {message}"),
        }
    }));
}

/// Runs a request's handling, turning a panic into `Err(message)`. The
/// panic unwinds out of the poll on this very thread, so the message the
/// hook kept is this request's.
pub async fn catch_panics<F: Future>(handling: F) -> Result<F::Output, String> {
    match AssertUnwindSafe(IN_REQUEST.scope((), handling))
        .catch_unwind()
        .await
    {
        Ok(output) => Ok(output),
        Err(payload) => Err(PANIC_IN_REQUEST
            .with(|slot| slot.borrow_mut().take())
            .unwrap_or_else(|| {
                // Without the hook (the library used on its own): the payload alone.
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_owned());
                redact(&message).into_owned()
            })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_starred_wherever_they_stand() {
        assert_eq!(
            redact(
                "The connection string 'postgress://tangerine:hunter2@127.0.0.1:5432/x' has no driver"
            ),
            "The connection string 'postgress://tangerine:***@127.0.0.1:5432/x' has no driver"
        );
        assert_eq!(
            redact("a postgres://u:p@ss@h/db and mysql://root:pw@h"),
            "a postgres://u:***@h/db and mysql://root:***@h"
        );
        assert_eq!(redact("sqlite://tangerine.db"), "sqlite://tangerine.db");
        assert_eq!(
            redact("use postgres://USER:PASSWORD@HOST:PORT/DATABASE"),
            "use postgres://USER:PASSWORD@HOST:PORT/DATABASE"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert!(matches!(redact("GET / 200"), Cow::Borrowed(_)));
    }

    #[test]
    fn kept_secrets_are_starred_anywhere() {
        keep_secret("marker-9f3a");
        assert_eq!(
            redact("invalid port number 'marker-9f3a@db'"),
            "invalid port number '***@db'"
        );
        keep_secret("ab");
        assert_eq!(redact("about"), "about", "too short to search for");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("Failed to load a session")]
    struct Outer(#[source] sea_orm::DbErr);

    #[test]
    fn causes_are_told_once_on_one_line() {
        let refused =
            sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal("connection refused".into()));
        let err = anyhow::Error::new(Outer(refused)).context("Failed to show the homepage");
        assert_eq!(
            one_line(err.as_ref()),
            "Failed to show the homepage: Failed to load a session: connection refused"
        );
        let repeated = anyhow::anyhow!("unable to open database file")
            .context("error returned from database: unable to open database file");
        assert_eq!(
            one_line(repeated.as_ref()),
            "error returned from database: unable to open database file"
        );
    }
}
