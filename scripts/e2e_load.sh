#!/usr/bin/env bash
# End-to-end load: the demo's protected route (`GET /api/me`, JWT checked by
# the layer) against its unprotected routes, under wrk on 127.0.0.1, as
# requests per second and their ratio. See BENCHMARKS.md ("End to end").
#
#   scripts/e2e_load.sh
#
# Installs wrk from Debian's packages when it is missing; builds the demo in
# release; starts it on a free port with a fixed JWT_SECRET and RUST_LOG=warn
# (so its per-request log line is filtered, not written); logs in for a token;
# runs wrk, bounded in time, on the routes in turn for a few rounds (so that
# a burst of other work on the machine hits every route alike) and reports
# each route's median; stops the demo on exit.
#
# Environment: E2E_ROUNDS (default 5), E2E_DURATION (3s per route and round),
# E2E_CONNECTIONS (32), E2E_THREADS (wrk threads, 1), E2E_WARMUP (3s).
set -euo pipefail

cd "$(dirname "$0")/.."

readonly ROUNDS=${E2E_ROUNDS:-5}
readonly DURATION=${E2E_DURATION:-3s}
readonly CONNECTIONS=${E2E_CONNECTIONS:-32}
readonly THREADS=${E2E_THREADS:-1}
readonly WARMUP=${E2E_WARMUP:-3s}
readonly STARTUP_TIMEOUT=30 # seconds for the built demo to listen
readonly STOP_TIMEOUT=10    # seconds for the demo to exit after Ctrl-C
readonly SECRET="e2e-load-secret-of-at-least-32-bytes"

say() { echo "e2e: $*"; }

install_wrk() {
    command -v wrk >/dev/null && return
    export DEBIAN_FRONTEND=noninteractive
    # Without a package list (fresh machine), apt knows no candidate.
    if ! apt-cache policy wrk 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        apt-get update -qq
    fi
    apt-get install -y -qq wrk >/dev/null
    command -v wrk >/dev/null || { say "wrk could not be installed" >&2; exit 2; }
}

workdir=$(mktemp -d)
demo_pid=

# Ctrl-C (SIGINT) for a graceful shutdown, SIGKILL after the timeout.
cleanup() {
    if [[ -n $demo_pid ]]; then
        local deadline=$((SECONDS + STOP_TIMEOUT))
        kill -INT "$demo_pid" 2>/dev/null || true
        while kill -0 "$demo_pid" 2>/dev/null && ((SECONDS < deadline)); do
            sleep 0.2
        done
        kill -KILL "$demo_pid" 2>/dev/null || true
        wait "$demo_pid" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

# Starts the demo on 127.0.0.1:0 and sets $base from the address it prints.
start_demo() {
    local log=$workdir/demo.log line
    DEMO_ADDR=127.0.0.1:0 JWT_SECRET=$SECRET RUST_LOG=warn \
        target/release/examples/demo >"$log" 2>&1 &
    demo_pid=$!
    local deadline=$((SECONDS + STARTUP_TIMEOUT))
    until line=$(grep -m1 '^demo listening on ' "$log"); do
        if ! kill -0 "$demo_pid" 2>/dev/null || ((SECONDS >= deadline)); then
            say "the demo did not start:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.1
    done
    base=${line#demo listening on }
}

login() {
    local body
    body=$(curl -sf --max-time 5 "$base/login" -H 'content-type: application/json' \
        -d '{"username":"ada","password":"lovelace"}')
    token=$(sed -n 's/.*"token":"\([^"]*\)".*/\1/p' <<<"$body")
    [[ -n $token ]] || { say "no token in the login answer: $body" >&2; exit 1; }
}

# expect STATUS PATH: one request with the token, checked before loading.
expect() {
    local status
    status=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' \
        -H "authorization: Bearer $token" "$base$2")
    [[ $status == "$1" ]] || { say "GET $2 answered $status, not $1" >&2; exit 1; }
}

# load PATH DURATION: wrk with the token on every request (the unprotected
# routes ignore it), prints requests/s. Refuses a run where the protected
# route answered anything but 2xx: that would measure rejections.
load() {
    local out
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2" --timeout 5s \
        -H "Authorization: Bearer $token" "$base$1")
    if [[ $1 == /api/me ]] && grep -q 'Non-2xx' <<<"$out"; then
        say "GET $1 had non-2xx answers under load:" >&2
        echo "$out" >&2
        exit 1
    fi
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

median() {
    tr ' ' '\n' | sed '/^$/d' | sort -g |
        awk '{ v[NR] = $1 } END { printf "%.0f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

install_wrk
say "building the demo (release)"
cargo build --release --example demo --quiet
start_demo
login
expect 200 /api/me
expect 200 /
expect 404 /not-a-route

say "warm-up ($WARMUP)"
load /api/me "$WARMUP" >/dev/null

routes=(/api/me / /not-a-route)
declare -A runs
say "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds over ${routes[*]}, against $base"
for ((round = 1; round <= ROUNDS; round++)); do
    for route in "${routes[@]}"; do
        runs[$route]+=" $(load "$route" "$DURATION")"
    done
done
protected=$(median <<<"${runs[/api/me]}")
page=$(median <<<"${runs[/]}")
missing=$(median <<<"${runs[/not-a-route]}")

printf '\n%-46s %10s   %s\n' "route" "median r/s" "runs"
printf '%-46s %10s  %s\n' "GET /api/me (JWT HS256 via the layer, JSON)" "$protected" "${runs[/api/me]}"
printf '%-46s %10s  %s\n' "GET / (no auth, 200, ~3.5 KB HTML page)" "$page" "${runs[/]}"
printf '%-46s %10s  %s\n' "GET /not-a-route (no auth, 404, empty body)" "$missing" "${runs[/not-a-route]}"
echo
echo "ratio /api/me : /            = $(ratio "$protected" "$page")"
echo "ratio /api/me : /not-a-route = $(ratio "$protected" "$missing")"
echo
echo "note: wrk ($THREADS thread, $CONNECTIONS connections) and the demo (tokio, 2 worker"
echo "threads) share this machine's $(nproc) cores: the figures are for comparison"
echo "between routes, not a server's capacity. The routes' bodies differ (see above)."
