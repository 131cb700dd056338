//! The staff's powers in the API: people, suspension, sessions, roles,
//! removing posts, the report queue and the moderation log; and reporting a
//! post, for every member.
//!
//! Each operation checks the caller's role before it looks anything up: a
//! member gets 403 even for a name or id that does not exist.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{
    ApiTags,
    auth::{Access, Auth, CsrfHeader, ReadAuth, WriteAuth},
    error::{ApiError, Errors, error_set},
    objects::{Omittable, Text},
};
use crate::{
    domain::{Role, User},
    services::moderation::{
        self, Actor, LogAudience, ModerationError, PersonSummary, Resolution, StoredLogEntry,
    },
    state::AppState,
};

pub struct AdminApi;

error_set! {
    ListErrors = [400, 401, 403];
    ActErrors = [400, 401, 403, 404, 409, 413, 415, 422];
    ReportErrors = [400, 401, 403, 404, 409, 413, 415, 422];
}

fn moderation_error(e: ModerationError) -> ApiError {
    match e {
        ModerationError::Forbidden(m) => ApiError::forbidden("forbidden", m),
        ModerationError::NotFound(m) => ApiError::not_found(m),
        ModerationError::Refused(m) => ApiError::conflict("refused", m),
        ModerationError::Invalid(m) => ApiError::unprocessable(m),
        ModerationError::AlreadyReported => {
            ApiError::conflict("already_reported", moderation::ALREADY_REPORTED)
        }
        ModerationError::Unexpected(e) => ApiError::internal(e),
    }
}

/// The caller, if staff; 403 otherwise, before anything is read.
fn staff<A: Access>(auth: Auth<A>) -> Result<Actor, ApiError> {
    if auth.0.role.is_staff() {
        Ok(Actor::Staff(auth.0))
    } else {
        Err(ApiError::forbidden("forbidden", moderation::STAFF_ONLY))
    }
}

fn admin<A: Access>(auth: Auth<A>) -> Result<Actor, ApiError> {
    if auth.0.role.is_admin() {
        Ok(Actor::Staff(auth.0))
    } else {
        Err(ApiError::forbidden("forbidden", moderation::ADMINS_ONLY))
    }
}

/// A role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum RoleName {
    Member,
    Moderator,
    Admin,
}

impl From<Role> for RoleName {
    fn from(r: Role) -> Self {
        match r {
            Role::Member => RoleName::Member,
            Role::Moderator => RoleName::Moderator,
            Role::Admin => RoleName::Admin,
        }
    }
}

impl From<RoleName> for Role {
    fn from(r: RoleName) -> Self {
        match r {
            RoleName::Member => Role::Member,
            RoleName::Moderator => Role::Moderator,
            RoleName::Admin => Role::Admin,
        }
    }
}

/// A person as staff see them.
#[derive(Debug, Clone, Object)]
pub struct PersonObject {
    pub id: Uuid,
    pub username: String,
    pub role: RoleName,
    pub suspended: bool,
    #[oai(nullable)]
    pub suspension_reason: Option<String>,
    pub joined_at: DateTime<Utc>,
    /// The latest use of any of their sessions still stored.
    #[oai(nullable)]
    pub last_active_at: Option<DateTime<Utc>>,
    pub posts: i64,
    pub live_sessions: i64,
}

impl From<PersonSummary> for PersonObject {
    fn from(p: PersonSummary) -> Self {
        Self {
            id: p.person.user.id,
            username: p.person.user.username,
            role: p.person.user.role.into(),
            suspended: p.person.suspended_at.is_some(),
            suspension_reason: p.person.suspension_reason,
            joined_at: p.person.created_at,
            last_active_at: p.last_active,
            posts: p.posts,
            live_sessions: p.sessions,
        }
    }
}

/// A page of people, by name.
#[derive(Debug, Clone, Object)]
pub struct PeoplePage {
    pub people: Vec<PersonObject>,
    /// Pass as `before` for the next page; null on the last page.
    #[oai(nullable)]
    pub next: Option<String>,
}

/// A reason, up to 500 characters (may be empty).
#[derive(Debug, Object)]
pub struct ReasonBody {
    #[oai(validator(max_length = 500))]
    pub reason: Omittable<Text>,
}

