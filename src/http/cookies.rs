//! The one place that reads the `Cookie` header and writes `Set-Cookie`.
//!
//! Every cookie Tangerine sets is `HttpOnly`, `SameSite=Lax` and `Path=/`; with
//! secure cookies it is also `Secure` and carries the `__Host-` prefix, which
//! browsers only accept over HTTPS, for the exact host, on `Path=/`: a sibling
//! subdomain can then neither set nor shadow it.

use std::time::Duration;

use cookie::{Cookie, SameSite};
use poem::{
    Request,
    http::{HeaderValue, header},
};

#[derive(Debug, Clone)]
pub struct CookiePolicy {
    pub secure: bool,
    /// Leave out `Max-Age` everywhere, so that cookies end with the browser.
    pub expire_at_browser_close: bool,
}

impl CookiePolicy {
    /// The cookie name to use for `base`, with the `__Host-` prefix when secure.
    pub fn name(&self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    /// A `Set-Cookie` value. `max_age` is dropped when cookies end with the browser.
    pub fn set(&self, name: &str, value: &str, max_age: Option<Duration>) -> HeaderValue {
        let mut cookie = self.base(name, value);
        if let Some(age) = max_age.filter(|_| !self.expire_at_browser_close) {
            let secs = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
            cookie.set_max_age(cookie::time::Duration::seconds(secs));
        }
        to_header(&cookie)
    }

    /// A `Set-Cookie` value with `max_age` even when cookies end with the
    /// browser: for a cookie that is not a session's (the device cookie).
    pub fn set_lasting(&self, name: &str, value: &str, max_age: Duration) -> HeaderValue {
        let mut cookie = self.base(name, value);
        let secs = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        cookie.set_max_age(cookie::time::Duration::seconds(secs));
        to_header(&cookie)
    }

    /// A `Set-Cookie` value that makes the browser forget the cookie.
    pub fn remove(&self, name: &str) -> HeaderValue {
        let mut cookie = self.base(name, "");
        cookie.make_removal();
        to_header(&cookie)
    }

    fn base<'a>(&self, name: &'a str, value: &'a str) -> Cookie<'a> {
        Cookie::build((name, value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .secure(self.secure)
            .build()
    }
}

fn to_header(cookie: &Cookie<'_>) -> HeaderValue {
    // Names are ours and values are base64url: always a valid header value.
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The request carried the same cookie twice: one of them was planted (a
/// sibling subdomain or a network attacker can add a cookie of the same
/// name but another path or domain), and nothing tells which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request carries two cookies of one name")]
pub struct DuplicateCookie;

/// The value of cookie `name` in the request, if the browser sent exactly
/// one; [`DuplicateCookie`] if it sent more.
pub fn find_unique<'r>(req: &'r Request, name: &str) -> Result<Option<&'r str>, DuplicateCookie> {
    let mut values = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'));
    let first = values.next();
    match values.next() {
        Some(_) => Err(DuplicateCookie),
        None => Ok(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(secure: bool, browser_close: bool) -> CookiePolicy {
        CookiePolicy {
            secure,
            expire_at_browser_close: browser_close,
        }
    }

    #[test]
    fn plain_cookies_are_httponly_lax_and_site_wide() {
        let v = policy(false, false).set("tangerine_session", "abc", Some(Duration::from_secs(60)));
        let v = v.to_str().unwrap();
        assert!(v.starts_with("tangerine_session=abc"), "{v}");
        for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(v.contains(part), "{part} missing from {v}");
        }
        assert!(!v.contains("Secure"), "{v}");
    }

    #[test]
    fn secure_cookies_get_the_host_prefix_and_secure() {
        let p = policy(true, false);
        assert_eq!(p.name("tangerine_session"), "__Host-tangerine_session");
        let v = p.set(&p.name("tangerine_session"), "abc", None);
        let v = v.to_str().unwrap();
        assert!(v.starts_with("__Host-tangerine_session=abc"), "{v}");
        assert!(v.contains("Secure") && !v.contains("Domain"), "{v}");
    }

    #[test]
    fn browser_close_mode_drops_max_age() {
        let v = policy(false, true).set("x", "y", Some(Duration::from_secs(60)));
        assert!(!v.to_str().unwrap().contains("Max-Age"));
    }

    #[test]
    fn a_cookie_sent_twice_is_trusted_neither_time() {
        let req = Request::builder()
            .header(header::COOKIE, "a=1; b=2")
            .header(header::COOKIE, "a=3")
            .finish();
        assert_eq!(find_unique(&req, "a"), Err(DuplicateCookie));
        assert_eq!(find_unique(&req, "b"), Ok(Some("2")));
        assert_eq!(find_unique(&req, "c"), Ok(None));
    }

    #[test]
    fn lasting_cookies_keep_their_max_age_at_browser_close() {
        let v = policy(false, true).set_lasting("x", "y", Duration::from_secs(60));
        assert!(v.to_str().unwrap().contains("Max-Age=60"));
    }

    #[test]
    fn removal_expires_the_cookie_now() {
        let v = policy(false, false).remove("x");
        let v = v.to_str().unwrap();
        assert!(v.contains("Max-Age=0"), "{v}");
    }
}
