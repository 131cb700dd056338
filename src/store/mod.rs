//! Everything that touches the database, grouped per resource.
//!
//! Functions here take a connection and plain values and return domain
//! values or SeaORM errors; callers add the "Failed to …" context.

pub mod errors;
mod hot;
pub mod moderation;
pub mod posts;
pub mod rate_limits;
pub mod recovery;
mod rows;
#[cfg(any(test, feature = "test-routes"))]
pub mod scratch;
pub mod sessions;
pub mod signing_keys;
pub mod target;
pub mod tokens;
pub mod users;

pub use hot::{Stamp, Store};
pub use target::Target;

use std::{path::PathBuf, str::FromStr, time::Duration};

use crate::domain::post::{Headings, STORED_HEADINGS, render_markdown};
use migration::{BodyRenderer, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    RuntimeErr, SqlErr, TransactionTrait,
    sqlx::{
        self, Connection,
        postgres::{PgConnectOptions, PgConnection},
        sqlite::{SqliteJournalMode, SqliteSynchronous},
    },
};

use target::PostgresTarget;

/// Connections to a database server (PostgreSQL) an instance keeps at most:
/// four per CPU of the instance, at least 4 and at most 64. Each is a
/// server process that a query wakes: more connections means more processes
/// taking turns on the cores, fewer means fewer commits sharing a flush to
/// disk; four per CPU served page views and posts alike as well as the best
/// (bench/RESULTS.md has the measurements).
fn server_connections(cpus: usize) -> u32 {
    u32::try_from(cpus.saturating_mul(4)).map_or(64, |n| n.clamp(4, 64))
}

fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// How long a query waits for a connection to a database server. While the
/// server is unreachable, every query waits this long (the pool keeps trying
/// to connect) and then fails: the request is answered 503 within it.
const SERVER_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long the first connection at start-up may take before Tangerine says
/// that the server does not answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a pool on `url`, SQLite files created when missing, with SQLite's
/// `synchronous=NORMAL`: for tests and tools. The server opens through
/// [`open`], which explains what fails.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, SqliteSynchronous::Normal).await
}

/// The pool's options. SQLite files are created when missing and run in
/// WAL mode with a busy timeout, so that concurrent writers wait their turn
/// instead of failing with "database is locked".
fn pool_options(url: &str, synchronous: SqliteSynchronous) -> ConnectOptions {
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .record_stmt_in_spans(false)
        // Checking a connection on every acquire costs a round trip per
        // query; checking only those idle for a while still weeds out
        // connections a database server dropped.
        .test_before_acquire_if_idle_for(Duration::from_secs(30));
    if url.trim_start().starts_with("sqlite:") {
        // SQLite takes one writer at a time, and each sqlx connection is a
        // thread of its own: a few connections keep readers busy without
        // crowding a small machine's cores with threads. Its connections are
        // local files: waiting for one means waiting for other requests.
        options
            .acquire_timeout(Duration::from_secs(10))
            .max_connections(4)
            .min_connections(1)
            .map_sqlx_sqlite_opts(move |o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(synchronous)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
                    // Checkpoint every 8,000 pages (32 MiB of WAL) rather than
                    // SQLite's 1,000: a checkpoint writes each changed page once
                    // however often it changed, so under a stream of posts fewer,
                    // larger checkpoints cost less CPU per post. The file is cut back to
                    // 64 MiB after a checkpoint should a burst have grown it.
                    .pragma("wal_autocheckpoint", "8000")
                    .pragma("journal_size_limit", "67108864")
            });
    } else {
        options
            .acquire_timeout(SERVER_ACQUIRE_TIMEOUT)
            .max_connections(server_connections(available_cpus()))
            .min_connections(1);
    }
    options
}

async fn connect_with(
    url: &str,
    synchronous: SqliteSynchronous,
) -> Result<DatabaseConnection, DbErr> {
    let options = pool_options(url, synchronous);
    if url.trim_start().starts_with("sqlite:") {
        configure_sqlite();
        connect_sqlite(options).await
    } else {
        Database::connect(options).await
    }
}

