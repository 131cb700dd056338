//! The staff pages under `/admin`, the moderators' controls on posts, the
//! report form, and the public moderation log at `/moderation`.
//!
//! The role is checked (by [`Staff`] and [`AdminOnly`]) before anything is
//! looked up, so a member gets 403 from every staff route, even for a name
//! or id that does not exist.

use minijinja::context;
use poem::{
    FromRequest, IntoResponse, Request, RequestBody, Route, get, handler,
    http::StatusCode,
    post,
    web::{Data, Form, Path, Query},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    error::{WebError, WebResult},
    format::TimeView,
    render::View,
    result::Refusal,
};
use crate::{
    domain::{Role, User, session::now, user_agent},
    http::session::Session,
    services::moderation::{
        self, Actor, LogAudience, ModerationError, PersonSummary, Resolution, StoredLogEntry,
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/admin", get(index))
        .at("/admin/users/:username", get(show_person))
        .at("/admin/users/:username/suspend", post(suspend))
        .at("/admin/users/:username/reinstate", post(reinstate))
        .at("/admin/users/:username/end-sessions", post(end_sessions))
        .at("/admin/users/:username/role", post(change_role))
        .at("/admin/reports", get(reports))
        .at("/admin/reports/:id/remove", post(resolve_remove))
        .at("/admin/reports/:id/dismiss", post(resolve_dismiss))
        .at("/admin/log", get(staff_log))
        .at("/admin/invites", get(invites_page).post(create_invite))
        .at("/admin/invites/:id/revoke", post(revoke_invite))
        .at("/moderation", get(public_log))
        .at("/posts/:id/remove", get(remove_form).post(remove_post))
        .at("/posts/:id/report", get(report_form).post(report_post))
}

const PEOPLE_PAGE: &str = "pages/admin/index.html";
const PEOPLE: &str = "fragments/admin/people.html";
const PERSON_PAGE: &str = "pages/admin/person.html";
const PERSON: &str = "fragments/admin/person.html";
const REPORTS_PAGE: &str = "pages/admin/reports.html";
const REPORTS: &str = "fragments/admin/reports.html";
const LOG_PAGE: &str = "pages/admin/log.html";
const PUBLIC_LOG_PAGE: &str = "pages/moderation/index.html";
const LOG: &str = "fragments/admin/log.html";
const INVITES_PAGE: &str = "pages/admin/invites.html";
const INVITES: &str = "fragments/admin/invites.html";
const REMOVE_PAGE: &str = "pages/posts/remove.html";
const REPORT_PAGE: &str = "pages/posts/report.html";
const REPORT_FORM: &str = "fragments/posts/report_form.html";
const REPORTED: &str = "fragments/posts/reported.html";

/// People per page of `/admin`.
const PEOPLE_PER_PAGE: u64 = 50;
/// Entries per page of the log.
const LOG_PER_PAGE: u64 = 50;

/// A moderator or an admin; anyone else is refused before anything is read.
pub struct Staff(pub User);

impl<'a> FromRequest<'a> for Staff {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        match Session::of(req)?.user() {
            Some(user) if user.role.is_staff() => Ok(Staff(user)),
            Some(_) => Err(WebError::Forbidden(moderation::STAFF_ONLY).into()),
            None => Err(WebError::LoginRequired.into()),
        }
    }
}

/// An admin; anyone else is refused before anything is read.
pub struct AdminOnly(pub User);

impl<'a> FromRequest<'a> for AdminOnly {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        match Session::of(req)?.user() {
            Some(user) if user.role.is_admin() => Ok(AdminOnly(user)),
            Some(_) => Err(WebError::Forbidden(moderation::ADMINS_ONLY).into()),
            None => Err(WebError::LoginRequired.into()),
        }
    }
}

