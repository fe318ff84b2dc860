//! Key files as a source of keys for the verifier (`crate::verify::KeyFeed`):
//! which algorithms they may verify, and each version's keys made ready.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use jsonwebtoken::Algorithm;
use jsonwebtoken::crypto::CryptoProvider;

use super::KeyFiles;
use super::file::Format;
use crate::error::ConfigError;
use crate::key::Key;
use crate::verify::KeyEntry;
use crate::verify::key_source::{DynamicKeys, KeyFeed, OpenFeed};
use crate::verify::prepare::allowed_entries;
use crate::verify::prepared_keys::PreparedKeys;

const HMAC: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

/// Every algorithm: a JWK Set file may hold keys of any family, its secrets
/// (`oct` keys) included, since a file is as private as its volume.
const ANY: [Algorithm; 12] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
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

impl KeyFiles {
    /// The algorithms the files' keys may ever verify: a PEM file's one, an
    /// HMAC file's three, any for a JWK Set.
    fn default_algorithms(&self) -> Vec<Algorithm> {
        let mut algorithms = Vec::new();
        for file in &self.state.files {
            let some: &[Algorithm] = match &file.format {
                Format::Pem(algorithm) => std::slice::from_ref(algorithm),
                Format::Hmac | Format::HmacBase64 => &HMAC,
                Format::JwkSet => &ANY,
            };
            for algorithm in some {
                if !algorithms.contains(algorithm) {
                    algorithms.push(*algorithm);
                }
            }
        }
        algorithms
    }
}

impl KeyFeed for KeyFiles {
    fn open(
        &self,
        provider: &'static CryptoProvider,
        algorithms: Option<Vec<Algorithm>>,
    ) -> Result<OpenFeed, ConfigError> {
        let algorithms = algorithms.unwrap_or_else(|| self.default_algorithms());
        if algorithms.is_empty() {
            return Err(ConfigError::Empty {
                setting: "algorithms",
            });
        }
        Ok(OpenFeed {
            keys: Box::new(FileKeys {
                files: self.clone(),
                provider,
                allowed: algorithms.clone(),
                prepared: PreparedKeys::default(),
            }),
            algorithms,
        })
    }

    fn setting(&self) -> &'static str {
        "key_files"
    }
}

/// Key files and their keys, made ready for verification the first time a
/// request meets each new version.
struct FileKeys {
    files: KeyFiles,
    provider: &'static CryptoProvider,
    allowed: Vec<Algorithm>,
    prepared: PreparedKeys,
}

/// The entries of the keys that can verify one of the `allowed` algorithms;
/// the others are skipped (a JWK Set may hold keys for other issuers'
/// algorithms).
fn usable_entries(
    provider: &'static CryptoProvider,
    keys: &[Key],
    allowed: &[Algorithm],
) -> Vec<KeyEntry> {
    keys.iter()
        .filter_map(|key| allowed_entries(provider, key, Some(allowed)).ok().flatten())
        .flatten()
        .collect()
}

impl DynamicKeys for FileKeys {
    fn sync(&self, forget: &dyn Fn(&[u64])) -> (Option<Arc<[KeyEntry]>>, bool) {
        let snapshot = self.files.snapshot();
        let (entries, new) = self.prepared.get_or_prepare(
            snapshot.generation,
            || usable_entries(self.provider, snapshot.keys.keys(), &self.allowed),
            forget,
        );
        (Some(entries), new)
    }

    fn refresh(&self) -> BoxFuture<'static, ()> {
        // The poller alone reads the files: a token with an unknown `kid`
        // must not make the server read them (a flood of made-up ids would).
        Box::pin(std::future::ready(()))
    }

    fn len(&self) -> usize {
        self.files.snapshot().keys.keys().len()
    }
}
