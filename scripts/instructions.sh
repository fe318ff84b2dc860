#!/usr/bin/env bash
# Instructions per request, counted by callgrind, for HS256 and RS256 (2048-bit):
# the layer (default features, the aws-lc-rs backend; claims into a
# serde_json::Value), a bare jsonwebtoken::decode of the same token (aws-lc-rs
# too), and their ratio. Unlike criterion's wall time this repeats on a shared,
# noisy machine, so it tells whether a change made the fast path heavier. Each
# mode runs at N and 11 N requests; the difference over 10 N leaves out
# start-up, signing the token and key preparation. The workload is
# bench-compare/src/bin/instructions.rs.
#
# HS256 repeats to the instruction. RS256 moves by some tens per request
# (under 0.03 % at N = 1000) from run to run: the RSA signature made at
# start-up (blinded) costs a little more or less in each process, so the N and
# 11 N runs do not pay quite the same for it. A larger N divides that down.
#
#   scripts/instructions.sh            # N = 1000 for both algorithms
#   INSTRUCTIONS_N=2000 scripts/instructions.sh
#   INSTRUCTIONS_METRICS=1 scripts/instructions.sh
#
# INSTRUCTIONS_METRICS=1 builds the workload with the layer's `metrics`
# feature and prints, beside the plain table of that build (the feature on, no
# recorder installed), the layer with metrics-exporter-prometheus's recorder
# installed (counted inside the workload's `layer` function only, see below).
# Compare with a plain run for the feature off.
#
# RS256 runs at the same N: at 11 000 requests under callgrind it takes 10 to
# 20 s here (the whole script under a minute on 2 cores, after the build), so
# it needs no smaller N of its own.
#
# The hash printed is HEAD's, marked "+dirty" when the tree differs from it.
# Needs valgrind (Debian: apt-get install -y valgrind).
set -euo pipefail

cd "$(dirname "$0")/.."

n=${INSTRUCTIONS_N:-1000}
features=()
[ "${INSTRUCTIONS_METRICS:-}" = 1 ] && features=(--features metrics)
cargo build --quiet --release -p bench-compare --bin instructions "${features[@]}"
binary=${CARGO_TARGET_DIR:-target}/release/instructions
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

count() { # mode requests [valgrind options]
    valgrind --tool=callgrind "${@:3}" --callgrind-out-file="$out/$1-$2" "$binary" "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

per_request() { # mode [valgrind options]
    local small large
    small=$(count "$1" "$n" "${@:2}")
    large=$(count "$1" $((11 * n)) "${@:2}")
    echo $(((large - small) / (10 * n)))
}

revision=$(git rev-parse --short HEAD)
git diff --quiet HEAD || revision="$revision+dirty"

label=""
[ ${#features[@]} -gt 0 ] && label=", feature metrics, no recorder"
echo "instructions per request (N=$n, $revision$label):"
printf '  %-6s %10s %10s %16s\n' "" layer decode "layer / decode"
declare -A plain
for alg in hs256 rs256; do
    layer=$(per_request "layer-$alg")
    plain[$alg]=$layer
    decode=$(per_request "decode-$alg")
    awk -v alg="${alg^^}" -v layer="$layer" -v decode="$decode" \
        'BEGIN { printf "  %-6s %10d %10d %16.3f\n", alg, layer, decode, layer / decode }'
done

if [ ${#features[@]} -gt 0 ]; then
    echo "with metrics-exporter-prometheus's recorder installed:"
    printf '  %-6s %10s %12s\n' "" layer "+ recorder"
    for alg in hs256 rs256; do
        # Counted inside `instructions::layer` only: installing the recorder
        # calibrates a clock (quanta) for a time that differs from run to run,
        # by millions of instructions, before the layer is built.
        layer=$(per_request "layer-$alg-prometheus" --toggle-collect='instructions::layer')
        printf '  %-6s %10d %12d\n' "${alg^^}" "$layer" $((layer - plain[$alg]))
    done
fi
