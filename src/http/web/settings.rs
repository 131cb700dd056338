//! Settings: the page that lists them, and changing the password.

use poem::{
    Request, Route, get, handler,
    http::StatusCode,
    web::{Data, Form},
};
use serde::{Deserialize, Serialize};

use super::{auth::CurrentUser, error::WebResult, render::View, result::Refusal};
use crate::{
    domain::PasswordInput,
    http::client,
    services::accounts::{self, PasswordChange, PasswordChangeError, PasswordChangeErrors},
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route.at("/settings", get(index)).at(
        "/settings/password",
        get(password_form).post(change_password),
    )
}

const INDEX: &str = "pages/settings/index.html";
const PAGE: &str = "pages/settings/password.html";
const FORM: &str = "fragments/settings/password_form.html";

#[derive(Serialize, Default)]
struct FormView {
    errors: ErrorsView,
    /// A refusal that is about the whole form (too many attempts).
    error: Option<String>,
    /// The shortest password accepted, for the field and its hint.
    password_min: u16,
}

#[derive(Serialize, Default)]
struct ErrorsView {
    current_password: Option<String>,
    new_password: Option<String>,
    new_password_confirm: Option<String>,
}

impl From<PasswordChangeErrors> for ErrorsView {
    fn from(e: PasswordChangeErrors) -> Self {
        Self {
            current_password: e.current,
            new_password: e.new.map(|rule| rule.to_string()),
            new_password_confirm: e.new_confirm,
        }
    }
}

/// What a person can change about their account, one link each.
#[handler]
async fn index(view: View, CurrentUser(_): CurrentUser) -> WebResult {
    view.page(INDEX, ())
}

#[handler]
async fn password_form(
    view: View,
    CurrentUser(_): CurrentUser,
    Data(state): Data<&AppState>,
) -> WebResult {
    let blank = FormView {
        password_min: state.settings.password_min_length,
        ..FormView::default()
    };
    view.render(PAGE, FORM, blank)
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: PasswordInput,
    #[serde(default)]
    new_password: PasswordInput,
    #[serde(default)]
    new_password_confirm: PasswordInput,
}

/// On success every other session of the person ends and this one gets a new
/// secret (a new cookie), so a stolen copy of the old cookie stops working.
#[handler]
async fn change_password(
    view: View,
    req: &Request,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
    Form(form): Form<PasswordForm>,
) -> WebResult {
    let change = PasswordChange {
        current: &form.current_password,
        new: &form.new_password,
        new_confirm: Some(&form.new_password_confirm),
    };
    let password_min = state.settings.password_min_length;
    let result = state.accounts.change_password(&user, change).await;
    let refused = |error: String| FormView {
        errors: ErrorsView::default(),
        error: Some(error),
        password_min,
    };
    let (status, again, retry_after) = match result {
        Ok(epoch) => {
            view.session().renew_secret(epoch).await?;
            let ended = view.session().end_others().await?;
            let client = client::info(req, state.settings.trust_proxy);
            state.recovery.password_changed(&user, &client);
            let noun = if ended == 1 {
                "session was"
            } else {
                "sessions were"
            };
            view.flash(format!(
                "Your password is changed. {ended} other {noun} logged out."
            ))?;
            return Ok(view.redirect("/sessions"));
        }
        Err(PasswordChangeError::Invalid(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FormView {
                errors: errors.into(),
                error: None,
                password_min,
            },
            None,
        ),
        Err(PasswordChangeError::Throttled { retry_after }) => (
            StatusCode::TOO_MANY_REQUESTS,
            refused(accounts::throttled_message(retry_after)),
            Some(retry_after),
        ),
        Err(PasswordChangeError::Busy) => (
            StatusCode::SERVICE_UNAVAILABLE,
            refused(accounts::BUSY.to_owned()),
            Some(accounts::BUSY_RETRY_AFTER),
        ),
        Err(PasswordChangeError::Unexpected(e)) => return Err(e.into()),
    };
    view.render_refused(
        PAGE,
        FORM,
        again,
        Refusal {
            status,
            retry_after,
        },
    )
}
