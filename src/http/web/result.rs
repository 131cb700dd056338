//! What page handlers answer with when they do not answer a page: the
//! errors of the web skin, which `error` turns into themed answers.

use poem::{
    Response,
    error::ResponseError,
    http::{HeaderValue, StatusCode, header},
};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The page needs a login and there is none: the login policy applies.
    #[error("You need to log in first.")]
    LoginRequired,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    BadRequest(String),
    /// Refused by a rule that the current state breaks (the last admin).
    #[error("{0}")]
    Conflict(String),
    /// A limit refused the request; it may be tried again after `retry_after`.
    #[error("{message}")]
    Throttled {
        message: String,
        retry_after: std::time::Duration,
    },
    #[error("Something went wrong on our side. Please try again.")]
    Unexpected(#[from] anyhow::Error),
}

impl ResponseError for WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::LoginRequired => StatusCode::SEE_OTHER,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            WebError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<crate::http::session::SessionError> for WebError {
    fn from(e: crate::http::session::SessionError) -> Self {
        WebError::Unexpected(anyhow::Error::new(e))
    }
}

/// Adds `Retry-After` (whole seconds) to a refusal that will lift.
pub fn with_retry_after(mut resp: Response, wait: Option<std::time::Duration>) -> Response {
    if let Some(wait) = wait {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
    }
    resp
}

pub type WebResult<T = Response> = std::result::Result<T, WebError>;

/// Why a form is shown again instead of doing what it asked: its input was
/// invalid (422), or a limit or a full queue refused it for now (429, 503),
/// to be tried again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub retry_after: Option<std::time::Duration>,
}

impl Refusal {
    /// The input had errors, shown beside their fields.
    pub const INVALID: Self = Self {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        retry_after: None,
    };

    /// Refused for now with `status`, to be tried again after `wait`.
    pub fn lifts_after(status: StatusCode, wait: std::time::Duration) -> Self {
        Self {
            status,
            retry_after: Some(wait),
        }
    }

    /// `resp` (the form again) as this refusal's answer.
    pub fn answer(self, mut resp: Response) -> Response {
        resp.set_status(self.status);
        with_retry_after(resp, self.retry_after)
    }
}