/// A reason for a report: 1–500 characters, not all blank.
#[derive(Debug, Object)]
pub struct ReportBody {
    #[oai(validator(min_length = 1, max_length = 500))]
    pub reason: Text,
}

#[derive(Debug, Object)]
pub struct RoleBody {
    pub role: RoleName,
}

/// A person's account and new role.
#[derive(Debug, Clone, Object)]
pub struct RoleObject {
    pub username: String,
    pub role: RoleName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ResolveAction {
    /// Remove the post (every report on it closes).
    Remove,
    /// Leave the post up and close every open report on it.
    Dismiss,
}

#[derive(Debug, Object)]
pub struct ResolveBody {
    pub action: ResolveAction,
}

/// A report in the queue.
#[derive(Debug, Clone, Object)]
pub struct ReportObject {
    pub id: Uuid,
    pub post_id: Uuid,
    pub post_title: String,
    pub author: String,
    pub reporter: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct ReportList {
    /// Open reports, oldest first.
    pub reports: Vec<ReportObject>,
}

/// A report just made.
#[derive(Debug, Clone, Object)]
pub struct ReportMade {
    pub id: Uuid,
}

/// An entry of the moderation log.
#[derive(Debug, Clone, Object)]
pub struct LogEntryObject {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// `remove_post`, `suspend`, `reinstate`, `end_sessions`, `change_role`,
    /// `create_invite`, `revoke_invite`, `dismiss_report` or `set_password`.
    pub action: String,
    /// The moderator's name, `[deleted]`, or `command line`.
    pub actor: String,
    #[oai(nullable)]
    pub target: Option<String>,
    #[oai(nullable)]
    pub post_id: Option<Uuid>,
    #[oai(nullable)]
    pub post_title: Option<String>,
    #[oai(nullable)]
    pub detail: Option<String>,
    #[oai(nullable)]
    pub reason: Option<String>,
}

impl From<StoredLogEntry> for LogEntryObject {
    fn from(e: StoredLogEntry) -> Self {
        Self {
            id: e.id,
            at: e.created_at,
            actor: moderation::shown_name(e.actor_id, e.actor_name.as_deref(), "command line"),
            target: e
                .target_name
                .as_deref()
                .map(|n| moderation::shown_name(e.target_user_id, Some(n), "")),
            action: e.action,
            post_id: e.post_id,
            post_title: e.post_title,
            detail: e.detail,
            reason: e.reason,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct LogPage {
    pub entries: Vec<LogEntryObject>,
    /// Pass as `before` for older entries; null on the last page.
    #[oai(nullable)]
    pub next: Option<String>,
}

#[derive(ApiResponse)]
pub enum PeopleResponse {
    /// People by name.
    #[oai(status = 200)]
    Ok(Json<PeoplePage>),
}

#[derive(ApiResponse)]
pub enum DoneResponse {
    /// Done.
    #[oai(status = 204)]
    Done,
}

#[derive(ApiResponse)]
pub enum RoleResponse {
    /// The person now has the role.
    #[oai(status = 200)]
    Ok(Json<RoleObject>),
}

#[derive(ApiResponse)]
pub enum ReportsResponse {
    /// The open reports.
    #[oai(status = 200)]
    Ok(Json<ReportList>),
}

#[derive(ApiResponse)]
pub enum LogResponse {
    /// The moderation log, newest first.
    #[oai(status = 200)]
    Ok(Json<LogPage>),
}

#[derive(ApiResponse)]
pub enum ReportResponse {
    /// Reported; moderators see it in their queue.
    #[oai(status = 201)]
    Created(Json<ReportMade>),
}

fn default_limit() -> u64 {
    50
}

fn uuid_of(raw: &str, missing: &'static str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(raw).map_err(|_| ApiError::not_found(missing))
}

fn reason_of(body: &ReasonBody) -> Result<Option<String>, ApiError> {
    moderation::reason(body.reason.as_ref().map(Text::as_str)).map_err(moderation_error)
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminApi {
    /// List people (moderators and admins)
    ///
    /// By name; `q` keeps those whose name contains it. Pass the page's
    /// `next` as `before` for the next page.
    #[oai(
        path = "/admin/users",
        method = "get",
        operation_id = "admin_list_users"
    )]
    async fn list_users(
        &self,
        auth: ReadAuth,
        state: Data<&AppState>,
        /// Part of a name.
        #[oai(validator(max_length = 32))]
        q: Query<Option<String>>,
        /// The `next` of the previous page.
        #[oai(validator(max_length = 32))]
        before: Query<Option<String>>,
        /// How many people, 1–100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u64>,
    ) -> Result<PeopleResponse, Errors<ListErrors>> {
        let actor = staff(auth)?;
        let mut people = state
            .0
            .moderation
            .people(&actor, q.0.as_deref(), before.0.as_deref(), limit.0 + 1)
            .await
            .map_err(moderation_error)?;
        let more = people.len() as u64 > limit.0;
        people.truncate(limit.0 as usize);
        let next = more
            .then(|| people.last().map(|p| p.person.user.username.clone()))
            .flatten();
        Ok(PeopleResponse::Ok(Json(PeoplePage {
            people: people.into_iter().map(Into::into).collect(),
            next,
        })))
    }

    /// Suspend a person (moderators: members only; admins: anyone)
    ///
    /// Ends every session they have at once and stops them logging in.
    /// Nobody suspends themselves; the last active admin cannot be suspended.
    #[oai(
        path = "/admin/users/:username/suspend",
        method = "post",
        operation_id = "admin_suspend"
    )]
    async fn suspend(
        &self,
        auth: WriteAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        username: Path<String>,
        body: Json<ReasonBody>,
    ) -> Result<DoneResponse, Errors<ActErrors>> {
        let actor = staff(auth)?;
        let reason = reason_of(&body.0)?;
        state
            .0
            .moderation
            .suspend(&actor, &username.0, reason)
            .await
            .map_err(moderation_error)?;
        Ok(DoneResponse::Done)
    }