impl From<ModerationError> for WebError {
    fn from(e: ModerationError) -> Self {
        match e {
            ModerationError::Forbidden(m) => WebError::Forbidden(m),
            ModerationError::NotFound(m) => WebError::NotFound(m),
            ModerationError::Refused(m) => WebError::Conflict(m.to_owned()),
            ModerationError::Invalid(m) => WebError::BadRequest(m),
            ModerationError::AlreadyReported => {
                WebError::Conflict(moderation::ALREADY_REPORTED.to_owned())
            }
            ModerationError::Unexpected(e) => WebError::Unexpected(e),
        }
    }
}

#[derive(Serialize)]
struct PersonRow {
    username: String,
    role: Role,
    suspended: bool,
    joined: TimeView,
    last_active: Option<TimeView>,
    posts: i64,
    sessions: i64,
}

impl From<PersonSummary> for PersonRow {
    fn from(p: PersonSummary) -> Self {
        let t = now();
        Self {
            username: p.person.user.username,
            role: p.person.user.role,
            suspended: p.person.suspended_at.is_some(),
            joined: TimeView::ago(p.person.created_at, t),
            last_active: p.last_active.map(|l| TimeView::ago(l, t)),
            posts: p.posts,
            sessions: p.sessions,
        }
    }
}

#[derive(Deserialize)]
struct PeopleQuery {
    q: Option<String>,
    after: Option<String>,
}

#[handler]
async fn index(
    view: View,
    Staff(me): Staff,
    Data(state): Data<&AppState>,
    Query(query): Query<PeopleQuery>,
) -> WebResult {
    let q = query.q.unwrap_or_default();
    let q = q.trim();
    let actor = Actor::Staff(me);
    let people = state
        .moderation
        .people(
            &actor,
            Some(q).filter(|q| !q.is_empty()),
            query.after.as_deref(),
            PEOPLE_PER_PAGE + 1,
        )
        .await?;
    let more = people.len() as u64 > PEOPLE_PER_PAGE;
    let people: Vec<PersonRow> = people
        .into_iter()
        .take(PEOPLE_PER_PAGE as usize)
        .map(Into::into)
        .collect();
    let next_url = more.then(|| {
        let last = people
            .last()
            .map(|p| p.username.clone())
            .unwrap_or_default();
        let mut url = format!("/admin?after={last}");
        if !q.is_empty() {
            url.push_str("&q=");
            url.push_str(
                &percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC)
                    .to_string(),
            );
        }
        url
    });
    view.render(
        PEOPLE_PAGE,
        PEOPLE,
        context! { people => v(&people), q, next_url, section => "people" },
    )
}

#[derive(Serialize)]
struct PersonView {
    person: PersonRow,
    suspension_reason: Option<String>,
    posts: Vec<PostLine>,
    sessions: Vec<SessionLine>,
    /// This viewer may change the person's role.
    can_change_role: bool,
    /// This viewer may suspend, reinstate and end sessions.
    can_act: bool,
    is_self: bool,
    roles: [Role; 3],
    error: Option<String>,
    reason: String,
}

#[derive(Serialize)]
struct PostLine {
    id: Uuid,
    title: String,
    created: TimeView,
}

#[derive(Serialize)]
struct SessionLine {
    browser: String,
    os: String,
    ip: Option<String>,
    last_active: TimeView,
}

async fn person_view(
    state: &AppState,
    me: &User,
    username: &str,
    error: Option<String>,
    reason: String,
) -> WebResult<PersonView> {
    let detail = state
        .moderation
        .person_detail(&Actor::Staff(me.clone()), username)
        .await?;
    let t = now();
    let target_role = detail.summary.person.user.role;
    let is_self = detail.summary.person.user.id == me.id;
    Ok(PersonView {
        suspension_reason: detail.summary.person.suspension_reason.clone(),
        person: detail.summary.into(),
        posts: detail
            .posts
            .into_iter()
            .map(|(id, title, created)| PostLine {
                id,
                title,
                created: TimeView::ago(created, t),
            })
            .collect(),
        sessions: detail
            .sessions
            .into_iter()
            .map(|s| {
                let agent = user_agent::describe(s.user_agent.as_deref());
                SessionLine {
                    browser: agent.browser,
                    os: agent.os,
                    ip: s.ip,
                    last_active: TimeView::ago(s.last_seen_at, t),
                }
            })
            .collect(),
        can_change_role: me.role.is_admin(),
        can_act: me.role.is_admin() || !target_role.is_staff(),
        is_self,
        roles: Role::ALL,
        error,
        reason,
    })
}

