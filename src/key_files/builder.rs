//! [`KeyFilesBuilder`]: which files, how often they are polled, how large
//! they may be.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use tokio::runtime::Handle;

use super::KeyFiles;
use super::error::{KeyFilesError, KeyFilesErrorKind};
use super::file::{Format, KeyFile, Limits};
use super::poll;
use super::state::{State, read};

/// How often the files are read unless configured.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The largest key file unless configured: 256 KiB, far more than a JWK Set
/// of 64 RSA-4096 keys needs.
pub const DEFAULT_MAX_KEY_FILE_SIZE: usize = 256 * 1024;

/// The most keys a JWK Set file may hold unless configured (usable or not).
const DEFAULT_MAX_KEYS: usize = 64;

/// A builder for [`KeyFiles`]; see there.
#[derive(Debug, Clone)]
#[must_use]
pub struct KeyFilesBuilder {
    files: Vec<KeyFile>,
    interval: Duration,
    limits: Limits,
}

impl Default for KeyFilesBuilder {
    fn default() -> Self {
        Self {
            files: Vec::new(),
            interval: DEFAULT_POLL_INTERVAL,
            limits: Limits {
                max_file_size: DEFAULT_MAX_KEY_FILE_SIZE,
                max_keys: DEFAULT_MAX_KEYS,
            },
        }
    }
}

impl KeyFilesBuilder {
    fn file(mut self, path: impl Into<PathBuf>, format: Format) -> Self {
        self.files.push(KeyFile {
            path: path.into(),
            format,
        });
        self
    }

    /// Adds a JWK Set file (`{"keys": [...]}`). Its keys' `kid`s choose
    /// among them; keys that cannot verify here (other key types, curves,
    /// `use` other than `sig`) are skipped as [`KeySet::from_json`](crate::KeySet::from_json)
    /// skips them. Unlike a remote JWK Set, `oct` keys (HMAC secrets) are
    /// used: a file is as private as its volume.
    pub fn jwk_set(self, path: impl Into<PathBuf>) -> Self {
        self.file(path, Format::JwkSet)
    }

    /// Adds a public key file in PEM for `algorithm` (RSA for `RS*` and
    /// `PS*`, EC for `ES256` and `ES384`, Ed25519 for `EdDSA`), as
    /// [`Key::rsa_pem`](crate::Key::rsa_pem) and the like read it, pinned to
    /// `algorithm`. The key has no `kid`: it verifies tokens without one, and
    /// tokens whose `kid` no key of the set names.
    pub fn pem(self, path: impl Into<PathBuf>, algorithm: Algorithm) -> Self {
        self.file(path, Format::Pem(algorithm))
    }

    /// Adds an HMAC secret file: its bytes, exactly (a trailing newline is
    /// part of the secret), with [`Key::hmac`](crate::Key::hmac)'s length
    /// rule: at least 32 bytes.
    pub fn hmac(self, path: impl Into<PathBuf>) -> Self {
        self.file(path, Format::Hmac)
    }

    /// Adds an HMAC secret file in standard base64 (surrounding whitespace,
    /// a trailing newline say, ignored), with [`Key::hmac`](crate::Key::hmac)'s
    /// length rule for the decoded bytes.
    pub fn hmac_base64(self, path: impl Into<PathBuf>) -> Self {
        self.file(path, Format::HmacBase64)
    }

    /// How often the files are read (1 s by default): a new version is in
    /// use at most about this long, plus the settle time (half of it, at most
    /// 100 ms), after it appeared.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The largest file accepted, in bytes (256 KiB by default). A larger
    /// one is refused as a whole, and only this much plus one byte is read.
    pub fn max_file_size(mut self, bytes: usize) -> Self {
        self.limits.max_file_size = bytes;
        self
    }

    /// The most keys a JWK Set file may hold, usable or not (64 by
    /// default); one with more is refused as a whole.
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.limits.max_keys = keys;
        self
    }

    /// Reads the files now, and starts polling them on the current tokio
    /// runtime: call it inside the runtime that serves requests.
    ///
    /// # Errors
    ///
    /// No file ([`NoFiles`](KeyFilesErrorKind::NoFiles)); a zero interval,
    /// size or key limit ([`InvalidSetting`](KeyFilesErrorKind::InvalidSetting));
    /// no current runtime ([`NoRuntime`](KeyFilesErrorKind::NoRuntime)); the
    /// first reading's errors: a file missing or unreadable, too large, not
    /// of its format, or with no usable key.
    pub fn build(self) -> Result<KeyFiles, KeyFilesError> {
        let setting =
            |message: &str| KeyFilesError::new(KeyFilesErrorKind::InvalidSetting, message);
        if self.files.is_empty() {
            return Err(KeyFilesError::new(
                KeyFilesErrorKind::NoFiles,
                "no key file was given",
            ));
        }
        if self.interval.is_zero() {
            return Err(setting("the poll interval must not be zero"));
        }
        if self.limits.max_file_size == 0 || self.limits.max_keys == 0 {
            return Err(setting("the size and key limits must not be zero"));
        }
        let runtime = Handle::try_current().map_err(|e| {
            KeyFilesError::new(
                KeyFilesErrorKind::NoRuntime,
                "key files are polled on tokio: build them inside a tokio runtime",
            )
            .with_source(e)
        })?;
        let contents = read(&self.files, self.limits)?;
        let state = Arc::new(State::new(
            self.files,
            self.limits,
            self.interval,
            contents,
        )?);
        poll::spawn(&state, &runtime);
        Ok(KeyFiles { state })
    }
}
