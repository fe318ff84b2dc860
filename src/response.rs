//! How a refused request is answered: [`ErrorResponder`], the RFC 6750
//! [`DefaultResponder`], and the [`GrpcResponder`] (in `grpc.rs`).

use std::fmt;

use bytes::Bytes;
use http::Response;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};

use crate::error::{AuthError, AuthScheme};

mod grpc;

pub use grpc::GrpcResponder;

/// The header that carries a server's DPoP nonce (RFC 9449 §8.1).
const DPOP_NONCE: http::HeaderName = http::HeaderName::from_static("dpop-nonce");

/// Builds the response for a refused request.
///
/// Implemented for [`DefaultResponder`] and for every
/// `Fn(&AuthError) -> Response<Bytes>` closure. Whatever it returns, the layer
/// inserts the [`AuthError`] into the response's extensions.
///
/// ```
/// use bytes::Bytes;
/// use http::{Response, StatusCode};
/// use tower_jwt_auth::{AuthError, ErrorResponder};
///
/// let responder = |error: &AuthError| {
///     Response::builder()
///         .status(error.status())
///         .body(Bytes::from(format!("denied: {}", error.description())))
///         .unwrap()
/// };
/// # fn is_responder(_: impl ErrorResponder) {}
/// # is_responder(responder);
/// ```
pub trait ErrorResponder: Send + Sync + 'static {
    /// The response for `error`.
    fn respond(&self, error: &AuthError) -> Response<Bytes>;
}

impl<F> ErrorResponder for F
where
    F: Fn(&AuthError) -> Response<Bytes> + Send + Sync + 'static,
{
    fn respond(&self, error: &AuthError) -> Response<Bytes> {
        self(error)
    }
}

/// The answer to a refused request: `responder`'s response, with the error in
/// its extensions (and, with the `tracing` feature, one `debug` event). Every
/// layer of this crate refuses through here.
pub(crate) fn refuse<R: ErrorResponder>(responder: &R, error: AuthError) -> Response<Bytes> {
    let mut response = responder.respond(&error);
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: "tower_jwt_auth",
        kind = ?error.kind(),
        reason = error.description(),
        status = response.status().as_u16(),
        "request refused",
    );
    response.extensions_mut().insert(error);
    response
}

/// The default answer, per RFC 6750 §3:
///
/// | cause | status | `WWW-Authenticate` |
/// |---|---|---|
/// | no token | 401 | `Bearer realm="…"` (no error code) |
/// | two tokens, malformed `Authorization` | 400 | `Bearer realm="…", error="invalid_request", error_description="…"` |
/// | any problem with the token | 401 | `Bearer realm="…", error="invalid_token", error_description="…"` |
/// | a form body that cannot be read or parsed | 400 | as for a malformed request |
/// | a form body over the limit | 413 | none |
/// | a form body that did not arrive within the read timeout | 408 | none |
/// | a valid token short of a route's requirement | 403 | `Bearer realm="…", error="insufficient_scope", error_description="…"`, and `scope="…"` when scopes were missing |
/// | a valid token whose user's authentication falls short of a route's step-up requirement (RFC 9470) | 401 | `Bearer realm="…", error="insufficient_user_authentication", error_description="…"`, and `acr_values="…"` and/or `max_age="…"` |
/// | keys, revocation or DPoP replay store unavailable | 503 | none (`"error":"temporarily_unavailable"`) |
/// | a DPoP proof missing or invalid, or replayed | 401 | `DPoP error="invalid_dpop_proof", error_description="…", algs="…"` |
/// | a DPoP proof without the server's current nonce | 401 | `DPoP error="use_dpop_nonce", …`, and the nonce in `DPoP-Nonce` |
///
/// A layer that publishes its [resource metadata](crate::JwtAuthBuilder::resource_metadata)
/// adds `resource_metadata="…"`, the document's URL, to every challenge
/// (RFC 9728 §5.1).
///
/// A layer that accepts DPoP ([`JwtAuthBuilder::dpop`](crate::JwtAuthBuilder::dpop))
/// answers with two challenges, `Bearer …` and `DPoP algs="…"` (only the
/// second where DPoP is required); the error code goes with the scheme the
/// token came under (RFC 9449 §7.1).
///
/// The body is small JSON, `{"error":"invalid_token","error_description":"token expired"}`
/// (`"error":"unauthorized"` when no token was sent; with `"scope"`,
/// `"acr_values"` and `"max_age"` (a number) when the challenge has them), with
/// `Cache-Control: no-store`. The description is one of a fixed set of short
/// texts; it never holds the token or a claim value.
#[derive(Clone)]
pub struct DefaultResponder {
    realm: Option<HeaderValue>,
}

impl DefaultResponder {
    /// A responder without a realm.
    pub fn new() -> Self {
        Self { realm: None }
    }

    /// Names the protection space in the challenge (`realm="…"`). Characters
    /// that cannot appear in a quoted string are dropped.
    #[must_use]
    pub fn realm(mut self, realm: &str) -> Self {
        let clean: String = realm
            .chars()
            .filter(|c| (c.is_ascii_graphic() || *c == ' ') && *c != '"' && *c != '\\')
            .collect();
        self.realm = HeaderValue::from_str(&clean).ok();
        self
    }

