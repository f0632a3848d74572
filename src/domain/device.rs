//! The device a request comes from: its address (as our own proxy saw it) and user agent.

use std::net::{IpAddr, Ipv6Addr};

/// The device a request comes from, as recorded on sessions and shown to users.
#[derive(Clone, Debug)]
pub struct Device {
    pub addr: IpAddr,
    pub user_agent: String,
}

impl Device {
    pub fn new(addr: IpAddr, user_agent: impl Into<String>) -> Self {
        Self {
            addr: addr.to_canonical(),
            user_agent: user_agent.into(),
        }
    }

    /// The address as shown to people and stored on sessions.
    pub fn ip(&self) -> String {
        self.addr.to_string()
    }

    /// The key per-address limits count under: the address itself for IPv4, its /64 for IPv6,
    /// since one IPv6 subscriber is usually given a whole /64 to pick addresses from.
    pub fn network_key(&self) -> String {
        match self.addr {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("{}/64", v6_prefix64(v6)),
        }
    }
}

impl Device {
    /// The keys sign-in attempts count under: the network key, and for IPv6 also its /56, the
    /// block one subscriber is often given (256 /64s), so hopping between its /64s gains nothing.
    pub fn sign_in_keys(&self) -> Vec<String> {
        match self.addr {
            IpAddr::V4(v4) => vec![v4.to_string()],
            IpAddr::V6(v6) => {
                let prefix56 = Ipv6Addr::from(u128::from(v6) & !((1u128 << 72) - 1));
                vec![self.network_key(), format!("{prefix56}/56")]
            }
        }
    }
}

fn v6_prefix64(addr: Ipv6Addr) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(addr) & !((1u128 << 64) - 1))
}

/// Whether two addresses look like one network: the same IPv4 /24 or IPv6 /64. A hint for the
/// phone that the computer asking to be signed in is (or is not) next to it.
pub fn same_network(a: IpAddr, b: IpAddr) -> bool {
    match (a.to_canonical(), b.to_canonical()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
        (IpAddr::V6(a), IpAddr::V6(b)) => v6_prefix64(a) == v6_prefix64(b),
        _ => false,
    }
}

/// The client address from `X-Forwarded-For`, trusting `hops` proxies of our own: each appends
/// the address it saw, so the `hops`-th entry from the right is what our outermost proxy saw.
/// Entries further left were written by the client and prove nothing. A missing, malformed or
/// oversized header, or fewer entries than hops, falls back to the socket address.
pub fn forwarded_client(header: Option<&str>, hops: usize, peer: IpAddr) -> IpAddr {
    const MAX_HEADER: usize = 1024;
    if hops == 0 {
        return peer;
    }
    header
        .filter(|value| value.len() <= MAX_HEADER)
        .and_then(|value| value.rsplit(',').nth(hops - 1))
        .and_then(|entry| entry.trim().parse::<IpAddr>().ok())
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_sign_ins_count_per_64_and_per_56() {
        let a = Device::new(ip("2001:db8:1:2a00::1"), "");
        let b = Device::new(ip("2001:db8:1:2aff::9"), "");
        assert_eq!(a.sign_in_keys()[1], "2001:db8:1:2a00::/56");
        assert_eq!(a.sign_in_keys()[1], b.sign_in_keys()[1], "one /56");
        assert_ne!(a.sign_in_keys()[0], b.sign_in_keys()[0], "two /64s");
        assert_eq!(
            Device::new(ip("203.0.113.7"), "").sign_in_keys(),
            ["203.0.113.7"]
        );
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_address_our_proxy_saw_is_used_not_the_one_the_client_wrote() {
        let peer = ip("10.0.0.1");
        let header = Some("6.6.6.6, 203.0.113.5");
        assert_eq!(forwarded_client(header, 1, peer), ip("203.0.113.5"));
        assert_eq!(forwarded_client(header, 2, peer), ip("6.6.6.6"));
        assert_eq!(forwarded_client(header, 0, peer), peer);
        assert_eq!(forwarded_client(header, 3, peer), peer);
        assert_eq!(forwarded_client(None, 1, peer), peer);
        assert_eq!(forwarded_client(Some("garbage"), 1, peer), peer);
        assert_eq!(forwarded_client(Some("1.2.3.4:80"), 1, peer), peer);
        let huge = format!("{}1.2.3.4", "9.9.9.9, ".repeat(200));
        assert_eq!(forwarded_client(Some(&huge), 1, peer), peer);
        assert_eq!(
            forwarded_client(Some(" 2001:db8::1 "), 1, peer),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn ipv6_addresses_are_limited_per_64() {
        let a = Device::new(ip("2001:db8:1:2::1"), "");
        let b = Device::new(ip("2001:db8:1:2:ffff::9"), "");
        let c = Device::new(ip("2001:db8:1:3::1"), "");
        assert_eq!(a.network_key(), b.network_key());
        assert_ne!(a.network_key(), c.network_key());
        assert_eq!(
            Device::new(ip("::ffff:192.0.2.1"), "").network_key(),
            "192.0.2.1"
        );
    }

    #[test]
    fn same_network_means_same_ipv4_24_or_ipv6_64() {
        assert!(same_network(ip("192.168.1.20"), ip("192.168.1.99")));
        assert!(!same_network(ip("192.168.1.20"), ip("192.168.2.20")));
        assert!(same_network(ip("2001:db8::1"), ip("2001:db8::2")));
        assert!(!same_network(ip("2001:db8::1"), ip("192.168.1.1")));
    }
}