/// Turns off SQLite's memory statistics, which Tangerine never reads, before
/// the library starts: with them on, every allocation SQLite makes takes a
/// process-wide mutex (one of SQLite's recommended options). Only possible
/// before the first connection opens; afterwards SQLite refuses, and the
/// statistics stay on.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use rusqlite::ffi;
        // SAFETY: `sqlite3_config` is SQLite's public interface for this; it
        // runs once, before this process opens a connection, and
        // SQLITE_CONFIG_MEMSTATUS takes one int.
        let rc = unsafe {
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, std::ffi::c_int::from(0u8))
        };
        if rc != ffi::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite was started before its memory statistics could be turned off"
            );
        }
    });
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
    let sqlx::Error::Database(e) = &**e else {
        return false;
    };
    e.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == SQLITE_BUSY)
}

/// What a command does when the SQLite file it names does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMissing {
    /// Create it (serving and migrating make a new database).
    Create,
    /// Say so and stop: a command that only reads or cleans must not leave
    /// an empty database behind a mistyped path.
    Refuse,
}

/// Why the database could not be opened, in one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "cannot connect to PostgreSQL at {server}: connection refused (is PostgreSQL running there?)"
    )]
    Refused { server: String },
    #[error("cannot connect to PostgreSQL at {server}: no answer within {} seconds", CONNECT_TIMEOUT.as_secs())]
    NoAnswer { server: String },
    #[error("cannot connect to PostgreSQL at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    #[error(
        "PostgreSQL at {server} has no database \"{database}\"; create it, for example with `createdb {database}`"
    )]
    NoDatabase { server: String, database: String },
    #[error("PostgreSQL at {server} refused the login: {reason}")]
    LoginRefused { server: String, reason: String },
    #[error("cannot open the SQLite database {}: the folder {} does not exist; create it, or choose another path with --database-url", file.display(), folder.display())]
    SqliteFolderMissing { file: PathBuf, folder: PathBuf },
    #[error("cannot create the SQLite database {}: the folder {} is not writable ({reason}); make it writable for this user, or choose another path with --database-url", file.display(), folder.display())]
    SqliteFolderNotWritable {
        file: PathBuf,
        folder: PathBuf,
        reason: String,
    },
    #[error("there is no SQLite database at {}; check --database-url (`tangerine migrate` creates a new one)", file.display())]
    SqliteMissing { file: PathBuf },
    #[error("cannot open the SQLite database {}: {reason}; check that it and the folder {} are readable and writable for this user", file.display(), folder.display())]
    SqliteUnopenable {
        file: PathBuf,
        folder: PathBuf,
        reason: String,
    },
    #[error("{} is not a SQLite database", file.display())]
    NotSqlite { file: PathBuf },
    #[error("cannot open the {target}: {reason}")]
    Other { target: String, reason: String },
}

/// Opens a pool on `url`, which names `target`, and explains what fails:
/// a PostgreSQL server that refuses or does not answer (within
/// [`CONNECT_TIMEOUT`]) or lacks the database, a SQLite file whose folder is
/// missing or not writable, or (with [`IfMissing::Refuse`]) that does not
/// exist.
pub async fn open(
    url: &str,
    target: &Target,
    synchronous: SqliteSynchronous,
    if_missing: IfMissing,
) -> Result<DatabaseConnection, OpenError> {
    let other = |e: DbErr| OpenError::Other {
        target: target.to_string(),
        reason: errors::describe(&e),
    };
    match target {
        Target::SqliteMemory => connect_with(url, synchronous).await.map_err(other),
        Target::SqliteFile(path) => {
            let file = target::absolute(path);
            let folder = file
                .parent()
                .map_or_else(|| PathBuf::from("/"), PathBuf::from);
            prepare_sqlite_file(&file, &folder, if_missing)?;
            connect_with(url, synchronous)
                .await
                .map_err(|e| sqlite_open_error(file, folder, &e))
        }
        Target::Postgres(pg) => {
            probe_postgres(url, pg).await?;
            connect_with(url, synchronous).await.map_err(other)
        }
    }
}

/// Checks the folder, and creates the (empty) file when it is missing and
/// may be created, so that what fails is named by the operating system's
/// own reason rather than SQLite's "unable to open database file".
fn prepare_sqlite_file(
    file: &std::path::Path,
    folder: &std::path::Path,
    if_missing: IfMissing,
) -> Result<(), OpenError> {
    if !folder.is_dir() {
        return Err(OpenError::SqliteFolderMissing {
            file: file.to_path_buf(),
            folder: folder.to_path_buf(),
        });
    }
    if file.exists() {
        return Ok(());
    }
    if if_missing == IfMissing::Refuse {
        return Err(OpenError::SqliteMissing {
            file: file.to_path_buf(),
        });
    }
    // An empty file is an empty SQLite database.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(OpenError::SqliteFolderNotWritable {
            file: file.to_path_buf(),
            folder: folder.to_path_buf(),
            reason: errors::describe_io(&e),
        }),
    }
}

