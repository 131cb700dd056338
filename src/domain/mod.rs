//! Pure types and rules: parsed once at the edge, trusted everywhere after.
//! Nothing here knows about HTTP or the database.

pub mod email;
pub mod password;
pub mod post;
pub mod rate_limit;
pub mod role;
pub mod session;
pub mod signup;
pub mod token;
pub mod user;
pub mod user_agent;
pub mod username;

pub use email::{EmailAddress, EmailError, OneTimeToken};
pub use password::{Password, PasswordError, PasswordInput, PasswordRules};
pub use post::{Cursor, FeedPage, PageStart, Post, PostBody, PostTitle, PostVersion, VersionPage};
pub use role::Role;
pub use session::{SessionPolicy, SessionSecret};
pub use signup::SignupMode;
pub use user::{Authenticated, CredentialEpoch, User};
pub use username::{Username, UsernameError};
