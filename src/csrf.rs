//! CSRF protection as a signed double-submit cookie.
//!
//! The browser holds a random token in an `HttpOnly` cookie, signed with
//! HMAC-SHA256 under a key shared by all instances (kept in the database).
//! Forms echo the token in a hidden `csrf_token` field and htmx sends it in
//! the `X-CSRF-Token` header; a state change is accepted only when the echo
//! matches the cookie. The token belongs to the browser, not to the session
//! row: visitors who are not logged in need no row to submit the login form,
//! and a session ending leaves the token valid.
//!
//! poem's own `Csrf` middleware was the starting point; it is not used because
//! it needs a key configured per instance (it defaults to zeros) and encrypts
//! with AES-GCM where a MAC is all that is needed.

use std::sync::{Arc, OnceLock};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use poem::{
    Endpoint, FromRequest, IntoResponse, Middleware, Request, RequestBody, Response, Result,
    http::header,
};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::cookies::{self, CookiePolicy};

pub const COOKIE: &str = "tangerine_csrf";
pub const HEADER: &str = "X-CSRF-Token";
pub const FORM_FIELD: &str = "csrf_token";
/// How long the token cookie lives: long enough that a form left open for
/// days can still be sent.
const COOKIE_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(365 * 86400);
const TOKEN_LEN: usize = 32;

/// The HMAC key, keyed once; its `Debug` hides it.
#[derive(Clone)]
pub struct CsrfKey(Hmac<Sha256>);

impl CsrfKey {
    pub fn new(key: &[u8]) -> Result<Self, hmac::digest::InvalidLength> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).map(Self)
    }

    fn sign(&self, token: &str) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(b"tangerine-csrf:");
        mac.update(token.as_bytes());
        mac
    }

    fn cookie_value(&self, token: &str) -> String {
        let tag = self.sign(token).finalize().into_bytes();
        format!("{token}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The token inside a cookie value, if its signature holds.
    fn open(&self, cookie_value: &str) -> Option<String> {
        let (token, tag) = cookie_value.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.sign(token).verify_slice(&tag).ok()?;
        Some(token.to_owned())
    }
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(***)")
    }
}

/// This browser's CSRF state for one request.
#[derive(Clone)]
pub struct Csrf(Arc<CsrfState>);

struct CsrfState {
    /// The token from a cookie whose signature held.
    existing: Option<String>,
    /// A token made during this request, to be set as a cookie on the way out.
    minted: OnceLock<String>,
}

impl Csrf {
    /// The token to put in a form or header, made (and later set as a cookie)
    /// only when a page actually needs one.
    pub fn token(&self) -> String {
        if let Some(t) = &self.0.existing {
            return t.clone();
        }
        self.0
            .minted
            .get_or_init(|| {
                let mut bytes = [0u8; TOKEN_LEN];
                // Without the OS's randomness there is no safe token to make;
                // an empty one never verifies.
                match getrandom::fill(&mut bytes) {
                    Ok(()) => URL_SAFE_NO_PAD.encode(bytes),
                    Err(_) => String::new(),
                }
            })
            .clone()
    }

    /// Whether `submitted` is this browser's token.
    pub fn verify(&self, submitted: &str) -> bool {
        match &self.0.existing {
            Some(token) if !submitted.is_empty() => {
                token.as_bytes().ct_eq(submitted.as_bytes()).into()
            }
            _ => false,
        }
    }
}

impl<'a> FromRequest<'a> for Csrf {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> Result<Self> {
        req.extensions().get::<Csrf>().cloned().ok_or_else(|| {
            poem::Error::from_string(
                "CSRF layer missing",
                poem::http::StatusCode::INTERNAL_SERVER_ERROR,
            )
        })
    }
}

/// Middleware that reads the token cookie and, when a token was made during
/// the request, sets it on the response.
pub struct CsrfLayer {
    key: CsrfKey,
    cookies: CookiePolicy,
    cookie_name: Arc<str>,
}

impl CsrfLayer {
    pub fn new(key: CsrfKey, cookies: CookiePolicy) -> Self {
        let cookie_name = cookies.name(COOKIE).into();
        Self {
            key,
            cookies,
            cookie_name,
        }
    }
}

impl<E: Endpoint> Middleware<E> for CsrfLayer {
    type Output = CsrfEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        CsrfEndpoint {
            inner,
            key: self.key.clone(),
            cookies: self.cookies.clone(),
            cookie_name: self.cookie_name.clone(),
        }
    }
}

pub struct CsrfEndpoint<E> {
    inner: E,
    key: CsrfKey,
    cookies: CookiePolicy,
    cookie_name: Arc<str>,
}

impl<E: Endpoint> Endpoint for CsrfEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        let existing = cookies::find(&req, &self.cookie_name).and_then(|v| self.key.open(v));
        let csrf = Csrf(Arc::new(CsrfState {
            existing,
            minted: OnceLock::new(),
        }));
        req.extensions_mut().insert(csrf.clone());
        let mut resp = self.inner.call(req).await?.into_response();
        if let Some(token) = csrf.0.minted.get() {
            let value = self.cookies.set(
                &self.cookie_name,
                &self.key.cookie_value(token),
                Some(COOKIE_MAX_AGE),
            );
            resp.headers_mut().append(header::SET_COOKIE, value);
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csrf(key: &CsrfKey, cookie: Option<&str>) -> Csrf {
        Csrf(Arc::new(CsrfState {
            existing: cookie.and_then(|c| key.open(c)),
            minted: OnceLock::new(),
        }))
    }

    #[test]
    fn a_minted_token_verifies_once_its_cookie_comes_back() {
        let key = CsrfKey::new(&[1; 32]).unwrap();
        let first = csrf(&key, None);
        let token = first.token();
        assert_eq!(token.len(), 43);
        assert!(!first.verify(&token), "no cookie yet");
        let cookie = key.cookie_value(&token);
        let next = csrf(&key, Some(&cookie));
        assert!(next.verify(&token));
        assert_eq!(next.token(), token, "the browser keeps its token");
        assert!(!next.verify("not-the-token"));
        assert!(!next.verify(""));
    }

    #[test]
    fn a_cookie_signed_with_another_key_is_ignored() {
        let ours = CsrfKey::new(&[1; 32]).unwrap();
        let theirs = CsrfKey::new(&[2; 32]).unwrap();
        let forged = theirs.cookie_value("attacker-token");
        let c = csrf(&ours, Some(&forged));
        assert!(!c.verify("attacker-token"));
        assert_ne!(c.token(), "attacker-token");
    }

    #[test]
    fn unsigned_or_garbled_cookies_are_ignored() {
        let key = CsrfKey::new(&[1; 32]).unwrap();
        for bad in ["", "token", "token.", "token.!!!", ".", "a.b.c"] {
            assert!(!csrf(&key, Some(bad)).verify("token"), "{bad:?}");
        }
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        assert_eq!(
            format!("{:?}", CsrfKey::new(&[9; 32]).unwrap()),
            "CsrfKey(***)"
        );
    }
}
