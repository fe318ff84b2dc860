#!/usr/bin/env bash
# Browser test of the demo page: builds and starts `examples/demo` on a free
# port and drives its page in headless Chromium with tests/browser/demo.test.mjs
# (playwright-core). Prints `browser: N passed, M failed`; exits non-zero on any
# failure. A screenshot of the data page goes to target/browser/demo.png.
#
#   scripts/browser_test.sh
#
# Needs cargo and Node.js >= 20 with npm. Installs what else is missing:
# Debian's `chromium` (with apt-get, as root) and playwright-core (with `npm ci`
# into tests/browser/node_modules, from the committed package-lock.json).
set -euo pipefail

cd "$(dirname "$0")/.."

readonly CHROMIUM_BIN=/usr/bin/chromium
readonly INSTALL_TIMEOUT=900 # seconds for apt-get or npm
readonly STARTUP_TIMEOUT=120 # seconds for the demo to listen
readonly TEST_TIMEOUT=180    # seconds for the whole browser run
readonly STOP_TIMEOUT=10     # seconds for the demo to exit after Ctrl-C
readonly OUT_DIR=target/browser

# --- tools -------------------------------------------------------------------

need() {
    if ! command -v "$1" >/dev/null; then
        echo "browser: $1 is required but not installed" >&2
        exit 2
    fi
}
need cargo
need node
need npm
if (($(node -p 'process.versions.node.split(".")[0]') < 20)); then
    echo "browser: Node.js >= 20 is required, found $(node --version)" >&2
    exit 2
fi

if [[ ! -x $CHROMIUM_BIN ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "browser: $CHROMIUM_BIN is missing; install Debian's chromium (as root) and run again" >&2
        exit 2
    fi
    echo "# installing chromium"
    export DEBIAN_FRONTEND=noninteractive
    timeout "$INSTALL_TIMEOUT" apt-get update -qq
    timeout "$INSTALL_TIMEOUT" apt-get install -y -qq --no-install-recommends chromium
fi
"$CHROMIUM_BIN" --version

if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
    echo "# installing playwright-core"
    (cd tests/browser && timeout "$INSTALL_TIMEOUT" npm ci --no-audit --no-fund)
fi

# --- the demo ----------------------------------------------------------------

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

cargo build -q --example demo

port=$(node -e '
const server = require("net").createServer().listen(0, "127.0.0.1", () => {
  console.log(server.address().port);
  server.close();
});')
base="http://127.0.0.1:$port"
demo_log="$workdir/demo.log"
# `cargo run` replaces itself with the example on Unix: $! is the demo itself.
# REDIS_URL unset: the page needs no Redis, and a default build refuses one.
NO_COLOR=1 DEMO_ADDR="127.0.0.1:$port" env -u REDIS_URL cargo run -q --example demo >"$demo_log" 2>&1 &
demo_pid=$!

# The demo prints this line once its socket is bound.
deadline=$((SECONDS + STARTUP_TIMEOUT))
until grep -q "^demo listening on $base" "$demo_log"; do
    if ! kill -0 "$demo_pid" 2>/dev/null || ((SECONDS >= deadline)); then
        echo "browser: the demo did not start on $base; its output:" >&2
        cat "$demo_log" >&2
        exit 1
    fi
    sleep 0.2
done
echo "# demo is up on $base"

# --- the browser test ----------------------------------------------------------

mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR/demo.png"
tap="$workdir/results.tap"
status=0
# spec for the reader, TAP for the counts below.
DEMO_URL=$base CHROMIUM=$CHROMIUM_BIN SCREENSHOT="$OUT_DIR/demo.png" \
    timeout "$TEST_TIMEOUT" node --test \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" \
    tests/browser/demo.test.mjs || status=$?

passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" 2>/dev/null || true)
failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" 2>/dev/null || true)
if ((status != 0)); then
    echo "browser: node exited with status $status; the demo's output:" >&2
    cat "$demo_log" >&2
    # A timeout or crash may leave no counts: never report it as a pass.
    ((${failed:-0} > 0)) || failed=1
fi
echo "browser: ${passed:-0} passed, ${failed:-0} failed"
((status == 0 && ${failed:-0} == 0 && ${passed:-0} > 0))
