//! Whether a state-changing request comes from another site: the second
//! layer of CSRF defence, in front of the token.
//!
//! Browsers say where a request comes from: `Sec-Fetch-Site` (`cross-site`
//! when another site's page sent it) and `Origin` on every POST, PUT, PATCH
//! and DELETE. A request that another site's page made is refused before
//! anything else happens, so it can neither change anything nor count as a
//! login attempt. Clients that send neither header (curl, scripts) are
//! judged by the token alone.

use poem::{Request, http::header};

/// Why a request was refused as cross-site.
pub const REFUSED: &str =
    "This request came from another site, and only Tangerine's own pages may make changes here.";

/// Whether `req` was made by another site's page. `Sec-Fetch-Site:
/// cross-site` is; an `Origin` that is present and not this server's own is
/// (`null`, sent from sandboxed frames and some redirects, included). This
/// server's own origin is `scheme://host`, from `Host` — or, under
/// `--trust-proxy`, from `X-Forwarded-Host` and `X-Forwarded-Proto`, which
/// the proxy in front sets — with `https` when cookies are secure.
pub fn is_cross_site(req: &Request, trust_proxy: bool, secure: bool) -> bool {
    let fetch_site = req.headers().get("sec-fetch-site");
    if fetch_site.is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site")) {
        return true;
    }
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    // A page of ours sent with `Referrer-Policy: no-referrer` (the password
    // reset page) makes browsers write `Origin: null` on its forms; they
    // still say `Sec-Fetch-Site: same-origin`, which a sandboxed frame or
    // another site's page never gets.
    if origin.trim() == "null"
        && fetch_site.is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"same-origin"))
    {
        return false;
    }
    match own_origin(req, trust_proxy, secure) {
        Some(own) => !without_default_port(origin.trim()).eq_ignore_ascii_case(&own),
        None => true,
    }
}

/// `scheme://host` for `scheme://host:80` (http) and `:443` (https), as
/// browsers write origins.
fn without_default_port(origin: &str) -> String {
    for (scheme, port) in [("http://", ":80"), ("https://", ":443")] {
        if origin.len() > scheme.len() + port.len()
            && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
            && let Some(bare) = origin.strip_suffix(port)
        {
            return bare.to_owned();
        }
    }
    origin.to_owned()
}

fn forwarded(req: &Request, name: &str) -> Option<String> {
    let value = req.headers().get_all(name).iter().next_back()?;
    // A chain of proxies appends: the nearest one's value is the last.
    let last = value.to_str().ok()?.rsplit(',').next()?.trim();
    (!last.is_empty()).then(|| last.to_owned())
}

/// The host the client asked for: `Host`, or an HTTP/2 request's authority.
fn host(req: &Request) -> Option<String> {
    req.header(header::HOST)
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
}

fn own_origin(req: &Request, trust_proxy: bool, secure: bool) -> Option<String> {
    let default_scheme = || if secure { "https" } else { "http" }.to_owned();
    let (host, scheme) = if trust_proxy {
        let host = forwarded(req, "x-forwarded-host").or_else(|| host(req))?;
        let scheme = forwarded(req, "x-forwarded-proto").unwrap_or_else(default_scheme);
        (host, scheme)
    } else {
        (host(req)?, default_scheme())
    };
    Some(without_default_port(&format!("{scheme}://{host}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method(poem::http::Method::POST);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.finish()
    }

    #[test]
    fn same_origin_and_header_less_requests_pass() {
        let host = ("host", "board.example:3000");
        assert!(!is_cross_site(&req(&[host]), false, false));
        assert!(!is_cross_site(
            &req(&[host, ("origin", "http://board.example:3000")]),
            false,
            false
        ));
        assert!(!is_cross_site(
            &req(&[host, ("sec-fetch-site", "same-origin")]),
            false,
            false
        ));
    }

    #[test]
    fn a_null_origin_from_our_own_no_referrer_page_passes() {
        let host = ("host", "board.example:3000");
        assert!(!is_cross_site(
            &req(&[host, ("origin", "null"), ("sec-fetch-site", "same-origin")]),
            false,
            false
        ));
        for site in ["same-site", "none", "cross-site"] {
            assert!(
                is_cross_site(
                    &req(&[host, ("origin", "null"), ("sec-fetch-site", site)]),
                    false,
                    false
                ),
                "{site}"
            );
        }
    }

    #[test]
    fn another_site_a_null_origin_or_the_wrong_scheme_is_refused() {
        let host = ("host", "board.example:3000");
        for origin in [
            "http://evil.example",
            "null",
            "https://board.example:3000",
            "http://board.example",
        ] {
            assert!(
                is_cross_site(&req(&[host, ("origin", origin)]), false, false),
                "{origin}"
            );
        }
        assert!(is_cross_site(
            &req(&[host, ("sec-fetch-site", "cross-site")]),
            false,
            false
        ));
        assert!(!is_cross_site(
            &req(&[host, ("origin", "https://board.example:3000")]),
            false,
            true
        ));
    }

    #[test]
    fn default_ports_are_the_same_origin_written_either_way() {
        let host = ("host", "board.example:443");
        assert!(!is_cross_site(
            &req(&[host, ("origin", "https://board.example")]),
            false,
            true
        ));
        assert!(!is_cross_site(
            &req(&[
                ("host", "board.example"),
                ("origin", "http://board.example:80")
            ]),
            false,
            false
        ));
        assert!(is_cross_site(
            &req(&[
                ("host", "board.example"),
                ("origin", "http://board.example:8080")
            ]),
            false,
            false
        ));
    }

    #[test]
    fn behind_a_trusted_proxy_its_forwarded_host_and_scheme_count() {
        let proxied = [
            ("host", "10.0.0.5:3000"),
            ("x-forwarded-host", "board.example"),
            ("x-forwarded-proto", "https"),
        ];
        let mut same = proxied.to_vec();
        same.push(("origin", "https://board.example"));
        assert!(!is_cross_site(&req(&same), true, false));
        assert!(
            is_cross_site(&req(&same), false, false),
            "without --trust-proxy the forwarded headers mean nothing"
        );
    }
}
