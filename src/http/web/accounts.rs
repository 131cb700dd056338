//! Sign up, log in, log out.

use minijinja::context;
use poem::{
    Request, Route, get, handler,
    http::{HeaderValue, StatusCode},
    post,
    web::{Data, Form, Query},
};
use serde::{Deserialize, Serialize};

use super::{error::WebResult, htmx::local_path, render::View, result::Refusal};
use crate::{
    domain::{PasswordInput, SignupMode},
    http::client,
    services::accounts::{self, LoginAttempt, LoginError, SignupError, SignupErrors, SignupInput},
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/signup", get(signup_form).post(signup))
        .at("/login", get(login_form).post(login))
        .at("/logout", post(logout))
}

const LOGIN_PAGE: &str = "pages/accounts/login.html";
const LOGIN_FORM: &str = "fragments/accounts/login_form.html";
const SIGNUP_PAGE: &str = "pages/accounts/signup.html";
const SIGNUP_FORM: &str = "fragments/accounts/signup_form.html";

/// Where logging out lands: the login page, saying so. (A visitor has no
/// session to carry a message in, so the address says it.)
const LOGGED_OUT: &str = "/login?logged_out=1";
const LOGGED_OUT_MESSAGE: &str = "You are logged out.";

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    logged_out: Option<String>,
}

/// `next` if it is a local path; anything else is dropped.
fn safe_next(next: Option<String>) -> Option<String> {
    next.filter(|n| local_path(n).is_some())
}

#[derive(Serialize)]
struct LoginView {
    username: String,
    next: Option<String>,
    error: Option<String>,
    /// The error is about the username and password (not a refusal of
    /// the attempt as a whole): both fields are marked.
    credentials_refused: bool,
    remember: bool,
}

impl LoginView {
    /// "Remember me" starts unticked: a lasting session is the person's choice.
    fn blank(next: Option<String>) -> Self {
        Self {
            username: String::new(),
            next,
            error: None,
            credentials_refused: false,
            remember: false,
        }
    }
}

#[handler]
async fn login_form(view: View, Query(query): Query<LoginQuery>) -> WebResult {
    let next = safe_next(query.next);
    if view.user().is_some() {
        return Ok(view.redirect(next.as_deref().unwrap_or("/")));
    }
    let notices = match query.logged_out {
        Some(_) => vec![LOGGED_OUT_MESSAGE.to_owned()],
        None => Vec::new(),
    };
    if view.hx().wants_fragment() {
        return view.fragment(LOGIN_FORM, LoginView::blank(next));
    }
    view.page_with(LOGIN_PAGE, LoginView::blank(next), notices)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: PasswordInput,
    next: Option<String>,
    /// The "Remember me" box: present when ticked.
    remember: Option<String>,
}

#[handler]
async fn login(
    view: View,
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<LoginForm>,
) -> WebResult {
    let next = safe_next(form.next);
    let remember = form.remember.as_deref().is_some_and(is_ticked);
    let device = view.session().known_device(&form.username);
    let new_device = device.is_none();
    let attempt = state
        .accounts
        .log_in(LoginAttempt {
            username: &form.username,
            password: &form.password,
            client_ip: client::ip(req, state.settings.trust_proxy),
            device,
        })
        .await;
    let credentials_refused = matches!(attempt, Err(LoginError::InvalidCredentials));
    let (status, error, retry_after) = match attempt {
        Ok(who) => {
            view.session().login(&who, remember).await?;
            if new_device {
                let client = client::info(req, state.settings.trust_proxy);
                state.recovery.new_login(&who.user, &client);
            }
            return Ok(view.redirect(next.as_deref().unwrap_or("/")));
        }
        Err(LoginError::InvalidCredentials) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            accounts::BAD_CREDENTIALS.to_owned(),
            None,
        ),
        Err(LoginError::Suspended) => (StatusCode::FORBIDDEN, accounts::SUSPENDED.to_owned(), None),
        Err(LoginError::Throttled { retry_after }) => (
            StatusCode::TOO_MANY_REQUESTS,
            accounts::throttled_message(retry_after),
            Some(retry_after),
        ),
        Err(LoginError::Busy) => (
            StatusCode::SERVICE_UNAVAILABLE,
            accounts::BUSY.to_owned(),
            Some(accounts::BUSY_RETRY_AFTER),
        ),
        Err(LoginError::Unexpected(e)) => return Err(e.into()),
    };
    let again = LoginView {
        username: form.username,
        next,
        error: Some(error),
        credentials_refused,
        remember,
    };
    view.render_refused(
        LOGIN_PAGE,
        LOGIN_FORM,
        again,
        Refusal {
            status,
            retry_after,
        },
    )
}

/// How browsers send a ticked checkbox (`on`), and what scripts might.
fn is_ticked(value: &str) -> bool {
    matches!(value, "on" | "1" | "true" | "yes")
}

#[derive(Serialize, Default)]
struct SignupView {
    username: String,
    email: String,
    next: Option<String>,
    /// A refusal of the whole form (too many sign-ups, a busy server).
    error: Option<String>,
    errors: SignupErrorsView,
    /// The shortest password accepted, for the field and its hint.
    password_min: u16,
    /// The invite code the form carries on, in `--signups invite` mode.
    invite: Option<String>,
}

