//! The HTTP skins and what they share: the pages (`web`), the JSON API
//! (`api`), and the cross-cutting pieces both use — the session layer,
//! cookies, CSRF, the client's address, middleware, compression and the
//! accept loop with its deadlines.

pub mod api;
pub mod client;
pub mod compress;
pub mod cookies;
pub mod csrf;
pub mod devices;
pub mod failures;
pub mod middleware;
pub mod origin;
pub mod server;
pub mod session;
pub mod web;
