//! Passwords: what a person typed, and what the rules accept for a new one.

use std::fmt;

use serde::Deserialize;

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 256;

/// A password exactly as submitted, before any rule. Its `Debug` never shows
/// it, so it cannot reach a log line by accident.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct PasswordInput(String);

impl PasswordInput {
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for PasswordInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordInput(***)")
    }
}

/// A password that satisfies the rules for a new one: 8 to 256 characters,
/// taken whole (never trimmed, never truncated).
#[derive(Clone)]
pub struct Password(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("Choose a password.")]
    Empty,
    #[error("A password has at least {MIN_CHARS} characters.")]
    TooShort,
    #[error("A password has at most {MAX_CHARS} characters.")]
    TooLong,
}

impl Password {
    pub fn parse(input: PasswordInput) -> Result<Self, PasswordError> {
        match input.0.chars().count() {
            0 => Err(PasswordError::Empty),
            n if n < MIN_CHARS => Err(PasswordError::TooShort),
            n if n > MAX_CHARS => Err(PasswordError::TooLong),
            _ => Ok(Self(input.0)),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Password, PasswordError> {
        Password::parse(PasswordInput::new(s))
    }

    #[test]
    fn eight_to_256_characters_are_accepted() {
        assert_eq!(parse("1234567").unwrap_err(), PasswordError::TooShort);
        assert!(parse("12345678").is_ok());
        assert!(parse(&"x".repeat(256)).is_ok());
        assert_eq!(parse(&"x".repeat(257)).unwrap_err(), PasswordError::TooLong);
        assert_eq!(parse("").unwrap_err(), PasswordError::Empty);
    }

    #[test]
    fn characters_not_bytes_are_counted() {
        // 8 characters, 24 bytes.
        assert!(parse("ééééééé\u{1F34A}").is_ok());
        // 256 four-byte characters are still 256 characters.
        assert!(parse(&"\u{1F34A}".repeat(256)).is_ok());
    }

    #[test]
    fn nothing_is_trimmed() {
        assert_eq!(
            parse("  secret pass  ").unwrap().expose(),
            "  secret pass  "
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let input = PasswordInput::new("hunter2hunter2");
        assert_eq!(format!("{input:?}"), "PasswordInput(***)");
        let password = Password::parse(input).unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
    }
}
