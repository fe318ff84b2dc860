//! JWK thumbprints (RFC 7638) with SHA-256: what a DPoP-bound token's
//! `cnf.jkt` names (RFC 9449 §6.1), computed from the key a proof carries.
//!
//! The thumbprint hashes a canonical JSON object of the key's *required*
//! public members only, in lexicographic order, without whitespace: for
//! `EC` `crv`, `kty`, `x`, `y`; for `RSA` `e`, `kty`, `n`; for `OKP` `crv`,
//! `kty`, `x` (RFC 7638 §3.2, RFC 8037 §2). Other members (`kid`, `alg`,
//! `use`, ...) do not change it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};

/// The members of a public JWK that a thumbprint covers, as their string
/// values (JSON escapes already resolved). Borrowed, so that a proof's key
/// and a configured [`Key`](crate::Key)'s JWK can both be thumbprinted
/// without copies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PublicJwk<'a> {
    /// `kty`: `EC`, `RSA` or `OKP`.
    pub(crate) kty: &'a str,
    /// `crv`, for `EC` and `OKP` keys.
    pub(crate) crv: Option<&'a str>,
    /// `x`, for `EC` and `OKP` keys.
    pub(crate) x: Option<&'a str>,
    /// `y`, for `EC` keys.
    pub(crate) y: Option<&'a str>,
    /// `n`, for `RSA` keys.
    pub(crate) n: Option<&'a str>,
    /// `e`, for `RSA` keys.
    pub(crate) e: Option<&'a str>,
}

impl<'a> PublicJwk<'a> {
    /// The thumbprint members of a parsed JWK; `None` for a symmetric (`oct`)
    /// key, which is never a DPoP key, or one jsonwebtoken could not type.
    pub(crate) fn of_jwk(jwk: &'a Jwk) -> Option<Self> {
        let curve = |curve: &EllipticCurve| match curve {
            EllipticCurve::P256 => Some("P-256"),
            EllipticCurve::P384 => Some("P-384"),
            EllipticCurve::P521 => Some("P-521"),
            EllipticCurve::Ed25519 => Some("Ed25519"),
            // A curve newer than this code: no name to hash.
            #[allow(unreachable_patterns, reason = "EllipticCurve is non-exhaustive")]
            _ => None,
        };
        match &jwk.algorithm {
            AlgorithmParameters::EllipticCurve(p) => Some(Self {
                kty: "EC",
                crv: Some(curve(&p.curve)?),
                x: Some(&p.x),
                y: Some(&p.y),
                ..Self::default()
            }),
            AlgorithmParameters::RSA(p) => Some(Self {
                kty: "RSA",
                n: Some(&p.n),
                e: Some(&p.e),
                ..Self::default()
            }),
            AlgorithmParameters::OctetKeyPair(p) => Some(Self {
                kty: "OKP",
                crv: Some(curve(&p.curve)?),
                x: Some(&p.x),
                ..Self::default()
            }),
            _ => None,
        }
    }
}

