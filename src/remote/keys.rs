//! A remote JWK Set as a source of keys for the verifier
//! (`crate::verify::KeyFeed`): which algorithms keys from a URL may verify,
//! and each document's keys made ready for verification, once.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, AlgorithmFamily};

use super::RemoteKeySet;
use crate::error::ConfigError;
use crate::key::Key;
use crate::verify::KeyEntry;
use crate::verify::key_source::{DynamicKeys, KeyFeed, OpenFeed, public_key_algorithms};
use crate::verify::prepare::allowed_entries;
use crate::verify::prepared_keys::PreparedKeys;

impl KeyFeed for RemoteKeySet {
    fn open(
        &self,
        provider: &'static CryptoProvider,
        algorithms: Option<Vec<Algorithm>>,
    ) -> Result<OpenFeed, ConfigError> {
        let algorithms = public_key_algorithms(algorithms, "keys from a URL")?;
        Ok(OpenFeed {
            keys: Box::new(RemoteKeys {
                set: self.clone(),
                provider,
                allowed: algorithms.clone(),
                prepared: PreparedKeys::default(),
            }),
            algorithms,
        })
    }
}

/// A remote JWK Set and its keys, made ready for verification the first time
/// a request meets each new document.
struct RemoteKeys {
    set: RemoteKeySet,
    provider: &'static CryptoProvider,
    allowed: Vec<Algorithm>,
    prepared: PreparedKeys,
}

/// The entries of the keys of a remote key set that can verify one of the
/// `allowed` algorithms. A key that cannot is skipped, not fatal: identity
/// providers publish keys for other uses beside their signing keys. HMAC keys
/// are always skipped: a secret published in a key set is no secret.
fn usable_entries(
    provider: &'static CryptoProvider,
    keys: &[Key],
    allowed: &[Algorithm],
) -> Vec<KeyEntry> {
    keys.iter()
        .filter(|key| key.decoding.family() != AlgorithmFamily::Hmac)
        .filter_map(|key| allowed_entries(provider, key, Some(allowed)).ok().flatten())
        .flatten()
        .collect()
}

impl DynamicKeys for RemoteKeys {
    fn sync(&self, forget: &dyn Fn(&[u64])) -> (Option<Arc<[KeyEntry]>>, bool) {
        // No keys any more (dropped as too stale): what they prepared and
        // verified is forgotten, so that a token cache does not keep
        // accepting what the keys no longer may.
        let Some(snapshot) = self.set.snapshot() else {
            return (None, self.prepared.clear(forget));
        };
        let (entries, new) = self.prepared.get_or_prepare(
            snapshot.generation,
            || usable_entries(self.provider, snapshot.keys.keys(), &self.allowed),
            forget,
        );
        (Some(entries), new)
    }

    fn refresh(&self) -> BoxFuture<'static, ()> {
        self.set.refresh_for_unknown_key()
    }

    fn len(&self) -> usize {
        self.set.snapshot().map_or(0, |s| s.keys.keys().len())
    }
}
