//! Which URLs keys may be fetched from ([`Target`]: `https://`, or `http://`
//! to loopback, to any host with `allow_http`), and where an issuer's
//! metadata may be, in the order clients look.

use std::sync::Arc;

use http::Uri;

use super::error::{RemoteKeyError, RemoteKeyErrorKind};
use crate::loopback::is_loopback;

/// A checked URL, and its text for errors and logs.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(super) uri: Uri,
    pub(crate) text: Arc<str>,
}

impl Target {
    /// Checks that `url` is absolute, `https://`, or `http://` to a loopback
    /// host (or any host with `allow_http`), without user information.
    pub(crate) fn parse(url: &str, allow_http: bool) -> Result<Self, RemoteKeyError> {
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

/// The well-known name of an RFC 8414 authorization server metadata document.
const OAUTH_AUTHORIZATION_SERVER: &str = "oauth-authorization-server";
/// The well-known name of an OpenID Connect discovery document.
const OPENID_CONFIGURATION: &str = "openid-configuration";

/// The URLs where `issuer`'s metadata may be, in the order clients try them
/// (RFC 8414 §3.1 and §5, as the MCP authorization specification orders them):
///
/// 1. RFC 8414, the well-known name inserted between the host and the path:
///    `https://as.example/.well-known/oauth-authorization-server/tenant1`;
/// 2. OpenID Connect, inserted the same way:
///    `https://as.example/.well-known/openid-configuration/tenant1`;
/// 3. OpenID Connect, appended to the path (OpenID Connect Discovery 1.0 §4):
///    `https://as.example/tenant1/.well-known/openid-configuration`.
///
/// A terminating `/` of the path is removed first (RFC 8414 §3.1). An issuer
/// without a path has two: steps 2 and 3 are then the same URL. An issuer is
/// an `https://` URL (or `http://` to loopback, or with `allow_http`) without
/// query or fragment (RFC 8414 §2).
pub(super) fn metadata_urls(issuer: &str, allow_http: bool) -> Result<Vec<Target>, RemoteKeyError> {
    let checked = Target::parse(issuer, allow_http)?;
    if checked.uri.query().is_some() || issuer.contains('#') {
        return Err(RemoteKeyError::new(
            RemoteKeyErrorKind::InvalidUrl,
            "an issuer has no query or fragment (RFC 8414 §2)",
        )
        .with_url(&checked.text));
    }
    let (Some(scheme), Some(authority)) = (checked.uri.scheme_str(), checked.uri.authority())
    else {
        // `Target::parse` refuses a URL without them.
        return Err(
            RemoteKeyError::new(RemoteKeyErrorKind::InvalidUrl, "not an absolute URL")
                .with_url(&checked.text),
        );
    };
    let origin = format!("{scheme}://{authority}");
    let path = checked.uri.path().trim_end_matches('/');
    let mut urls = vec![
        format!("{origin}/.well-known/{OAUTH_AUTHORIZATION_SERVER}{path}"),
        format!("{origin}/.well-known/{OPENID_CONFIGURATION}{path}"),
    ];
    if !path.is_empty() {
        urls.push(format!("{origin}{path}/.well-known/{OPENID_CONFIGURATION}"));
    }
    urls.iter()
        .map(|url| Target::parse(url, allow_http))
        .collect()
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

    fn urls(issuer: &str) -> Result<Vec<String>, RemoteKeyErrorKind> {
        metadata_urls(issuer, false)
            .map(|found| found.iter().map(|t| t.text.to_string()).collect())
            .map_err(|e| e.kind())
    }

    #[test]
    fn rfc_8414_inserts_the_well_known_name_before_the_path() {
        // RFC 8414 §3.1's own example, then the two OpenID Connect forms.
        assert_eq!(
            urls("https://example.com/issuer1").unwrap(),
            [
                "https://example.com/.well-known/oauth-authorization-server/issuer1",
                "https://example.com/.well-known/openid-configuration/issuer1",
                "https://example.com/issuer1/.well-known/openid-configuration",
            ]
        );
        // A terminating slash is removed before the insertion; a deeper path
        // moves as a whole.
        for issuer in [
            "https://as.example/realms/main/",
            "https://as.example/realms/main",
        ] {
            assert_eq!(
                urls(issuer).unwrap(),
                [
                    "https://as.example/.well-known/oauth-authorization-server/realms/main",
                    "https://as.example/.well-known/openid-configuration/realms/main",
                    "https://as.example/realms/main/.well-known/openid-configuration",
                ],
                "{issuer}"
            );
        }
    }

    #[test]
    fn an_issuer_without_a_path_has_two_urls() {
        for issuer in ["https://as.example", "https://as.example/"] {
            assert_eq!(
                urls(issuer).unwrap(),
                [
                    "https://as.example/.well-known/oauth-authorization-server",
                    "https://as.example/.well-known/openid-configuration",
                ],
                "{issuer}"
            );
        }
    }

    #[test]
    fn the_port_stays_with_the_host() {
        assert_eq!(
            urls("https://as.example:8443/tenant1").unwrap(),
            [
                "https://as.example:8443/.well-known/oauth-authorization-server/tenant1",
                "https://as.example:8443/.well-known/openid-configuration/tenant1",
                "https://as.example:8443/tenant1/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            urls("http://127.0.0.1:9000").unwrap(),
            [
                "http://127.0.0.1:9000/.well-known/oauth-authorization-server",
                "http://127.0.0.1:9000/.well-known/openid-configuration",
            ]
        );
    }

    #[test]
    fn an_issuer_with_a_query_or_fragment_or_plain_http_is_refused() {
        for bad in [
            "https://as.example/?tenant=1",
            "https://as.example/tenant1?x",
            "https://as.example/tenant1#frag",
            "https://as.example#",
            "http://as.example",
            "as.example/tenant1",
            "",
        ] {
            assert_eq!(urls(bad), Err(RemoteKeyErrorKind::InvalidUrl), "{bad:?}");
        }
    }
}
