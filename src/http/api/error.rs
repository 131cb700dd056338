//! The API's one error shape, `{"error": "<code>", "message": "<human text>"}`,
//! how each operation declares the statuses it may answer with it, and the
//! one place where every error under `/api` becomes that shape.

use std::marker::PhantomData;

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    error::{MethodNotAllowedError, NotFoundError, ResponseError},
    http::StatusCode,
};
use poem_openapi::{
    ApiResponse, Object,
    error::{ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError},
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::{ToJSON, Type},
};

use crate::{
    http::middleware::{
        BodyTimedOut, BodyTooLarge, RETRY_AFTER_SECS, ServerFailure, read_bounded_body,
    },
    http::origin,
    state::AppState,
};

/// The body of every error answer.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct ErrorBody {
    /// A stable, machine-readable code such as `not_found` or `csrf_failed`.
    pub error: String,
    /// A sentence for people.
    pub message: String,
}

impl poem_openapi::types::Example for ErrorBody {
    fn example() -> Self {
        Self {
            error: "not_found".into(),
            message: "There is no such post.".into(),
        }
    }
}

/// An error answer: status, code and message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds after which a refused request may be tried again (429, 503).
    pub retry_after: Option<u64>,
    /// What failed on the server's side, for the request's log line.
    pub failure: Option<ServerFailure>,
    /// The `WWW-Authenticate` challenge of a refused bearer token.
    pub challenge: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            failure: None,
            challenge: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: nobody is logged in (no live session, no token).
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Log in first, or send a token as `Authorization: Bearer tgr_…`.",
        )
    }

    /// 401 with `WWW-Authenticate`: the bearer token is malformed, unknown,
    /// revoked or expired.
    pub fn invalid_token() -> Self {
        Self {
            challenge: Some(r#"Bearer error="invalid_token""#),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "The token is not valid: it is malformed, unknown, revoked or expired.",
            )
        }
    }

    /// 403 with `WWW-Authenticate`: the token may not do this; `need` is
    /// the scope that may (none: only the session cookie may).
    pub fn insufficient_scope(need: Option<crate::domain::token::Scope>) -> Self {
        let message = match need {
            Some(scope) => format!("This needs a token with the scope `{}`.", scope.as_str()),
            None => "Tokens cannot manage tokens, sessions or the password, nor log in or out: \
                     use the session cookie."
                .to_owned(),
        };
        Self {
            challenge: Some(r#"Bearer error="insufficient_scope""#),
            ..Self::new(StatusCode::FORBIDDEN, "insufficient_scope", message)
        }
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    /// 503 with `Retry-After`: too many passwords are waiting to be checked.
    pub fn busy() -> Self {
        Self {
            retry_after: Some(crate::services::accounts::BUSY_RETRY_AFTER.as_secs()),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                crate::services::accounts::BUSY,
            )
        }
    }

    /// 422 for a new password that breaks a rule, with the rule's code.
    pub fn password(rule: crate::domain::PasswordError) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            rule.code(),
            rule.to_string(),
        )
    }

    /// 429 with `Retry-After`: too many accounts from this address lately.
    pub fn too_many_signups(retry_after: std::time::Duration) -> Self {
        Self {
            retry_after: Some(retry_after.as_secs()),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                crate::services::accounts::signup_throttled_message(retry_after),
            )
        }
    }

    /// 429 with `Retry-After`: too many failed logins lately.
    pub fn too_many_failures(retry_after: std::time::Duration) -> Self {
        Self {
            retry_after: Some(retry_after.as_secs()),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_failures",
                crate::services::accounts::throttled_message(retry_after),
            )
        }
    }

    /// The unexpected: answered without its cause, which the request's log
    /// line tells; 503 `unavailable` when the database cannot be reached.
    pub fn internal(cause: anyhow::Error) -> Self {
        Self::failure(ServerFailure::of(cause.as_ref()))
    }

    /// The answer to a failure on the server's side: 503 `unavailable` with
    /// `Retry-After`, or 500 `internal`.
    pub fn failure(failure: ServerFailure) -> Self {
        let mut error = match failure {
            ServerFailure::Unavailable(_) => Self {
                retry_after: Some(RETRY_AFTER_SECS),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "The database cannot be reached at the moment. Please try again in a few seconds.",
                )
            },
            ServerFailure::Internal(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side. Please try again.",
            ),
        };
        error.failure = Some(failure);
        error
    }

    fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.to_owned(),
            message: self.message.clone(),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::internal(e)
    }
}