fn sqlite_open_error(file: PathBuf, folder: PathBuf, err: &DbErr) -> OpenError {
    const SQLITE_NOTADB: i32 = 26;
    let code = match err {
        DbErr::Conn(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => match &**e
        {
            sqlx::Error::Database(e) => e.code().and_then(|c| c.parse::<i32>().ok()),
            _ => None,
        },
        _ => None,
    };
    match code {
        Some(code) if code & 0xff == SQLITE_NOTADB => OpenError::NotSqlite { file },
        _ => OpenError::SqliteUnopenable {
            file,
            folder,
            reason: errors::describe(err),
        },
    }
}

/// One connection of its own before the pool: the pool retries a refused
/// connection until its timeout and then reports only that it timed out.
async fn probe_postgres(url: &str, pg: &PostgresTarget) -> Result<(), OpenError> {
    let server = pg.server.clone();
    let options = PgConnectOptions::from_str(url).map_err(|e| OpenError::Other {
        target: format!("PostgreSQL database \"{}\" at {server}", pg.database),
        reason: errors::describe_sqlx(&e),
    })?;
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
        .await
        .map_err(|_| OpenError::NoAnswer {
            server: server.clone(),
        })?;
    match connected {
        Ok(connection) => {
            let _ = connection.close().await;
            Ok(())
        }
        Err(sqlx::Error::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(OpenError::Refused { server })
        }
        Err(sqlx::Error::Io(e)) => Err(OpenError::Unreachable {
            server,
            reason: errors::describe_io(&e),
        }),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
            Err(OpenError::NoDatabase {
                server,
                database: pg.database.clone(),
            })
        }
        Err(sqlx::Error::Database(e)) if e.code().is_some_and(|c| c.starts_with("28")) => {
            Err(OpenError::LoginRefused {
                server,
                reason: errors::describe_sqlx(&sqlx::Error::Database(e)),
            })
        }
        Err(e) => Err(OpenError::Unreachable {
            server,
            reason: errors::describe_sqlx(&e),
        }),
    }
}

/// The migrations, with the domain's Markdown renderer for those that
/// render stored bodies again.
type Migrator = migration::Migrator<StoredBodies>;

/// Post bodies as the domain renders them.
pub struct StoredBodies;

impl BodyRenderer for StoredBodies {
    fn stored_html(markdown: &str) -> String {
        render_markdown(markdown, STORED_HEADINGS)
    }

    fn headings_as_written(markdown: &str) -> String {
        render_markdown(markdown, Headings::AsWritten)
    }
}

/// Applies pending migrations in one transaction that holds a lock, so that
/// instances starting together against an empty database take turns: one
/// applies them, the others wait and find nothing left to do. Returns the
/// names of those it applied.
pub async fn migrate(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let txn = db.begin().await?;
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(7295318114402551)")
                .await?;
            let applied = pending_names(&txn).await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await?;
            Ok(applied)
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
            let applied = pending_names(&txn).await?;
            Migrator::up(&txn, None).await?;
            txn.execute_unprepared("DELETE FROM tangerine_migration_lock")
                .await?;
            txn.commit().await?;
            Ok(applied)
        }
        _ => {
            let applied = pending_names(db).await?;
            Migrator::up(db, None).await?;
            Ok(applied)
        }
    }
}

async fn pending_names(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    Ok(Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect())
}

/// The migrations not yet applied, found without writing anything.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    Ok(Migrator::get_pending_migrations_read_only(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect())
}

/// Whether the database answers at all.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.ping().await
}

pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

