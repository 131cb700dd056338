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

/// A string in a request body, and only a string: poem-openapi's `String`
/// takes `5` or `true` and turns them into `"5"` or `"true"`, where the
/// spec says `type: string`. In the spec it is a plain string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(pub String);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl poem_openapi::types::Type for Text {
    const IS_REQUIRED: bool = true;

    type RawValueType = String;

    type RawElementValueType = String;

    fn name() -> std::borrow::Cow<'static, str> {
        String::name()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        String::schema_ref()
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl poem_openapi::types::ParseFromJSON for Text {
    fn parse_from_json(value: Option<serde_json::Value>) -> poem_openapi::types::ParseResult<Self> {
        match value.unwrap_or_default() {
            serde_json::Value::String(s) => Ok(Self(s)),
            other => Err(poem_openapi::types::ParseError::expected_type(other)),
        }
    }
}

impl poem_openapi::types::ToJSON for Text {
    fn to_json(&self) -> Option<serde_json::Value> {
        Some(serde_json::Value::String(self.0.clone()))
    }
}

/// A field that may be left out, but is never `null` unless the spec says
/// so: poem-openapi's `Option` takes `null` for "left out", where the spec
/// says the field, when there, is a string (or a boolean).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Omittable<T>(pub Option<T>);

impl<T> Omittable<T> {
    pub fn as_ref(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl<T: poem_openapi::types::Type> poem_openapi::types::Type for Omittable<T> {
    const IS_REQUIRED: bool = false;

    type RawValueType = T::RawValueType;

    type RawElementValueType = T::RawElementValueType;

    fn name() -> std::borrow::Cow<'static, str> {
        <Option<T>>::name()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(T::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Some(value) => value.raw_element_iter(),
            None => Box::new(std::iter::empty()),
        }
    }

    fn is_none(&self) -> bool {
        self.0.is_none()
    }
}

impl<T: poem_openapi::types::ParseFromJSON> poem_openapi::types::ParseFromJSON for Omittable<T> {
    fn parse_from_json(value: Option<serde_json::Value>) -> poem_openapi::types::ParseResult<Self> {
        match value {
            None => Ok(Self(None)),
            Some(serde_json::Value::Null) => Err(poem_openapi::types::ParseError::expected_type(
                serde_json::Value::Null,
            )),
            Some(value) => Ok(Self(Some(
                T::parse_from_json(Some(value))
                    .map_err(poem_openapi::types::ParseError::propagate)?,
            ))),
        }
    }
}

impl<T: poem_openapi::types::ToJSON> poem_openapi::types::ToJSON for Omittable<T> {
    fn to_json(&self) -> Option<serde_json::Value> {
        self.0.as_ref().and_then(T::to_json)
    }
}
