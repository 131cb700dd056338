//! Who is calling, and whether a state change really comes from Tangerine.
//!
//! The API rides on the very same session rows and cookie as the pages: a
//! session started in a browser works here, and the other way round. Calls
//! that change state with that cookie also need the browser's CSRF token in
//! `X-CSRF-Token`, which another site cannot read, so it cannot forge them.

use poem::{Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaParamIn, MetaSchemaRef, MetaSecurityScheme, Registry},
    types::Type,
};

use super::error::ApiError;
use crate::{domain::User, http::csrf::Csrf, http::session::Session};

/// The security scheme's name in the spec.
pub const SESSION_SCHEME: &str = "session";

/// The logged-in person, by the session cookie; 401 for anyone else.
pub struct SessionAuth(pub User);

impl<'a> ApiExtractor<'a> for SessionAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            SESSION_SCHEME,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some(
                    "The session cookie that logging in sets (the same as the pages'). \
                     With --secure-cookies its name is __Host-tangerine_session.",
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
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![SESSION_SCHEME]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match Session::of(req)?.user() {
            Some(user) => Ok(SessionAuth(user)),
            None => Err(ApiError::unauthorized().into()),
        }
    }
}

/// The `X-CSRF-Token` header, checked against this browser's CSRF cookie;
/// 403 when it is missing or wrong.
pub struct CsrfHeader;

impl<'a> ApiExtractor<'a> for CsrfHeader {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    const PARAM_IS_REQUIRED: bool = true;

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
                "Changes need the X-CSRF-Token header (GET /api/session/csrf gives it).",
            )
            .into()),
        }
    }
}
