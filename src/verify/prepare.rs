//! Keys made ready for verification once, when the layer is built.

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKeyKind};

use super::KeyEntry;
use super::signature::SignatureKey;
use crate::error::ConfigError;
use crate::key::{Key, hmac_length, hmac_minimum};

/// The static keys of one issuer, made ready.
pub(crate) struct StaticEntries {
    pub(crate) entries: Vec<KeyEntry>,
    /// How many keys fit none of the allowed algorithms, and were left out.
    pub(crate) skipped: usize,
}

/// One entry per (key, algorithm), each proven usable with the provider and made
/// ready for it now, so that no request meets a key problem or parses a key.
///
/// With `allowed` algorithms, a key that fits none of them is skipped (as a
/// remote key set skips it) and counted.
///
/// # Errors
///
/// No key ([`ConfigError::NoKeys`]); an empty `allowed`; a key's own errors
/// ([`allowed_entries`]); no key left after skipping
/// ([`ConfigError::NoKeyForAlgorithms`]); an allowed algorithm that no key
/// verifies ([`ConfigError::UnverifiableAlgorithm`]).
pub(crate) fn key_entries(
    provider: &'static CryptoProvider,
    keys: Vec<Key>,
    allowed: Option<&[Algorithm]>,
) -> Result<StaticEntries, ConfigError> {
    if keys.is_empty() {
        return Err(ConfigError::NoKeys);
    }
    if allowed.is_some_and(<[Algorithm]>::is_empty) {
        return Err(ConfigError::Empty {
            setting: "algorithms",
        });
    }
    let mut entries = Vec::new();
    let mut skipped = 0;
    for key in &keys {
        match allowed_entries(provider, key, allowed)? {
            Some(fitting) => entries.extend(fitting),
            None => skipped += 1,
        }
    }
    if let Some(allowed) = allowed {
        if entries.is_empty() {
            return Err(ConfigError::NoKeyForAlgorithms {
                algorithms: allowed.to_vec(),
                skipped,
            });
        }
        if let Some(&algorithm) = allowed
            .iter()
            .find(|a| !entries.iter().any(|e| e.algorithm == **a))
        {
            return Err(ConfigError::UnverifiableAlgorithm { algorithm });
        }
    }
    Ok(StaticEntries { entries, skipped })
}

/// The entries of one key for the `allowed` algorithms; `None` when it fits
/// none of them.
///
/// # Errors
///
/// A pinned algorithm outside the key's family
/// ([`ConfigError::AlgorithmMismatch`]); key material that cannot verify
/// ([`ConfigError::InvalidKey`]); an HMAC secret shorter than an algorithm
/// it allows needs ([`ConfigError::ShortHmacSecret`]), whether that
/// algorithm is allowed or not: the key is wrong either way.
pub(crate) fn allowed_entries(
    provider: &'static CryptoProvider,
    key: &Key,
    allowed: Option<&[Algorithm]>,
) -> Result<Option<Vec<KeyEntry>>, ConfigError> {
    let family = key.decoding.family();
    if let Some(bad) = key.algorithms.iter().find(|a| a.family() != family) {
        return Err(ConfigError::AlgorithmMismatch(format!(
            "{bad:?} cannot be used with a {family:?} key"
        )));
    }
    check_key_material(provider, key)?;
    check_hmac_length(key)?;
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
    Ok((!entries.is_empty()).then_some(entries))
}

/// RFC 7518 §3.2: an HMAC secret at least as long as each of its algorithms'
/// hash output, unless the key is a declared legacy secret.
fn check_hmac_length(key: &Key) -> Result<(), ConfigError> {
    let Some(length) = hmac_length(&key.decoding) else {
        return Ok(());
    };
    if key.legacy_short_secret {
        return Ok(());
    }
    for &algorithm in &key.algorithms {
        if let Some(minimum) = hmac_minimum(algorithm)
            && length < minimum
        {
            return Err(ConfigError::ShortHmacSecret {
                algorithm,
                length,
                minimum,
            });
        }
    }
    Ok(())
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
