//! Posts: the feed, reading, writing, editing and deleting.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::Example,
};

use super::{
    ApiTags,
    auth::{CsrfHeader, Open, Reading, WriteAuth},
    error::{ApiError, Errors, error_set},
    objects::{Omittable, PostObject, PostPage, Text},
};
use crate::{
    domain::Cursor,
    services::posts::{self, PostError, PostInput},
    state::AppState,
};

pub struct PostsApi;

/// A new post.
#[derive(Object)]
#[oai(example)]
pub struct NewPost {
    /// 1–120 characters, not all blank, no control characters; trimmed.
    #[oai(validator(
        min_length = 1,
        max_length = 120,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    ))]
    pub title: Text,
    /// Markdown (CommonMark), 1–10,000 characters, not all blank, no control
    /// characters but tabs and line breaks; trimmed.
    #[oai(validator(
        min_length = 1,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*[^\s\x00-\x08\x0B\x0C\x0E-\x1F\x7F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$"
    ))]
    pub body: Text,
}

impl Example for NewPost {
    fn example() -> Self {
        Self {
            title: "Hello, Tangerine".into(),
            body: "The *first* post.".into(),
        }
    }
}

/// A change to a post: the title, the body, or both.
#[derive(Object)]
pub struct PostChange {
    /// As for a new post.
    #[oai(validator(
        min_length = 1,
        max_length = 120,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    ))]
    pub title: Omittable<Text>,
    /// As for a new post.
    #[oai(validator(
        min_length = 1,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*[^\s\x00-\x08\x0B\x0C\x0E-\x1F\x7F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$"
    ))]
    pub body: Omittable<Text>,
}

/// The spec's patterns are the domain's rules, written out (the derive
/// needs literals).
#[cfg(test)]
#[test]
fn the_spec_patterns_are_the_domain_rules() {
    let spec: serde_json::Value =
        serde_json::from_str(&super::spec_json("tangerine_session").unwrap()).unwrap();
    for schema in ["NewPost", "PostChange"] {
        let props = &spec["components"]["schemas"][schema]["properties"];
        assert_eq!(
            props["title"]["pattern"],
            crate::domain::post::TITLE_PATTERN,
            "{schema}"
        );
        assert_eq!(
            props["body"]["pattern"],
            crate::domain::post::BODY_PATTERN,
            "{schema}"
        );
    }
}

error_set! {
    ListErrors = [400];
    CreateErrors = [400, 401, 403, 413, 415, 422, 429];
    GetErrors = [404];
    UpdateErrors = [400, 401, 403, 404, 413, 415, 422, 429];
    DeleteErrors = [401, 403, 404];
}

#[derive(ApiResponse)]
pub enum ListResponse {
    /// A page of everyone's posts, newest first.
    #[oai(status = 200)]
    Ok(Json<PostPage>),
}

