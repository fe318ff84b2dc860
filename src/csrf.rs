//! Cross-site request forgery protection for tokens taken from cookies.
//!
//! A token in a header or a form field is never sent by the browser on its own,
//! so a cross-site page cannot make a request carry it: that is the argument
//! for tokens in the first place. A cookie is sent automatically, so a token
//! taken from a cookie on an unsafe method (anything but `GET`, `HEAD`,
//! `OPTIONS`, `TRACE`) needs a proof that the request was meant: see
//! [`CsrfPolicy`]. Failing it answers `403` with
//! [`AuthErrorKind::CrossSiteRequest`](crate::AuthErrorKind::CrossSiteRequest).

use std::fmt;

use http::header::{HOST, HeaderName, ORIGIN};
use http::uri::Authority;
use http::{HeaderMap, Method, Uri};

use crate::checks::{Carrier, Head, Step, TokenCheck, VerifiedToken};
use crate::crypto::constant_time_eq;
use crate::error::{AuthError, AuthErrorKind};

/// The default header of the double-submit value: `X-CSRF-Token`.
pub const DEFAULT_CSRF_HEADER: HeaderName = HeaderName::from_static("x-csrf-token");

/// The default claim holding the double-submit value: `csrf`.
pub const DEFAULT_CSRF_CLAIM: &str = "csrf";

/// What a request whose token came from a cookie must prove on an unsafe method.
///
/// The default is the same-origin check, decided as tower-http's `csrf` module
/// decides it: `Sec-Fetch-Site: same-origin` (or `none`, a user's own
/// navigation) passes, another `Sec-Fetch-Site` fails; without it, an `Origin`
/// equal to the request's `Host` (or a [trusted origin](Self::trust_origin))
/// passes and another fails; a request with neither header is not from a
/// browser, so no cross-site page can have sent it, and passes.
///
/// An `Origin` must be a serialized origin (RFC 6454 §6.2): `scheme://host`
/// with an optional `:port`, as browsers send it. One with userinfo
/// (`http://evil@app.example`), a path, a query or a fragment, and `null`,
/// fail; a lone trailing `/` is tolerated.
///
/// [`double_submit`](Self::double_submit) adds the flask-jwt-extended scheme: a
/// header that must equal a claim inside the token
/// ([`TokenIssuer::issue_with_csrf`](crate::TokenIssuer::issue_with_csrf) makes
/// both). When both are on, both must pass.
///
/// Tokens from headers, query parameters and form fields are never affected,
/// nor are safe methods.
///
/// Cookies holding tokens should be `HttpOnly; Secure; SameSite=Lax` (or
/// `Strict`), which already stops most cross-site requests in current browsers;
/// this check is the defence that does not depend on the browser.
#[derive(Clone)]
pub struct CsrfPolicy {
    enabled: bool,
    same_origin: bool,
    trusted_origins: Vec<String>,
    double_submit: Option<(HeaderName, String)>,
}

impl Default for CsrfPolicy {
    fn default() -> Self {
        Self::same_origin()
    }
}

impl CsrfPolicy {
    /// The same-origin check only (the default).
    pub fn same_origin() -> Self {
        Self {
            enabled: true,
            same_origin: true,
            trusted_origins: Vec::new(),
            double_submit: None,
        }
    }

