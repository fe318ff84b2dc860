#!/usr/bin/env bash
# Fuzz smoke run: every cargo-fuzz target in fuzz/ for a bounded time.
#
#   scripts/fuzz_smoke.sh                        # 60 s per target
#   FUZZ_SECONDS=3600 scripts/fuzz_smoke.sh      # a long run: one hour per target
#   scripts/fuzz_smoke.sh verify                 # some targets only
#
# Targets (fuzz/fuzz_targets/): locate (token sources over arbitrary request
# heads), form (form bodies in arbitrary frames), verify (arbitrary tokens
# against the PyJWT fixture keys), dpop (DPoP-bound tokens and arbitrary
# proofs through layers with JwtAuthBuilder::dpop); every [[bin]] of
# fuzz/Cargo.toml, as `cargo fuzz list` names them. Seeds are in
# fuzz/corpus/<target>/ (never written to); the corpus a run grows goes to
# fuzz/corpus-work/<target>/ and is reused by the next run. Inputs that once
# crashed, kept in fuzz/regressions/<target>/, are replayed first.
#
# cargo-fuzz is installed if missing. It needs nightly-only rustc flags; the
# machine has the stable toolchain only, so RUSTC_BOOTSTRAP=1 lets stable accept
# them. The targets are built with AddressSanitizer (with LeakSanitizer) and
# debug assertions, so integer overflow panics too: FUZZ_SANITIZER=none is
# about five times faster and needs no nightly flags at all.
#
# A crash leaves its input in fuzz/artifacts/<target>/; replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -a <target> fuzz/artifacts/<target>/<file>
# (from fuzz/). Exits non-zero when any target fails; the last line is
# "fuzz: N passed, M failed".
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
SANITIZER=${FUZZ_SANITIZER:-address}
export RUSTC_BOOTSTRAP=1
LOG_DIR=target/smoke-logs
mkdir -p "$LOG_DIR"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    start=$SECONDS
    cargo install cargo-fuzz --locked
    echo "fuzz: cargo-fuzz installed in $((SECONDS - start)) s"
fi

FUZZ_FLAGS=(--sanitizer "$SANITIZER" --debug-assertions)

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

start=$SECONDS
cargo fuzz build "${FUZZ_FLAGS[@]}"
echo "fuzz: targets built in $((SECONDS - start)) s"

passed=0
failed=0
for target in "${targets[@]}"; do
    work=corpus-work/$target
    mkdir -p "$work" "artifacts/$target"
    # New units go to the first directory only: the seeds stay as committed.
    corpora=("$work" "corpus/$target")
    if [[ -d regressions/$target ]]; then
        corpora+=("regressions/$target")
    fi
    log=$LOG_DIR/$target.log
    echo "fuzz: $target for ${SECONDS_PER_TARGET} s (log: fuzz/$log)"
    # -timeout: one input taking 10 s is a hang, reported like a crash.
    # -rss_limit_mb: ASan's quarantine and a growing corpus reach 500-700 MB
    # in minutes; the default limit (2 GB) could end a long run for nothing.
    if cargo fuzz run "${FUZZ_FLAGS[@]}" "$target" "${corpora[@]}" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1 \
        >"$log" 2>&1; then
        passed=$((passed + 1))
        grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | sed "s/^/fuzz: $target: /" || true
        grep -E '^stat::(average_exec_per_sec|peak_rss_mb)' "$log" | sed "s/^/fuzz: $target: /" || true
    else
        failed=$((failed + 1))
        echo "fuzz: $target FAILED; the end of its log:"
        tail -n 60 "$log"
        ls -l "artifacts/$target" || true
    fi
done

echo "fuzz: ${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
