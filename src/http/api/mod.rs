//! The JSON API under `/api`, described by OpenAPI (`/api/openapi.json`)
//! with an explorer (`/api/docs`), on the same sessions as the pages.

pub mod admin;
pub mod auth;
pub mod error;
pub mod objects;
pub mod posts;
pub mod recovery;
pub mod session;
pub mod sessions;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use anyhow::Context;
use poem::{Endpoint, EndpointExt, Response, Route, get, handler, http::header, web::Data};
use poem_openapi::{OpenApiService, Tags};

use crate::state::AppState;
use error::ApiError;

#[derive(Tags)]
pub enum ApiTags {
    /// Logging in and out, the CSRF token, who is logged in, their
    /// sessions and their password.
    Session,
    /// Signing up, and people with their posts.
    Users,
    /// Everyone's posts.
    Posts,
    /// Moderators' and admins' powers: people, suspension, roles, removing
    /// posts, reports and the moderation log. Each operation names the roles
    /// it needs; anyone else gets 403.
    Admin,
    /// Personal access tokens, for scripts (managed with the session cookie only).
    Tokens,
}

type Api = (
    session::SessionApi,
    sessions::SessionsApi,
    tokens::TokensApi,
    users::UsersApi,
    posts::PostsApi,
    recovery::RecoveryApi,
    admin::AdminApi,
);

fn service() -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (
            session::SessionApi,
            sessions::SessionsApi,
            tokens::TokensApi,
            users::UsersApi,
            posts::PostsApi,
            recovery::RecoveryApi,
            admin::AdminApi,
        ),
        "Tangerine",
        env!("CARGO_PKG_VERSION"),
    )
    .summary("A self-hosted posting board")
    .description(
        "The JSON API of Tangerine. Two ways to authenticate. A personal access \
         token (made at `/settings/tokens`), sent as `Authorization: Bearer tgr_…`: \
         no cookie, no CSRF header; a `read` token may call every reading \
         operation, a `write` token everything but managing tokens, sessions and \
         the password, and deleting the account. Or the same session cookie as the pages: log in with \
         `POST /api/session` (or in the browser); calls that change something then \
         also need the `X-CSRF-Token` header, from `GET /api/session/csrf` (this \
         explorer adds it by itself). Errors are always \
         `{\"error\": code, \"message\": text}`, with `code` from the vocabulary \
         in the README; every JSON answer ends with a newline.",
    )
    .server("/api")
}

/// The spec as served: the generated one, with the session cookie's real
/// name (which depends on `--secure-cookies`, known only at start-up).
pub fn spec_json(cookie_name: &str) -> anyhow::Result<String> {
    let mut spec: serde_json::Value =
        serde_json::from_str(&service().spec()).context("Failed to read the generated spec")?;
    if let Some(scheme) = spec.pointer_mut(&format!(
        "/components/securitySchemes/{}",
        auth::SESSION_SCHEME
    )) {
        scheme["name"] = cookie_name.into();
    }
    add_error_examples(&mut spec);
    serde_json::to_string_pretty(&spec).context("Failed to write the spec")
}

/// Gives every declared error answer an example of its own kind (see
/// [`error::example`]): poem-openapi's responses carry only the schema,
/// whose one example would otherwise stand for every status.
fn add_error_examples(spec: &mut serde_json::Value) {
    let Some(paths) = spec.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for item in paths.values_mut().filter_map(|i| i.as_object_mut()) {
        for op in item.values_mut() {
            let operation = op["operationId"].as_str().unwrap_or_default().to_owned();
            let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                let Ok(status) = status.parse::<u16>() else {
                    continue;
                };
                if status < 400 {
                    continue;
                }
                let body = error::example(status, &operation);
                if let Some(content) = response.get_mut("content").and_then(|c| c.as_object_mut()) {
                    for media in content.values_mut() {
                        media["example"] = serde_json::json!({
                            "error": body.error,
                            "message": body.message,
                        });
                    }
                }
            }
        }
    }
}

/// What `/api/openapi.json` serves: the spec made at start-up.
#[derive(Clone)]
pub struct Docs {
    spec: Arc<str>,
}

impl Docs {
    pub fn new(cookie_name: &str) -> anyhow::Result<Self> {
        let mut spec = spec_json(cookie_name)?;
        spec.push('\n');
        Ok(Self { spec: spec.into() })
    }
}

#[handler]
fn openapi_json(Data(docs): Data<&Docs>) -> Response {
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(docs.spec.to_string())
}

const EXPLORER: &str = "pages/api/docs.html";

/// The explorer: Swagger UI's page, from a template, with its script and
/// styles as ordinary assets (`/api/docs/…`), under the site's strict
/// Content-Security-Policy like every other page.
#[handler]
fn docs_page(Data(state): Data<&AppState>) -> poem::Result<Response> {
    let html = state
        .templates
        .render(EXPLORER, minijinja::context! {})
        .map_err(|e| {
            ApiError::internal(anyhow::Error::new(e).context("Failed to render the explorer"))
        })?;
    Ok(Response::builder()
        .content_type("text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(html))
}

/// Everything under `/api`.
pub fn routes(docs: Docs) -> impl Endpoint {
    let route = Route::new()
        .at("/openapi.json", get(openapi_json))
        .at("/docs", get(docs_page))
        .at("/docs/", get(docs_page));
    #[cfg(feature = "test-routes")]
    let route = route.at("/test/panic", get(test_panic));
    route
        .nest("/", service())
        .with(auth::BearerTokens)
        .with(error::ApiErrors)
        .data(docs)
}

/// Panics, so that the tests can see a panic in the API answered with its
/// JSON error. Compiled only with the `test-routes` feature (`cargo test`).
#[cfg(feature = "test-routes")]
#[handler]
fn test_panic() -> &'static str {
    panic!("a deliberate panic for the tests, in the API")
}
