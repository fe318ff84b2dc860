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

    use super::*;
    use crate::test_helpers::{SECRET, token};
    use crate::{AuthErrorKind, Key};

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

    /// The entries of [`SECRET`] for all three HMAC algorithms: too short for
    /// HS384 and HS512 by RFC 7518 §3.2, hence the legacy opt-out.
    fn entries(provider: &'static CryptoProvider) -> Vec<KeyEntry> {
        let key = Key::hmac_legacy_short_secret(SECRET);
        crate::verify::prepare::key_entries(provider, vec![key], None)
            .unwrap()
            .entries
    }

    /// The signed part of `token` and its decoded signature.
    fn signed(token: &str) -> (&str, Vec<u8>) {
        use base64::Engine as _;
        let (message, signature) = token.rsplit_once('.').unwrap();
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .unwrap();
        (message, signature)
    }

    #[test]
    fn a_custom_provider_makes_a_verifier_per_check() {
        let keys = entries(&COUNTING);
        assert!(
            keys.iter()
                .all(|e| matches!(e.key, SignatureKey::Provider(_)))
        );
        let token = token();
        let (message, mut signature) = signed(&token);
        let check = |signature: &[u8]| {
            check_signature(
                &keys,
                &COUNTING,
                None,
                Algorithm::HS256,
                message.as_bytes(),
                signature,
            )
        };
        let before = VERIFIERS_MADE.load(Ordering::SeqCst);
        assert!(check(&signature).is_ok());
        signature[0] ^= 1;
        assert_eq!(
            check(&signature).unwrap_err().kind(),
            AuthErrorKind::InvalidSignature
        );
        assert_eq!(VERIFIERS_MADE.load(Ordering::SeqCst) - before, 2);
    }

    #[test]
    fn the_features_provider_is_prepared_once_with_aws_lc_rs() {
        let keys = entries(features_provider());
        assert_eq!(keys.len(), 3, "HS256, HS384, HS512");
        for entry in &keys {
            #[cfg(feature = "aws-lc-rs")]
            assert!(matches!(entry.key, SignatureKey::Hmac(_)));
            #[cfg(not(feature = "aws-lc-rs"))]
            assert!(matches!(entry.key, SignatureKey::Provider(_)));
        }
        let token = token();
        let (message, signature) = signed(&token);
        let verified = check_signature(
            &keys,
            features_provider(),
            None,
            Algorithm::HS256,
            message.as_bytes(),
            &signature,
        );
        assert_eq!(verified.unwrap(), keys[0].fingerprint);
    }

    #[test]
    fn a_kid_picks_its_keys_and_no_fitting_key_is_an_unknown_key() {
        let provider = features_provider();
        let named = |kid: &str| {
            crate::verify::prepare::key_entries(
                provider,
                vec![Key::hmac(SECRET).with_kid(kid)],
                Some(&[Algorithm::HS256]),
            )
            .unwrap()
            .entries
        };
        let mut keys = named("a");
        keys.extend(named("b"));
        let token = token();
        let (message, signature) = signed(&token);
        let check = |kid: Option<&str>, algorithm| {
            check_signature(
                &keys,
                provider,
                kid,
                algorithm,
                message.as_bytes(),
                &signature,
            )
            .map_err(|e| e.kind())
        };
        assert_eq!(check(Some("b"), Algorithm::HS256), Ok(keys[1].fingerprint));
        assert_eq!(check(None, Algorithm::HS256), Ok(keys[0].fingerprint));
        assert_eq!(
            check(Some("c"), Algorithm::HS256),
            Err(AuthErrorKind::UnknownKey)
        );
        assert_eq!(
            check(Some("a"), Algorithm::HS384),
            Err(AuthErrorKind::UnknownKey)
        );
    }
}
