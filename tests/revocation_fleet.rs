//! Two servers of a fleet, each with its own `RedisConnection` and local
//! mirror, on one real Redis, under load while tokens are revoked through
//! either (`common::revocation_load`): no revoked token is accepted after
//! its window (the mirror's staleness bound), no valid token is refused, and
//! each mirror stays within its bound of keys. A reduced run (20 000
//! requests, 1 000 revocations); scripts/revocation_load.sh runs the full
//! size in release.

#![cfg(feature = "redis")]

mod common;

use std::time::Duration;

use common::revocation_load::{Load, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_under_load_refuses_revoked_tokens_within_the_window_and_no_valid_one() {
    let load = Load {
        requests: 20_000,
        revocations: 1_000,
        valid: 200,
        clients: 16,
        // Fewer than the 2 400 keys in use (a token key and a subject key
        // per token): the mirror evicts, and stays correct.
        mirror_entries: 2_048,
        timeout: Duration::from_secs(2),
    };
    let outcome = tokio::time::timeout(Duration::from_secs(600), run(load))
        .await
        .expect("the run ends within 10 minutes");
    println!("{outcome:#?}");
    assert_eq!(outcome.requests, load.requests);
    assert_eq!(outcome.revocations, load.revocations);
    assert_eq!(outcome.valid_refused, 0, "{outcome:#?}");
    assert_eq!(outcome.revoked_accepted_late, 0, "{outcome:#?}");
    assert_eq!(outcome.other, 0, "{outcome:#?}");
    // The revoked tokens were asked about, and refused.
    assert!(outcome.revoked_refused > 0, "{outcome:#?}");
    // The mirrors answered: the run exercised them.
    assert!(outcome.mirror_hits > 0, "{outcome:#?}");
}