/// The RFC 7638 SHA-256 thumbprint of `jwk`, in base64url without padding.
///
/// `None` when its `kty` is not `EC`, `RSA` or `OKP`, a member its `kty`
/// requires is missing, or the build has no SHA-256 (no crypto backend:
/// see [`crate::crypto::sha256`]).
pub(crate) fn jwk_thumbprint(jwk: &PublicJwk<'_>) -> Option<String> {
    let members: &[(&str, Option<&str>)] = match jwk.kty {
        "EC" => &[
            ("crv", jwk.crv),
            ("kty", Some("EC")),
            ("x", jwk.x),
            ("y", jwk.y),
        ],
        "RSA" => &[("e", jwk.e), ("kty", Some("RSA")), ("n", jwk.n)],
        "OKP" => &[("crv", jwk.crv), ("kty", Some("OKP")), ("x", jwk.x)],
        _ => return None,
    };
    // The values are base64url or short names: room for an RSA-8192 key.
    let mut canonical = Vec::with_capacity(64 + jwk.n.map_or(96, str::len));
    canonical.push(b'{');
    for (position, &(name, value)) in members.iter().enumerate() {
        if position > 0 {
            canonical.push(b',');
        }
        // The names need no escaping; a value is written by serde_json, so
        // that any escape it needs is the one RFC 7638 §3.3 asks for.
        canonical.push(b'"');
        canonical.extend_from_slice(name.as_bytes());
        canonical.extend_from_slice(b"\":");
        serde_json::to_writer(&mut canonical, value?).ok()?;
    }
    canonical.push(b'}');
    let digest = crate::crypto::sha256(&canonical)?;
    Some(URL_SAFE_NO_PAD.encode(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    const RFC_7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    const RFC_7638_THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

    /// RFC 9449 §4.2 (Figure 3): the example proof key; §6.1 gives its `jkt`.
    const RFC_9449_X: &str = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs";
    const RFC_9449_Y: &str = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA";
    const RFC_9449_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

    fn rsa() -> PublicJwk<'static> {
        PublicJwk {
            kty: "RSA",
            n: Some(RFC_7638_N),
            e: Some("AQAB"),
            ..PublicJwk::default()
        }
    }

    fn ec() -> PublicJwk<'static> {
        PublicJwk {
            kty: "EC",
            crv: Some("P-256"),
            x: Some(RFC_9449_X),
            y: Some(RFC_9449_Y),
            ..PublicJwk::default()
        }
    }

    #[test]
    #[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
    fn the_rfc_examples_have_their_published_thumbprints() {
        assert_eq!(jwk_thumbprint(&rsa()).as_deref(), Some(RFC_7638_THUMBPRINT));
        assert_eq!(jwk_thumbprint(&ec()).as_deref(), Some(RFC_9449_JKT));
        // Members outside the required ones do not count: an RSA key's `x`.
        let extra = PublicJwk {
            x: Some("ignored"),
            crv: Some("ignored"),
            ..rsa()
        };
        assert_eq!(jwk_thumbprint(&extra).as_deref(), Some(RFC_7638_THUMBPRINT));
    }

    #[test]
    #[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
    fn okp_keys_and_escaped_values() {
        // RFC 8037 Appendix A.3: the Ed25519 example key's thumbprint.
        let okp = PublicJwk {
            kty: "OKP",
            crv: Some("Ed25519"),
            x: Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            ..PublicJwk::default()
        };
        assert_eq!(
            jwk_thumbprint(&okp).as_deref(),
            Some("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        );
        // A value that needs an escape is hashed with it (RFC 7638 §3.3).
        let quoted = PublicJwk {
            crv: Some("P-\"256"),
            ..ec()
        };
        let canonical =
            format!(r#"{{"crv":"P-\"256","kty":"EC","x":"{RFC_9449_X}","y":"{RFC_9449_Y}"}}"#);
        let expected = URL_SAFE_NO_PAD.encode(crate::crypto::sha256(canonical.as_bytes()).unwrap());
        assert_eq!(jwk_thumbprint(&quoted), Some(expected));
    }

    #[test]
    fn unsupported_or_incomplete_keys_have_none() {
        for jwk in [
            PublicJwk {
                kty: "oct",
                ..PublicJwk::default()
            },
            PublicJwk { kty: "ec", ..ec() },
            PublicJwk { y: None, ..ec() },
            PublicJwk { e: None, ..rsa() },
            PublicJwk {
                kty: "OKP",
                ..PublicJwk::default()
            },
        ] {
            assert_eq!(jwk_thumbprint(&jwk), None, "{jwk:?}");
        }
    }

    #[test]
    fn a_parsed_jwk_gives_the_same_members() {
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-256", "x": RFC_9449_X, "y": RFC_9449_Y, "kid": "k"
        }))
        .unwrap();
        assert_eq!(PublicJwk::of_jwk(&jwk), Some(ec()));
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "RSA", "n": RFC_7638_N, "e": "AQAB", "alg": "RS256"
        }))
        .unwrap();
        assert_eq!(PublicJwk::of_jwk(&jwk), Some(rsa()));
        let jwk: Jwk =
            serde_json::from_value(serde_json::json!({"kty": "oct", "k": "c2VjcmV0"})).unwrap();
        assert_eq!(PublicJwk::of_jwk(&jwk), None);
    }

    #[test]
    #[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
    fn no_thumbprint_without_a_backend() {
        assert_eq!(jwk_thumbprint(&ec()), None);
    }
}
