//! SQLite reads run in the calling thread, on connections of their own.
//!
//! Through sqlx, every SQLite query is a round trip to the thread that owns
//! the connection: a channel send, a futex wake-up and a thread switch each
//! way, which costs more than the reads of a page view themselves: SQLite
//! is a library, and reading a few rows by index takes a few microseconds. So the reads every page view makes run here, in the
//! thread that asks, with the very statement SeaORM builds for them.
//!
//! Only reads: the connections are `query_only`, and in WAL mode a reader
//! neither waits for a writer nor holds one up. SQLite makes a reader wait
//! only in rare moments (a checkpoint resetting the WAL, recovery after a
//! crash); a read here waits at most [`BUSY_TIMEOUT`] and then reports
//! [`InlineError::Busy`], and the caller reads through the pool, whose
//! threads may wait. Writes stay on the pool.

use std::{
    path::PathBuf,
    str::FromStr,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{
    Connection, ErrorCode, OpenFlags, Params, Row,
    types::{Type, Value as SqlValue, ValueRef},
};
use sea_orm::{DbErr, RuntimeErr, Statement, Value, sqlx::sqlite::SqliteConnectOptions};
use uuid::Uuid;

use super::snapshot::ReadPoint;

/// Connections kept for reuse: one per thread that reads at the same moment
/// (the async workers) is enough; more are opened when needed and dropped.
const KEEP: usize = 8;

/// How long a read here waits for a lock before the caller goes to the
/// pool instead: a few milliseconds of an async worker at most.
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(5);

/// Why a read here did not answer.
#[derive(Debug)]
pub enum InlineError {
    /// SQLite held a lock longer than [`BUSY_TIMEOUT`]: read through the pool.
    Busy,
    Failed(DbErr),
}

impl InlineError {
    /// A failure as the pool would report it (see `error`).
    fn from_sqlite(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Self::Busy,
            _ => Self::Failed(error(e)),
        }
    }
}

impl From<DbErr> for InlineError {
    fn from(e: DbErr) -> Self {
        Self::Failed(e)
    }
}

/// A connection, named so that what it read can be told apart from what
/// another connection read (see [`ReadPoint`]).
struct ReadConnection {
    id: u64,
    conn: Connection,
}

/// A file-backed SQLite database, read in the calling thread.
pub struct InlineSqlite {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<ReadConnection>>,
    opened: AtomicU64,
}

impl InlineSqlite {
    /// For a SQLite `url` whose file exists (the pool has created it by
    /// now); `None` for anything else, in-memory databases included.
    pub fn for_url(url: &str, busy_timeout: Duration) -> Option<Self> {
        let options = SqliteConnectOptions::from_str(url).ok()?;
        let path = options.get_filename();
        path.is_file().then(|| Self {
            path: path.to_path_buf(),
            busy_timeout,
            idle: Mutex::new(Vec::new()),
            opened: AtomicU64::new(0),
        })
    }

