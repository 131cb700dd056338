//! Black-box tests: each starts the real application on a random port with a
//! fresh database (SQLite, or PostgreSQL when `TEST_DATABASE_URL` is set) and
//! talks to it over HTTP like a browser would.

mod helpers;

mod accessibility;
mod account_deletion;
mod accounts;
mod admin;
mod api;
mod cli;
mod cli_users;
mod compression;
mod connections;
mod devices;
mod email;
mod explorer;
mod failures;
mod inputs;
mod instances;
mod logins;
mod markdown;
mod migrations;
mod moderation;
mod pages;
mod password;
mod posting;
mod posts;
mod recovery;
mod security;
mod sessions;
mod throttle;
mod tokens;
