//! Passwords: what a person typed, and the rules a new one must meet.
//!
//! The rules are NIST SP 800-63B's and Django's four validators: a minimum
//! length (settable, 8 by default), at most [`MAX_CHARS`], not among the
//! passwords attackers try first (zxcvbn's list of 30,000, with its l33t,
//! reversed and case variants), not containing or closely resembling the
//! username, not all digits, and on a change not the current one. No
//! composition rules ("one digit, one symbol"): they make passwords harder
//! to remember, not to guess.

use std::fmt;

use serde::Deserialize;
use zxcvbn::matching::patterns::MatchPattern;

/// The default shortest password.
pub const DEFAULT_MIN_CHARS: usize = 8;
/// The longest password: beyond it none can exist, so a login with a longer
/// one is refused without hashing.
pub const MAX_CHARS: usize = 256;
/// A password this similar to the username (0–1, as Django measures it with
/// its `UserAttributeSimilarityValidator`) is refused.
const MAX_SIMILARITY: f64 = 0.7;

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

    /// Longer than any password can be: no account has it.
    pub fn is_overlong(&self) -> bool {
        // Bytes bound characters from above: only count when it may matter.
        self.0.len() > MAX_CHARS && self.0.chars().count() > MAX_CHARS
    }
}

impl fmt::Debug for PasswordInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordInput(***)")
    }
}

/// A password that met the rules for a new one, taken whole (never trimmed,
/// never truncated).
#[derive(Clone)]
pub struct Password(String);

/// Why a new password was refused. Each has a stable code for the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("Choose a password.")]
    Empty,
    #[error("A password has at least {0} characters.")]
    TooShort(usize),
    #[error("A password has at most {MAX_CHARS} characters.")]
    TooLong,
    #[error(
        "That password is one of the most common ones, which attackers try first. Choose another."
    )]
    TooCommon,
    #[error("That password is too close to your username.")]
    TooSimilar,
    #[error("A password cannot be only digits.")]
    AllDigits,
    #[error("The new password is the same as the current one.")]
    Unchanged,
}

impl PasswordError {
    /// The API's error code.
    pub fn code(&self) -> &'static str {
        match self {
            PasswordError::Empty | PasswordError::TooShort(_) => "password_too_short",
            PasswordError::TooLong => "password_too_long",
            PasswordError::TooCommon => "password_too_common",
            PasswordError::TooSimilar => "password_too_similar",
            PasswordError::AllDigits => "password_all_digits",
            PasswordError::Unchanged => "password_unchanged",
        }
    }
}

/// The rules for a new password.
#[derive(Debug, Clone, Copy)]
pub struct PasswordRules {
    /// The shortest password accepted, in characters.
    pub min_chars: usize,
}

impl Default for PasswordRules {
    fn default() -> Self {
        Self {
            min_chars: DEFAULT_MIN_CHARS,
        }
    }
}

impl PasswordRules {
    /// Checks `input` as the new password of `username`, cheapest rule first.
    pub fn check(&self, input: PasswordInput, username: &str) -> Result<Password, PasswordError> {
        let chars = input.0.chars().count();
        match chars {
            0 => return Err(PasswordError::Empty),
            n if n < self.min_chars => return Err(PasswordError::TooShort(self.min_chars)),
            n if n > MAX_CHARS => return Err(PasswordError::TooLong),
            _ => {}
        }
        if input.0.chars().all(|c| c.is_ascii_digit()) {
            return Err(PasswordError::AllDigits);
        }
        let lower = input.0.to_lowercase();
        let name = username.trim().to_lowercase();
        if !name.is_empty() && resembles(&lower, &name) {
            return Err(PasswordError::TooSimilar);
        }
        let estimate = zxcvbn::zxcvbn(&input.0, &[name.as_str()]);
        let sequence = estimate.sequence();
        if sequence.iter().any(is_user_input) {
            return Err(PasswordError::TooSimilar);
        }
        if let [only] = sequence
            && is_common_whole(only)
        {
            return Err(PasswordError::TooCommon);
        }
        Ok(Password(input.0))
    }

    /// [`Self::check`] for a change: the new password must also differ from
    /// the current one.
    pub fn check_change(
        &self,
        new: PasswordInput,
        current: &PasswordInput,
        username: &str,
    ) -> Result<Password, PasswordError> {
        if new.0 == current.0 && !new.0.is_empty() {
            return Err(PasswordError::Unchanged);
        }
        self.check(new, username)
    }
}

