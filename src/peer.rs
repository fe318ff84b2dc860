//! Who is at the other end of the connection: [`PeerAddr`], which the
//! server's accept loop puts into each request's extensions, and
//! [`TrustedProxies`], the peers whose forwarded headers are believed. Shared
//! by the checks that read a header only a proxy's word makes true (the
//! certificate binding's forwarded certificate; next, DPoP's `Forwarded`
//! host and scheme). What users read is on the two types.
//!
//! The matching is a masked comparison of integers, and the address syntax
//! the standard library's; no crate for it is needed (`ipnet` is in the tree
//! only with the `remote-jwks` feature, through hyper-util).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use http::Extensions;

use crate::error::ConfigError;

/// The address of the peer of the connection a request came on: a request
/// extension the server's accept loop inserts.
///
/// Behind a proxy this is the proxy's address: that is the point, since only
/// a [trusted proxy](TrustedProxies)'s headers are believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

impl From<SocketAddr> for PeerAddr {
    fn from(address: SocketAddr) -> Self {
        Self(address)
    }
}

/// How the peer's IP address is read from a request's extensions.
type PeerReader = fn(&Extensions) -> Option<IpAddr>;

/// The default [`PeerReader`]: the [`PeerAddr`] extension.
fn peer_addr(extensions: &Extensions) -> Option<IpAddr> {
    extensions.get::<PeerAddr>().map(|peer| peer.0.ip())
}

/// The proxies whose forwarded headers are believed: IP addresses and CIDR
/// blocks, and how to find the peer of a request.
///
/// A header such as `X-Forwarded-Client-Cert` says what a proxy saw, but
/// anybody can send one. It means something only when the request comes
/// straight from a proxy that sets it (and removes the client's own), so a
/// check that reads one first asks whether the peer of the *connection* is
/// one of these. The peer is never taken from a header: only the server
/// knows it, and tells the middleware through the request's extensions. A
/// request whose peer the server did not give is not trusted.
///
/// # Entries
///
/// An IP address (`192.0.2.7`, `2001:db8::7`) or a CIDR block (`10.0.0.0/8`,
/// `2001:db8::/32`). A block whose address has bits set beyond its prefix
/// (`10.1.2.3/8`) is refused, as it is most often a typo for one address.
/// IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`, as a dual-stack socket
/// reports an IPv4 peer) are the IPv4 address they map, in entries and in
/// peers alike.
///
/// ```
/// use std::net::IpAddr;
/// use tower_jwt_auth::{ConfigError, TrustedProxies};
///
/// # fn main() -> Result<(), ConfigError> {
/// let proxies = TrustedProxies::new(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"])?;
/// assert!(proxies.contains("10.20.30.40".parse::<IpAddr>().unwrap()));
/// assert!(proxies.contains("::ffff:10.20.30.40".parse::<IpAddr>().unwrap()));
/// assert!(!proxies.contains("192.0.2.8".parse::<IpAddr>().unwrap()));
///
/// assert!(matches!(
///     TrustedProxies::new(["10.0.0.0/33"]),
///     Err(ConfigError::InvalidTrustedProxy { .. })
/// ));
/// # Ok(())
/// # }
/// ```
///
/// # Where the peer comes from
///
/// By default, from a [`PeerAddr`] extension, which the accept loop inserts
/// (see [`CertificateBinding`](crate::CertificateBinding) for a complete
/// loop). A server that records the peer in a type of its own, such as
/// axum's `ConnectInfo<SocketAddr>` (from
/// `into_make_service_with_connect_info`), names it with
/// [`peer_from`](Self::peer_from):
///
/// ```
/// use std::net::SocketAddr;
/// use axum::extract::ConnectInfo;
/// use tower_jwt_auth::TrustedProxies;
///
/// # fn main() -> Result<(), tower_jwt_auth::ConfigError> {
/// let proxies = TrustedProxies::new(["10.0.0.0/8", "fd00::/8"])?.peer_from(|extensions| {
///     extensions
///         .get::<ConnectInfo<SocketAddr>>()
///         .map(|ConnectInfo(address)| address.ip())
/// });
/// # let _ = proxies;
/// # Ok(())
/// # }
/// ```
///
/// The hook is a plain `fn` (a closure that captures nothing is one):
/// reading an extension needs no state, and a function pointer keeps this a
/// small `Clone + Debug` value. This crate depends on no server framework,
/// so it cannot name `ConnectInfo` itself.
#[derive(Clone)]
pub struct TrustedProxies {
    blocks: Arc<[Block]>,
    peer: PeerReader,
}

