//! The local mirror's settings and [`MirrorStats`]: what the redis crate's
//! client-side cache is told, and what it counted.

use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ::redis::aio::AsyncPushSender;
use ::redis::caching::{CacheConfig, CacheMode, CacheStatistics};
use ::redis::{Cmd, CommandCacheConfig, PushInfo, PushKind};

/// The default bound on the staleness of a mirrored answer: 1 s.
///
/// Every answer the mirror keeps is dropped at the latest this long after
/// the request that read it was sent, whatever happens to the connection and
/// its invalidation pushes; usually an invalidation drops it within a network
/// round trip of the write. One second is well below the lifetime of any
/// access token (minutes), at the scale of a person's logout; it costs each
/// server one round trip per second per token in use, instead of one per
/// request.
pub const DEFAULT_MIRROR_STALENESS_BOUND: Duration = Duration::from_secs(1);

/// The counts of a connection's local mirror, from the redis crate's
/// client-side cache ([`RedisConnection::mirror_stats`](super::RedisConnection::mirror_stats)).
///
/// The counts only grow, from the connection's start, and are shared by its
/// clones; compare two readings to see what happened between them.
///
/// ```
/// use tower_jwt_auth::MirrorStats;
///
/// let before = MirrorStats::default();
/// let after = MirrorStats { hits: 9, misses: 1, ..before };
/// assert_eq!(after.hits - before.hits, 9);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MirrorStats {
    /// Keys answered locally, without a round trip: by a store's table of
    /// answers, or by the redis crate's cache.
    pub hits: u64,
    /// Keys asked of Redis: never read yet, invalidated, past the staleness
    /// bound, or read on a new connection.
    pub misses: u64,
    /// Answers dropped: invalidated by Redis, past the bound, or left by an
    /// earlier connection.
    pub invalidations: u64,
}

impl From<CacheStatistics> for MirrorStats {
    fn from(statistics: CacheStatistics) -> Self {
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        Self {
            hits: count(statistics.hit),
            misses: count(statistics.miss),
            invalidations: count(statistics.invalidate),
        }
    }
}

/// What a connection with a mirror was built with.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mirror {
    pub(super) max_entries: NonZeroUsize,
    pub(super) bound: Duration,
}

impl Mirror {
    /// How long each of the mirror's two tiers keeps an answer: half the
    /// bound. The redis crate's cache keeps a key's answer at most this long
    /// after the read was sent; a store's table of answers, filled from that
    /// cache or from Redis, keeps its answer at most this long after it
    /// asked. So no answer is served more than the bound after Redis gave
    /// it.
    pub(super) fn tier_lifetime(self) -> Duration {
        self.bound / 2
    }

    /// The redis crate's cache: opt-in (only the commands [`mark`](Self::mark)
    /// marks are cached, so that the other stores' commands are never
    /// answered locally), with every entry kept at most its tier's lifetime.
    pub(super) fn cache_config(self) -> CacheConfig {
        CacheConfig::new()
            .set_mode(CacheMode::OptIn)
            .set_size(self.max_entries)
            .set_default_client_ttl(self.tier_lifetime())
    }

    /// Marks `cmd` to be answered from the mirror when it can, and its
    /// answer kept there for at most its tier's lifetime.
    pub(super) fn mark(self, cmd: &mut Cmd) {
        let ttl = self.tier_lifetime();
        cmd.set_cache_config(CommandCacheConfig::new().set_client_side_ttl(ttl));
    }
}

/// What the clones of a mirrored connection share: the count of the pushes
/// after which an answer kept outside the redis crate's cache may be stale,
/// and the keys such answers gave.
#[derive(Debug, Default)]
pub(super) struct Pushes {
    /// Bumped by every invalidation Redis pushes (for any key this
    /// connection tracks, or all of them) and by every lost connection,
    /// whose invalidations are lost with it: an answer read before the last
    /// bump may be stale.
    generation: AtomicU64,
    /// Keys answered by a store's table of answers (`MirrorStats::hits`
    /// counts them with the redis crate's own hits).
    local_hits: AtomicU64,
}

impl Pushes {
    /// The push sender to give the redis crate's connection: called by the
    /// connection task with each push, before the command that follows it
    /// in the stream is answered (through a channel and a task in the
    /// connection manager and the cluster client).
    pub(super) fn sender(self: &Arc<Self>) -> impl AsyncPushSender {
        let pushes = Arc::clone(self);
        move |push: PushInfo| {
            if matches!(push.kind, PushKind::Invalidate | PushKind::Disconnection) {
                pushes.generation.fetch_add(1, Ordering::AcqRel);
            }
            Ok::<(), Infallible>(())
        }
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(super) fn count_local_hits(&self, keys: u64) {
        self.local_hits.fetch_add(keys, Ordering::Relaxed);
    }

    pub(super) fn local_hits(&self) -> u64 {
        self.local_hits.load(Ordering::Relaxed)
    }
}
