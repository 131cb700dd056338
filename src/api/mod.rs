//! The JSON API under `/api`, described by OpenAPI (`/api/openapi.json`)
//! with an explorer (`/api/docs`), on the same sessions as the pages.

pub mod auth;
pub mod error;
pub mod objects;
pub mod posts;
pub mod recovery;
pub mod session;
pub mod sessions;
pub mod users;

use std::sync::{Arc, OnceLock};

use anyhow::Context;
use poem::{
    Endpoint, EndpointExt, IntoResponse, Response, Route, get, handler,
    http::{HeaderValue, header},
    web::Data,
};
use poem_openapi::{OpenApiService, Tags};

/// The explorer page inlines Swagger UI's script and styles, so it gets a
/// policy of its own; every other page keeps the strict one.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[derive(Tags)]
pub enum ApiTags {
    /// Logging in and out, the CSRF token, who is logged in, their
    /// sessions and their password.
    Session,
    /// Signing up, and people with their posts.
    Users,
    /// Everyone's posts.
    Posts,
}

type Api = (
    session::SessionApi,
    sessions::SessionsApi,
    users::UsersApi,
    posts::PostsApi,
    recovery::RecoveryApi,
);

fn service() -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (
            session::SessionApi,
            sessions::SessionsApi,
            users::UsersApi,
            posts::PostsApi,
            recovery::RecoveryApi,
        ),
        "Tangerine",
        env!("CARGO_PKG_VERSION"),
    )
    .summary("A self-hosted posting board")
    .description(
        "The JSON API of Tangerine. It uses the same sessions as the pages: log in \
         with `POST /api/session` (or in the browser) and the session cookie \
         authenticates both. Calls that change something also need the \
         `X-CSRF-Token` header, from `GET /api/session/csrf`. Errors are always \
         `{\"error\": code, \"message\": text}`.",
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
    serde_json::to_string_pretty(&spec).context("Failed to write the spec")
}

/// What `/api/openapi.json` and `/api/docs` serve: the spec made at
/// start-up, the explorer page (1.6 MB of inlined Swagger UI) on its first
/// visit, so that an instance nobody explores never holds it.
#[derive(Clone)]
pub struct Docs {
    spec: Arc<str>,
    explorer: Arc<OnceLock<String>>,
}

impl Docs {
    pub fn new(cookie_name: &str) -> anyhow::Result<Self> {
        Ok(Self {
            spec: spec_json(cookie_name)?.into(),
            explorer: Arc::default(),
        })
    }

    fn explorer(&self) -> &str {
        self.explorer.get_or_init(|| {
            let generated = service();
            // The page embeds the generated spec; give it the served one.
            generated
                .swagger_ui_html()
                .replacen(&generated.spec(), &self.spec, 1)
        })
    }
}

#[handler]
fn openapi_json(Data(docs): Data<&Docs>) -> Response {
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(docs.spec.to_string())
}

#[handler]
fn docs_page(Data(docs): Data<&Docs>) -> Response {
    let mut resp = poem::web::Html(docs.explorer().to_owned()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOCS_CSP),
    );
    resp
}

/// Everything under `/api`.
pub fn routes(docs: Docs) -> impl Endpoint {
    let route = Route::new()
        .at("/openapi.json", get(openapi_json))
        .at("/docs", get(docs_page));
    #[cfg(feature = "test-routes")]
    let route = route.at("/test/panic", get(test_panic));
    route.nest("/", service()).with(error::ApiErrors).data(docs)
}

/// Panics, so that the tests can see a panic in the API answered with its
/// JSON error. Compiled only with the `test-routes` feature (`cargo test`).
#[cfg(feature = "test-routes")]
#[handler]
fn test_panic() -> &'static str {
    panic!("a deliberate panic for the tests, in the API")
}
