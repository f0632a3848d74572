//! The device a request comes from: its address (as our own proxy saw it) and user agent.

use std::net::{IpAddr, Ipv6Addr};

/// The device a request comes from, as recorded on sessions and shown to users.
#[derive(Clone, Debug)]
pub struct Device {
    pub addr: IpAddr,
    pub user_agent: String,
    /// The known-browser token it presented when signing in (`domain::known_browsers`).
    pub known_browser: Option<String>,
}

impl Device {
    pub fn new(addr: IpAddr, user_agent: impl Into<String>) -> Self {
        Self {
            addr: addr.to_canonical(),
            user_agent: user_agent.into(),
            known_browser: None,
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

/// Who may tell us a client's address. `hops` proxies of our own each append the address they
/// saw to `X-Forwarded-For`, so the `hops`-th entry from the right is what our outermost proxy
/// saw; entries further left were written by the client and prove nothing. The header is
/// believed only from a socket peer inside `networks` (our proxies' addresses): anyone else who
/// reaches the server directly could write any address into it.
#[derive(Clone, Debug)]
pub struct TrustedProxies {
    hops: usize,
    networks: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// `networks`: comma-separated addresses or CIDR blocks (`127.0.0.1/32, 10.0.0.0/8, ::1`).
    pub fn parse(hops: usize, networks: &str) -> Result<Self, String> {
        let networks = networks
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|network| {
                let (addr, bits) = network.split_once('/').unwrap_or((network, ""));
                let addr: IpAddr = addr.parse().map_err(|_| {
                    format!("trusted_proxies: {network} is not an address or CIDR block")
                })?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                let bits = match bits {
                    "" => max,
                    bits => bits
                        .parse::<u8>()
                        .ok()
                        .filter(|b| *b <= max)
                        .ok_or_else(|| {
                            format!("trusted_proxies: {network} has a bad prefix length")
                        })?,
                };
                Ok((addr, bits))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { hops, networks })
    }

    fn trusts(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.networks
            .iter()
            .any(|(network, bits)| match (network, peer) {
                (IpAddr::V4(net), IpAddr::V4(ip)) => {
                    let mask = u32::MAX.checked_shl(32 - u32::from(*bits)).unwrap_or(0);
                    u32::from(*net) & mask == u32::from(ip) & mask
                }
                (IpAddr::V6(net), IpAddr::V6(ip)) => {
                    let mask = u128::MAX.checked_shl(128 - u32::from(*bits)).unwrap_or(0);
                    u128::from(*net) & mask == u128::from(ip) & mask
                }
                _ => false,
            })
    }

    /// The client's address: from `X-Forwarded-For` when the peer is a trusted proxy, else the
    /// peer itself. A missing, malformed or oversized header, or fewer entries than hops, falls
    /// back to the peer.
    pub fn client(&self, header: Option<&str>, peer: IpAddr) -> IpAddr {
        const MAX_HEADER: usize = 1024;
        if self.hops == 0 || !self.trusts(peer) {
            return peer;
        }
        header
            .filter(|value| value.len() <= MAX_HEADER)
            .and_then(|value| value.rsplit(',').nth(self.hops - 1))
            .and_then(|entry| entry.trim().parse::<IpAddr>().ok())
            .unwrap_or(peer)
    }
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
        let hops = |n| TrustedProxies::parse(n, "10.0.0.0/8").unwrap();
        let header = Some("6.6.6.6, 203.0.113.5");
        assert_eq!(hops(1).client(header, peer), ip("203.0.113.5"));
        assert_eq!(hops(2).client(header, peer), ip("6.6.6.6"));
        assert_eq!(hops(0).client(header, peer), peer);
        assert_eq!(hops(3).client(header, peer), peer);
        assert_eq!(hops(1).client(None, peer), peer);
        assert_eq!(hops(1).client(Some("garbage"), peer), peer);
        assert_eq!(hops(1).client(Some("1.2.3.4:80"), peer), peer);
        let huge = format!("{}1.2.3.4", "9.9.9.9, ".repeat(200));
        assert_eq!(hops(1).client(Some(&huge), peer), peer);
        assert_eq!(
            hops(1).client(Some(" 2001:db8::1 "), peer),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn the_header_is_believed_only_from_a_trusted_proxy() {
        let proxies = TrustedProxies::parse(1, "127.0.0.1/32, ::1, 10.1.0.0/16").unwrap();
        let header = Some("203.0.113.5");
        assert_eq!(proxies.client(header, ip("127.0.0.1")), ip("203.0.113.5"));
        assert_eq!(proxies.client(header, ip("::1")), ip("203.0.113.5"));
        assert_eq!(
            proxies.client(header, ip("::ffff:10.1.2.3")),
            ip("203.0.113.5")
        );
        // Someone reaching the server directly writes what they like: ignored.
        assert_eq!(
            proxies.client(header, ip("198.51.100.9")),
            ip("198.51.100.9")
        );
        assert_eq!(proxies.client(header, ip("10.2.0.1")), ip("10.2.0.1"));
        assert!(TrustedProxies::parse(1, "10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse(1, "example.com").is_err());
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