impl From<crate::http::session::SessionError> for ApiError {
    fn from(e: crate::http::session::SessionError) -> Self {
        ApiError::internal(anyhow::Error::new(e))
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        let mut body = self
            .body()
            .to_json()
            .map(|v| v.to_string())
            .unwrap_or_default();
        body.push('\n');
        let mut resp = Response::builder()
            .status(self.status)
            .content_type("application/json; charset=utf-8")
            .body(body);
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(
                poem::http::header::RETRY_AFTER,
                poem::http::HeaderValue::from(secs),
            );
        }
        if let Some(challenge) = self.challenge {
            resp.headers_mut().insert(
                poem::http::header::WWW_AUTHENTICATE,
                poem::http::HeaderValue::from_static(challenge),
            );
        }
        if let Some(failure) = &self.failure {
            failure.mark(&mut resp);
        }
        resp
    }
}

/// The error statuses an operation declares in the spec.
pub trait ErrorSet: Send + Sync + 'static {
    const STATUSES: &'static [u16];
}

/// The errors of one operation: any [`ApiError`] at run time, and in the spec
/// the statuses of `S` and 503, each with [`ErrorBody`].
pub struct Errors<S: ErrorSet>(pub ApiError, PhantomData<S>);

impl<S: ErrorSet> From<ApiError> for Errors<S> {
    fn from(e: ApiError) -> Self {
        Errors(e, PhantomData)
    }
}

impl<S: ErrorSet> From<anyhow::Error> for Errors<S> {
    fn from(e: anyhow::Error) -> Self {
        ApiError::internal(e).into()
    }
}

impl<S: ErrorSet> From<Errors<S>> for poem::Error {
    fn from(e: Errors<S>) -> Self {
        e.0.into()
    }
}

fn describe(status: u16) -> &'static str {
    match status {
        400 => "Malformed: the JSON, a parameter or a cursor could not be read.",
        401 => {
            "Not logged in: no live session and no token (`unauthenticated`); or a bearer \
                token that is malformed, unknown, revoked or expired (`invalid_token`, with \
                `WWW-Authenticate: Bearer error=\"invalid_token\"`)."
        }
        403 => {
            "Refused: a missing or wrong `X-CSRF-Token` with the session cookie, a change \
                requested by another site's page, a token without the scope \
                (`insufficient_scope`), or not yours to change."
        }
        404 => "There is no such thing.",
        409 => "Conflict: the username is taken.",
        413 => "The request body is larger than 256 KiB.",
        415 => "The request body is not `application/json`.",
        422 => {
            "The JSON is well-formed but breaks a rule of the schema (for a new password: \
                `password_too_short`, `password_too_long`, `password_too_common`, \
                `password_too_similar`, `password_all_digits` or `password_unchanged`)."
        }
        429 => {
            "Too many attempts (failed logins or token checks, sign-ups from one address, \
                posts written or edited by one account): wait for `Retry-After` seconds."
        }
        503 => {
            "Unavailable for now (the database cannot be reached, or too many passwords are \
                being checked): wait for `Retry-After` seconds."
        }
        _ => "Error.",
    }
}

