#!/usr/bin/env bash
# Smoke test of the examples, as a user would try them: builds the examples,
# starts `demo` and `custom_error` on free ports, and checks their answers with
# curl. Prints `demo smoke: N passed, M failed`; exits non-zero on any failure.
#
#   scripts/demo_smoke.sh
#
# Needs cargo, curl and python3 (free ports, JSON).
set -euo pipefail

cd "$(dirname "$0")/.."

readonly STARTUP_TIMEOUT=120 # seconds for an example to answer
readonly STOP_TIMEOUT=10     # seconds for an example to exit after Ctrl-C

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

cleanup() {
    local pid
    for pid in ${pids[@]+"${pids[@]}"}; do
        stop "$pid" || true
    done
    rm -rf "$workdir"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start NAME ADDR_VAR: runs the example with ADDR_VAR=127.0.0.1:<free port>,
# waits until it answers, and sets $base, $pid and $log. (`cargo run` replaces
# itself with the example on Unix, so $! is the example's own process.)
start() {
    local name=$1 addr_var=$2 port
    port=$(free_port)
    base="http://127.0.0.1:$port"
    log="$workdir/$name.log"
    NO_COLOR=1 env "$addr_var=127.0.0.1:$port" cargo run -q --example "$name" >"$log" 2>&1 &
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

# tamper TOKEN: the token with the first character of its signature changed.
tamper() {
    local signature=${1##*.} replacement=A
    [[ ${signature:0:1} == A ]] && replacement=B
    echo "${1%.*}.$replacement${signature:1}"
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

check "the demo logs requests" grep -q 'method=GET path=/api/me status=401' "$demo_log"
check "... form posts too" grep -q 'method=POST path=/api/me status=200' "$demo_log"
check "the demo never logs the token" absent_from_file "$token" "$demo_log"
check "the demo shuts down cleanly on Ctrl-C" stop "$demo_pid"

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
