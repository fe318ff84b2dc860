#!/usr/bin/env bash
# Smoke test of the examples, as a user would try them: builds the examples,
# starts `demo` and `custom_error` on free ports, and checks their answers with
# curl. Then, when `redis-server` is installed, starts a throwaway Redis and two
# `demo` instances (feature `redis`) sharing it, and checks that a token logged
# out on one is refused by the other. Prints `demo smoke: N passed, M failed`;
# exits non-zero on any failure.
#
#   scripts/demo_smoke.sh
#
# Needs cargo, curl and python3 (free ports, JSON, Redis PING); redis-server for
# the shared-store checks, which are skipped without it, unless CI is set: then
# a missing redis-server is a failure.
set -euo pipefail

cd "$(dirname "$0")/.."

readonly STARTUP_TIMEOUT=120 # seconds for an example to answer
readonly STOP_TIMEOUT=10     # seconds for an example to exit after Ctrl-C
readonly REDIS_TIMEOUT=10    # seconds for redis-server to answer PING

for tool in cargo curl python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "demo smoke: $tool is required but not installed" >&2
        exit 2
    fi
done

passed=0
failed=0
pids=()
workdir=$(mktemp -d)

# --- processes ---------------------------------------------------------------

# stop PID: Ctrl-C (SIGINT) for a graceful shutdown, SIGKILL after the timeout.
# Returns the exit status of the process.
stop() {
    local pid=$1 deadline=$((SECONDS + STOP_TIMEOUT))
    kill -INT "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    local status=0
    wait "$pid" 2>/dev/null || status=$?
    return "$status"
}

