//! Everything that touches the database, grouped per resource.
//!
//! Functions here take a connection and plain values and return domain
//! values or SeaORM errors; callers add the "Failed to …" context.

mod gathered;
mod inline;
pub mod posts;
pub mod rate_limits;
pub mod reads;
pub mod sessions;
mod shapes;
pub mod signing_keys;
mod snapshot;
pub mod users;

pub use reads::Reads;
use shapes::Shapes;
pub use snapshot::Snapshot;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    RuntimeErr, SqlErr, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

/// Connections to a database server (PostgreSQL) an instance keeps at most:
/// four per CPU of the instance, at least 4 and at most 64. Each is a
/// server process that a query wakes; measured with the server on the same
/// two CPUs (bench/RESULTS.md), 16 connections served the logged-in homepage
/// at 0.70x the rate of 8 (more processes taking turns on the cores) and 4
/// created posts at 0.74x the rate of 8 (fewer commits sharing a flush to
/// disk), while 8 did both as well as the best.
fn server_connections(cpus: usize) -> u32 {
    u32::try_from(cpus.saturating_mul(4)).map_or(64, |n| n.clamp(4, 64))
}

fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Opens a pool on `url`. SQLite files are created when missing and run in
/// WAL mode with a busy timeout, so that concurrent writers wait their turn
/// instead of failing with "database is locked".
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .record_stmt_in_spans(false)
        .acquire_timeout(Duration::from_secs(10))
        // Checking a connection on every acquire costs a round trip per
        // query; checking only those idle for a while still weeds out
        // connections a database server dropped.
        .test_before_acquire_if_idle_for(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        // SQLite takes one writer at a time, and each sqlx connection is a
        // thread of its own: a few connections keep readers busy without
        // crowding a small machine's cores with threads.
        options
            .max_connections(4)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
                    // Checkpoint every 8,000 pages (32 MiB of WAL) rather than
                    // SQLite's 1,000: a checkpoint writes each changed page once
                    // however often it changed, so under a stream of posts fewer,
                    // larger checkpoints cost a tenth less CPU per post
                    // (measured: bench/RESULTS.md). The file is cut back to
                    // 64 MiB after a checkpoint should a burst have grown it.
                    .pragma("wal_autocheckpoint", "8000")
                    .pragma("journal_size_limit", "67108864")
            });
        connect_sqlite(options).await
    } else {
        options
            .max_connections(server_connections(available_cpus()))
            .min_connections(1);
        Database::connect(options).await
    }
}

/// How long SQLite waits for another connection's lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Turning a new file to WAL mode takes a lock that SQLite does not wait for
/// under the busy timeout, so instances starting together on a new file would
/// see "database is locked" and exit; they try again instead, for as long as
/// the busy timeout would have waited.
async fn connect_sqlite(options: ConnectOptions) -> Result<DatabaseConnection, DbErr> {
    let deadline = tokio::time::Instant::now() + SQLITE_BUSY_TIMEOUT;
    loop {
        match Database::connect(options.clone()).await {
            Err(err) if is_sqlite_busy(&err) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            result => return result,
        }
    }
}

/// `SQLITE_BUSY` and its extended codes ("database is locked").
fn is_sqlite_busy(err: &DbErr) -> bool {
    const SQLITE_BUSY: i32 = 5;
    let (DbErr::Conn(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e))) = err
    else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(e) = &**e else {
        return false;
    };
    e.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == SQLITE_BUSY)
}

/// Applies pending migrations in one transaction that holds a lock, so that
/// instances starting together against an empty database take turns: one
/// applies them, the others wait and find nothing left to do.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let txn = db.begin().await?;
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(7295318114402551)")
                .await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await
        }
        DatabaseBackend::Sqlite => {
            db.execute_unprepared(
                "CREATE TABLE IF NOT EXISTS tangerine_migration_lock (holder INTEGER NOT NULL)",
            )
            .await?;
            let txn = db.begin().await?;
            // A write as the transaction's first statement takes SQLite's
            // write lock (waiting its turn under the busy timeout) before
            // anything is read, so no instance migrates from a stale view.
            txn.execute_unprepared("INSERT INTO tangerine_migration_lock (holder) VALUES (1)")
                .await?;
            Migrator::up(&txn, None).await?;
            txn.execute_unprepared("DELETE FROM tangerine_migration_lock")
                .await?;
            txn.commit().await
        }
        _ => Migrator::up(db, None).await,
    }
}

