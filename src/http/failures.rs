//! The last line, around everything the server answers: a panic in any
//! handler or middleware, or an error that no skin turned into an answer
//! (the session layer's, when the database is down), becomes the usual
//! error page — or under `/api` the JSON error — with 500, or 503 and
//! `Retry-After` when the database cannot be reached; never an empty reply.
//! The request's own log line says what failed (see
//! [`crate::http::middleware::RequestLog`]), and the server keeps serving.
//!
//! Where pages and the API are told apart is known here, in the assembly
//! that nests the API under `/api`.

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result, error::ResponseError};

use crate::{
    http::api::error::ApiError,
    http::middleware::ServerFailure,
    http::web::{error::failure_page, htmx::Hx, templates::Templates},
    telemetry,
};

pub struct Failures {
    templates: Arc<Templates>,
}

impl Failures {
    pub fn new(templates: Arc<Templates>) -> Self {
        Self { templates }
    }
}

impl<E: Endpoint> Middleware<E> for Failures {
    type Output = FailuresEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        FailuresEndpoint {
            inner,
            templates: self.templates.clone(),
        }
    }
}

pub struct FailuresEndpoint<E> {
    inner: E,
    templates: Arc<Templates>,
}

/// What decides the shape of the answer, read before the request is handed on.
struct Asked {
    api: bool,
    hx: Hx,
}

impl<E: Endpoint> Endpoint for FailuresEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let path = req.uri().path();
        let asked = Asked {
            api: path == "/api" || path.starts_with("/api/"),
            hx: Hx::of(&req),
        };
        let failure = match telemetry::catch_panics(self.inner.call(req)).await {
            Ok(Ok(resp)) => return Ok(resp.into_response()),
            // A refusal (404, 405, …) from outside the skins stays as it was.
            Ok(Err(err)) if !err.status().is_server_error() => return Ok(err.into_response()),
            Ok(Err(err)) => ServerFailure::of(&err),
            Err(message) => ServerFailure::panic(&message),
        };
        Ok(if asked.api {
            ApiError::failure(failure).as_response()
        } else {
            failure_page(&self.templates, &asked.hx, &failure)
        })
    }
}
