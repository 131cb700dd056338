//! "Personal access tokens": making one (its secret shown once), the list,
//! and revoking. With and without JavaScript.

use poem::{
    Route, get, handler,
    http::StatusCode,
    web::{Data, Form, Path},
};
use serde::{Deserialize, Serialize};

use super::{
    auth::CurrentUser,
    error::{WebError, WebResult},
    format::TimeView,
    render::View,
    result::Refusal,
};
use crate::{
    domain::{
        User,
        session::now,
        token::{LIFETIMES_DAYS, Scope, Token},
    },
    services::tokens::{CreateError, TokenErrors, TokenInput},
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/settings/tokens", get(index).post(create))
        .at("/settings/tokens/:id/revoke", poem::post(revoke))
}

const PAGE: &str = "pages/settings/tokens.html";
const SECTION: &str = "fragments/tokens/section.html";
const REVOKED: &str = "The token is revoked.";
/// The lifetime the form offers first.
const DEFAULT_DAYS: i64 = 30;

/// A token as the lists show it.
#[derive(Serialize)]
pub struct TokenView {
    id: String,
    name: String,
    scope: &'static str,
    created: TimeView,
    expires: TimeView,
    last_used: Option<TimeView>,
}

impl TokenView {
    fn new(t: Token) -> Self {
        let now = now();
        Self {
            id: t.id.to_string(),
            name: t.name,
            scope: t.scope.as_str(),
            created: TimeView::ago(t.created_at, now),
            expires: TimeView::ago(t.expires_at, now),
            last_used: t.last_used_at.map(|at| TimeView::ago(at, now)),
        }
    }
}

/// `user`'s live tokens, for a list.
pub async fn token_views(state: &AppState, user: &User) -> WebResult<Vec<TokenView>> {
    Ok(state
        .tokens
        .list(user)
        .await?
        .into_iter()
        .map(TokenView::new)
        .collect())
}

/// The form's values, to show again.
#[derive(Serialize, Deserialize)]
struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    expires_in_days: String,
}

#[derive(Serialize)]
struct FormValues {
    name: String,
    scope: String,
    expires_in_days: i64,
}

impl Default for FormValues {
    fn default() -> Self {
        Self {
            name: String::new(),
            scope: Scope::Read.as_str().to_owned(),
            expires_in_days: DEFAULT_DAYS,
        }
    }
}

#[derive(Serialize, Default)]
struct ErrorsView {
    name: Option<String>,
    scope: Option<String>,
    expires_in_days: Option<String>,
}

impl From<TokenErrors> for ErrorsView {
    fn from(e: TokenErrors) -> Self {
        Self {
            name: e.name,
            scope: e.scope,
            expires_in_days: e.expires_in_days,
        }
    }
}

#[derive(Serialize)]
struct CreatedView {
    name: String,
    token: String,
}

#[derive(Serialize)]
struct SectionView {
    tokens: Vec<TokenView>,
    form: FormValues,
    errors: ErrorsView,
    /// A refusal about the whole form (too many tokens).
    error: Option<String>,
    /// The token just made, with its secret: shown in this answer only.
    created: Option<CreatedView>,
    lifetimes: [u16; 4],
}

impl SectionView {
    fn new(tokens: Vec<TokenView>) -> Self {
        Self {
            tokens,
            form: FormValues::default(),
            errors: ErrorsView::default(),
            error: None,
            created: None,
            lifetimes: LIFETIMES_DAYS,
        }
    }
}

#[handler]
async fn index(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
) -> WebResult {
    let section = SectionView::new(token_views(state, &user).await?);
    view.render(PAGE, SECTION, section)
}

/// Makes a token and answers with the page (or, under htmx, the section)
/// showing its secret once. Not a redirect: the secret is never stored, not
/// even for the next page.
#[handler]
async fn create(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
    Form(form): Form<TokenForm>,
) -> WebResult {
    let days = form.expires_in_days.trim().parse::<i64>().unwrap_or(0);
    let input = TokenInput {
        name: &form.name,
        scope: &form.scope,
        expires_in_days: days,
    };
    let result = state
        .tokens
        .create(&user, input, state.settings.max_tokens_per_user)
        .await;
    let again = FormValues {
        name: form.name.clone(),
        scope: form.scope.clone(),
        expires_in_days: days,
    };
    let (refusal, mut section) = match result {
        Ok(created) => {
            let mut section = SectionView::new(token_views(state, &user).await?);
            section.created = Some(CreatedView {
                name: created.token.name.clone(),
                token: created.secret.encode(),
            });
            (None, section)
        }
        Err(CreateError::Invalid(errors)) => {
            let mut section = SectionView::new(token_views(state, &user).await?);
            section.errors = errors.into();
            (Some(Refusal::INVALID), section)
        }
        Err(CreateError::TooMany { limit }) => {
            let mut section = SectionView::new(token_views(state, &user).await?);
            section.error = Some(CreateError::too_many_message(limit));
            (
                Some(Refusal {
                    status: StatusCode::CONFLICT,
                    retry_after: None,
                }),
                section,
            )
        }
        Err(CreateError::Unexpected(e)) => return Err(e.into()),
    };
    match refusal {
        None => view.render(PAGE, SECTION, section),
        Some(refusal) => {
            section.form = again;
            view.render_refused(PAGE, SECTION, section, refusal)
        }
    }
}

/// Revokes one token. Under htmx the row disappears in place; without
/// JavaScript the browser comes back to the tokens page.
#[handler]
async fn revoke(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
) -> WebResult {
    if !state.tokens.revoke(&user, &id).await? {
        return Err(WebError::NotFound("There is no such token of yours."));
    }
    if view.hx().wants_fragment() {
        return view.announce(REVOKED);
    }
    view.flash(REVOKED)?;
    Ok(view.redirect("/settings/tokens"))
}
