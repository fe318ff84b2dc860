//! One authorized `GET /me` through the same axum Router behind each peer:
//! tower-jwt-auth, jwt-authorizer, axum-jwt-auth, tower-http's static bearer
//! check (the floor without crypto) and no auth at all, for HS256 and RS256,
//! in the same run.
//!
//! `cargo bench -p bench-compare`; results in BENCHMARKS.md ("Compared with
//! peers").

use std::hint::black_box;

use bench_compare::{Alg, jsonwebtoken10_backend, peers};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn compare(c: &mut Criterion) {
    eprintln!(
        "axum-jwt-auth verifies with jsonwebtoken 10 + {}",
        jsonwebtoken10_backend()
    );
    for alg in Alg::ALL {
        let mut group = c.benchmark_group(format!("peers/{alg}"));
        for peer in peers(alg) {
            // Outside the measurement: the request really passes, and a
            // forged one really fails.
            peer.check();
            group.bench_function(peer.name, |b| {
                // Building the request is setup; the clone of the Router, the
                // request and reading the response's body are measured.
                b.iter_batched(
                    || peer.authorized_request(),
                    |request| black_box(peer.send(request)),
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, compare);
criterion_main!(benches);
