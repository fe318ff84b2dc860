//! Where an opaque token goes: the seam where token introspection (RFC 7662,
//! in `introspection/`) plugs in.
//!
//! A token that is not a JWS compact serialization ([`is_compact_jws`]) is
//! sent, when one trusted issuer (or the layer itself) is configured with
//! introspection, to that issuer's [`Introspect`]. Its answer is the active
//! token's claims as JSON text, which then go through the same claim rules as
//! a JWT's payload ([`Verifier::introspected`](super::Verifier::introspected)).

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::error::AuthError;

/// Asks an authorization server whether a token is active, as configured.
#[cfg_attr(not(feature = "introspection"), allow(dead_code))]
pub(crate) trait Introspect: fmt::Debug + Send + Sync + 'static {
    /// The answer for `token` at `now` (the layer's clock, whole seconds):
    /// from the cache, at once, or an introspection to wait for.
    fn introspect(&self, token: &str, now: u64) -> Introspected;
}

/// What an [`Introspect`] answered.
#[cfg_attr(not(feature = "introspection"), allow(dead_code))]
pub(crate) enum Introspected {
    /// Decided: the active token's claims as JSON text, or the refusal (an
    /// inactive token, the authorization server unavailable).
    Ready(Result<Arc<str>, AuthError>),
    /// Decided once the authorization server has answered.
    Wait(PendingAnswer),
}

/// An introspection under way.
pub(crate) type PendingAnswer = BoxFuture<'static, Result<Arc<str>, AuthError>>;

/// The issuer whose opaque tokens are introspected: its position among the
/// verifier's, whose claim rules the answers must pass, and its
/// introspection.
pub(crate) struct Introspecting {
    pub(crate) trust: usize,
    pub(crate) introspection: Arc<dyn Introspect>,
}

/// An introspection under way, and the position of the issuer whose rules its
/// claims must then pass.
pub(crate) struct PendingIntrospection {
    pub(crate) trust: usize,
    pub(crate) answer: PendingAnswer,
}

/// Whether `token` has the shape of a JWS compact serialization (RFC 7515
/// §7.1): three segments of base64url characters, the first two not empty.
/// Such a token is verified as a JWT; any other is opaque.
pub(crate) fn is_compact_jws(token: &str) -> bool {
    let mut segments = token.split('.');
    let base64url = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    matches!(
        (segments.next(), segments.next(), segments.next(), segments.next()),
        (Some(header), Some(payload), Some(signature), None)
            if !header.is_empty() && !payload.is_empty()
                && base64url(header) && base64url(payload) && base64url(signature)
    )
}

#[cfg(test)]
mod tests {
    use super::is_compact_jws;

    #[test]
    fn three_base64url_segments_are_a_jwt_and_anything_else_is_opaque() {
        for jwt in ["eyJh.eyJz.c2ln", "a.b.", "A-_z.0.9"] {
            assert!(is_compact_jws(jwt), "{jwt}");
        }
        for opaque in [
            "2YotnFZFEjr1zCsicMWpAA",
            "a.b",
            "a.b.c.d.e",
            ".b.c",
            "a..c",
            "a.b=.c",
            "a.b.c+",
            "",
            "tok en.a.b",
        ] {
            assert!(!is_compact_jws(opaque), "{opaque}");
        }
    }
}