    /// One challenge of `scheme`: the realm, then the error (when `error`
    /// is this challenge's), then `algs` for DPoP, then the URL of the
    /// resource metadata.
    fn challenge(
        &self,
        scheme: &'static str,
        error: Option<&AuthError>,
        algorithms: Option<&str>,
        resource_metadata: Option<&str>,
    ) -> HeaderValue {
        let mut value = String::from(scheme);
        let mut sep = " ";
        let mut param = |value: &mut String, name: &str, content: &str| {
            value.push_str(sep);
            value.push_str(name);
            push_quoted(value, content);
            sep = ", ";
        };
        if let Some(realm) = &self.realm {
            // Checked visible ASCII without quotes at construction.
            param(&mut value, "realm", realm.to_str().unwrap_or_default());
        }
        if let Some(error) = error
            && let Some(code) = error.kind().error_code()
        {
            param(&mut value, "error", code);
            param(&mut value, "error_description", error.description());
            // Scope tokens are checked at build time: no space, quote or
            // backslash inside one (RFC 6749 §3.3).
            if let Some(scope) = error.required_scope() {
                param(&mut value, "scope", scope);
            }
            // RFC 9470 §3. `acr` values are checked like scope tokens at
            // build time; `max_age` is digits.
            if let Some(acr_values) = error.acr_values() {
                param(&mut value, "acr_values", acr_values);
            }
            if let Some(max_age) = error.max_age() {
                param(&mut value, "max_age", &max_age.as_secs().to_string());
            }
        }
        // Algorithm names are fixed ASCII (`ES256`, ...).
        if let Some(algorithms) = algorithms {
            param(&mut value, "algs", algorithms);
        }
        // RFC 9728 §5.1; the URL was checked at build time (RFC 3986
        // characters only).
        if let Some(url) = resource_metadata {
            param(&mut value, "resource_metadata", url);
        }
        HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(scheme))
    }
}

/// `="content"`, as an RFC 9110 §5.6.4 quoted-string: a quote or a
/// backslash is escaped by a backslash. The values given here are checked
/// when they are configured, so this escapes nothing in practice; it keeps
/// the header well-formed whatever comes.
fn push_quoted(value: &mut String, content: &str) {
    value.push_str("=\"");
    for c in content.chars() {
        if c == '"' || c == '\\' {
            value.push('\\');
        }
        value.push(c);
    }
    value.push('"');
}

impl Default for DefaultResponder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DefaultResponder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultResponder")
            .field("realm", &self.realm)
            .finish()
    }
}

impl ErrorResponder for DefaultResponder {
    fn respond(&self, error: &AuthError) -> Response<Bytes> {
        let kind = error.kind();
        let code = kind.error_code();
        let fallback = if kind.status() == http::StatusCode::SERVICE_UNAVAILABLE {
            // RFC 6749 §4.1.2.1's code for a server that cannot decide now.
            "temporarily_unavailable"
        } else {
            "unauthorized"
        };
        let mut body = serde_json::json!({
            "error": code.unwrap_or(fallback),
            "error_description": error.description(),
        });
        if let Some(scope) = error.required_scope() {
            body["scope"] = scope.into();
        }
        if let Some(acr_values) = error.acr_values() {
            body["acr_values"] = acr_values.into();
        }
        if let Some(max_age) = error.max_age() {
            body["max_age"] = max_age.as_secs().into();
        }
        let mut response = Response::new(Bytes::from(body.to_string()));
        *response.status_mut() = kind.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // A challenge answers an authentication failure (RFC 6750 §3), not a
        // body that could not be read. A layer that accepts DPoP offers both
        // schemes (only DPoP where it is required), and the error code goes
        // with the scheme the token was refused under (RFC 9449 §7.1).
        if matches!(kind.status().as_u16(), 400 | 401 | 403) {
            let dpop = error.dpop_algorithms();
            let error_on_dpop = dpop.is_some() && error.scheme() == AuthScheme::Dpop;
            let metadata = error.resource_metadata();
            if error.bearer_accepted() || dpop.is_none() {
                let own = (!error_on_dpop).then_some(error);
                let challenge = self.challenge("Bearer", own, None, metadata);
                headers.append(WWW_AUTHENTICATE, challenge);
            }
            if dpop.is_some() {
                let own = error_on_dpop.then_some(error);
                let challenge = self.challenge("DPoP", own, dpop, metadata);
                headers.append(WWW_AUTHENTICATE, challenge);
            }
        }
        if let Some(nonce) = error
            .dpop_nonce()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            headers.insert(DPOP_NONCE, nonce);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::push_quoted;

    #[test]
    fn quoted_strings_escape_quotes_and_backslashes() {
        let quoted = |content: &str| {
            let mut value = String::from("p");
            push_quoted(&mut value, content);
            value
        };
        assert_eq!(quoted("https://a.example/x"), r#"p="https://a.example/x""#);
        assert_eq!(quoted(r#"a"b\c"#), r#"p="a\"b\\c""#);
        assert_eq!(quoted(""), r#"p="""#);
    }
}
