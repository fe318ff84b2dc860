//! DPoP (RFC 9449). For now only the replay store of proof ids; this file
//! declares the submodules and re-exports, nothing else.
#![allow(dead_code, unreachable_pub)]

mod nonce;
mod proof;
mod replay;
#[cfg(feature = "redis")]
mod replay_redis;
mod target;

pub use self::replay::{
    DEFAULT_REPLAY_CAPACITY, DEFAULT_REPLAY_TIMEOUT, MemoryReplays, ReplayAnswer, ReplayCheck,
    ReplayError, ReplayFuture, ReplayStore,
};
#[cfg(feature = "redis")]
pub use self::replay_redis::RedisReplays;
