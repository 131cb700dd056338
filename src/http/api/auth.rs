//! Who is calling, what they may do, and whether a state change really
//! comes from Tangerine.
//!
//! Two ways in. The session cookie: the API rides on the very same session
//! rows and cookie as the pages, and calls that change state with it also
//! need the browser's CSRF token in `X-CSRF-Token`, which another site cannot
//! read, so it cannot forge them. Or a personal access token in
//! `Authorization: Bearer tgr_…` (see `tokens`): no browser sends one by
//! itself, so it needs no CSRF token; it wins over any cookie sent beside
//! it, and such a request never reads or sets the session cookie (the
//! session layer leaves it alone). A token is checked once per request, by
//! [`BearerTokens`], before any operation runs: a bad one is refused with
//! 401 and `WWW-Authenticate: Bearer error="invalid_token"` even where no
//! login is needed. Each operation then says, by the extractor it takes,
//! what a token must be allowed ([`Access`]).

use std::marker::PhantomData;

use poem::{Endpoint, Middleware, Request, RequestBody, Result};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaParamIn, MetaSchemaRef, MetaSecurityScheme, Registry},
    types::Type,
};

use super::error::ApiError;
use crate::{
    domain::{User, token::Scope},
    http::client,
    http::csrf::Csrf,
    http::session::Session,
    services::tokens::{TokenCaller, TokenRefusal},
    state::AppState,
};

/// The session cookie's security scheme's name in the spec.
pub const SESSION_SCHEME: &str = "session";
/// The bearer token's security scheme's name in the spec.
pub const TOKEN_SCHEME: &str = "token";

/// The token of an `Authorization: Bearer …` header, if the request has
/// one (the scheme's name in any case; the token may be empty or garbage,
/// which is then an invalid token, not an absent one).
pub fn bearer_token(req: &Request) -> Option<&str> {
    let value = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let scheme = value.get(..6)?;
    let rest = &value[6..];
    (scheme.eq_ignore_ascii_case("bearer") && (rest.is_empty() || rest.starts_with(' ')))
        .then(|| rest.trim())
}

/// Whether `req` is an API request that authenticates with a bearer token:
/// the session layer neither reads nor sets the session cookie for it.
pub fn is_bearer_api_request(req: &Request) -> bool {
    let path = req.uri().path();
    (path == "/api" || path.starts_with("/api/")) && bearer_token(req).is_some()
}

/// The valid token this request came with (put there by [`BearerTokens`]).
#[derive(Debug, Clone)]
struct Bearer(TokenCaller);

/// Checks the bearer token of every API request that has one, before the
/// operation: a valid one is attached to the request, anything else is
/// answered 401 `invalid_token` (or 429 once the client address has too
/// many failed logins).
pub struct BearerTokens;

impl<E: Endpoint> Middleware<E> for BearerTokens {
    type Output = BearerTokensEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BearerTokensEndpoint(inner)
    }
}

pub struct BearerTokensEndpoint<E>(E);

impl<E: Endpoint> Endpoint for BearerTokensEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let Some(presented) = bearer_token(&req).map(str::to_owned) else {
            return self.0.call(req).await;
        };
        let state = req
            .data::<AppState>()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))?;
        let ip = client::ip(&req, state.settings.trust_proxy);
        let checked = state
            .tokens
            .authenticate(&presented, ip, state.settings.session_refresh)
            .await;
        match checked {
            Ok(caller) => {
                req.extensions_mut().insert(Bearer(caller));
                self.0.call(req).await
            }
            Err(TokenRefusal::Invalid) => Err(ApiError::invalid_token().into()),
            Err(TokenRefusal::Throttled(t)) => {
                Err(ApiError::too_many_failures(t.retry_after).into())
            }
            Err(TokenRefusal::Unexpected(e)) => Err(ApiError::internal(e).into()),
        }
    }
}

/// What an operation lets a token do.
pub trait Access: Send + Sync + 'static {
    /// The scope a token needs; `None`: no token may call it (managing
    /// tokens, sessions and the password, and logging in or out).
    const TOKEN_SCOPE: Option<Scope>;
}

/// Reading: any token.
pub struct Reading;
/// Changing something: a `write` token.
pub struct Writing;
/// Only with the session cookie.
pub struct CookieOnly;

impl Access for Reading {
    const TOKEN_SCOPE: Option<Scope> = Some(Scope::Read);
}
impl Access for Writing {
    const TOKEN_SCOPE: Option<Scope> = Some(Scope::Write);
}
impl Access for CookieOnly {
    const TOKEN_SCOPE: Option<Scope> = None;
}

fn allows(need: Option<Scope>, have: Scope) -> bool {
    match need {
        Some(Scope::Read) => true,
        Some(Scope::Write) => have == Scope::Write,
        None => false,
    }
}

/// The person calling: by a token allowed to do what `A` needs, else by
/// the session cookie; `None` when nobody is logged in.
fn caller<A: Access>(req: &Request) -> poem::Result<Option<User>> {
    if let Some(Bearer(token)) = req.extensions().get::<Bearer>() {
        return if allows(A::TOKEN_SCOPE, token.scope) {
            Ok(Some(token.user.clone()))
        } else {
            Err(ApiError::insufficient_scope(A::TOKEN_SCOPE).into())
        };
    }
    Ok(Session::of(req)?.user())
}

