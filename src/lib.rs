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
pub mod middleware;
pub mod origin;
pub mod passwords;
pub mod posts;
pub mod server;
pub mod session;
pub mod startup;
pub mod telemetry;
pub mod throttle;
pub mod web;

use anyhow::Context;

use crate::config::{Cli, Command};

/// Runs the command the command line asked for.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let shutdown =
                startup::shutdown_signal().context("Failed to listen for shutdown signals")?;
            let app = startup::Application::build(settings).await?;
            app.run_until(shutdown).await
        }
        Command::Migrate => {
            let db = db::connect(&settings.database_url).await.with_context(|| {
                format!("Failed to connect to {}", settings.database_url_for_logs())
            })?;
            db::migrate(&db)
                .await
                .context("Failed to apply migrations")?;
            println!("migrations applied");
            Ok(())
        }
        Command::ClearSessions => {
            let db = db::connect(&settings.database_url).await.with_context(|| {
                format!("Failed to connect to {}", settings.database_url_for_logs())
            })?;
            db::migrate(&db)
                .await
                .context("Failed to apply migrations")?;
            let deleted = session::purge::purge_expired(&db)
                .await
                .context("Failed to delete expired sessions")?;
            println!("{deleted}");
            Ok(())
        }
    }
}
