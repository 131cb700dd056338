//! Logging in and out, the CSRF token, and "me".

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json, types::Example};

use super::{
    ApiTags,
    auth::{CsrfHeader, SessionAuth},
    error::{ApiError, Errors, error_set},
    objects::UserObject,
};
use crate::{
    accounts::{self, LoginError},
    csrf::Csrf,
    domain::PasswordInput,
    session::Session,
    startup::AppState,
};

pub struct SessionApi;

/// A username and password.
#[derive(Object)]
#[oai(example)]
pub struct LoginRequest {
    /// Case does not matter.
    #[oai(validator(min_length = 1, max_length = 32))]
    pub username: String,
    #[oai(validator(min_length = 1, max_length = 256))]
    pub password: String,
}

impl Example for LoginRequest {
    fn example() -> Self {
        Self {
            username: "alice".into(),
            password: "correct horse battery".into(),
        }
    }
}

/// The CSRF token of this browser (or cookie jar).
#[derive(Object)]
pub struct CsrfTokenObject {
    /// Send it as `X-CSRF-Token` with every call that changes something.
    pub token: String,
}

error_set! {
    LoginErrors = [400, 401, 413, 415, 422];
    LogoutErrors = [401, 403];
    MeErrors = [401];
}

#[derive(ApiResponse)]
pub enum LoginResponse {
    /// Logged in. A fresh session starts, and its cookie is set exactly as the
    /// login page sets it; any session this client had is ended.
    #[oai(status = 200)]
    Ok(Json<UserObject>),
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// Logged out: the session row is deleted (the pages are logged out too)
    /// and the cookie cleared.
    #[oai(status = 204)]
    LoggedOut(#[oai(header = "Clear-Site-Data")] String),
}

#[derive(ApiResponse)]
pub enum CsrfResponse {
    /// This client's CSRF token; its cookie is set if it had none.
    #[oai(status = 200)]
    Ok(Json<CsrfTokenObject>),
}

#[derive(ApiResponse)]
pub enum MeResponse {
    /// The person logged in with this session.
    #[oai(status = 200)]
    Ok(Json<UserObject>),
}

#[OpenApi(tag = "ApiTags::Session")]
impl SessionApi {
    /// Log in
    ///
    /// Checks the username (any case) and password and starts a session. The
    /// answer to wrong credentials is the same whether or not the name exists.
    #[oai(path = "/session", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: Data<&AppState>,
        session: Session,
        body: Json<LoginRequest>,
    ) -> Result<LoginResponse, Errors<LoginErrors>> {
        let password = PasswordInput::new(body.0.password);
        match accounts::authenticate(&state.0.db, &state.0.hasher, &body.0.username, &password)
            .await
        {
            Ok(user) => {
                session.login(&user).await.map_err(ApiError::from)?;
                Ok(LoginResponse::Ok(Json(user.into())))
            }
            Err(LoginError::InvalidCredentials) => Err(ApiError::new(
                poem::http::StatusCode::UNAUTHORIZED,
                "bad_credentials",
                accounts::BAD_CREDENTIALS,
            )
            .into()),
            Err(LoginError::Unexpected(e)) => Err(e.into()),
        }
    }

    /// Log out
    ///
    /// Ends the session everywhere: its row is deleted.
    #[oai(path = "/session", method = "delete", operation_id = "logout")]
    async fn logout(
        &self,
        _auth: SessionAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        session: Session,
    ) -> Result<LogoutResponse, Errors<LogoutErrors>> {
        session.logout().await.map_err(ApiError::from)?;
        Ok(LogoutResponse::LoggedOut("\"cookies\", \"storage\"".into()))
    }

    /// Get the CSRF token
    ///
    /// The token this browser's pages carry. Calls that change something with
    /// the session cookie must send it in `X-CSRF-Token`.
    #[oai(path = "/session/csrf", method = "get", operation_id = "csrf_token")]
    async fn csrf(&self, csrf: Csrf) -> CsrfResponse {
        CsrfResponse::Ok(Json(CsrfTokenObject {
            token: csrf.token(),
        }))
    }

    /// Who am I
    #[oai(path = "/me", method = "get", operation_id = "me")]
    async fn me(&self, auth: SessionAuth) -> Result<MeResponse, Errors<MeErrors>> {
        Ok(MeResponse::Ok(Json(auth.0.into())))
    }
}
