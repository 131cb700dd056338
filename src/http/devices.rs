//! Device cookies (OWASP's defence against lockout abuse): a signed cookie
//! that a browser gets when it logs in to an account, naming that account
//! and a random id of the browser.
//!
//! Login attempts that carry a valid device cookie for the account they try
//! are counted against that device alone (see `throttle`), so an attacker
//! who exhausts a username's failures from elsewhere does not lock out the
//! person whose browser has logged in before. The cookie outlives logout and
//! the session (one year, whatever `--expire-at-browser-close` says): it is
//! not a credential, only a memory that this browser has known the
//! password. A forged, altered or foreign cookie is ignored.
//!
//! Value: `<device id>.<username>.<tag>`, the tag an HMAC-SHA256 over both
//! under a key kept in the database (shared by every instance).

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use poem::{Request, Response, http::header};
use sha2::Sha256;

use crate::{
    http::cookies::{self, CookiePolicy},
    services::throttle::KnownDevice,
};

pub const COOKIE: &str = "tangerine_device";
const LIFETIME: Duration = Duration::from_secs(365 * 86400);
const ID_BYTES: usize = 16;

/// The device cookie a request carried, if its signature held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    /// The account it logged in to (lowercase, as stored).
    pub username: String,
}

impl Device {
    /// This device, if it has logged in to `username` (any case) before.
    pub fn known_for(&self, username: &str) -> Option<KnownDevice> {
        (self.username == username.trim().to_lowercase()).then(|| KnownDevice(self.id.clone()))
    }
}

/// Reads and issues device cookies.
#[derive(Clone)]
pub struct DeviceCookies {
    key: Hmac<Sha256>,
    policy: CookiePolicy,
    name: String,
}

impl std::fmt::Debug for DeviceCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCookies")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl DeviceCookies {
    pub fn new(key: &[u8], policy: CookiePolicy) -> Result<Self, hmac::digest::InvalidLength> {
        Ok(Self {
            key: <Hmac<Sha256> as KeyInit>::new_from_slice(key)?,
            name: policy.name(COOKIE),
            policy,
        })
    }

    fn tag(&self, id: &str, username: &str) -> Hmac<Sha256> {
        let mut mac = self.key.clone();
        mac.update(b"tangerine-device:");
        mac.update(id.as_bytes());
        mac.update(b":");
        mac.update(username.as_bytes());
        mac
    }

    /// The request's device cookie as sent, if there is exactly one: kept
    /// as it is until a login needs it, so that the requests that do not
    /// log in never pay for checking its signature.
    pub fn raw(&self, req: &Request) -> Option<String> {
        cookies::find_unique(req, &self.name)
            .ok()
            .flatten()
            .map(str::to_owned)
    }

    /// The device a cookie value names, if its signature holds.
    pub fn open(&self, value: &str) -> Option<Device> {
        let mut parts = value.split('.');
        let (id, username, tag) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || id.is_empty() || username.is_empty() {
            return None;
        }
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.tag(id, username).verify_slice(&tag).ok()?;
        Some(Device {
            id: id.to_owned(),
            username: username.to_owned(),
        })
    }

    fn value(&self, device: &Device) -> String {
        let tag = self
            .tag(&device.id, &device.username)
            .finalize()
            .into_bytes();
        format!(
            "{}.{}.{}",
            device.id,
            device.username,
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Sets the cookie for a browser that just logged in to `username`:
    /// the same device id if it had one, a new one otherwise.
    pub fn issue(&self, resp: &mut Response, previous: Option<&Device>, username: &str) {
        let id = match previous {
            Some(device) => device.id.clone(),
            None => {
                let mut bytes = [0u8; ID_BYTES];
                // Without the OS's randomness there is no id to give: the
                // browser then simply counts as unknown next time.
                if getrandom::fill(&mut bytes).is_err() {
                    return;
                }
                URL_SAFE_NO_PAD.encode(bytes)
            }
        };
        let device = Device {
            id,
            username: username.to_lowercase(),
        };
        let value = self
            .policy
            .set_lasting(&self.name, &self.value(&device), LIFETIME);
        resp.headers_mut().append(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(key: u8) -> DeviceCookies {
        DeviceCookies::new(
            &[key; 32],
            CookiePolicy {
                secure: false,
                expire_at_browser_close: true,
            },
        )
        .unwrap()
    }

    fn issued(c: &DeviceCookies, previous: Option<&Device>, name: &str) -> String {
        let mut resp = Response::default();
        c.issue(&mut resp, previous, name);
        let set = resp
            .headers()
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            set.contains("Max-Age=31536000"),
            "a year, even at browser close: {set}"
        );
        assert!(set.contains("HttpOnly"), "{set}");
        set.split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_owned()
    }

    #[test]
    fn an_issued_cookie_names_its_account_and_keeps_its_id() {
        let c = cookies(1);
        let device = c.open(&issued(&c, None, "Maria")).unwrap();
        assert_eq!(device.username, "maria");
        assert!(device.known_for("MARIA").is_some());
        assert!(device.known_for("mario").is_none());
        let again = c.open(&issued(&c, Some(&device), "maria")).unwrap();
        assert_eq!(again.id, device.id);
    }

    #[test]
    fn forged_or_altered_cookies_are_ignored() {
        let ours = cookies(1);
        let theirs = cookies(2);
        let value = issued(&ours, None, "maria");
        assert!(ours.open(&issued(&theirs, None, "maria")).is_none());
        let (id, rest) = value.split_once('.').unwrap();
        let tag = rest.split_once('.').unwrap().1;
        assert!(ours.open(&format!("{id}.mallory.{tag}")).is_none());
        for bad in ["", "a.b", "a.b.c.d", "..", "x.maria.!!"] {
            assert!(ours.open(bad).is_none(), "{bad:?}");
        }
    }
}
