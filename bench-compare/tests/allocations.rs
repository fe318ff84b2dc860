//! Heap allocations of one authorized `GET /me` through each peer's Router,
//! the same request as `benches/peers.rs` (Router clone, request, reading the
//! body), for the "Compared with peers" table of BENCHMARKS.md:
//! `cargo test -p bench-compare --test allocations -- --nocapture`.
//!
//! The counter is per thread, so the harness's other threads do not count.
//! The main crate's `tests/allocations.rs` breaks its own count down further.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bench_compare::{Alg, peers};

struct Counting;

thread_local! {
    // `const`, no destructor: reading it never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to `System`; the counting touches
// only a thread-local `Cell`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn allocations_per_authorized_request_of_each_peer() {
    println!("\n| peer | HS256 | RS256 |\n|---|---:|---:|");
    let counts: Vec<Vec<(&str, u64)>> = Alg::ALL
        .iter()
        .map(|&alg| {
            peers(alg)
                .into_iter()
                .map(|peer| {
                    // Warm-up and the check that the request really passes.
                    peer.check();
                    let request = peer.authorized_request();
                    let before = allocations();
                    let status = peer.send(request);
                    let count = allocations() - before;
                    assert!(status.is_success(), "{}: {status}", peer.name);
                    (peer.name, count)
                })
                .collect()
        })
        .collect();
    for (i, (name, hs256)) in counts[0].iter().enumerate() {
        println!("| {name} | {hs256} | {} |", counts[1][i].1);
    }

    // Not a contest, a sanity check: authenticating costs allocations, and
    // no request allocates without bound.
    for row in &counts {
        let of = |peer| row.iter().find(|(name, _)| *name == peer).unwrap().1;
        let (ours, no_auth) = (of("tower-jwt-auth"), of("no-auth"));
        assert!(
            ours > no_auth && ours < no_auth + 40,
            "ours {ours}, no auth {no_auth}"
        );
    }
}
