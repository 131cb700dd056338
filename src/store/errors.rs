//! What went wrong with the database, in one line an operator can act on,
//! and whether it is an outage — the database cannot be reached or used for
//! now, which passes by itself (answered 503 with `Retry-After`) — or a
//! fault of ours (500).
//!
//! Drivers format their errors for developers: sea-orm prefixes its own
//! words ("Query Error: "), sqlx repeats its cause, and the PostgreSQL
//! error's `Debug` carries the server's source file and line. Here only the
//! message itself is kept, with PostgreSQL's or SQLite's error code.

use sea_orm::{DbErr, RuntimeErr, sqlx};

/// SQLite's primary result codes that mean "not now" rather than "never":
/// the database is locked beyond the busy timeout, the disk failed or is
/// full, the file cannot be opened or written (permissions, a missing
/// mount). A corrupt file is not among them: it does not heal by waiting.
const SQLITE_OUTAGES: &[i32] = &[
    5,  // SQLITE_BUSY
    6,  // SQLITE_LOCKED
    8,  // SQLITE_READONLY
    10, // SQLITE_IOERR
    13, // SQLITE_FULL
    14, // SQLITE_CANTOPEN
];

/// PostgreSQL's error classes and codes that mean the server cannot serve
/// for now: connection exceptions (08), insufficient resources (53: disk
/// full, out of memory, too many connections), the server shutting down or
/// starting (57P01-57P03), the database gone (3D000, as while it is
/// renamed), a read-only server (25006, as a standby during a failover),
/// and a refused login (28).
fn is_postgres_outage(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("28")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "3D000" | "25006" | "55000"
        )
}

/// Whether `err` means that the database cannot be used for now.
pub fn is_outage(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            is_sqlx_outage(e)
        }
        _ => false,
    }
}

/// Whether SQLite's (extended) result code `code` is one of an outage.
pub fn is_sqlite_outage(code: i32) -> bool {
    SQLITE_OUTAGES.contains(&(code & 0xff))
}

fn is_sqlx_outage(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(e) => match e.code() {
            Some(code) => match code.parse::<i32>() {
                // SQLite's codes are numbers (extended ones carry the primary in the low byte).
                Ok(n) if e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() => {
                    is_sqlite_outage(n)
                }
                _ => is_postgres_outage(&code),
            },
            None => false,
        },
        _ => false,
    }
}

/// One line saying what went wrong, without the driver's own prefixes,
/// repetitions or source locations.
pub fn describe(err: &DbErr) -> String {
    match err {
        DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout) => {
            "no database connection could be opened or freed in time (is the database up?)"
                .to_owned()
        }
        DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::ConnectionClosed) => {
            "the database connection pool is closed".to_owned()
        }
        DbErr::Conn(e) | DbErr::Exec(e) | DbErr::Query(e) => describe_runtime(e),
        DbErr::Custom(message) | DbErr::Migration(message) => message.clone(),
        other => other.to_string(),
    }
}

fn describe_runtime(err: &RuntimeErr) -> String {
    match err {
        RuntimeErr::SqlxError(e) => describe_sqlx(e),
        RuntimeErr::Internal(message) => message.clone(),
        #[allow(unreachable_patterns)]
        other => other.to_string(),
    }
}

/// One line for a sqlx error.
pub fn describe_sqlx(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(e) => {
            let code = e.code().unwrap_or_default();
            if e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                format!("{} (SQLite error {code})", e.message())
            } else {
                format!("{} (PostgreSQL error {code})", e.message())
            }
        }
        sqlx::Error::Io(e) => format!("the connection failed: {}", describe_io(e)),
        sqlx::Error::PoolTimedOut => {
            "no database connection could be opened or freed in time (is the database up?)"
                .to_owned()
        }
        other => other.to_string(),
    }
}

/// An I/O error without the "(os error 111)" suffix.
pub fn describe_io(err: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match err.kind() {
        ConnectionRefused => "connection refused".to_owned(),
        ConnectionReset => "connection reset by the server".to_owned(),
        ConnectionAborted => "connection aborted".to_owned(),
        UnexpectedEof | BrokenPipe => "the server closed the connection".to_owned(),
        TimedOut => "timed out".to_owned(),
        PermissionDenied => "permission denied".to_owned(),
        NotFound => "not found".to_owned(),
        AddrInUse => "the address is already in use".to_owned(),
        AddrNotAvailable => "this machine has no such address".to_owned(),
        ReadOnlyFilesystem => "the file system is read-only".to_owned(),
        _ => {
            let text = err.to_string();
            match text.find(" (os error") {
                Some(at) => text[..at].to_owned(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn lost_connections_and_timeouts_are_outages_and_say_so_once() {
        let refused = DbErr::Exec(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        ))));
        assert!(is_outage(&refused));
        assert_eq!(
            describe(&refused),
            "the connection failed: connection refused"
        );
        let timeout = DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout);
        assert!(is_outage(&timeout));
        assert!(is_outage(&DbErr::Conn(RuntimeErr::Internal("x".into()))));
    }

    #[test]
    fn mistakes_of_ours_are_not_outages() {
        assert!(!is_outage(&DbErr::RecordNotFound("x".into())));
        assert!(!is_outage(&DbErr::Custom("x".into())));
        let protocol = DbErr::Query(RuntimeErr::SqlxError(Arc::new(sqlx::Error::RowNotFound)));
        assert!(!is_outage(&protocol));
    }

    #[test]
    fn postgresql_codes_of_outages() {
        for code in ["08006", "57P01", "3D000", "53300", "25006", "28P01"] {
            assert!(is_postgres_outage(code), "{code}");
        }
        for code in ["23505", "42P01", "40001", "22001"] {
            assert!(!is_postgres_outage(code), "{code}");
        }
    }

    #[test]
    fn io_errors_lose_their_os_error_numbers() {
        let e = std::io::Error::from_raw_os_error(28); // ENOSPC
        let text = describe_io(&e);
        assert!(!text.contains("os error"), "{text}");
    }
}