fn register_schemes(registry: &mut Registry) {
    registry.create_security_scheme(
        SESSION_SCHEME,
        MetaSecurityScheme {
            ty: "apiKey",
            description: Some(
                "The session cookie that logging in sets (the same as the pages'). \
                 With --secure-cookies its name is __Host-tangerine_session. Calls that \
                 change something also need the `X-CSRF-Token` header. In the explorer, \
                 log in with `POST /api/session` (Try it out) rather than here: a page \
                 cannot set a cookie, and the explorer adds the CSRF header itself.",
            ),
            // With --secure-cookies the served spec names the __Host- cookie.
            name: Some(crate::http::session::COOKIE),
            key_in: Some("cookie"),
            scheme: None,
            bearer_format: None,
            flows: None,
            openid_connect_url: None,
        },
    );
    registry.create_security_scheme(
        TOKEN_SCHEME,
        MetaSecurityScheme {
            ty: "http",
            description: Some(
                "A personal access token from /settings/tokens, as \
                 `Authorization: Bearer tgr_…`. No CSRF header is needed. A `read` token \
                 may call every reading operation; a `write` token everything but \
                 managing tokens, sessions and the password, and deleting the account. \
                 A token without the \
                 scope gets 403 `insufficient_scope`; an unknown, expired or revoked \
                 one 401 `invalid_token`.",
            ),
            name: None,
            key_in: None,
            scheme: Some("bearer"),
            bearer_format: Some("tgr_"),
            flows: None,
            openid_connect_url: None,
        },
    );
}

fn schemes<A: Access>() -> Vec<&'static str> {
    match A::TOKEN_SCOPE {
        Some(_) => vec![SESSION_SCHEME, TOKEN_SCHEME],
        None => vec![SESSION_SCHEME],
    }
}

/// The logged-in person, by a token allowed to do `A` or by the session
/// cookie; 401 for anyone else, 403 `insufficient_scope` for a token that
/// may not.
pub struct Auth<A: Access>(pub User, PhantomData<A>);

/// Any logged-in caller, with any token.
pub type ReadAuth = Auth<Reading>;
/// A logged-in caller, with the cookie or a `write` token.
pub type WriteAuth = Auth<Writing>;
/// A caller logged in with the session cookie; no token.
pub type SessionAuth = Auth<CookieOnly>;

impl<'a, A: Access> ApiExtractor<'a> for Auth<A> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        register_schemes(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        schemes::<A>()
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match caller::<A>(req)? {
            Some(user) => Ok(Auth(user, PhantomData)),
            None => Err(ApiError::unauthenticated().into()),
        }
    }
}

/// An operation anyone may call; a token sent with it must still be allowed
/// to do `A` (403 `insufficient_scope`). In the spec, its schemes are
/// optional; an operation no token may call (logging in) declares none.
pub struct Open<A: Access>(PhantomData<A>);

impl<'a, A: Access> ApiExtractor<'a> for Open<A> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        register_schemes(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        match A::TOKEN_SCOPE {
            Some(_) => schemes::<A>(),
            None => Vec::new(),
        }
    }

    fn has_security_fallback() -> bool {
        A::TOKEN_SCOPE.is_some()
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        caller::<A>(req)?;
        Ok(Open(PhantomData))
    }
}

/// The `X-CSRF-Token` header, checked against this browser's CSRF cookie;
/// 403 when it is missing or wrong. A request with a bearer token needs
/// none (so the spec does not mark it required).
pub struct CsrfHeader;

impl<'a> ApiExtractor<'a> for CsrfHeader {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    const PARAM_IS_REQUIRED: bool = false;

    type ParamType = String;
    type ParamRawType = String;

    fn register(registry: &mut Registry) {
        <String as Type>::register(registry);
    }

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Header)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(String::schema_ref())
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        if req.extensions().get::<Bearer>().is_some() {
            return Ok(CsrfHeader);
        }
        let csrf = req
            .extensions()
            .get::<Csrf>()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("CSRF layer missing")))?;
        match req.header(opts.name) {
            Some(token) if csrf.verify(token) => Ok(CsrfHeader),
            Some(_) => Err(ApiError::forbidden(
                "csrf_failed",
                "The X-CSRF-Token header does not match this browser's token (GET /api/session/csrf).",
            )
            .into()),
            None => Err(ApiError::forbidden(
                "csrf_missing",
                "Changes with the session cookie need the X-CSRF-Token header (GET /api/session/csrf gives it).",
            )
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_auth(value: &str) -> Request {
        Request::builder()
            .uri(poem::http::Uri::from_static("/api/me"))
            .header("Authorization", value)
            .finish()
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        assert_eq!(bearer_token(&with_auth("Bearer tgr_x")), Some("tgr_x"));
        assert_eq!(bearer_token(&with_auth("bearer  tgr_x ")), Some("tgr_x"));
        assert_eq!(bearer_token(&with_auth("Bearer")), Some(""));
        assert_eq!(bearer_token(&with_auth("Basic YTpi")), None);
        assert_eq!(bearer_token(&with_auth("Bearertgr_x")), None);
        assert!(is_bearer_api_request(&with_auth("Bearer tgr_x")));
    }

    #[test]
    fn scopes_allow_what_the_issue_says() {
        assert!(allows(Some(Scope::Read), Scope::Read));
        assert!(allows(Some(Scope::Read), Scope::Write));
        assert!(!allows(Some(Scope::Write), Scope::Read));
        assert!(allows(Some(Scope::Write), Scope::Write));
        assert!(!allows(None, Scope::Write));
        assert!(!allows(None, Scope::Read));
    }
}
