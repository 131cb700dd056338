//! Cross-cutting HTTP middleware: the request log, security headers, paths
//! that do not decode, and the request body limit; and what a request that
//! failed on the server's side is answered and logged with.

use std::{error::Error, fmt, net::IpAddr, time::Instant};

use bytes::Bytes;
use poem::{
    Body, Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderName, HeaderValue, StatusCode, header},
};

/// One log line per request: the client's address (as the login throttle
/// sees it: the rightmost `X-Forwarded-For` entry under `--trust-proxy`),
/// method, path, status, bytes of the body sent, and milliseconds; for a
/// request that failed on the server's side, what failed (see
/// [`FailureNote`]), at `WARN` for an outage (503) and `ERROR` otherwise.
/// The query string is left out, and no header or body is ever logged.
pub struct RequestLog {
    pub trust_proxy: bool,
}

impl<E: Endpoint> Middleware<E> for RequestLog {
    type Output = RequestLogEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestLogEndpoint {
            inner,
            trust_proxy: self.trust_proxy,
        }
    }
}

pub struct RequestLogEndpoint<E> {
    inner: E,
    trust_proxy: bool,
}

impl<E: Endpoint> Endpoint for RequestLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let client = Client(crate::http::client::ip(&req, self.trust_proxy));
        let mut resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        let bytes = BodyLen(body_len(&mut resp));
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let status = resp.status().as_u16();
        match resp.extensions_mut().remove::<FailureNote>() {
            None => tracing::info!(
                target: "tangerine::request",
                "{client} {method} {path} {status} {bytes} {ms:.2}ms"
            ),
            Some(FailureNote(note)) if status == 503 => tracing::warn!(
                target: "tangerine::request",
                "{client} {method} {path} {status} {bytes} {ms:.2}ms: {note}"
            ),
            Some(FailureNote(note)) => tracing::error!(
                target: "tangerine::request",
                "{client} {method} {path} {status} {bytes} {ms:.2}ms: {note}"
            ),
        }
        Ok(resp)
    }
}

/// The client's address in the log, `-` when unknown.
struct Client(Option<IpAddr>);

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ip) => write!(f, "{ip}"),
            None => f.write_str("-"),
        }
    }
}

/// The body's length in the log: `1234B`, or `-B` for a body whose length
/// is known only once it has been streamed (Tangerine sends none such).
struct BodyLen(Option<u64>);

impl fmt::Display for BodyLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}B"),
            None => f.write_str("-B"),
        }
    }
}

/// The exact length of the response's body, when it is known before sending.
fn body_len(resp: &mut Response) -> Option<u64> {
    let boxed: http_body_util::combinators::BoxBody<Bytes, std::io::Error> =
        resp.take_body().into();
    let len = http_body::Body::size_hint(&boxed).exact();
    resp.set_body(Body::from(boxed));
    len
}

/// How long a client should wait before trying again after a 503.
pub const RETRY_AFTER_SECS: u64 = 5;

/// A request that failed on the server's side, as the answer and the log
/// line tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFailure {
    /// The database cannot be reached or used for now: 503, try again.
    Unavailable(String),
    /// Anything else, a panic included: 500.
    Internal(String),
}

