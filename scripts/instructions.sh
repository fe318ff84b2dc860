#!/usr/bin/env bash
# Instructions per request, counted by callgrind: the layer (HS256, claims into
# a serde_json::Value) and a bare jsonwebtoken::decode of the same token, and
# their ratio. Unlike criterion's wall time this repeats to the instruction on
# a shared, noisy machine, so it tells whether a change made the fast path
# heavier. Each mode runs at N and 11 N requests; the difference over 10 N
# leaves out start-up and key preparation.
#
#   scripts/instructions.sh            # N = 1000
#   INSTRUCTIONS_N=2000 scripts/instructions.sh
#
# Needs valgrind (Debian: apt-get install -y valgrind).
set -euo pipefail

cd "$(dirname "$0")/.."

n=${INSTRUCTIONS_N:-1000}
cargo build --quiet --release -p bench-compare --bin instructions
binary=${CARGO_TARGET_DIR:-target}/release/instructions
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

count() { # mode requests
    valgrind --tool=callgrind --callgrind-out-file="$out/$1-$2" "$binary" "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

per_request() { # mode
    local small large
    small=$(count "$1" "$n")
    large=$(count "$1" $((11 * n)))
    echo $(((large - small) / (10 * n)))
}

layer=$(per_request layer)
decode=$(per_request decode)
echo "instructions per request (N=$n, $(git rev-parse --short HEAD)):"
echo "  layer   $layer"
echo "  decode  $decode"
python3 -c "print(f'  layer / decode  {$layer / $decode:.3f}')"
