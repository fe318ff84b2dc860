#!/usr/bin/env bash
# Instructions per HS256 request through the layer, counted by callgrind, with
# the revocation check off, on MemoryRevocations, on RedisRevocations without
# a mirror (one MGET round trip) and with the local mirror (a hit): the
# client's instructions only (redis-server is another process, not traced).
# Each row runs at N and 11 N requests; the difference over 10 N leaves out
# start-up. The workload is benches/revocation.rs with REVOCATION_REQUESTS.
#
#   scripts/revocation_instructions.sh            # N = 1000
#   INSTRUCTIONS_N=2000 scripts/revocation_instructions.sh
#
# Needs valgrind and redis-server (Debian: apt-get install -y valgrind redis-server).
set -euo pipefail

cd "$(dirname "$0")/.."

n=${INSTRUCTIONS_N:-1000}
binary=$(cargo bench --features redis --bench revocation --no-run 2>&1 \
    | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

count() { # row requests
    REVOCATION_REQUESTS="$1:$2" valgrind --tool=callgrind \
        --callgrind-out-file="$out/$1-$2" "$binary" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

revision=$(git rev-parse --short HEAD)
git diff --quiet HEAD || revision="$revision+dirty"
echo "instructions per HS256 request (N=$n, $revision):"
for row in off memory redis_round_trip mirror_hit; do
    small=$(count "$row" "$n")
    large=$(count "$row" $((11 * n)))
    echo "  $row: $(((large - small) / (10 * n)))"
done