    fn open(&self) -> Result<ReadConnection, rusqlite::Error> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(ReadConnection {
            id: self.opened.fetch_add(1, Ordering::Relaxed),
            conn,
        })
    }

    /// Runs `stmt` and maps each row with `map`.
    pub fn query<T>(
        &self,
        stmt: &Statement,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, InlineError> {
        let params = stmt
            .values
            .iter()
            .flat_map(|values| values.0.iter())
            .map(bind)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| InlineError::Failed(error(e)))?;
        self.query_sql(&stmt.sql, rusqlite::params_from_iter(params), map)
    }

    /// Runs `sql` (see [`super::shapes::StatementTexts`]) with `params` and
    /// maps each row with `map`.
    pub fn query_sql<T>(
        &self,
        sql: &str,
        params: impl Params,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, InlineError> {
        self.with_connection(|conn| rows(&conn.conn, sql, params, map))
    }

    /// [`Self::query_sql`], also reporting the point the read saw (see
    /// [`ReadPoint`]).
    pub fn query_at_read_point<T>(
        &self,
        sql: &str,
        params: impl Params,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<(Vec<T>, ReadPoint), InlineError> {
        self.with_connection(|read| {
            // The statement is its own read transaction; the version SQLite
            // kept when that transaction began is what the rows were read at.
            let rows = rows(&read.conn, sql, params, map)?;
            Ok((rows, ReadPoint::new(read.id, data_version(&read.conn)?)))
        })
    }

    /// Runs `f` on an idle connection (or a new one), and keeps the
    /// connection for the next read unless `f` left a transaction open.
    fn with_connection<T>(
        &self,
        f: impl FnOnce(&ReadConnection) -> rusqlite::Result<T>,
    ) -> Result<T, InlineError> {
        let conn = match self.lock().pop() {
            Some(conn) => conn,
            None => self.open().map_err(InlineError::from_sqlite)?,
        };
        let result = f(&conn);
        // A connection that failed is not kept: the next read opens a fresh
        // one, which finds the file again once it is back (see `error`).
        if result.is_ok() && conn.conn.is_autocommit() {
            let mut idle = self.lock();
            if idle.len() < KEEP {
                idle.push(conn);
            }
        }
        result.map_err(InlineError::from_sqlite)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ReadConnection>> {
        // The list holds plain connections: a panic elsewhere leaves it usable.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut prepared = conn.prepare_cached(sql)?;
    let mut rows = prepared.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// The connection's data version, as `PRAGMA data_version` reports it,
/// without a statement: `SQLITE_FCNTL_DATA_VERSION`, SQLite's public file
/// control for it. SQLite moves the version on when a read transaction
/// begins after another connection committed, and leaves it until the next
/// one begins, so right after a statement it names what the statement read.
fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    use rusqlite::ffi;
    let mut version: std::ffi::c_uint = 0;
    // SAFETY: `handle` is this open connection's, used on this thread only
    // for the call; "main" is a NUL-terminated schema name; the file control
    // writes one unsigned int through the pointer, which lives on this stack.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_DATA_VERSION,
            (&raw mut version).cast(),
        )
    };
    if rc != ffi::SQLITE_OK {
        return Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None));
    }
    Ok(i64::from(version))
}

/// SQLite's error as sqlx would report it. Errors of the kinds that pass
/// by themselves (a file that cannot be opened, a full disk, a lock held too
/// long: see `store::errors`) are connection errors, so that the request that
/// met one is answered 503 rather than 500.
fn error(e: rusqlite::Error) -> DbErr {
    match &e {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let text = match message {
                Some(message) => format!("{message} (SQLite error {})", failure.extended_code),
                None => format!("{e} (SQLite error {})", failure.extended_code),
            };
            if crate::store::errors::is_sqlite_outage(failure.extended_code) {
                DbErr::Conn(RuntimeErr::Internal(text))
            } else {
                DbErr::Query(RuntimeErr::Internal(text))
            }
        }
        _ => DbErr::Query(RuntimeErr::Internal(format!("SQLite: {e}"))),
    }
}

/// A statement's value, bound as sqlx binds it, so that what the pool
/// wrote compares equal to what is looked up here (a UUID as its 16 bytes,
/// a time as RFC 3339 text).
fn bind(value: &Value) -> rusqlite::Result<SqlValue> {
    let unsupported = || {
        rusqlite::Error::ToSqlConversionFailure(format!("no inline binding for {value:?}").into())
    };
    Ok(match value {
        Value::Bool(v) => v.map_or(SqlValue::Null, |b| SqlValue::Integer(b.into())),
        Value::Int(v) => v.map_or(SqlValue::Null, |i| SqlValue::Integer(i.into())),
        Value::BigInt(v) => v.map_or(SqlValue::Null, SqlValue::Integer),
        Value::String(v) => v.clone().map_or(SqlValue::Null, SqlValue::Text),
        Value::Bytes(v) => v.clone().map_or(SqlValue::Null, SqlValue::Blob),
        Value::Uuid(v) => v.map_or(SqlValue::Null, |u| SqlValue::Blob(u.as_bytes().to_vec())),
        Value::ChronoDateTimeUtc(v) => v.map_or(SqlValue::Null, |t| {
            SqlValue::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
        }),
        _ => return Err(unsupported()),
    })
}

