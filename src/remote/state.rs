//! What every clone of a `RemoteKeySet` shares ([`State`]): the current keys,
//! the fetch that stores them, and the single flight that every caller of a
//! fetch shares, with the rate limit for unknown key ids.

use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use tokio::runtime::Handle;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::key::KeySet;
use crate::metrics::{KeySetMetrics, Refetch};

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
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let generation = match &current.snapshot {
            Some(snapshot) if current.document == document => snapshot.generation,
            previous => {
                let generation = previous.as_ref().map_or(1, |s| s.generation + 1);
                current.snapshot = Some(Arc::new(Snapshot { generation, keys }));
                current.document = document;
                generation
            }
        };
        drop(current);
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
            if let Err(error) = &result {
                end.state.metrics.fetch_failed();
                end.state.warn(error);
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
