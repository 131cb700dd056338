//! What handlers receive: the use cases, the settings and the renderer, in
//! one value. The routes are given it whole (`startup` adds it once, above
//! every route), so no piece of it can be missing when a handler runs.

use std::sync::Arc;

use crate::{
    config::Settings,
    http::web::{cards::Cards, templates::Templates},
    services::{
        accounts::Accounts, moderation::Moderation, posts::Posts, recovery::Recovery,
        sessions::Sessions, tokens::Tokens,
    },
};

#[derive(Clone)]
pub struct AppState {
    /// Posts: writing, editing, deleting and reading them.
    pub posts: Posts,
    /// Sessions as a person lists them.
    pub sessions: Sessions,
    /// What staff do: roles, suspensions, removals, reports, invites, the log.
    pub moderation: Moderation,
    /// Personal access tokens, and the check of a bearer token.
    pub tokens: Tokens,
    /// Email addresses, password resets, notices, export and deletion.
    pub recovery: Recovery,
    /// Sign-up, login and password changes, with the hasher and the throttle.
    pub accounts: Accounts,
    pub settings: Arc<Settings>,
    /// The pages' templates.
    pub templates: Arc<Templates>,
    /// Rendered posts, kept for the pages.
    pub cards: Arc<Cards>,
}
