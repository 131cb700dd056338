//! Logging in and out, the CSRF token, and "me".

use poem::{Request, http::StatusCode, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json, types::Example};

use super::{
    ApiTags,
    auth::{CookieOnly, CsrfHeader, Open, ReadAuth, Reading, SessionAuth},
    error::{ApiError, Errors, error_set},
    objects::{Omittable, Text, UserObject},
};
use crate::{
    domain::PasswordInput,
    http::api::recovery::DeleteAccountRequest,
    http::client,
    http::csrf::Csrf,
    http::session::Session,
    services::accounts::{self, LoginAttempt, LoginError, PasswordChange, PasswordChangeError},
    services::recovery::ConfirmedError,
    state::AppState,
};

pub struct SessionApi;

/// A username and password.
#[derive(Object)]
#[oai(example)]
pub struct LoginRequest {
    /// Case does not matter.
    #[oai(validator(min_length = 1, max_length = 32))]
    pub username: Text,
    /// A password longer than any can be (256 characters) is a failed
    /// login like any other wrong one (401), checked without hashing.
    #[oai(validator(min_length = 1))]
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
    #[oai(validator(min_length = 1))]
    pub current_password: Text,
    /// At least `--password-min-length` (8) and at most 256 characters,
    /// taken whole; not a common password, not like the username, not all
    /// digits, and not the current one. A refusal names its rule in `error`.
    pub new_password: Text,
}

error_set! {
    PasswordErrors = [400, 401, 403, 413, 415, 422, 429, 503];
    LoginErrors = [400, 401, 403, 413, 415, 422, 429, 503];
    LogoutErrors = [401, 403];
    MeErrors = [401];
    CsrfErrors = [];
    DeleteErrors = [400, 401, 403, 413, 415, 422, 429, 503];
}

#[derive(ApiResponse)]
pub enum LoginResponse {
    /// Logged in. A fresh session starts, and its cookie is set exactly as the
    /// login page sets it; any session this client had is ended. The device
    /// cookie (`tangerine_device`) is set too: later logins from this client
    /// count their failures against it alone, so someone guessing the
    /// password elsewhere cannot lock it out.
    #[oai(status = 200)]
    Ok(Json<UserObject>),
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// Logged out: the session row is deleted (the pages are logged out too)
    /// and the session cookie expired. The device cookie stays.
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

#[derive(ApiResponse)]
pub enum DeleteResponse {
    /// The account, its sessions, tokens and posts are deleted; the
    /// username is free again.
    #[oai(status = 204)]
    Deleted,
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
        _auth: Open<CookieOnly>,
        state: Data<&AppState>,
        req: &Request,
        session: Session,
        body: Json<LoginRequest>,
    ) -> Result<LoginResponse, Errors<LoginErrors>> {
        let state = state.0;
        let password = PasswordInput::new(body.0.password.0);
        let device = session.known_device(body.0.username.as_str());
        let new_device = device.is_none();
        let attempt = state
            .accounts
            .log_in(LoginAttempt {
                username: body.0.username.as_str(),
                password: &password,
                client_ip: client::ip(req, state.settings.trust_proxy),
                device,
            })
            .await;
        match attempt {
            Ok(who) => {
                let remember = body.0.remember.0.unwrap_or(true);
                session
                    .login(&who, remember)
                    .await
                    .map_err(ApiError::from)?;
                if new_device {
                    let client = client::info(req, state.settings.trust_proxy);
                    state.recovery.new_login(&who.user, &client);
                }
                Ok(LoginResponse::Ok(Json(who.user.into())))
            }
            Err(LoginError::InvalidCredentials) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                accounts::BAD_CREDENTIALS,
            )
            .into()),
            Err(LoginError::Suspended) => {
                Err(ApiError::forbidden("suspended", accounts::SUSPENDED).into())
            }
            Err(LoginError::Throttled { retry_after }) => {
                Err(ApiError::too_many_failures(retry_after).into())
            }
            Err(LoginError::Busy) => Err(ApiError::busy().into()),
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
        Ok(LogoutResponse::LoggedOut(
            crate::http::web::accounts::CLEAR_ON_LOGOUT.into(),
        ))
    }

    /// Get the CSRF token
    ///
    /// The token this browser's pages carry. Calls that change something with
    /// the session cookie must send it in `X-CSRF-Token`.
    #[oai(path = "/session/csrf", method = "get", operation_id = "csrf_token")]
    async fn csrf(
        &self,
        _auth: Open<Reading>,
        csrf: Csrf,
    ) -> Result<CsrfResponse, Errors<CsrfErrors>> {
        Ok(CsrfResponse::Ok(Json(CsrfTokenObject {
            token: csrf.token(),
        })))
    }

    /// Change your password
    ///
    /// Needs the current password. A wrong one (422) counts as a failed login
    /// for your username. A new password that breaks a rule answers 422 with
    /// the rule's code in `error`.
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
        match state.accounts.change_password(&auth.0, change).await {
            Ok(epoch) => {
                session.renew_secret(epoch).await.map_err(ApiError::from)?;
                session.end_others().await.map_err(ApiError::from)?;
                let client = client::info(req, state.settings.trust_proxy);
                state.recovery.password_changed(&auth.0, &client);
                Ok(PasswordResponse::Changed)
            }
            // The wrong current password first: it is what the caller must fix.
            Err(PasswordChangeError::Invalid(errors)) => Err(match (errors.current, errors.new) {
                (Some(current), _) => ApiError::unprocessable(current),
                (None, Some(rule)) => ApiError::password(rule),
                (None, None) => ApiError::unprocessable(errors.new_confirm.unwrap_or_default()),
            }
            .into()),
            Err(PasswordChangeError::Throttled { retry_after }) => {
                Err(ApiError::too_many_failures(retry_after).into())
            }
            Err(PasswordChangeError::Busy) => Err(ApiError::busy().into()),
            Err(PasswordChangeError::Unexpected(e)) => Err(e.into()),
        }
    }

    /// Delete your account
    ///
    /// Needs the current password (a wrong one, 422, counts as a failed
    /// login for your username). Deletes the account, every session, token
    /// and post of it, at once.
    #[oai(path = "/me", method = "delete", operation_id = "delete_me")]
    async fn delete(
        &self,
        auth: SessionAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        session: Session,
        body: Json<DeleteAccountRequest>,
    ) -> Result<DeleteResponse, Errors<DeleteErrors>> {
        let password = PasswordInput::new(body.0.current_password.0);
        match state
            .0
            .recovery
            .delete_account(&auth.0, &password, None)
            .await
        {
            Ok(()) => {
                session.logout().await.map_err(ApiError::from)?;
                Ok(DeleteResponse::Deleted)
            }
            Err(ConfirmedError::Invalid(errors)) => Err(ApiError::unprocessable(
                errors.current_password.or(errors.other).unwrap_or_default(),
            )
            .into()),
            Err(ConfirmedError::Throttled { retry_after }) => {
                Err(ApiError::too_many_failures(retry_after).into())
            }
            Err(ConfirmedError::Busy) => Err(ApiError::busy().into()),
            Err(ConfirmedError::Unexpected(e)) => Err(e.into()),
        }
    }

    /// Who am I
    #[oai(path = "/me", method = "get", operation_id = "me")]
    async fn me(&self, auth: ReadAuth) -> Result<MeResponse, Errors<MeErrors>> {
        Ok(MeResponse::Ok(Json(auth.0.into())))
    }
}
