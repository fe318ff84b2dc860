//! One key made ready to check signatures of one algorithm.
//!
//! jsonwebtoken's verifiers are boxed trait objects that are neither `Send` nor
//! `Sync`, so they cannot be kept in the shared configuration: its providers make
//! one per check, and aws-lc-rs then parses an RSA key again on every request.
//! With the default aws-lc-rs provider, this crate instead parses each key once,
//! at build time, with the very algorithm parameters jsonwebtoken's aws-lc backend
//! uses. Any other provider (RustCrypto, or one given by the application) keeps
//! being asked per check, so that it stays the judge of its own keys.

#[cfg(feature = "aws-lc-rs")]
mod aws_lc;

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, DecodingKey};

use super::KeyEntry;
use crate::error::{AuthError, AuthErrorKind};

/// A key ready for one algorithm.
pub(crate) enum SignatureKey {
    /// An HMAC key for aws-lc-rs (its `hmac::verify` is constant-time), boxed:
    /// it holds a whole HMAC context, over a kilobyte.
    #[cfg(feature = "aws-lc-rs")]
    Hmac(Box<aws_lc_rs::hmac::Key>),
    /// A public key parsed once by aws-lc-rs, bound to its algorithm.
    #[cfg(feature = "aws-lc-rs")]
    Public(aws_lc_rs::signature::ParsedPublicKey),
    /// A key the provider turns into a verifier per check.
    Provider(DecodingKey),
}

impl SignatureKey {
    /// Makes `key` ready for `algorithm`, whose family it is known to share.
    ///
    /// # Errors
    ///
    /// The key material cannot serve `algorithm` (only found here with
    /// aws-lc-rs, which parses the key now rather than per check).
    pub(crate) fn prepare(
        provider: &'static CryptoProvider,
        algorithm: Algorithm,
        key: &DecodingKey,
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        #[cfg(feature = "aws-lc-rs")]
        if crate::crypto::is_aws_lc_default(provider) {
            return aws_lc::prepare(algorithm, key);
        }
        let _ = (provider, algorithm);
        Ok(Self::Provider(key.clone()))
    }

    /// Whether `signature` is this key's signature of `message` under
    /// `algorithm` (the one it was prepared for).
    pub(crate) fn verify(
        &self,
        provider: &CryptoProvider,
        algorithm: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        match self {
            #[cfg(feature = "aws-lc-rs")]
            Self::Hmac(key) => aws_lc_rs::hmac::verify(key, message, signature).is_ok(),
            #[cfg(feature = "aws-lc-rs")]
            Self::Public(key) => key.verify_sig(message, signature).is_ok(),
            Self::Provider(key) => (provider.verifier_factory)(&algorithm, key)
                // jsonwebtoken's verifiers take a `&Vec<u8>`.
                .is_ok_and(|verifier| verifier.verify(message, &signature.to_vec()).is_ok()),
        }
    }
}

/// Tries the keys that fit the token: those with its `kid` when any has it,
/// else those without a `kid`; a token without `kid` may use any key. Returns
/// the fingerprint of the key that verified the signature.
pub(crate) fn check_signature(
    keys: &[KeyEntry],
    provider: &'static CryptoProvider,
    kid: Option<&str>,
    algorithm: Algorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<u64, AuthError> {
    let by_kid = |entry: &&KeyEntry| match kid {
        Some(kid) => entry.kid.as_deref() == Some(kid),
        None => true,
    };
    let has_named_key = kid.is_some() && keys.iter().any(|e| by_kid(&e));
    let fits = |entry: &&KeyEntry| {
        entry.algorithm == algorithm
            && if has_named_key || kid.is_none() {
                by_kid(entry)
            } else {
                entry.kid.is_none()
            }
    };
    let mut tried = false;
    for entry in keys.iter().filter(fits) {
        tried = true;
        if entry.key.verify(provider, algorithm, message, signature) {
            return Ok(entry.fingerprint);
        }
    }
    if tried {
        Err(AuthError::new(
            AuthErrorKind::InvalidSignature,
            "invalid signature",
        ))
    } else {
        Err(AuthError::new(
            AuthErrorKind::UnknownKey,
            "no key for this token",
        ))
    }
}

#[cfg(all(test, any(feature = "aws-lc-rs", feature = "rust-crypto")))]
mod tests {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use jsonwebtoken::crypto::JwtVerifier;
    use serde_json::Value;

    use super::*;
    use crate::{AuthErrorKind, JwtAuthLayer, Key, TokenIssuer};

    const SECRET: &[u8] = b"unit-test secret, 32 bytes long!";

    fn features_provider() -> &'static CryptoProvider {
        crate::crypto::feature_provider().unwrap()
    }

    static VERIFIERS_MADE: AtomicUsize = AtomicUsize::new(0);

    fn counting_factory(
        algorithm: &Algorithm,
        key: &DecodingKey,
    ) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
        VERIFIERS_MADE.fetch_add(1, Ordering::SeqCst);
        (features_provider().verifier_factory)(algorithm, key)
    }

    /// An application's own provider: the features' one, counting its verifiers.
    static COUNTING: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
        verifier_factory: counting_factory,
        ..features_provider().clone()
    });

    fn layer(provider: &'static CryptoProvider) -> JwtAuthLayer<Value> {
        JwtAuthLayer::builder()
            .key(Key::hmac(SECRET))
            .crypto_provider(provider)
            .build()
            .unwrap()
    }

    #[test]
    fn a_custom_provider_makes_a_verifier_per_check() {
        let layer = layer(&COUNTING);
        let verifier = &layer.authenticator.verifier;
        let keys = verifier.trusts[0].keys.static_entries();
        assert!(
            keys.iter()
                .all(|e| matches!(e.key, SignatureKey::Provider(_)))
        );
        let token = TokenIssuer::hmac(SECRET)
            .build()
            .unwrap()
            .issue(&serde_json::json!({ "sub": "ada" }))
            .unwrap();
        let before = VERIFIERS_MADE.load(Ordering::SeqCst);
        assert_eq!(
            verifier.verify::<Value>(&token).unwrap().claims["sub"],
            "ada"
        );
        // A different first signature character: still base64url, another MAC.
        let (message, signature) = token.rsplit_once('.').unwrap();
        let first = if signature.starts_with('A') { 'B' } else { 'A' };
        let tampered = format!("{message}.{first}{}", &signature[1..]);
        let refused = verifier.verify::<Value>(&tampered).unwrap_err().error;
        assert_eq!(refused.kind(), AuthErrorKind::InvalidSignature);
        assert_eq!(VERIFIERS_MADE.load(Ordering::SeqCst) - before, 2);
    }

    #[test]
    fn the_features_provider_is_prepared_once_with_aws_lc_rs() {
        let layer = layer(features_provider());
        let keys = layer.authenticator.verifier.trusts[0].keys.static_entries();
        assert_eq!(keys.len(), 3, "HS256, HS384, HS512");
        for entry in keys {
            #[cfg(feature = "aws-lc-rs")]
            assert!(matches!(entry.key, SignatureKey::Hmac(_)));
            #[cfg(not(feature = "aws-lc-rs"))]
            assert!(matches!(entry.key, SignatureKey::Provider(_)));
        }
    }
}