#[handler]
async fn show_person(
    view: View,
    Staff(me): Staff,
    Data(state): Data<&AppState>,
    Path(username): Path<String>,
) -> WebResult {
    let person = person_view(state, &me, &username, None, String::new()).await?;
    view.render(
        PERSON_PAGE,
        PERSON,
        context! { p => v(&person), section => "people" },
    )
}

/// After an action on a person: back to their page (303), or under htmx
/// their updated fragment; a refusal shows on the page itself.
async fn after_person_action(
    view: &View,
    state: &AppState,
    me: &User,
    username: &str,
    done: Result<String, ModerationError>,
    reason: String,
) -> WebResult {
    let (refusal, error, reason) = match done {
        Ok(message) => {
            if !view.hx().wants_fragment() {
                view.flash(message)?;
                return Ok(
                    view.redirect(&format!("/admin/users/{}", username.to_ascii_lowercase()))
                );
            }
            (None, None, String::new())
        }
        Err(ModerationError::Invalid(m)) => (Some(Refusal::INVALID), Some(m), reason),
        // Shown beside the forms like a form's error, so 422 as for those.
        Err(ModerationError::Refused(m)) => (Some(Refusal::INVALID), Some(m.to_owned()), reason),
        Err(e) => return Err(e.into()),
    };
    let person = person_view(state, me, username, error, reason).await?;
    let ctx = context! { p => v(&person), section => "people" };
    match refusal {
        None => view.render(PERSON_PAGE, PERSON, ctx),
        Some(refusal) => view.render_refused(PERSON_PAGE, PERSON, ctx, refusal),
    }
}

#[derive(Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
}

#[handler]
async fn suspend(
    view: View,
    Staff(me): Staff,
    Data(state): Data<&AppState>,
    Path(username): Path<String>,
    Form(form): Form<ReasonForm>,
) -> WebResult {
    let actor = Actor::Staff(me.clone());
    let done = match moderation::reason(Some(&form.reason)) {
        Ok(reason) => state
            .moderation
            .suspend(&actor, &username, reason)
            .await
            .map(|p| format!("{} is suspended; their sessions ended.", p.user.username)),
        Err(e) => Err(e),
    };
    after_person_action(&view, state, &me, &username, done, form.reason).await
}

#[handler]
async fn reinstate(
    view: View,
    Staff(me): Staff,
    Data(state): Data<&AppState>,
    Path(username): Path<String>,
) -> WebResult {
    let done = state
        .moderation
        .reinstate(&Actor::Staff(me.clone()), &username)
        .await
        .map(|p| format!("{} is reinstated.", p.user.username));
    after_person_action(&view, state, &me, &username, done, String::new()).await
}

#[handler]
async fn end_sessions(
    view: View,
    Staff(me): Staff,
    Data(state): Data<&AppState>,
    Path(username): Path<String>,
) -> WebResult {
    let done = state
        .moderation
        .end_sessions(&Actor::Staff(me.clone()), &username)
        .await
        .map(|n| format!("{n} session{} ended.", if n == 1 { "" } else { "s" }));
    after_person_action(&view, state, &me, &username, done, String::new()).await
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
}

#[handler]
async fn change_role(
    view: View,
    AdminOnly(me): AdminOnly,
    Data(state): Data<&AppState>,
    Path(username): Path<String>,
    Form(form): Form<RoleForm>,
) -> WebResult {
    let done = match Role::parse(&form.role) {
        Ok(role) => state
            .moderation
            .set_role(&Actor::Staff(me.clone()), &username, role)
            .await
            .map(|p| format!("{} is now {}.", p.user.username, p.user.role)),
        Err(e) => Err(ModerationError::Invalid(format!("Choose a role: {e}."))),
    };
    after_person_action(&view, state, &me, &username, done, String::new()).await
}