impl ServerFailure {
    /// What `err` (and its causes) amount to: an outage when any cause is
    /// a database error of one (see [`crate::store::errors::is_outage`]).
    pub fn of(err: &(dyn Error + 'static)) -> Self {
        let mut cause = Some(err);
        let mut outage = false;
        while let Some(e) = cause {
            if let Some(db) = e.downcast_ref::<sea_orm::DbErr>() {
                outage = crate::store::errors::is_outage(db);
                break;
            }
            cause = e.source();
        }
        let told = crate::telemetry::one_line(err);
        if outage {
            ServerFailure::Unavailable(format!("database unavailable: {told}"))
        } else {
            ServerFailure::Internal(told)
        }
    }

    /// A panic with this message.
    pub fn panic(message: &str) -> Self {
        ServerFailure::Internal(format!("panic: {message}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ServerFailure::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServerFailure::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Adds what the client and the log need to an answer made for this
    /// failure: `Retry-After` on a 503, and the note for [`RequestLog`].
    pub fn mark(&self, resp: &mut Response) {
        if matches!(self, ServerFailure::Unavailable(_)) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        let (ServerFailure::Unavailable(note) | ServerFailure::Internal(note)) = self;
        resp.extensions_mut().insert(FailureNote(note.clone()));
    }
}

/// What failed, carried by an answer to the request log, which puts it on
/// the request's own line: one line per failure.
#[derive(Debug, Clone)]
pub struct FailureNote(pub String);

/// Makes every path decode to UTF-8 before routing: a byte sequence that is
/// not UTF-8 (`/api/users/%ff`) becomes U+FFFD, escaped again. poem's router
/// refuses such paths itself, with a plain-text 400 that no error page or
/// API error shape ever sees; this way the address simply names nothing,
/// and the page or the API answers 404 in its own shape.
pub struct DecodablePaths;

impl<E: Endpoint> Middleware<E> for DecodablePaths {
    type Output = DecodablePathsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        DecodablePathsEndpoint(inner)
    }
}

pub struct DecodablePathsEndpoint<E>(E);

/// What a path segment escapes: all but the unreserved characters and
/// the sub-delimiters that paths use.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// `path` with each segment that does not decode to UTF-8 decoded with
/// U+FFFD in place of the bad bytes and escaped again; `None` when every
/// segment decodes.
fn decodable(path: &str) -> Option<String> {
    use percent_encoding::{percent_decode_str, utf8_percent_encode};
    if percent_decode_str(path).decode_utf8().is_ok() {
        return None;
    }
    let segments: Vec<String> = path
        .split('/')
        .map(|segment| {
            let decoded = percent_decode_str(segment);
            match decoded.clone().decode_utf8() {
                Ok(_) => segment.to_owned(),
                Err(_) => utf8_percent_encode(&decoded.decode_utf8_lossy(), SEGMENT).to_string(),
            }
        })
        .collect();
    Some(segments.join("/"))
}

impl<E: Endpoint> Endpoint for DecodablePathsEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        if let Some(path) = decodable(req.uri().path()) {
            let path_and_query = match req.uri().query() {
                Some(query) => format!("{path}?{query}"),
                None => path,
            };
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(
                path_and_query
                    .parse()
                    .map_err(|_| poem::Error::from_status(StatusCode::BAD_REQUEST))?,
            );
            *req.uri_mut() = poem::http::Uri::from_parts(parts)
                .map_err(|_| poem::Error::from_status(StatusCode::BAD_REQUEST))?;
        }
        self.0.call(req).await
    }
}

/// Content-Security-Policy for every page: scripts, styles and everything
/// else from this origin only; no inline code; never framed.
pub const STRICT_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers that every response carries. Documents (HTML, and SVG, which can
/// hold script) get the Content-Security-Policy, the API explorer included
/// (its scripts and styles are assets too). Other types leave it out: browsers apply it
/// to the viewer they show an image or a JSON file in, whose own inline
/// styles it would then block.
pub struct SecurityHeaders {
    pub hsts: bool,
}

impl<E: Endpoint> Middleware<E> for SecurityHeaders {
    type Output = SecurityHeadersEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        SecurityHeadersEndpoint {
            inner,
            hsts: self.hsts,
        }
    }
}

pub struct SecurityHeadersEndpoint<E> {
    inner: E,
    hsts: bool,
}

impl<E: Endpoint> Endpoint for SecurityHeadersEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let mut resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        let is_document = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/html") || ct.starts_with("image/svg+xml"));
        let headers = resp.headers_mut();
        let mut set = |name: HeaderName, value: &'static str| {
            headers
                .entry(name)
                .or_insert(HeaderValue::from_static(value));
        };
        if is_document {
            set(header::CONTENT_SECURITY_POLICY, STRICT_CSP);
        }
        set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        set(header::X_FRAME_OPTIONS, "DENY");
        set(header::REFERRER_POLICY, "same-origin");
        set(CROSS_ORIGIN_OPENER_POLICY, "same-origin");
        if self.hsts {
            set(
                header::STRICT_TRANSPORT_SECURITY,
                "max-age=63072000; includeSubDomains",
            );
        }
        Ok(resp)
    }
}

/// Not among `http`'s standard names; made once, at compile time.
const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY: usize = 256 * 1024;

/// Refuses bodies over [`MAX_BODY`] with 413, whether they announce their
/// length or arrive chunked, before any handler reads them.
pub struct BodyLimit;

#[derive(Debug, thiserror::Error)]
#[error("The request body is larger than 256 KiB.")]
pub struct BodyTooLarge;

impl poem::error::ResponseError for BodyTooLarge {
    fn status(&self) -> StatusCode {
        StatusCode::PAYLOAD_TOO_LARGE
    }
}

/// The body did not arrive within the body deadline (see `crate::http::server`).
#[derive(Debug, thiserror::Error)]
#[error("The request body did not arrive in time.")]
pub struct BodyTimedOut;

impl poem::error::ResponseError for BodyTimedOut {
    fn status(&self) -> StatusCode {
        StatusCode::REQUEST_TIMEOUT
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimitEndpoint(inner)
    }
}

pub struct BodyLimitEndpoint<E>(E);

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        read_bounded_body(&mut req).await?;
        self.0.call(req).await
    }
}

/// Reads the whole body into memory (at most [`MAX_BODY`]) and puts it back,
/// returning a cheap copy of it. Bodies that announce a larger length are
/// refused before a byte is read; chunked ones as soon as they pass the limit.
pub async fn read_bounded_body(req: &mut Request) -> Result<Bytes> {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > MAX_BODY as u64) {
        return Err(BodyTooLarge.into());
    }
    let body = req.take_body();
    if body.is_empty() {
        return Ok(Bytes::new());
    }
    let bytes = body.into_bytes_limit(MAX_BODY).await.map_err(|e| match e {
        poem::error::ReadBodyError::PayloadTooLarge => BodyTooLarge.into(),
        poem::error::ReadBodyError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            BodyTimedOut.into()
        }
        other => poem::Error::from(other),
    })?;
    req.set_body(bytes.clone());
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::decodable;

    #[test]
    fn paths_that_do_not_decode_are_made_to() {
        assert_eq!(decodable("/api/users/alice"), None);
        assert_eq!(decodable("/u/%C3%A9"), None);
        assert_eq!(
            decodable("/api/users/%ff").as_deref(),
            Some("/api/users/%EF%BF%BD")
        );
        // A slash escaped in a bad segment stays inside its segment.
        assert_eq!(
            decodable("/posts/a%2Fb%ff/edit").as_deref(),
            Some("/posts/a%2Fb%EF%BF%BD/edit")
        );
    }
}
