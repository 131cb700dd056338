//! A person with an account, as the rest of the code sees them.

use serde::Serialize;
use uuid::Uuid;

use super::Role;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    /// Read with the session on every request, so that a role change
    /// applies to live sessions on their next request.
    pub role: Role,
}

/// How many times an account's credentials have changed (a new password;
/// later a reset or a suspension). A session is made under the epoch whose
/// credentials were checked, and is valid only while the account is still
/// at that epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CredentialEpoch(pub i64);

impl CredentialEpoch {
    /// A new account's.
    pub const FIRST: Self = Self(0);
}

/// A person whose credentials were just checked, and the epoch they were
/// checked at: what a new session is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    pub user: User,
    pub epoch: CredentialEpoch,
}
