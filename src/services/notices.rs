//! The mail Tangerine sends: one-time links, and security notices that tell
//! a person what happened to their account, when (UTC), from which browser
//! and address, and what to do if it was not them. No message holds a
//! secret except the one-time link it exists for.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{config::BaseUrl, domain::user_agent::Device, services::mail::Mail};

/// Where and when something happened to an account.
#[derive(Debug, Clone)]
pub struct Occasion<'a> {
    pub username: &'a str,
    pub at: DateTime<Utc>,
    /// The browser, as `/sessions` names it.
    pub device: &'a Device,
    pub ip: Option<&'a str>,
    pub base: &'a BaseUrl,
}

impl Occasion<'_> {
    fn facts(&self) -> String {
        format!(
            "When: {}\nBrowser: {} on {}\nAddress: {}\n",
            utc(self.at),
            self.device.browser,
            self.device.os,
            self.ip.unwrap_or("unknown"),
        )
    }

    fn if_not_you(&self) -> String {
        format!(
            "If this was not you, reset your password at {} and log out of every session you do not recognise at {}.\n",
            self.base.join("/password/forgot"),
            self.base.join("/sessions"),
        )
    }
}

fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn signature(base: &BaseUrl) -> String {
    format!("\n-- \nTangerine at {}\n", base.as_str())
}

/// The lifetime of a link, in words: "1 hour", "30 minutes".
fn lifetime_words(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = if secs >= 3600 && secs.is_multiple_of(3600) {
        (secs / 3600, "hour")
    } else if secs >= 60 && secs.is_multiple_of(60) {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

pub fn reset_link(
    to: &str,
    username: &str,
    link: &str,
    lifetime: Duration,
    base: &BaseUrl,
) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Reset your Tangerine password".to_owned(),
        body: format!(
            "Hello {username},\n\nSomeone, hopefully you, asked to reset the password of your Tangerine account. \
             To choose a new password, open this link within {}:\n\n{link}\n\n\
             The link works once. If you did not ask for it, ignore this message: your password stays as it is.\n{}",
            lifetime_words(lifetime),
            signature(base)
        ),
    }
}

pub fn verify_address(to: &str, username: &str, link: &str, base: &BaseUrl) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Confirm your email address for Tangerine".to_owned(),
        body: format!(
            "Hello {username},\n\nTo confirm that this address belongs to your Tangerine account, open this link within 24 hours:\n\n{link}\n\n\
             Only a confirmed address can receive password-reset links. If you did not give this address to Tangerine, ignore this message.\n{}",
            signature(base)
        ),
    }
}

pub fn new_login(to: &str, at: &Occasion<'_>) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "New login to your Tangerine account".to_owned(),
        body: format!(
            "Hello {},\n\nYour account was logged in to from a browser that had not logged in to it before.\n\n{}\n{}{}",
            at.username,
            at.facts(),
            at.if_not_you(),
            signature(at.base)
        ),
    }
}

pub fn password_changed(to: &str, at: &Occasion<'_>) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Your Tangerine password was changed".to_owned(),
        body: format!(
            "Hello {},\n\nThe password of your account was changed, and every other session of yours was logged out.\n\n{}\n{}{}",
            at.username,
            at.facts(),
            at.if_not_you(),
            signature(at.base)
        ),
    }
}

pub fn password_reset(to: &str, at: &Occasion<'_>) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Your Tangerine password was reset".to_owned(),
        body: format!(
            "Hello {},\n\nThe password of your account was reset with a link mailed to this address, and every session of yours was logged out.\n\n{}\n{}{}",
            at.username,
            at.facts(),
            at.if_not_you(),
            signature(at.base)
        ),
    }
}

/// To the old address, when the account's address changes.
pub fn email_changed(to: &str, at: &Occasion<'_>) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Your Tangerine email address was changed".to_owned(),
        body: format!(
            "Hello {},\n\nThe email address of your account was changed: this address will no longer receive its mail or password-reset links.\n\n{}\n{}{}",
            at.username,
            at.facts(),
            at.if_not_you(),
            signature(at.base)
        ),
    }
}

/// When a moderator suspends the account. It names no browser or address:
/// those would be the moderator's.
pub fn account_suspended(
    to: &str,
    username: &str,
    at: DateTime<Utc>,
    reason: Option<&str>,
    base: &BaseUrl,
) -> Mail {
    let reason = reason
        .map(|r| format!("Reason given: {r}\n"))
        .unwrap_or_default();
    Mail {
        to: to.to_owned(),
        subject: "Your Tangerine account was suspended".to_owned(),
        body: format!(
            "Hello {username},\n\nYour account was suspended by a moderator: you cannot log in or post, and every session of yours was logged out.\n\n\
             When: {}\n{reason}\nIf you think this is a mistake, reply to the board's operators. \
             If you did not expect any activity on your account, check where it was used at {} once it is reinstated.\n{}",
            utc(at),
            base.join("/sessions"),
            signature(base)
        ),
    }
}