    /// Reinstate a suspended person (moderators: members only; admins: anyone)
    #[oai(
        path = "/admin/users/:username/reinstate",
        method = "post",
        operation_id = "admin_reinstate"
    )]
    async fn reinstate(
        &self,
        auth: WriteAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        username: Path<String>,
    ) -> Result<DoneResponse, Errors<ActErrors>> {
        let actor = staff(auth)?;
        state
            .0
            .moderation
            .reinstate(&actor, &username.0)
            .await
            .map_err(moderation_error)?;
        Ok(DoneResponse::Done)
    }

    /// End every session of a person (moderators: members only; admins: anyone)
    ///
    /// Not for oneself: your own sessions end from `/api/me/sessions`.
    #[oai(
        path = "/admin/users/:username/end-sessions",
        method = "post",
        operation_id = "admin_end_sessions"
    )]
    async fn end_sessions(
        &self,
        auth: WriteAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        username: Path<String>,
    ) -> Result<DoneResponse, Errors<ActErrors>> {
        let actor = staff(auth)?;
        state
            .0
            .moderation
            .end_sessions(&actor, &username.0)
            .await
            .map_err(moderation_error)?;
        Ok(DoneResponse::Done)
    }

    /// Change a person's role (admins)
    ///
    /// Applies to their live sessions on their next request. Nobody changes
    /// their own role; the last active admin cannot be demoted.
    #[oai(
        path = "/admin/users/:username/role",
        method = "put",
        operation_id = "admin_set_role"
    )]
    async fn set_role(
        &self,
        auth: WriteAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        username: Path<String>,
        body: Json<RoleBody>,
    ) -> Result<RoleResponse, Errors<ActErrors>> {
        let actor = admin(auth)?;
        let person = state
            .0
            .moderation
            .set_role(&actor, &username.0, body.0.role.into())
            .await
            .map_err(moderation_error)?;
        Ok(RoleResponse::Ok(Json(RoleObject {
            username: person.user.username,
            role: person.user.role.into(),
        })))
    }

    /// Remove a post (moderators and admins)
    ///
    /// Deletes it as its author's delete does, and records it in the log.
    #[oai(
        path = "/admin/posts/:id/remove",
        method = "post",
        operation_id = "admin_remove_post"
    )]
    async fn remove_post(
        &self,
        auth: WriteAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        id: Path<String>,
        body: Json<ReasonBody>,
    ) -> Result<DoneResponse, Errors<ActErrors>> {
        let actor = staff(auth)?;
        let id = uuid_of(&id.0, moderation::NO_SUCH_POST)?;
        let reason = reason_of(&body.0)?;
        state
            .0
            .moderation
            .remove_post(&actor, id, reason)
            .await
            .map_err(moderation_error)?;
        Ok(DoneResponse::Done)
    }

    /// List open reports (moderators and admins)
    #[oai(
        path = "/admin/reports",
        method = "get",
        operation_id = "admin_list_reports"
    )]
    async fn reports(
        &self,
        auth: ReadAuth,
        state: Data<&AppState>,
    ) -> Result<ReportsResponse, Errors<ListErrors>> {
        let actor = staff(auth)?;
        let queue = state
            .0
            .moderation
            .report_queue(&actor)
            .await
            .map_err(moderation_error)?;
        let reports = queue
            .into_iter()
            .flat_map(|q| q.reports)
            .map(|r| ReportObject {
                id: r.id,
                post_id: r.post_id,
                post_title: r.post_title,
                author: r.author,
                reporter: r.reporter,
                reason: r.reason,
                created_at: r.created_at,
            })
            .collect();
        Ok(ReportsResponse::Ok(Json(ReportList { reports })))
    }

    /// Resolve a report (moderators and admins)
    ///
    /// `remove` removes the post; `dismiss` leaves it up. Either closes every
    /// open report on the post.
    #[oai(
        path = "/admin/reports/:id/resolve",
        method = "post",
        operation_id = "admin_resolve_report"
    )]
    async fn resolve(
        &self,
        auth: WriteAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        id: Path<String>,
        body: Json<ResolveBody>,
    ) -> Result<DoneResponse, Errors<ActErrors>> {
        let actor = staff(auth)?;
        let id = uuid_of(&id.0, moderation::NO_SUCH_REPORT)?;
        let how = match body.0.action {
            ResolveAction::Remove => Resolution::Remove,
            ResolveAction::Dismiss => Resolution::Dismiss,
        };
        state
            .0
            .moderation
            .resolve_report(&actor, id, how)
            .await
            .map_err(moderation_error)?;
        Ok(DoneResponse::Done)
    }

    /// Read the moderation log (moderators and admins)
    ///
    /// Newest first; pass the page's `next` as `before` for older entries.
    #[oai(path = "/admin/log", method = "get", operation_id = "admin_log")]
    async fn log(
        &self,
        auth: ReadAuth,
        state: Data<&AppState>,
        /// The `next` of the previous page.
        before: Query<Option<String>>,
        /// How many entries, 1–100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u64>,
    ) -> Result<LogResponse, Errors<ListErrors>> {
        staff(auth)?;
        let before = match before.0.as_deref() {
            Some(raw) => Some(Uuid::try_parse(raw).map_err(|_| {
                ApiError::bad_request("bad_cursor", "`before` is not a cursor this API gave.")
            })?),
            None => None,
        };
        let mut entries = state
            .0
            .moderation
            .log_page(LogAudience::Staff, before, limit.0 + 1)
            .await
            .map_err(moderation_error)?;
        let more = entries.len() as u64 > limit.0;
        entries.truncate(limit.0 as usize);
        let next = more
            .then(|| entries.last().map(|e| e.id.to_string()))
            .flatten();
        Ok(LogResponse::Ok(Json(LogPage {
            entries: entries.into_iter().map(Into::into).collect(),
            next,
        })))
    }

    /// Report a post (any logged-in member)
    ///
    /// One open report per person per post: a second answers 409.
    #[oai(
        path = "/posts/:id/report",
        method = "post",
        operation_id = "report_post",
        tag = "ApiTags::Posts"
    )]
    async fn report(
        &self,
        auth: WriteAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        id: Path<String>,
        body: Json<ReportBody>,
    ) -> Result<ReportResponse, Errors<ReportErrors>> {
        let reporter: User = auth.0;
        let id = uuid_of(&id.0, moderation::NO_SUCH_POST)?;
        let made = state
            .0
            .moderation
            .report(&reporter, id, body.0.reason.as_str())
            .await
            .map_err(moderation_error)?;
        Ok(ReportResponse::Created(Json(ReportMade { id: made })))
    }
}
