//! CSRF checking for every state-changing request to the HTML routes.
//!
//! First the request's origin: one made by another site's page is refused
//! (403) before anything else (see `origin`). Then the token.
//! The token may come in the `X-CSRF-Token` header (htmx) or in the
//! `csrf_token` field of a form. A request without a valid one changes
//! nothing: it gets 403, except when the browser has no live session on a
//! route that needs one, where the login policy applies instead. A session
//! that ended while a page was open then leads to the login page rather than
//! to an error about a token.

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result, http::header};
use serde::Deserialize;

use super::error::WebError;
use crate::{http::csrf, http::origin, http::session::Session, state::AppState};

/// Routes open to visitors without a session, where a bad token is a plain 403.
const PUBLIC_FORMS: &[&str] = &["/login", "/signup"];

pub struct CsrfGuard;

impl<E: Endpoint> Middleware<E> for CsrfGuard {
    type Output = CsrfGuardEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        CsrfGuardEndpoint(inner)
    }
}

pub struct CsrfGuardEndpoint<E>(E);

#[derive(Deserialize)]
struct TokenField {
    csrf_token: Option<String>,
}

impl<E: Endpoint> Endpoint for CsrfGuardEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        if req.method().is_safe() {
            return Ok(self.0.call(req).await?.into_response());
        }
        let settings = &req
            .data::<AppState>()
            .ok_or_else(|| WebError::Unexpected(anyhow::anyhow!("state missing")))?
            .settings;
        if origin::is_cross_site(&req, settings.trust_proxy, settings.secure_cookies) {
            return Err(WebError::Forbidden(origin::REFUSED).into());
        }
        let csrf = req
            .extensions()
            .get::<csrf::Csrf>()
            .cloned()
            .ok_or_else(|| WebError::Unexpected(anyhow::anyhow!("CSRF layer missing")))?;
        let submitted = match req.header(csrf::HEADER) {
            Some(token) => Some(token.to_owned()),
            None if is_form(&req) => {
                // The body was already read (and bounded) by the body limit.
                let body = req.take_body().into_bytes().await?;
                let field = serde_urlencoded::from_bytes::<TokenField>(&body)
                    .ok()
                    .and_then(|f| f.csrf_token);
                req.set_body(body);
                field
            }
            None => None,
        };
        if submitted.as_deref().is_some_and(|t| csrf.verify(t)) {
            return Ok(self.0.call(req).await?.into_response());
        }
        let logged_in = Session::of(&req)?.user().is_some();
        if !logged_in && !PUBLIC_FORMS.contains(&req.uri().path()) {
            return Err(WebError::LoginRequired.into());
        }
        Err(WebError::Forbidden(
            "This form has expired or did not come from Tangerine. Reload the page and try again.",
        )
        .into())
    }
}

fn is_form(req: &Request) -> bool {
    req.header(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}
