//! The homepage: the welcome, the composer for a logged-in person, and the
//! feed of everyone's posts, newest first.

use poem::{
    Route, get, handler,
    web::{Data, Query},
};
use serde::Serialize;

use super::{
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
    Data(state): Data<&AppState>,
    Query(query): Query<PageQuery>,
) -> WebResult {
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
