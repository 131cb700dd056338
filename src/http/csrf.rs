//! CSRF protection as a signed double-submit cookie, bound to the login.
//!
//! The browser holds a random value in an `HttpOnly` cookie, signed with
//! HMAC-SHA256 under a key shared by all instances (kept in the database).
//! The token that forms echo (a hidden `csrf_token` field) and htmx sends
//! (the `X-CSRF-Token` header) is not that value but a MAC over it *and the
//! session it was issued to* (the hash of the session's secret; "anonymous"
//! for a browser that is not logged in). So the token changes whenever a
//! session starts or ends — login, sign-up, logout, a password change that
//! renews the secret — and a cookie-and-token pair an attacker obtained for
//! their own browser or session is worthless beside anyone else's session
//! cookie: making a valid token needs the server's key and the victim's
//! session secret. Visitors still need no session row to submit the login
//! form. A request carrying two CSRF cookies (one planted) fails the check.
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

use crate::{
    http::cookies::{self, CookiePolicy},
    http::session::Session,
};

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

    /// The token a form carries: the browser's value bound to a session
    /// (by its secret's hash), or to no session.
    fn form_token(&self, browser: &str, session: Option<&[u8]>) -> String {
        let mut mac = self.0.clone();
        mac.update(b"tangerine-csrf-form:");
        mac.update(browser.as_bytes());
        match session {
            Some(hash) => {
                mac.update(b":session:");
                mac.update(hash);
            }
            None => mac.update(b":anonymous"),
        }
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
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
    key: CsrfKey,
    /// The browser's value, from its one cookie whose signature held.
    existing: Option<String>,
    /// A value made during this request, to be set as a cookie on the way out.
    minted: OnceLock<String>,
    /// The session the token is bound to, as it stands when the token is
    /// asked for (a login during the request binds later tokens to the new
    /// session). None where there is no session layer (tests of this module).
    session: Option<Session>,
}

impl Csrf {
    fn browser_value(&self) -> &str {
        if let Some(t) = &self.0.existing {
            return t;
        }
        self.0.minted.get_or_init(|| {
            let mut bytes = [0u8; TOKEN_LEN];
            // Without the OS's randomness there is no safe value to make;
            // an empty one is never set, and its tokens never verify.
            match getrandom::fill(&mut bytes) {
                Ok(()) => URL_SAFE_NO_PAD.encode(bytes),
                Err(_) => String::new(),
            }
        })
    }

    fn session_binding(&self) -> Option<Vec<u8>> {
        self.0.session.as_ref().and_then(Session::csrf_binding)
    }

    /// The token to put in a form or header, for the session as it stands.
    /// The browser's cookie is made (and set on the way out) only when a
    /// page actually needs a token.
    pub fn token(&self) -> String {
        let browser = self.browser_value().to_owned();
        if browser.is_empty() {
            return String::new();
        }
        self.0
            .key
            .form_token(&browser, self.session_binding().as_deref())
    }

    /// Whether `submitted` is the token of this browser and this session.
    pub fn verify(&self, submitted: &str) -> bool {
        match &self.0.existing {
            Some(browser) if !submitted.is_empty() => {
                let expected = self
                    .0
                    .key
                    .form_token(browser, self.session_binding().as_deref());
                expected.as_bytes().ct_eq(submitted.as_bytes()).into()
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
        // Two cookies of the name: one was planted, and neither is trusted.
        let existing = cookies::find_unique(&req, &self.cookie_name)
            .ok()
            .flatten()
            .and_then(|v| self.key.open(v));
        let csrf = Csrf(Arc::new(CsrfState {
            key: self.key.clone(),
            existing,
            minted: OnceLock::new(),
            session: req.extensions().get::<Session>().cloned(),
        }));
        req.extensions_mut().insert(csrf.clone());
        let mut resp = self.inner.call(req).await?.into_response();
        if let Some(token) = csrf.0.minted.get().filter(|t| !t.is_empty()) {
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
            key: key.clone(),
            existing: cookie.and_then(|c| key.open(c)),
            minted: OnceLock::new(),
            session: None,
        }))
    }

    #[test]
    fn a_minted_token_verifies_once_its_cookie_comes_back() {
        let key = CsrfKey::new(&[1; 32]).unwrap();
        let first = csrf(&key, None);
        let token = first.token();
        assert_eq!(token.len(), 43);
        assert!(!first.verify(&token), "no cookie yet");
        let cookie = key.cookie_value(first.0.minted.get().unwrap());
        let next = csrf(&key, Some(&cookie));
        assert!(next.verify(&token));
        assert_eq!(next.token(), token, "the browser keeps its token");
        assert!(!next.verify("not-the-token"));
        assert!(!next.verify(""));
    }

    #[test]
    fn a_token_is_bound_to_its_session() {
        let key = CsrfKey::new(&[1; 32]).unwrap();
        let browser = "browser-value";
        let anonymous = key.form_token(browser, None);
        let alice = key.form_token(browser, Some(&[7; 32]));
        let renewed = key.form_token(browser, Some(&[8; 32]));
        assert_ne!(anonymous, alice);
        assert_ne!(alice, renewed);
        assert_ne!(alice, key.form_token("another-browser", Some(&[7; 32])));
        assert_eq!(alice, key.form_token(browser, Some(&[7; 32])));
    }

    #[test]
    fn a_cookie_signed_with_another_key_is_ignored() {
        let ours = CsrfKey::new(&[1; 32]).unwrap();
        let theirs = CsrfKey::new(&[2; 32]).unwrap();
        let forged = theirs.cookie_value("attacker-token");
        let c = csrf(&ours, Some(&forged));
        assert!(!c.verify(&theirs.form_token("attacker-token", None)));
        assert!(!c.verify(&ours.form_token("attacker-token", None)));
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
