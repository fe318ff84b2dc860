//! [`SigningKey`]: a private key with its public JWK and its `kid`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
    RSAKeyParameters, RSAKeyType,
};
use jsonwebtoken::{Algorithm, AlgorithmFamily, EncodingKey};

use crate::crypto;
use crate::error::ConfigError;
use crate::thumbprint::{PublicJwk, jwk_thumbprint};

/// An asymmetric private key for a [`KeyRing`](crate::KeyRing): the key that
/// signs, its public JWK (what a JWK Set publishes), its algorithm, and its
/// `kid`, by default the key's RFC 7638 SHA-256 thumbprint.
///
/// The public key is derived from the private one by the crypto backend of
/// this crate's features (`aws-lc-rs` or `rust-crypto`), so a PEM file is all
/// it takes. HMAC secrets are not signing keys of a ring: a JWK Set never
/// publishes a symmetric key.
///
/// ```
/// use jsonwebtoken::Algorithm;
/// use tower_jwt_auth::SigningKey;
///
/// # let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?.serialize_pem();
/// // `pem`: a PKCS#8 P-256 private key (`BEGIN PRIVATE KEY`).
/// let key = SigningKey::from_pem(Algorithm::ES256, pem.as_bytes())?;
/// assert_eq!(key.algorithm(), Algorithm::ES256);
/// assert_eq!(key.kid().len(), 43); // a SHA-256 thumbprint in base64url
/// let jwk = serde_json::to_value(key.public_jwk())?;
/// assert_eq!((&jwk["kty"], &jwk["crv"], &jwk["kid"]), (&"EC".into(), &"P-256".into(), &key.kid().into()));
/// assert!(jwk.get("d").is_none(), "never the private part");
///
/// let named = key.with_kid("2026-12");
/// assert_eq!(named.kid(), "2026-12");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    encoding: EncodingKey,
    algorithm: Algorithm,
    jwk: Jwk,
}

impl SigningKey {
    /// A private key in PEM for `algorithm`: PKCS#8 (`BEGIN PRIVATE KEY`) for
    /// EC (`ES256` with P-256, `ES384` with P-384) and Ed25519 (`EdDSA`);
    /// PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8 for RSA (`RS256` to
    /// `RS512`, `PS256` to `PS512`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::AlgorithmMismatch`] for an HMAC algorithm;
    /// [`ConfigError::NoCryptoProvider`] in a build without a backend
    /// feature; [`ConfigError::InvalidKey`] when the PEM holds no private
    /// key of the algorithm's family (or curve), or the key cannot sign.
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, ConfigError> {
        let provider = crypto::feature_provider().ok_or(ConfigError::NoCryptoProvider)?;
        let utils = &provider.key_utils;
        let encoding = match algorithm.family() {
            AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(pem),
            AlgorithmFamily::Ec => EncodingKey::from_ec_pem(pem),
            AlgorithmFamily::Ed => EncodingKey::from_ed_pem(pem),
            AlgorithmFamily::Hmac => {
                return Err(ConfigError::AlgorithmMismatch(format!(
                    "{algorithm:?} is symmetric: a signing key of a key ring is published in a JWK Set"
                )));
            }
        }
        .map_err(ConfigError::InvalidKey)?;
        let der = encoding.as_bytes();
        let parameters = match algorithm.family() {
            AlgorithmFamily::Rsa => {
                let (n, e) = (utils.rsa_pub_components_from_private_key)(der)
                    .map_err(ConfigError::InvalidKey)?;
                AlgorithmParameters::RSA(RSAKeyParameters {
                    key_type: RSAKeyType::RSA,
                    n: URL_SAFE_NO_PAD.encode(n),
                    e: URL_SAFE_NO_PAD.encode(e),
                })
            }
            AlgorithmFamily::Ec => {
                let (curve, x, y) = (utils.ec_pub_components_from_private_key)(der, algorithm)
                    .map_err(ConfigError::InvalidKey)?;
                AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                    key_type: EllipticCurveKeyType::EC,
                    curve,
                    x: URL_SAFE_NO_PAD.encode(x),
                    y: URL_SAFE_NO_PAD.encode(y),
                })
            }
            _ => {
                let x = (utils.ed_pub_components_from_private_key)(der, &EllipticCurve::Ed25519)
                    .map_err(ConfigError::InvalidKey)?;
                AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x: URL_SAFE_NO_PAD.encode(x),
                })
            }
        };
        // A key that parses may still fail to sign (a truncated RSA key, a
        // P-384 key for ES256): find out now, not at the first login.
        let signer =
            (provider.signer_factory)(&algorithm, &encoding).map_err(ConfigError::InvalidKey)?;
        signer.try_sign(b"tower-jwt-auth key check").map_err(|e| {
            ConfigError::InvalidKey(jsonwebtoken::errors::ErrorKind::Signing(e.to_string()).into())
        })?;
        let mut jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(algorithm.into()),
                ..CommonParameters::default()
            },
            algorithm: parameters,
        };
        let kid = PublicJwk::of_jwk(&jwk)
            .as_ref()
            .and_then(jwk_thumbprint)
            .ok_or(ConfigError::NoCryptoProvider)?;
        jwk.common.key_id = Some(kid);
        Ok(Self {
            encoding,
            algorithm,
            jwk,
        })
    }

    /// Names the key `kid` instead of its thumbprint (in the tokens' headers
    /// and in the JWK Set).
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.jwk.common.key_id = Some(kid.into());
        self
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key
    /// (base64url), unless set with [`with_kid`](Self::with_kid).
    pub fn kid(&self) -> &str {
        self.jwk.common.key_id.as_deref().unwrap_or_default()
    }

    /// The algorithm it signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public key as a JWK, with `kid`, `alg` and `use: "sig"`: public
    /// members only.
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid())
            .field("private_key", &"[redacted]")
            .finish()
    }
}

