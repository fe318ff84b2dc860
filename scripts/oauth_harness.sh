#!/usr/bin/env bash
# The OAuth harness of the sender-constrained token tests (tests/oauth/): a real
# authorization server (oidc-provider) and DPoP client (dpop), in Node.js.
#
#   scripts/oauth_harness.sh          # install it when needed, then exit
#   scripts/oauth_harness.sh serve    # ... then run it (tests/oauth/server.mjs)
#
# Installs with `npm ci` into tests/oauth/node_modules, from the committed
# package-lock.json, when node_modules is missing or was installed from another
# lock file (a stamp records the lock file's SHA-256). Concurrent callers (test
# binaries run side by side) take turns on a lock file; each wait is bounded.
# tests/common/oauth_provider.rs runs this once per test binary before it
# starts the server.
#
# Needs Node.js >= 20.18 with npm (oidc-provider's DPoP check calls URL.parse,
# new in 20.18), and flock and sha256sum (util-linux, coreutils). NODE names
# the node binary (default: node on the PATH; the tests honour it too). Exits 2
# with a message on stderr when one is missing, 1 when the install fails.
set -euo pipefail

cd "$(dirname "$0")/../tests/oauth"

readonly INSTALL_TIMEOUT=300 # seconds for npm ci
readonly LOCK_TIMEOUT=330    # seconds to wait for another caller's install
readonly STAMP=node_modules/.installed-from-lock.sha256

fail() {
    echo "oauth harness: $1" >&2
    exit "${2:-1}"
}

readonly NODE=${NODE:-node}

for tool in "$NODE" npm flock sha256sum timeout; do
    command -v "$tool" >/dev/null ||
        fail "$tool is required but not installed (Node.js >= 20.18 with npm: Debian's nodejs and npm packages)" 2
done
version=$("$NODE" -p 'process.versions.node')
if ! "$NODE" -e '
const [major, minor] = process.versions.node.split(".").map(Number);
process.exit(major > 20 || (major === 20 && minor >= 18) ? 0 : 1);'; then
    fail "Node.js >= 20.18 is required, found $version" 2
fi

want=$(sha256sum package-lock.json | cut -d' ' -f1)
installed() {
    [[ -f $STAMP && $(cat "$STAMP") == "$want" ]]
}

if ! installed; then
    exec 9>.install.lock
    flock -w "$LOCK_TIMEOUT" 9 || fail "another install still holds tests/oauth/.install.lock after ${LOCK_TIMEOUT}s"
    # Someone else may have installed it while we waited.
    if ! installed; then
        echo "oauth harness: npm ci in tests/oauth (Node.js $version)" >&2
        timeout "$INSTALL_TIMEOUT" npm ci --no-audit --no-fund --loglevel=error >&2 ||
            fail "npm ci failed or took over ${INSTALL_TIMEOUT}s (status $?)"
        echo "$want" >"$STAMP"
    fi
    exec 9>&-
fi

if [[ ${1:-} == serve ]]; then
    exec "$NODE" server.mjs
fi
