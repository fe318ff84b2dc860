//! [`Forward`]: verified claims passed to the inner service as request
//! headers (`JwtAuthBuilder::claim_to_header`, `forward_payload`), and the
//! removal of every client copy of those headers. What users read is on the
//! two setters.
//!
//! A layer without forwarded headers holds no `Forward` and pays one branch
//! per request for this module.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request};
use serde_json::Value;

use crate::authorize::lookup::{MAX_PATHS, MAX_SEGMENTS, Path};
use crate::error::ConfigError;

/// The headers the layer may never write: it or the HTTP machinery reads
/// them, so a claim there would change what the request *is*, not what it
/// says about its user. With the reason a [`ConfigError`] gives.
const RESERVED: &[(&str, &str)] = &[
    ("authorization", "it carries credentials"),
    ("proxy-authorization", "it carries credentials"),
    ("cookie", "it carries credentials"),
    ("dpop", "it carries a DPoP proof (RFC 9449)"),
    ("connection", "it is hop-by-hop (RFC 9110 §7.6.1)"),
    ("keep-alive", "it is hop-by-hop (RFC 9110 §7.6.1)"),
    ("proxy-connection", "it is hop-by-hop (RFC 9110 §7.6.1)"),
    ("te", "it is hop-by-hop (RFC 9110 §7.6.1)"),
    ("trailer", "it is hop-by-hop (RFC 9110 §7.6.1)"),
    ("transfer-encoding", "it frames the message"),
    ("upgrade", "it is hop-by-hop (RFC 9110 §7.6.1)"),
    ("host", "it routes the request"),
    ("content-length", "it frames the message"),
    ("content-type", "it describes the body"),
    ("content-encoding", "it describes the body"),
    ("expect", "it changes how the body is sent"),
    ("origin", "CORS and CSRF checks read it"),
    ("access-control-request-method", "CORS preflights read it"),
    ("access-control-request-headers", "CORS preflights read it"),
    ("forwarded", "proxies report the client with it"),
    ("x-forwarded-for", "proxies report the client with it"),
    ("x-forwarded-host", "proxies report the client with it"),
    ("x-forwarded-proto", "proxies report the client with it"),
];

/// The forwarded headers of a layer, checked once.
#[derive(Debug)]
pub(super) struct Forward {
    /// Each claim path and its header, in the order given.
    claims: Box<[(Path, HeaderName)]>,
    /// The header of the whole payload, base64url.
    payload: Option<HeaderName>,
    /// Every name above: removed from every request.
    names: Box<[HeaderName]>,
}

impl Forward {
    /// The forwarded headers of `claims` and `payload`; `None` when there is
    /// none. `read` are the headers the layer reads (its token sources, a
    /// CSRF double-submit value, a forwarded certificate).
    ///
    /// # Errors
    ///
    /// An invalid claim path ([`ConfigError::InvalidClaimPath`]), more than
    /// 64 claims ([`ConfigError::TooMany`]), a header in `read`
    /// ([`ConfigError::ForwardHeaderIsRead`]), a reserved
    /// header ([`ConfigError::ReservedForwardHeader`]), a header named twice
    /// ([`ConfigError::DuplicateForwardHeader`]).
    pub(super) fn new<'a>(
        claims: Vec<(String, HeaderName)>,
        payload: Option<HeaderName>,
        read: impl Iterator<Item = &'a HeaderName> + Clone,
    ) -> Result<Option<Self>, ConfigError> {
        if claims.is_empty() && payload.is_none() {
            return Ok(None);
        }
        if claims.len() > MAX_PATHS {
            return Err(ConfigError::TooMany {
                what: "claims forwarded as headers",
                max: MAX_PATHS,
            });
        }
        let mut names: Vec<HeaderName> = Vec::with_capacity(claims.len() + 1);
        for name in claims.iter().map(|(_, name)| name).chain(payload.as_ref()) {
            if read.clone().any(|read| read == name) {
                return Err(ConfigError::ForwardHeaderIsRead {
                    header: name.clone(),
                });
            }
            if let Some((_, reason)) = RESERVED
                .iter()
                .find(|(reserved, _)| *reserved == name.as_str())
            {
                return Err(ConfigError::ReservedForwardHeader {
                    header: name.clone(),
                    reason,
                });
            }
            if names.contains(name) {
                return Err(ConfigError::DuplicateForwardHeader {
                    header: name.clone(),
                });
            }
            names.push(name.clone());
        }
        let claims = claims
            .into_iter()
            .map(|(path, name)| match Path::parse(&path) {
                Some(parsed) => Ok((parsed, name)),
                None => Err(ConfigError::InvalidClaimPath {
                    path,
                    max_segments: MAX_SEGMENTS,
                }),
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(Self {
            claims,
            payload,
            names: names.into(),
        }))
    }

    /// Removes every client copy of the forwarded headers.
    pub(super) fn strip(&self, headers: &mut HeaderMap) {
        for name in &self.names {
            headers.remove(name);
        }
    }

    /// The headers of a verified token whose claims are `payload` (JSON
    /// text); `None` when there are none to add.
    pub(super) fn headers(&self, payload: &str) -> Option<Box<ClaimHeaders>> {
        let mut headers = Vec::with_capacity(self.claims.len() + 1);
        if let Some(name) = &self.payload {
            // Base64url is always a valid header value.
            if let Ok(value) = HeaderValue::from_str(&URL_SAFE_NO_PAD.encode(payload)) {
                headers.push((name.clone(), value));
            }
        }
        if !self.claims.is_empty() {
            // Verified JSON: it parses. If it did not, no claim is forwarded.
            let claims: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
            for (path, name) in &*self.claims {
                let Some(found) = path.find(&claims) else {
                    continue;
                };
                match header_value(found) {
                    Some(value) => headers.push((name.clone(), value)),
                    None => not_forwarded(name),
                }
            }
        }
        (!headers.is_empty()).then(|| Box::new(ClaimHeaders(headers)))
    }
}