impl Password {
    /// A password made by the server itself (a random dummy), not chosen by
    /// a person: no rules apply.
    pub fn generated(secret: String) -> Self {
        Self(secret)
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

/// Whether the (lowercase) password contains the (lowercase) name, forwards
/// or backwards, or is as similar to it as Django's validator refuses.
fn resembles(password: &str, name: &str) -> bool {
    let reversed: String = password.chars().rev().collect();
    password.contains(name)
        || reversed.contains(name)
        || similarity(password, name) >= MAX_SIMILARITY
}

/// 1 − the edit distance over the longer length: 1 for equal strings.
fn similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    1.0 - previous[b.len()] as f64 / longest as f64
}

/// A part of the password that zxcvbn found among the user's own inputs
/// (the username, also l33t-spelt or reversed).
fn is_user_input(m: &zxcvbn::matching::Match) -> bool {
    matches!(&m.pattern, MatchPattern::Dictionary(d)
        if format!("{:?}", d.dictionary_name) == "UserInputs")
}

/// One match that is the whole password: a common password (in any case,
/// l33t-spelt or reversed), or a plain repeat or sequence (`aaaaaaaa`,
/// `abcdefgh`). zxcvbn's dictionary type is not nameable from outside the
/// crate, so its name is compared.
fn is_common_whole(m: &zxcvbn::matching::Match) -> bool {
    match &m.pattern {
        MatchPattern::Dictionary(d) => format!("{:?}", d.dictionary_name) == "Passwords",
        MatchPattern::Repeat(_) | MatchPattern::Sequence(_) | MatchPattern::Spatial(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(s: &str) -> Result<Password, PasswordError> {
        PasswordRules::default().check(PasswordInput::new(s), "dave")
    }

    #[test]
    fn length_is_counted_in_characters_within_the_bounds() {
        assert_eq!(check("").unwrap_err(), PasswordError::Empty);
        assert_eq!(check("kx7#qz").unwrap_err(), PasswordError::TooShort(8));
        assert!(check("kx7#qzw!").is_ok());
        assert_eq!(
            check(&"kx7#qzw!".repeat(33)).unwrap_err(),
            PasswordError::TooLong
        );
        // 8 characters, 24 bytes.
        assert!(check("ééééééé\u{1F34A}").is_ok());
        let rules = PasswordRules { min_chars: 12 };
        assert_eq!(
            rules
                .check(PasswordInput::new("kx7#qzw!mm"), "dave")
                .unwrap_err(),
            PasswordError::TooShort(12)
        );
    }

    #[test]
    fn common_passwords_are_refused_in_any_spelling() {
        for common in [
            "password",
            "Password",
            "PASSWORD1",
            "p@ssw0rd",
            "drowssap",
            "qwertyuiop",
            "iloveyou",
            "aaaaaaaaaa",
            "abcdefghij",
        ] {
            assert_eq!(
                check(common).unwrap_err(),
                PasswordError::TooCommon,
                "{common}"
            );
        }
    }

    #[test]
    fn passwords_like_the_username_are_refused() {
        for similar in ["dave1234", "DAVE_is_me", "1234evad", "d4ve5678"] {
            assert_eq!(
                check(similar).unwrap_err(),
                PasswordError::TooSimilar,
                "{similar}"
            );
        }
        let rules = PasswordRules::default();
        assert_eq!(
            rules
                .check(PasswordInput::new("margaretsmyth"), "margaretsmith")
                .unwrap_err(),
            PasswordError::TooSimilar
        );
    }

    #[test]
    fn all_digits_are_refused() {
        assert_eq!(check("80238417502").unwrap_err(), PasswordError::AllDigits);
    }

    #[test]
    fn a_passphrase_passes_and_is_kept_whole() {
        for good in [
            "correct horse battery staple",
            "  orange tree at dawn  ",
            "Kx7#qzw!",
        ] {
            assert_eq!(check(good).unwrap().expose(), good);
        }
    }

    #[test]
    fn a_change_must_change_the_password() {
        let rules = PasswordRules::default();
        let current = PasswordInput::new("correct horse battery staple");
        assert_eq!(
            rules
                .check_change(current.clone(), &current, "dave")
                .unwrap_err(),
            PasswordError::Unchanged
        );
        assert!(
            rules
                .check_change(PasswordInput::new("orange tree at dawn"), &current, "dave")
                .is_ok()
        );
    }

    #[test]
    fn every_refusal_has_its_code() {
        let codes: Vec<&str> = [
            PasswordError::TooShort(8),
            PasswordError::TooLong,
            PasswordError::TooCommon,
            PasswordError::TooSimilar,
            PasswordError::AllDigits,
            PasswordError::Unchanged,
        ]
        .iter()
        .map(PasswordError::code)
        .collect();
        assert_eq!(
            codes,
            [
                "password_too_short",
                "password_too_long",
                "password_too_common",
                "password_too_similar",
                "password_all_digits",
                "password_unchanged"
            ]
        );
    }

    #[test]
    fn overlong_input_is_recognised_without_rules() {
        assert!(!PasswordInput::new("x".repeat(256)).is_overlong());
        assert!(PasswordInput::new("x".repeat(257)).is_overlong());
        // 256 four-byte characters are still 256 characters.
        assert!(!PasswordInput::new("\u{1F34A}".repeat(256)).is_overlong());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let input = PasswordInput::new("hunter2hunter2");
        assert_eq!(format!("{input:?}"), "PasswordInput(***)");
        let password = Password::generated("hunter2hunter2".into());
        assert_eq!(format!("{password:?}"), "Password(***)");
    }
}