#[derive(Serialize)]
struct QueueItem {
    id: Uuid,
    post_id: Uuid,
    post_title: String,
    author: String,
    reports: Vec<ReportLine>,
}

#[derive(Serialize)]
struct ReportLine {
    reporter: String,
    reason: String,
    at: TimeView,
}

async fn queue(state: &AppState, me: &User) -> WebResult<Vec<QueueItem>> {
    let t = now();
    Ok(state
        .moderation
        .report_queue(&Actor::Staff(me.clone()))
        .await?
        .into_iter()
        .filter_map(|q| {
            let id = q.reports.first()?.id;
            Some(QueueItem {
                id,
                post_id: q.post_id,
                post_title: q.post_title,
                author: q.author,
                reports: q
                    .reports
                    .into_iter()
                    .map(|r| ReportLine {
                        reporter: r.reporter,
                        reason: r.reason,
                        at: TimeView::ago(r.created_at, t),
                    })
                    .collect(),
            })
        })
        .collect())
}

#[handler]
async fn reports(view: View, Staff(me): Staff, Data(state): Data<&AppState>) -> WebResult {
    let items = queue(state, &me).await?;
    view.render(
        REPORTS_PAGE,
        REPORTS,
        context! { items => v(&items), section => "reports" },
    )
}

async fn resolve(view: &View, state: &AppState, me: User, raw: &str, how: Resolution) -> WebResult {
    let id = Uuid::try_parse(raw).map_err(|_| WebError::NotFound(moderation::NO_SUCH_REPORT))?;
    let done = state
        .moderation
        .resolve_report(&Actor::Staff(me.clone()), id, how)
        .await?;
    let message = match how {
        Resolution::Remove => format!("“{}” is removed.", done.title),
        Resolution::Dismiss => format!("The reports on “{}” are dismissed.", done.title),
    };
    if view.hx().wants_fragment() {
        let items = queue(state, &me).await?;
        return view.fragment(REPORTS, context! { items => v(&items), message });
    }
    view.flash(message)?;
    Ok(view.redirect("/admin/reports"))
}

#[handler]
async fn resolve_remove(
    view: View,
    Staff(me): Staff,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
) -> WebResult {
    resolve(&view, state, me, &id, Resolution::Remove).await
}

#[handler]
async fn resolve_dismiss(
    view: View,
    Staff(me): Staff,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
) -> WebResult {
    resolve(&view, state, me, &id, Resolution::Dismiss).await
}

/// A log entry as pages show it: never an address, a user agent or a
/// session detail (the log holds none).
#[derive(Serialize)]
struct LogLine {
    id: Uuid,
    at: TimeView,
    actor: String,
    action: &'static str,
    target: Option<String>,
    post_title: Option<String>,
    detail: Option<String>,
    reason: Option<String>,
}

fn log_line(e: StoredLogEntry, audience: LogAudience) -> LogLine {
    let invite = matches!(e.action.as_str(), "create_invite" | "revoke_invite");
    LogLine {
        id: e.id,
        at: TimeView::at(e.created_at),
        actor: moderation::shown_name(e.actor_id, e.actor_name.as_deref(), "command line"),
        action: moderation::action_label(&e.action),
        target: e
            .target_name
            .as_deref()
            .map(|n| moderation::shown_name(e.target_user_id, Some(n), "")),
        post_title: e.post_title,
        // Which invite is a staff matter.
        detail: if invite && audience == LogAudience::Public {
            None
        } else {
            e.detail
        },
        reason: e.reason,
    }
}

#[derive(Deserialize)]
struct LogQuery {
    before: Option<String>,
}