    /// No protection at all. Only for cookies that browsers never send
    /// cross-site, such as `SameSite=Strict` cookies, and with care.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::same_origin()
        }
    }

    /// Also requires the double-submit value: header `header` must equal the
    /// token's string claim `claim` (compared in constant time).
    #[must_use]
    pub fn double_submit(mut self, header: HeaderName, claim: impl Into<String>) -> Self {
        self.double_submit = Some((header, claim.into()));
        self
    }

    /// The header the double-submit token is read from, when there is one.
    pub(crate) fn header(&self) -> Option<&HeaderName> {
        self.double_submit.as_ref().map(|(header, _)| header)
    }

    /// Requires the double-submit value with the default header
    /// (`X-CSRF-Token`) and claim (`csrf`), and drops the same-origin check.
    pub fn double_submit_only() -> Self {
        Self {
            same_origin: false,
            ..Self::same_origin().double_submit(DEFAULT_CSRF_HEADER, DEFAULT_CSRF_CLAIM)
        }
    }

    /// Accepts requests from this origin too (`https://app.example`, with a
    /// port when it is not the scheme's default).
    #[must_use]
    pub fn trust_origin(mut self, origin: impl Into<String>) -> Self {
        self.trusted_origins
            .push(origin.into().trim_end_matches('/').to_ascii_lowercase());
        self
    }

    /// Checks a request whose verified token, with claims `payload`, came
    /// from a cookie.
    fn check_request(&self, payload: &str, head: Head<'_>) -> Result<(), AuthError> {
        let Head {
            method,
            uri,
            headers,
            ..
        } = head;
        if !self.enabled || is_safe(method) {
            return Ok(());
        }
        if self.same_origin && !self.same_origin_passes(uri, headers) {
            return Err(refused("cross-site request with a cookie token"));
        }
        if let Some((header, claim)) = &self.double_submit {
            let sent = headers.get(header).map(|v| v.as_bytes());
            let expected = string_claim(payload, claim);
            match (sent, expected) {
                (Some(sent), Some(expected)) if constant_time_eq(sent, expected.as_bytes()) => {}
                _ => return Err(refused("missing or wrong CSRF value")),
            }
        }
        Ok(())
    }

    fn same_origin_passes(&self, uri: &Uri, headers: &HeaderMap) -> bool {
        let origin = headers.get(ORIGIN).filter(|v| !v.is_empty());
        // An `Origin` that is not one serialized origin proves nothing, and
        // is never compared: refused.
        let parsed = origin.map(|o| o.to_str().ok().and_then(SerializedOrigin::parse));
        // The Fetch standard sends these in lowercase; an exact match is intended.
        match headers.get("sec-fetch-site").map(|v| v.as_bytes()) {
            Some(b"same-origin" | b"none") => return true,
            None | Some(b"") => {}
            Some(_) => return parsed.flatten().is_some_and(|o| self.is_trusted(&o)),
        }
        match parsed {
            // Neither header: not a browser, so not a forged cross-site request.
            None => true,
            Some(None) => false,
            Some(Some(origin)) => self.is_trusted(&origin) || origin.is_host_of(uri, headers),
        }
    }

    fn is_trusted(&self, origin: &SerializedOrigin<'_>) -> bool {
        self.trusted_origins
            .iter()
            .any(|t| t.eq_ignore_ascii_case(origin.text))
    }
}

/// An `Origin` header value that is one serialized origin (RFC 6454 §6.2):
/// `scheme "://" host [ ":" port ]`, nothing else. No userinfo
/// (`http://evil@app.example` names `app.example` to a URL parser, but no
/// browser sends it), no path, query or fragment; a lone trailing `/` is
/// tolerated, as it always was here. `null` is not one.
struct SerializedOrigin<'a> {
    /// The value without its trailing `/`, compared with trusted origins.
    text: &'a str,
    scheme: &'a str,
    authority: Authority,
}

impl<'a> SerializedOrigin<'a> {
    fn parse(value: &'a str) -> Option<Self> {
        let text = value.strip_suffix('/').unwrap_or(value);
        let (scheme, host_and_port) = text.split_once("://")?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        let only_authority = !host_and_port.is_empty()
            && !host_and_port
                .bytes()
                .any(|b| matches!(b, b'@' | b'/' | b'?' | b'#' | b'\\'));
        if !scheme_ok || !only_authority {
            return None;
        }
        let authority = host_and_port.parse::<Authority>().ok()?;
        Some(Self {
            text,
            scheme,
            authority,
        })
    }

    /// Whether this origin names the host (and port) the request was sent
    /// to: its `Host`, or the authority of its URI (HTTP/2).
    fn is_host_of(&self, uri: &Uri, headers: &HeaderMap) -> bool {
        let default_port = if self.scheme.eq_ignore_ascii_case("https") {
            443
        } else if self.scheme.eq_ignore_ascii_case("http") {
            80
        } else {
            return false;
        };
        let host: Option<Authority> = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.parse().ok());
        let (host_name, host_port) = match &host {
            Some(a) => (Some(a.host()), a.port_u16()),
            None => (uri.host(), uri.port_u16()),
        };
        host_name.is_some_and(|h| h.eq_ignore_ascii_case(self.authority.host()))
            && self.authority.port_u16().unwrap_or(default_port)
                == host_port.unwrap_or(default_port)
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn refused(what: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::CrossSiteRequest, what)
}