impl<S: ErrorSet> ApiResponse for Errors<S> {
    fn meta() -> MetaResponses {
        // Any operation may meet a bad bearer token (401), an address with
        // too many failed token checks (429), and a database that cannot be
        // reached (503).
        let mut statuses = S::STATUSES.to_vec();
        for always in [401, 429, 503] {
            if !statuses.contains(&always) {
                statuses.push(always);
            }
        }
        statuses.sort_unstable();
        MetaResponses {
            responses: statuses
                .into_iter()
                .map(|status| MetaResponse {
                    description: describe(status),
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json; charset=utf-8",
                        schema: ErrorBody::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        ErrorBody::register(registry);
    }
}

/// Declares error sets: `error_set!(Name = [401, 404]);`
macro_rules! error_set {
    ($($(#[$doc:meta])* $name:ident = [$($status:literal),* $(,)?];)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl $crate::http::api::error::ErrorSet for $name {
            const STATUSES: &'static [u16] = &[$($status),*];
        }
    )*};
}
pub(crate) use error_set;

/// Turns every error under `/api` into the JSON shape, never an HTML page.
/// Before anything else it refuses state changes that another site's page
/// made (403, see `origin`); it also bounds the body (413), and keeps a copy
/// of it to tell malformed JSON (400) from JSON that breaks a rule of the
/// schema (422).
pub struct ApiErrors;

impl<E: Endpoint> Middleware<E> for ApiErrors {
    type Output = ApiErrorsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ApiErrorsEndpoint(inner)
    }
}

pub struct ApiErrorsEndpoint<E>(E);

impl<E: Endpoint> Endpoint for ApiErrorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        if !req.method().is_safe() {
            let settings = req.data::<AppState>().map(|s| &s.settings);
            let cross_site = settings
                .is_none_or(|s| origin::is_cross_site(&req, s.trust_proxy, s.secure_cookies));
            if cross_site {
                return Ok(ApiError::forbidden("csrf_failed", origin::REFUSED).as_response());
            }
        }
        let body = match read_bounded_body(&mut req).await {
            Ok(body) => body,
            Err(err) => return Ok(to_api_error(err, &[]).as_response()),
        };
        match self.0.call(req).await {
            Ok(resp) => Ok(with_final_newline(resp.into_response()).await),
            Err(err) => Ok(to_api_error(err, &body).as_response()),
        }
    }
}

/// A JSON answer that ends with a newline, so that `curl` output does not
/// run into the shell's prompt. poem-openapi writes its payloads without one.
async fn with_final_newline(resp: Response) -> Response {
    let is_json = resp
        .headers()
        .get(poem::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    match body.into_vec().await {
        Ok(mut bytes) => {
            if bytes.last() != Some(&b'\n') {
                bytes.push(b'\n');
            }
            Response::from_parts(parts, poem::Body::from_vec(bytes))
        }
        Err(e) => ApiError::internal(anyhow::Error::new(e).context("Failed to read a JSON answer"))
            .as_response(),
    }
}

fn to_api_error(err: poem::Error, body: &[u8]) -> ApiError {
    if let Some(api) = err.downcast_ref::<ApiError>() {
        return api.clone();
    }
    if err.is::<BodyTooLarge>() {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            BodyTooLarge.to_string(),
        );
    }
    if err.is::<BodyTimedOut>() {
        return ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            BodyTimedOut.to_string(),
        );
    }
    if err.is::<ContentTypeError>() {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as application/json.",
        );
    }
    if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        let well_formed =
            !body.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
        return if well_formed {
            ApiError::unprocessable(e.reason.clone())
        } else {
            ApiError::bad_request(
                "malformed_json",
                format!("The body is not valid JSON: {}", e.reason),
            )
        };
    }
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        return ApiError::bad_request(
            "bad_parameter",
            format!("Parameter `{}`: {}", e.name, e.reason),
        );
    }
    if err.is::<ParsePathError>() || err.is::<NotFoundError>() {
        return ApiError::not_found("There is nothing at this address.");
    }
    if err.is::<MethodNotAllowedError>() {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "That method is not allowed here.",
        );
    }
    let status = err.status();
    if status.is_server_error() {
        return ApiError::failure(ServerFailure::of(&err));
    }
    ApiError::new(
        status,
        kind(status.as_u16()),
        status.canonical_reason().unwrap_or("The request failed."),
    )
}

/// The vocabulary's code for an error of `status` that has no more precise one.
fn kind(status: u16) -> &'static str {
    match status {
        400 => "bad_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        413 => "too_large",
        415 => "unsupported_media_type",
        422 => "invalid",
        429 => "too_many_requests",
        503 => "unavailable",
        _ => "error",
    }
}

