//! Posts on the web: the composer, a post's page, editing in place, deleting,
//! and a person's posts.

use minijinja::Value;
use poem::{
    Response, Route, get, handler,
    http::{HeaderValue, StatusCode},
    post,
    web::{Data, Form, Path, Query},
};
use serde::{Deserialize, Serialize};

use super::{
    auth::CurrentUser,
    cards::{Placement, Reader},
    error::{WebError, WebResult},
    htmx,
    render::View,
    result::Refusal,
};
use crate::{
    domain::{Cursor, PageStart, Post, VersionPage},
    services::posts::{self, PAGE_SIZE, PostError, PostErrors, PostInput, Posts},
    state::AppState,
};

pub fn routes(route: Route) -> Route {
    route
        .at("/posts", post(create))
        .at("/posts/new", get(new_form))
        .at("/posts/:id", get(show).delete(delete_inline))
        .at("/posts/:id/edit", get(edit_form).post(update))
        .at("/posts/:id/delete", get(delete_form).post(delete_post))
        .at("/u/:username", get(by_author))
}

const NEW_PAGE: &str = "pages/posts/new.html";
const FORM: &str = "fragments/posts/form.html";
const SHOW_PAGE: &str = "pages/posts/show.html";
const POST: &str = "fragments/posts/post.html";
const EDIT_PAGE: &str = "pages/posts/edit.html";
const EDIT_FORM: &str = "fragments/posts/edit_form.html";
const DELETE_PAGE: &str = "pages/posts/delete.html";
const CREATED: &str = "fragments/posts/created.html";
const AUTHOR_PAGE: &str = "pages/posts/author.html";
pub const FEED_PAGE: &str = "fragments/posts/feed_page.html";

impl From<PostError> for WebError {
    fn from(e: PostError) -> Self {
        match e {
            PostError::NotFound => WebError::NotFound("There is no such post."),
            PostError::Forbidden => WebError::Forbidden("Only its author can change this post."),
            PostError::Invalid(_) => WebError::BadRequest("The post has errors.".into()),
            PostError::Throttled { retry_after } => WebError::Throttled {
                message: posts::throttled_message(retry_after),
                retry_after,
            },
            PostError::Unexpected(e) => WebError::Unexpected(e),
        }
    }
}

/// A post as a page shows it: its article from the card cache, with the
/// controls to edit and delete it when this reader wrote it.
#[derive(Serialize)]
pub struct PostView {
    title: String,
    html: Value,
    id: String,
    /// A logged-in reader other than the author may report the post.
    can_report: bool,
}

impl PostView {
    pub fn new(view: &View, post: &Post, placement: Placement) -> WebResult<Self> {
        let card = view.cards().card(view.templates(), post, placement)?;
        let user = view.user();
        let reader = Reader::of(user.as_ref(), post.author_id);
        Ok(Self {
            title: post.title.clone(),
            html: card.article(reader),
            id: post.id.to_string(),
            can_report: user.is_some_and(|u| u.id != post.author_id),
        })
    }
}

/// A page of a feed, and the addresses of the pages on either side.
#[derive(Serialize)]
pub struct FeedView {
    /// The posts' articles, from the card cache (safe HTML).
    posts: Vec<Value>,
    /// The older page ("Older posts", "Load more").
    next_url: Option<String>,
    /// The newer page ("Newer posts"), on pages other than the newest.
    newer_url: Option<String>,
}

