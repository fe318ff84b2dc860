//! What every clone of a `KeyFiles` shares ([`State`]): the files, the
//! current keys, and what the poller has seen.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::task::AbortHandle;

use super::error::KeyFilesError;
use super::file::{KeyFile, Limits};
use crate::crypto::feature_provider;
use crate::key::{Key, KeySet};
use crate::verify::prepare::allowed_entries;

/// One good version of the files, parsed.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// 1 for the version read at build time, then +1 for each new one.
    pub(crate) generation: u64,
    /// The usable keys of every file.
    pub(crate) keys: KeySet,
    /// The keys of JWK Sets that cannot verify signatures here.
    pub(crate) skipped: usize,
}

/// The files' contents as one read found them, or why it failed.
pub(super) type Reading = Result<Vec<Vec<u8>>, KeyFilesError>;

/// Whether two readings found the same thing: the same bytes, or the same
/// failure.
fn same(a: &Reading, b: &Reading) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => a.kind() == b.kind() && a.to_string() == b.to_string(),
        _ => false,
    }
}

/// What every clone of a [`KeyFiles`](super::KeyFiles) shares.
pub(super) struct State {
    pub(super) files: Vec<KeyFile>,
    pub(super) limits: Limits,
    pub(super) interval: Duration,
    current: RwLock<Arc<Snapshot>>,
    /// What the poller has seen; only the poller locks it.
    seen: Mutex<Seen>,
    pub(super) background: Mutex<Option<AbortHandle>>,
}

/// What the poller has seen.
struct Seen {
    /// The contents of the current snapshot's files.
    published: Vec<Vec<u8>>,
    /// The last broken version warned about, so that it is warned about once.
    warned: Option<Reading>,
}

/// Locks `mutex`; every critical section is a plain assignment, so a panic
/// elsewhere leaves nothing half-done and poisoning is ignored.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Checks a key as the layer's build checks a static key, with the crypto
/// backend of this crate's features (without one, the layer checks each key
/// when it prepares it, and skips those that fail).
fn check(key: &Key) -> Result<(), crate::ConfigError> {
    match feature_provider() {
        Some(provider) => allowed_entries(provider, key, None).map(|_| ()),
        None => Ok(()),
    }
}

impl State {
    /// The state of files whose first reading, `contents`, was good.
    pub(super) fn new(
        files: Vec<KeyFile>,
        limits: Limits,
        interval: Duration,
        contents: Vec<Vec<u8>>,
    ) -> Result<Self, KeyFilesError> {
        let (keys, skipped) = parse(&files, &contents, limits)?;
        Ok(Self {
            files,
            limits,
            interval,
            current: RwLock::new(Arc::new(Snapshot {
                generation: 1,
                keys,
                skipped,
            })),
            seen: Mutex::new(Seen {
                published: contents,
                warned: None,
            }),
            background: Mutex::new(None),
        })
    }

    pub(super) fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads every file once (blocking I/O: on tokio's blocking pool).
    pub(super) fn read(&self) -> Reading {
        read(&self.files, self.limits)
    }

    /// One poll: reads the files, and when they changed, reads them again
    /// `settle` later. Two equal readings are a version: published when good,
    /// else warned about once (the current keys stay). Two different
    /// readings are a change in progress (a file being written, a swap
    /// between two files' reads), looked at again at the next poll.
    pub(super) async fn poll(self: &Arc<Self>, settle: Duration) {
        let Some(first) = self.read_off_thread().await else {
            return;
        };
        {
            let mut seen = lock(&self.seen);
            if matches!(&first, Ok(contents) if *contents == seen.published) {
                seen.warned = None;
                return;
            }
            // The broken version already warned about, still there.
            if seen.warned.as_ref().is_some_and(|w| same(w, &first)) {
                return;
            }
        }
        tokio::time::sleep(settle).await;
        let Some(second) = self.read_off_thread().await else {
            return;
        };
        if !same(&first, &second) {
            return;
        }
        let parsed = second
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|contents| parse(&self.files, contents, self.limits));
        let mut seen = lock(&self.seen);
        match (parsed, second) {
            (Ok((keys, skipped)), Ok(contents)) => {
                let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
                let generation = current.generation + 1;
                *current = Arc::new(Snapshot {
                    generation,
                    keys,
                    skipped,
                });
                drop(current);
                seen.published = contents;
                seen.warned = None;
                tracing::info!(
                    target: "tower_jwt_auth",
                    path = %self.shown_path(),
                    generation,
                    "key files changed, new keys in use",
                );
            }
            (Err(error), reading) => {
                if seen.warned.as_ref().is_some_and(|w| same(w, &reading)) {
                    return;
                }
                tracing::warn!(
                    target: "tower_jwt_auth",
                    path = %error.path().map_or_else(|| self.shown_path(), |p| p.display().to_string()),
                    kind = ?error.kind(),
                    "key files changed but cannot be used, still using the last good keys: {}",
                    error.cause(),
                );
                seen.warned = Some(reading);
            }
            // A good parse of a failed reading cannot be.
            (Ok(_), Err(_)) => {}
        }
    }

    /// The paths, for logs: the first one, and how many more.
    fn shown_path(&self) -> String {
        match self.files.as_slice() {
            [] => String::new(),
            [only] => only.path.display().to_string(),
            [first, rest @ ..] => format!("{} (and {} more)", first.path.display(), rest.len()),
        }
    }

    /// [`read`](Self::read) on tokio's blocking pool: a file system that
    /// hangs (a network mount) must not stall a runtime worker. `None` when
    /// the runtime is shutting down.
    async fn read_off_thread(self: &Arc<Self>) -> Option<Reading> {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || state.read()).await.ok()
    }
}

impl Drop for State {
    fn drop(&mut self) {
        if let Some(background) = lock(&self.background).take() {
            background.abort();
        }
    }
}

/// Reads every file once.
pub(super) fn read(files: &[KeyFile], limits: Limits) -> Reading {
    files.iter().map(|f| f.read(limits.max_file_size)).collect()
}

/// The usable keys of every file, and how many JWK Set keys were skipped.
fn parse(
    files: &[KeyFile],
    contents: &[Vec<u8>],
    limits: Limits,
) -> Result<(KeySet, usize), KeyFilesError> {
    let mut keys = Vec::new();
    let mut skipped = 0;
    for (file, bytes) in files.iter().zip(contents) {
        let (found, unusable) = file.keys(bytes, limits, &check)?;
        keys.extend(found);
        skipped += unusable;
    }
    Ok((keys.into_iter().collect(), skipped))
}