pub(crate) fn is_foreign_key_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(SqlErr::ForeignKeyConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use super::{scratch::ScratchDatabase, *};

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
        let file = ScratchDatabase::sqlite("wal");
        let db = connect(&file.url).await.unwrap();
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

    /// `--sqlite-synchronous` reaches every connection of the pool.
    #[tokio::test]
    async fn sqlite_synchronous_is_normal_or_full_as_asked() {
        for (synchronous, expected) in
            [(SqliteSynchronous::Normal, 1), (SqliteSynchronous::Full, 2)]
        {
            let file = ScratchDatabase::sqlite("synchronous");
            let db = connect_with(&file.url, synchronous).await.unwrap();
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    DatabaseBackend::Sqlite,
                    "PRAGMA synchronous",
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), expected);
            drop(db);
        }
    }

    /// Opening explains what fails, naming the folder or file.
    #[tokio::test]
    async fn opening_a_sqlite_file_names_what_is_missing() {
        let missing = Target::parse("sqlite:///nonexistent-17/board.db").unwrap();
        let err = open(
            "sqlite:///nonexistent-17/board.db",
            &missing,
            SqliteSynchronous::Normal,
            IfMissing::Create,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, OpenError::SqliteFolderMissing { .. }),
            "{err}"
        );

        let file = ScratchDatabase::sqlite("refused");
        let target = Target::parse(&file.url).unwrap();
        let err = open(
            &file.url,
            &target,
            SqliteSynchronous::Normal,
            IfMissing::Refuse,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, OpenError::SqliteMissing { .. }), "{err}");
        assert!(
            !file.sqlite_path().unwrap().exists(),
            "refusing created the file"
        );
    }

    /// Two connections to one new file: the first holds the write lock, the
    /// second (waiting for nothing) is refused with "database is locked".
    #[tokio::test]
    async fn a_locked_sqlite_file_is_recognised_and_other_errors_are_not() {
        let file = ScratchDatabase::sqlite("busy");
        let url = file.url.clone();
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

    #[tokio::test]
    async fn stored_bodies_are_rendered_again_with_their_headings_below_the_title_on_sqlite() {
        let file = ScratchDatabase::sqlite("headings");
        stored_bodies_are_rendered_again(&file.url).await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: set TEST_DATABASE_URL and pass --include-ignored (.ci/run does)"]
    async fn stored_bodies_are_rendered_again_with_their_headings_below_the_title_on_postgresql() {
        let scratch = ScratchDatabase::postgres().await;
        stored_bodies_are_rendered_again(&scratch.url).await;
    }

    /// Bodies stored before the headings moved (more than one batch of
    /// them) are rendered again by the migration, and back by its `down`.
    async fn stored_bodies_are_rendered_again(url: &str) {
        use crate::domain::Username;

        let db = connect(url).await.unwrap();
        let before_headings_moved = 8;
        Migrator::up(&db, Some(before_headings_moved))
            .await
            .unwrap();
        // The users table as it stood at migration 8 (no role yet).
        let author_id = uuid::Uuid::now_v7();
        let insert = sea_orm::sea_query::Query::insert()
            .into_table(sea_orm::sea_query::Alias::new("users"))
            .columns(
                [
                    "id",
                    "username",
                    "password_hash",
                    "created_at",
                    "credential_epoch",
                ]
                .map(sea_orm::sea_query::Alias::new),
            )
            .values_panic([
                author_id.into(),
                Username::parse("alice").unwrap().as_str().into(),
                "x".into(),
                chrono::Utc::now().into(),
                0i64.into(),
            ])
            .to_owned();
        db.execute(&insert).await.unwrap();
        let txn = db.begin().await.unwrap();
        let mut ids = Vec::new();
        for i in 0..501 {
            let body = format!("# Part {i}\n\n## Detail\n\nText.");
            let id = uuid::Uuid::now_v7();
            posts::insert(
                &txn,
                posts::NewPost {
                    id,
                    author_id,
                    title: "t",
                    body: &body,
                    body_html: &StoredBodies::headings_as_written(&body),
                    created_at: chrono::Utc::now(),
                },
            )
            .await
            .unwrap();
            ids.push(id);
        }
        txn.commit().await.unwrap();
        let html_of = |id| {
            let db = db.clone();
            async move { posts::find(&db, id).await.unwrap().unwrap().body_html }
        };
        assert!(html_of(ids[500]).await.starts_with("<h1>Part 500</h1>"));

        migrate(&db).await.unwrap();
        for &id in [ids[0], ids[499], ids[500]].iter() {
            let html = html_of(id).await;
            assert!(html.starts_with("<h2>Part "), "{html}");
            assert!(html.contains("<h3>Detail</h3>"), "{html}");
            assert!(!html.contains("<h1>"), "{html}");
        }

        // Down to just before the headings moved, whatever came after.
        let since = Migrator::migrations().len() as u32 - before_headings_moved;
        Migrator::down(&db, Some(since)).await.unwrap();
        assert!(html_of(ids[500]).await.starts_with("<h1>Part 500</h1>"));
        db.close().await.unwrap();
    }
}