impl TrustedProxies {
    /// Trusts the peers in `entries`, each an IP address or a CIDR block.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidTrustedProxy`] for an entry that is not an
    /// address or a block, has a prefix longer than its address, or has
    /// bits set beyond its prefix; [`ConfigError::Empty`] (setting
    /// `"trusted_proxies"`) for no entry at all, which would trust nobody.
    pub fn new<I>(entries: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let blocks = entries
            .into_iter()
            .map(|entry| Block::parse(entry.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if blocks.is_empty() {
            return Err(ConfigError::Empty {
                setting: "trusted_proxies",
            });
        }
        Ok(Self {
            blocks: blocks.into(),
            peer: peer_addr,
        })
    }

    /// Reads the peer's address with `read` instead of from the [`PeerAddr`]
    /// extension: for servers that record it in a type of their own (see
    /// [above](Self#where-the-peer-comes-from)).
    #[must_use]
    pub fn peer_from(mut self, read: fn(&Extensions) -> Option<IpAddr>) -> Self {
        self.peer = read;
        self
    }

    /// Whether `address` is one of the trusted proxies.
    pub fn contains(&self, address: IpAddr) -> bool {
        let canonical = address.to_canonical();
        self.blocks
            .iter()
            .any(|block| block.contains(canonical) || block.contains(address))
    }

    /// Whether the request with `extensions` comes straight from a trusted
    /// proxy; `false` when the server did not say who the peer is.
    pub(crate) fn trusts(&self, extensions: &Extensions) -> bool {
        (self.peer)(extensions).is_some_and(|peer| self.contains(peer))
    }
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedProxies")
            .field("blocks", &self.blocks)
            .finish_non_exhaustive()
    }
}

/// One CIDR block (a single address is a block of one); the address has no
/// bits set beyond the prefix.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    V4 { network: u32, prefix: u8 },
    V6 { network: u128, prefix: u8 },
}

impl Block {
    /// `entry`, an address or `address/prefix`.
    fn parse(entry: &str) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::InvalidTrustedProxy {
            entry: entry.to_owned(),
            reason,
        };
        let (address, prefix) = match entry.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (entry.trim(), None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| invalid("not an IP address or a CIDR block"))?;
        let width = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            // Digits only: `u8::from_str` would take a `+` sign.
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= width)
                .ok_or_else(|| invalid("the prefix is longer than the address"))?,
            Some(_) => return Err(invalid("the prefix is not a number")),
        };
        let block = match address {
            IpAddr::V4(v4) => Self::V4 {
                network: u32::from(v4),
                prefix,
            },
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                // `::ffff:a.b.c.d/96+n` is `a.b.c.d/n`.
                Some(v4) if prefix >= 96 => Self::V4 {
                    network: u32::from(v4),
                    prefix: prefix - 96,
                },
                _ => Self::V6 {
                    network: u128::from(v6),
                    prefix,
                },
            },
        };
        if !block.is_network() {
            return Err(invalid("the address has bits set beyond the prefix"));
        }
        Ok(block)
    }

    /// Whether the address has no bits set beyond the prefix.
    fn is_network(self) -> bool {
        match self {
            Self::V4 { network, prefix } => network & !mask32(prefix) == 0,
            Self::V6 { network, prefix } => network & !mask128(prefix) == 0,
        }
    }

    fn contains(self, address: IpAddr) -> bool {
        match (self, address) {
            (Self::V4 { network, prefix }, IpAddr::V4(a)) => {
                u32::from(a) & mask32(prefix) == network
            }
            (Self::V6 { network, prefix }, IpAddr::V6(a)) => {
                u128::from(a) & mask128(prefix) == network
            }
            _ => false,
        }
    }
}

