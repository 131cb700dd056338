//! Tangerine: a self-hosted posting board with server-side sessions.

pub mod accounts;
pub mod api;
pub mod client;
pub mod compress;
pub mod config;
pub mod cookies;
pub mod csrf;
pub mod db;
pub mod devices;
pub mod domain;
pub mod entities;
pub mod export;
pub mod failures;
pub mod mail;
pub mod middleware;
pub mod notices;
pub mod origin;
pub mod passwords;
pub mod posts;
pub mod recovery;
pub mod server;
pub mod session;
pub mod startup;
pub mod telemetry;
pub mod throttle;
pub mod web;

use anyhow::Context;

use crate::{
    config::{ConfigError, DatabaseSettings, Invocation, UserInvocation},
    db::{IfMissing, Target},
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
    Open(#[from] db::OpenError),
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
    /// Anything else (exit code 1).
    #[error("{}", telemetry::one_line(.0.as_ref()))]
    Other(#[from] anyhow::Error),
}

impl RunError {
    pub fn database(action: &'static str, target: &Target, err: &sea_orm::DbErr) -> Self {
        RunError::Database {
            action,
            target: target.to_string(),
            reason: db::errors::describe(err),
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
            let applied = db::migrate(&db)
                .await
                .map_err(|e| RunError::database("apply migrations", &target, &e))?;
            if applied.is_empty() {
                println!("no migrations pending");
            }
            for name in applied {
                println!("applied {name}");
            }
            Ok(())
        }
        Invocation::ClearSessions(database) => {
            let (target, db) = open(&database, IfMissing::Refuse).await?;
            let pending = db::pending_migrations(&db)
                .await
                .map_err(|e| RunError::database("read the applied migrations", &target, &e))?;
            if !pending.is_empty() {
                return Err(RunError::NotMigrated {
                    target: target.to_string(),
                    pending: pending.len(),
                });
            }
            let deleted = session::purge::purge_expired(&db)
                .await
                .map_err(|e| RunError::database("delete expired sessions", &target, &e))?;
            println!("{deleted}");
            Ok(())
        }
        Invocation::User(UserInvocation::ResetLink {
            name,
            base_url,
            lifetime,
            database,
        }) => {
            let (target, db) = open(&database, IfMissing::Refuse).await?;
            require_migrated(&db, &target).await?;
            let link = recovery::reset_link_for(&db, &name, &base_url, lifetime)
                .await
                .map_err(|e| match e {
                    recovery::ResetLinkError::NoSuchAccount(_) => {
                        RunError::Other(anyhow::anyhow!("{e}"))
                    }
                    recovery::ResetLinkError::Unexpected(e) => RunError::Other(e),
                })?;
            println!("{link}");
            Ok(())
        }
    }
}

/// Refuses to work on a schema older than this version's.
async fn require_migrated(
    db: &sea_orm::DatabaseConnection,
    target: &Target,
) -> Result<(), RunError> {
    let pending = db::pending_migrations(db)
        .await
        .map_err(|e| RunError::database("read the applied migrations", target, &e))?;
    if pending.is_empty() {
        Ok(())
    } else {
        Err(RunError::NotMigrated {
            target: target.to_string(),
            pending: pending.len(),
        })
    }
}

async fn open(
    database: &DatabaseSettings,
    if_missing: IfMissing,
) -> Result<(Target, sea_orm::DatabaseConnection), RunError> {
    let target = database.check()?;
    let db = db::open(
        database.database_url.expose(),
        &target,
        database.sqlite_synchronous.to_sqlx(),
        if_missing,
    )
    .await?;
    Ok((target, db))
}
