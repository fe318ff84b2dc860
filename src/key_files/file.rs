//! One key file as configured ([`KeyFile`]): where it is and how its bytes
//! become keys, with the parsers of `crate::key` (PEM, JWK Set, HMAC).

use std::fs::File;
use std::io::Read as _;
use std::path::PathBuf;

use jsonwebtoken::{Algorithm, AlgorithmFamily};

use super::error::{KeyFilesError, KeyFilesErrorKind};
use crate::key::{Key, KeySet};

/// What a file holds.
#[derive(Debug, Clone, Copy)]
pub(super) enum Format {
    /// A JWK Set document (`{"keys": [...]}`).
    JwkSet,
    /// One public key in PEM, for the one algorithm given.
    Pem(Algorithm),
    /// An HMAC secret: the file's bytes, exactly.
    Hmac,
    /// An HMAC secret in standard base64, surrounding whitespace ignored.
    HmacBase64,
}

/// One key file as configured.
#[derive(Debug, Clone)]
pub(super) struct KeyFile {
    pub(super) path: PathBuf,
    pub(super) format: Format,
}

/// The bounds on what a file may hold.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// The largest file, in bytes.
    pub(super) max_file_size: usize,
    /// The most keys a JWK Set may hold, usable or not.
    pub(super) max_keys: usize,
}

impl KeyFile {
    /// The file's bytes, at most `limit` of them. Opening the path follows
    /// its symlinks at that moment, so a Kubernetes volume's `..data` swap
    /// is seen whole: the old directory's file or the new one's.
    pub(super) fn read(&self, limit: usize) -> Result<Vec<u8>, KeyFilesError> {
        let unreadable = |e: std::io::Error| {
            KeyFilesError::new(KeyFilesErrorKind::Unreadable, "cannot be read")
                .with_path(&self.path)
                .with_source(e)
        };
        let file = File::open(&self.path).map_err(unreadable)?;
        let mut bytes = Vec::new();
        // One byte more than allowed tells a file too large from one at the limit.
        file.take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() > limit {
            return Err(KeyFilesError::new(
                KeyFilesErrorKind::TooLarge,
                format!("larger than the limit of {limit} bytes"),
            )
            .with_path(&self.path));
        }
        Ok(bytes)
    }

    /// The keys in `bytes` (the file's content), and how many a JWK Set
    /// holds that cannot verify signatures here; each key checked as the
    /// layer's build checks a static key (`check`).
    pub(super) fn keys(
        &self,
        bytes: &[u8],
        limits: Limits,
        check: &dyn Fn(&Key) -> Result<(), crate::ConfigError>,
    ) -> Result<(Vec<Key>, usize), KeyFilesError> {
        let invalid = |message: &str| {
            KeyFilesError::new(KeyFilesErrorKind::Invalid, message).with_path(&self.path)
        };
        if bytes.is_empty() {
            return Err(invalid("the file is empty"));
        }
        let single = |key: Result<Key, crate::ConfigError>, what: &str| {
            let key = key.map_err(|e| invalid(what).with_source(e))?;
            check(&key).map_err(|e| invalid("the key cannot verify signatures").with_source(e))?;
            Ok((vec![key], 0))
        };
        match self.format {
            Format::Pem(algorithm) => {
                let key = match algorithm.family() {
                    AlgorithmFamily::Rsa => Key::rsa_pem(bytes),
                    AlgorithmFamily::Ec => Key::ec_pem(bytes),
                    AlgorithmFamily::Ed => Key::ed_pem(bytes),
                    AlgorithmFamily::Hmac => {
                        return Err(KeyFilesError::new(
                            KeyFilesErrorKind::InvalidSetting,
                            format!("{algorithm:?} keys are secrets, not PEM public keys"),
                        )
                        .with_path(&self.path));
                    }
                };
                single(
                    key.map(|key| key.with_algorithm(algorithm)),
                    &format!("not a PEM public key for {algorithm:?}"),
                )
            }
            Format::Hmac => single(Ok(Key::hmac(bytes)), "not an HMAC secret"),
            Format::HmacBase64 => {
                let text = std::str::from_utf8(bytes).map_err(|_| invalid("not base64"))?;
                single(Key::hmac_base64(text.trim()), "not base64")
            }
            Format::JwkSet => jwk_set(bytes, limits, check).map_err(|e| e.with_path(&self.path)),
        }
    }
}

/// The usable keys of a JWK Set and how many were skipped. Keys that cannot
/// verify here are skipped, as [`KeySet::from_json`] skips them; the set is
/// refused when it holds none that can, or more than the key limit.
fn jwk_set(
    bytes: &[u8],
    limits: Limits,
    check: &dyn Fn(&Key) -> Result<(), crate::ConfigError>,
) -> Result<(Vec<Key>, usize), KeyFilesError> {
    let set = KeySet::from_json(bytes).map_err(|e| {
        KeyFilesError::new(
            KeyFilesErrorKind::Invalid,
            "not a JWK Set (a JSON object with a `keys` array)",
        )
        .with_source(e)
    })?;
    let total = set.keys().len() + set.skipped();
    if total > limits.max_keys {
        return Err(KeyFilesError::new(
            KeyFilesErrorKind::TooLarge,
            format!(
                "the JWK Set holds {total} keys, more than the limit of {}",
                limits.max_keys
            ),
        ));
    }
    let mut skipped = set.skipped();
    let mut first_reason = None;
    let mut keys = Vec::new();
    for key in set {
        match check(&key) {
            Ok(()) => keys.push(key),
            Err(e) => {
                skipped += 1;
                first_reason.get_or_insert(e);
            }
        }
    }
    if keys.is_empty() {
        let error = KeyFilesError::new(
            KeyFilesErrorKind::NoUsableKeys,
            format!("none of the JWK Set's {total} keys can verify signatures here"),
        );
        return Err(match first_reason {
            Some(reason) => error.with_source(reason),
            None => error,
        });
    }
    Ok((keys, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(name: &str, bytes: &[u8], format: Format) -> (KeyFile, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "tower-jwt-auth-key-file-{}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        std::fs::write(&path, bytes).unwrap();
        (KeyFile { path, format }, dir)
    }

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_refused() {
        let (file, dir) = file_of("limit", &[b'x'; 64], Format::Hmac);
        assert_eq!(file.read(64).unwrap().len(), 64);
        let error = file.read(63).unwrap_err();
        assert_eq!(error.kind(), KeyFilesErrorKind::TooLarge);
        assert_eq!(error.path(), Some(file.path.as_path()));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn base64_secrets_ignore_surrounding_whitespace_and_raw_ones_do_not() {
        let limits = Limits {
            max_file_size: 1024,
            max_keys: 8,
        };
        let ok = |_: &Key| Ok(());
        let base64 = KeyFile {
            path: PathBuf::from("secret"),
            format: Format::HmacBase64,
        };
        // 33 bytes, base64, with the newline `echo` adds.
        let text = b"dGhlIHNlY3JldCBvZiBEZWNlbWJlciwgMzMgYnl0ZXMh\n";
        let (keys, _) = base64.keys(text, limits, &ok).unwrap();
        assert_eq!(keys[0].algorithms(), [Algorithm::HS256]);
        let raw = KeyFile {
            path: PathBuf::from("secret"),
            format: Format::Hmac,
        };
        let (keys, _) = raw.keys(b"x\n", limits, &ok).unwrap();
        assert_eq!(crate::key::hmac_length(&keys[0].decoding), Some(2));
        let error = raw.keys(b"", limits, &ok).unwrap_err();
        assert_eq!(error.to_string(), "key file secret: the file is empty");
    }
}
