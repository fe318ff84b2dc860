#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time: a smoke run in CI,
# a long run by hand.
#
#   scripts/fuzz_smoke.sh                      # 60 s per target
#   FUZZ_SECONDS=3600 scripts/fuzz_smoke.sh    # an hour per target
#
# Targets: locate (token location from arbitrary request heads), form (form
# bodies and chunkings), verify (the whole verify path with arbitrary tokens
# against fixed keys). Each starts from its committed seeds in fuzz/corpus/<t>,
# copied into fuzz/corpus-work/<t> (ignored by git) so that the seeds stay as
# they are. A crash leaves its input in fuzz/artifacts/<t>/: keep it as a
# regression test in tests/fuzz_regressions.rs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${FUZZ_SECONDS:-60}
# cargo-fuzz passes nightly-only rustc flags (the sanitizer, sancov); this
# machine has only the stable toolchain, which accepts them this way.
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

targets=(locate form verify)
cargo fuzz build --fuzz-dir fuzz

passed=0
failed=0
for target in "${targets[@]}"; do
    work="fuzz/corpus-work/$target"
    mkdir -p "$work"
    cp -n fuzz/corpus/"$target"/* "$work"/
    echo "==> fuzz $target for ${seconds}s"
    if cargo fuzz run --fuzz-dir fuzz "$target" "$work" -- \
        -max_total_time="$seconds" -print_final_stats=1 2>&1 | tail -n 20; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "fuzz target $target failed: see fuzz/artifacts/$target/"
    fi
done

echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
