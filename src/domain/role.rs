//! What an account may do: a member posts; a moderator also removes posts,
//! resolves reports and suspends members; an admin also changes roles,
//! manages invites and acts on other staff.

use std::fmt;

use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Member,
    Moderator,
    Admin,
}

/// A role name that is none of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a role is `member`, `moderator` or `admin`")]
pub struct UnknownRole;

impl Role {
    pub const ALL: [Role; 3] = [Role::Member, Role::Moderator, Role::Admin];

    pub fn parse(s: &str) -> Result<Self, UnknownRole> {
        match s {
            "member" => Ok(Role::Member),
            "moderator" => Ok(Role::Moderator),
            "admin" => Ok(Role::Admin),
            _ => Err(UnknownRole),
        }
    }

    /// As stored and as the API and the command line spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    /// A stored value: anything unknown reads as the least powerful role.
    pub fn from_stored(s: &str) -> Self {
        Self::parse(s).unwrap_or_default()
    }

    /// Moderators and admins: the staff pages and powers.
    pub fn is_staff(self) -> bool {
        self >= Role::Moderator
    }

    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_rank() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(Role::parse("Admin").is_err());
        assert_eq!(Role::from_stored("superuser"), Role::Member);
        assert!(!Role::Member.is_staff());
        assert!(Role::Moderator.is_staff() && !Role::Moderator.is_admin());
        assert!(Role::Admin.is_staff() && Role::Admin.is_admin());
    }
}
