//! The homepage.

use poem::{Route, get, handler};
use serde::Serialize;

use super::{error::WebResult, render::View};

pub fn routes(route: Route) -> Route {
    route.at("/", get(index))
}

#[derive(Serialize)]
struct Home {}

#[handler]
async fn index(view: View) -> WebResult {
    view.render("pages/home.html", "fragments/home/welcome.html", Home {})
}
