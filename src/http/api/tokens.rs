//! A person's personal access tokens: making, listing and revoking them.
//! Only with the session cookie: a token cannot manage tokens.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi, param::Path, payload::Json, types::Example,
};
use uuid::Uuid;

use super::{
    ApiTags,
    auth::{CsrfHeader, SessionAuth},
    error::{ApiError, Errors, error_set},
    objects::Text,
};
use crate::{
    domain::token::{Scope, Token},
    services::tokens::{CreateError, TokenInput},
    state::AppState,
};

pub struct TokensApi;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ScopeName {
    /// Every reading operation (`GET`), and nothing else.
    Read,
    /// Everything a person may do, except managing tokens, sessions and the
    /// password, and deleting the account.
    Write,
}

impl From<Scope> for ScopeName {
    fn from(s: Scope) -> Self {
        match s {
            Scope::Read => ScopeName::Read,
            Scope::Write => ScopeName::Write,
        }
    }
}

impl ScopeName {
    fn as_str(self) -> &'static str {
        match self {
            ScopeName::Read => Scope::Read.as_str(),
            ScopeName::Write => Scope::Write.as_str(),
        }
    }
}

/// One of your tokens. Never its secret.
#[derive(Debug, Object)]
#[oai(example)]
pub struct TokenObject {
    /// The token's public id, for revoking it.
    pub id: Uuid,
    pub name: String,
    pub scope: ScopeName,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When it last authenticated a request (to the minute); null if never.
    #[oai(nullable)]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<Token> for TokenObject {
    fn from(t: Token) -> Self {
        Self {
            id: t.id,
            name: t.name,
            scope: t.scope.into(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
        }
    }
}

impl Example for TokenObject {
    fn example() -> Self {
        Self {
            id: Uuid::nil(),
            name: "backup script".into(),
            scope: ScopeName::Read,
            created_at: DateTime::UNIX_EPOCH,
            expires_at: DateTime::UNIX_EPOCH + chrono::TimeDelta::days(30),
            last_used_at: None,
        }
    }
}

/// A token just made, with its secret: shown here only, never again.
#[derive(Debug, Object)]
#[oai(example)]
pub struct NewTokenObject {
    pub id: Uuid,
    pub name: String,
    pub scope: ScopeName,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Always null: it has not been used yet.
    #[oai(nullable)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The secret, `tgr_` and 43 characters: send it as
    /// `Authorization: Bearer <token>`. Only its hash is kept.
    pub token: String,
}

impl Example for NewTokenObject {
    fn example() -> Self {
        let t = TokenObject::example();
        Self {
            id: t.id,
            name: t.name,
            scope: t.scope,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: None,
            token: "tgr_3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        }
    }
}

/// A new token.
#[derive(Object)]
#[oai(example)]
pub struct NewTokenRequest {
    /// What it is for: 1–100 characters, no control characters; trimmed.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: Text,
    pub scope: ScopeName,
    /// Its lifetime in days: 7, 30, 90 or 365.
    pub expires_in_days: i64,
}

impl Example for NewTokenRequest {
    fn example() -> Self {
        Self {
            name: "backup script".into(),
            scope: ScopeName::Read,
            expires_in_days: 30,
        }
    }
}

error_set! {
    ListErrors = [403];
    CreateErrors = [400, 403, 409, 413, 415, 422];
    RevokeErrors = [403, 404];
}

#[derive(ApiResponse)]
pub enum ListResponse {
    /// Your live tokens, newest first.
    #[oai(status = 200)]
    Ok(Json<Vec<TokenObject>>),
}

#[derive(ApiResponse)]
pub enum CreateResponse {
    /// Made. `token` is the secret: copy it now, it is never shown again.
    #[oai(status = 201)]
    Created(Json<NewTokenObject>),
}

#[derive(ApiResponse)]
pub enum RevokeResponse {
    /// Revoked: the token's very next request gets 401, on every instance.
    #[oai(status = 204)]
    Revoked,
}

#[OpenApi(tag = "ApiTags::Tokens")]
impl TokensApi {
    /// List your tokens
    ///
    /// Name, scope, when each was made, expires and was last used. Never the secret.
    #[oai(path = "/tokens", method = "get", operation_id = "list_tokens")]
    async fn list(
        &self,
        auth: SessionAuth,
        state: Data<&AppState>,
    ) -> Result<ListResponse, Errors<ListErrors>> {
        let list = state.0.tokens.list(&auth.0).await?;
        Ok(ListResponse::Ok(Json(
            list.into_iter().map(Into::into).collect(),
        )))
    }

    /// Make a token
    ///
    /// A personal access token for scripts: `read` or `write`, for 7, 30, 90
    /// or 365 days. A password change does not end it; suspension does.
    #[oai(path = "/tokens", method = "post", operation_id = "create_token")]
    async fn create(
        &self,
        auth: SessionAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        body: Json<NewTokenRequest>,
    ) -> Result<CreateResponse, Errors<CreateErrors>> {
        let input = TokenInput {
            name: body.0.name.as_str(),
            scope: body.0.scope.as_str(),
            expires_in_days: body.0.expires_in_days,
        };
        let max = state.0.settings.max_tokens_per_user;
        match state.0.tokens.create(&auth.0, input, max).await {
            Ok(created) => {
                let t = created.token;
                Ok(CreateResponse::Created(Json(NewTokenObject {
                    id: t.id,
                    name: t.name,
                    scope: t.scope.into(),
                    created_at: t.created_at,
                    expires_at: t.expires_at,
                    last_used_at: t.last_used_at,
                    token: created.secret.encode(),
                })))
            }
            Err(CreateError::Invalid(errors)) => {
                Err(ApiError::unprocessable(errors.message()).into())
            }
            Err(CreateError::TooMany { limit }) => Err(ApiError::conflict(
                "too_many_tokens",
                CreateError::too_many_message(limit),
            )
            .into()),
            Err(CreateError::Unexpected(e)) => Err(e.into()),
        }
    }

    /// Revoke a token
    ///
    /// Another person's token id is answered exactly like an unknown one: 404.
    #[oai(path = "/tokens/:id", method = "delete", operation_id = "revoke_token")]
    async fn revoke(
        &self,
        auth: SessionAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        id: Path<String>,
    ) -> Result<RevokeResponse, Errors<RevokeErrors>> {
        if state.0.tokens.revoke(&auth.0, &id.0).await? {
            Ok(RevokeResponse::Revoked)
        } else {
            Err(ApiError::not_found("There is no such token of yours.").into())
        }
    }
}