/// The first `prefix` bits set (`prefix` ≤ 32).
fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// The first `prefix` bits set (`prefix` ≤ 128).
fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::V4 { network, prefix } => write!(f, "{}/{prefix}", Ipv4Addr::from(network)),
            Self::V6 { network, prefix } => write!(f, "{}/{prefix}", Ipv6Addr::from(network)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn reason(entry: &str) -> &'static str {
        match TrustedProxies::new([entry]) {
            Err(ConfigError::InvalidTrustedProxy { entry: e, reason }) => {
                assert_eq!(e, entry);
                reason
            }
            other => panic!("{entry:?}: {other:?}"),
        }
    }

    #[test]
    fn addresses_and_blocks_match_by_prefix() {
        let proxies =
            TrustedProxies::new(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", " ::1 "]).unwrap();
        for trusted in [
            "10.0.0.0",
            "10.255.255.255",
            "192.0.2.7",
            "2001:db8:ffff::1",
            "::1",
        ] {
            assert!(proxies.contains(ip(trusted)), "{trusted}");
        }
        for other in [
            "11.0.0.0",
            "9.255.255.255",
            "192.0.2.8",
            "2001:db9::",
            "::2",
            "127.0.0.1",
        ] {
            assert!(!proxies.contains(ip(other)), "{other}");
        }
        assert_eq!(
            format!("{proxies:?}"),
            "TrustedProxies { blocks: [10.0.0.0/8, 192.0.2.7/32, 2001:db8::/32, ::1/128], .. }"
        );
    }

    #[test]
    fn the_whole_space_and_single_addresses_are_blocks_too() {
        let all = TrustedProxies::new(["0.0.0.0/0", "::/0"]).unwrap();
        assert!(all.contains(ip("203.0.113.9")) && all.contains(ip("2001:db8::9")));
        let one = TrustedProxies::new(["203.0.113.9/32"]).unwrap();
        assert!(one.contains(ip("203.0.113.9")) && !one.contains(ip("203.0.113.8")));
    }

    #[test]
    fn ipv4_mapped_addresses_are_their_ipv4_address() {
        // A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
        let v4 = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        assert!(v4.contains(ip("::ffff:10.1.2.3")));
        assert!(!v4.contains(ip("::ffff:11.1.2.3")));
        // An entry written as a mapped address is the IPv4 block it maps.
        let mapped = TrustedProxies::new(["::ffff:10.0.0.0/104", "::ffff:192.0.2.7"]).unwrap();
        assert!(mapped.contains(ip("10.9.9.9")) && mapped.contains(ip("::ffff:10.9.9.9")));
        assert!(mapped.contains(ip("192.0.2.7")) && !mapped.contains(ip("192.0.2.8")));
        assert_eq!(
            format!("{mapped:?}"),
            "TrustedProxies { blocks: [10.0.0.0/8, 192.0.2.7/32], .. }"
        );
        // The IPv6 space includes the mapped addresses as they are.
        assert!(
            TrustedProxies::new(["::/0"])
                .unwrap()
                .contains(ip("::ffff:10.1.2.3"))
        );
    }

    #[test]
    fn bad_entries_are_refused_with_the_reason() {
        for entry in [
            "",
            "localhost",
            "10.0.0",
            "10.0.0.0/",
            "fe80::1%eth0",
            "10.0.0.0/8/8",
        ] {
            let r = reason(entry);
            assert!(r.contains("not"), "{entry:?}: {r}");
        }
        assert_eq!(reason("10.0.0.0/+8"), "the prefix is not a number");
        assert_eq!(reason("10.0.0.0/-1"), "the prefix is not a number");
        assert_eq!(
            reason("10.0.0.0/33"),
            "the prefix is longer than the address"
        );
        assert_eq!(reason("::/129"), "the prefix is longer than the address");
        assert_eq!(
            reason("10.0.0.0/999"),
            "the prefix is longer than the address"
        );
        assert_eq!(
            reason("10.1.2.3/8"),
            "the address has bits set beyond the prefix"
        );
        assert_eq!(
            reason("2001:db8::1/32"),
            "the address has bits set beyond the prefix"
        );
        assert!(matches!(
            TrustedProxies::new(Vec::<String>::new()),
            Err(ConfigError::Empty {
                setting: "trusted_proxies"
            })
        ));
    }

    #[test]
    fn the_peer_comes_from_peer_addr_or_the_hook() {
        let proxies = TrustedProxies::new(["127.0.0.1"]).unwrap();
        let mut extensions = Extensions::new();
        assert!(!proxies.trusts(&extensions), "no peer, no trust");
        extensions.insert(PeerAddr("127.0.0.1:4000".parse().unwrap()));
        assert!(proxies.trusts(&extensions));
        extensions.insert(PeerAddr("127.0.0.2:4000".parse().unwrap()));
        assert!(!proxies.trusts(&extensions));

        #[derive(Clone)]
        struct Mine(SocketAddr);
        let hooked = proxies.peer_from(|e| e.get::<Mine>().map(|m| m.0.ip()));
        assert!(!hooked.trusts(&extensions), "PeerAddr is no longer read");
        extensions.insert(Mine("[::ffff:127.0.0.1]:1".parse().unwrap()));
        assert!(hooked.trusts(&extensions));
    }
}
