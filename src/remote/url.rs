//! Which URLs keys may be fetched from ([`Target`]: `https://`, or `http://`
//! to loopback, to any host with `allow_http`), and an issuer's discovery URL.

use std::net::IpAddr;
use std::sync::Arc;

use http::Uri;

use super::error::{RemoteKeyError, RemoteKeyErrorKind};

/// A checked URL, and its text for errors and logs.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) uri: Uri,
    pub(super) text: Arc<str>,
}

impl Target {
    /// Checks that `url` is absolute, `https://`, or `http://` to a loopback
    /// host (or any host with `allow_http`), without user information.
    pub(super) fn parse(url: &str, allow_http: bool) -> Result<Self, RemoteKeyError> {
        let text: Arc<str> = Arc::from(url);
        let refuse = |detail: &'static str| {
            RemoteKeyError::new(RemoteKeyErrorKind::InvalidUrl, detail).with_url(&text)
        };
        let uri: Uri = url
            .parse()
            .map_err(|e| refuse("not a URL").with_source(e))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(refuse("not an absolute URL"));
        };
        if authority.as_str().contains('@') {
            return Err(refuse("user information in the URL is not supported"));
        }
        if authority.host().is_empty() {
            return Err(refuse("no host in the URL"));
        }
        match scheme {
            "https" => {}
            "http" if allow_http || is_loopback(authority.host()) => {}
            "http" => {
                return Err(refuse(
                    "plain http:// is refused for a host that is not loopback \
                     (anyone on the path could replace the keys); use https:// \
                     or allow_http(true)",
                ));
            }
            _ => {
                return Err(refuse(
                    "the scheme must be https:// (or http:// to loopback)",
                ));
            }
        }
        Ok(Self { uri, text })
    }
}

/// Whether `host` (as in a URL: an IPv6 address in brackets) is loopback:
/// `127.0.0.0/8`, `::1`, or `localhost`.
fn is_loopback(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// The discovery document's URL (OpenID Connect Discovery 1.0 §4): the issuer,
/// without a trailing `/`, followed by `/.well-known/openid-configuration`.
pub(super) fn discovery_url(issuer: &str, allow_http: bool) -> Result<Target, RemoteKeyError> {
    let checked = Target::parse(issuer, allow_http)?;
    if checked.uri.query().is_some() || issuer.contains('#') {
        return Err(RemoteKeyError::new(
            RemoteKeyErrorKind::InvalidUrl,
            "an issuer has no query or fragment",
        )
        .with_url(&checked.text));
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    Target::parse(&url, allow_http)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(url: &str, allow_http: bool) -> Option<RemoteKeyErrorKind> {
        Target::parse(url, allow_http).err().map(|e| e.kind())
    }

    #[test]
    fn https_is_accepted_and_http_only_to_loopback() {
        assert_eq!(kind("https://idp.example/jwks", false), None);
        assert_eq!(kind("https://10.0.0.1:8443/keys?x=1", false), None);
        for loopback in [
            "http://127.0.0.1:8080/jwks",
            "http://127.1.2.3/jwks",
            "http://[::1]:9000/jwks",
            "http://localhost/jwks",
            "http://LocalHost:80/jwks",
        ] {
            assert_eq!(kind(loopback, false), None, "{loopback}");
        }
        for remote in [
            "http://idp.example/jwks",
            "http://10.0.0.1/jwks",
            "http://[::2]/jwks",
            "http://localhost.idp.example/jwks",
            "http://128.0.0.1/jwks",
            "http://[::ffff:10.0.0.1]/jwks",
        ] {
            assert_eq!(
                kind(remote, false),
                Some(RemoteKeyErrorKind::InvalidUrl),
                "{remote}"
            );
            assert_eq!(kind(remote, true), None, "{remote} with allow_http");
        }
    }

    #[test]
    fn other_urls_are_refused() {
        for bad in [
            "",
            "idp.example/jwks",
            "/jwks",
            "ftp://idp.example/jwks",
            "file:///etc/jwks",
            "https://user:pass@idp.example/jwks",
            "https://idp example/jwks",
        ] {
            assert_eq!(
                kind(bad, true),
                Some(RemoteKeyErrorKind::InvalidUrl),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_discovery_url_follows_the_issuer() {
        let url = |issuer: &str| discovery_url(issuer, false).map(|t| t.text.to_string());
        assert_eq!(
            url("https://idp.example").unwrap(),
            "https://idp.example/.well-known/openid-configuration"
        );
        assert_eq!(
            url("https://idp.example/realms/main/").unwrap(),
            "https://idp.example/realms/main/.well-known/openid-configuration"
        );
        assert!(url("https://idp.example/?tenant=1").is_err());
        assert!(url("http://idp.example").is_err());
    }
}
