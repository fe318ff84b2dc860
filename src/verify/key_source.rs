//! Where a trusted issuer's keys come from: the seam where a capability that
//! brings keys plugs in.
//!
//! Keys given at build time are prepared once and never change
//! ([`KeySource::Static`]). Keys that come from elsewhere and may change while
//! the layer runs (a remote JWK Set, in `remote/`) are a [`KeyFeed`] in the
//! configuration, opened once per trusted issuer into [`DynamicKeys`]
//! ([`KeySource::Dynamic`]): the verifier asks them for the keys of the moment,
//! and, for a token whose key they lack, for a refresh that may bring it.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use jsonwebtoken::Algorithm;
use jsonwebtoken::crypto::CryptoProvider;

use super::{KeyEntry, VerifyError, check_signature};
use crate::error::{AuthError, AuthErrorKind, ConfigError};

/// Keys that come from elsewhere, as configured (a remote JWK Set, key files).
pub(crate) trait KeyFeed: fmt::Debug + Send + Sync + 'static {
    /// Opens the feed for one trusted issuer, whose tokens may use
    /// `algorithms` (`None`: the feed's default).
    ///
    /// # Errors
    ///
    /// An algorithm the feed's keys may never verify.
    fn open(
        &self,
        provider: &'static CryptoProvider,
        algorithms: Option<Vec<Algorithm>>,
    ) -> Result<OpenFeed, ConfigError>;

    /// The builder method that configures the feed, for errors.
    fn setting(&self) -> &'static str {
        "jwks"
    }
}

/// Every asymmetric algorithm: what a feed of public keys (a remote JWK Set,
/// a key ring) verifies unless configured. HMAC never: a secret that is
/// published is no secret.
const ASYMMETRIC_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The algorithms a feed of public keys opens with: those configured, or
/// every asymmetric one. `keys` names the feed's keys in the error ("keys
/// from a URL").
///
/// # Errors
///
/// No algorithm, or one that public keys cannot verify.
pub(crate) fn public_key_algorithms(
    configured: Option<Vec<Algorithm>>,
    keys: &str,
) -> Result<Vec<Algorithm>, ConfigError> {
    let algorithms = configured.unwrap_or_else(|| ASYMMETRIC_ALGORITHMS.to_vec());
    if algorithms.is_empty() {
        return Err(ConfigError::AlgorithmMismatch(
            "no algorithm allowed".into(),
        ));
    }
    if let Some(bad) = algorithms
        .iter()
        .find(|a| !ASYMMETRIC_ALGORITHMS.contains(a))
    {
        return Err(ConfigError::AlgorithmMismatch(format!(
            "{bad:?} cannot be verified with {keys}"
        )));
    }
    Ok(algorithms)
}

/// A feed opened for one trusted issuer.
pub(crate) struct OpenFeed {
    /// The algorithms its tokens may use.
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) keys: Box<dyn DynamicKeys>,
}

/// The keys of an open feed, which may change while the layer runs.
pub(crate) trait DynamicKeys: Send + Sync + 'static {
    /// The keys of the moment, prepared (`None` before the first arrived, or
    /// once they were dropped), and whether this call prepared a new set or
    /// dropped the old one. `forget` receives the fingerprints of keys that
    /// left the set.
    fn sync(&self, forget: &dyn Fn(&[u64])) -> (Option<Arc<[KeyEntry]>>, bool);

    /// A refresh that may bring a key the current set lacks: shared with every
    /// request that needs one and rate-limited by the feed. It ends when the
    /// set may have changed; the caller then verifies again.
    fn refresh(&self) -> BoxFuture<'static, ()>;

    /// How many keys there are now.
    fn len(&self) -> usize;
}

/// Where the keys of a trusted issuer come from.
pub(crate) enum KeySource {
    /// Keys given at build time, prepared once.
    Static(Vec<KeyEntry>),
    /// Keys of a feed, prepared once per set.
    Dynamic(Box<dyn DynamicKeys>),
}

impl KeySource {
    /// Checks the signature with the keys that fit the token's `kid` and
    /// algorithm; the fingerprint of the key that verified it. `forget`
    /// receives the fingerprints of keys that left a feed's set.
    pub(crate) fn check_signature(
        &self,
        provider: &'static CryptoProvider,
        kid: Option<&str>,
        algorithm: Algorithm,
        message: &[u8],
        signature: &[u8],
        forget: &dyn Fn(&[u64]),
    ) -> Result<u64, VerifyError> {
        let keys = match self {
            Self::Static(keys) => {
                return check_signature(keys, provider, kid, algorithm, message, signature)
                    .map_err(VerifyError::from);
            }
            Self::Dynamic(keys) => keys,
        };
        // No keys yet, or none for this `kid`: a refresh may bring them.
        let retry = |error| VerifyError {
            error,
            retry: Some(keys.refresh()),
            introspection: None,
        };
        let Some(prepared) = keys.sync(forget).0 else {
            return Err(retry(AuthError::new(
                AuthErrorKind::KeysUnavailable,
                "no keys available yet",
            )));
        };
        check_signature(&prepared, provider, kid, algorithm, message, signature).map_err(|error| {
            match error.kind() {
                AuthErrorKind::UnknownKey => retry(error),
                _ => error.into(),
            }
        })
    }

    /// Prepares a feed's new set, if there is one, forgetting the keys that
    /// left it; whether anything changed. Static keys never change.
    pub(crate) fn sync(&self, forget: &dyn Fn(&[u64])) -> bool {
        match self {
            Self::Static(_) => false,
            Self::Dynamic(keys) => keys.sync(forget).1,
        }
    }

    /// How many keys are ready now.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Static(keys) => keys.len(),
            Self::Dynamic(keys) => keys.len(),
        }
    }
}
