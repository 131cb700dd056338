//! Writing, reading, editing and deleting posts: the rules, over the database.
//!
//! Writing and editing count against the author's posting limit
//! (`--post-limit`, in the database like every limit): the slot is taken
//! before the work, and given back when the post is refused, so that only
//! posts written or edited count; deleting counts nothing.

use anyhow::Context;
use uuid::Uuid;

use crate::{
    domain::{
        Cursor, FeedPage, PageStart, Post, PostBody, PostTitle, User, Username, VersionPage,
        post::PostBodyError, post::PostTitleError, session::now,
    },
    services::throttle::{Slots, Throttle},
    store::{self, Stamp, Store, posts::NewPost},
};

/// The feed's page size on the web.
pub const PAGE_SIZE: u64 = 20;

/// What a new post, or an edit, carries. An edit may leave either out.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostInput<'a> {
    pub title: Option<&'a str>,
    pub body: Option<&'a str>,
}

/// Why a post was refused, field by field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PostErrors {
    pub title: Option<String>,
    pub body: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error("the post has errors")]
    Invalid(PostErrors),
    #[error("there is no such post")]
    NotFound,
    #[error("only the author may change a post")]
    Forbidden,
    #[error("too many posts lately")]
    Throttled { retry_after: std::time::Duration },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Parses a post id from a path; anything malformed is simply "no such post".
pub fn parse_id(raw: &str) -> Result<Uuid, PostError> {
    Uuid::try_parse(raw).map_err(|_| PostError::NotFound)
}

struct Valid {
    title: PostTitle,
    body: PostBody,
}

fn validate(title: &str, body: &str) -> Result<Valid, PostError> {
    let title = PostTitle::parse(title).map_err(|e: PostTitleError| e.to_string());
    let body = PostBody::parse(body).map_err(|e: PostBodyError| e.to_string());
    match (title, body) {
        (Ok(title), Ok(body)) => Ok(Valid { title, body }),
        (title, body) => Err(PostError::Invalid(PostErrors {
            title: title.err(),
            body: body.err(),
        })),
    }
}

/// The message for a refused post, with the wait rounded up to minutes.
pub fn throttled_message(retry_after: std::time::Duration) -> String {
    format!(
        "You have posted a lot lately. Try again in {}; what you wrote is still here.",
        crate::domain::rate_limit::in_minutes(retry_after)
    )
}

/// The posts use cases, with the store and the posting limit.
#[derive(Clone)]
pub struct Posts {
    store: Store,
    throttle: Throttle,
}

impl Posts {
    pub fn new(store: Store, throttle: Throttle) -> Self {
        Self { store, throttle }
    }

    #[tracing::instrument(skip_all, fields(author = %author.username))]
    pub async fn create(&self, author: &User, input: PostInput<'_>) -> Result<Post, PostError> {
        let store = &self.store;
        let throttle = &self.throttle;
        let valid = validate(
            input.title.unwrap_or_default(),
            input.body.unwrap_or_default(),
        )?;
        counted(throttle, author, insert(store, author, valid)).await
    }

    pub async fn get(&self, id: Uuid) -> Result<Post, PostError> {
        let store = &self.store;
        store::posts::find(store.pool(), id)
            .await
            .context("Failed to load a post")?
            .ok_or(PostError::NotFound)
    }

    /// The post, if `user` wrote it: what an edit form starts from.
    pub async fn get_own(&self, user: &User, id: Uuid) -> Result<Post, PostError> {
        let post = self.get(id).await?;
        if post.author_id != user.id {
            return Err(PostError::Forbidden);
        }
        Ok(post)
    }

    /// Changes the title and/or body of `user`'s post.
    #[tracing::instrument(skip_all, fields(post = %id))]
    pub async fn update(
        &self,
        user: &User,
        id: Uuid,
        input: PostInput<'_>,
    ) -> Result<Post, PostError> {
        let store = &self.store;
        let throttle = &self.throttle;
        let post = self.get_own(user, id).await?;
        if input.title.is_none() && input.body.is_none() {
            return Ok(post);
        }
        let valid = validate(
            input.title.unwrap_or(&post.title),
            input.body.unwrap_or(&post.body),
        )?;
        counted(throttle, user, rewrite(store, post, valid)).await
    }

