//! What the DPoP replay check costs with the memory store, per proof id:
//!
//! - `replay/first_use_now/new`: a new id recorded, in a store whose ids
//!   expire as fast as they come (about 4 000 live, a sweep every time a
//!   shard has doubled): the cost of a first use, sweeps included;
//! - `replay/first_use_now/replayed`: an id already recorded, refused;
//! - `replay/check/new`: the same first use through `ReplayCheck::check`
//!   (the policy and the record of the store's health on top);
//! - `replay/threads/{1,2}x{1,16}_shards`: new ids from one or two threads
//!   at once (time per id, all threads together), in a store of one shard
//!   (capacity under 8 192) and of 16 (the default): what the shards save
//!   under contention.
//!
//! Ids are made outside the measurement. No crypto and no runtime: the
//! memory store answers at once.
//!
//! `cargo bench --bench replay`.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use tower_jwt_auth::{DEFAULT_REPLAY_CAPACITY, MemoryReplays, ReplayAnswer, ReplayCheck};

const NOW: u64 = 1_700_000_000;

/// New ids per clock second: with a lifetime of one second, about this many
/// are live at a time.
const PER_SECOND: u64 = 4096;

/// Distinct ids, reused once they have long expired.
const IDS: usize = 1 << 16;

/// `IDS` digest ids, as the DPoP check derives them.
fn ids() -> Vec<String> {
    (0..IDS as u64)
        .map(|n| {
            let mut bytes = [0; 32];
            for (i, chunk) in bytes.chunks_mut(8).enumerate() {
                let word = n.wrapping_add(i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            URL_SAFE_NO_PAD.encode(bytes)
        })
        .collect()
}

/// The `n`th use: its id, expiry and clock. Time moves one second every
/// `PER_SECOND` uses, and each id lives one second.
fn nth(ids: &[String], n: u64) -> (&str, u64, u64) {
    let now = NOW + n / PER_SECOND;
    (&ids[n as usize % IDS], now + 1, now)
}

fn bench(c: &mut Criterion) {
    let ids = ids();
    let mut group = c.benchmark_group("replay");

    let store = MemoryReplays::new();
    let mut n = 0;
    group.bench_function("first_use_now/new", |b| {
        b.iter(|| {
            let (id, expires, now) = nth(&ids, n);
            n += 1;
            black_box(store.first_use_now(black_box(id), expires, now))
        })
    });

    let store = MemoryReplays::new();
    store.first_use_now(&ids[0], u64::MAX, NOW).unwrap();
    group.bench_function("first_use_now/replayed", |b| {
        b.iter(|| black_box(store.first_use_now(black_box(&ids[0]), u64::MAX, NOW)))
    });

    let check = ReplayCheck::default();
    let mut n = 0;
    group.bench_function("check/new", |b| {
        b.iter(|| {
            let (id, expires, now) = nth(&ids, n);
            n += 1;
            match check.check(black_box(id), expires, now) {
                ReplayAnswer::Ready(answer) => black_box(answer.is_ok()),
                ReplayAnswer::Waiting(_) => unreachable!("the memory store answers at once"),
            }
        })
    });

    for threads in [1, 2] {
        for (shards, capacity) in [(1, 8191), (16, DEFAULT_REPLAY_CAPACITY)] {
            let name = format!("threads/{threads}x{shards}_shards");
            group.bench_function(name, |b| {
                b.iter_custom(|iters| racing(&ids, capacity, threads, iters))
            });
        }
    }
    group.finish();
}

/// The time `threads` threads take for `iters` new ids together, each
/// thread on its own ids, in a fresh store of `capacity`.
fn racing(ids: &[String], capacity: usize, threads: u64, iters: u64) -> Duration {
    let store = MemoryReplays::with_capacity(capacity);
    let gate = Barrier::new(threads as usize + 1);
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let (store, gate) = (&store, &gate);
            scope.spawn(move || {
                gate.wait();
                for i in 0..iters / threads {
                    // Interleaved: thread t takes uses t, t + threads, ...
                    let (id, expires, now) = nth(ids, i * threads + thread);
                    black_box(store.first_use_now(id, expires, now).ok());
                }
            });
        }
        gate.wait();
        let start = Instant::now();
        // The scope joins every thread before it returns.
        start
    })
    .elapsed()
}

criterion_group!(benches, bench);
criterion_main!(benches);
