//! Tangerine's schema, one change per migration, each with its `down`.
//!
//! Written against sea-orm-migration 2.0 (`sea_orm_migration::schema` helpers,
//! `async_trait` still required on `MigrationTrait`). The `tangerine migrate`
//! subcommand is this crate's command line: the crate leaves out the `cli`
//! feature, which would pull in sea-orm-cli and a second clap.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_create_users;
mod m20261129_000002_create_sessions;
mod m20261129_000003_create_signing_keys;
mod m20261129_000004_create_posts;
mod m20261129_000005_add_sessions_remember;
mod m20261129_000006_create_login_failures;
mod m20261203_000007_add_credential_epochs;
mod m20261203_000008_create_rate_limits;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_users::Migration),
            Box::new(m20261129_000002_create_sessions::Migration),
            Box::new(m20261129_000003_create_signing_keys::Migration),
            Box::new(m20261129_000004_create_posts::Migration),
            Box::new(m20261129_000005_add_sessions_remember::Migration),
            Box::new(m20261129_000006_create_login_failures::Migration),
            Box::new(m20261203_000007_add_credential_epochs::Migration),
            Box::new(m20261203_000008_create_rate_limits::Migration),
        ]
    }
}