# Stops every process started, the last one first (the demos before their Redis).
cleanup() {
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        stop "${pids[i]}" || true
    done
    rm -rf "$workdir"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start NAME ADDR_VAR [VAR=VALUE...] [-- CARGO_RUN_ARGS...]: runs `cargo run -q
# CARGO_RUN_ARGS` (by default `--example NAME`) with ADDR_VAR=127.0.0.1:<free
# port> and the variables given (REDIS_URL is unset unless given), logs to
# $workdir/NAME.log, waits until it answers, and sets $base, $pid and $log.
# (`cargo run` replaces itself with the example on Unix, so $! is the example's
# own process.)
start() {
    local name=$1 addr_var=$2 port
    shift 2
    local vars=() run_args=(--example "$name")
    while (($# > 0)); do
        if [[ $1 == -- ]]; then
            shift
            run_args=("$@")
            break
        fi
        vars+=("$1")
        shift
    done
    port=$(free_port)
    base="http://127.0.0.1:$port"
    log="$workdir/$name.log"
    NO_COLOR=1 env -u REDIS_URL "$addr_var=127.0.0.1:$port" ${vars[@]+"${vars[@]}"} \
        cargo run -q "${run_args[@]}" >"$log" 2>&1 &
    pid=$!
    pids+=("$pid")
    local deadline=$((SECONDS + STARTUP_TIMEOUT))
    # Any HTTP answer (even a 404) means it is up; 000 means no connection yet.
    until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/" || true) != 000 ]]; do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
            echo "demo smoke: $name did not start on $base; its output:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "# $name is up on $base"
}

# --- requests and checks -----------------------------------------------------

# request METHOD URL [CURL_ARGS...]: sets $status, $body and $headers (lower-case
# names, no CR).
request() {
    local method=$1 url=$2
    shift 2
    rm -f "$workdir/body" "$workdir/headers"
    status=$(curl -sS --max-time 10 -X "$method" -o "$workdir/body" -D "$workdir/headers" \
        -w '%{http_code}' "$@" "$url") || status=000
    body=$(cat "$workdir/body" 2>/dev/null || true)
    headers=$(tr -d '\r' 2>/dev/null <"$workdir/headers" | tr '[:upper:]' '[:lower:]' || true)
}

# json PATH: the value at PATH (keys joined by dots, like claims.sub) in the
# JSON object $body, empty when absent.
json() {
    python3 -c '
import json, sys
try:
    value = json.loads(sys.argv[1])
    for key in sys.argv[2].split("."):
        value = value.get(key)
except (ValueError, AttributeError):
    value = None
print("" if value is None else value)' "$body" "$1"
}

pass() {
    passed=$((passed + 1))
    echo "ok   - $1"
}

fail() {
    failed=$((failed + 1))
    echo "FAIL - $1 (status $status, body: ${body:0:300})" >&2
}

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
    local description=$1
    shift
    if "$@"; then pass "$description"; else fail "$description"; fi
}

is() { [[ $1 == "$2" ]]; }
nonempty() { [[ -n $1 ]]; }
contains() { [[ $1 == *"$2"* ]]; }
is_jwt() { [[ $1 =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]]; }
absent_from_file() { ! grep -qF -- "$1" "$2"; }
# revoked: the last answer is the layer's refusal of a revoked token.
revoked() {
    is "$status" 401 && is "$(json error_description)" "token revoked" &&
        contains "$headers" 'error_description="token revoked"'
}

# tamper TOKEN: the token with the first character of its signature changed.
tamper() {
    local signature=${1##*.} replacement=A
    [[ ${signature:0:1} == A ]] && replacement=B
    echo "${1%.*}.$replacement${signature:1}"
}

# login BASE: logs the demo's user in on BASE (JSON) and prints the token, or
# nothing.
login() {
    request POST "$1/login" -H 'content-type: application/json' \
        -d "{\"username\":\"$username\",\"password\":\"$password\"}"
    json token
}

# --- the demo ----------------------------------------------------------------

cargo build -q --examples

start demo DEMO_ADDR
demo_pid=$pid
demo_log=$log

# The first printed user, `demo user: NAME / PASSWORD`.
user_line=$(grep -m1 '^demo user: ' "$demo_log" || true)
user_line=${user_line#demo user: }
username=${user_line% / *}
password=${user_line#* / }
check "the demo prints a user" nonempty "$username"
check "the demo prints that user's password" nonempty "$password"

request GET "$base/"
check "GET / answers 200" is "$status" 200
check "GET / holds the login form" contains "$body" '<form id="login"'
check "GET / holds the protected form with a token field" contains "$body" 'name="token"'
check "... posted natively to /api/me" contains "$body" 'method="post" action="/api/me"'
check "GET / holds the logout form" contains "$body" '<form id="logout" method="post" action="/logout">'

request POST "$base/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$username\",\"password\":\"$password\"}"
token=$(json token)
check "POST /login (JSON) answers 200" is "$status" 200
check "POST /login (JSON) returns a token" is_jwt "$token"
check "POST /login says token_type Bearer" is "$(json token_type)" Bearer
check "POST /login says expires_in 900" is "$(json expires_in)" 900

request POST "$base/login" --data-urlencode "username=$username" \
    --data-urlencode "password=$password"
form_token=$(json token)
check "POST /login (form) returns a token" is_jwt "$form_token"

request GET "$base/api/me" -H "authorization: Bearer $token"
check "GET /api/me with the token answers 200" is "$status" 200
check "GET /api/me answers the claims, with sub" is "$(json sub)" "$username"

request GET "$base/api/me" -H "authorization: Bearer $form_token"
check "GET /api/me with the form login's token answers 200" is "$status" 200

request GET "$base/api/me"
check "GET /api/me without a token answers 401" is "$status" 401
check "... with WWW-Authenticate: Bearer" contains "$headers" $'\nwww-authenticate: bearer\n'

request GET "$base/api/me" -H "authorization: Bearer $(tamper "$token")"
check "GET /api/me with a tampered token answers 401" is "$status" 401
check "... error invalid_token" is "$(json error)" invalid_token
check "... in WWW-Authenticate too" contains "$headers" 'error="invalid_token"'

# The token in the `token` field of a form post, as the page's form sends it.
request POST "$base/api/me" --data-urlencode "token=$token" --data-urlencode 'note=hi & bye'
check "POST /api/me with the token in the form answers 200" is "$status" 200
check "... the claims, with sub" is "$(json claims.sub)" "$username"
check "... and the form's note, parsed again by the handler" is "$(json note)" 'hi & bye'

request POST "$base/api/me" -H 'accept: text/html' --data-urlencode "token=$token" \
    --data-urlencode 'note=<script>'
check "POST /api/me from a browser answers a page with the sub" \
    contains "$body" "<td>$username</td>"
check "... with the note escaped" contains "$body" '&lt;script&gt;'

request POST "$base/api/me" --data-urlencode "token=$(tamper "$token")"
check "POST /api/me with a tampered form token answers 401" is "$status" 401
check "... error invalid_token" is "$(json error)" invalid_token

request POST "$base/api/me" -d 'note=no+token'
check "POST /api/me with no token in the form answers 401" is "$status" 401
check "... with WWW-Authenticate: Bearer" contains "$headers" $'\nwww-authenticate: bearer\n'

request POST "$base/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$username\",\"password\":\"wrong-$password\"}"
check "POST /login with a wrong password answers 401" is "$status" 401
check "... error invalid_credentials" is "$(json error)" invalid_credentials

# --- logout, with the in-memory revocation store -----------------------------

check "the demo keeps revocations in memory by default" \
    grep -q '^revocation store: in memory' "$demo_log"

bye=$(login "$base")
check "a new login returns a token" is_jwt "$bye"
request GET "$base/api/me" -H "authorization: Bearer $bye"
check "GET /api/me with it answers 200" is "$status" 200
request POST "$base/logout" -H "authorization: Bearer $bye"
check "POST /logout with it answers 204" is "$status" 204
check "... and no body" is "$body" ""
request GET "$base/api/me" -H "authorization: Bearer $bye"
check "GET /api/me with the logged-out token answers 401 token revoked" revoked
check "... error invalid_token" is "$(json error)" invalid_token
request POST "$base/api/me" --data-urlencode "token=$bye"
check "POST /api/me with it in the form answers 401 token revoked" revoked
request POST "$base/logout" -H "authorization: Bearer $bye"
check "POST /logout with it again answers 401 token revoked" revoked
request GET "$base/api/me" -H "authorization: Bearer $token"
check "an earlier token of the same user still answers 200" is "$status" 200

request POST "$base/logout"
check "POST /logout without a token answers 401" is "$status" 401

# A browser's form post: the token in the form, a page in answer.
form_bye=$(login "$base")
request POST "$base/logout" -H 'accept: text/html' --data-urlencode "token=$form_bye"
check "POST /logout from a browser form answers 200" is "$status" 200
check "... with a page saying so" contains "$body" 'id="logged-out"'
request GET "$base/api/me" -H "authorization: Bearer $form_bye"
check "... and the form's token is revoked" revoked

request POST "$base/logout?everywhere=maybe" -H "authorization: Bearer $token"
check "POST /logout?everywhere=maybe answers 400" is "$status" 400
check "... error invalid_request" is "$(json error)" invalid_request

# Last for this user: revoking every token of the user issued until now also
# revokes any issued later in the same second.
other=$(login "$base")
request POST "$base/logout?everywhere=1" -H "authorization: Bearer $other"
check "POST /logout?everywhere=1 answers 204" is "$status" 204
request GET "$base/api/me" -H "authorization: Bearer $token"
check "... and another token of the user answers 401 token revoked" revoked
request GET "$base/api/me" -H "authorization: Bearer $form_token"
check "... and the form login's too" revoked

check "the demo logs requests" grep -q 'method=GET path=/api/me status=401' "$demo_log"
check "... form posts too" grep -q 'method=POST path=/api/me status=200' "$demo_log"
check "... logouts too" grep -q 'method=POST path=/logout status=204' "$demo_log"
check "the demo never logs the token" absent_from_file "$token" "$demo_log"
check "... nor a logged-out one" absent_from_file "$bye" "$demo_log"
check "the demo shuts down cleanly on Ctrl-C" stop "$demo_pid"

status=0
NO_COLOR=1 REDIS_URL=redis://127.0.0.1:1/ DEMO_ADDR=127.0.0.1:0 \
    timeout "$STARTUP_TIMEOUT" cargo run -q --example demo >"$workdir/no-feature.log" 2>&1 ||
    status=$?
body=$(cat "$workdir/no-feature.log")
check "a demo without the redis feature refuses REDIS_URL at startup" is "$status" 1
check "... saying why" contains "$body" 'REDIS_URL is set, but this demo was built without'

# --- two demo instances sharing one Redis ------------------------------------

# redis_ping PORT: whether a Redis on 127.0.0.1:PORT answers PING.
redis_ping() {
    python3 -c '
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
        s.sendall(b"PING\r\n")
        sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)' "$1"
}

shared_redis_checks() {
    # A throwaway Redis: a free port, nothing written to disk, stopped by
    # cleanup with the demos.
    local redis_port redis_log="$workdir/redis.log" deadline
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$workdir" --logfile '' --loglevel warning </dev/null >"$redis_log" 2>&1 &
    pids+=("$!")
    deadline=$((SECONDS + REDIS_TIMEOUT))
    until redis_ping "$redis_port"; do
        if ! kill -0 "${pids[-1]}" 2>/dev/null || ((SECONDS >= deadline)); then
            echo "demo smoke: redis-server did not answer on port $redis_port; its output:" >&2
            cat "$redis_log" >&2
            exit 1
        fi
        sleep 0.2
    done
    echo "# redis-server is up on 127.0.0.1:$redis_port"

    cargo build -q --features redis --example demo

    # Both instances need the same secret (to accept each other's tokens) and
    # the same Redis (to see each other's revocations).
    local secret redis_url="redis://127.0.0.1:$redis_port/"
    secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
    local shared_env=("JWT_SECRET=$secret" "REDIS_URL=$redis_url")
    start demo-a DEMO_ADDR "${shared_env[@]}" -- --features redis --example demo
    local base_a=$base log_a=$log
    start demo-b DEMO_ADDR "${shared_env[@]}" -- --features redis --example demo
    local base_b=$base log_b=$log

    check "instance A keeps revocations in Redis" \
        grep -q "^revocation store: Redis at 127.0.0.1:$redis_port" "$log_a"
    check "instance B too" grep -q "^revocation store: Redis at 127.0.0.1:$redis_port" "$log_b"

    local shared
    shared=$(login "$base_a")
    check "login on A returns a token" is_jwt "$shared"
    request GET "$base_b/api/me" -H "authorization: Bearer $shared"
    check "GET /api/me on B with A's token answers 200" is "$status" 200
    request POST "$base_a/logout" -H "authorization: Bearer $shared"
    check "POST /logout on A answers 204" is "$status" 204
    request GET "$base_b/api/me" -H "authorization: Bearer $shared"
    check "GET /api/me on B with the token logged out on A answers 401 token revoked" revoked
    request GET "$base_a/api/me" -H "authorization: Bearer $shared"
    check "... and on A" revoked

    local first second
    first=$(login "$base_a")
    second=$(login "$base_b")
    request POST "$base_b/logout?everywhere=1" -H "authorization: Bearer $second"
    check "POST /logout?everywhere=1 on B answers 204" is "$status" 204
    request GET "$base_a/api/me" -H "authorization: Bearer $first"
    check "... and A refuses the user's token from A: 401 token revoked" revoked

    check "instance A never logs the token" absent_from_file "$shared" "$log_a"
    check "instance B neither" absent_from_file "$shared" "$log_b"

    # A Redis that cannot be reached stops the demo at startup.
    local dead_port log_dead="$workdir/demo-dead-redis.log"
    dead_port=$(free_port)
    status=0
    NO_COLOR=1 REDIS_URL="redis://127.0.0.1:$dead_port/" DEMO_ADDR=127.0.0.1:0 \
        timeout "$STARTUP_TIMEOUT" cargo run -q --features redis --example demo \
        >"$log_dead" 2>&1 || status=$?
    body=$(cat "$log_dead")
    check "a demo whose Redis is unreachable exits at startup with status 1" is "$status" 1
    check "... saying so" contains "$body" "demo: cannot reach Redis at 127.0.0.1:$dead_port"
}

if command -v redis-server >/dev/null; then
    shared_redis_checks
elif [[ -n ${CI:-} ]]; then
    failed=$((failed + 1))
    echo "FAIL - redis-server is not installed, and CI is set: the shared-store checks must run" >&2
else
    echo "# skipped: two demo instances sharing one Redis (redis-server is not installed)"
fi

# --- custom_error: the seed application's answers ----------------------------

start custom_error ADDR
valid=$(sed -n 's/^valid token: //p' "$log")
expired=$(sed -n 's/^expired token: //p' "$log")

# seed_answer STATUS CODE MESSAGE: the last answer is the seed's JSON.
seed_answer() {
    is "$status" "$1" && is "$(json code)" "$2" && is "$(json error)" "$3"
}
seed_success() { is "$status" 200 && is "$(json code)" 1002; }

request GET "$base/api/me"
check "custom_error: no token -> 401 Please login in" seed_answer 401 1003 "Please login in"

request GET "$base/api/me" -H 'authorization: Bearer garbage'
check "custom_error: garbage -> 401 Token validation failed" \
    seed_answer 401 1003 "Token validation failed"

request GET "$base/api/me" -H "authorization: Bearer $expired"
check "custom_error: expired -> 401 Token is timeout" seed_answer 401 1003 "Token is timeout"

request GET "$base/api/me" -H "authorization: Bearer $valid"
check "custom_error: valid token -> 200 code 1002" seed_success

echo "demo smoke: $passed passed, $failed failed"
((failed == 0))