const SIGNUP_REFUSED_PAGE: &str = "pages/accounts/signup_refused.html";

/// Sign-ups are closed, or need a live invite: 403 with the reason.
fn signup_refused(view: &View, message: &str) -> WebResult {
    let mut resp = view.page(SIGNUP_REFUSED_PAGE, context! { message })?;
    resp.set_status(StatusCode::FORBIDDEN);
    Ok(resp)
}

#[derive(Deserialize)]
struct SignupQuery {
    next: Option<String>,
    invite: Option<String>,
}

#[derive(Serialize, Default)]
struct SignupErrorsView {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    password_confirm: Option<String>,
}

impl From<SignupErrors> for SignupErrorsView {
    fn from(e: SignupErrors) -> Self {
        Self {
            username: e.username,
            email: e.email,
            password: e.password.map(|rule| rule.to_string()),
            password_confirm: e.password_confirm,
        }
    }
}

#[handler]
async fn signup_form(
    view: View,
    Data(state): Data<&AppState>,
    Query(query): Query<SignupQuery>,
) -> WebResult {
    let next = safe_next(query.next);
    if view.user().is_some() {
        return Ok(view.redirect(next.as_deref().unwrap_or("/")));
    }
    match state.accounts.signups() {
        SignupMode::Open => {}
        SignupMode::Closed => return signup_refused(&view, accounts::SIGNUPS_CLOSED),
        SignupMode::Invite => {
            let live = match query.invite.as_deref() {
                Some(code) => state.accounts.invite_is_live(code).await?,
                None => false,
            };
            if !live {
                return signup_refused(&view, accounts::INVITE_REQUIRED);
            }
        }
    }
    view.render(
        SIGNUP_PAGE,
        SIGNUP_FORM,
        SignupView {
            next,
            password_min: state.settings.password_min_length,
            invite: query.invite,
            ..Default::default()
        },
    )
}

#[derive(Deserialize)]
struct SignupForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: PasswordInput,
    #[serde(default)]
    password_confirm: PasswordInput,
    #[serde(default)]
    email: String,
    next: Option<String>,
    invite: Option<String>,
}

#[handler]
async fn signup(
    view: View,
    req: &Request,
    Data(state): Data<&AppState>,
    Form(form): Form<SignupForm>,
) -> WebResult {
    let next = safe_next(form.next);
    let input = SignupInput {
        username: &form.username,
        password: &form.password,
        password_confirm: Some(&form.password_confirm),
        invite: form.invite.as_deref(),
        email: Some(&form.email),
    };
    let client_ip = client::ip(req, state.settings.trust_proxy);
    let refused = |status, error: String, retry_after| {
        (status, Some(error), SignupErrors::default(), retry_after)
    };
    let (status, error, errors, retry_after) = match state.accounts.sign_up(input, client_ip).await
    {
        Ok(who) => {
            state.recovery.send_verification(&who.user).await?;
            // Signing up starts a remembered session.
            view.session().login(&who, true).await?;
            view.flash(format!(
                "Your account is ready. Welcome to Tangerine, {}!",
                who.user.username
            ))?;
            return Ok(view.redirect(next.as_deref().unwrap_or("/")));
        }
        Err(SignupError::Closed) => return signup_refused(&view, accounts::SIGNUPS_CLOSED),
        Err(SignupError::InviteRequired) => {
            return signup_refused(&view, accounts::INVITE_REQUIRED);
        }
        Err(SignupError::Invalid(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, None, errors, None),
        Err(SignupError::UsernameTaken) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            SignupErrors {
                username: Some(accounts::USERNAME_TAKEN.to_owned()),
                ..Default::default()
            },
            None,
        ),
        Err(SignupError::Throttled { retry_after }) => refused(
            StatusCode::TOO_MANY_REQUESTS,
            accounts::signup_throttled_message(retry_after),
            Some(retry_after),
        ),
        Err(SignupError::Busy) => refused(
            StatusCode::SERVICE_UNAVAILABLE,
            accounts::BUSY.to_owned(),
            Some(accounts::BUSY_RETRY_AFTER),
        ),
        Err(SignupError::Unexpected(e)) => return Err(e.into()),
    };
    let again = SignupView {
        username: form.username.trim().to_owned(),
        email: form.email.trim().to_owned(),
        next,
        error,
        errors: errors.into(),
        password_min: state.settings.password_min_length,
        invite: form.invite,
    };
    view.render_refused(
        SIGNUP_PAGE,
        SIGNUP_FORM,
        again,
        Refusal {
            status,
            retry_after,
        },
    )
}

/// Logging out ends the session row, expires its cookie and asks the
/// browser to drop what it stored for this site. Not `"cookies"`: that would
/// also delete the device cookie, which lets this browser log in while its
/// account is locked from elsewhere.
#[handler]
async fn logout(view: View) -> WebResult {
    view.session().logout().await?;
    let mut resp = view.redirect(LOGGED_OUT);
    resp.headers_mut()
        .insert(CLEAR_SITE_DATA, HeaderValue::from_static(CLEAR_ON_LOGOUT));
    Ok(resp)
}

pub const CLEAR_SITE_DATA: &str = "Clear-Site-Data";
/// What logging out asks the browser to clear.
pub const CLEAR_ON_LOGOUT: &str = "\"storage\"";
