//! The full-size fleet load test (tests/revocation_fleet.rs runs a reduced
//! one in the gate): two real axum servers with the layer, each with its own
//! `RedisConnection` and local mirror, one real Redis, 200 000 requests while
//! 10 000 tokens are revoked through either server. Prints what it saw and
//! fails (exit status) when a revoked token was accepted after its window,
//! a valid token was refused, or any other answer came back.
//!
//! Sizes from the environment: `LOAD_REQUESTS` (200 000),
//! `LOAD_REVOCATIONS` (10 000), `LOAD_VALID` (1 000 tokens never revoked),
//! `LOAD_CLIENTS` (64), `LOAD_MIRROR_ENTRIES` (16 384 keys per server).
//! Run by scripts/revocation_load.sh:
//! `cargo bench --bench revocation_load --features redis`.

use std::time::Duration;

#[path = "../tests/common/redis.rs"]
#[allow(dead_code, reason = "the tests' helper; the load uses a part of it")]
mod redis;

#[path = "../tests/common/revocation_load.rs"]
mod revocation_load;

use revocation_load::{Load, run};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The process's peak resident memory, from /proc (Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    // `cargo test --benches` runs bench targets without `--bench`.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let load = Load {
        requests: env("LOAD_REQUESTS", 200_000),
        revocations: env("LOAD_REVOCATIONS", 10_000),
        valid: env("LOAD_VALID", 1_000),
        clients: env("LOAD_CLIENTS", 64),
        mirror_entries: env("LOAD_MIRROR_ENTRIES", 16_384),
        timeout: Duration::from_secs(2),
    };
    println!("{load:?}");
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(run(load));
    println!("{outcome:#?}");
    println!(
        "{} requests in {:.1?} ({:.0} per second), {} revocations; peak RSS {} KiB",
        outcome.requests,
        outcome.elapsed,
        outcome.requests as f64 / outcome.elapsed.as_secs_f64(),
        outcome.revocations,
        peak_rss_kib().map_or("?".to_owned(), |kib| kib.to_string()),
    );
    let failed = outcome.valid_refused != 0
        || outcome.revoked_accepted_late != 0
        || outcome.other != 0
        || outcome.requests != load.requests
        || outcome.revocations != load.revocations;
    if failed {
        eprintln!("FAILED: see the counts above");
        std::process::exit(1);
    }
    println!(
        "OK: no revoked token accepted after its window ({:?}), no valid token refused",
        outcome.window
    );
}
