//! Post cards: a post's whole article as pages show it, rendered once per
//! version of the post in its two forms (for its author, with the controls
//! to edit and delete it, which hold no per-session token; for everyone
//! else, without) and reused by every page that shows it.
//!
//! A feed page asks the database only which posts it holds, in which
//! version (a few small columns); cards it has not rendered yet are loaded
//! and rendered, the rest come from here. Nothing can be stale: a card is
//! keyed by the post's id and its `updated_at`, read from the database on
//! every page view, so an edit or a deletion made through any instance shows
//! at once.

use std::{collections::HashMap, sync::Mutex};

use anyhow::Context;
use minijinja::{Value, context};
use sea_orm::DatabaseConnection;

use super::{format::TimeView, render::Templates};
use crate::{
    domain::{Post, PostVersion},
    posts,
};

const CARD: &str = "fragments/posts/card.html";
const ACTIONS: &str = "fragments/posts/actions.html";
const ARTICLE: &str = "fragments/posts/article.html";
/// Cards kept at most. About 4 KiB each (both forms), so a few MiB; when
/// full, the cache starts over, and the next pages render their cards again.
const CAPACITY: usize = 2048;

type Key = (uuid::Uuid, Option<chrono::DateTime<chrono::Utc>>);

/// A post's article in both forms: template values marked safe, shared
/// (cloning a card copies no HTML).
#[derive(Clone)]
pub struct Card {
    for_readers: Value,
    for_author: Value,
}

impl Card {
    /// The article as its author (`mine`) or anyone else sees it.
    pub fn article(&self, mine: bool) -> Value {
        if mine {
            self.for_author.clone()
        } else {
            self.for_readers.clone()
        }
    }
}

#[derive(Default)]
pub struct Cards {
    cache: Mutex<HashMap<Key, Card>>,
}

fn key(v: &PostVersion) -> Key {
    (v.id, v.updated_at)
}

impl Cards {
    fn cached(&self, v: &PostVersion) -> Option<Card> {
        self.lock().get(&key(v)).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Card>> {
        // A panic while holding the lock leaves plain cached strings behind.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The card of `post`, rendered now if this version has none yet.
    pub fn card(&self, templates: &Templates, post: &Post) -> anyhow::Result<Card> {
        let v = post.version();
        if let Some(card) = self.cached(&v) {
            return Ok(card);
        }
        let id = post.id.to_string();
        let html = templates
            .render(
                CARD,
                context! {
                    id => &id,
                    author => &post.author,
                    title => &post.title,
                    body_html => Value::from_safe_string(post.body_html.clone()),
                    created => Value::from(minijinja::value::Serde(TimeView::at(post.created_at))),
                    edited => Value::from(minijinja::value::Serde(post.updated_at.map(TimeView::at))),
                },
            )
            .context("Failed to render a post card")?;
        let actions = templates
            .render(ACTIONS, context! { id => &id })
            .context("Failed to render a post's controls")?;
        let (card, actions) = (
            Value::from_safe_string(html),
            Value::from_safe_string(actions),
        );
        let article = |actions: Option<&Value>| {
            templates
                .render(ARTICLE, context! { id => &id, card => &card, actions })
                .map(Value::from_safe_string)
                .context("Failed to render a post's article")
        };
        let card = Card {
            for_readers: article(None)?,
            for_author: article(Some(&actions))?,
        };
        let mut cache = self.lock();
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(key(&v), card.clone());
        Ok(card)
    }

    /// The cards of `versions`, in order, loading in one query the posts
    /// whose cards are not here yet. A post deleted meanwhile is left out.
    pub async fn cards(
        &self,
        db: &DatabaseConnection,
        templates: &Templates,
        versions: &[PostVersion],
    ) -> anyhow::Result<Vec<(PostVersion, Card)>> {
        let mut found: Vec<Option<Card>> = {
            let cache = self.lock();
            versions
                .iter()
                .map(|v| cache.get(&key(v)).cloned())
                .collect()
        };
        let missing: Vec<uuid::Uuid> = versions
            .iter()
            .zip(&found)
            .filter(|(_, card)| card.is_none())
            .map(|(v, _)| v.id)
            .collect();
        if !missing.is_empty() {
            let posts = posts::get_many(db, &missing)
                .await
                .map_err(|e| anyhow::anyhow!("Failed to load posts for their cards: {e}"))?;
            for post in &posts {
                let card = self.card(templates, post)?;
                for (v, slot) in versions.iter().zip(found.iter_mut()) {
                    // The version read a moment ago; if the post changed in
                    // between, the newer card serves (and is keyed as such).
                    if v.id == post.id && slot.is_none() {
                        *slot = Some(card.clone());
                    }
                }
            }
        }
        Ok(versions
            .iter()
            .zip(found)
            .filter_map(|(v, card)| card.map(|c| (*v, c)))
            .collect())
    }
}