/// When a moderator reinstates the account.
pub fn account_reinstated(to: &str, username: &str, at: DateTime<Utc>, base: &BaseUrl) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Your Tangerine account was reinstated".to_owned(),
        body: format!(
            "Hello {username},\n\nYour account was reinstated by a moderator: you can log in and post again.\n\n\
             When: {}\n\nIf anything on your account looks unfamiliar, check where it is logged in at {} and reset your password at {}.\n{}",
            utc(at),
            base.join("/sessions"),
            base.join("/password/forgot"),
            signature(base)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> BaseUrl {
        BaseUrl::parse("https://board.example/").unwrap()
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-06T09:05:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn firefox() -> Device {
        Device {
            browser: "Firefox 128".into(),
            os: "Linux".into(),
        }
    }

    #[test]
    fn security_notices_say_what_when_from_where_and_what_to_do() {
        let base = base();
        let device = firefox();
        let occasion = Occasion {
            username: "alice",
            at: at(),
            device: &device,
            ip: Some("203.0.113.9"),
            base: &base,
        };
        for (mail, what) in [
            (
                new_login("a@example.com", &occasion),
                "logged in to from a browser that had not",
            ),
            (
                password_changed("a@example.com", &occasion),
                "password of your account was changed",
            ),
            (
                password_reset("a@example.com", &occasion),
                "password of your account was reset",
            ),
            (
                email_changed("old@example.com", &occasion),
                "email address of your account was changed",
            ),
        ] {
            assert!(mail.body.contains(what), "{}", mail.body);
            assert!(mail.body.contains("Hello alice,"), "{}", mail.body);
            assert!(
                mail.body.contains("When: 2026-12-06 09:05 UTC"),
                "{}",
                mail.body
            );
            assert!(
                mail.body.contains("Browser: Firefox 128 on Linux"),
                "{}",
                mail.body
            );
            assert!(mail.body.contains("Address: 203.0.113.9"), "{}", mail.body);
            assert!(mail.body.contains("If this was not you"), "{}", mail.body);
            assert!(
                mail.body.contains("https://board.example/sessions"),
                "{}",
                mail.body
            );
            assert!(!mail.body.contains("/password/reset/"), "no one-time link");
        }
        assert_eq!(
            email_changed("old@example.com", &occasion).to,
            "old@example.com"
        );
    }

    #[test]
    fn suspension_and_reinstatement_notices_say_what_and_when() {
        let base = base();
        let suspended = account_suspended("a@example.com", "alice", at(), Some("spam"), &base);
        assert_eq!(suspended.subject, "Your Tangerine account was suspended");
        assert!(suspended.body.contains("suspended by a moderator"));
        assert!(suspended.body.contains("When: 2026-12-06 09:05 UTC"));
        assert!(suspended.body.contains("Reason given: spam"));
        assert!(suspended.body.contains("https://board.example/sessions"));
        let without_reason = account_suspended("a@example.com", "alice", at(), None, &base);
        assert!(!without_reason.body.contains("Reason given"));

        let reinstated = account_reinstated("a@example.com", "alice", at(), &base);
        assert_eq!(reinstated.subject, "Your Tangerine account was reinstated");
        assert!(reinstated.body.contains("reinstated by a moderator"));
        assert!(reinstated.body.contains("When: 2026-12-06 09:05 UTC"));
        assert!(reinstated.body.contains("https://board.example/sessions"));
    }

    #[test]
    fn link_mails_hold_their_link_and_its_lifetime() {
        let base = base();
        let link = "https://board.example/password/reset/TOKEN";
        let mail = reset_link(
            "a@example.com",
            "alice",
            link,
            Duration::from_secs(3600),
            &base,
        );
        assert!(mail.body.contains(link));
        assert!(mail.body.contains("within 1 hour"));
        let mail = reset_link(
            "a@example.com",
            "alice",
            link,
            Duration::from_secs(1800),
            &base,
        );
        assert!(mail.body.contains("within 30 minutes"));
        let verify = verify_address(
            "a@example.com",
            "alice",
            "https://board.example/email/verify/T",
            &base,
        );
        assert!(verify.body.contains("https://board.example/email/verify/T"));
        assert!(verify.body.contains("24 hours"));
    }
}
