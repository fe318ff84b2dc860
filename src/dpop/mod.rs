//! DPoP (RFC 9449). For now only the replay store of proof ids; this file
//! declares the submodules and re-exports, nothing else.

mod replay;
#[cfg(feature = "redis")]
mod replay_redis;

pub use self::replay::{
    DEFAULT_REPLAY_CAPACITY, DEFAULT_REPLAY_TIMEOUT, MemoryReplays, ReplayAnswer, ReplayCheck,
    ReplayError, ReplayFuture, ReplayStore,
};
#[cfg(feature = "redis")]
pub use self::replay_redis::RedisReplays;
