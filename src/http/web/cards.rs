//! Post cards: a post's whole article as pages show it, rendered once per
//! version of the post and [`Placement`] in its two forms (for its author,
//! with the controls to edit and delete it, which hold no per-session token;
//! for everyone else, without) and reused by every page that shows it.
//!
//! A feed page asks the database only which posts it holds, in which
//! version (a few small columns); cards it has not rendered yet are loaded
//! and rendered, the rest come from here. Nothing can be stale: a card is
//! keyed by the post's id and its `updated_at`, read from the database on
//! every page view, so an edit or a deletion made through any instance shows
//! at once.
//!
//! The cache is bounded by the bytes of HTML it holds (`--card-cache-size`),
//! not by a count: a post's card may be a few hundred bytes or tens of
//! kilobytes.

use std::sync::Mutex;

use foldhash::HashMap;

use anyhow::Context;
use minijinja::{Value, context};

use super::{format::TimeView, templates::Templates};
use crate::domain::{
    Post, PostVersion,
    post::{HeadingLevel, Headings, render_markdown},
};

const CARD: &str = "fragments/posts/card.html";
const ACTIONS: &str = "fragments/posts/actions.html";
const STAFF_ACTIONS: &str = "fragments/posts/staff_actions.html";
const ARTICLE: &str = "fragments/posts/article.html";
/// What a kept card costs beyond its HTML: key, map entry, two values.
const ENTRY_OVERHEAD: usize = 128;

type Key = (uuid::Uuid, Option<chrono::DateTime<chrono::Utc>>, Placement);

/// Where an article stands, which sets its headings: alone on its own page
/// (the title is the page's `h1`), or in a feed under the feed's `h2` (the
/// title an `h3`). The body's own headings always come below the title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placement {
    Page,
    Feed,
}

/// A feed's posts have their titles at h3: their headings start at h4.
const FEED_HEADINGS: Headings = Headings::StartingAt(HeadingLevel::H4);

impl Placement {
    /// The heading level of the post's title.
    pub fn title_level(self) -> u8 {
        match self {
            Placement::Page => 1,
            Placement::Feed => 3,
        }
    }

    /// The body's HTML: on a page as stored (rendered when the post was
    /// written, its headings from [`STORED_HEADINGS`], below the `h1`); in a
    /// feed rendered again from the Markdown, its headings below the `h3`
    /// (once per version, since cards are kept).
    fn body_html(self, post: &Post) -> String {
        match self {
            Placement::Page => post.body_html.clone(),
            Placement::Feed => render_markdown(&post.body, FEED_HEADINGS),
        }
    }
}

/// A post's article in both forms: template values marked safe, shared
/// (cloning a card copies no HTML).
#[derive(Clone)]
pub struct Card {
    for_readers: Value,
    for_author: Value,
    /// With the moderators' "Remove" control.
    for_staff: Value,
    /// A moderator's own post: both sets of controls.
    for_staff_author: Value,
}

impl Card {
    /// The memory the card holds.
    fn bytes(&self) -> usize {
        let len = |v: &Value| v.as_str().map_or(0, str::len);
        len(&self.for_readers)
            + len(&self.for_author)
            + len(&self.for_staff)
            + len(&self.for_staff_author)
            + ENTRY_OVERHEAD
    }

    /// The article with the controls `reader` gets.
    pub fn article(&self, reader: Reader) -> Value {
        match reader {
            Reader::Anyone => self.for_readers.clone(),
            Reader::Author => self.for_author.clone(),
            Reader::Staff => self.for_staff.clone(),
            Reader::StaffAuthor => self.for_staff_author.clone(),
        }
    }
}

/// Who reads a card, which decides the controls it carries: its author
/// edits and deletes it, staff remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Anyone,
    Author,
    Staff,
    StaffAuthor,
}

impl Reader {
    /// How `user` (if anyone is logged in) reads a post by `author_id`.
    pub fn of(user: Option<&crate::domain::User>, author_id: uuid::Uuid) -> Self {
        match user {
            Some(u) if u.role.is_staff() && u.id == author_id => Reader::StaffAuthor,
            Some(u) if u.role.is_staff() => Reader::Staff,
            Some(u) if u.id == author_id => Reader::Author,
            _ => Reader::Anyone,
        }
    }
}

pub struct Cards {
    cache: Mutex<Cache>,
    /// Bytes of cards kept at most; when the next card would pass it, the
    /// cache starts over, and the next pages render their cards again.
    /// Zero keeps none.
    budget: usize,
}

#[derive(Default)]
struct Cache {
    cards: HashMap<Key, Card>,
    bytes: usize,
}

fn key(v: &PostVersion, placement: Placement) -> Key {
    (v.id, v.updated_at, placement)
}

impl Cards {
    /// A cache of at most `budget` bytes of cards.
    pub fn new(budget: usize) -> Self {
        Self {
            cache: Mutex::default(),
            budget,
        }
    }

    fn cached(&self, v: &PostVersion, placement: Placement) -> Option<Card> {
        self.lock().cards.get(&key(v, placement)).cloned()
    }

