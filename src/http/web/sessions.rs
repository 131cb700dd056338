//! "Your sessions": where a person is logged in, and ending any of them.

use anyhow::Context;
use poem::{
    Route, get, handler, post,
    web::{Data, Path},
};
use serde::Serialize;

use super::{
    auth::CurrentUser,
    error::{WebError, WebResult},
    format::TimeView,
    render::View,
};
use crate::{
    domain::{User, session::now},
    http::session::Revoked,
    services::sessions::listing::SessionSummary,
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/sessions", get(index))
        .at("/sessions/revoke-others", post(revoke_others))
        .at("/sessions/:id/revoke", post(revoke))
}

const PAGE: &str = "pages/sessions/index.html";
const LIST: &str = "fragments/sessions/list.html";
const OTHERS_ENDED: &str = "fragments/sessions/others_ended.html";
const ONE_ENDED: &str = "That session is logged out.";

#[derive(Serialize)]
struct SessionView {
    id: String,
    browser: String,
    os: String,
    ip: String,
    started: TimeView,
    last_active: TimeView,
    remembered: bool,
    current: bool,
}

impl SessionView {
    fn new(s: SessionSummary) -> Self {
        let now = now();
        Self {
            id: s.id.to_string(),
            browser: s.device.browser,
            os: s.device.os,
            ip: s.ip.unwrap_or_else(|| "unknown".to_owned()),
            started: TimeView::ago(s.created_at, now),
            last_active: TimeView::ago(s.last_seen_at, now),
            remembered: s.remember,
            current: s.current,
        }
    }
}

#[derive(Serialize)]
struct ListView {
    sessions: Vec<SessionView>,
    /// The most a person may keep (documented on the page).
    limit: u32,
    /// The person's tokens, listed too: everything that can act as them.
    tokens: Vec<super::tokens::TokenView>,
}

async fn list_view(view: &View, state: &AppState, user: &User) -> WebResult<ListView> {
    let sessions = state
        .sessions
        .list(user, view.session().id())
        .await
        .context("Failed to list sessions")?;
    Ok(ListView {
        sessions: sessions.into_iter().map(SessionView::new).collect(),
        limit: state.settings.max_sessions_per_user,
        tokens: super::tokens::token_views(state, user).await?,
    })
}

/// The list once the other sessions ended, and the message saying so.
#[derive(Serialize)]
struct OthersEnded {
    #[serde(flatten)]
    list: ListView,
    message: String,
}

#[handler]
async fn index(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
) -> WebResult {
    let list = list_view(&view, state, &user).await?;
    view.render(PAGE, LIST, list)
}

/// Ends one session. Under htmx the row disappears in place; without
/// JavaScript the browser comes back to the list.
#[handler]
async fn revoke(view: View, CurrentUser(_): CurrentUser, Path(id): Path<String>) -> WebResult {
    const NOT_FOUND: WebError = WebError::NotFound("There is no such session of yours.");
    let id = uuid::Uuid::try_parse(&id).map_err(|_| NOT_FOUND)?;
    match view.session().revoke(id).await? {
        Revoked::ThisSession => Ok(view.redirect("/login")),
        Revoked::NotTheirs => Err(NOT_FOUND),
        Revoked::Other if view.hx().wants_fragment() => view.announce(ONE_ENDED),
        Revoked::Other => {
            view.flash(ONE_ENDED)?;
            Ok(view.redirect("/sessions"))
        }
    }
}

/// Ends every session but this one.
#[handler]
async fn revoke_others(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
) -> WebResult {
    let ended = view.session().end_others().await?;
    let noun = if ended == 1 { "session" } else { "sessions" };
    let message = format!("{ended} other {noun} logged out.");
    if view.hx().wants_fragment() {
        let list = list_view(&view, state, &user).await?;
        return view.fragment(OTHERS_ENDED, OthersEnded { list, message });
    }
    view.flash(message)?;
    Ok(view.redirect("/sessions"))
}
