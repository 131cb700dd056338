//! JSON objects shared by several resources' operations.

use chrono::{DateTime, Utc};
use poem_openapi::{Object, types::Example};
use uuid::Uuid;

use crate::domain::{FeedPage, Post, User};

/// A person with an account.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct UserObject {
    pub id: Uuid,
    /// Lowercase: 3–32 letters, digits or `_`.
    pub username: String,
}

impl From<User> for UserObject {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            username: u.username,
        }
    }
}

impl Example for UserObject {
    fn example() -> Self {
        Self {
            id: Uuid::nil(),
            username: "alice".into(),
        }
    }
}

/// A post.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct PostObject {
    pub id: Uuid,
    /// The author's username.
    pub author: String,
    pub title: String,
    /// The Markdown source, as written.
    pub body: String,
    /// The body as sanitized HTML, safe to put in a page.
    pub body_html: String,
    pub created_at: DateTime<Utc>,
    /// When it was last edited; null if never.
    #[oai(nullable)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<Post> for PostObject {
    fn from(p: Post) -> Self {
        Self {
            id: p.id,
            author: p.author,
            title: p.title,
            body: p.body,
            body_html: p.body_html,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

impl Example for PostObject {
    fn example() -> Self {
        Self {
            id: Uuid::nil(),
            author: "alice".into(),
            title: "Hello, Tangerine".into(),
            body: "The *first* post.".into(),
            body_html: "<p>The <em>first</em> post.</p>\n".into(),
            created_at: DateTime::UNIX_EPOCH,
            updated_at: None,
        }
    }
}

/// A page of posts, newest first.
#[derive(Debug, Clone, Object)]
pub struct PostPage {
    pub posts: Vec<PostObject>,
    /// Pass as `before` for the next page; null on the last page.
    #[oai(nullable)]
    pub next: Option<String>,
}

impl From<FeedPage> for PostPage {
    fn from(page: FeedPage) -> Self {
        Self {
            posts: page.posts.into_iter().map(Into::into).collect(),
            next: page.next.map(|c| c.to_string()),
        }
    }
}
