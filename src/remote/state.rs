//! What every clone of a `RemoteKeySet` shares ([`State`]): the current keys,
//! the fetch that stores them, and the single flight that every caller of a
//! fetch shares, with the rate limit for unknown key ids.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use tokio::runtime::Handle;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::key::KeySet;
use crate::metrics::{KeySetMetrics, Refetch};

use super::backup::{self, BackupOrigin};
use super::budget::Budget;
use super::config::{Config, Source};
use super::error::{RemoteKeyError, RemoteKeyErrorKind};
use super::fetch::{ACCEPT_JWK_SET, Fetcher};
use super::metadata::AuthorizationServerMetadata;
use super::url::Target;
use super::{cache_policy, discovery, document};

/// One stored document's keys.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// 1 for the first document stored, then +1 for each different one (a
    /// refetched document identical to the current one keeps its generation).
    pub(crate) generation: u64,
    /// The usable keys.
    pub(crate) keys: KeySet,
}

/// What every clone of a [`RemoteKeySet`](super::RemoteKeySet) shares.
pub(super) struct State {
    pub(super) config: Config,
    source: Source,
    fetcher: Fetcher,
    /// The runtime the set was built on: fetches and the background task run
    /// there, whoever asks for them.
    pub(super) runtime: Handle,
    /// The metadata found by discovery and its `jwks_uri`, once read.
    discovered: OnceLock<Discovered>,
    current: RwLock<Current>,
    flight: Mutex<Flight>,
    /// When the background task should fetch next.
    pub(super) next_refresh: Mutex<Instant>,
    pub(super) background: Mutex<Option<AbortHandle>>,
    /// The document last written to the backup, and its fetch time.
    backup_written: Mutex<Option<(Bytes, SystemTime)>>,
    /// Whether the backup was read (it is read once, at the first failure).
    backup_read: AtomicBool,
    /// Its metrics, labelled with the configured URL (empty without the
    /// `metrics` feature).
    pub(super) metrics: KeySetMetrics,
}

/// What discovery found, kept for the life of the set.
struct Discovered {
    jwks: Target,
    metadata: AuthorizationServerMetadata,
}

/// The current keys and the document they came from.
#[derive(Default)]
struct Current {
    snapshot: Option<Arc<Snapshot>>,
    document: Bytes,
    /// The last generation given: kept when stale keys are dropped, so that
    /// the next document has a new one.
    generation: u64,
    /// When the keys become too stale to use (`max_staleness` after the last
    /// good fetch); `None` for never, or without keys.
    stale_at: Option<Instant>,
}

/// Locks `mutex`; a panic elsewhere while it was held leaves nothing half-done
/// here (every critical section is a plain assignment), so poisoning is ignored.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fetch in flight, as every waiter sees it: it runs in its own task, so
/// it ends (and stores its document) even if every waiter gives up.
type FlightFuture = Shared<BoxFuture<'static, Result<(), RemoteKeyError>>>;

/// The single-flight and rate-limit state.
struct Flight {
    /// The fetch in flight and its number.
    in_flight: Option<(u64, FlightFuture)>,
    /// The number of the next fetch.
    next_id: u64,
    /// The fetches tokens with unknown key ids may still start.
    unknown_kids: Budget,
}

impl State {
    /// No keys yet, no fetch yet, and the background refresh due at once.
    pub(super) fn new(config: Config, source: Source, fetcher: Fetcher, runtime: Handle) -> Self {
        let unknown_kids = Budget::new(
            config.unknown_kid_burst,
            config.unknown_kid_interval,
            Instant::now(),
        );
        // The configured URL, never the one discovery finds: one label for
        // the life of the set.
        let metrics = KeySetMetrics::new(&match &source {
            Source::Jwks(target) => Arc::clone(&target.text),
            Source::Discovery { issuer, .. } => Arc::from(issuer.as_str()),
        });
        Self {
            metrics,
            config,
            source,
            fetcher,
            runtime,
            discovered: OnceLock::new(),
            current: RwLock::new(Current::default()),
            flight: Mutex::new(Flight {
                in_flight: None,
                next_id: 0,
                unknown_kids,
            }),
            next_refresh: Mutex::new(Instant::now()),
            background: Mutex::new(None),
            backup_written: Mutex::new(None),
            backup_read: AtomicBool::new(false),
        }
    }

