//! The logged-in person, as handlers ask for them.

use poem::{FromRequest, Request, RequestBody};

use super::error::WebError;
use crate::{domain::User, http::session::Session};

/// The person logged in. A handler that takes it needs a login: for anyone
/// else the login policy answers (see [`super::error::login_required`]).
pub struct CurrentUser(pub User);

impl<'a> FromRequest<'a> for CurrentUser {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        match Session::of(req)?.user() {
            Some(user) => Ok(CurrentUser(user)),
            None => Err(WebError::LoginRequired.into()),
        }
    }
}