    /// The bytes of the cards kept now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn keep(&self, key: Key, card: &Card) {
        let size = card.bytes();
        if size > self.budget {
            return;
        }
        let mut cache = self.lock();
        if cache.bytes + size > self.budget {
            cache.cards.clear();
            cache.bytes = 0;
        }
        if let Some(old) = cache.cards.insert(key, card.clone()) {
            cache.bytes -= old.bytes();
        }
        cache.bytes += size;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding the lock leaves plain cached strings behind.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The card of `post` for `placement`, rendered now if this version has
    /// none yet.
    pub fn card(
        &self,
        templates: &Templates,
        post: &Post,
        placement: Placement,
    ) -> anyhow::Result<Card> {
        let v = post.version();
        if let Some(card) = self.cached(&v, placement) {
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
                    level => placement.title_level(),
                    body_html => Value::from_safe_string(placement.body_html(post)),
                    created => Value::from(minijinja::value::Serde(TimeView::at(post.created_at))),
                    edited => Value::from(minijinja::value::Serde(post.updated_at.map(TimeView::at))),
                },
            )
            .context("Failed to render a post card")?;
        let actions = templates
            .render(ACTIONS, context! { id => &id })
            .context("Failed to render a post's controls")?;
        let staff = templates
            .render(STAFF_ACTIONS, context! { id => &id })
            .context("Failed to render a post's staff controls")?;
        let (card, actions, staff) = (
            Value::from_safe_string(html),
            Value::from_safe_string(actions),
            Value::from_safe_string(staff),
        );
        let both = Value::from_safe_string(format!("{actions}{staff}"));
        let article = |actions: Option<&Value>| {
            templates
                .render(
                    ARTICLE,
                    context! { id => &id, card => &card, actions, alone => placement == Placement::Page },
                )
                .map(Value::from_safe_string)
                .context("Failed to render a post's article")
        };
        let card = Card {
            for_readers: article(None)?,
            for_author: article(Some(&actions))?,
            for_staff: article(Some(&staff))?,
            for_staff_author: article(Some(&both))?,
        };
        self.keep(key(&v, placement), &card);
        Ok(card)
    }

    /// The feed cards of `versions` kept here; the posts of the others are
    /// to be loaded and given to [`FeedCards::complete`].
    pub fn feed<'a>(&'a self, versions: &'a [PostVersion]) -> FeedCards<'a> {
        let found = {
            let cache = self.lock();
            versions
                .iter()
                .map(|v| cache.cards.get(&key(v, Placement::Feed)).cloned())
                .collect()
        };
        FeedCards {
            cards: self,
            versions,
            found,
        }
    }
}

/// The cards of a feed page, some still to be rendered.
pub struct FeedCards<'a> {
    cards: &'a Cards,
    versions: &'a [PostVersion],
    found: Vec<Option<Card>>,
}

impl FeedCards<'_> {
    /// The posts whose cards are not kept: to be loaded in one query.
    pub fn missing(&self) -> Vec<uuid::Uuid> {
        self.versions
            .iter()
            .zip(&self.found)
            .filter(|(_, card)| card.is_none())
            .map(|(v, _)| v.id)
            .collect()
    }

    /// Every card, in order, rendering those of `posts` (the missing ones,
    /// as loaded). A post deleted meanwhile is left out.
    pub fn complete(
        mut self,
        templates: &Templates,
        posts: &[Post],
    ) -> anyhow::Result<Vec<(PostVersion, Card)>> {
        for post in posts {
            let card = self.cards.card(templates, post, Placement::Feed)?;
            for (v, slot) in self.versions.iter().zip(self.found.iter_mut()) {
                // The version read a moment ago; if the post changed in
                // between, the newer card serves (and is keyed as such).
                if v.id == post.id && slot.is_none() {
                    *slot = Some(card.clone());
                }
            }
        }
        Ok(self
            .versions
            .iter()
            .zip(self.found)
            .filter_map(|(v, card)| card.map(|c| (*v, c)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::post::STORED_HEADINGS;

    #[test]
    fn a_bodys_headings_come_right_below_its_title_wherever_it_stands() {
        let top = |headings| match headings {
            Headings::StartingAt(level) => level as u8,
            Headings::AsWritten => 1,
        };
        assert_eq!(top(STORED_HEADINGS), Placement::Page.title_level() + 1);
        assert_eq!(top(FEED_HEADINGS), Placement::Feed.title_level() + 1);
    }

    fn card(bytes: usize) -> Card {
        Card {
            for_readers: Value::from_safe_string("r".repeat(bytes / 4)),
            for_author: Value::from_safe_string("a".repeat(bytes / 4)),
            for_staff: Value::from_safe_string("s".repeat(bytes / 4)),
            for_staff_author: Value::from_safe_string("b".repeat(bytes / 4)),
        }
    }

    fn key_of(n: u128) -> Key {
        (uuid::Uuid::from_u128(n), None, Placement::Feed)
    }

    #[test]
    fn the_cache_holds_at_most_its_budget_in_bytes() {
        let cards = Cards::new(100_000);
        for n in 0..1_000 {
            cards.keep(key_of(n), &card(3_000 + (n as usize % 7) * 1_000));
            assert!(cards.bytes() <= 100_000, "{} bytes", cards.bytes());
        }
        assert!(cards.bytes() > 0);
    }

    #[test]
    fn a_card_larger_than_the_budget_is_not_kept_and_zero_keeps_none() {
        let cards = Cards::new(10_000);
        cards.keep(key_of(1), &card(20_000));
        assert_eq!(cards.bytes(), 0);
        let none = Cards::new(0);
        none.keep(key_of(1), &card(10));
        assert_eq!(none.bytes(), 0);
    }

    #[test]
    fn a_card_kept_again_is_counted_once() {
        let cards = Cards::new(100_000);
        cards.keep(key_of(1), &card(1_000));
        let once = cards.bytes();
        cards.keep(key_of(1), &card(1_000));
        assert_eq!(cards.bytes(), once);
    }
}