/// Whether the database answers at all.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.ping().await
}

pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A SQLite file of its own for a unit test, removed (with its WAL and
/// shared-memory files) when dropped.
#[cfg(test)]
pub(crate) struct ScratchSqlite {
    path: std::path::PathBuf,
}

#[cfg(test)]
impl ScratchSqlite {
    pub(crate) fn new(purpose: &str) -> Self {
        let name = format!("tangerine-{purpose}-{}.db", uuid::Uuid::new_v4());
        Self {
            path: std::env::temp_dir().join(name),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }
}

#[cfg(test)]
impl Drop for ScratchSqlite {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// A PostgreSQL database of its own for a unit test, on the server of
/// `TEST_DATABASE_URL` (none when it is not set), dropped when dropped.
#[cfg(test)]
pub(crate) struct ScratchPostgres {
    admin_url: String,
    name: String,
    pub(crate) url: String,
}

#[cfg(test)]
impl ScratchPostgres {
    pub(crate) async fn new() -> Option<Self> {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let name = format!("tangerine_unit_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&admin_url).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        admin.close().await.unwrap();
        let (base, query) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
        let server = &base[..base
            .rfind('/')
            .filter(|&i| i > "postgres://".len())
            .unwrap_or(base.len())];
        let url = match query {
            "" => format!("{server}/{name}"),
            q => format!("{server}/{name}?{q}"),
        };
        Some(Self {
            admin_url,
            name,
            url,
        })
    }
}

#[cfg(test)]
impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // The test's runtime may be ending; drop from a runtime of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let admin = connect(&admin_url).await.ok()?;
                let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                admin.execute_unprepared(&drop).await.ok()?;
                admin.close().await.ok()
            })
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_server_gets_four_connections_per_cpu_within_bounds() {
        assert_eq!(server_connections(1), 4);
        assert_eq!(server_connections(2), 8);
        assert_eq!(server_connections(8), 32);
        assert_eq!(server_connections(64), 64);
        assert_eq!(server_connections(usize::MAX), 64);
    }

    /// The pool's SQLite connections checkpoint every 8,000 pages and cut the
    /// WAL file back to 64 MiB afterwards.
    #[tokio::test]
    async fn sqlite_connections_checkpoint_in_large_steps() {
        let file = ScratchSqlite::new("wal");
        let db = connect(&file.url()).await.unwrap();
        for (pragma, expected) in [
            ("wal_autocheckpoint", 8000),
            ("journal_size_limit", 67_108_864),
        ] {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    DatabaseBackend::Sqlite,
                    format!("PRAGMA {pragma}"),
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                row.try_get_by_index::<i64>(0).unwrap(),
                expected,
                "{pragma}"
            );
        }
        drop(db);
    }

    /// Two connections to one new file: the first holds the write lock, the
    /// second (waiting for nothing) is refused with "database is locked".
    #[tokio::test]
    async fn a_locked_sqlite_file_is_recognised_and_other_errors_are_not() {
        let file = ScratchSqlite::new("busy");
        let url = file.url();
        let holder = connect(&url).await.unwrap();
        holder
            .execute_unprepared("CREATE TABLE t (x INTEGER)")
            .await
            .unwrap();
        let mut impatient = ConnectOptions::new(&url);
        impatient
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| o.busy_timeout(Duration::ZERO));
        let impatient = Database::connect(impatient).await.unwrap();

        let txn = holder.begin().await.unwrap();
        txn.execute_unprepared("INSERT INTO t (x) VALUES (1)")
            .await
            .unwrap();
        let locked = impatient
            .execute_unprepared("INSERT INTO t (x) VALUES (2)")
            .await
            .unwrap_err();
        assert!(is_sqlite_busy(&locked), "{locked}");
        txn.rollback().await.unwrap();

        let other = impatient
            .execute_unprepared("INSERT INTO missing (x) VALUES (1)")
            .await
            .unwrap_err();
        assert!(!is_sqlite_busy(&other), "{other}");
        drop((holder, impatient));
    }
}
