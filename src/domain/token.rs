//! Personal access tokens: the secret a script sends as
//! `Authorization: Bearer tgr_…`, what a token may do, and how long it lives.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

/// What every token starts with, so that secret scanners (GitHub's, GitLab's,
/// trufflehog) can recognise a leaked one.
pub const PREFIX: &str = "tgr_";

/// 256 bits from the operating system's CSPRNG.
const SECRET_LEN: usize = 32;

/// The random secret of a token. Only its SHA-256 is stored, so the database
/// never holds anything a token could be made from; shown to its owner once.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret([u8; SECRET_LEN]);

impl TokenSecret {
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; SECRET_LEN];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Reads a presented token; anything that is not exactly `tgr_` and a
    /// secret's encoding is `None`.
    pub fn parse(token: &str) -> Option<Self> {
        let encoded = token.strip_prefix(PREFIX)?;
        let mut bytes = [0u8; SECRET_LEN];
        match URL_SAFE_NO_PAD.decode_slice(encoded.as_bytes(), &mut bytes) {
            Ok(SECRET_LEN) => Some(Self(bytes)),
            _ => None,
        }
    }

    /// The token as its owner copies it.
    pub fn encode(&self) -> String {
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(self.0))
    }

    /// What the database stores and looks the token up by.
    pub fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.0).to_vec()
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret(***)")
    }
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every reading operation, and nothing else.
    Read,
    /// Everything a person may do, except managing tokens, sessions and
    /// the password.
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            _ => None,
        }
    }
}

/// A token as its owner sees it. Never the secret, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: uuid::Uuid,
    pub name: String,
    pub scope: Scope,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When it last authenticated a request (recorded at most once per
    /// refresh interval); `None` if never.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The lifetimes a token may be given, in days.
pub const LIFETIMES_DAYS: [u16; 4] = [7, 30, 90, 365];

/// A token's lifetime: one of [`LIFETIMES_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime(u16);

impl Lifetime {
    pub fn parse(days: i64) -> Option<Self> {
        LIFETIMES_DAYS
            .iter()
            .find(|&&d| i64::from(d) == days)
            .map(|&d| Self(d))
    }

    pub fn days(self) -> u16 {
        self.0
    }

    /// When a token made at `now` expires.
    pub fn expires_at(self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + TimeDelta::days(i64::from(self.0))
    }
}

/// The longest name a token may have, in characters.
pub const NAME_MAX: usize = 100;

/// What is wrong with a token's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenNameError {
    #[error("Give the token a name, such as the script that will use it.")]
    Blank,
    #[error("The name is at most 100 characters long.")]
    TooLong,
    #[error("The name cannot contain control characters.")]
    ControlCharacters,
}

/// A token's name, trimmed: 1–100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(raw: &str) -> Result<Self, TokenNameError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(TokenNameError::Blank);
        }
        if name.chars().count() > NAME_MAX {
            return Err(TokenNameError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(TokenNameError::ControlCharacters);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_starts_with_the_prefix() {
        let secret = TokenSecret::generate().unwrap();
        let token = secret.encode();
        assert!(token.starts_with("tgr_"));
        assert_eq!(token.len(), 4 + 43);
        assert_eq!(TokenSecret::parse(&token), Some(secret));
    }

    #[test]
    fn malformed_tokens_are_not_secrets() {
        let good = TokenSecret::generate().unwrap().encode();
        for bad in [
            "",
            "tgr_",
            &good[4..],
            &good[..good.len() - 1],
            &format!("{good}A"),
            &good.replace("tgr_", "ghp_"),
            "tgr_😀",
        ] {
            assert!(TokenSecret::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn only_the_hash_of_the_secret_is_kept_and_debug_hides_it() {
        let secret = TokenSecret([9u8; 32]);
        assert_eq!(secret.hash(), Sha256::digest([9u8; 32]).to_vec());
        assert_eq!(format!("{secret:?}"), "TokenSecret(***)");
        assert!(!format!("{secret:?}").contains(&secret.encode()));
    }

    #[test]
    fn lifetimes_are_the_four_offered() {
        for days in [7, 30, 90, 365] {
            assert_eq!(Lifetime::parse(days).map(Lifetime::days), Some(days as u16));
        }
        for days in [0, 1, -7, 31, 366, i64::MAX] {
            assert!(Lifetime::parse(days).is_none(), "{days}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(TokenName::parse("  ci  ").unwrap().as_str(), "ci");
        assert_eq!(TokenName::parse("   "), Err(TokenNameError::Blank));
        assert_eq!(
            TokenName::parse(&"x".repeat(101)),
            Err(TokenNameError::TooLong)
        );
        assert!(TokenName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            TokenName::parse("a\u{7}b"),
            Err(TokenNameError::ControlCharacters)
        );
    }
}