    /// Deletes `user`'s post; returns it as it was.
    #[tracing::instrument(skip_all, fields(post = %id))]
    pub async fn delete(&self, user: &User, id: Uuid) -> Result<Post, PostError> {
        let store = &self.store;
        let post = self.get_own(user, id).await?;
        let found = store
            .delete_post(id)
            .await
            .context("Failed to delete a post")?;
        if found {
            Ok(post)
        } else {
            Err(PostError::NotFound)
        }
    }

    /// A page of everyone's posts, newest first.
    pub async fn feed(
        &self,
        before: Option<Cursor>,
        limit: PageLimit,
    ) -> Result<FeedPage, PostError> {
        let store = &self.store;
        page(store, None, before, limit).await
    }

    /// A page of one person's posts, with the person.
    pub async fn by_author(
        &self,
        username: &str,
        before: Option<Cursor>,
        limit: PageLimit,
    ) -> Result<(User, FeedPage), PostError> {
        let store = &self.store;
        let author = author_named(store, username).await?;
        let page = page(store, Some(author.id), before, limit).await?;
        Ok((author, page))
    }

    /// A page of everyone's posts as versions (see [`crate::domain::PostVersion`]).
    /// `session` is the stamp of the request's session lookup: the first page
    /// may then come from memory (see [`Store::first_page_versions`]).
    pub async fn feed_versions(
        &self,
        session: Option<&Stamp>,
        start: PageStart,
        limit: u64,
    ) -> Result<VersionPage, PostError> {
        let store = &self.store;
        if start != PageStart::Newest {
            return versions(store, None, start, limit).await;
        }
        // One more than asked tells whether another page follows.
        let versions = store
            .first_page_versions(session, limit + 1)
            .await
            .context("Failed to load a page of posts")?;
        Ok(VersionPage::of(versions, limit, None))
    }

    /// A page of one person's posts as versions, with the person.
    pub async fn versions_by_author(
        &self,
        username: &str,
        start: PageStart,
        limit: u64,
    ) -> Result<(User, VersionPage), PostError> {
        let store = &self.store;
        let author = author_named(store, username).await?;
        let page = versions(store, Some(author.id), start, limit).await?;
        Ok((author, page))
    }

    /// The posts with these ids (the ones that still exist).
    pub async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<Post>, PostError> {
        let store = &self.store;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(store::posts::find_many(store.pool(), ids)
            .await
            .context("Failed to load posts")?)
    }
}

/// Takes `author`'s posting slot, or says how long to wait.
async fn take_slot(throttle: &Throttle, author: &User) -> Result<Slots, PostError> {
    throttle
        .post(author.id)
        .await?
        .map_err(|t| PostError::Throttled {
            retry_after: t.retry_after,
        })
}

/// Runs `write` with a posting slot taken, which is given back when the
/// post is refused or cannot be written.
async fn counted<T>(
    throttle: &Throttle,
    author: &User,
    write: impl Future<Output = Result<T, PostError>>,
) -> Result<T, PostError> {
    let slots = take_slot(throttle, author).await?;
    match write.await {
        Ok(done) => {
            slots.keep();
            Ok(done)
        }
        Err(e) => {
            throttle.give_back(slots).await?;
            Err(e)
        }
    }
}

/// Bodies up to this many bytes are rendered on the async worker that
/// handles the request, which costs less than handing them to a blocking
/// thread and back: ordinary text this long renders in about 30 µs, and text
/// made to be slow (markup in every character) in a few hundred, which the
/// posting limit keeps rare.
const RENDER_INLINE_MAX: usize = 512;

