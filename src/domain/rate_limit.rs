//! Limits written `COUNT/DURATION` (`10/1h`, `30/10m`), and the key a client
//! address is counted under.

use std::{fmt, net::IpAddr, str::FromStr, time::Duration};

/// At most `count` actions per `window`, counted from the first action of a
/// window: once `count` are used, the next waits until that window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub window: Duration,
}

/// A limit as configured: `0` turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSetting {
    Off,
    On(RateLimit),
}

impl LimitSetting {
    pub fn limit(&self) -> Option<RateLimit> {
        match self {
            LimitSetting::Off => None,
            LimitSetting::On(limit) => Some(*limit),
        }
    }
}

impl FromStr for LimitSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "0" {
            return Ok(LimitSetting::Off);
        }
        let usage = "write COUNT/DURATION, such as 10/1h or 30/10m, or 0 for no limit";
        let (count, window) = s.split_once('/').ok_or_else(|| usage.to_owned())?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("the count is not a whole number ({usage})"))?;
        let window = humantime::parse_duration(window.trim())
            .map_err(|e| format!("the duration: {e} ({usage})"))?;
        if count == 0 || window.is_zero() {
            return Ok(LimitSetting::Off);
        }
        Ok(LimitSetting::On(RateLimit { count, window }))
    }
}

impl fmt::Display for LimitSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitSetting::Off => f.write_str("0"),
            LimitSetting::On(limit) => write!(
                f,
                "{}/{}",
                limit.count,
                humantime::format_duration(limit.window)
            ),
        }
    }
}

/// The part of a client address that limits count: an IPv4 address whole,
/// an IPv6 address by its /64 (one customer's network: a client on IPv6
/// usually holds the whole /64 and can pick any address in it).
pub fn address_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// A wait as people read it: whole minutes, rounded up, at least one.
pub fn in_minutes(wait: Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    format!("{minutes} {unit}")
}

/// Rounds a wait up to whole seconds (for `Retry-After`), never to zero.
pub fn whole_seconds(wait: Duration) -> Duration {
    Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        .max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_as_count_per_duration() {
        assert_eq!(
            "10/1h".parse::<LimitSetting>(),
            Ok(LimitSetting::On(RateLimit {
                count: 10,
                window: Duration::from_secs(3600)
            }))
        );
        assert_eq!(
            " 30 / 10m ".parse::<LimitSetting>().unwrap().limit(),
            Some(RateLimit {
                count: 30,
                window: Duration::from_secs(600)
            })
        );
        assert_eq!("0".parse::<LimitSetting>(), Ok(LimitSetting::Off));
        assert_eq!("0/1h".parse::<LimitSetting>(), Ok(LimitSetting::Off));
        for bad in ["10", "ten/1h", "10/often", "-1/1h", ""] {
            let err = bad.parse::<LimitSetting>().unwrap_err();
            assert!(err.contains("COUNT/DURATION"), "{bad}: {err}");
        }
        assert_eq!(
            "10/1h".parse::<LimitSetting>().unwrap().to_string(),
            "10/1h"
        );
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_ipv4_whole() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        assert_eq!(address_key(a), "2001:db8:1:2::/64");
        assert_eq!(address_key("203.0.113.9".parse().unwrap()), "203.0.113.9");
        assert_eq!(
            address_key("::ffff:203.0.113.9".parse().unwrap()),
            "203.0.113.9"
        );
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(
            whole_seconds(Duration::from_millis(1)),
            Duration::from_secs(1)
        );
        assert_eq!(
            whole_seconds(Duration::from_millis(61_001)),
            Duration::from_secs(62)
        );
        assert_eq!(whole_seconds(Duration::ZERO), Duration::from_secs(1));
    }
}
