//! The kept fuzz inputs, replayed under `cargo test` on the stable toolchain,
//! without cargo-fuzz: the seeds of `fuzz/corpus/<target>/` and the crash inputs
//! of `fuzz/regressions/<target>/`, through the very harness and properties of
//! the fuzz targets (the files of `fuzz/src/` are included below).
//!
//! Only the text inputs (`text:` and `signed:`, see each harness) replay here;
//! a crash input in the structured form of a target gets a test of its own in
//! this file, written from the input's `Debug` form.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

// Shared with the fuzz crate, where the targets use what is unused here.
#[allow(dead_code)]
#[path = "../fuzz/src/common.rs"]
mod common;
#[allow(dead_code)]
#[path = "../fuzz/src/dpop.rs"]
mod dpop;
#[allow(dead_code)]
#[path = "../fuzz/src/form.rs"]
mod form;
#[allow(dead_code)]
#[path = "../fuzz/src/locate.rs"]
mod locate;
#[allow(dead_code)]
#[path = "../fuzz/src/verify.rs"]
mod verify;

/// The files of `fuzz/<dir>/<target>/`, sorted; none when it does not exist.
fn inputs(dir: &str, target: &str) -> Vec<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(dir)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&path) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
    files.sort();
    files
}

/// Replays every seed and every text crash input of `target`, and names each
/// one that breaks a property. A seed must be a text input.
fn replay_all(target: &str, replay: fn(&[u8]) -> bool) {
    let seeds = inputs("corpus", target);
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let mut failures = Vec::new();
    for (path, must_be_text) in seeds.into_iter().map(|path| (path, true)).chain(
        inputs("regressions", target)
            .into_iter()
            .map(|p| (p, false)),
    ) {
        let data = std::fs::read(&path).unwrap();
        match catch_unwind(AssertUnwindSafe(|| replay(&data))) {
            Ok(true) => {}
            Ok(false) if !must_be_text => {}
            Ok(false) => failures.push(format!("{}: not a text input", path.display())),
            Err(_) => failures.push(format!("{}: a property failed", path.display())),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn locate_inputs_keep_their_properties() {
    replay_all("locate", locate::replay);
}

#[test]
fn form_inputs_keep_their_properties() {
    replay_all("form", form::replay);
}

#[test]
fn verify_inputs_keep_their_properties() {
    replay_all("verify", verify::replay);
}

#[test]
fn dpop_inputs_keep_their_properties() {
    replay_all("dpop", dpop::replay);
}

/// The seeds do what their names say: the valid proofs pass, a proof played
/// twice passes once, and the rest is refused.
#[test]
fn dpop_seeds_reach_their_verdicts() {
    use http::StatusCode;
    const OK: StatusCode = StatusCode::OK;
    const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;
    for (seed, expected) in [
        ("signed-valid", &[OK][..]),
        ("signed-deep-and-normalized", &[OK]),
        ("signed-duplicate-htu", &[UNAUTHORIZED]),
        ("raw-valid", &[OK]),
        ("raw-replayed", &[OK, UNAUTHORIZED]),
        ("raw-two-proofs", &[StatusCode::BAD_REQUEST]),
        ("raw-nonce-forwarded", &[OK, OK]),
        ("garbage", &[UNAUTHORIZED; 3]),
        ("signed-alg-none", &[UNAUTHORIZED]),
        ("signed-ath-padded", &[UNAUTHORIZED]),
        ("signed-escaped", &[OK]),
        ("signed-htm-lowercase-no-es256", &[UNAUTHORIZED]),
        ("signed-iat-future", &[UNAUTHORIZED]),
        ("signed-iat-oldest-accepted", &[OK]),
        ("signed-iat-too-old", &[UNAUTHORIZED]),
        ("signed-nonce-given", &[OK]),
        ("signed-nonce-missing", &[UNAUTHORIZED]),
        ("signed-private-jwk", &[UNAUTHORIZED]),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus/dpop")
            .join(seed);
        let data = std::fs::read(&path).unwrap();
        assert_eq!(dpop::statuses(&data).unwrap(), expected, "{seed}");
    }
}
