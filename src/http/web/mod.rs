//! The HTML side of Tangerine: handlers per resource, the renderer, htmx
//! helpers, and the middleware that only pages need.

pub mod account;
pub mod accounts;
pub mod admin;
pub mod assets;
pub mod auth;
pub mod cards;
pub mod csrf_guard;
pub mod error;
pub mod format;
pub mod health;
pub mod home;
pub mod htmx;
pub mod posts;
pub mod recovery;
pub mod render;
pub mod result;
pub mod sessions;
pub mod settings;
pub mod templates;
pub mod tokens;

use poem::{Endpoint, EndpointExt, Route};

use crate::http::middleware::BodyLimit;

/// Every page and form. Errors become themed pages; state changes need the
/// CSRF token; bodies are bounded.
pub fn routes() -> impl Endpoint {
    let route = Route::new();
    let route = home::routes(route);
    let route = accounts::routes(route);
    let route = posts::routes(route);
    let route = sessions::routes(route);
    let route = settings::routes(route);
    let route = admin::routes(route);
    let route = tokens::routes(route);
    let route = account::routes(route);
    let route = recovery::routes(route);
    #[cfg(feature = "test-routes")]
    let route = route.at("/test/panic", poem::get(test_panic));
    route
        .with(csrf_guard::CsrfGuard)
        .with(BodyLimit)
        .with(error::ErrorPages)
}

/// Panics, so that the tests can see a panic answered like any failure.
/// Compiled only with the `test-routes` feature, which `cargo test` turns on.
/// The message holds a URL with a password, which the log must star.
#[cfg(feature = "test-routes")]
#[poem::handler]
fn test_panic() -> &'static str {
    panic!("a deliberate panic for the tests, near postgres://tester:panic-secret@db/x")
}
