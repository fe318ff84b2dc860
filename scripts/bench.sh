#!/usr/bin/env bash
# Reproduces every figure of BENCHMARKS.md, in this order:
#
#   crypto       cargo bench --bench crypto_backends --all-features
#   layer        cargo bench --bench layer --all-features (with the token cache)
#   authorize    cargo bench --bench authorize
#   peers        cargo bench -p bench-compare
#   allocations  cargo test --all-features --test allocations -- --nocapture
#                cargo test --all-features --test authorize_allocations -- --nocapture
#                cargo test -p bench-compare --test allocations -- --nocapture
#   instructions scripts/instructions.sh (callgrind: instructions per request,
#                layer and bare decode; needs valgrind)
#   e2e          scripts/e2e_load.sh
#   medians      the peers' medians and ratios, as in BENCHMARKS.md (needs
#                python3; run after `peers`, included in "everything")
#
#   scripts/bench.sh                 # everything
#   scripts/bench.sh peers e2e       # some parts, in the order given
#
# Criterion runs with short settings (1 s warm-up, 3 s measurement per
# function) unless BENCH_FULL=1, which keeps criterion's defaults (3 s, 5 s).
# Criterion's results land in target/criterion/. Other variables:
# BENCH_COMPARE_JWT10_BACKEND=rust-crypto (axum-jwt-auth's own backend, see
# bench-compare/src/lib.rs) and the E2E_* of scripts/e2e_load.sh.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ ${BENCH_FULL:-0} == 1 ]]; then
    criterion=()
else
    criterion=(--warm-up-time 1 --measurement-time 3)
fi

# The medians of the peers groups from target/criterion, with each peer's time
# over tower-jwt-auth's (= tower-jwt-auth's throughput over the peer's) and
# the time each adds to the no-auth route.
medians() {
    python3 - <<'PY'
import json, pathlib
peers = ["tower-jwt-auth", "jwt-authorizer", "axum-jwt-auth", "tower-http-bearer", "no-auth"]
def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"
for alg in ["HS256", "RS256"]:
    base = pathlib.Path("target/criterion") / f"peers_{alg}"
    median = {}
    for peer in peers:
        path = base / peer / "new" / "estimates.json"
        if path.exists():
            median[peer] = json.loads(path.read_text())["median"]["point_estimate"]
    if "tower-jwt-auth" not in median or "no-auth" not in median:
        print(f"peers/{alg}: no results in {base}")
        continue
    ours, floor = median["tower-jwt-auth"], median["no-auth"]
    print(f"\npeers/{alg}\n| peer | median | peer time / ours | added to no-auth |\n|---|---:|---:|---:|")
    for peer, ns in median.items():
        print(f"| {peer} | {fmt(ns)} | {ns / ours:.2f} | {fmt(ns - floor)} |")
PY
}

run() {
    echo
    echo "==> $*"
    "$@"
}

part() {
    case $1 in
    crypto) run cargo bench --bench crypto_backends --all-features -- ${criterion[@]+"${criterion[@]}"} ;;
    layer) run cargo bench --bench layer --all-features -- ${criterion[@]+"${criterion[@]}"} ;;
    authorize) run cargo bench --bench authorize -- ${criterion[@]+"${criterion[@]}"} ;;
    peers) run cargo bench -p bench-compare -- ${criterion[@]+"${criterion[@]}"} ;;
    allocations)
        run cargo test --all-features --test allocations -- --nocapture
        run cargo test --all-features --test authorize_allocations -- --nocapture
        run cargo test -p bench-compare --test allocations -- --nocapture
        ;;
    instructions) run scripts/instructions.sh ;;
    e2e) run scripts/e2e_load.sh ;;
    medians) run medians ;;
    *)
        echo "bench.sh: unknown part '$1' (crypto, layer, authorize, peers, allocations, instructions, e2e, medians)" >&2
        exit 2
        ;;
    esac
}

parts=("$@")
((${#parts[@]})) || parts=(crypto layer authorize peers allocations instructions e2e medians)
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(rustc --version)"
for p in "${parts[@]}"; do
    part "$p"
done
