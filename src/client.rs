//! Who is on the other end of a request: address and user agent.

use std::net::IpAddr;

use poem::{Addr, Request, http::header};

use crate::domain::session::ClientInfo;

/// User agents longer than this are cut: they are only shown, never parsed whole.
const MAX_USER_AGENT: usize = 512;

/// The client's address: the socket's peer.
pub fn ip(req: &Request) -> Option<IpAddr> {
    match req.remote_addr().0 {
        Addr::SocketAddr(addr) => Some(addr.ip().to_canonical()),
        _ => None,
    }
}

pub fn info(req: &Request) -> ClientInfo {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| truncate(ua, MAX_USER_AGENT).to_owned());
    ClientInfo {
        user_agent,
        ip: ip(req).map(|ip| ip.to_string()),
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
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("aé", 2), "a");
    }
}
