//! The client address the policy checks and the audit log records: the peer, unless the
//! peer is a trusted proxy; then what the proxies in front of it vouch for.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The client address: the peer, unless the peer is a trusted proxy; then the right-most
/// `X-Forwarded-For` entry that is not itself one (an entry that cannot be read ends the
/// chain that can be believed).
pub fn client_ip(peer: IpAddr, forwarded_for: &[&[u8]], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    let entries = forwarded_for
        .iter()
        .filter_map(|value| std::str::from_utf8(value).ok())
        .flat_map(|value| value.split(','))
        .collect::<Vec<_>>();
    for entry in entries.iter().rev() {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// [`client_ip`] from a host's text for the peer (`ip:port` in Envoy, a bare address in
/// some hosts). Anything else (absent, a pipe path) is handed on as it is, and the policy
/// refuses an address it cannot read: the host fails closed.
pub fn client_text(source: Option<&str>, forwarded_for: &[&[u8]], trusted: &[IpNet]) -> String {
    let source = source.unwrap_or_default();
    match read_address(source) {
        Some(peer) => client_ip(peer, forwarded_for, trusted).to_string(),
        None => source.to_owned(),
    }
}

fn read_address(text: &str) -> Option<IpAddr> {
    text.parse::<SocketAddr>()
        .map(|socket| socket.ip())
        .or_else(|_| text.parse::<IpAddr>())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(texts: &[&str]) -> Vec<IpNet> {
        texts.iter().filter_map(|t| t.parse().ok()).collect()
    }

    #[test]
    fn the_peer_is_the_client_unless_trusted() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_text(Some("192.0.2.10:5000"), &[b"1.2.3.4"], &trusted),
            "192.0.2.10"
        );
        assert_eq!(
            client_text(Some("[2001:DB8::1]:5000"), &[], &trusted),
            "2001:db8::1"
        );
        assert_eq!(client_text(Some("192.0.2.10"), &[], &trusted), "192.0.2.10");
    }

    #[test]
    fn trusted_peers_pass_on_the_right_most_untrusted_entry() {
        let trusted = nets(&["10.0.0.0/8"]);
        let xff: &[&[u8]] = &[b"203.0.113.9, 198.51.100.7", b"10.1.1.1"];
        assert_eq!(
            client_text(Some("10.0.0.1:80"), xff, &trusted),
            "198.51.100.7"
        );
        assert_eq!(
            client_text(Some("10.0.0.1:80"), &[b"junk, 10.2.2.2"], &trusted),
            "10.2.2.2"
        );
        assert_eq!(client_text(Some("10.0.0.1:80"), &[], &trusted), "10.0.0.1");
    }

    #[test]
    fn unreadable_sources_reach_the_policy_as_they_are() {
        assert_eq!(client_text(Some("garbage:1"), &[], &[]), "garbage:1");
        assert_eq!(client_text(None, &[], &[]), "");
    }
}