/// The string claim `name` of an already verified token's claims.
fn string_claim(payload: &str, name: &str) -> Option<String> {
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_str(payload).ok()?;
    match claims.get(name)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The check after verification for tokens from cookies: see the
/// [module docs](self).
impl TokenCheck for CsrfPolicy {
    fn check(&self, token: &VerifiedToken<'_>, request: Head<'_>) -> Step {
        if token.carrier != Carrier::Cookie {
            return Step::Pass;
        }
        match self.check_request(token.payload, request) {
            Ok(()) => Step::Pass,
            Err(error) => Step::Refuse(error),
        }
    }
}

impl fmt::Debug for CsrfPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfPolicy")
            .field("enabled", &self.enabled)
            .field("same_origin", &self.same_origin)
            .field("trusted_origins", &self.trusted_origins)
            .field(
                "double_submit",
                &self
                    .double_submit
                    .as_ref()
                    .map(|(h, c)| (h.as_str(), c.as_str())),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: &CsrfPolicy, method: Method, headers: &[(&str, &str)]) -> bool {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let uri: Uri = "/transfer".parse().unwrap();
        let extensions = http::Extensions::new();
        let head = Head {
            method: &method,
            uri: &uri,
            headers: &map,
            extensions: &extensions,
        };
        let token = |carrier| VerifiedToken {
            text: "a.b.c",
            payload: r#"{"csrf":"s3cret"}"#,
            carrier,
            confirmation: None,
            may_be_bound: false,
            identity: None,
        };
        // Tokens from other sources are never affected.
        assert!(matches!(
            policy.check(&token(Carrier::Bearer), head),
            Step::Pass
        ));
        matches!(policy.check(&token(Carrier::Cookie), head), Step::Pass)
    }

    #[test]
    fn safe_methods_and_non_browsers_pass() {
        let p = CsrfPolicy::default();
        assert!(check(&p, Method::GET, &[("sec-fetch-site", "cross-site")]));
        assert!(check(&p, Method::POST, &[]));
    }

    #[test]
    fn the_same_origin_check_decides_like_the_fetch_metadata_says() {
        let p = CsrfPolicy::default();
        assert!(check(
            &p,
            Method::POST,
            &[("sec-fetch-site", "same-origin")]
        ));
        assert!(check(&p, Method::POST, &[("sec-fetch-site", "none")]));
        assert!(!check(
            &p,
            Method::POST,
            &[("sec-fetch-site", "cross-site")]
        ));
        assert!(!check(
            &p,
            Method::DELETE,
            &[("sec-fetch-site", "same-site")]
        ));
        let host = ("host", "app.example");
        assert!(check(
            &p,
            Method::POST,
            &[host, ("origin", "https://app.example")]
        ));
        assert!(check(
            &p,
            Method::POST,
            &[
                ("host", "app.example:8443"),
                ("origin", "https://APP.example:8443")
            ]
        ));
        assert!(!check(
            &p,
            Method::POST,
            &[host, ("origin", "https://evil.example")]
        ));
        assert!(!check(
            &p,
            Method::POST,
            &[host, ("origin", "https://app.example:444")]
        ));
        assert!(!check(&p, Method::POST, &[host, ("origin", "null")]));
        let trusted = CsrfPolicy::default().trust_origin("https://admin.example/");
        assert!(check(
            &trusted,
            Method::PUT,
            &[host, ("origin", "https://admin.example")]
        ));
    }

    #[test]
    fn only_a_serialized_origin_is_an_origin() {
        let parse = |value| {
            SerializedOrigin::parse(value).map(|o| (o.scheme, o.authority.to_string(), o.text))
        };
        assert_eq!(
            parse("https://app.example:8443"),
            Some((
                "https",
                "app.example:8443".into(),
                "https://app.example:8443"
            ))
        );
        assert_eq!(
            parse("http://[::1]:80/"),
            Some(("http", "[::1]:80".into(), "http://[::1]:80"))
        );
        assert_eq!(
            parse("chrome-extension://abcdef"),
            Some((
                "chrome-extension",
                "abcdef".into(),
                "chrome-extension://abcdef"
            ))
        );
        for bad in [
            "null",
            "",
            "https://",
            "https:///",
            "app.example",
            "https://evil@app.example",
            "https://:@app.example",
            "https://app.example/x",
            "https://app.example//",
            "https://app.example?",
            "https://app.example#",
            "https://app.example\\",
            "https://app example",
            "1https://app.example",
            "ht tp://app.example",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
        let host = ("host", "app.example");
        let p = CsrfPolicy::default();
        assert!(!check(
            &p,
            Method::POST,
            &[host, ("origin", "https://evil@app.example")]
        ));
        assert!(!check(
            &p,
            Method::POST,
            &[host, ("origin", "https://app.example/path")]
        ));
        // A scheme without a default port names no host.
        assert!(!check(
            &p,
            Method::POST,
            &[host, ("origin", "ftp://app.example")]
        ));
    }

    #[test]
    fn the_double_submit_value_must_equal_the_claim() {
        let p = CsrfPolicy::double_submit_only();
        assert!(check(&p, Method::POST, &[("x-csrf-token", "s3cret")]));
        assert!(!check(&p, Method::POST, &[("x-csrf-token", "s3creT")]));
        assert!(!check(&p, Method::POST, &[]));
        let both = CsrfPolicy::default().double_submit(DEFAULT_CSRF_HEADER, "csrf");
        assert!(!check(
            &both,
            Method::POST,
            &[("x-csrf-token", "s3cret"), ("sec-fetch-site", "cross-site")]
        ));
        assert!(check(
            &both,
            Method::POST,
            &[
                ("x-csrf-token", "s3cret"),
                ("sec-fetch-site", "same-origin")
            ]
        ));
    }

    #[test]
    fn disabled_lets_everything_through() {
        assert!(check(
            &CsrfPolicy::disabled(),
            Method::POST,
            &[("sec-fetch-site", "cross-site")]
        ));
    }
}