impl FeedView {
    /// `base` is the feed's own address (`/` or `/u/alice`).
    pub async fn new(view: &View, posts: &Posts, page: VersionPage, base: &str) -> WebResult<Self> {
        let viewer = view.user();
        let feed = view.cards().feed(&page.versions);
        let missing = feed.missing();
        let loaded = match missing.as_slice() {
            [] => Vec::new(),
            ids => posts.get_many(ids).await?,
        };
        let cards = feed.complete(view.templates(), &loaded)?;
        let posts = cards
            .into_iter()
            .map(|(version, card)| card.article(Reader::of(viewer.as_ref(), version.author_id)))
            .collect();
        Ok(Self {
            posts,
            next_url: page.next.map(|c| format!("{base}?before={c}")),
            newer_url: page.newer.map(|c| format!("{base}?after={c}")),
        })
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    before: Option<String>,
    after: Option<String>,
}

impl PageQuery {
    /// Where the page starts, from an "Older posts" (`before`) or "Newer
    /// posts" (`after`) link; a malformed cursor, or both, is a 400.
    pub fn start(&self) -> Result<PageStart, WebError> {
        let cursor = |raw: &str| {
            Cursor::parse(raw)
                .ok_or_else(|| WebError::BadRequest("That page link is broken.".into()))
        };
        let before = self.before.as_deref().filter(|raw| !raw.is_empty());
        let after = self.after.as_deref().filter(|raw| !raw.is_empty());
        match (before, after) {
            (None, None) => Ok(PageStart::Newest),
            (Some(before), None) => Ok(PageStart::Before(cursor(before)?)),
            (None, Some(after)) => Ok(PageStart::After(cursor(after)?)),
            (Some(_), Some(_)) => Err(WebError::BadRequest("That page link is broken.".into())),
        }
    }
}

/// A page going forward that reached the newest posts is the feed's first
/// page: the browser goes there, so that the newest page is always the same.
pub fn reached_the_top(
    view: &View,
    start: PageStart,
    page: &VersionPage,
    base: &str,
) -> Option<Response> {
    let top = matches!(start, PageStart::After(_)) && page.newer.is_none();
    top.then(|| view.redirect(base))
}

#[derive(Serialize, Default)]
struct FormView {
    title: String,
    body: String,
    errors: ErrorsView,
    /// The homepage composer (htmx) rather than the page of its own.
    inline: bool,
    /// Swapped out of band, beside another answer.
    oob: bool,
}

#[derive(Serialize, Default)]
struct ErrorsView {
    title: Option<String>,
    body: Option<String>,
    /// Not about one field: the posting limit.
    form: Option<String>,
}

impl From<PostErrors> for ErrorsView {
    fn from(e: PostErrors) -> Self {
        Self {
            title: e.title,
            body: e.body,
            form: None,
        }
    }
}

/// Why a post was sent back with its form: the errors to show (of the post,
/// or the posting limit's), and the refusal.
fn refused(e: PostError) -> Result<(ErrorsView, Refusal), WebError> {
    match e {
        PostError::Invalid(errors) => Ok((errors.into(), Refusal::INVALID)),
        PostError::Throttled { retry_after } => Ok((
            ErrorsView {
                form: Some(posts::throttled_message(retry_after)),
                ..Default::default()
            },
            Refusal::lifts_after(StatusCode::TOO_MANY_REQUESTS, retry_after),
        )),
        other => Err(other.into()),
    }
}

#[derive(Deserialize)]
struct PostForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
}

impl PostForm {
    fn input(&self) -> PostInput<'_> {
        PostInput {
            title: Some(&self.title),
            body: Some(&self.body),
        }
    }
}

#[handler]
async fn new_form(view: View, CurrentUser(_): CurrentUser) -> WebResult {
    let inline = view.hx().wants_fragment();
    view.render(
        NEW_PAGE,
        FORM,
        FormView {
            inline,
            ..Default::default()
        },
    )
}

#[handler]
async fn create(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
    Form(form): Form<PostForm>,
) -> WebResult {
    let inline = view.hx().wants_fragment();
    match state.posts.create(&user, form.input()).await {
        Ok(post) if inline => {
            // The new post goes on top of the feed; the composer empties.
            let created = CreatedView {
                post: PostView::new(&view, &post, Placement::Feed)?,
                form: FormView {
                    inline: true,
                    ..Default::default()
                },
            };
            view.fragment(CREATED, created)
        }
        // The post's page is confirmation enough; no message is queued, so
        // publishing writes nothing to the session.
        Ok(post) => Ok(view.redirect(&format!("/posts/{}", post.id))),
        Err(e) => {
            let (errors, refusal) = refused(e)?;
            let again = FormView {
                title: form.title,
                body: form.body,
                errors,
                inline,
                oob: false,
            };
            let mut resp = view.render_refused(NEW_PAGE, FORM, again, refusal)?;
            if inline {
                // The answer replaces the composer, not the feed it targeted.
                resp.headers_mut()
                    .insert("HX-Retarget", HeaderValue::from_static("#post-form"));
                resp.headers_mut()
                    .insert("HX-Reswap", HeaderValue::from_static("outerHTML"));
            }
            Ok(resp)
        }
    }
}

#[derive(Serialize)]
struct CreatedView {
    post: PostView,
    form: FormView,
}

#[derive(Serialize)]
struct ShowView {
    post: PostView,
}

#[handler]
async fn show(view: View, Data(state): Data<&AppState>, Path(id): Path<String>) -> WebResult {
    let post = state.posts.get(posts::parse_id(&id)?).await?;
    let post = PostView::new(&view, &post, placement(&view, &id))?;
    view.render(SHOW_PAGE, POST, ShowView { post })
}

#[derive(Serialize)]
struct EditView {
    id: String,
    title: String,
    body: String,
    errors: ErrorsView,
    /// In place of the post (htmx) rather than on the page of its own.
    inline: bool,
    /// In place, the heading level of the title the form stands in for.
    level: u8,
}

impl EditView {
    fn new(view: &View, id: String, title: String, body: String, errors: ErrorsView) -> Self {
        let level = placement(view, &id).title_level();
        Self {
            id,
            title,
            body,
            errors,
            inline: view.hx().wants_fragment(),
            level,
        }
    }
}

