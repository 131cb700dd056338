//! Tangerine: a self-hosted posting board with server-side sessions.

pub mod cli_users;
pub mod config;
pub mod domain;
pub mod entities;
pub mod http;
pub mod services;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;

use anyhow::Context;

use crate::{
    config::{ConfigError, DatabaseSettings, Invocation},
    store::{IfMissing, Target},
};

/// Why a command stopped, in one line; the exit code says which kind.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration cannot work: nothing was touched (exit code 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The socket could not be bound (exit code 1).
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    /// The database could not be opened (exit code 1).
    #[error(transparent)]
    Open(#[from] store::OpenError),
    /// A statement failed (exit code 1).
    #[error("cannot {action} in the {target}: {reason}")]
    Database {
        action: &'static str,
        target: String,
        reason: String,
    },
    /// A command that only cleans up found a schema older than this version's.
    #[error(
        "the {target} lacks {pending} of this version's migrations; run `tangerine migrate` first"
    )]
    NotMigrated { target: String, pending: usize },
    /// A `tangerine user` command was refused: an unknown user, the last
    /// admin (exit code 1).
    #[error("{0}")]
    Refused(String),
    /// Anything else (exit code 1).
    #[error("{}", telemetry::one_line(.0.as_ref()))]
    Other(#[from] anyhow::Error),
}

impl RunError {
    pub fn database(action: &'static str, target: &Target, err: &sea_orm::DbErr) -> Self {
        RunError::Database {
            action,
            target: target.to_string(),
            reason: store::errors::describe(err),
        }
    }

    /// 2 for a configuration that cannot work, as for a flag clap refuses;
    /// 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Config(_) => 2,
            _ => 1,
        }
    }
}

/// Runs what the command line asked for.
pub async fn run(invocation: Invocation) -> Result<(), RunError> {
    match invocation {
        Invocation::Serve(settings) => {
            let shutdown =
                startup::shutdown_signal().context("Failed to listen for shutdown signals")?;
            let app = startup::Application::build(*settings).await?;
            Ok(app.run_until(shutdown).await?)
        }
        Invocation::Migrate(database) => {
            let (target, db) = open(&database, IfMissing::Create).await?;
            let applied = migrate(&db, &target).await?;
            if applied.is_empty() {
                println!("no migrations pending");
            }
            for name in applied {
                println!("applied {name}");
            }
            Ok(())
        }
        Invocation::User(command, database, rules) => {
            let (target, db) = open(&database, IfMissing::Create).await?;
            migrate(&db, &target).await?;
            cli_users::run(command, db, rules).await
        }
        Invocation::ClearSessions(database) => {
            let (target, db) = open(&database, IfMissing::Refuse).await?;
            let pending = store::pending_migrations(&db)
                .await
                .map_err(|e| RunError::database("read the applied migrations", &target, &e))?;
            if !pending.is_empty() {
                return Err(RunError::NotMigrated {
                    target: target.to_string(),
                    pending: pending.len(),
                });
            }
            let deleted = services::sessions::purge::purge_expired(&store::Store::through_pool(db))
                .await
                .map_err(|e| RunError::database("delete expired sessions", &target, &e))?;
            println!("{deleted}");
            Ok(())
        }
    }
}

async fn open(
    database: &DatabaseSettings,
    if_missing: IfMissing,
) -> Result<(Target, sea_orm::DatabaseConnection), RunError> {
    let target = database.check()?;
    let db = open_checked(database, &target, if_missing).await?;
    Ok((target, db))
}

/// Opens the database `database` names (`target`, checked already).
async fn open_checked(
    database: &DatabaseSettings,
    target: &Target,
    if_missing: IfMissing,
) -> Result<sea_orm::DatabaseConnection, RunError> {
    Ok(store::open(
        database.database_url.expose(),
        target,
        database.sqlite_synchronous.to_sqlx(),
        if_missing,
    )
    .await?)
}

/// Applies the pending migrations to `db`; returns their names.
async fn migrate(
    db: &sea_orm::DatabaseConnection,
    target: &Target,
) -> Result<Vec<String>, RunError> {
    store::migrate(db)
        .await
        .map_err(|e| RunError::database("apply migrations", target, &e))
}
