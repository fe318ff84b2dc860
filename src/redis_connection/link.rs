//! [`Link`]: the connection a [`RedisConnection`](super::RedisConnection)
//! runs its commands on, a single node's or a cluster's, behind the one
//! `ConnectionLike` the stores call.

use ::redis::aio::{ConnectionLike, ConnectionManager};
use ::redis::{Cmd, Pipeline, RedisFuture, Value};

/// One Redis, or one Redis Cluster; cloning shares the connection.
#[derive(Clone)]
pub(super) enum Link {
    /// A multiplexed connection to one node that reconnects by itself.
    Single(ConnectionManager),
    /// The cluster client: a multiplexed connection per node, following the
    /// slots, redirects and failovers.
    #[cfg(feature = "redis-cluster")]
    Cluster(::redis::cluster_async::ClusterConnection),
}

impl Link {
    /// What the redis crate's client-side cache counted, when it is on.
    pub(super) fn cache_statistics(&self) -> Option<::redis::caching::CacheStatistics> {
        match self {
            Self::Single(manager) => manager.get_cache_statistics(),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(cluster) => cluster.get_cache_statistics(),
        }
    }
}

impl ConnectionLike for Link {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(manager) => manager.req_packed_command(cmd),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(cluster) => cluster.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(manager) => manager.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(cluster) => cluster.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(manager) => manager.get_db(),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(cluster) => cluster.get_db(),
        }
    }
}