fn conversion(
    idx: usize,
    ty: Type,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, e.into())
}

/// The value of a column that may not be NULL.
fn required<T>(
    row: &Row<'_>,
    idx: usize,
    read: fn(&Row<'_>, usize) -> rusqlite::Result<Option<T>>,
) -> rusqlite::Result<T> {
    read(row, idx)?.ok_or_else(|| {
        let name = row.as_ref().column_name(idx).unwrap_or_default();
        rusqlite::Error::InvalidColumnType(idx, name.to_owned(), Type::Null)
    })
}

// The readers below take a column's position in the SELECT rather than its
// name: finding a column by name compares it with every column before it,
// for every row.

/// A UUID column, stored as its 16 bytes (or, leniently, as text).
pub fn uuid(row: &Row<'_>, idx: usize) -> rusqlite::Result<Uuid> {
    required(row, idx, optional_uuid)
}

pub fn optional_uuid(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Uuid>> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(bytes) => Uuid::from_slice(bytes)
            .map(Some)
            .map_err(|e| conversion(idx, Type::Blob, e)),
        ValueRef::Text(text) => std::str::from_utf8(text)
            .map_err(|e| conversion(idx, Type::Text, e))
            .and_then(|t| Uuid::parse_str(t).map_err(|e| conversion(idx, Type::Text, e)))
            .map(Some),
        other => Err(conversion(idx, other.data_type(), "not a UUID")),
    }
}

/// A time column, stored as RFC 3339 text (what sqlx writes).
pub fn time(row: &Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    required(row, idx, optional_time)
}

pub fn optional_time(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(text) => std::str::from_utf8(text)
            .map_err(|e| conversion(idx, Type::Text, e))
            .and_then(|t| {
                DateTime::parse_from_rfc3339(t).map_err(|e| conversion(idx, Type::Text, e))
            })
            .map(|t| Some(t.with_timezone(&Utc))),
        other => Err(conversion(idx, other.data_type(), "not an RFC 3339 time")),
    }
}