    pub(super) fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshot
            .clone()
    }

    /// The JWK Set's URL when known, else the first URL of the metadata.
    pub(super) fn shown_url(&self) -> Arc<str> {
        match (&self.source, self.discovered.get()) {
            (Source::Jwks(target), _) => Arc::clone(&target.text),
            (Source::Discovery { .. }, Some(found)) => Arc::clone(&found.jwks.text),
            (Source::Discovery { issuer, urls }, None) => urls
                .first()
                .map_or_else(|| Arc::from(issuer.as_str()), |url| Arc::clone(&url.text)),
        }
    }

    /// The metadata found by discovery, once found.
    pub(super) fn metadata(&self) -> Option<&AuthorizationServerMetadata> {
        self.discovered.get().map(|found| &found.metadata)
    }

    /// One fetch, within the timeout: the metadata if its `jwks_uri` is not
    /// known yet, then the JWK Set, stored if good.
    async fn fetch(&self) -> Result<(), RemoteKeyError> {
        let timeout = self.config.timeout;
        let fetch = async {
            let jwks = self.jwks_target().await?;
            let answer = self.fetcher.get(&jwks, ACCEPT_JWK_SET).await?;
            let keys = document::key_set(&answer.body, self.config.max_keys)
                .map_err(|e| e.with_url(&jwks.text))?;
            let lifetime = self.config.cache.lifetime(&answer.headers);
            self.store(answer.body, keys, lifetime, &jwks.text);
            Ok(())
        };
        tokio::time::timeout(timeout, fetch)
            .await
            .unwrap_or_else(|_| {
                Err(RemoteKeyError::new(
                    RemoteKeyErrorKind::Timeout,
                    format!("no complete answer within {timeout:?}"),
                )
                .with_url(&self.shown_url()))
            })
    }

    async fn jwks_target(&self) -> Result<Target, RemoteKeyError> {
        let (issuer, urls) = match &self.source {
            Source::Jwks(target) => return Ok(target.clone()),
            Source::Discovery { issuer, urls } => (issuer, urls),
        };
        if let Some(found) = self.discovered.get() {
            return Ok(found.jwks.clone());
        }
        let metadata = discovery::find_metadata(&self.fetcher, issuer, urls).await?;
        let jwks = discovery::jwks_target(&metadata, self.config.allow_http)?;
        let found = self
            .discovered
            .get_or_init(|| Discovered { jwks, metadata });
        Ok(found.jwks.clone())
    }

    /// Stores a good document and plans the next background refresh. An
    /// identical document keeps the current snapshot and its generation (so
    /// whatever was derived from it stays valid).
    fn store(&self, document: Bytes, keys: KeySet, lifetime: Duration, url: &str) {
        let generation = self.replace(document, keys, Duration::ZERO);
        // Refreshed before the keys grow too stale, not only before the
        // document expires (`Config::check` keeps this within the bounds).
        let lifetime = lifetime.min(self.config.max_staleness);
        self.metrics.stored();
        *lock(&self.next_refresh) = Instant::now() + cache_policy::refresh_delay(lifetime);
        tracing::debug!(
            target: "tower_jwt_auth",
            url,
            generation,
            lifetime_secs = lifetime.as_secs(),
            "JWK Set fetched",
        );
    }

    /// Makes `document` the current one, fetched `age` ago; its generation.
    fn replace(&self, document: Bytes, keys: KeySet, age: Duration) -> u64 {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let generation = match &current.snapshot {
            Some(snapshot) if current.document == document => snapshot.generation,
            _ => {
                current.generation += 1;
                let generation = current.generation;
                current.snapshot = Some(Arc::new(Snapshot { generation, keys }));
                current.document = document;
                generation
            }
        };
        current.stale_at = self
            .config
            .max_staleness
            .checked_sub(age)
            .and_then(|left| Instant::now().checked_add(left));
        generation
    }

    /// When the current keys become too stale to use, if ever.
    pub(super) fn stale_at(&self) -> Option<Instant> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .stale_at
    }

    /// Drops the keys once they are older than `max_staleness`: requests
    /// are answered `503` until a fetch succeeds. Logged once.
    pub(super) fn drop_if_stale(&self) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.stale_at.is_none_or(|at| at > Instant::now()) {
            return;
        }
        current.stale_at = None;
        current.document = Bytes::new();
        if current.snapshot.take().is_none() {
            return;
        }
        drop(current);
        tracing::warn!(
            target: "tower_jwt_auth",
            url = %self.shown_url(),
            max_staleness_secs = self.config.max_staleness.as_secs(),
            "JWK Set keys dropped: no good fetch for longer than max_staleness; \
             requests that need keys are answered 503 until a fetch succeeds",
        );
    }

    /// Which configuration a backup must belong to.
    fn backup_origin(&self) -> BackupOrigin {
        match &self.source {
            Source::Jwks(target) => BackupOrigin::JwksUri(target.text.to_string()),
            Source::Discovery { issuer, .. } => BackupOrigin::Issuer(issuer.clone()),
        }
    }

    /// After a good fetch: writes the current document to the backup when
    /// it differs from the one written, or when the time written lags the
    /// fetch by more than [`Self::backup_lag`]. A failure is logged, and
    /// changes nothing else.
    async fn save_backup(&self) {
        let Some(store) = &self.config.backup else {
            return;
        };
        let document = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .document
            .clone();
        let now = SystemTime::now();
        if let Some((written, at)) = &*lock(&self.backup_written)
            && *written == document
            && now
                .duration_since(*at)
                .is_ok_and(|lag| lag < self.backup_lag())
        {
            return;
        }
        let record = match backup::encode(&self.backup_origin(), &document, now) {
            Ok(record) => record,
            Err(why) => return self.warn_backup(&format!("cannot write it: {why}")),
        };
        let timeout = self.config.timeout;
        match tokio::time::timeout(timeout, store.save(record)).await {
            Ok(Ok(())) => *lock(&self.backup_written) = Some((document, now)),
            Ok(Err(error)) => self.warn_backup(&format!("cannot write it: {error}")),
            Err(_) => self.warn_backup(&format!("cannot write it within {timeout:?}")),
        }
    }

    /// How far the time in the backup may lag the last good fetch: an eighth
    /// of `max_staleness` (a backup is refused a little early, never late),
    /// at most an hour; an identical document is written again only then.
    fn backup_lag(&self) -> Duration {
        (self.config.max_staleness / 8).min(Duration::from_secs(60 * 60))
    }

    /// After a failed fetch, before any document arrived: the backup's
    /// document, if it is usable (see `backup::restore`). Read once.
    async fn restore_backup(&self) {
        let Some(store) = &self.config.backup else {
            return;
        };
        if self.snapshot().is_some() || self.backup_read.swap(true, Ordering::SeqCst) {
            return;
        }
        let limit = self
            .config
            .max_document_size
            .saturating_add(backup::ENVELOPE);
        let timeout = self.config.timeout;
        let record = match tokio::time::timeout(timeout, store.load(limit)).await {
            Ok(Ok(Some(record))) => record,
            Ok(Ok(None)) => return self.warn_backup("none was written yet"),
            Ok(Err(error)) => return self.warn_backup(&format!("cannot read it: {error}")),
            Err(_) => return self.warn_backup(&format!("cannot read it within {timeout:?}")),
        };
        let restored = match backup::restore(
            &record,
            &self.backup_origin(),
            self.config.max_keys,
            self.config.max_staleness,
            SystemTime::now(),
        ) {
            Ok(restored) => restored,
            Err(why) => return self.warn_backup(&format!("not used: {why}")),
        };
        let generation = self.replace(restored.document.clone(), restored.keys, restored.age);
        *lock(&self.backup_written) = Some((restored.document, restored.fetched_at));
        tracing::warn!(
            target: "tower_jwt_auth",
            url = %self.shown_url(),
            backup = %self.config.backup.as_ref().map(|b| b.describe()).unwrap_or_default(),
            age_secs = restored.age.as_secs(),
            generation,
            "the identity provider is down: using the JWK Set backup fetched {} s ago \
             until a fetch succeeds",
            restored.age.as_secs(),
        );
    }

    /// One line per backup that cannot be written or used.
    fn warn_backup(&self, problem: &str) {
        tracing::warn!(
            target: "tower_jwt_auth",
            url = %self.shown_url(),
            backup = %self.config.backup.as_ref().map(|b| b.describe()).unwrap_or_default(),
            "JWK Set backup: {problem}",
        );
    }

    /// The fetch in flight, or a new one.
    pub(super) fn join_or_start(self: &Arc<Self>) -> FlightFuture {
        let mut flight = lock(&self.flight);
        match &flight.in_flight {
            Some((_, running)) => running.clone(),
            None => self.start(&mut flight),
        }
    }

    /// For a token whose key id the set lacks: the fetch in flight; else a
    /// new one if the budget for unknown key ids has one left, else `None`.
    pub(super) fn join_or_start_limited(self: &Arc<Self>) -> Option<FlightFuture> {
        let mut flight = lock(&self.flight);
        if let Some((_, running)) = &flight.in_flight {
            self.metrics.refetch(Refetch::Joined);
            return Some(running.clone());
        }
        if !flight.unknown_kids.spend(Instant::now()) {
            self.metrics.refetch(Refetch::Limited);
            return None;
        }
        self.metrics.refetch(Refetch::Started);
        Some(self.start(&mut flight))
    }

    /// Starts a fetch in a task of its own; called with `flight` locked.
    fn start(self: &Arc<Self>, flight: &mut Flight) -> FlightFuture {
        let id = flight.next_id;
        flight.next_id += 1;
        self.metrics.fetch_started();
        let state = Arc::clone(self);
        let task = self.runtime.spawn(async move {
            // Made inside the task, so that it also clears the flight if the
            // fetch panics, but never while `start` holds the lock.
            let end = EndOfFlight { state, id };
            let result = end.state.fetch().await;
            match &result {
                Ok(()) => end.state.save_backup().await,
                Err(error) => {
                    end.state.metrics.fetch_failed();
                    end.state.restore_backup().await;
                    end.state.warn(error);
                }
            }
            result
        });
        let weak = Arc::downgrade(self);
        let running = async move {
            task.await.unwrap_or_else(|e| {
                // The task was cancelled (the runtime is shutting down) or
                // panicked, maybe before it ever ran: let the next caller
                // start afresh.
                if let Some(state) = weak.upgrade() {
                    state.end_flight(id);
                }
                Err(RemoteKeyError::new(
                    RemoteKeyErrorKind::Cancelled,
                    if e.is_panic() {
                        "the fetch panicked"
                    } else {
                        "the fetch was cancelled"
                    },
                ))
            })
        }
        .boxed()
        .shared();
        flight.in_flight = Some((id, running.clone()));
        running
    }

    /// Forgets fetch `id` if it is the one in flight.
    fn end_flight(&self, id: u64) {
        let mut flight = lock(&self.flight);
        if flight.in_flight.as_ref().is_some_and(|(i, _)| *i == id) {
            flight.in_flight = None;
        }
    }

    /// One line per failed fetch: the URL, the cause, and what is served now.
    fn warn(&self, error: &RemoteKeyError) {
        let url = self.shown_url();
        let cause = error.cause();
        if self.snapshot().is_some() {
            tracing::warn!(
                target: "tower_jwt_auth",
                url = %url,
                kind = ?error.kind(),
                "JWK Set fetch failed, still using the last good key set: {cause}",
            );
        } else {
            tracing::warn!(
                target: "tower_jwt_auth",
                url = %url,
                kind = ?error.kind(),
                "JWK Set fetch failed, no keys yet: {cause}",
            );
        }
    }
}

impl Drop for State {
    fn drop(&mut self) {
        if let Some(background) = lock(&self.background).take() {
            background.abort();
        }
    }
}

/// Ends the flight when the fetch task ends, however it ends.
struct EndOfFlight {
    state: Arc<State>,
    id: u64,
}

impl Drop for EndOfFlight {
    fn drop(&mut self) {
        self.state.end_flight(self.id);
    }
}
