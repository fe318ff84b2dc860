//! Whether a URL's host is loopback: the one place plain `http://` is
//! accepted without an opt-in (remote key sets and introspection endpoints,
//! `remote/url.rs`; resource and issuer identifiers, `resource_metadata/url.rs`).

use std::net::IpAddr;

/// Whether `host` (as in a URL: an IPv6 address in brackets) is loopback:
/// `127.0.0.0/8`, `::1`, or `localhost`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_hosts_and_others() {
        for host in ["127.0.0.1", "127.8.9.10", "[::1]", "localhost", "LocalHost"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "10.0.0.1",
            "[::2]",
            "::1x",
            "localhost.example",
            "example.com",
            "",
            "127.0.0.1.example",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
