//! [`KeyFilesError`]: why key files could not be read into keys.

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why key files could not be read into keys: at build time, the build's
/// error; later, the cause of the `tracing::warn!` event that says a new
/// version was refused (the last good keys stay in use).
#[derive(Debug, Clone)]
pub struct KeyFilesError {
    kind: KeyFilesErrorKind,
    path: Option<PathBuf>,
    message: String,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

/// The kind of a [`KeyFilesError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFilesErrorKind {
    /// The builder was given no file.
    NoFiles,
    /// A setting is out of range (a zero poll interval or size limit) or
    /// does not fit its file (a PEM file for an HMAC algorithm).
    InvalidSetting,
    /// [`build`](crate::KeyFilesBuilder::build) was called outside a tokio
    /// runtime, which the polling needs.
    NoRuntime,
    /// A file could not be read: missing, not allowed, a directory.
    Unreadable,
    /// A file is larger than the size limit, or a JWK Set holds more keys
    /// than the key limit.
    TooLarge,
    /// A file's content is not what its format expects: empty, not PEM, not
    /// a JWK Set, not base64, a key that cannot verify (an HMAC secret
    /// too short for its algorithms, say).
    Invalid,
    /// A JWK Set with no key that can verify signatures here.
    NoUsableKeys,
}

impl KeyFilesError {
    pub(super) fn new(kind: KeyFilesErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            path: None,
            message: message.into(),
            source: None,
        }
    }

    pub(super) fn with_path(mut self, path: &Path) -> Self {
        self.path = Some(path.to_owned());
        self
    }

    pub(super) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> KeyFilesErrorKind {
        self.kind
    }

    /// The file it went wrong with, if one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The message and its source's, without the path: for the warning,
    /// whose `path` is a field of its own.
    pub(super) fn cause(&self) -> String {
        match &self.source {
            Some(source) => format!("{}: {source}", self.message),
            None => self.message.clone(),
        }
    }
}

impl fmt::Display for KeyFilesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "key file {}: ", path.display())?;
        }
        f.write_str(&self.message)
    }
}

impl StdError for KeyFilesError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}