/// The body's HTML; HTML beyond the cap is an error of the body. A long body
/// is rendered on a blocking thread: it can take a few milliseconds, which
/// an async worker must not spend.
async fn render(body: &PostBody) -> Result<String, PostError> {
    let rendered = if body.as_str().len() <= RENDER_INLINE_MAX {
        body.to_html()
    } else {
        let body = body.clone();
        tokio::task::spawn_blocking(move || body.to_html())
            .await
            .context("Failed to render a post")?
    };
    rendered.map_err(|e| {
        PostError::Invalid(PostErrors {
            title: None,
            body: Some(e.to_string()),
        })
    })
}

async fn insert(store: &Store, author: &User, valid: Valid) -> Result<Post, PostError> {
    let body_html = render(&valid.body).await?;
    let post = Post {
        id: Uuid::now_v7(),
        author_id: author.id,
        author: author.username.clone(),
        title: valid.title.as_str().to_owned(),
        body: valid.body.as_str().to_owned(),
        body_html,
        created_at: now(),
        updated_at: None,
    };
    store
        .insert_post(NewPost {
            id: post.id,
            author_id: post.author_id,
            title: &post.title,
            body: &post.body,
            body_html: &post.body_html,
            created_at: post.created_at,
        })
        .await
        .context("Failed to insert a post")?;
    Ok(post)
}

async fn rewrite(store: &Store, post: Post, valid: Valid) -> Result<Post, PostError> {
    let id = post.id;
    let body_html = render(&valid.body).await?;
    let updated_at = now();
    let found = store
        .update_post(
            id,
            store::posts::PostUpdate {
                title: valid.title.as_str(),
                body: valid.body.as_str(),
                body_html: &body_html,
                updated_at,
            },
        )
        .await
        .context("Failed to update a post")?;
    if !found {
        return Err(PostError::NotFound);
    }
    Ok(Post {
        title: valid.title.as_str().to_owned(),
        body: valid.body.as_str().to_owned(),
        body_html,
        updated_at: Some(updated_at),
        ..post
    })
}

/// How many posts a page holds at most: a count, and (unless zero) about
/// how many bytes of posts.
#[derive(Debug, Clone, Copy)]
pub struct PageLimit {
    pub posts: u64,
    pub bytes: usize,
}

async fn author_named(store: &Store, username: &str) -> Result<User, PostError> {
    let username = Username::parse(username).map_err(|_| PostError::NotFound)?;
    store::users::find_by_username(store.pool(), &username)
        .await
        .context("Failed to look up a user")?
        .ok_or(PostError::NotFound)
}

async fn versions(
    store: &Store,
    author: Option<Uuid>,
    start: PageStart,
    limit: u64,
) -> Result<VersionPage, PostError> {
    let before = match start {
        PageStart::Newest => None,
        PageStart::Before(cursor) => Some(cursor),
        // Newer pages are reached by a link without JavaScript only: read
        // through the pool, off the hot path.
        PageStart::After(after) => {
            let versions =
                store::posts::page_versions_after(store.pool(), author, after, limit + 1)
                    .await
                    .context("Failed to load a page of newer posts")?;
            return Ok(VersionPage::going_forward(versions, limit, after));
        }
    };
    // One more than asked tells whether another page follows.
    let versions = store
        .page_versions(author, before, limit + 1)
        .await
        .context("Failed to load a page of posts")?;
    Ok(VersionPage::of(versions, limit, before))
}

async fn page(
    store: &Store,
    author: Option<Uuid>,
    before: Option<Cursor>,
    limit: PageLimit,
) -> Result<FeedPage, PostError> {
    // One more than asked tells whether another page follows.
    let mut posts = store
        .page(author, before, limit.posts + 1)
        .await
        .context("Failed to load a page of posts")?;
    let mut kept = posts.len().min(limit.posts as usize);
    if limit.bytes > 0 {
        // At least one post, so that every page moves the reader on.
        let mut bytes = 0;
        kept = posts[..kept]
            .iter()
            .position(|p| {
                bytes += p.size();
                bytes > limit.bytes
            })
            .map_or(kept, |over| over.max(1));
    }
    let next = if posts.len() > kept {
        posts.truncate(kept);
        posts.last().map(Post::cursor)
    } else {
        None
    };
    Ok(FeedPage { posts, next })
}
