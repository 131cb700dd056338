//! Forgotten passwords and email verification: the forgot-password form,
//! the reset page behind a mailed link, and confirming an address.
//!
//! Opening a link (GET) never uses its token: mail scanners and link
//! previews fetch links too. An unknown, used or expired token answers 410
//! with a themed page and no form. The reset page is sent with
//! `Referrer-Policy: no-referrer`, so that its address (which holds the
//! token) never leaves in a `Referer`.

use poem::{
    IntoResponse, Request, Response, Route, get, handler,
    http::{HeaderValue, StatusCode, header},
    web::{Data, Form, Path},
};
use serde::{Deserialize, Serialize};

use super::{error::WebResult, render::View, result::Refusal};
use crate::{
    domain::PasswordInput,
    http::client,
    services::accounts,
    services::recovery::{
        self, ForgotError, ResetError, ResetErrors, TokenError, VerifyEmailError,
    },
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/password/forgot", get(forgot_form).post(forgot))
        .at("/password/reset/:token", get(reset_form).post(reset))
        .at("/email/verify/:token", get(verify_form).post(verify))
}

const FORGOT_PAGE: &str = "pages/recovery/forgot.html";
const FORGOT_FORM: &str = "fragments/recovery/forgot_form.html";
const RESET_PAGE: &str = "pages/recovery/reset.html";
const RESET_FORM: &str = "fragments/recovery/reset_form.html";
const GONE_PAGE: &str = "pages/recovery/gone.html";

#[derive(Serialize, Default)]
struct ForgotView {
    login: String,
    sent: Option<&'static str>,
    error: Option<String>,
}

#[handler]
async fn forgot_form(view: View) -> WebResult {
    view.render(FORGOT_PAGE, FORGOT_FORM, ForgotView::default())
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    login: String,
}

/// Always the same answer, whatever the login names (see `recovery`).
#[handler]
async fn forgot(
    view: View,
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<ForgotForm>,
) -> WebResult {
    let client_ip = client::ip(req, state.settings.trust_proxy);
    match state.recovery.forgot(&form.login, client_ip).await {
        Ok(()) => view.render(
            FORGOT_PAGE,
            FORGOT_FORM,
            ForgotView {
                login: String::new(),
                sent: Some(recovery::FORGOT_ANSWER),
                error: None,
            },
        ),
        Err(ForgotError::Throttled { retry_after }) => view.render_refused(
            FORGOT_PAGE,
            FORGOT_FORM,
            ForgotView {
                login: form.login,
                sent: None,
                error: Some(recovery::forgot_throttled_message(retry_after)),
            },
            Refusal::lifts_after(StatusCode::TOO_MANY_REQUESTS, retry_after),
        ),
        Err(ForgotError::Unexpected(e)) => Err(e.into()),
    }
}

