//! htmx on the server side: page or fragment, and redirects that work with
//! and without JavaScript.

use poem::{
    Request, Response,
    http::{HeaderName, HeaderValue, StatusCode, header},
};

pub const VARY_VALUE: &str = "HX-Request";

// htmx's request headers, named once (a name given as text is parsed at
// every lookup).
const HX_REQUEST: HeaderName = HeaderName::from_static("hx-request");
const HX_HISTORY_RESTORE_REQUEST: HeaderName =
    HeaderName::from_static("hx-history-restore-request");
const HX_CURRENT_URL: HeaderName = HeaderName::from_static("hx-current-url");

/// What htmx said about a request.
#[derive(Debug, Clone, Default)]
pub struct Hx {
    /// `HX-Request: true`: htmx made the request.
    pub request: bool,
    /// `HX-History-Restore-Request: true`: htmx wants a whole page back.
    pub history_restore: bool,
    /// `HX-Current-URL`: the page the request was made from.
    pub current_url: Option<String>,
}

impl Hx {
    pub fn of(req: &Request) -> Self {
        let header = |name: &HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
        let flag = |name: &HeaderName| header(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Self {
            request: flag(&HX_REQUEST),
            history_restore: flag(&HX_HISTORY_RESTORE_REQUEST),
            current_url: header(&HX_CURRENT_URL).map(str::to_owned),
        }
    }

    /// The one decision: htmx gets the fragment to swap, everything else
    /// (including htmx restoring history) gets the whole page.
    pub fn wants_fragment(&self) -> bool {
        self.request && !self.history_restore
    }
}

/// Sends the browser to `location`: 303 without htmx; with htmx, 200 and
/// `HX-Redirect` (htmx ignores `HX-Redirect` on a 3xx), so that the whole
/// page changes rather than a fragment.
pub fn redirect(hx: &Hx, location: &str) -> Response {
    let value = HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    let mut resp = Response::default();
    if hx.request {
        resp.headers_mut().insert("HX-Redirect", value);
    } else {
        resp.set_status(StatusCode::SEE_OTHER);
        resp.headers_mut().insert(header::LOCATION, value);
    }
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static(VARY_VALUE));
    resp
}

/// `target` if it is a path on this site, else `None`. Refuses anything a
/// browser could read as another host: `//evil.example`, `/\evil.example`,
/// `https://evil.example`, and control characters.
pub fn local_path(target: &str) -> Option<&str> {
    let ok = target.starts_with('/')
        && !target.starts_with("//")
        && !target.contains('\\')
        && !target.chars().any(char::is_control)
        && target.len() <= 2048;
    ok.then_some(target)
}

/// The path (with query) of an absolute or relative URL, if it is local.
pub fn path_of_url(url: &str) -> Option<&str> {
    let path = match url.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/')?..],
        None => url,
    };
    local_path(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_pass() {
        for ok in ["/", "/posts/new", "/u/alice?before=abc", "/a//b"] {
            assert_eq!(local_path(ok), Some(ok));
        }
    }

    #[test]
    fn other_hosts_and_odd_forms_are_refused() {
        for bad in [
            "//evil.example",
            "https://evil.example",
            "http://evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/\r\nSet-Cookie: x=y",
            "/\tx",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_path_of_a_full_url_is_taken() {
        assert_eq!(
            path_of_url("http://127.0.0.1:3000/posts/new?x=1"),
            Some("/posts/new?x=1")
        );
        assert_eq!(path_of_url("http://host"), None);
        assert_eq!(path_of_url("/here"), Some("/here"));
    }
}
