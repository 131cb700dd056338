//! The one place where web errors become answers: a themed page (or, under
//! htmx, a message swapped into the page), or the login redirect.

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderValue, Method, StatusCode, header},
};
use serde::Serialize;

pub use super::result::{WebError, WebResult, with_retry_after};
use super::{
    htmx::{self, Hx},
    render::View,
    templates::Templates,
};
use crate::http::middleware::{BodyTimedOut, BodyTooLarge, ServerFailure};

/// Turns every error under it into an answer a browser can show.
pub struct ErrorPages;

impl<E: Endpoint> Middleware<E> for ErrorPages {
    type Output = ErrorPagesEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ErrorPagesEndpoint(inner)
    }
}

pub struct ErrorPagesEndpoint<E>(E);

/// What is needed to answer for an error, taken before the request is handed on.
struct Origin {
    view: Option<View>,
    hx: Hx,
    login_next: Option<String>,
}

impl<E: Endpoint> Endpoint for ErrorPagesEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let origin = Origin {
            view: View::of(&req).ok(),
            hx: Hx::of(&req),
            login_next: login_next(&req),
        };
        match self.0.call(req).await {
            Ok(resp) => Ok(resp.into_response()),
            Err(err) => Ok(answer(&origin, err)),
        }
    }
}

/// Where to come back to after logging in: the page itself for a GET; for
/// a form post, the page the form was on.
fn login_next(req: &Request) -> Option<String> {
    let target = if req.method() == Method::GET {
        req.uri().path_and_query().map(|pq| pq.as_str())
    } else {
        req.header("HX-Current-URL")
            .or_else(|| req.header(header::REFERER))
            .and_then(htmx::path_of_url)
    };
    target
        .and_then(htmx::local_path)
        .filter(|t| *t != "/")
        .map(str::to_owned)
}

/// The login policy: 303 to `/login?next=…`, or under htmx 200 with
/// `HX-Redirect` to the same, so that the whole page goes to the login form.
pub fn login_required(hx: &Hx, next: Option<&str>) -> Response {
    let location = match next {
        Some(next) => format!("/login?next={}", encode_query_value(next)),
        None => "/login".to_owned(),
    };
    htmx::redirect(hx, &location)
}

fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[derive(Serialize)]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: String,
}

fn answer(origin: &Origin, err: poem::Error) -> Response {
    if let Some(WebError::LoginRequired) = err.downcast_ref::<WebError>() {
        return login_required(&origin.hx, origin.login_next.as_deref());
    }
    let mut status = err.status();
    let mut failure = None;
    let message = match err.downcast_ref::<WebError>() {
        Some(WebError::Unexpected(e)) => {
            let f = ServerFailure::of(e.as_ref());
            status = f.status();
            failure = Some(f);
            default_message(status).to_owned()
        }
        Some(web) => web.to_string(),
        None if err.is::<BodyTooLarge>() => BodyTooLarge.to_string(),
        None if err.is::<BodyTimedOut>() => BodyTimedOut.to_string(),
        None => {
            if status.is_server_error() {
                let f = ServerFailure::of(&err);
                status = f.status();
                failure = Some(f);
            }
            default_message(status).to_owned()
        }
    };
    let page = ErrorPage {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error"),
        message,
    };
    let rendered = origin.view.as_ref().map(|view| {
        if origin.hx.wants_fragment() {
            view.fragment("fragments/error.html", &page)
                .map(retarget_to_messages)
        } else {
            view.page("pages/error.html", &page)
        }
    });
    let retry_after = match err.downcast_ref::<WebError>() {
        Some(WebError::Throttled { retry_after, .. }) => Some(*retry_after),
        _ => None,
    };
    let mut resp = match rendered {
        Some(Ok(resp)) => resp.with_status(status).into_response(),
        Some(Err(e)) => {
            failure.get_or_insert_with(|| {
                ServerFailure::Internal(format!(
                    "the error page failed to render: {}",
                    crate::telemetry::one_line(&e)
                ))
            });
            (status, page.message).into_response()
        }
        None => (status, page.message).into_response(),
    };
    if let Some(failure) = failure {
        failure.mark(&mut resp);
    }
    with_retry_after(resp, retry_after)
}

/// An error fragment is shown in the page's message area, whatever the
/// request targeted.
fn retarget_to_messages(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert("HX-Retarget", HeaderValue::from_static("#messages"));
    resp.headers_mut()
        .insert("HX-Reswap", HeaderValue::from_static("innerHTML"));
    resp
}

/// The themed answer to `failure` for a request that no page handler
/// answered (a panic, or the session could not be loaded): the error page,
/// or under htmx its fragment, rendered without a session (so as to nobody
/// logged in), marked with `Retry-After` and the log note.
pub fn failure_page(templates: &Templates, hx: &Hx, failure: &ServerFailure) -> Response {
    let status = failure.status();
    let page = ErrorPage {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error"),
        message: default_message(status).to_owned(),
    };
    let ctx = minijinja::context! {
        current_user => minijinja::Value::from(()),
        csrf_token => minijinja::Value::from_function(String::new),
        flash => Vec::<String>::new(),
        // The operator's settings are out of reach here: the layout offers
        // only what every configuration has.
        site => minijinja::context! { signups_open => false, public_moderation_log => false },
        ..minijinja::value::Serde(&page)
    };
    let name = if hx.wants_fragment() {
        "fragments/error.html"
    } else {
        "pages/error.html"
    };
    let mut resp = match templates.render_body(name, ctx) {
        Ok(body) => {
            let resp = Response::builder()
                .status(status)
                .content_type("text/html; charset=utf-8")
                .header(header::VARY, htmx::VARY_VALUE)
                .body(body);
            if hx.wants_fragment() {
                retarget_to_messages(resp)
            } else {
                resp
            }
        }
        Err(_) => (status, page.message).into_response(),
    };
    failure.mark(&mut resp);
    resp
}

fn default_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "There is nothing at this address.",
        StatusCode::METHOD_NOT_ALLOWED => "That cannot be done at this address.",
        StatusCode::BAD_REQUEST => "The request could not be understood.",
        StatusCode::FORBIDDEN => "That is not allowed.",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "That kind of content is not accepted here.",
        StatusCode::SERVICE_UNAVAILABLE => {
            "Tangerine cannot reach its database at the moment. Please try again in a few seconds."
        }
        s if s.is_server_error() => "Something went wrong on our side. Please try again.",
        _ => "The request could not be completed.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_encoded_as_one_query_value() {
        assert_eq!(encode_query_value("/posts/new"), "/posts/new");
        assert_eq!(
            encode_query_value("/?before=a&b=c"),
            "/%3Fbefore%3Da%26b%3Dc"
        );
    }
}
