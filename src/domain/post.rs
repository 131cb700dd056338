//! Posts: what a valid title and body are, how the body's Markdown becomes
//! safe HTML, and the cursor that pages the feed.

use std::{collections::HashSet, fmt, sync::LazyLock};

use chrono::{DateTime, Utc};
pub use pulldown_cmark::HeadingLevel;
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use uuid::Uuid;

pub const TITLE_MAX: usize = 120;
pub const BODY_MAX: usize = 10_000;
/// Block quotes and lists nest at most this deep; deeper ones are shown as
/// the text they are written in. (Deep nesting is what makes rendering, and
/// above all sanitizing, slow and the HTML large.)
pub const NESTING_MAX: usize = 16;
/// A body's HTML may be at most this many times its source, plus
/// [`RENDERED_SLACK`] bytes.
pub const RENDERED_FACTOR: usize = 4;
pub const RENDERED_SLACK: usize = 8 * 1024;

/// The title rule as a pattern, for the API spec: no control characters (C0,
/// DEL or C1, as `char::is_control`), and at least one that is not blank.
/// (Written without look-arounds, so that it means the same to JSON Schema
/// and to the server's regex engine.)
pub const TITLE_PATTERN: &str =
    r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$";
/// The body rule as a pattern: tabs and line breaks allowed, no other control
/// character, and at least one character that is not blank.
pub const BODY_PATTERN: &str = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*[^\s\x00-\x08\x0B\x0C\x0E-\x1F\x7F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$";

/// A post's title: trimmed, 1–120 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostTitle(String);

/// A post's body, as Markdown: trimmed, 1–10,000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostBody(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostTitleError {
    #[error("Give the post a title.")]
    Empty,
    #[error("A title has at most {TITLE_MAX} characters.")]
    TooLong,
    #[error("A title cannot hold control characters.")]
    ControlCharacter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostBodyError {
    #[error("Write something in the post.")]
    Empty,
    #[error("A post has at most {BODY_MAX} characters.")]
    TooLong,
    #[error("A post cannot hold control characters other than tabs and line breaks.")]
    ControlCharacter,
    #[error(
        "This post's formatting makes it too long to show: use fewer links, lists or quotes, or shorten it."
    )]
    TooLongRendered,
}

