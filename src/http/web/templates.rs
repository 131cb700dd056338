//! The renderer: one minijinja environment holding every template.

use std::{
    collections::HashMap,
    sync::atomic::{AtomicUsize, Ordering},
};

use minijinja::{Environment, UndefinedBehavior, Value};

use super::assets;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

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
