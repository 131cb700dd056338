//! The renderer: one minijinja environment, and the view that handlers use
//! to answer with a page or a fragment.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use minijinja::{Environment, UndefinedBehavior, Value, context, value::Serde};
use poem::{
    FromRequest, Request, RequestBody, Response,
    http::{StatusCode, header},
};
use serde::Serialize;

use super::{
    assets,
    cards::Cards,
    error::WebError,
    htmx::{self, Hx},
};
use crate::{
    csrf::Csrf,
    domain::{SignupMode, User},
    session::Session,
    startup::AppState,
};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

/// Session data key of the messages shown once on the next page.
const FLASH: &str = "flash";
/// Only the latest few are kept: a burst of actions shows a few messages,
/// not a wall of them.
const FLASH_KEEP: usize = 3;

/// A message for the page's live region, swapped in out of band.
pub const ANNOUNCE: &str = "fragments/announce.html";

/// The largest buffer an answer starts with (larger ones grow as needed).
const MAX_HINT: usize = 256 * 1024;

/// All templates, compiled into the binary and parsed once at start-up.
pub struct Templates {
    env: Environment<'static>,
    /// The size of each template's latest answer: the next one is written
    /// into a buffer of about that size, not grown by doubling from the
    /// template's own size (a homepage would be copied over five times).
    sizes: HashMap<&'static str, AtomicUsize>,
}

impl Templates {
    pub fn load() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Auto-escaping is minijinja's default for `.html`: kept on.
        for (name, source) in embedded::TEMPLATES {
            env.add_template(name, source)?;
        }
        // Asset URLs are built from known names and hex digests: nothing to escape.
        env.add_function("asset", |name: &str| {
            Value::from_safe_string(assets::url(name))
        });
        let sizes = embedded::TEMPLATES
            .iter()
            .map(|(name, _)| (*name, AtomicUsize::new(0)))
            .collect();
        Ok(Self { env, sizes })
    }

    pub fn render(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }

    /// [`Self::render`], as the bytes of an answer's body.
    pub fn render_body(&self, name: &str, ctx: Value) -> Result<Vec<u8>, minijinja::Error> {
        let template = self.env.get_template(name)?;
        let size = self.sizes.get(name);
        // One unusually long page does not make every later buffer as long.
        let last = size.map_or(0, |s| s.load(Ordering::Relaxed)).min(MAX_HINT);
        let mut body = Vec::with_capacity(last + last / 8);
        template.render_captured_to(ctx, &mut body)?;
        if let Some(size) = size {
            size.store(body.len(), Ordering::Relaxed);
        }
        Ok(body)
    }
}

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
        let templates = req.data::<Arc<Templates>>().cloned().ok_or_else(|| {
            poem::Error::from_string("templates missing", StatusCode::INTERNAL_SERVER_ERROR)
        })?;
        let csrf = req.extensions().get::<Csrf>().cloned().ok_or_else(|| {
            poem::Error::from_string("CSRF layer missing", StatusCode::INTERNAL_SERVER_ERROR)
        })?;
        let cards = req.data::<Arc<Cards>>().cloned().ok_or_else(|| {
            poem::Error::from_string("card cache missing", StatusCode::INTERNAL_SERVER_ERROR)
        })?;
        let site = req.data::<AppState>().map_or(
            SiteView {
                signups_open: true,
                public_moderation_log: true,
            },
            |state| SiteView {
                signups_open: state.settings.signups == SignupMode::Open,
                public_moderation_log: state.settings.public_moderation_log,
            },
        );
        Ok(Self {
            templates,
            cards,
            session: Session::of(req)?,
            csrf,
            hx: Hx::of(req),
            site,
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
        let ctx = context! {
            current_user => Value::from(Serde(self.user())),
            site => Value::from(Serde(self.site)),
            csrf_token => Value::from_function(move || csrf.token()),
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
