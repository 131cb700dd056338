//! The view that handlers use to answer with a page or a fragment: the
//! templates, the post cards, the session, the CSRF token and htmx's ask.

use std::sync::Arc;

use minijinja::{Value, context, value::Serde};
use poem::{
    FromRequest, Request, RequestBody, Response,
    http::{StatusCode, header},
};
use serde::Serialize;

use super::{
    cards::Cards,
    htmx::{self, Hx},
    result::{Refusal, WebError},
    templates::Templates,
};
use crate::{
    domain::{SignupMode, User},
    http::csrf::Csrf,
    http::session::Session,
    state::AppState,
};

/// Session data key of the messages shown once on the next page.
const FLASH: &str = "flash";
/// Only the latest few are kept: a burst of actions shows a few messages,
/// not a wall of them.
const FLASH_KEEP: usize = 3;

/// A message for the page's live region, swapped in out of band.
pub const ANNOUNCE: &str = "fragments/announce.html";

/// Everything a handler needs to answer with HTML: the renderer, the
/// session, the CSRF token and what htmx asked for.
#[derive(Clone)]
pub struct View {
    templates: Arc<Templates>,
    cards: Arc<Cards>,
    session: Session,
    csrf: Csrf,
    hx: Hx,
    /// What the layout offers: a sign-up link, the public moderation log.
    site: SiteView,
}

/// The operator's choices that every page's layout reflects.
#[derive(Clone, Copy, Serialize)]
struct SiteView {
    signups_open: bool,
    public_moderation_log: bool,
}

impl<'a> FromRequest<'a> for View {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Self::of(req)
    }
}

impl View {
    pub fn of(req: &Request) -> poem::Result<Self> {
        let state = req.data::<AppState>().ok_or_else(|| {
            poem::Error::from_string(
                "application state missing",
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        })?;
        let csrf = req.extensions().get::<Csrf>().cloned().ok_or_else(|| {
            poem::Error::from_string("CSRF layer missing", StatusCode::INTERNAL_SERVER_ERROR)
        })?;
        Ok(Self {
            templates: state.templates.clone(),
            cards: state.cards.clone(),
            site: SiteView {
                signups_open: state.settings.signups == SignupMode::Open,
                public_moderation_log: state.settings.public_moderation_log,
            },
            session: Session::of(req)?,
            csrf,
            hx: Hx::of(req),
        })
    }

    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    pub fn cards(&self) -> &Cards {
        &self.cards
    }

    pub fn user(&self) -> Option<User> {
        self.session.user()
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn hx(&self) -> &Hx {
        &self.hx
    }

    /// Answers with `fragment` alone when htmx asked for it, else with `page`
    /// (which includes the same fragment). Either way `Vary: HX-Request`.
    pub fn render(
        &self,
        page: &str,
        fragment: &str,
        ctx: impl Serialize,
    ) -> Result<Response, WebError> {
        if self.hx.wants_fragment() {
            self.fragment(fragment, ctx)
        } else {
            self.page(page, ctx)
        }
    }

    /// A form shown again after `refusal` (see [`Self::render`]).
    pub fn render_refused(
        &self,
        page: &str,
        fragment: &str,
        ctx: impl Serialize,
        refusal: Refusal,
    ) -> Result<Response, WebError> {
        Ok(refusal.answer(self.render(page, fragment, ctx)?))
    }

    /// A whole page, showing (and so consuming) any flash messages.
    pub fn page(&self, page: &str, ctx: impl Serialize) -> Result<Response, WebError> {
        self.page_with(page, ctx, Vec::new())
    }

    /// [`Self::page`], with `notices` shown after the flash messages (for
    /// messages that have no session to wait in).
    pub fn page_with(
        &self,
        page: &str,
        ctx: impl Serialize,
        notices: Vec<String>,
    ) -> Result<Response, WebError> {
        let mut flash: Vec<String> = self.session.take_all(FLASH);
        flash.extend(notices);
        self.html(page, ctx, flash)
    }

    pub fn fragment(&self, fragment: &str, ctx: impl Serialize) -> Result<Response, WebError> {
        self.html(fragment, ctx, Vec::new())
    }

    fn html(
        &self,
        name: &str,
        ctx: impl Serialize,
        flash: Vec<String>,
    ) -> Result<Response, WebError> {
        let csrf = self.csrf.clone();
        // Made on first use (not every template has a form), then the same
        // for every form of the page.
        let token = std::sync::OnceLock::new();
        let ctx = context! {
            current_user => Value::from(Serde(self.user())),
            site => Value::from(Serde(self.site)),
            csrf_token => Value::from_function(move || token.get_or_init(|| csrf.token()).clone()),
            flash,
            ..Serde(ctx)
        };
        let body = self
            .templates
            .render_body(name, ctx)
            .map_err(|e| anyhow::Error::new(e).context(format!("Failed to render {name}")))?;
        Ok(Response::builder()
            .content_type("text/html; charset=utf-8")
            .header(header::VARY, htmx::VARY_VALUE)
            .body(body))
    }

    /// Under htmx, an answer whose element goes (nothing is swapped in its
    /// place) and whose `message` goes into the page's live region, where
    /// screen readers announce it.
    pub fn announce(&self, message: impl Into<String>) -> Result<Response, WebError> {
        self.fragment(ANNOUNCE, context! { message => message.into() })
    }

    /// See [`htmx::redirect`].
    pub fn redirect(&self, location: &str) -> Response {
        htmx::redirect(&self.hx, location)
    }

    /// Queues a message for the next whole page this person sees.
    pub fn flash(&self, message: impl Into<String>) -> Result<(), WebError> {
        self.session
            .push(FLASH, &message.into(), FLASH_KEEP)
            .map_err(|e| anyhow::Error::new(e).context("Failed to queue a message"))?;
        Ok(())
    }
}