impl PostTitle {
    pub fn parse(raw: &str) -> Result<Self, PostTitleError> {
        let title = raw.trim();
        if title.chars().any(char::is_control) {
            return Err(PostTitleError::ControlCharacter);
        }
        match title.chars().count() {
            0 => Err(PostTitleError::Empty),
            n if n > TITLE_MAX => Err(PostTitleError::TooLong),
            _ => Ok(Self(title.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PostBody {
    pub fn parse(raw: &str) -> Result<Self, PostBodyError> {
        let body = raw.trim();
        if body
            .chars()
            .any(|c| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(PostBodyError::ControlCharacter);
        }
        match body.chars().count() {
            0 => Err(PostBodyError::Empty),
            n if n > BODY_MAX => Err(PostBodyError::TooLong),
            _ => Ok(Self(body.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The body as HTML that is safe to put in a page, as it is stored and
    /// as the API serves it (its headings start at [`STORED_HEADINGS`]),
    /// unless that HTML is longer than the cap ([`RENDERED_FACTOR`] times
    /// the source, plus [`RENDERED_SLACK`]). Costs up to a few milliseconds:
    /// call it off the async workers.
    pub fn to_html(&self) -> Result<String, PostBodyError> {
        let html = render_markdown(&self.0, STORED_HEADINGS);
        if html.len() > self.0.len() * RENDERED_FACTOR + RENDERED_SLACK {
            return Err(PostBodyError::TooLongRendered);
        }
        Ok(html)
    }
}

/// The sanitizer behind every rendered body: only ordinary formatting tags,
/// links only to http, https and mailto, and every link marked
/// `rel="nofollow noopener noreferrer"`.
static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .link_rel(Some("nofollow noopener noreferrer"))
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .rm_tags(["img"]);
    builder
});

/// How a body's headings are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headings {
    /// At the levels written, `#` an `h1`: how bodies were stored before
    /// their headings moved below the title.
    AsWritten,
    /// Below the title the post is shown under: `#` at this level, each
    /// deeper one a level further, never more than one level below the
    /// heading before it (nor past `h6`). A page keeps one `h1` and no
    /// skipped levels whatever the author wrote.
    StartingAt(HeadingLevel),
}

/// How stored bodies (and the API's `body_html`) render headings: a post's
/// title is the `h1` of its own page, so its `#` is an `h2` under it.
pub const STORED_HEADINGS: Headings = Headings::StartingAt(HeadingLevel::H2);

/// CommonMark to sanitized HTML. Raw HTML in the source is shown as the text
/// it is, never passed through; images become links to the image (pages load
/// nothing from other hosts); block quotes and lists nested deeper than
/// [`NESTING_MAX`] are shown as their source text; headings as `headings`
/// says; then the result is sanitized once more, so that nothing the parser
/// lets through can carry script.
pub fn render_markdown(source: &str, headings: Headings) -> String {
    let mut outline = Outline::new(headings);
    let mut events = Vec::new();
    let mut depth = 0;
    // While inside a container too deep to render: how deep in it we are.
    let mut skipping = 0;
    for (event, range) in Parser::new(source).into_offset_iter() {
        let nests = match &event {
            Event::Start(Tag::BlockQuote(_) | Tag::List(_)) => 1,
            Event::End(TagEnd::BlockQuote(_) | TagEnd::List(_)) => -1,
            _ => 0,
        };
        if skipping > 0 {
            skipping += nests;
            continue;
        }
        if nests == 1 && depth == NESTING_MAX {
            events.push(Event::Start(Tag::Paragraph));
            events.push(Event::Text(source[range].trim_end().into()));
            events.push(Event::End(TagEnd::Paragraph));
            skipping = 1;
            continue;
        }
        depth = depth.saturating_add_signed(nests);
        events.push(match event {
            Event::Start(Tag::Heading {
                level,
                id,
                classes,
                attrs,
            }) => Event::Start(Tag::Heading {
                level: outline.open(level),
                id,
                classes,
                attrs,
            }),
            Event::End(TagEnd::Heading(_)) => Event::End(TagEnd::Heading(outline.close())),
            Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }),
            Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
            other => other,
        });
    }
    let mut html = String::with_capacity(source.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    SANITIZER.clean(&html).to_string()
}

/// The levels a body's headings are given, one after another (headings do
/// not nest: each closes before the next opens).
struct Outline {
    headings: Headings,
    /// The level of the heading last opened; at first, the title's.
    last: usize,
}

impl Outline {
    fn new(headings: Headings) -> Self {
        let last = match headings {
            Headings::AsWritten => 0,
            Headings::StartingAt(top) => top as usize - 1,
        };
        Self { headings, last }
    }

    fn open(&mut self, written: HeadingLevel) -> HeadingLevel {
        let level = match self.headings {
            Headings::AsWritten => written as usize,
            Headings::StartingAt(top) => (written as usize + top as usize - 1)
                .min(self.last + 1)
                .min(6),
        };
        self.last = level;
        HeadingLevel::try_from(level).unwrap_or(HeadingLevel::H6)
    }

    fn close(&self) -> HeadingLevel {
        HeadingLevel::try_from(self.last).unwrap_or(HeadingLevel::H6)
    }
}

/// A post as readers see it, with its author's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub id: Uuid,
    pub author_id: Uuid,
    pub author: String,
    pub title: String,
    /// The Markdown source.
    pub body: String,
    /// The sanitized HTML made from `body` when it was written.
    pub body_html: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Post {
    /// About the bytes the post takes in an answer: its text, and room for
    /// the rest of its fields.
    pub fn size(&self) -> usize {
        self.title.len() + self.body.len() + self.body_html.len() + self.author.len() + 200
    }

    pub fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// What identifies one version of a post: enough to page a feed, to tell
/// whose it is, and to know whether a copy rendered earlier is still right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PostVersion {
    pub id: Uuid,
    pub author_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl PostVersion {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

impl Post {
    pub fn version(&self) -> PostVersion {
        PostVersion {
            id: self.id,
            author_id: self.author_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Where a page of a feed starts: at the newest post, right after a cursor
/// going back in time (an "Older posts" link), or right before it going
/// forward (a "Newer posts" link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart {
    Newest,
    Before(Cursor),
    After(Cursor),
}

/// One page of a feed as versions only, newest first, and where the pages
/// on either side start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionPage {
    pub versions: Vec<PostVersion>,
    /// The older page starts before this.
    pub next: Option<Cursor>,
    /// The newer page starts after this (none at the newest page, or when
    /// no newer post is left).
    pub newer: Option<Cursor>,
}

impl VersionPage {
    /// The first `limit` of `versions` (newest first), read with one more
    /// than a page holds: the extra one, when there, says that an older
    /// page follows. A page read `before` a cursor has newer posts.
    pub fn of(mut versions: Vec<PostVersion>, limit: u64, before: Option<Cursor>) -> Self {
        let next = if versions.len() as u64 > limit {
            versions.truncate(limit as usize);
            versions.last().map(PostVersion::cursor)
        } else {
            None
        };
        let newer = before.map(|cursor| versions.first().map_or(cursor, PostVersion::cursor));
        Self {
            versions,
            next,
            newer,
        }
    }

    /// A page read going forward from `after`: the first `limit` of
    /// `versions` (oldest first, read with one more than a page holds, the
    /// extra one saying that newer posts are left), turned newest first.
    pub fn going_forward(mut versions: Vec<PostVersion>, limit: u64, after: Cursor) -> Self {
        let more = versions.len() as u64 > limit;
        versions.truncate(limit as usize);
        versions.reverse();
        Self {
            next: Some(versions.last().map_or(after, PostVersion::cursor)),
            newer: more
                .then(|| versions.first().map(PostVersion::cursor))
                .flatten(),
            versions,
        }
    }
}

/// One page of a feed, newest first, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    pub posts: Vec<Post>,
    pub next: Option<Cursor>,
}

/// 10000-01-01T00:00:00Z in microseconds since 1970: cursors end before it.
const CURSOR_END_MICROS: i64 = 253_402_300_800_000_000;

/// Where a page of posts ends: the `created_at` and id of its last post. The
/// next page holds the posts strictly older, in the same order
/// (`created_at DESC, id DESC`), so that posts arriving meanwhile shift
/// nothing and no post is missed or repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    /// Reads `<microseconds since 1970>_<uuid in hex>`; anything else,
    /// or a time outside 1970-01-01 … 9999-12-31 (which no post has, and
    /// which not every database can compare with), is `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        let (micros, id) = raw.split_once('_')?;
        let micros: i64 = micros.parse().ok()?;
        if !(0..CURSOR_END_MICROS).contains(&micros) {
            return None;
        }
        let created_at = DateTime::from_timestamp_micros(micros)?;
        let id = Uuid::try_parse(id).ok()?;
        Some(Self { created_at, id })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{}",
            self.created_at.timestamp_micros(),
            self.id.simple()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_1_to_120_characters() {
        assert_eq!(PostTitle::parse("  Hello  ").unwrap().as_str(), "Hello");
        assert_eq!(PostTitle::parse("   "), Err(PostTitleError::Empty));
        assert!(PostTitle::parse(&"é".repeat(120)).is_ok());
        assert_eq!(
            PostTitle::parse(&"é".repeat(121)),
            Err(PostTitleError::TooLong)
        );
    }

    #[test]
    fn bodies_are_trimmed_and_1_to_10000_characters() {
        assert_eq!(PostBody::parse("\n body \n").unwrap().as_str(), "body");
        assert_eq!(PostBody::parse(""), Err(PostBodyError::Empty));
        assert!(PostBody::parse(&"x".repeat(10_000)).is_ok());
        assert_eq!(
            PostBody::parse(&"x".repeat(10_001)),
            Err(PostBodyError::TooLong)
        );
    }

    #[test]
    fn control_characters_are_refused_but_tabs_and_line_breaks_live_in_bodies() {
        assert_eq!(
            PostTitle::parse("a\u{0}b"),
            Err(PostTitleError::ControlCharacter)
        );
        assert_eq!(
            PostTitle::parse("line\nbreak"),
            Err(PostTitleError::ControlCharacter)
        );
        assert_eq!(
            PostBody::parse("nul \u{0} byte"),
            Err(PostBodyError::ControlCharacter)
        );
        assert_eq!(
            PostBody::parse("bell \u{7}"),
            Err(PostBodyError::ControlCharacter)
        );
        assert!(PostBody::parse("tab\there\r\nand lines\n").is_ok());
    }

    #[test]
    fn the_published_patterns_say_what_parsing_does() {
        let title = matcher(TITLE_PATTERN);
        let body = matcher(BODY_PATTERN);
        for (s, ok) in [
            ("Hello", true),
            ("  x ", true),
            ("   ", false),
            ("", false),
            ("a\u{0}", false),
            ("a\nb", false),
            ("a\u{85}b", false),
            ("é 🍊", true),
        ] {
            assert_eq!(title(s), ok, "title {s:?}");
            assert_eq!(
                PostTitle::parse(s).is_ok(),
                ok || s.chars().count() > TITLE_MAX,
                "parse title {s:?}"
            );
        }
        for (s, ok) in [
            ("Hello", true),
            ("a\n\tb", true),
            (" \n ", false),
            ("x\u{0}", false),
            ("x\u{1b}", false),
        ] {
            assert_eq!(body(s), ok, "body {s:?}");
            assert_eq!(PostBody::parse(s).is_ok(), ok, "parse body {s:?}");
        }
    }

    /// The patterns, checked the way the API's validator checks them.
    fn matcher(pattern: &str) -> impl Fn(&str) -> bool {
        let re = regex::Regex::new(pattern).unwrap();
        move |s| re.is_match(s)
    }

    fn html(source: &str) -> String {
        render_markdown(source, STORED_HEADINGS)
    }

    #[test]
    fn markdown_becomes_html() {
        let html = html("# Hi\n\nSome *emphasis* and `code`.\n\n- one\n- two");
        assert!(html.contains("<h2>Hi</h2>"), "{html}");
        assert!(html.contains("<em>emphasis</em>"), "{html}");
        assert!(html.contains("<code>code</code>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
    }

    #[test]
    fn block_quotes_and_lists_deeper_than_the_limit_are_shown_as_text() {
        let html = render_markdown(&format!("{}deep", "> ".repeat(20)), Headings::AsWritten);
        assert_eq!(html.matches("<blockquote>").count(), NESTING_MAX, "{html}");
        assert!(html.contains("&gt; &gt; &gt; &gt; deep"), "{html}");
        let html = render_markdown(&format!("{}deep", "- ".repeat(20)), Headings::AsWritten);
        assert_eq!(html.matches("<ul>").count(), NESTING_MAX, "{html}");
        assert!(html.contains("- - - - deep"), "{html}");
        // Up to the limit, nesting renders as usual, and what follows the
        // deep part does too.
        let html = render_markdown(
            &format!("{}x\n\nafter *this*", "> ".repeat(NESTING_MAX)),
            Headings::AsWritten,
        );
        assert_eq!(html.matches("<blockquote>").count(), NESTING_MAX, "{html}");
        assert!(html.contains("<em>this</em>"), "{html}");
        let nested: String = (0..20)
            .map(|i| format!("{}- level {i}\n", "  ".repeat(i)))
            .collect();
        let html = render_markdown(&nested, Headings::AsWritten);
        assert_eq!(html.matches("<ul>").count(), NESTING_MAX, "{html}");
        assert!(html.contains("level 19"), "{html}");
    }

    #[test]
    fn abusive_bodies_render_within_the_cap_or_are_refused() {
        for source in [
            ">".repeat(9_999),
            "- ".repeat(5_000),
            "> ".repeat(5_000),
            format!("{}a", "- ".repeat(4_999)),
            format!("{}a", "1. ".repeat(3_333)),
            "> - ".repeat(2_500),
        ] {
            let body = PostBody::parse(&source).unwrap();
            match body.to_html() {
                Ok(html) => assert!(
                    html.len() <= body.as_str().len() * RENDERED_FACTOR + RENDERED_SLACK,
                    "{} bytes",
                    html.len()
                ),
                Err(e) => assert_eq!(e, PostBodyError::TooLongRendered),
            }
        }
    }

    #[test]
    fn html_beyond_the_cap_is_refused() {
        // Each `&` becomes `&amp;`: five times the source.
        let body = PostBody::parse(&"&".repeat(BODY_MAX)).unwrap();
        assert_eq!(body.to_html(), Err(PostBodyError::TooLongRendered));
        let body = PostBody::parse(&"&".repeat(2_000)).unwrap();
        assert!(body.to_html().is_ok(), "short bodies have the slack");
    }

    #[test]
    fn raw_html_is_shown_as_text_not_passed_through() {
        let html = html("<script>alert(1)</script>\n\nhi <b onclick=\"x()\">there</b>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<b onclick"), "{html}");
    }

    #[test]
    fn javascript_links_lose_their_target() {
        for src in [
            "[click](javascript:alert(1))",
            "[click](JaVaScRiPt:alert(1))",
            "<javascript:alert(1)>",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "[x](vbscript:msgbox)",
        ] {
            let html = html(src);
            let lower = html.to_lowercase();
            assert!(
                !lower.contains("javascript:") || !lower.contains("href"),
                "{src}: {html}"
            );
            assert!(!lower.contains("href=\"javascript"), "{src}: {html}");
            assert!(!lower.contains("href=\"data:"), "{src}: {html}");
            assert!(!lower.contains("href=\"vbscript"), "{src}: {html}");
        }
    }

    #[test]
    fn links_get_nofollow_noopener_noreferrer() {
        let html = html("[Tangerine](https://example.org/)");
        assert!(
            html.contains(
                r#"<a href="https://example.org/" rel="nofollow noopener noreferrer">Tangerine</a>"#
            ),
            "{html}"
        );
    }

    #[test]
    fn images_become_links_so_pages_load_nothing_from_elsewhere() {
        let html = html("![a cat](https://example.org/cat.png)");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains(r#"href="https://example.org/cat.png""#),
            "{html}"
        );
        assert!(html.contains("a cat"), "{html}");
    }

    /// How many headings of each level, h1 to h6, `html` has.
    fn levels(html: &str) -> Vec<usize> {
        (1..=6)
            .map(|n| html.matches(&format!("<h{n}>")).count())
            .collect()
    }

    #[test]
    fn headings_sit_below_the_title_they_are_shown_under() {
        let source =
            "# One\n\n## Two\n\n### Three\n\n#### Four\n\n##### Five\n\n###### Six\n\nSetext\n===";
        let at = |headings| levels(&render_markdown(source, headings));
        assert_eq!(at(Headings::AsWritten), [2, 1, 1, 1, 1, 1]);
        // Under a page's h1 title: `#` (and a setext `===`) is an h2.
        assert_eq!(at(STORED_HEADINGS), [0, 2, 1, 1, 1, 2]);
        // Under a feed's h3 titles: h4 and below, the rest gathered at h6.
        assert_eq!(
            at(Headings::StartingAt(HeadingLevel::H4)),
            [0, 0, 0, 2, 1, 4]
        );
        let html = render_markdown("# Title\n\ntext", Headings::StartingAt(HeadingLevel::H4));
        assert!(html.starts_with("<h4>Title</h4>"), "{html}");
    }

    #[test]
    fn headings_never_skip_a_level_whatever_was_written() {
        let html = render_markdown(
            "### Starts deep\n\n###### Deeper\n\n# Back up\n\n#### Down again",
            STORED_HEADINGS,
        );
        assert_eq!(
            html,
            "<h2>Starts deep</h2>\n<h3>Deeper</h3>\n<h2>Back up</h2>\n<h3>Down again</h3>\n"
        );
        // As written, they stay as they were.
        let html = render_markdown("### a\n\n###### b", Headings::AsWritten);
        assert_eq!(html, "<h3>a</h3>\n<h6>b</h6>\n");
    }

    #[test]
    fn a_heading_written_as_raw_html_stays_text() {
        let html = html("<h1>Big</h1>");
        assert!(!html.contains("<h1>"), "{html}");
        assert!(html.contains("&lt;h1&gt;"), "{html}");
    }

    fn versions(n: i64) -> Vec<PostVersion> {
        (0..n)
            .map(|i| PostVersion {
                id: Uuid::now_v7(),
                author_id: Uuid::nil(),
                created_at: DateTime::from_timestamp(1_800_000_000 + i, 0).unwrap(),
                updated_at: None,
            })
            .collect()
    }

    #[test]
    fn pages_going_back_know_their_older_and_newer_neighbours() {
        let mut newest_first = versions(5);
        newest_first.reverse();
        let first = VersionPage::of(newest_first.clone(), 2, None);
        assert_eq!(first.versions, newest_first[..2]);
        assert_eq!(first.next, Some(newest_first[1].cursor()));
        assert_eq!(first.newer, None, "nothing is newer than the newest");

        let cursor = newest_first[1].cursor();
        let second = VersionPage::of(newest_first[2..].to_vec(), 2, Some(cursor));
        assert_eq!(second.newer, Some(newest_first[2].cursor()));
        assert_eq!(second.next, Some(newest_first[3].cursor()));

        let last = VersionPage::of(newest_first[4..].to_vec(), 2, Some(cursor));
        assert_eq!(last.next, None, "the last page");
        let past_the_end = VersionPage::of(Vec::new(), 2, Some(cursor));
        assert_eq!(
            (past_the_end.next, past_the_end.newer),
            (None, Some(cursor))
        );
    }

    #[test]
    fn pages_going_forward_turn_newest_first() {
        let oldest_first = versions(5);
        let after = oldest_first[0].cursor();
        let page = VersionPage::going_forward(oldest_first[1..4].to_vec(), 2, after);
        assert_eq!(page.versions, [oldest_first[2], oldest_first[1]]);
        assert_eq!(page.next, Some(oldest_first[1].cursor()));
        assert_eq!(
            page.newer,
            Some(oldest_first[2].cursor()),
            "one more was read"
        );

        let top = VersionPage::going_forward(oldest_first[3..].to_vec(), 2, after);
        assert_eq!(top.versions, [oldest_first[4], oldest_first[3]]);
        assert_eq!(top.newer, None, "nothing newer is left");
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_764_446_400_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        let s = c.to_string();
        assert_eq!(Cursor::parse(&s), Some(c));
        for edge in [0, CURSOR_END_MICROS - 1] {
            let raw = format!("{edge}_00000000000000000000000000000000");
            assert!(Cursor::parse(&raw).is_some(), "{raw}");
        }
        assert_eq!(
            DateTime::from_timestamp_micros(CURSOR_END_MICROS).map(|t| t.to_rfc3339()),
            Some("+10000-01-01T00:00:00+00:00".to_owned())
        );
        for bad in [
            "",
            "abc",
            "123",
            "123_",
            "_abc",
            "x_0193",
            "99999999999999999999999_00000000000000000000000000000000",
            "-1_00000000000000000000000000000000",
            "-210866803200000001_00000000000000000000000000000000",
            "253402300800000000_00000000000000000000000000000000",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }
}