/// The example of an error answer, for the spec: one kind per status, from
/// the vocabulary below, narrowed to the code that `operation` really
/// answers with where it has a more precise one.
///
/// | status | code (kind) | more precise codes |
/// |---|---|---|
/// | 400 | `bad_request` | `malformed_json`, `bad_parameter`, `bad_cursor` |
/// | 401 | `unauthenticated` | `invalid_token`, `bad_credentials` |
/// | 403 | `forbidden` | `csrf_failed`, `csrf_missing`, `insufficient_scope`, `suspended`, `not_yours` |
/// | 404 | `not_found` | |
/// | 409 | `conflict` | `username_taken`, `too_many_tokens` |
/// | 413 | `too_large` | |
/// | 415 | `unsupported_media_type` | |
/// | 422 | `invalid` | `password_too_short`, `password_too_long`, `password_too_common`, `password_too_similar`, `password_all_digits`, `password_unchanged` |
/// | 429 | `too_many_requests` | `too_many_failures`, `too_many_posts` |
/// | 503 | `unavailable` | |
pub fn example(status: u16, operation: &str) -> ErrorBody {
    let (error, message): (&str, String) = match (status, operation) {
        (400, "list_posts" | "list_user_posts") => (
            "bad_cursor",
            "`before` is not a cursor this API gave.".into(),
        ),
        (400, _) => (
            "malformed_json",
            "The body is not valid JSON: expected value at line 1 column 1".into(),
        ),
        (401, "login") => (
            "bad_credentials",
            crate::services::accounts::BAD_CREDENTIALS.into(),
        ),
        (
            401,
            "list_posts" | "get_post" | "get_user" | "list_user_posts" | "sign_up" | "csrf_token",
        ) => ("invalid_token", ApiError::invalid_token().message),
        (401, _) => ("unauthenticated", ApiError::unauthenticated().message),
        (403, "login" | "sign_up" | "list_tokens") => (
            "insufficient_scope",
            ApiError::insufficient_scope(None).message,
        ),
        (403, "update_post" | "delete_post") => {
            ("not_yours", "Only its author can change this post.".into())
        }
        (403, _) => (
            "csrf_failed",
            "The X-CSRF-Token header does not match this browser's token (GET /api/session/csrf)."
                .into(),
        ),
        (404, "revoke_session") => ("not_found", "There is no such session of yours.".into()),
        (404, "revoke_token") => ("not_found", "There is no such token of yours.".into()),
        (404, "get_user" | "list_user_posts") => {
            ("not_found", "There is nobody by that name.".into())
        }
        (404, _) => ("not_found", "There is no such post.".into()),
        (409, "create_token") => (
            "too_many_tokens",
            crate::services::tokens::CreateError::too_many_message(50),
        ),
        (409, _) => (
            "username_taken",
            crate::services::accounts::USERNAME_TAKEN.into(),
        ),
        (413, _) => ("too_large", BodyTooLarge.to_string()),
        (415, _) => (
            "unsupported_media_type",
            "Send the body as application/json.".into(),
        ),
        (422, "sign_up" | "change_password") => (
            "password_too_common",
            crate::domain::PasswordError::TooCommon.to_string(),
        ),
        (422, "create_token") => ("invalid", crate::services::tokens::LIFETIME_INVALID.into()),
        (422, _) => ("invalid", "title: verify failed. maxLength(120)".into()),
        (429, "sign_up") => (
            "too_many_requests",
            crate::services::accounts::signup_throttled_message(std::time::Duration::from_secs(
                600,
            )),
        ),
        (429, "create_post" | "update_post") => (
            "too_many_posts",
            crate::services::posts::throttled_message(std::time::Duration::from_secs(60)),
        ),
        (429, _) => (
            "too_many_failures",
            crate::services::accounts::throttled_message(std::time::Duration::from_secs(600)),
        ),
        (503, _) => (
            "unavailable",
            "The database cannot be reached at the moment. Please try again in a few seconds."
                .into(),
        ),
        (_, _) => ("bad_request", "The request failed.".into()),
    };
    ErrorBody {
        error: error.to_owned(),
        message,
    }
}
