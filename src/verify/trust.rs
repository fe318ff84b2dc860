//! [`Trust`]: one issuer's keys and rules, and where its keys come from.

#[cfg(feature = "remote-jwks")]
use std::sync::{Arc, PoisonError, RwLock};

use jsonwebtoken::Algorithm;
use jsonwebtoken::crypto::CryptoProvider;

use super::{KeyEntry, VerifyError, check_signature};
#[cfg(feature = "remote-jwks")]
use crate::error::{AuthError, AuthErrorKind};
#[cfg(feature = "remote-jwks")]
use crate::remote::RemoteKeySet;

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
    /// Keys of a remote JWK Set, prepared once per document.
    #[cfg(feature = "remote-jwks")]
    Remote(RemoteKeys),
}

/// The algorithms a remote key set may verify unless configured: every
/// asymmetric one. HMAC never: a secret published at a URL is no secret.
#[cfg(feature = "remote-jwks")]
pub(crate) const REMOTE_ALGORITHMS: [Algorithm; 9] = [
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

/// A remote JWK Set and its keys, made ready for verification the first time
/// a request meets each new document.
#[cfg(feature = "remote-jwks")]
pub(crate) struct RemoteKeys {
    pub(crate) set: RemoteKeySet,
    allowed: Vec<Algorithm>,
    prepared: RwLock<Option<Arc<Prepared>>>,
}

#[cfg(feature = "remote-jwks")]
struct Prepared {
    generation: u64,
    entries: Vec<KeyEntry>,
}

#[cfg(feature = "remote-jwks")]
impl RemoteKeys {
    pub(crate) fn new(set: RemoteKeySet, allowed: Vec<Algorithm>) -> Self {
        Self {
            set,
            allowed,
            prepared: RwLock::new(None),
        }
    }

    /// The keys of the current document, prepared; `None` before the first
    /// document arrived. `forget` receives the fingerprints of keys that left
    /// the set.
    fn entries(
        &self,
        provider: &'static CryptoProvider,
        forget: &dyn Fn(&[u64]),
    ) -> Option<Arc<Prepared>> {
        self.sync(provider, forget).0
    }

    /// [`entries`](Self::entries), and whether this call prepared a new
    /// document.
    fn sync(
        &self,
        provider: &'static CryptoProvider,
        forget: &dyn Fn(&[u64]),
    ) -> (Option<Arc<Prepared>>, bool) {
        let Some(snapshot) = self.set.snapshot() else {
            return (None, false);
        };
        if let Some(prepared) = &*self.prepared.read().unwrap_or_else(PoisonError::into_inner)
            && prepared.generation == snapshot.generation
        {
            return (Some(prepared.clone()), false);
        }
        // Several requests may prepare the same new document at once; the
        // work is the same and the newest generation wins.
        let fresh = Arc::new(Prepared {
            generation: snapshot.generation,
            entries: super::prepare::usable_entries(provider, snapshot.keys.keys(), &self.allowed),
        });
        let mut slot = self
            .prepared
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match &*slot {
            Some(current) if current.generation >= fresh.generation => {
                (Some(current.clone()), false)
            }
            current => {
                if let Some(old) = current {
                    let removed: Vec<u64> = old
                        .entries
                        .iter()
                        .map(|e| e.fingerprint)
                        .filter(|f| !fresh.entries.iter().any(|e| e.fingerprint == *f))
                        .collect();
                    forget(&removed);
                }
                *slot = Some(fresh.clone());
                (Some(fresh), true)
            }
        }
    }
}

impl KeySource {
    /// Checks the signature with the keys that fit the token's `kid` and
    /// algorithm. `forget` receives the fingerprints of keys that left a
    /// remote set.
    #[cfg_attr(not(feature = "remote-jwks"), allow(unused_variables))]
    pub(crate) fn check_signature(
        &self,
        provider: &'static CryptoProvider,
        kid: Option<&str>,
        algorithm: Algorithm,
        message: &[u8],
        signature: &[u8],
        forget: &dyn Fn(&[u64]),
    ) -> Result<u64, VerifyError> {
        match self {
            Self::Static(keys) => {
                check_signature(keys, provider, kid, algorithm, message, signature)
                    .map_err(VerifyError::from)
            }
            #[cfg(feature = "remote-jwks")]
            Self::Remote(remote) => {
                // No keys yet, or none for this `kid`: a fetch may bring them.
                let refresh = |error| VerifyError {
                    error,
                    refresh: Some(remote.set.clone()),
                };
                let Some(prepared) = remote.entries(provider, forget) else {
                    return Err(refresh(AuthError::new(
                        AuthErrorKind::KeysUnavailable,
                        "no keys available yet",
                    )));
                };
                check_signature(
                    &prepared.entries,
                    provider,
                    kid,
                    algorithm,
                    message,
                    signature,
                )
                .map_err(|error| match error.kind() {
                    AuthErrorKind::UnknownKey => refresh(error),
                    _ => error.into(),
                })
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

    /// Prepares a remote set's new document, if there is one, forgetting the
    /// keys that left it; whether anything changed. Static keys never change.
    #[cfg_attr(not(feature = "remote-jwks"), allow(unused_variables))]
    #[cfg_attr(not(feature = "token-cache"), allow(dead_code))]
    pub(crate) fn sync(&self, provider: &'static CryptoProvider, forget: &dyn Fn(&[u64])) -> bool {
        match self {
            Self::Static(_) => false,
            #[cfg(feature = "remote-jwks")]
            Self::Remote(remote) => remote.sync(provider, forget).1,
        }
    }

    /// How many keys are ready now.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Static(keys) => keys.len(),
            #[cfg(feature = "remote-jwks")]
            Self::Remote(remote) => remote.set.snapshot().map_or(0, |s| s.keys.keys().len()),
        }
    }
}
