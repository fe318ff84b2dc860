//! The consistency window of revocation across instances: how long after
//! instance A's `revoke` returns instance B's check refuses the token.
//!
//! A and B are two `RedisConnection`s to the same Redis (two servers of a
//! fleet). For each of `REVOCATIONS` fresh tokens, B checks the token first
//! (with the mirror, its "not revoked" answer is now mirrored), A revokes it,
//! and B checks again, yielding to the runtime between checks, until it is
//! refused; the window is the time from the end of A's `revoke` to B's first
//! refusal. Printed: p50, p99 and max, per setup:
//!
//! - `single/mirror`: B with the local mirror (default staleness bound,
//!   1 s): the window is the invalidation push's trip;
//! - `single/round_trip`: B without a mirror: its next check already asks
//!   Redis, so the window is about one round trip;
//! - `cluster/mirror`, `cluster/round_trip` (feature `redis-cluster`): the
//!   same on a Redis Cluster of three masters (`redis-cli --cluster create`).
//!
//! The bench starts its own servers on 127.0.0.1 (`redis-server`, and
//! `redis-cli` for the cluster) and kills them at the end. A multi-thread
//! runtime of two workers, as a server has.
//!
//! `cargo bench --bench revocation_window --features redis-cluster` (or
//! `--features redis` for the single-node rows); results in BENCHMARKS.md,
//! "Revocation consistency window".

use std::time::{Duration, Instant};

use tower_jwt_auth::{
    AuthErrorKind, RedisConnection, RedisRevocations, Revocation, RevocationStore, TokenInfo,
};

#[path = "../tests/common/redis.rs"]
#[allow(dead_code, reason = "the tests' helper; the bench uses a part of it")]
mod redis_server;

#[cfg(feature = "redis-cluster")]
#[path = "../tests/common/redis_cluster.rs"]
#[allow(dead_code, reason = "the tests' helper; the bench uses a part of it")]
mod redis_cluster;

const REVOCATIONS: usize = 1_000;

/// The longest one window may take before the bench gives up: far beyond
/// the mirror's staleness bound.
const GIVE_UP: Duration = Duration::from_secs(10);

fn now() -> u64 {
    std::time::UNIX_EPOCH.elapsed().expect("clock").as_secs()
}

/// The windows of `REVOCATIONS` revocations through `a`, seen by `b`.
async fn windows(a: &RedisRevocations, b: &Revocation, run: &str) -> Vec<Duration> {
    let mut windows = Vec::with_capacity(REVOCATIONS);
    for n in 0..REVOCATIONS {
        let token = TokenInfo::new()
            .with_issuer("https://id.example.com")
            .with_subject(format!("user-{}", n % 50))
            .with_jti(format!("{run}-{n}"))
            .with_issued_at(now() - 10)
            .with_expires_at(now() + 600);
        b.check(token.clone()).await.expect("not revoked yet");
        // Twice: the second is a mirror hit where there is a mirror.
        b.check(token.clone()).await.expect("not revoked yet");
        a.revoke(&token).await.expect("revoke");
        let revoked = Instant::now();
        loop {
            match b.check(token.clone()).await {
                Err(error) if error.kind() == AuthErrorKind::Revoked => break,
                Err(error) => panic!("check failed: {error}"),
                Ok(()) => {}
            }
            assert!(revoked.elapsed() < GIVE_UP, "not seen within {GIVE_UP:?}");
            tokio::task::yield_now().await;
        }
        windows.push(revoked.elapsed());
    }
    windows
}

fn report(name: &str, mut windows: Vec<Duration>) {
    windows.sort();
    let at = |q: f64| windows[((windows.len() as f64 * q).ceil() as usize).saturating_sub(1)];
    println!(
        "{name:<20} n={} p50={:>9.1?} p99={:>9.1?} max={:>9.1?}",
        windows.len(),
        at(0.50),
        at(0.99),
        windows[windows.len() - 1]
    );
}

async fn run(name: &str, a: RedisConnection, b: RedisConnection) {
    let a = RedisRevocations::new(a);
    let b_connection = b.clone();
    let b = Revocation::new(RedisRevocations::new(b));
    let windows = windows(&a, &b, name).await;
    report(name, windows);
    if let Some(stats) = b_connection.mirror_stats() {
        println!(
            "{:<20} mirror: hits={} misses={} invalidations={}",
            "", stats.hits, stats.misses, stats.invalidations
        );
    }
}

async fn main_async() {
    let redis = redis_server::RedisServer::start().await;
    let connect = |mirror: bool| {
        let mut builder = RedisConnection::builder(redis.url());
        if mirror {
            builder = builder.local_mirror(100_000);
        }
        builder.connect()
    };
    println!("revocation consistency window, {REVOCATIONS} revocations per row:");
    run(
        "single/mirror",
        connect(false).await.unwrap(),
        connect(true).await.unwrap(),
    )
    .await;
    run(
        "single/round_trip",
        connect(false).await.unwrap(),
        connect(false).await.unwrap(),
    )
    .await;
    drop(redis);

    #[cfg(feature = "redis-cluster")]
    {
        let cluster = redis_cluster::RedisCluster::start().await;
        let connect = |mirror: bool| {
            let mut builder = RedisConnection::cluster(cluster.urls());
            if mirror {
                builder = builder.local_mirror(100_000);
            }
            builder.connect()
        };
        run(
            "cluster/mirror",
            connect(false).await.unwrap(),
            connect(true).await.unwrap(),
        )
        .await;
        run(
            "cluster/round_trip",
            connect(false).await.unwrap(),
            connect(false).await.unwrap(),
        )
        .await;
    }
}

fn main() {
    // `cargo test --benches` runs bench targets without `--bench`: nothing to
    // measure then.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(main_async());
}