#[handler]
async fn edit_form(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
) -> WebResult {
    let post = state.posts.get_own(&user, posts::parse_id(&id)?).await?;
    let edit = EditView::new(
        &view,
        post.id.to_string(),
        post.title,
        post.body,
        ErrorsView::default(),
    );
    view.render(EDIT_PAGE, EDIT_FORM, edit)
}

#[handler]
async fn update(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
    Form(form): Form<PostForm>,
) -> WebResult {
    let id = posts::parse_id(&id)?;
    match state.posts.update(&user, id, form.input()).await {
        Ok(post) if view.hx().wants_fragment() => {
            let post = PostView::new(&view, &post, placement(&view, &id.to_string()))?;
            view.fragment(POST, ShowView { post })
        }
        Ok(post) => {
            view.flash("Your post is updated.")?;
            Ok(view.redirect(&format!("/posts/{}", post.id)))
        }
        Err(e) => {
            let (errors, refusal) = refused(e)?;
            let again = EditView::new(&view, id.to_string(), form.title, form.body, errors);
            view.render_refused(EDIT_PAGE, EDIT_FORM, again, refusal)
        }
    }
}

#[derive(Serialize)]
struct DeleteView {
    id: String,
    title: String,
}

/// Deleting without JavaScript asks first, on a page of its own.
#[handler]
async fn delete_form(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
) -> WebResult {
    let post = state.posts.get_own(&user, posts::parse_id(&id)?).await?;
    let ask = DeleteView {
        id: post.id.to_string(),
        title: post.title,
    };
    view.page(DELETE_PAGE, ask)
}

/// Deleting without JavaScript: the confirmation's form post, then back to the feed.
#[handler]
async fn delete_post(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
) -> WebResult {
    let post = state.posts.delete(&user, posts::parse_id(&id)?).await?;
    if view.hx().request {
        return deleted_in_place(&view, &post);
    }
    view.flash(deleted_message(&post))?;
    Ok(view.redirect("/"))
}

/// What the author reads once a post is gone, the same with JavaScript or
/// without.
fn deleted_message(post: &Post) -> String {
    format!("Your post “{}” is deleted.", post.title)
}

/// Deleting with htmx (`hx-delete`): the element is removed where it stands.
#[handler]
async fn delete_inline(
    view: View,
    CurrentUser(user): CurrentUser,
    Data(state): Data<&AppState>,
    Path(id): Path<String>,
) -> WebResult {
    let post = state.posts.delete(&user, posts::parse_id(&id)?).await?;
    deleted_in_place(&view, &post)
}

/// Nothing in place of the swapped element, so that it disappears, and the
/// message swapped out of band into the page's live region, which announces
/// it; on the post's own page, which would be left empty, the browser goes
/// to the feed instead, where the message waits.
fn deleted_in_place(view: &View, post: &Post) -> WebResult {
    if on_its_page(view, &post.id.to_string()) {
        view.flash(deleted_message(post))?;
        return Ok(view.redirect("/"));
    }
    view.announce(deleted_message(post))
}

/// Whether htmx asked from the page of post `id` itself.
fn on_its_page(view: &View, id: &str) -> bool {
    view.hx()
        .current_url
        .as_deref()
        .and_then(htmx::path_of_url)
        .is_some_and(|path| path == format!("/posts/{id}"))
}

/// Where the article of post `id` in this answer stands: alone on a page
/// (its own page, or the fragment htmx swaps into it), or in a feed.
fn placement(view: &View, id: &str) -> Placement {
    if view.hx().wants_fragment() && !on_its_page(view, id) {
        Placement::Feed
    } else {
        Placement::Page
    }
}

#[derive(Serialize)]
struct AuthorView {
    author: String,
    feed: FeedView,
    suspended: bool,
}

#[handler]
async fn by_author(
    view: View,
    Data(state): Data<&AppState>,
    Path(username): Path<String>,
    Query(query): Query<PageQuery>,
) -> WebResult {
    let start = query.start()?;
    let (author, page) = state
        .posts
        .versions_by_author(&username, start, PAGE_SIZE)
        .await
        .map_err(|e| match e {
            PostError::NotFound => WebError::NotFound("There is nobody by that name."),
            other => other.into(),
        })?;
    let base = format!("/u/{}", author.username);
    if let Some(top) = reached_the_top(&view, start, &page, &base) {
        return Ok(top);
    }
    let feed = FeedView::new(&view, &state.posts, page, &base).await?;
    let suspended = state.moderation.is_suspended(&author.username).await?;
    view.render(
        AUTHOR_PAGE,
        FEED_PAGE,
        AuthorView {
            author: author.username,
            feed,
            suspended,
        },
    )
}
