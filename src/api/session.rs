//! Logging in and out, the CSRF token, and "me".

use poem::{Request, http::StatusCode, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json, types::Example};

use super::{
    ApiTags,
    auth::{CsrfHeader, SessionAuth},
    error::{ApiError, Errors, error_set},
    objects::{Omittable, Text, UserObject},
};
use crate::{
    accounts::{self, LoginError, PasswordChange, PasswordChangeError},
    client,
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
    pub username: Text,
    #[oai(validator(min_length = 1, max_length = 256))]
    pub password: Text,
    /// Keep the session for the long idle time, with a lasting cookie
    /// (true), or end it after the short idle time and with the browser.
    /// Defaults to true.
    pub remember: Omittable<bool>,
}

impl Example for LoginRequest {
    fn example() -> Self {
        Self {
            username: "alice".into(),
            password: "correct horse battery".into(),
            remember: Omittable(Some(true)),
        }
    }
}

/// The CSRF token of this browser (or cookie jar).
#[derive(Object)]
pub struct CsrfTokenObject {
    /// Send it as `X-CSRF-Token` with every call that changes something.
    pub token: String,
}

/// A password change.
#[derive(Object)]
pub struct PasswordChangeRequest {
    #[oai(validator(min_length = 1, max_length = 256))]
    pub current_password: Text,
    /// 8–256 characters, taken whole.
    #[oai(validator(min_length = 8, max_length = 256))]
    pub new_password: Text,
}

error_set! {
    PasswordErrors = [400, 401, 403, 413, 415, 422, 429];
    LoginErrors = [400, 401, 413, 415, 422, 429];
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

#[derive(ApiResponse)]
pub enum PasswordResponse {
    /// Changed. Every other session of yours has ended, and this one has a
    /// new secret: the new cookie is set, and the old one no longer works.
    #[oai(status = 204)]
    Changed,
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
        req: &Request,
        session: Session,
        body: Json<LoginRequest>,
    ) -> Result<LoginResponse, Errors<LoginErrors>> {
        let state = state.0;
        let password = PasswordInput::new(body.0.password.0);
        let client_ip = client::ip(req, state.settings.trust_proxy);
        let attempt = accounts::log_in(
            &state.db,
            &state.hasher,
            &state.throttle,
            body.0.username.as_str(),
            &password,
            client_ip,
        )
        .await;
        match attempt {
            Ok(user) => {
                let remember = body.0.remember.0.unwrap_or(true);
                session
                    .login(&user, remember)
                    .await
                    .map_err(ApiError::from)?;
                Ok(LoginResponse::Ok(Json(user.into())))
            }
            Err(LoginError::InvalidCredentials) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                accounts::BAD_CREDENTIALS,
            )
            .into()),
            Err(LoginError::Throttled { retry_after }) => {
                Err(ApiError::too_many_failures(retry_after).into())
            }
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

    /// Change your password
    ///
    /// Needs the current password. A wrong one (422) counts as a failed login.
    #[oai(
        path = "/me/password",
        method = "put",
        operation_id = "change_password"
    )]
    async fn change_password(
        &self,
        auth: SessionAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        req: &Request,
        session: Session,
        body: Json<PasswordChangeRequest>,
    ) -> Result<PasswordResponse, Errors<PasswordErrors>> {
        let state = state.0;
        let current = PasswordInput::new(body.0.current_password.0);
        let new = PasswordInput::new(body.0.new_password.0);
        let change = PasswordChange {
            current: &current,
            new: &new,
            new_confirm: None,
        };
        let client_ip = client::ip(req, state.settings.trust_proxy);
        match accounts::change_password(
            &state.db,
            &state.hasher,
            &state.throttle,
            &auth.0,
            change,
            client_ip,
        )
        .await
        {
            Ok(()) => {
                session.end_others().await.map_err(ApiError::from)?;
                session.renew_secret().await.map_err(ApiError::from)?;
                Ok(PasswordResponse::Changed)
            }
            Err(PasswordChangeError::Invalid(errors)) => {
                let message = [errors.current, errors.new, errors.new_confirm]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                Err(ApiError::unprocessable(message).into())
            }
            Err(PasswordChangeError::Throttled { retry_after }) => {
                Err(ApiError::too_many_failures(retry_after).into())
            }
            Err(PasswordChangeError::Unexpected(e)) => Err(e.into()),
        }
    }

    /// Who am I
    #[oai(path = "/me", method = "get", operation_id = "me")]
    async fn me(&self, auth: SessionAuth) -> Result<MeResponse, Errors<MeErrors>> {
        Ok(MeResponse::Ok(Json(auth.0.into())))
    }
}
