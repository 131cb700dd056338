//! Usernames: 3–32 ASCII letters, digits or `_`, kept lowercase.

use std::fmt;

pub const MIN_LEN: usize = 3;
pub const MAX_LEN: usize = 32;
/// The same rule as [`Username::parse`], for places that publish it (the API spec).
pub const PATTERN: &str = "^[A-Za-z0-9_]{3,32}$";

/// A valid username, always lowercase: `Alice` and `alice` are the same person.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Username(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("Choose a username.")]
    Empty,
    #[error("A username has at least {MIN_LEN} characters.")]
    TooShort,
    #[error("A username has at most {MAX_LEN} characters.")]
    TooLong,
    #[error("A username may hold only letters, digits and _.")]
    InvalidCharacter,
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(UsernameError::Empty);
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(UsernameError::InvalidCharacter);
        }
        // Only ASCII is left, so bytes are characters.
        match raw.len() {
            n if n < MIN_LEN => Err(UsernameError::TooShort),
            n if n > MAX_LEN => Err(UsernameError::TooLong),
            _ => Ok(Self(raw.to_ascii_lowercase())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_name_is_kept_lowercase() {
        assert_eq!(Username::parse("Alice_99").unwrap().as_str(), "alice_99");
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        assert_eq!(Username::parse("  bob \n").unwrap().as_str(), "bob");
    }

    #[test]
    fn lengths_three_and_thirty_two_are_the_limits() {
        assert_eq!(Username::parse("ab"), Err(UsernameError::TooShort));
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
        assert_eq!(
            Username::parse(&"a".repeat(33)),
            Err(UsernameError::TooLong)
        );
    }

    #[test]
    fn only_letters_digits_and_underscore_are_allowed() {
        for bad in [
            "al ice", "al-ice", "alice!", "<script>", "ålice", "al.ice", "a\u{0}bc",
        ] {
            assert_eq!(
                Username::parse(bad),
                Err(UsernameError::InvalidCharacter),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_empty_name_says_so() {
        assert_eq!(Username::parse("   "), Err(UsernameError::Empty));
    }

    #[test]
    fn the_published_pattern_matches_the_rule() {
        assert_eq!(PATTERN, format!("^[A-Za-z0-9_]{{{MIN_LEN},{MAX_LEN}}}$"));
    }
}
