//! The client's address, for per-address limits: the peer, or the hop that the trusted
//! proxies in front of Accolade saw.
//!
//! A proxy appends the address it received the request from to `X-Forwarded-For`, so with
//! N trusted proxies the client is the N-th entry from the right; everything to its left was
//! sent by the client and may be forged. A header with fewer entries than that came past
//! the proxies, and the peer address is used.

use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::config::{ProxyHeader, TrustedProxies};

pub fn client_address(req: &HttpRequest, proxies: TrustedProxies) -> String {
    let peer = || {
        req.peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "unknown".into())
    };
    if proxies.count == 0 {
        return peer();
    }
    let name = match proxies.header {
        ProxyHeader::XForwardedFor => "x-forwarded-for",
        ProxyHeader::Forwarded => "forwarded",
    };
    // Every occurrence of the header, in order, as one list.
    let values: Vec<&str> = req
        .headers()
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .collect();
    forwarded_client(&values.join(","), proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_else(peer)
}

/// The N-th hop from the right of a forwarding header's list, when it is an IP address.
fn forwarded_client(list: &str, proxies: TrustedProxies) -> Option<IpAddr> {
    let hops: Vec<&str> = list.split(',').map(str::trim).collect();
    let hop = hops.len().checked_sub(proxies.count).map(|i| hops[i])?;
    match proxies.header {
        ProxyHeader::XForwardedFor => hop.parse().ok(),
        ProxyHeader::Forwarded => forwarded_for(hop),
    }
}

/// The address of a `Forwarded` element's `for=` pair: `for=192.0.2.1`,
/// `for="[2001:db8::1]:4711"`, `for="192.0.2.1:80"`.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        key.eq_ignore_ascii_case("for")
            .then_some(value.trim().trim_matches('"'))
    })?;
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    value
        .parse()
        .ok()
        .or_else(|| value.rsplit_once(':')?.0.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(count: usize) -> TrustedProxies {
        TrustedProxies {
            count,
            header: ProxyHeader::XForwardedFor,
        }
    }

    #[test]
    fn the_client_is_the_nth_hop_from_the_right() {
        let list = "6.6.6.6, 203.0.113.7, 10.0.0.2";
        assert_eq!(forwarded_client(list, xff(1)), "10.0.0.2".parse().ok());
        assert_eq!(forwarded_client(list, xff(2)), "203.0.113.7".parse().ok());
        // Fewer hops than proxies, or a forged non-address: not taken.
        assert_eq!(forwarded_client("203.0.113.7", xff(2)), None);
        assert_eq!(forwarded_client("1.1.1.1, evil", xff(1)), None);
    }

    #[test]
    fn forwarded_elements_are_read_by_their_for_pair() {
        let forwarded = TrustedProxies {
            count: 1,
            header: ProxyHeader::Forwarded,
        };
        assert_eq!(
            forwarded_client(
                "for=6.6.6.6, for=\"[2001:db8::1]:4711\";proto=https",
                forwarded
            ),
            "2001:db8::1".parse().ok()
        );
        assert_eq!(
            forwarded_client("for=\"192.0.2.1:80\"", forwarded),
            "192.0.2.1".parse().ok()
        );
        assert_eq!(forwarded_client("by=1.2.3.4", forwarded), None);
    }
}
