//! How times read on a page: machine-readable, readable, and relative.

use std::sync::LazyLock;

use chrono::{
    DateTime, Utc,
    format::{Item, StrftimeItems},
};
use serde::Serialize;

/// "29 Nov 2026, 20:13 UTC", parsed once rather than for every time shown.
static READABLE: LazyLock<Vec<Item<'static>>> = LazyLock::new(|| {
    StrftimeItems::new("%-d %b %Y, %H:%M UTC")
        .parse_to_owned()
        .unwrap_or_default()
});

/// A time as templates show it, in a `<time datetime="…">`.
#[derive(Debug, Serialize)]
pub struct TimeView {
    /// RFC 3339, for the `datetime` attribute.
    pub iso: String,
    /// "29 Nov 2026, 20:13 UTC"
    pub text: String,
    /// "5 minutes ago", where a page shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ago: Option<String>,
}

impl TimeView {
    pub fn at(t: DateTime<Utc>) -> Self {
        Self {
            iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            text: t.format_with_items(READABLE.iter()).to_string(),
            ago: None,
        }
    }

    /// The same, with how long ago it was.
    pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Self {
            ago: Some(ago(t, now)),
            ..Self::at(t)
        }
    }
}

/// "just now", "3 minutes ago", "2 hours ago", "5 days ago"; the future
/// ("in 3 days") for deadlines.
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let (amount, unit) = span(secs.unsigned_abs());
    match (amount, secs >= 0) {
        (0, _) => "just now".to_owned(),
        (n, true) => format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" }),
        (n, false) => format!("in {n} {unit}{}", if n == 1 { "" } else { "s" }),
    }
}

fn span(secs: u64) -> (u64, &'static str) {
    match secs {
        0..60 => (0, "second"),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn recent_times_read_as_just_now() {
        assert_eq!(ago(t(0), t(59)), "just now");
    }

    #[test]
    fn minutes_hours_and_days_ago() {
        assert_eq!(ago(t(0), t(60)), "1 minute ago");
        assert_eq!(ago(t(0), t(150)), "2 minutes ago");
        assert_eq!(ago(t(0), t(3600)), "1 hour ago");
        assert_eq!(ago(t(0), t(86_400 * 3 + 5)), "3 days ago");
    }

    #[test]
    fn the_future_reads_forward() {
        assert_eq!(ago(t(86_400 * 2), t(0)), "in 2 days");
    }

    #[test]
    fn readable_and_machine_forms() {
        let v = TimeView::at(t(0));
        assert_eq!(v.iso, "2027-01-15T08:00:00Z");
        assert_eq!(v.text, "15 Jan 2027, 08:00 UTC");
        assert_eq!(v.ago, None);
        assert_eq!(
            TimeView::ago(t(0), t(120)).ago.as_deref(),
            Some("2 minutes ago")
        );
    }
}
