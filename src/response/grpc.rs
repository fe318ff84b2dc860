//! [`GrpcResponder`]: refusals as gRPC trailers-only responses.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::ErrorResponder;
use crate::error::{AuthError, AuthErrorKind};

/// The header of a gRPC response's status code.
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// The header of a gRPC response's status message.
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
/// The header that carries a server's DPoP nonce (RFC 9449 §8.1); custom
/// metadata in gRPC.
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// What `grpc-message` percent-encodes besides every byte outside ASCII: the
/// controls and `%` itself (gRPC over HTTP/2, "Percent-Byte-Encoded": bytes
/// 0x20 to 0x7E stay, except `%`).
const MESSAGE_ESCAPES: &AsciiSet = &CONTROLS.add(b'%');

/// A gRPC status code (the gRPC status codes document), as this responder
/// answers with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    Unavailable = 14,
    Unauthenticated = 16,
}

impl Code {
    /// The code for `kind`: what gRPC names the same situation. The match is
    /// exhaustive (inside this crate the kind is not `#[non_exhaustive]`), so
    /// a new kind cannot be added without choosing its code.
    fn of(kind: AuthErrorKind) -> Self {
        use AuthErrorKind as K;
        match kind {
            // Nothing, or nothing that holds, proves who is calling.
            K::MissingToken
            | K::TokenTooLong
            | K::MalformedToken
            | K::AlgorithmNotAllowed
            | K::UnsupportedCritical
            | K::InvalidType
            | K::UnknownKey
            | K::InvalidSignature
            | K::Expired
            | K::NotYetValid
            | K::MissingClaim
            | K::InvalidClaimType
            | K::InvalidIssuer
            | K::InvalidAudience
            | K::InvalidSubject
            | K::InvalidClaims
            | K::Revoked
            | K::InvalidDpopProof
            | K::DpopProofReplayed
            | K::UseDpopNonce
            | K::DpopRequired
            | K::TokenBindingMismatch
            | K::InactiveToken
            // A stronger authentication of the user is needed: the caller
            // must authenticate again (the requirement is in the message).
            | K::InsufficientUserAuthentication => Self::Unauthenticated,
            // The request itself is malformed (HTTP 400).
            K::MultipleTokens | K::MalformedRequest | K::UnreadableBody | K::MalformedForm => {
                Self::InvalidArgument
            }
            // Authenticated, but not allowed (HTTP 403).
            K::InsufficientScope | K::CrossSiteRequest => Self::PermissionDenied,
            // Our failure, not the caller's: try again later (HTTP 503).
            K::KeysUnavailable
            | K::RevocationUnavailable
            | K::ReplayCheckUnavailable
            | K::IntrospectionUnavailable => Self::Unavailable,
            // Form sources only (a gRPC body is never a form): what gRPC
            // answers to a message over the size limit, and to a deadline
            // that passed (HTTP 413 and 408).
            K::FormTooLarge => Self::ResourceExhausted,
            K::FormReadTimeout => Self::DeadlineExceeded,
        }
    }
}

/// Answers refused requests as gRPC does: a trailers-only response.
///
/// For gRPC services, tonic's among them: use it on the
/// [`JwtAuthBuilder`](crate::JwtAuthBuilder::responder) and on the
/// [`RequireBuilder`](crate::RequireBuilder::responder), so that every refusal
/// reaches the client as a status it can read.
///
/// The response is HTTP `200` with `content-type: application/grpc`, a
/// `grpc-status` and a `grpc-message`, and no body: gRPC's "trailers-only"
/// form, which a client reads as the call's status before any message.
///
/// | cause | `grpc-status` |
/// |---|---|
/// | no token, or a token that is malformed, forged, expired, revoked, inactive, or otherwise refused | 16 `UNAUTHENTICATED` |
/// | a user authentication short of a route's step-up requirement (RFC 9470) | 16 `UNAUTHENTICATED`, the requirement in the message |
/// | a valid token short of a route's requirement (scope, role, claim) | 7 `PERMISSION_DENIED`, the missing scopes in the message |
/// | two different tokens, a malformed `authorization` | 3 `INVALID_ARGUMENT` |
/// | keys, revocation store, DPoP replay store or introspection unavailable | 14 `UNAVAILABLE` |
/// | form sources only: a body over the limit, or too late | 8 `RESOURCE_EXHAUSTED`, 4 `DEADLINE_EXCEEDED` |
///
/// The message is the error's fixed [description](AuthError::description)
/// (`"token expired"`), followed by what the route requires when a
/// requirement failed (`insufficient scope; scope="orders:read"`,
/// `…; acr_values="…"; max_age=300`), percent-encoded as the gRPC protocol
/// asks: every byte outside 0x20–0x7E, and `%`, as `%XX`. As the default
/// responder's, it never holds the token or a claim value.
///
/// gRPC has no `WWW-Authenticate` challenge, so none is sent: the scheme, the
/// realm and the resource metadata URL of the default responder's challenges
/// have no place here, and the code and message carry the rest. A DPoP nonce
/// (RFC 9449 §9) is sent as `dpop-nonce` metadata, in the trailers.
///
/// The [`AuthError`] is in the response's extensions, as with every
/// responder.
///
/// ```
/// use tower_jwt_auth::{GrpcResponder, JwtAuthLayer, Key, RequireLayer};
///
/// # fn main() -> Result<(), tower_jwt_auth::ConfigError> {
/// let authenticate = JwtAuthLayer::<serde_json::Value>::builder()
///     .key(Key::hmac(b"a secret of at least 32 bytes...."))
///     .responder(GrpcResponder::new())
///     .build()?;
/// let require = RequireLayer::<serde_json::Value>::builder()
///     .scope("echo:read")
///     .responder(GrpcResponder::new())
///     .build()?;
/// // tonic::transport::Server::builder().layer(authenticate).layer(require)...
/// # let _ = (authenticate, require);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcResponder {
    _private: (),
}

