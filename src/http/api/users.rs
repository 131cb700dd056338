//! Accounts: signing up, and people with their posts.

use poem::{Request, web::Data};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::Example,
};

use super::{
    ApiTags,
    auth::{Open, Reading, Writing},
    error::{ApiError, Errors, error_set},
    objects::{Omittable, PostPage, Text, UserObject},
    posts::{cursor, post_error},
};
use crate::{
    domain::{PasswordInput, Username, username},
    http::client,
    services::accounts::{self, SignupError, SignupInput},
    services::posts,
    state::AppState,
};

pub struct UsersApi;

/// A new account.
#[derive(Object)]
#[oai(example)]
pub struct SignupRequest {
    /// 3–32 letters, digits or `_`; stored lowercase.
    #[oai(validator(min_length = 3, max_length = 32, pattern = r"^[A-Za-z0-9_]{3,32}$"))]
    pub username: Text,
    /// At least `--password-min-length` (8) and at most 256 characters,
    /// taken whole; not a common password, not like the username, not all
    /// digits. A refusal names its rule in `error`.
    pub password: Text,
    /// The code of an invite link (`/signup?invite=CODE`), needed when the
    /// server runs with `--signups invite`.
    #[oai(validator(max_length = 64))]
    pub invite: Omittable<Text>,
    /// An email address for password resets and security notices,
    /// optional; unverified until its owner follows the link mailed to it.
    /// Never shown to anyone else.
    #[oai(validator(max_length = 254))]
    pub email: Omittable<Text>,
}

impl Example for SignupRequest {
    fn example() -> Self {
        Self {
            username: "alice".into(),
            password: "correct horse battery".into(),
            invite: Omittable(None),
            email: Omittable(Some("alice@example.com".into())),
        }
    }
}

error_set! {
    SignupErrors = [400, 403, 409, 413, 415, 422, 429, 503];
    UserErrors = [404];
    UserPostsErrors = [400, 404];
}

#[derive(ApiResponse)]
pub enum SignupResponse {
    /// The account exists. Signing up does not log in.
    #[oai(status = 201)]
    Created(Json<UserObject>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
pub enum UserResponse {
    /// The person.
    #[oai(status = 200)]
    Ok(Json<UserObject>),
}

#[derive(ApiResponse)]
pub enum UserPostsResponse {
    /// A page of the person's posts, newest first.
    #[oai(status = 200)]
    Ok(Json<PostPage>),
}

fn default_limit() -> u64 {
    posts::PAGE_SIZE
}

#[OpenApi(tag = "ApiTags::Users")]
impl UsersApi {
    /// Sign up
    ///
    /// Creates an account. Names are unique whatever their case. At most
    /// `--signup-limit` (10 an hour) accounts are made from one client
    /// address, the pages' sign-ups included; beyond, 429 with `Retry-After`.
    /// With `--signups closed` every sign-up answers 403 `signups_closed`;
    /// with `--signups invite`, 403 `invite_required` without a live `invite`.
    #[oai(path = "/users", method = "post", operation_id = "sign_up")]
    async fn sign_up(
        &self,
        _auth: Open<Writing>,
        state: Data<&AppState>,
        req: &Request,
        body: Json<SignupRequest>,
    ) -> Result<SignupResponse, Errors<SignupErrors>> {
        let state = state.0;
        let password = PasswordInput::new(body.0.password.0);
        let input = SignupInput {
            username: body.0.username.as_str(),
            password: &password,
            password_confirm: None,
            invite: body.0.invite.as_ref().map(Text::as_str),
            email: body.0.email.0.as_ref().map(|e| e.as_str()),
        };
        let client_ip = client::ip(req, state.settings.trust_proxy);
        match state.accounts.sign_up(input, client_ip).await {
            Ok(who) => {
                state.recovery.send_verification(&who.user).await?;
                let location = format!("/api/users/{}", who.user.username);
                Ok(SignupResponse::Created(Json(who.user.into()), location))
            }
            Err(SignupError::Closed) => {
                Err(ApiError::forbidden("signups_closed", accounts::SIGNUPS_CLOSED).into())
            }
            Err(SignupError::InviteRequired) => {
                Err(ApiError::forbidden("invite_required", accounts::INVITE_REQUIRED).into())
            }
            Err(SignupError::UsernameTaken) => {
                Err(ApiError::conflict("username_taken", accounts::USERNAME_TAKEN).into())
            }
            Err(SignupError::Invalid(errors)) => Err(match (errors.username, errors.password) {
                (Some(username), _) => ApiError::unprocessable(username),
                (None, Some(rule)) => ApiError::password(rule),
                (None, None) => ApiError::unprocessable(
                    errors.email.or(errors.password_confirm).unwrap_or_default(),
                ),
            }
            .into()),
            Err(SignupError::Throttled { retry_after }) => {
                Err(ApiError::too_many_signups(retry_after).into())
            }
            Err(SignupError::Busy) => Err(ApiError::busy().into()),
            Err(SignupError::Unexpected(e)) => Err(e.into()),
        }
    }

    /// Get a person
    #[oai(path = "/users/:username", method = "get", operation_id = "get_user")]
    async fn get_user(
        &self,
        _auth: Open<Reading>,
        state: Data<&AppState>,
        username: Path<String>,
    ) -> Result<UserResponse, Errors<UserErrors>> {
        let not_found = || ApiError::not_found("There is nobody by that name.");
        let name = Username::parse(&username.0).map_err(|_| not_found())?;
        let user = state
            .0
            .accounts
            .find(&name)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(not_found)?;
        Ok(UserResponse::Ok(Json(user.into())))
    }

    /// List a person's posts
    ///
    /// Newest first; pass the page's `next` as `before` for the next page.
    #[oai(
        path = "/users/:username/posts",
        method = "get",
        operation_id = "list_user_posts"
    )]
    async fn list_user_posts(
        &self,
        _auth: Open<Reading>,
        state: Data<&AppState>,
        username: Path<String>,
        /// The `next` of the previous page.
        before: Query<Option<String>>,
        /// How many posts, 1–100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u64>,
    ) -> Result<UserPostsResponse, Errors<UserPostsErrors>> {
        let before = cursor(before.0.as_deref())?;
        let limit = posts::PageLimit {
            posts: limit.0,
            bytes: state.0.settings.api_page_size,
        };
        let (_, page) = state
            .0
            .posts
            .by_author(&username.0, before, limit)
            .await
            .map_err(|e| match e {
                posts::PostError::NotFound => ApiError::not_found("There is nobody by that name."),
                other => post_error(other),
            })?;
        Ok(UserPostsResponse::Ok(Json(page.into())))
    }
}

/// The pattern the spec publishes is the rule the server applies.
const _: () = assert!(username::MAX_LEN == 32 && username::MIN_LEN == 3);