fn no_referrer(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// The themed 410 page for a link that does not work (any more).
fn gone(view: &View, again_href: &str, again_text: &str) -> WebResult {
    let resp = view
        .page(
            GONE_PAGE,
            minijinja::context! {
                message => recovery::LINK_GONE,
                again_href,
                again_text,
            },
        )?
        .with_status(StatusCode::GONE)
        .into_response();
    Ok(no_referrer(resp))
}

fn reset_gone(view: &View) -> WebResult {
    gone(view, "/password/forgot", "Ask for a new link")
}

#[derive(Serialize, Default)]
struct ResetView {
    token: String,
    username: String,
    error: Option<String>,
    errors: ResetErrorsView,
    password_min: u16,
}

#[derive(Serialize, Default)]
struct ResetErrorsView {
    new_password: Option<String>,
    new_password_confirm: Option<String>,
}

impl From<ResetErrors> for ResetErrorsView {
    fn from(e: ResetErrors) -> Self {
        Self {
            new_password: e.new.map(|rule| rule.to_string()),
            new_password_confirm: e.new_confirm,
        }
    }
}

#[handler]
async fn reset_form(
    view: View,
    Data(state): Data<&AppState>,
    Path(token): Path<String>,
) -> WebResult {
    match state.recovery.reset_link_owner(&token).await {
        Ok(user) => Ok(no_referrer(view.render(
            RESET_PAGE,
            RESET_FORM,
            ResetView {
                token,
                username: user.username,
                password_min: state.settings.password_min_length,
                ..Default::default()
            },
        )?)),
        Err(TokenError::Gone) => reset_gone(&view),
        Err(TokenError::Unexpected(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    new_password: PasswordInput,
    #[serde(default)]
    new_password_confirm: PasswordInput,
}

/// On success every session of the person ends (the credential epoch moves
/// on) and this browser is logged in on a fresh one.
#[handler]
async fn reset(
    view: View,
    req: &Request,
    Data(state): Data<&AppState>,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> WebResult {
    let client = client::info(req, state.settings.trust_proxy);
    let result = state
        .recovery
        .reset_password(
            &token,
            &form.new_password,
            Some(&form.new_password_confirm),
            &client,
        )
        .await;
    let password_min = state.settings.password_min_length;
    let (status, again, retry_after) = match result {
        Ok(who) => {
            view.session().login(&who, false).await?;
            view.flash(
                "Your password is reset, and every other session of yours is logged out. You are logged in.",
            )?;
            return Ok(no_referrer(view.redirect("/")));
        }
        Err(ResetError::Gone) => return reset_gone(&view),
        Err(ResetError::Invalid(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ResetView {
                errors: errors.into(),
                ..Default::default()
            },
            None,
        ),
        Err(ResetError::Suspended) => (
            StatusCode::FORBIDDEN,
            ResetView {
                error: Some(accounts::SUSPENDED.to_owned()),
                ..Default::default()
            },
            None,
        ),
        Err(ResetError::Busy) => (
            StatusCode::SERVICE_UNAVAILABLE,
            ResetView {
                error: Some(accounts::BUSY.to_owned()),
                ..Default::default()
            },
            Some(accounts::BUSY_RETRY_AFTER),
        ),
        Err(ResetError::Unexpected(e)) => return Err(e.into()),
    };
    let username = match state.recovery.reset_link_owner(&token).await {
        Ok(user) => user.username,
        Err(TokenError::Gone) => return reset_gone(&view),
        Err(TokenError::Unexpected(e)) => return Err(e.into()),
    };
    let resp = view.render_refused(
        RESET_PAGE,
        RESET_FORM,
        ResetView {
            token,
            username,
            password_min,
            ..again
        },
        Refusal {
            status,
            retry_after,
        },
    )?;
    Ok(no_referrer(resp))
}

fn verify_gone(view: &View) -> WebResult {
    gone(
        view,
        "/settings/email",
        "Ask for a new link from your settings",
    )
}

/// Asks to confirm: opening the link changes nothing.
#[handler]
async fn verify_form(
    view: View,
    Data(state): Data<&AppState>,
    Path(token): Path<String>,
) -> WebResult {
    match state.recovery.verification_link_owner(&token).await {
        Ok((user, email)) => Ok(no_referrer(view.page(
            "pages/recovery/verify.html",
            minijinja::context! { token, username => user.username, email },
        )?)),
        Err(TokenError::Gone) => verify_gone(&view),
        Err(TokenError::Unexpected(e)) => Err(e.into()),
    }
}

/// Confirms the address, in any browser (no login needed: the link is the proof).
#[handler]
async fn verify(view: View, Data(state): Data<&AppState>, Path(token): Path<String>) -> WebResult {
    match state.recovery.verify_email(&token).await {
        Ok((user, email)) => Ok(no_referrer(view.page(
            "pages/recovery/verified.html",
            minijinja::context! { username => user.username, email },
        )?)),
        Err(VerifyEmailError::Gone) => verify_gone(&view),
        Err(VerifyEmailError::AddressTaken) => {
            let resp = view
                .page(
                    "pages/error.html",
                    minijinja::context! {
                        status => 409,
                        title => "Address in use",
                        message => recovery::ADDRESS_TAKEN,
                    },
                )?
                .with_status(StatusCode::CONFLICT)
                .into_response();
            Ok(resp)
        }
        Err(VerifyEmailError::Unexpected(e)) => Err(e.into()),
    }
}
