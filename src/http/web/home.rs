//! The homepage: the welcome, the composer for a logged-in person, and the
//! feed of everyone's posts, newest first.

use poem::{
    Request, Route, get, handler,
    web::{Data, Query},
};
use serde::Serialize;

use super::{
    account,
    error::WebResult,
    posts::{FEED_PAGE, FeedView, PageQuery, reached_the_top},
    render::View,
};
use crate::{services::posts::PAGE_SIZE, state::AppState};

pub fn routes(route: Route) -> Route {
    route.at("/", get(index))
}

#[derive(Serialize)]
struct Home {
    feed: FeedView,
}

/// The whole page, or (under htmx) the next page of the feed alone.
#[handler]
async fn index(
    view: View,
    req: &Request,
    Data(state): Data<&AppState>,
    Query(query): Query<PageQuery>,
) -> WebResult {
    if let Some((notice, forget)) = account::take_notice(req, state) {
        return deleted_home(&view, state, notice, forget).await;
    }
    let stamp = view.session().stamp();
    let start = query.start()?;
    let page = state
        .posts
        .feed_versions(stamp.as_ref(), start, PAGE_SIZE)
        .await?;
    if let Some(top) = reached_the_top(&view, start, &page, "/") {
        return Ok(top);
    }
    let feed = FeedView::new(&view, &state.posts, page, "/").await?;
    view.render("pages/home.html", FEED_PAGE, Home { feed })
}

/// The homepage right after an account was deleted: it says so, once.
async fn deleted_home(
    view: &View,
    state: &AppState,
    notice: &'static str,
    forget: poem::http::HeaderValue,
) -> WebResult {
    let page = state
        .posts
        .feed_versions(None, crate::domain::PageStart::Newest, PAGE_SIZE)
        .await?;
    let feed = FeedView::new(view, &state.posts, page, "/").await?;
    let mut resp = view.page_with("pages/home.html", Home { feed }, vec![notice.to_owned()])?;
    resp.headers_mut()
        .append(poem::http::header::SET_COOKIE, forget);
    Ok(resp)
}