async fn log_lines(
    state: &AppState,
    query: &LogQuery,
    audience: LogAudience,
) -> WebResult<(Vec<LogLine>, Option<String>)> {
    let before = match query.before.as_deref().filter(|b| !b.is_empty()) {
        Some(raw) => Some(
            Uuid::try_parse(raw)
                .map_err(|_| WebError::BadRequest("That page link is broken.".into()))?,
        ),
        None => None,
    };
    let entries = state
        .moderation
        .log_page(audience, before, LOG_PER_PAGE + 1)
        .await?;
    let more = entries.len() as u64 > LOG_PER_PAGE;
    let lines: Vec<LogLine> = entries
        .into_iter()
        .take(LOG_PER_PAGE as usize)
        .map(|e| log_line(e, audience))
        .collect();
    let next = more
        .then(|| lines.last().map(|l| l.id.to_string()))
        .flatten();
    Ok((lines, next))
}

#[handler]
async fn staff_log(
    view: View,
    Staff(_): Staff,
    Data(state): Data<&AppState>,
    Query(query): Query<LogQuery>,
) -> WebResult {
    let (entries, next) = log_lines(state, &query, LogAudience::Staff).await?;
    let next_url = next.map(|n| format!("/admin/log?before={n}"));
    view.render(
        LOG_PAGE,
        LOG,
        context! { entries => v(&entries), next_url, section => "log" },
    )
}

#[handler]
async fn public_log(
    view: View,
    Data(state): Data<&AppState>,
    Query(query): Query<LogQuery>,
) -> WebResult {
    if !state.settings.public_moderation_log {
        return Err(WebError::NotFound("There is no such page."));
    }
    let (entries, next) = log_lines(state, &query, LogAudience::Public).await?;
    let next_url = next.map(|n| format!("/moderation?before={n}"));
    view.render(
        PUBLIC_LOG_PAGE,
        LOG,
        context! { entries => v(&entries), next_url },
    )
}

#[derive(Serialize)]
struct InviteLine {
    id: Uuid,
    created: TimeView,
    expires: TimeView,
    created_by: String,
    status: &'static str,
    used_by: Option<String>,
    live: bool,
}

async fn invite_lines(state: &AppState, me: &User) -> WebResult<Vec<InviteLine>> {
    let t = now();
    Ok(state
        .moderation
        .invites(&Actor::Staff(me.clone()))
        .await?
        .into_iter()
        .map(|i| {
            let status = if i.used_at.is_some() {
                "used"
            } else if i.revoked_at.is_some() {
                "revoked"
            } else if i.expires_at <= t {
                "expired"
            } else {
                "live"
            };
            InviteLine {
                id: i.id,
                created: TimeView::ago(i.created_at, t),
                expires: TimeView::ago(i.expires_at, t),
                created_by: i
                    .created_by_name
                    .unwrap_or_else(|| "command line".to_owned()),
                status,
                used_by: i.used_by_name,
                live: status == "live",
            }
        })
        .collect())
}

#[handler]
async fn invites_page(
    view: View,
    AdminOnly(me): AdminOnly,
    Data(state): Data<&AppState>,
) -> WebResult {
    let invites = invite_lines(state, &me).await?;
    let mode = state.settings.signups.to_string();
    view.render(
        INVITES_PAGE,
        INVITES,
        context! { invites => v(&invites), new_link => None::<String>, mode, section => "invites" },
    )
}

/// Makes an invite and shows its link this once (it is stored only as a
/// hash, so it cannot be shown again): answered with the page, not a redirect.
#[handler]
async fn create_invite(
    view: View,
    req: &Request,
    AdminOnly(me): AdminOnly,
    Data(state): Data<&AppState>,
) -> WebResult {
    let (_, code) = state
        .moderation
        .create_invite(&Actor::Staff(me.clone()), state.settings.invite_lifetime)
        .await?;
    let host = req.header("Host").unwrap_or("localhost");
    let scheme = if state.settings.secure_cookies {
        "https"
    } else {
        "http"
    };
    let new_link = format!("{scheme}://{host}/signup?invite={}", code.encode());
    let invites = invite_lines(state, &me).await?;
    let mode = state.settings.signups.to_string();
    Ok(view
        .render(
            INVITES_PAGE,
            INVITES,
            context! { invites => v(&invites), new_link, mode, section => "invites" },
        )?
        .with_status(StatusCode::CREATED)
        .into_response())
}