#[derive(ApiResponse)]
pub enum CreateResponse {
    /// Published; `Location` is the post's address in the API.
    #[oai(status = 201)]
    Created(Json<PostObject>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
pub enum PostResponse {
    /// The post.
    #[oai(status = 200)]
    Ok(Json<PostObject>),
}

#[derive(ApiResponse)]
pub enum DeleteResponse {
    /// Deleted.
    #[oai(status = 204)]
    Deleted,
}

fn default_limit() -> u64 {
    posts::PAGE_SIZE
}

/// A `before` parameter; a malformed one is a 400.
pub fn cursor(raw: Option<&str>) -> Result<Option<Cursor>, ApiError> {
    match raw {
        None => Ok(None),
        Some(raw) => Cursor::parse(raw).map(Some).ok_or_else(|| {
            ApiError::bad_request("bad_cursor", "`before` is not a cursor this API gave.")
        }),
    }
}

/// The one mapping of the rules' errors to API answers.
pub fn post_error(e: PostError) -> ApiError {
    match e {
        PostError::NotFound => ApiError::not_found("There is no such post."),
        PostError::Forbidden => {
            ApiError::forbidden("not_yours", "Only its author can change this post.")
        }
        PostError::Invalid(errors) => {
            let message = [errors.title, errors.body]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            ApiError::unprocessable(message)
        }
        PostError::Throttled { retry_after } => ApiError {
            retry_after: Some(retry_after.as_secs()),
            ..ApiError::new(
                poem::http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_posts",
                posts::throttled_message(retry_after),
            )
        },
        PostError::Unexpected(e) => ApiError::internal(e),
    }
}

fn id_of(raw: &str) -> Result<uuid::Uuid, ApiError> {
    posts::parse_id(raw).map_err(post_error)
}

#[OpenApi(tag = "ApiTags::Posts")]
impl PostsApi {
    /// List posts
    ///
    /// Everyone's posts, newest first. Pass the page's `next` as `before` for
    /// the next page; pages never skip or repeat a post, even while new ones
    /// arrive.
    #[oai(path = "/posts", method = "get", operation_id = "list_posts")]
    async fn list(
        &self,
        _auth: Open<Reading>,
        state: Data<&AppState>,
        /// The `next` of the previous page.
        before: Query<Option<String>>,
        /// How many posts, 1–100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u64>,
    ) -> Result<ListResponse, Errors<ListErrors>> {
        let limit = posts::PageLimit {
            posts: limit.0,
            bytes: state.0.settings.api_page_size,
        };
        let page = state
            .0
            .posts
            .feed(cursor(before.0.as_deref())?, limit)
            .await
            .map_err(post_error)?;
        Ok(ListResponse::Ok(Json(page.into())))
    }

    /// Publish a post
    #[oai(path = "/posts", method = "post", operation_id = "create_post")]
    async fn create(
        &self,
        auth: WriteAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        body: Json<NewPost>,
    ) -> Result<CreateResponse, Errors<CreateErrors>> {
        let input = PostInput {
            title: Some(body.0.title.as_str()),
            body: Some(body.0.body.as_str()),
        };
        let post = state
            .0
            .posts
            .create(&auth.0, input)
            .await
            .map_err(post_error)?;
        let location = format!("/api/posts/{}", post.id);
        Ok(CreateResponse::Created(Json(post.into()), location))
    }

    /// Get a post
    #[oai(path = "/posts/:id", method = "get", operation_id = "get_post")]
    async fn get(
        &self,
        _auth: Open<Reading>,
        state: Data<&AppState>,
        id: Path<String>,
    ) -> Result<PostResponse, Errors<GetErrors>> {
        let post = state.0.posts.get(id_of(&id.0)?).await.map_err(post_error)?;
        Ok(PostResponse::Ok(Json(post.into())))
    }

    /// Edit a post
    ///
    /// Changes the title, the body, or both. Only the author may.
    #[oai(path = "/posts/:id", method = "patch", operation_id = "update_post")]
    async fn update(
        &self,
        auth: WriteAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        id: Path<String>,
        body: Json<PostChange>,
    ) -> Result<PostResponse, Errors<UpdateErrors>> {
        let id = id_of(&id.0)?;
        let input = PostInput {
            title: body.0.title.as_ref().map(Text::as_str),
            body: body.0.body.as_ref().map(Text::as_str),
        };
        let post = state
            .0
            .posts
            .update(&auth.0, id, input)
            .await
            .map_err(post_error)?;
        Ok(PostResponse::Ok(Json(post.into())))
    }

    /// Delete a post
    ///
    /// Only the author may.
    #[oai(path = "/posts/:id", method = "delete", operation_id = "delete_post")]
    async fn delete(
        &self,
        auth: WriteAuth,
        #[oai(name = "X-CSRF-Token")] _csrf: CsrfHeader,
        state: Data<&AppState>,
        id: Path<String>,
    ) -> Result<DeleteResponse, Errors<DeleteErrors>> {
        state
            .0
            .posts
            .delete(&auth.0, id_of(&id.0)?)
            .await
            .map_err(post_error)?;
        Ok(DeleteResponse::Deleted)
    }
}
