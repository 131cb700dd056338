//! SeaORM entities: the shape of each table, and nothing else.
//!
//! Written in SeaORM 2's compact format (`DeriveEntityModel` + `Relation`).
//! A `Model` is never a form or a JSON body; `db/` turns rows into domain values.

pub mod account_tokens;
pub mod api_tokens;
pub mod invites;
pub mod moderation_log;
pub mod posts;
pub mod rate_limits;
pub mod reports;
pub mod sessions;
pub mod signing_keys;
pub mod users;
