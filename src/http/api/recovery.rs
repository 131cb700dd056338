//! Forgotten passwords, and the account's own data: export and deletion.

use poem::{Request, http::StatusCode, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::{
    ApiTags,
    auth::ReadAuth,
    error::{ApiError, Errors, error_set},
    objects::Text,
};
use crate::{
    domain::PasswordInput,
    http::client,
    http::session::Session,
    services::export::ExportDocument,
    services::recovery::{self, ForgotError, ResetError},
    state::AppState,
};

pub struct RecoveryApi;

/// A forgotten password.
#[derive(Object)]
pub struct ForgotRequest {
    /// A username, or a verified email address (case does not matter).
    #[oai(validator(max_length = 254))]
    pub login: Text,
}

/// A new password, with the token of a reset link.
#[derive(Object)]
pub struct ResetRequest {
    /// The last part of the link's path (`/password/reset/{token}`).
    #[oai(validator(max_length = 64))]
    pub token: Text,
    /// The same rules as at sign-up; a refusal names its rule in `error`
    /// and leaves the token valid.
    pub new_password: Text,
}

/// The current password, to confirm a deletion.
#[derive(Object)]
pub struct DeleteAccountRequest {
    pub current_password: Text,
}

error_set! {
    ForgotErrors = [400, 403, 413, 415, 422, 429];
    ResetErrors = [400, 403, 413, 415, 422, 503];
    ExportErrors = [401];
}

#[derive(ApiResponse)]
pub enum ForgotResponse {
    /// Accepted, whatever the login names: if it names an account with a
    /// verified email address, a reset link is mailed to it.
    #[oai(status = 202)]
    Accepted,
}

#[derive(ApiResponse)]
pub enum ResetResponse {
    /// The password is reset: every session of the person has ended, and a
    /// fresh one starts here (its cookie is set, as at login).
    #[oai(status = 204)]
    Reset,
}

#[derive(ApiResponse)]
pub enum ExportResponse {
    /// Everything Tangerine holds about you, the same document as
    /// `GET /settings/export`.
    #[oai(status = 200)]
    Ok(Json<ExportDocument>),
}

#[OpenApi(tag = "ApiTags::Session")]
impl RecoveryApi {
    /// Forgot password
    ///
    /// Always 202 with the same timing, whether or not the account exists
    /// (no `X-CSRF-Token` needed). At most `--forgot-password-limit` (5 an
    /// hour) per account and `--forgot-password-limit-per-address` (20 an
    /// hour) per client address; beyond, 429 with `Retry-After`.
    #[oai(
        path = "/password/forgot",
        method = "post",
        operation_id = "forgot_password"
    )]
    async fn forgot(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<ForgotRequest>,
    ) -> Result<ForgotResponse, Errors<ForgotErrors>> {
        let client_ip = client::ip(req, state.0.settings.trust_proxy);
        match state
            .0
            .recovery
            .forgot(body.0.login.as_str(), client_ip)
            .await
        {
            Ok(()) => Ok(ForgotResponse::Accepted),
            Err(ForgotError::Throttled { retry_after }) => Err(ApiError {
                retry_after: Some(retry_after.as_secs()),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    recovery::forgot_throttled_message(retry_after),
                )
            }
            .into()),
            Err(ForgotError::Unexpected(e)) => Err(e.into()),
        }
    }

    /// Reset password
    ///
    /// With the token of a mailed link (no `X-CSRF-Token` needed). 400
    /// `invalid_token` for an unknown, used or expired token, or one whose
    /// account's password changed since; 422 with the rule's code for a
    /// password that breaks a rule.
    #[oai(
        path = "/password/reset",
        method = "post",
        operation_id = "reset_password"
    )]
    async fn reset(
        &self,
        state: Data<&AppState>,
        req: &Request,
        session: Session,
        body: Json<ResetRequest>,
    ) -> Result<ResetResponse, Errors<ResetErrors>> {
        let state = state.0;
        let client = client::info(req, state.settings.trust_proxy);
        let new = PasswordInput::new(body.0.new_password.0);
        match state
            .recovery
            .reset_password(body.0.token.as_str(), &new, None, &client)
            .await
        {
            Ok(who) => {
                session.login(&who, false).await.map_err(ApiError::from)?;
                Ok(ResetResponse::Reset)
            }
            Err(ResetError::Gone) => {
                Err(ApiError::bad_request("invalid_token", recovery::LINK_GONE).into())
            }
            Err(ResetError::Invalid(errors)) => Err(match errors.new {
                Some(rule) => ApiError::password(rule),
                None => ApiError::unprocessable(errors.new_confirm.unwrap_or_default()),
            }
            .into()),
            Err(ResetError::Suspended) => {
                Err(ApiError::forbidden("suspended", crate::services::accounts::SUSPENDED).into())
            }
            Err(ResetError::Busy) => Err(ApiError::busy().into()),
            Err(ResetError::Unexpected(e)) => Err(e.into()),
        }
    }

    /// Export your data
    #[oai(path = "/me/export", method = "get", operation_id = "export_me")]
    async fn export(
        &self,
        auth: ReadAuth,
        state: Data<&AppState>,
        session: Session,
    ) -> Result<ExportResponse, Errors<ExportErrors>> {
        let document = state.0.recovery.export(&auth.0, session.id()).await?;
        Ok(ExportResponse::Ok(Json(document)))
    }
}
