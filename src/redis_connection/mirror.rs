//! The local mirror's settings and [`MirrorStats`]: what the redis crate's
//! client-side cache is told, and what it counted.

use std::num::NonZeroUsize;
use std::time::Duration;

use ::redis::caching::{CacheConfig, CacheMode, CacheStatistics};
use ::redis::{Cmd, CommandCacheConfig};

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
    /// Keys answered locally, without a round trip.
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
    /// The redis crate's cache: opt-in (only the commands [`mirrored`](Self::mirrored)
    /// marks are cached, so that the other stores' commands are never
    /// answered locally), with every entry kept at most the bound.
    pub(super) fn cache_config(self) -> CacheConfig {
        CacheConfig::new()
            .set_mode(CacheMode::OptIn)
            .set_size(self.max_entries)
            .set_default_client_ttl(self.bound)
    }

    /// Marks `cmd` to be answered from the mirror when it can, and its
    /// answer kept there for at most the bound.
    pub(super) fn mark(self, cmd: &mut Cmd) {
        cmd.set_cache_config(CommandCacheConfig::new().set_client_side_ttl(self.bound));
    }
}