#[cfg(all(test, any(feature = "aws-lc-rs", feature = "rust-crypto")))]
mod tests {
    use super::*;

    /// RFC 8037 Appendix A.1: the example Ed25519 private key (`d`), whose
    /// public key's RFC 7638 thumbprint Appendix A.3 gives.
    const RFC_8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC_8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const RFC_8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

    /// The seed wrapped in a PKCS#8 v1 `PrivateKeyInfo` (RFC 8410 §7), in PEM.
    fn rfc_8037_pem() -> String {
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend(URL_SAFE_NO_PAD.decode(RFC_8037_D).unwrap());
        pem::encode(&pem::Pem::new("PRIVATE KEY", der))
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        let key = SigningKey::from_pem(Algorithm::EdDSA, rfc_8037_pem().as_bytes()).unwrap();
        assert_eq!(key.kid(), RFC_8037_THUMBPRINT);
        let jwk = serde_json::to_value(key.public_jwk()).unwrap();
        assert_eq!(
            jwk,
            serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "x": RFC_8037_X,
                "kid": RFC_8037_THUMBPRINT, "alg": "EdDSA", "use": "sig"
            })
        );
        assert_eq!(key.with_kid("mine").kid(), "mine");
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let key = SigningKey::from_pem(Algorithm::EdDSA, rfc_8037_pem().as_bytes()).unwrap();
        let ring = crate::KeyRing::builder(key.clone(), key.clone().with_kid("next")).build();
        let issuer = crate::TokenIssuer::key_ring(ring.clone()).build().unwrap();
        for debug in [
            format!("{key:?}"),
            format!("{ring:?}"),
            format!("{issuer:?}"),
            format!("{:?}", ring.jwk_set_service()),
        ] {
            assert!(debug.contains("[redacted]"), "{debug}");
            assert!(debug.contains(RFC_8037_THUMBPRINT), "{debug}");
            assert!(!debug.contains(RFC_8037_D), "{debug}");
        }
    }

    #[test]
    fn every_asymmetric_family_has_its_public_jwk() {
        let cases = [
            (Algorithm::ES256, &rcgen::PKCS_ECDSA_P256_SHA256, "EC"),
            (Algorithm::ES384, &rcgen::PKCS_ECDSA_P384_SHA384, "EC"),
            (Algorithm::EdDSA, &rcgen::PKCS_ED25519, "OKP"),
        ]
        .map(|(algorithm, generator, kty)| {
            let pem = rcgen::KeyPair::generate_for(generator)
                .unwrap()
                .serialize_pem();
            (algorithm, pem, kty)
        });
        let rsa = include_str!("../../tests/fixtures/dpop/rsa2048.pem").to_owned();
        for (algorithm, pem, kty) in cases.into_iter().chain([
            (Algorithm::RS256, rsa.clone(), "RSA"),
            (Algorithm::PS384, rsa, "RSA"),
        ]) {
            let key = SigningKey::from_pem(algorithm, pem.as_bytes()).unwrap();
            let jwk = serde_json::to_value(key.public_jwk()).unwrap();
            assert_eq!(jwk["kty"], kty, "{algorithm:?}");
            assert!(jwk.get("d").is_none(), "{algorithm:?}");
            // The public JWK verifies what the private key signs.
            let issuer = crate::TokenIssuer::builder(key.encoding_key().clone(), algorithm)
                .build()
                .unwrap();
            let token = issuer.issue(&serde_json::json!({"sub": "a"})).unwrap();
            let decoding = jsonwebtoken::DecodingKey::from_jwk(key.public_jwk()).unwrap();
            let mut validation = jsonwebtoken::Validation::new(algorithm);
            validation.required_spec_claims.clear();
            jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
        }
    }

    #[test]
    fn wrong_keys_and_symmetric_algorithms_are_refused() {
        let p256 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap()
            .serialize_pem();
        for (algorithm, pem) in [
            (Algorithm::HS256, p256.as_str()),
            (Algorithm::RS256, p256.as_str()),
            (Algorithm::EdDSA, p256.as_str()),
            (Algorithm::ES384, p256.as_str()),
            (Algorithm::ES256, "not a PEM"),
        ] {
            let result = SigningKey::from_pem(algorithm, pem.as_bytes());
            assert!(
                matches!(
                    result,
                    Err(ConfigError::InvalidKey(_) | ConfigError::AlgorithmMismatch(_))
                ),
                "{algorithm:?}: {result:?}"
            );
        }
    }
}