impl GrpcResponder {
    /// The gRPC responder.
    pub fn new() -> Self {
        Self { _private: () }
    }
}

impl ErrorResponder for GrpcResponder {
    fn respond(&self, error: &AuthError) -> Response<Bytes> {
        let code = Code::of(error.kind());
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert(GRPC_STATUS, HeaderValue::from(code as u16));
        // Percent-encoded, so visible ASCII: always a valid header value.
        if let Ok(value) = HeaderValue::try_from(encode_message(&message(error))) {
            headers.insert(GRPC_MESSAGE, value);
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

/// The status message of `error`: its description, then what the route
/// requires, if a requirement failed.
fn message(error: &AuthError) -> String {
    let mut message = String::from(error.description());
    if let Some(scope) = error.required_scope() {
        message.push_str("; scope=\"");
        message.push_str(scope);
        message.push('"');
    }
    if let Some(acr_values) = error.acr_values() {
        message.push_str("; acr_values=\"");
        message.push_str(acr_values);
        message.push('"');
    }
    if let Some(max_age) = error.max_age() {
        message.push_str("; max_age=");
        message.push_str(&max_age.as_secs().to_string());
    }
    message
}

/// `message` as a `grpc-message` value: UTF-8, with every byte outside
/// 0x20–0x7E and `%` percent-encoded.
fn encode_message(message: &str) -> String {
    utf8_percent_encode(message, MESSAGE_ESCAPES).to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::StatusCode;

    use super::{Code, GrpcResponder, encode_message};
    use crate::error::{AuthError, AuthErrorKind, AuthScheme, Challenge, Requirement};
    use crate::response::ErrorResponder;

    #[test]
    fn messages_are_percent_encoded_as_grpc_asks() {
        assert_eq!(encode_message("token expired"), "token expired");
        assert_eq!(encode_message("100% sure"), "100%25 sure");
        assert_eq!(encode_message("Bücher"), "B%C3%BCcher");
        assert_eq!(encode_message("a\r\nb\t\u{7f}~"), "a%0D%0Ab%09%7F~");
        assert_eq!(encode_message("😀"), "%F0%9F%98%80");
        assert_eq!(encode_message(""), "");
    }

    #[test]
    fn a_refusal_is_a_trailers_only_response() {
        let error = AuthError::new(AuthErrorKind::Expired, "token expired");
        let response = GrpcResponder::new().respond(&error);
        assert_eq!(response.status(), StatusCode::OK);
        let header = |name: &str| response.headers()[name].to_str().unwrap();
        assert_eq!(header("content-type"), "application/grpc");
        assert_eq!(header("grpc-status"), "16");
        assert_eq!(header("grpc-message"), "token expired");
        assert!(response.body().is_empty());
        assert!(!response.headers().contains_key("www-authenticate"));
    }

    #[test]
    fn a_failed_requirement_is_named_in_the_message() {
        let requirement = Arc::new(Requirement {
            scope: None,
            acr_values: Some("urn:example:mfa urn:example:phr".into()),
            max_age: Some(300),
        });
        let error =
            AuthError::insufficient_user_authentication("authentication too weak", requirement);
        let response = GrpcResponder::new().respond(&error);
        let header = |name: &str| response.headers()[name].to_str().unwrap();
        assert_eq!(header("grpc-status"), "16");
        assert_eq!(
            header("grpc-message"),
            r#"authentication too weak; acr_values="urn:example:mfa urn:example:phr"; max_age=300"#
        );
        let requirement = Arc::new(Requirement {
            scope: Some("orders:read 100%".into()),
            ..Requirement::default()
        });
        let error = AuthError::insufficient_scope("insufficient scope", Some(requirement));
        let response = GrpcResponder::new().respond(&error);
        assert_eq!(response.headers()["grpc-status"], "7");
        assert_eq!(
            response.headers()["grpc-message"],
            r#"insufficient scope; scope="orders:read 100%25""#
        );
    }

    #[test]
    fn a_dpop_nonce_goes_into_the_metadata() {
        let challenge = Arc::new(Challenge {
            scheme: AuthScheme::Dpop,
            bearer: false,
            dpop_algorithms: Some("ES256".into()),
            dpop_nonce: Some("n-0S6_WzA2Mj".into()),
            resource_metadata: None,
        });
        let error =
            AuthError::new(AuthErrorKind::UseDpopNonce, "nonce required").with_challenge(challenge);
        let response = GrpcResponder::new().respond(&error);
        assert_eq!(response.headers()["grpc-status"], "16");
        assert_eq!(response.headers()["dpop-nonce"], "n-0S6_WzA2Mj");
        assert!(!response.headers().contains_key("www-authenticate"));
    }

    #[test]
    fn each_kind_has_the_code_of_its_http_status_class() {
        use AuthErrorKind as K;
        for (kind, code) in [
            (K::MissingToken, 16),
            (K::Expired, 16),
            (K::InvalidSignature, 16),
            (K::InactiveToken, 16),
            (K::InsufficientUserAuthentication, 16),
            (K::InsufficientScope, 7),
            (K::CrossSiteRequest, 7),
            (K::MultipleTokens, 3),
            (K::MalformedRequest, 3),
            (K::KeysUnavailable, 14),
            (K::RevocationUnavailable, 14),
            (K::IntrospectionUnavailable, 14),
            (K::ReplayCheckUnavailable, 14),
            (K::FormTooLarge, 8),
            (K::FormReadTimeout, 4),
        ] {
            assert_eq!(Code::of(kind) as u16, code, "{kind:?}");
        }
    }
}