/// A JSON column, stored as text.
pub fn json(row: &Row<'_>, idx: usize) -> rusqlite::Result<serde_json::Value> {
    match row.get_ref(idx)? {
        value @ (ValueRef::Text(text) | ValueRef::Blob(text)) => {
            serde_json::from_slice(text).map_err(|e| conversion(idx, value.data_type(), e))
        }
        other => Err(conversion(idx, other.data_type(), "not JSON")),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn values_are_bound_as_sqlx_binds_them() {
        let id = Uuid::now_v7();
        assert_eq!(
            bind(&Value::Uuid(Some(id))).unwrap(),
            SqlValue::Blob(id.as_bytes().to_vec())
        );
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 4, 5, 6).unwrap()
            + chrono::Duration::microseconds(123_456);
        assert_eq!(
            bind(&Value::ChronoDateTimeUtc(Some(t))).unwrap(),
            SqlValue::Text("2026-11-30T04:05:06.123456+00:00".into())
        );
        assert_eq!(
            bind(&Value::Bool(Some(true))).unwrap(),
            SqlValue::Integer(1)
        );
        assert_eq!(bind(&Value::Uuid(None)).unwrap(), SqlValue::Null);
        assert!(bind(&Value::Double(Some(1.5))).is_err());
    }

    /// A file that cannot be opened is an outage (a connection error, which
    /// pages answer with 503), and once the file is back the next read
    /// opens a fresh connection and succeeds.
    #[test]
    fn a_file_that_cannot_be_opened_is_an_outage_that_heals() {
        let file = crate::store::scratch::ScratchDatabase::sqlite("inline-outage");
        let path = file.url.clone().trim_start_matches("sqlite://").to_owned();
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7);")
            .unwrap();
        let sqlite = InlineSqlite::for_url(&file.url, Duration::from_millis(100)).unwrap();
        let read = || sqlite.query_sql("SELECT x FROM t", [], |row| row.get::<_, i64>(0));

        let aside = format!("{path}.aside");
        std::fs::rename(&path, &aside).unwrap();
        let InlineError::Failed(err) = read().unwrap_err() else {
            panic!("a missing file is not a lock");
        };
        assert!(crate::store::errors::is_outage(&err), "{err}");
        let told = crate::store::errors::describe(&err);
        assert_eq!(
            told,
            format!("unable to open database file: {path} (SQLite error 14)")
        );
        std::fs::rename(&aside, &path).unwrap();
        assert_eq!(read().unwrap(), vec![7]);
    }

    /// A lock held by another connection makes a read here give up within
    /// milliseconds, saying so, rather than wait on an async worker.
    #[test]
    fn a_locked_database_is_reported_busy_at_once() {
        let file = crate::store::scratch::ScratchDatabase::sqlite("inline-busy");
        let path = file.url.clone().trim_start_matches("sqlite://").to_owned();
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7);")
            .unwrap();
        let sqlite = InlineSqlite::for_url(&file.url, BUSY_TIMEOUT).unwrap();
        let read = || sqlite.query_sql("SELECT x FROM t", [], |row| row.get::<_, i64>(0));
        assert_eq!(read().unwrap(), vec![7]);

        // Outside WAL mode a writer's exclusive lock keeps every reader out.
        holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let started = std::time::Instant::now();
        assert!(matches!(read(), Err(InlineError::Busy)));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        holder.execute_batch("COMMIT").unwrap();
        assert_eq!(read().unwrap(), vec![7]);
    }

    /// The read point names what the statement read: it stays while
    /// nobody commits, moves on once another connection has committed (in
    /// WAL mode, as Tangerine runs), and is the version `PRAGMA
    /// data_version` reports.
    #[test]
    fn the_read_point_moves_when_another_connection_commits() {
        let file = crate::store::scratch::ScratchDatabase::sqlite("inline-version");
        let path = file.url.clone().trim_start_matches("sqlite://").to_owned();
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL; CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);",
            )
            .unwrap();
        let sqlite = InlineSqlite::for_url(&file.url, BUSY_TIMEOUT).unwrap();
        let read = || {
            sqlite
                .query_at_read_point("SELECT max(x) FROM t", [], |row| row.get::<_, i64>(0))
                .unwrap()
        };

        let (first, at_first) = read();
        let (again, at_again) = read();
        assert_eq!((first, again), (vec![1], vec![1]));
        assert_eq!(at_first, at_again, "nothing was committed in between");

        writer.execute_batch("INSERT INTO t VALUES (2);").unwrap();
        let (after, at_after) = read();
        assert_eq!(after, vec![2]);
        assert_ne!(at_first, at_after, "another connection committed");

        sqlite
            .with_connection(|read| {
                let pragma: i64 = read
                    .conn
                    .query_row("PRAGMA data_version", [], |row| row.get(0))?;
                assert_eq!(data_version(&read.conn)?, pragma);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn an_in_memory_or_missing_database_is_not_read_inline() {
        let d = Duration::from_secs(1);
        assert!(InlineSqlite::for_url("sqlite::memory:", d).is_none());
        assert!(InlineSqlite::for_url("sqlite:///nowhere/at/all.db", d).is_none());
        assert!(InlineSqlite::for_url("postgres://postgres@127.0.0.1/test", d).is_none());
    }
}
