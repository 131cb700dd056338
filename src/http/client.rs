//! Who is on the other end of a request: address and user agent.

use std::net::IpAddr;

use poem::{Addr, Request, http::header};

use crate::domain::session::ClientInfo;

/// User agents longer than this are cut: they are only shown, never parsed whole.
const MAX_USER_AGENT: usize = 512;

/// The client's address: the socket's peer, or, behind a trusted reverse
/// proxy, the rightmost `X-Forwarded-For` entry — the one that proxy added.
/// Entries further left were written by the client and prove nothing.
pub fn ip(req: &Request, trust_proxy: bool) -> Option<IpAddr> {
    if trust_proxy && let Some(forwarded) = rightmost_forwarded_for(req) {
        return Some(forwarded);
    }
    match req.remote_addr().0 {
        Addr::SocketAddr(addr) => Some(addr.ip().to_canonical()),
        _ => None,
    }
}

fn rightmost_forwarded_for(req: &Request) -> Option<IpAddr> {
    let last_header = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .next_back()?;
    let last = last_header.to_str().ok()?.rsplit(',').next()?.trim();
    parse_forwarded_ip(last)
}

/// An address as proxies write it: bare, or with a port (`1.2.3.4:5678`,
/// `[::1]:5678`).
fn parse_forwarded_ip(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    s.parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| a.ip().to_canonical())
}

pub fn info(req: &Request, trust_proxy: bool) -> ClientInfo {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| truncate(ua, MAX_USER_AGENT).to_owned());
    ClientInfo {
        user_agent,
        ip: ip(req, trust_proxy).map(|ip| ip.to_string()),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_parse_with_or_without_ports() {
        assert_eq!(
            parse_forwarded_ip("203.0.113.7"),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(
            parse_forwarded_ip("203.0.113.7:4711"),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(
            parse_forwarded_ip("[2001:db8::1]:443"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            parse_forwarded_ip("::ffff:10.0.0.1"),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(parse_forwarded_ip("unknown"), None);
        assert_eq!(parse_forwarded_ip(""), None);
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("aé", 2), "a");
    }
}
