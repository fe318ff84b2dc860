//! The URLs of the metadata: the resource identifier and the issuers it
//! names, checked once ([`check`]), and where the document is published
//! ([`WellKnown`], RFC 9728 §3.1).

use http::Uri;

use crate::error::ConfigError;
use crate::loopback::is_loopback;

/// The well-known URI suffix of protected resource metadata (RFC 9728 §3).
pub(super) const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// Where the metadata of a resource is published: its URL, and the path of
/// that URL, to route the metadata service at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WellKnown {
    pub(super) url: String,
    pub(super) path: String,
}

impl WellKnown {
    /// The metadata URL of `resource` (checked by [`check`]): the well-known
    /// suffix inserted between the host and the path, the path's slash right
    /// after the host removed (RFC 9728 §3.1); a terminating slash of a
    /// longer path stays, as clients keep it.
    pub(super) fn of(resource: &Uri) -> Self {
        let suffix = match resource.path() {
            "" | "/" => "",
            path => path,
        };
        let path = format!("{WELL_KNOWN}{suffix}");
        // `check` made sure of both.
        let scheme = resource.scheme_str().unwrap_or("https");
        let authority = resource.authority().map_or("", |a| a.as_str());
        Self {
            url: format!("{scheme}://{authority}{path}"),
            path,
        }
    }
}

/// Checks that `url`, for the metadata's `field`, is an absolute `https://`
/// URL (or `http://` to a loopback host, as the crate's remote URLs may be)
/// with a host, without user information, query or fragment, written with
/// the characters of RFC 3986 alone: so it goes into a challenge's
/// quoted-string as it is.
pub(super) fn check(field: &'static str, url: &str) -> Result<Uri, ConfigError> {
    let refuse = |reason: &'static str| ConfigError::InvalidMetadataUrl {
        field,
        url: url.to_owned(),
        reason,
    };
    if !is_rfc3986(url) {
        return Err(refuse(
            "only the characters of RFC 3986 may appear in it (no space, quote, backslash, \
             control or non-ASCII character; a `%` starts a percent-encoding)",
        ));
    }
    if url.contains('#') {
        return Err(refuse("it has a fragment (RFC 9728 §1.2)"));
    }
    let uri: Uri = url.parse().map_err(|_| refuse("not a URL"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(refuse("not an absolute URL"));
    };
    if authority.as_str().contains('@') {
        return Err(refuse("it has user information"));
    }
    if authority.host().is_empty() {
        return Err(refuse("it has no host"));
    }
    if uri.query().is_some() {
        return Err(refuse(
            "it has a query (RFC 8707 §2: a resource or issuer identifier should have none)",
        ));
    }
    match scheme {
        "https" => Ok(uri),
        "http" if is_loopback(authority.host()) => Ok(uri),
        _ => Err(refuse(
            "the scheme must be https:// (or http:// to a loopback host)",
        )),
    }
}

/// Whether `url` has only the characters RFC 3986 allows in a URI, each `%`
/// starting a percent-encoding.
fn is_rfc3986(url: &str) -> bool {
    let bytes = url.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = |at: usize| bytes.get(at).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        let allowed = b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&b);
        if !allowed {
            return false;
        }
        i += 1;
    }
    !url.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn well_known(resource: &str) -> WellKnown {
        WellKnown::of(&check("resource", resource).unwrap())
    }

    fn reason(url: &str) -> &'static str {
        match check("resource", url) {
            Err(ConfigError::InvalidMetadataUrl { field, reason, .. }) => {
                assert_eq!(field, "resource");
                reason
            }
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn the_well_known_url_follows_rfc_9728_section_3_1() {
        // The examples of RFC 9728 §3.1.
        assert_eq!(
            well_known("https://resource.example.com"),
            WellKnown {
                url: "https://resource.example.com/.well-known/oauth-protected-resource".into(),
                path: "/.well-known/oauth-protected-resource".into(),
            }
        );
        assert_eq!(
            well_known("https://resource.example.com/resource1"),
            WellKnown {
                url: "https://resource.example.com/.well-known/oauth-protected-resource/resource1"
                    .into(),
                path: "/.well-known/oauth-protected-resource/resource1".into(),
            }
        );
        // The slash after the host goes; a port stays; a longer path keeps
        // its own terminating slash.
        assert_eq!(
            well_known("https://api.example:8443/").url,
            "https://api.example:8443/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            well_known("https://api.example/v1/orders/").path,
            "/.well-known/oauth-protected-resource/v1/orders/"
        );
        assert_eq!(
            well_known("http://127.0.0.1:8080/api").url,
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource/api"
        );
        assert_eq!(
            well_known("https://api.example/a%20b").path,
            "/.well-known/oauth-protected-resource/a%20b"
        );
    }

    #[test]
    fn https_is_required_but_for_loopback() {
        for good in [
            "https://api.example",
            "https://api.example/v1",
            "https://[2001:db8::1]:8443/v1",
            "http://127.0.0.1:3000",
            "http://[::1]/api",
            "http://localhost:8080/mcp",
        ] {
            assert!(check("resource", good).is_ok(), "{good}");
        }
        for bad in [
            "http://api.example",
            "http://10.0.0.1/api",
            "ftp://api.example",
            "urn:example:resource",
        ] {
            assert!(check("resource", bad).is_err(), "{bad}");
        }
        assert_eq!(
            reason("http://api.example"),
            "the scheme must be https:// (or http:// to a loopback host)"
        );
    }

    #[test]
    fn fragments_queries_user_information_and_odd_characters_are_refused() {
        assert_eq!(
            reason("https://api.example/v1#top"),
            "it has a fragment (RFC 9728 §1.2)"
        );
        assert!(reason("https://api.example/v1?tenant=1").starts_with("it has a query"));
        assert_eq!(
            reason("https://user@api.example/"),
            "it has user information"
        );
        assert_eq!(reason("/v1"), "not an absolute URL");
        assert_eq!(reason("api.example"), "not an absolute URL");
        for bad in [
            "",
            "https://api.example/a b",
            "https://api.example/\"",
            "https://api.example/a\\b",
            "https://api.example/\u{e9}",
            "https://api.example/%zz",
            "https://api.example/%2",
            "https://api.example/\r\nx",
            "https://api.example/{id}",
        ] {
            assert!(
                reason(bad).starts_with("only the characters of RFC 3986"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_field_is_named_in_the_error() {
        let error = check("authorization_servers", "http://idp.example").unwrap_err();
        assert_eq!(
            error.to_string(),
            "the resource metadata's `authorization_servers` URL \"http://idp.example\" cannot \
             be used: the scheme must be https:// (or http:// to a loopback host)"
        );
    }
}
