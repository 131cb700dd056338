//! A person's sessions: where they are logged in, and ending any of them.

use anyhow::Context;
use chrono::{DateTime, Utc};
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{
    ApiTags,
    auth::{CsrfHeader, ReadAuth, SessionAuth},
    error::{ApiError, Errors, error_set},
};
use crate::{
    http::session::{Revoked, Session},
    services::sessions::listing::SessionSummary,
    state::AppState,
};

pub struct SessionsApi;

/// One of your live sessions. Never its secret, nor its hash.
#[derive(Debug, Object)]
pub struct SessionObject {
    /// The session's public id, for ending it.
    pub id: Uuid,
    /// The browser, read from its user agent.
    pub browser: String,
    /// The operating system, read from its user agent.
    pub os: String,
    /// The address it was last used from.
    #[oai(nullable)]
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// When it ends if left unused.
    pub expires_at: DateTime<Utc>,
    /// Started with "Remember me".
    pub remember: bool,
    /// The session this request came with.
    pub current: bool,
}

impl From<SessionSummary> for SessionObject {
    fn from(s: SessionSummary) -> Self {
        Self {
            id: s.id,
            browser: s.device.browser,
            os: s.device.os,
            ip: s.ip,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            remember: s.remember,
            current: s.current,
        }
    }
}

error_set! {
    ListErrors = [401];
    RevokeErrors = [401, 403, 404];
}

#[derive(ApiResponse)]
pub enum ListResponse {
    /// Your live sessions, most recently used first.
    #[oai(status = 200)]
    Ok(Json<Vec<SessionObject>>),
}

#[derive(ApiResponse)]
pub enum RevokeResponse {
    /// Ended: its very next request is anonymous, on every instance.
    #[oai(status = 204)]
    Ended,
}

#[OpenApi(tag = "ApiTags::Session")]
impl SessionsApi {
    /// List your sessions
    ///
    /// Where you are logged in: browser, system, address, when each started
    /// and was last used, and which one is this one.
    #[oai(path = "/sessions", method = "get", operation_id = "list_sessions")]
    async fn list(
        &self,
        auth: ReadAuth,
        state: poem::web::Data<&AppState>,
        session: Session,
    ) -> Result<ListResponse, Errors<ListErrors>> {
        let sessions = state
            .0
            .sessions
            .list(&auth.0, session.id())
            .await
            .context("Failed to list sessions")?;
        Ok(ListResponse::Ok(Json(
            sessions.into_iter().map(Into::into).collect(),
        )))
    }

    /// End a session
    ///
    /// Ends one of your sessions (ending the current one logs out). Another
    /// person's session id is answered exactly like an unknown one: 404.
    #[oai(
        path = "/sessions/:id",
        method = "delete",
        operation_id = "revoke_session"
    )]
    async fn revoke(
        &self,
        _auth: SessionAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        session: Session,
        id: Path<String>,
    ) -> Result<RevokeResponse, Errors<RevokeErrors>> {
        let not_found = || ApiError::not_found("There is no such session of yours.");
        let id = Uuid::try_parse(&id.0).map_err(|_| not_found())?;
        match session.revoke(id).await.map_err(ApiError::from)? {
            Revoked::ThisSession | Revoked::Other => Ok(RevokeResponse::Ended),
            Revoked::NotTheirs => Err(not_found().into()),
        }
    }
}
