//! A browser and operating system, read from a `User-Agent` header by
//! woothee's maintained rule set (no hand-written patterns here).

use std::sync::LazyLock;

use woothee::parser::Parser;

static PARSER: LazyLock<Parser> = LazyLock::new(Parser::new);

/// What a session list shows of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// "Chrome 156", "Firefox 128", or "Unknown browser".
    pub browser: String,
    /// "Linux", "Mac OSX", "iPhone", or "Unknown system".
    pub os: String,
}

pub fn describe(user_agent: Option<&str>) -> Device {
    let parsed = user_agent.and_then(|ua| PARSER.parse(ua));
    let known = |s: &str| !s.is_empty() && s != "UNKNOWN";
    let browser = match &parsed {
        Some(r) if known(r.name) => {
            let major = r.version.split('.').next().unwrap_or_default();
            if known(major) {
                format!("{} {major}", r.name)
            } else {
                r.name.to_owned()
            }
        }
        _ => "Unknown browser".to_owned(),
    };
    let os = match &parsed {
        Some(r) if known(r.os) => r.os.to_owned(),
        _ => "Unknown system".to_owned(),
    };
    Device { browser, os }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desktop_and_phone_browsers_are_recognised() {
        let chrome = describe(Some(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.8078.73 Safari/537.36",
        ));
        assert_eq!(chrome.browser, "Chrome 156");
        assert_eq!(chrome.os, "Linux");
        let iphone = describe(Some(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        ));
        assert_eq!(iphone.browser, "Safari 17");
        assert_eq!(iphone.os, "iPhone");
        let firefox = describe(Some(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ));
        assert_eq!(firefox.browser, "Firefox 128");
        assert!(firefox.os.starts_with("Windows"), "{}", firefox.os);
    }

    #[test]
    fn missing_or_odd_agents_are_unknown() {
        for ua in [None, Some(""), Some("curl/8.5.0"), Some("\u{0}garbage")] {
            let d = describe(ua);
            assert!(!d.browser.is_empty() && !d.os.is_empty(), "{ua:?}: {d:?}");
        }
        assert_eq!(describe(None).browser, "Unknown browser");
    }
}
