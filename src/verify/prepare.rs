//! Keys made ready for verification once, when the layer is built.

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKeyKind};

use super::KeyEntry;
use super::signature::SignatureKey;
use crate::error::ConfigError;
use crate::key::Key;

/// One entry per (key, algorithm), each proven usable with the provider and made
/// ready for it now, so that no request meets a key problem or parses a key.
pub(crate) fn key_entries(
    provider: &'static CryptoProvider,
    keys: Vec<Key>,
    allowed: Option<&[Algorithm]>,
) -> Result<Vec<KeyEntry>, ConfigError> {
    if keys.is_empty() {
        return Err(ConfigError::NoKeys);
    }
    let mut entries = Vec::new();
    for key in &keys {
        entries.extend(entries_of(provider, key, allowed)?);
    }
    Ok(entries)
}

/// The entries of one key, or why it cannot verify any allowed algorithm.
pub(crate) fn entries_of(
    provider: &'static CryptoProvider,
    key: &Key,
    allowed: Option<&[Algorithm]>,
) -> Result<Vec<KeyEntry>, ConfigError> {
    let family = key.decoding.family();
    if let Some(bad) = key.algorithms.iter().find(|a| a.family() != family) {
        return Err(ConfigError::AlgorithmMismatch(format!(
            "{bad:?} cannot be used with a {family:?} key"
        )));
    }
    check_key_material(provider, key)?;
    let mut entries = Vec::new();
    let mut wrong_curve = None;
    for &algorithm in &key.algorithms {
        if allowed.is_some_and(|allowed| !allowed.contains(&algorithm)) {
            continue;
        }
        (provider.verifier_factory)(&algorithm, &key.decoding).map_err(ConfigError::InvalidKey)?;
        match SignatureKey::prepare(provider, algorithm, &key.decoding) {
            Ok(prepared) => entries.push(KeyEntry {
                kid: key.kid.clone(),
                algorithm,
                key: prepared,
                fingerprint: fingerprint(key),
            }),
            // An EC key whose curve is not known in advance is tried with
            // both curves' algorithms: one of them is expected to fail.
            Err(e) if family == AlgorithmFamily::Ec => wrong_curve = Some(e),
            Err(e) => return Err(ConfigError::InvalidKey(e)),
        }
    }
    if let (true, Some(e)) = (entries.is_empty(), wrong_curve) {
        return Err(ConfigError::InvalidKey(e));
    }
    if entries.is_empty() {
        return Err(ConfigError::AlgorithmMismatch(format!(
            "a {family:?} key (kid {:?}) fits none of the allowed algorithms",
            key.kid
        )));
    }
    Ok(entries)
}

/// Rejects key material that could never verify anything.
fn check_key_material(provider: &CryptoProvider, key: &Key) -> Result<(), ConfigError> {
    let invalid = |kind: jsonwebtoken::errors::ErrorKind| ConfigError::InvalidKey(kind.into());
    use jsonwebtoken::errors::ErrorKind;
    match (key.decoding.family(), key.decoding.kind()) {
        (AlgorithmFamily::Hmac, DecodingKeyKind::SecretOrDer(secret)) if secret.is_empty() => {
            Err(invalid(ErrorKind::InvalidKeyFormat))
        }
        (AlgorithmFamily::Rsa, DecodingKeyKind::SecretOrDer(der)) => {
            (provider.key_utils.rsa_pub_components_from_public_key)(der)
                .map(|_| ())
                .map_err(ConfigError::InvalidKey)
        }
        (AlgorithmFamily::Ed, DecodingKeyKind::SecretOrDer(raw)) if raw.len() != 32 => {
            Err(invalid(ErrorKind::InvalidEddsaKey))
        }
        _ => Ok(()),
    }
}

/// Names a key by its `kid` and material, so that the entries of a key that
/// left a key set can be found (the verified-token cache).
pub(crate) fn fingerprint(key: &Key) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.kid.hash(&mut hasher);
    match key.decoding.kind() {
        DecodingKeyKind::SecretOrDer(bytes) => bytes.hash(&mut hasher),
        DecodingKeyKind::RsaModulusExponent { n, e } => (n, e).hash(&mut hasher),
    }
    hasher.finish()
}
