//! Tangerine's schema, one change per migration, each with its `down`.
//!
//! Written against sea-orm-migration 2.0 (`sea_orm_migration::schema` helpers,
//! `async_trait` still required on `MigrationTrait`). The `tangerine migrate`
//! subcommand is this crate's command line: the crate leaves out the `cli`
//! feature, which would pull in sea-orm-cli and a second clap.
//!
//! A migration that rewrites stored data with the application's own rules
//! (rendering posts' Markdown) gets them through [`BodyRenderer`], which the
//! application implements: this crate stays below the application and
//! cannot call into it.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_create_users;
mod m20261129_000002_create_sessions;
mod m20261129_000003_create_signing_keys;
mod m20261129_000004_create_posts;
mod m20261129_000005_add_sessions_remember;
mod m20261129_000006_create_login_failures;
mod m20261203_000007_add_credential_epochs;
mod m20261203_000008_create_rate_limits;
mod m20261204_000009_render_headings_below_titles;
mod m20261205_000010_add_roles_and_moderation;
mod m20261206_000011_add_emails_and_recovery;
mod m20261207_000012_create_api_tokens;

use std::marker::PhantomData;

/// How the application renders a post's Markdown body into the HTML it
/// stores, for migrations that render stored bodies again.
pub trait BodyRenderer: Send + Sync + 'static {
    /// The HTML the running build stores for `markdown`.
    fn stored_html(markdown: &str) -> String;
    /// The same with its headings at the levels written (`#` an `h1`), as
    /// bodies were stored before `m20261204_000009`.
    fn headings_as_written(markdown: &str) -> String;
}

/// Every migration, in order; `R` renders post bodies.
pub struct Migrator<R>(PhantomData<R>);

#[async_trait::async_trait]
impl<R: BodyRenderer> MigratorTrait for Migrator<R> {
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
            Box::new(m20261204_000009_render_headings_below_titles::Migration::<R>::new()),
            Box::new(m20261205_000010_add_roles_and_moderation::Migration),
            Box::new(m20261206_000011_add_emails_and_recovery::Migration),
            Box::new(m20261207_000012_create_api_tokens::Migration),
        ]
    }
}
