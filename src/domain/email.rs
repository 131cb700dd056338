//! Email addresses, parsed once at the edge, and the one-time tokens mailed
//! to them.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// The longest address accepted (RFC 5321's path limit less its brackets).
pub const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;

/// An address as its owner typed it (trimmed), in the plain `local@domain`
/// form that mail servers take: no display name, no comments, no quoting.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter an email address, such as name@example.com.")]
    Malformed,
    #[error("That email address is longer than 254 characters.")]
    TooLong,
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim();
        if s.chars().count() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(EmailError::Malformed)?;
        let local_ok = !local.is_empty()
            && local.len() <= MAX_LOCAL_LEN
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| {
                c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii()
            })
            && !local.chars().any(char::is_control);
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
                    && !label.chars().any(|c| c.is_control() || c.is_whitespace())
            });
        if !local_ok || !domain_ok {
            return Err(EmailError::Malformed);
        }
        Ok(Self(s.to_owned()))
    }

    /// The address as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form addresses are compared in: lowercase.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An address is personal data: logs name its domain only.
        let domain = self.0.rsplit_once('@').map_or("", |(_, d)| d);
        write!(f, "EmailAddress(…@{domain})")
    }
}

/// 256 bits from the operating system's CSPRNG.
const TOKEN_LEN: usize = 32;

/// A password-reset or email-verification token: random, mailed in a link,
/// stored only as its SHA-256 (like a session's secret), so that the
/// database holds nothing a link could be made from.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeToken([u8; TOKEN_LEN]);

impl OneTimeToken {
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; TOKEN_LEN];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Reads a token from a link; anything that is not exactly a token's
    /// encoding is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut bytes = [0u8; TOKEN_LEN];
        match URL_SAFE_NO_PAD.decode_slice(text.as_bytes(), &mut bytes) {
            Ok(TOKEN_LEN) => Some(Self(bytes)),
            _ => None,
        }
    }

    /// The text that goes into the link.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// What the database stores and looks the token up by.
    pub fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.0).to_vec()
    }
}

impl fmt::Debug for OneTimeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_parse_and_compare_in_lowercase() {
        for good in [
            "alice@example.com",
            " Alice.Smith+board@Mail.Example.org ",
            "o'neil@example.co.uk",
        ] {
            let parsed = EmailAddress::parse(good).unwrap();
            assert_eq!(parsed.as_str(), good.trim());
            assert_eq!(parsed.normalized(), good.trim().to_lowercase());
        }
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_message() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "a b@example.com",
            "alice@exa mple.com",
            "<alice@example.com>",
            "alice@example..com",
            ".alice@example.com",
            "Alice <alice@example.com>",
            "alice@example.com\r\nBcc: x@example.com",
        ] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err(EmailError::Malformed),
                "{bad:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn an_address_in_debug_shows_its_domain_only() {
        let a = EmailAddress::parse("secret.person@example.com").unwrap();
        assert_eq!(format!("{a:?}"), "EmailAddress(…@example.com)");
    }

    #[test]
    fn tokens_round_trip_and_hide_in_debug() {
        let t = OneTimeToken::generate().unwrap();
        let text = t.encode();
        assert_eq!(text.len(), 43);
        assert_eq!(OneTimeToken::parse(&text), Some(t.clone()));
        assert_eq!(OneTimeToken::parse(&text[1..]), None);
        assert_eq!(OneTimeToken::parse("not a token"), None);
        assert_eq!(format!("{t:?}"), "OneTimeToken(***)");
        assert_ne!(t, OneTimeToken::generate().unwrap());
        assert_eq!(t.hash().len(), 32);
    }
}