/// A claim whose value cannot be a header value as it is: left out.
fn not_forwarded(name: &HeaderName) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: "tower_jwt_auth",
        header = name.as_str(),
        "claim not forwarded: its value cannot be a header value as it is",
    );
    #[cfg(not(feature = "tracing"))]
    let _ = name;
}

/// The header value of a claim, when it has one (see
/// `JwtAuthBuilder::claim_to_header`): a plain string as it is, a number or
/// boolean as its JSON text, an array of those joined by `,`.
fn header_value(value: &Value) -> Option<HeaderValue> {
    match value {
        Value::String(text) => plain(text).then(|| HeaderValue::from_str(text).ok())?,
        Value::Number(_) | Value::Bool(_) => HeaderValue::from_str(&value.to_string()).ok(),
        Value::Array(items) => {
            let mut joined = String::new();
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    joined.push(',');
                }
                match item {
                    Value::String(text)
                        if plain(text) && !text.is_empty() && !text.contains(',') =>
                    {
                        joined.push_str(text);
                    }
                    Value::Number(_) | Value::Bool(_) => joined.push_str(&item.to_string()),
                    _ => return None,
                }
            }
            HeaderValue::from_str(&joined).ok()
        }
        Value::Null | Value::Object(_) => None,
    }
}

/// Whether `text` arrives as it is in a header: visible ASCII and spaces,
/// but no space at either end (HTTP trims them).
fn plain(text: &str) -> bool {
    text.bytes().all(|b| (b' '..=b'~').contains(&b))
        && !text.starts_with(' ')
        && !text.ends_with(' ')
}

/// The headers an accepted request gains (a private request extension on
/// its way through a deferred check).
#[derive(Debug, Clone)]
pub(crate) struct ClaimHeaders(Vec<(HeaderName, HeaderValue)>);

impl ClaimHeaders {
    /// Sets them on `headers` (every client copy is gone already).
    pub(crate) fn apply(self, headers: &mut HeaderMap) {
        for (name, value) in self.0 {
            headers.insert(name, value);
        }
    }
}

/// Whether `request` is a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method` (Fetch standard, "CORS-preflight
/// request").
pub(super) fn is_preflight<B>(request: &Request<B>) -> bool {
    request.method() == Method::OPTIONS
        && request.headers().contains_key(header::ORIGIN)
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::header_value;

    #[cfg(feature = "tracing")]
    #[test]
    fn a_value_left_out_is_logged_by_header_never_by_value() {
        use super::Forward;
        use http::HeaderName;

        let forward = Forward::new(
            vec![
                ("name".into(), HeaderName::from_static("x-jwt-name")),
                ("sub".into(), HeaderName::from_static("x-jwt-sub")),
            ],
            None,
            std::iter::empty(),
        )
        .unwrap()
        .unwrap();
        let (logs, _guard) = crate::test_helpers::Logs::capture();
        let headers = forward
            .headers(r#"{"sub":"ada","name":"Zo\u00eb secret"}"#)
            .unwrap();
        assert_eq!(headers.0.len(), 1);
        let text = logs.text();
        assert!(text.contains("DEBUG"), "{text}");
        assert!(text.contains("claim not forwarded"), "{text}");
        assert!(text.contains("x-jwt-name"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn values_pass_as_they_are_or_not_at_all() {
        for (claim, expected) in [
            (json!("ada"), Some("ada")),
            (json!("read write"), Some("read write")),
            (json!(""), Some("")),
            (json!(42), Some("42")),
            (json!(-1.5), Some("-1.5")),
            (json!(true), Some("true")),
            (json!(["a", "b", 3, false]), Some("a,b,3,false")),
            (json!([]), Some("")),
            (json!("Zoë"), None),
            (json!("a\tb"), None),
            (json!("a\r\nx-admin: 1"), None),
            (json!(" padded"), None),
            (json!("padded "), None),
            (json!(["a,b"]), None),
            (json!([""]), None),
            (json!(["a", ["b"]]), None),
            (json!(["a", null]), None),
            (json!({ "a": 1 }), None),
            (json!(null), None),
        ] {
            let value = header_value(&claim);
            assert_eq!(
                value.as_ref().map(|v| v.to_str().unwrap()),
                expected,
                "{claim}"
            );
        }
    }
}
