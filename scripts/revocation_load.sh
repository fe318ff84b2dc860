#!/usr/bin/env bash
# The full-size fleet load test of revocation (issue 16): two real axum
# servers with the layer, each with its own RedisConnection and local mirror,
# one real redis-server, 200 000 requests while 10 000 tokens are revoked
# through either server. Fails when a revoked token is accepted after its
# window (the mirror's staleness bound, 1 s), a valid token is refused, or any
# other answer comes back. Built in release (the bench profile); the workload
# is tests/common/revocation_load.rs, which tests/revocation_fleet.rs runs at
# a tenth of the size in the gate.
#
#   scripts/revocation_load.sh
#   LOAD_REQUESTS=400000 LOAD_REVOCATIONS=20000 scripts/revocation_load.sh
#
# Other knobs: LOAD_VALID (1000 tokens never revoked), LOAD_CLIENTS (64),
# LOAD_MIRROR_ENTRIES (16384 keys per server's mirror).
# Needs redis-server (Debian: apt-get install -y redis-server), or its path in
# REDIS_SERVER.
set -euo pipefail

cd "$(dirname "$0")/.."

exec cargo bench --features redis --bench revocation_load
