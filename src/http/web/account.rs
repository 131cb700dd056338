//! The account's own settings beyond the password: its email address,
//! downloading its data, and deleting it.

use poem::{
    Request, Response, Route, get, handler,
    http::{HeaderValue, StatusCode, header},
    web::{Data, Form},
};
use serde::{Deserialize, Serialize};

use super::{auth::CurrentUser, error::WebResult, render::View, result::Refusal};
use crate::{
    domain::PasswordInput,
    http::client,
    http::cookies::CookiePolicy,
    services::accounts,
    services::recovery::{ConfirmedError, ConfirmedErrors},
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/settings/email", get(email_form).post(change_email))
        .at("/settings/export", get(export))
        .at("/settings/delete", get(delete_form).post(delete))
}

const EMAIL_PAGE: &str = "pages/settings/email.html";
const EMAIL_FORM: &str = "fragments/settings/email_form.html";
const DELETE_PAGE: &str = "pages/settings/delete.html";
const DELETE_FORM: &str = "fragments/settings/delete_form.html";

/// The cookie that carries "your account has been deleted" to the homepage:
/// the person has no session left to carry it in.
pub const NOTICE_COOKIE: &str = "tangerine_notice";
pub const ACCOUNT_DELETED: &str = "account-deleted";
pub const ACCOUNT_DELETED_MESSAGE: &str = "Your account has been deleted.";

#[derive(Serialize, Default)]
struct EmailView {
    current_email: Option<String>,
    verified: bool,
    email: String,
    error: Option<String>,
    errors: EmailErrorsView,
}

#[derive(Serialize, Default)]
struct EmailErrorsView {
    email: Option<String>,
    current_password: Option<String>,
}

async fn email_view(state: &AppState, user: &crate::domain::User) -> WebResult<EmailView> {
    let addresses = state.recovery.addresses(user).await?;
    Ok(EmailView {
        current_email: addresses.email,
        verified: addresses.verified,
        ..Default::default()
    })
}

#[handler]
async fn email_form(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
) -> WebResult {
    let blank = email_view(state, &user).await?;
    view.render(EMAIL_PAGE, EMAIL_FORM, blank)
}

#[derive(Deserialize)]
struct EmailForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    current_password: PasswordInput,
}

/// Why a form that needs the current password is shown again: the errors by
/// field, a message for the whole form, and the answer's status.
struct Refused {
    errors: ConfirmedErrors,
    error: Option<String>,
    refusal: Refusal,
}

fn refused(e: ConfirmedError) -> WebResult<Refused> {
    Ok(match e {
        ConfirmedError::Invalid(errors) => Refused {
            errors,
            error: None,
            refusal: Refusal::INVALID,
        },
        ConfirmedError::Throttled { retry_after } => Refused {
            errors: ConfirmedErrors::default(),
            error: Some(accounts::throttled_message(retry_after)),
            refusal: Refusal::lifts_after(StatusCode::TOO_MANY_REQUESTS, retry_after),
        },
        ConfirmedError::Busy => Refused {
            errors: ConfirmedErrors::default(),
            error: Some(accounts::BUSY.to_owned()),
            refusal: Refusal::lifts_after(
                StatusCode::SERVICE_UNAVAILABLE,
                accounts::BUSY_RETRY_AFTER,
            ),
        },
        ConfirmedError::Unexpected(e) => return Err(e.into()),
    })
}

#[handler]
async fn change_email(
    view: View,
    req: &Request,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
    Form(form): Form<EmailForm>,
) -> WebResult {
    let client = client::info(req, state.settings.trust_proxy);
    let result = state
        .recovery
        .change_email(&user, &form.current_password, &form.email, &client)
        .await;
    let refused = match result {
        Ok(()) => {
            view.flash(format!(
                "We mailed a confirmation link to {}. Follow it to confirm the address.",
                form.email.trim()
            ))?;
            return Ok(view.redirect("/settings/email"));
        }
        Err(e) => refused(e)?,
    };
    let again = EmailView {
        email: form.email.trim().to_owned(),
        error: refused.error,
        errors: EmailErrorsView {
            email: refused.errors.other,
            current_password: refused.errors.current_password,
        },
        ..email_view(state, &user).await?
    };
    view.render_refused(EMAIL_PAGE, EMAIL_FORM, again, refused.refusal)
}

/// One JSON document to download, the same as `GET /api/me/export`.
#[handler]
async fn export(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
) -> WebResult {
    let document = state.recovery.export(&user, view.session().id()).await?;
    // Written as the API writes it, so that both give the same document.
    let json = poem_openapi::types::ToJSON::to_json(&document).unwrap_or_default();
    let body = serde_json::to_vec_pretty(&json)
        .map_err(|e| anyhow::Error::new(e).context("Failed to write an export"))?;
    let filename = format!(
        "tangerine-{}-{}.json",
        user.username,
        document.exported_at.format("%Y-%m-%d")
    );
    Ok(Response::builder()
        .content_type("application/json; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        )
        .header(header::CACHE_CONTROL, "no-store")
        .body(body))
}

#[derive(Serialize, Default)]
struct DeleteView {
    error: Option<String>,
    errors: DeleteErrorsView,
}

#[derive(Serialize, Default)]
struct DeleteErrorsView {
    current_password: Option<String>,
    confirm: Option<String>,
}

#[handler]
async fn delete_form(view: View, CurrentUser(_): CurrentUser) -> WebResult {
    view.render(DELETE_PAGE, DELETE_FORM, DeleteView::default())
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    current_password: PasswordInput,
    #[serde(default)]
    confirm: String,
}

/// Deletes the account and everything of it, then lands on the homepage,
/// logged out, which says so.
#[handler]
async fn delete(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
    Form(form): Form<DeleteForm>,
) -> WebResult {
    let result = state
        .recovery
        .delete_account(&user, &form.current_password, Some(&form.confirm))
        .await;
    let refused = match result {
        Ok(()) => {
            view.session().logout().await?;
            let (policy, name) = notice_cookie(state);
            let mut resp = view.redirect("/");
            resp.headers_mut().append(
                header::SET_COOKIE,
                policy.set_lasting(&name, ACCOUNT_DELETED, std::time::Duration::from_secs(300)),
            );
            return Ok(resp);
        }
        Err(e) => refused(e)?,
    };
    let again = DeleteView {
        error: refused.error,
        errors: DeleteErrorsView {
            current_password: refused.errors.current_password,
            confirm: refused.errors.other,
        },
    };
    view.render_refused(DELETE_PAGE, DELETE_FORM, again, refused.refusal)
}

/// The homepage's notice after a deletion, if this request carries it, and
/// the `Set-Cookie` that forgets it.
pub fn take_notice(req: &Request, state: &AppState) -> Option<(&'static str, HeaderValue)> {
    let (policy, name) = notice_cookie(state);
    match crate::http::cookies::find_unique(req, &name) {
        Ok(Some(ACCOUNT_DELETED)) => Some((ACCOUNT_DELETED_MESSAGE, policy.remove(&name))),
        _ => None,
    }
}

/// The short-lived cookie that carries a notice to the homepage when no
/// session is left to carry it (after an account's deletion): its policy,
/// secure as the session's, and its name.
fn notice_cookie(state: &AppState) -> (CookiePolicy, String) {
    let policy = CookiePolicy {
        secure: state.settings.secure_cookies,
        expire_at_browser_close: false,
    };
    let name = policy.name(NOTICE_COOKIE);
    (policy, name)
}
