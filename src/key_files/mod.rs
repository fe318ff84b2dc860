//! Keys read from files and read again while the layer runs ([`KeyFiles`]),
//! such as a Kubernetes Secret mounted as a volume.
//!
//! - `builder`: which files, how often, how large ([`KeyFilesBuilder`]);
//! - `file`: one file and how its bytes become keys (the parsers of
//!   `crate::key`);
//! - `state`: what clones share: the current keys, one poll's logic;
//! - `poll`: the background task on tokio's timer;
//! - `keys`: the files as a `KeyFeed` of the verifier;
//! - `error`: [`KeyFilesError`].

mod builder;
mod error;
mod file;
mod keys;
mod poll;
mod state;

use std::fmt;
use std::sync::Arc;

use crate::key::KeySet;
use state::{Snapshot, State};

pub use builder::{DEFAULT_MAX_KEY_FILE_SIZE, DEFAULT_POLL_INTERVAL, KeyFilesBuilder};
pub use error::{KeyFilesError, KeyFilesErrorKind};

/// Verification keys read from files, and read again while the layer runs:
/// PEM public keys, HMAC secrets, JWK Set documents, such as those of a
/// Kubernetes Secret or ConfigMap mounted as a volume.
///
/// Built once with [`KeyFiles::jwk_set`], [`KeyFiles::pem`],
/// [`KeyFiles::hmac`] or [`KeyFiles::builder`] (several files, whose keys
/// are then one set), then given to the layer with
/// [`JwtAuthBuilder::key_files`](crate::JwtAuthBuilder::key_files) or to one
/// issuer with [`TrustedIssuer::key_files`](crate::TrustedIssuer::key_files).
/// Clones share the keys and one background task, which ends when the last
/// clone is dropped.
///
/// - **The first reading** happens in [`build`](KeyFilesBuilder::build),
///   which fails when a file is missing, too large, not of its format, or
///   yields no usable key: a server never starts without keys.
/// - **Changes.** Every [poll interval](KeyFilesBuilder::poll_interval) (1 s
///   by default) the files are read again (on tokio's blocking pool). When
///   their bytes differ from the current version's, they are read once more
///   a moment later (half the interval, at most 100 ms): two equal readings
///   are a new version, two different ones a write in progress, looked at
///   again at the next poll. A new version that parses and yields at least
///   one usable key replaces the old keys **atomically**: a request uses
///   the old set or the new one, never a mix. Keys in both versions verify
///   throughout; tokens of a key that left are refused from the first
///   request that meets the new version (and dropped from the token cache).
///   A new key is in use at most about one interval plus 100 ms after it
///   was written (measured: see BENCHMARKS.md).
/// - **Broken versions.** A version that cannot be used (a file missing,
///   half-written, empty, garbage, too large, an HMAC secret too short, a
///   JWK Set without a usable key) keeps the last good keys, and is logged
///   once with `tracing::warn!` (target `tower_jwt_auth`, fields `path` and
///   `kind`), however many polls see it; a new good version is logged at
///   `info`.
/// - **Kubernetes.** A mounted Secret's file is a symlink
///   (`key.pem -> ..data/key.pem`, `..data -> ..2026_12_06_10_00_00.123`),
///   and an update renames a new `..data` symlink over the old one. Every
///   read opens the path afresh, following the symlinks as they are at that
///   moment, so the swap is seen as a whole; so are a file rewritten in
///   place and a new file renamed over the old one.
///
/// **Why polling, and not file system events** (`notify`, inotify): an event
/// watch follows an inode, and a Kubernetes update never writes the watched
/// file, it swaps a symlink two levels up and deletes the old directory, so a
/// watch on the file dies with it and one on the directory must be renewed
/// after each swap; events are missed or not delivered at all on network and
/// some overlay file systems, so a watcher needs a polling fallback anyway.
/// Reading a few small files every second costs microseconds, needs no new
/// dependency and behaves the same on every file system. Comparing the bytes
/// rather than the modification time catches rewrites within the time
/// stamps' granularity too.
///
/// A PEM or HMAC file's key has no `kid`; give keys ids with a JWK Set file.
/// The layer allows the algorithms the files may hold unless
/// [`algorithms`](crate::JwtAuthBuilder::algorithms) narrows them: a PEM file's one, `HS256`, `HS384`, `HS512` for
/// an HMAC file, every one for a JWK Set (each key still verifies only its
/// own family's, or its `alg`'s).
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::{JwtAuthLayer, KeyFiles};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("key-files-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("jwks.json");
/// # std::fs::write(&path, r#"{"keys":[{"kty":"oct","kid":"2026-12","k":"dGhlIHNlY3JldCBvZiBEZWNlbWJlciwgMzIgYnl0ZXM"}]}"#)?;
/// // /etc/jwt/jwks.json, say: a Secret's key mounted as a file.
/// let keys = KeyFiles::jwk_set(&path)
///     .poll_interval(Duration::from_secs(1))
///     .build()?;
/// assert_eq!(keys.keys().keys()[0].kid(), Some("2026-12"));
/// let layer = JwtAuthLayer::<serde_json::Value>::builder()
///     .key_files(keys)
///     .build()?;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct KeyFiles {
    state: Arc<State>,
}

impl KeyFiles {
    /// A builder without files yet.
    pub fn builder() -> KeyFilesBuilder {
        KeyFilesBuilder::default()
    }

    /// A builder for the JWK Set file at `path`; see
    /// [`KeyFilesBuilder::jwk_set`].
    pub fn jwk_set(path: impl Into<std::path::PathBuf>) -> KeyFilesBuilder {
        Self::builder().jwk_set(path)
    }

    /// A builder for the PEM public key file at `path`, for `algorithm`;
    /// see [`KeyFilesBuilder::pem`].
    pub fn pem(
        path: impl Into<std::path::PathBuf>,
        algorithm: jsonwebtoken::Algorithm,
    ) -> KeyFilesBuilder {
        Self::builder().pem(path, algorithm)
    }

    /// A builder for the HMAC secret file at `path` (its raw bytes); see
    /// [`KeyFilesBuilder::hmac`].
    pub fn hmac(path: impl Into<std::path::PathBuf>) -> KeyFilesBuilder {
        Self::builder().hmac(path)
    }

    /// The usable keys of the current version. A copy, for diagnostics: the
    /// verifier reads the keys without copying them.
    pub fn keys(&self) -> KeySet {
        self.snapshot().keys.clone()
    }

    /// The generation of the current keys: 1 for the version read at build
    /// time, +1 for each new one. For tests and diagnostics.
    #[doc(hidden)]
    pub fn generation(&self) -> u64 {
        self.snapshot().generation
    }

    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.state.snapshot()
    }
}

impl fmt::Debug for KeyFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snapshot = self.snapshot();
        f.debug_struct("KeyFiles")
            .field(
                "paths",
                &self.state.files.iter().map(|f| &f.path).collect::<Vec<_>>(),
            )
            .field("poll_interval", &self.state.interval)
            .field("generation", &snapshot.generation)
            .field("keys", &snapshot.keys.keys().len())
            .field("skipped", &snapshot.skipped)
            .finish()
    }
}