#[handler]
async fn revoke_invite(
    view: View,
    AdminOnly(me): AdminOnly,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
) -> WebResult {
    let id = Uuid::try_parse(&id).map_err(|_| WebError::NotFound(moderation::NO_SUCH_INVITE))?;
    state
        .moderation
        .revoke_invite(&Actor::Staff(me.clone()), id)
        .await?;
    if view.hx().wants_fragment() {
        let invites = invite_lines(state, &me).await?;
        let mode = state.settings.signups.to_string();
        return view.fragment(INVITES, context! { invites => v(&invites), new_link => None::<String>, mode, section => "invites" });
    }
    view.flash("The invite is revoked.")?;
    Ok(view.redirect("/admin/invites"))
}

/// A value for a template.
fn v<T: Serialize>(x: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(x))
}

fn post_id(raw: &str) -> WebResult<Uuid> {
    Uuid::try_parse(raw).map_err(|_| WebError::NotFound(moderation::NO_SUCH_POST))
}

/// The moderators' removal asks for a reason first, on a page of its own.
#[handler]
async fn remove_form(
    view: View,
    Staff(_): Staff,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
) -> WebResult {
    let post = state.posts.get(post_id(&id)?).await?;
    view.page(
        REMOVE_PAGE,
        context! { id => post.id.to_string(), title => post.title, author => post.author, error => None::<String>, reason => "" },
    )
}

#[handler]
async fn remove_post(
    view: View,
    Staff(me): Staff,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> WebResult {
    let id = post_id(&id)?;
    let reason = match moderation::reason(Some(&form.reason)) {
        Ok(reason) => reason,
        Err(ModerationError::Invalid(error)) => {
            let post = state.posts.get(id).await?;
            return Ok(Refusal::INVALID.answer(view.page(
                REMOVE_PAGE,
                context! { id => id.to_string(), title => post.title, author => post.author, error, reason => form.reason },
            )?));
        }
        Err(e) => return Err(e.into()),
    };
    let removed = state
        .moderation
        .remove_post(&Actor::Staff(me), id, reason)
        .await?;
    view.flash(format!(
        "“{}” by {} is removed.",
        removed.title, removed.author
    ))?;
    Ok(view.redirect("/"))
}

#[derive(Serialize)]
struct ReportView {
    id: Uuid,
    title: String,
    reason: String,
    error: Option<String>,
}

#[handler]
async fn report_form(
    view: View,
    super::auth::CurrentUser(_): super::auth::CurrentUser,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
) -> WebResult {
    let post = state.posts.get(post_id(&id)?).await?;
    let form = ReportView {
        id: post.id,
        title: post.title,
        reason: String::new(),
        error: None,
    };
    view.render(REPORT_PAGE, REPORT_FORM, form)
}

#[handler]
async fn report_post(
    view: View,
    super::auth::CurrentUser(me): super::auth::CurrentUser,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> WebResult {
    let id = post_id(&id)?;
    let (status, error) = match state.moderation.report(&me, id, &form.reason).await {
        Ok(_) => {
            let message = "Thank you: a moderator will look at this post.";
            if view.hx().wants_fragment() {
                return view.fragment(REPORTED, context! { id => id.to_string(), message });
            }
            view.flash(message)?;
            return Ok(view.redirect(&format!("/posts/{id}")));
        }
        Err(ModerationError::Invalid(m)) => (StatusCode::UNPROCESSABLE_ENTITY, m),
        Err(ModerationError::AlreadyReported) => (
            StatusCode::CONFLICT,
            moderation::ALREADY_REPORTED.to_owned(),
        ),
        Err(e) => return Err(e.into()),
    };
    let post = state.posts.get(id).await?;
    let again = ReportView {
        id,
        title: post.title,
        reason: form.reason,
        error: Some(error),
    };
    view.render_refused(
        REPORT_PAGE,
        REPORT_FORM,
        again,
        Refusal {
            status,
            retry_after: None,
        },
    )
}
