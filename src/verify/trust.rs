//! [`Trust`]: one issuer's keys and rules, and where its keys come from.

use jsonwebtoken::Algorithm;
use jsonwebtoken::crypto::CryptoProvider;

use super::{KeyEntry, VerifyError, check_signature};

/// The keys and rules for tokens of one issuer (or, in a layer configured
/// with keys directly, of every accepted issuer).
pub(crate) struct Trust {
    /// The accepted `iss` values; empty for "any".
    pub(crate) issuers: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) keys: KeySource,
}

/// Where the keys of a [`Trust`] come from.
pub(crate) enum KeySource {
    /// Keys given at build time, prepared once.
    Static(Vec<KeyEntry>),
}

impl KeySource {
    /// Checks the signature with the keys that fit the token's `kid` and
    /// algorithm.
    pub(crate) fn check_signature(
        &self,
        provider: &'static CryptoProvider,
        kid: Option<&str>,
        algorithm: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<u64, VerifyError> {
        match self {
            Self::Static(keys) => {
                check_signature(keys, provider, kid, algorithm, message, signature)
                    .map_err(VerifyError::from)
            }
        }
    }

    /// The keys given at build time.
    #[cfg(test)]
    pub(crate) fn static_entries(&self) -> &[KeyEntry] {
        #[allow(irrefutable_let_patterns)]
        let Self::Static(keys) = self else {
            panic!("not a static key source")
        };
        keys
    }

    /// How many keys are ready now.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Static(keys) => keys.len(),
        }
    }
}
