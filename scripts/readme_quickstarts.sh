#!/usr/bin/env bash
# The README's quick starts, pasted into fresh crates, built, and tried.
#
#   bash scripts/readme_quickstarts.sh
#
# Each quick start in README.md is marked with HTML comments before its
# blocks:
#
#   <!-- quickstart NAME: Cargo.toml -->   its [dependencies] block (toml)
#   <!-- quickstart NAME: src/main.rs -->  its code (rust)
#   <!-- quickstart NAME: try -->          the commands that try it (sh), optional
#
# For each NAME this makes a crate of those two files in a temporary
# workspace, with `tower-jwt-auth` as a path dependency on this checkout and
# this checkout's Cargo.lock (so the dependencies already built for the tests
# are reused, from CARGO_TARGET_DIR or ./target), and builds each on its own,
# offline when the registry already has everything. Then it runs each `try` block in
# the crate's folder, line by line, as a reader would paste it, except that
# `cargo run &` starts the built binary and waits for its "listening on"
# line, and a curl line ending in `# NNN ...` must answer status NNN.
#
# Needs cargo, curl, openssl, and Debian's python3 with python3-jwt and
# python3-cryptography (the README's token commands use PyJWT).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d)
server_pid=

cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

for tool in cargo curl openssl; do
    command -v "$tool" >/dev/null || { echo "readme_quickstarts: $tool is missing" >&2; exit 1; }
done
# The README says `python3`: make it one that has PyJWT.
if ! /usr/bin/python3 -c 'import jwt, cryptography' 2>/dev/null; then
    echo "readme_quickstarts: /usr/bin/python3 lacks PyJWT or cryptography" \
        "(apt-get install python3-jwt python3-cryptography)" >&2
    exit 1
fi
mkdir -p "$work/bin"
ln -s /usr/bin/python3 "$work/bin/python3"
export PATH="$work/bin:$PATH"

# --- extract ------------------------------------------------------------------

# Writes $work/NAME/{Cargo.toml,src/main.rs,try.sh} and prints the names.
extract() {
    /usr/bin/python3 - "$repo" "$work" <<'PY'
import pathlib, re, sys

repo, work = map(pathlib.Path, sys.argv[1:])
readme = (repo / "README.md").read_text()
pattern = re.compile(
    r"<!-- quickstart ([\w-]+): (\S+) -->\n```(\w+)[^\n]*\n(.*?)\n```", re.S)
found = {}
for name, part, lang, body in pattern.findall(readme):
    expected = {"Cargo.toml": "toml", "src/main.rs": "rust", "try": "sh"}.get(part)
    if expected != lang:
        sys.exit(f"README quick start {name}: {part} is a {lang} block, not {expected}")
    if part in found.setdefault(name, {}):
        sys.exit(f"README quick start {name}: two {part} blocks")
    found[name][part] = body + "\n"
if not found:
    sys.exit("README.md has no marked quick start")
for name, parts in found.items():
    for needed in ("Cargo.toml", "src/main.rs"):
        if needed not in parts:
            sys.exit(f"README quick start {name}: no {needed} block")
    deps = parts["Cargo.toml"]
    if not re.search(r"^tower-jwt-auth\s*=", deps, re.M):
        sys.exit(f"README quick start {name}: its [dependencies] lack tower-jwt-auth")
    # The published version, as a reader writes it, becomes this checkout.
    deps = re.sub(r"^tower-jwt-auth\s*=.*$",
                  f'tower-jwt-auth = {{ path = "{repo}" }}', deps, flags=re.M)
    crate = work / name
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text(
        f'[package]\nname = "quickstart-{name}"\nversion = "0.0.0"\n'
        f'edition = "2024"\npublish = false\n\n{deps}')
    (crate / "src/main.rs").write_text(parts["src/main.rs"])
    (crate / "try.sh").write_text(parts.get("try", ""))
    print(name)
PY
}
names_text=$(extract)
mapfile -t names <<<"$names_text"
{
    echo "[workspace]"
    printf 'members = [%s]\n' "$(printf '"%s", ' "${names[@]}" | sed 's/, $//')"
    echo 'resolver = "3"'
} >"$work/Cargo.toml"
cp "$repo/Cargo.lock" "$work/Cargo.lock"

# --- build --------------------------------------------------------------------

# One at a time: built together, one crate's features would fill in for
# another's missing ones (Cargo unifies the features of the packages it builds).
echo "quick starts: ${names[*]}"
for name in "${names[@]}"; do
    echo "building $name"
    if ! (cd "$work" && cargo build --offline -p "quickstart-$name" 2>"$work/offline.log"); then
        if grep -q -- "--offline" "$work/offline.log"; then
            echo "not everything is in the registry cache: building online"
            (cd "$work" && cargo build -p "quickstart-$name")
        else
            cat "$work/offline.log" >&2
            exit 1
        fi
    fi
done

# --- try ----------------------------------------------------------------------

# `cargo run &`: the built binary, in the background; waits for "listening on".
start_quickstart() {
    local name=$1 log=$work/$1.log
    "$CARGO_TARGET_DIR/debug/quickstart-$name" >"$log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        if grep -q "listening on" "$log"; then
            echo "    $(cat "$log")"
            return
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "quick start $name stopped:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "quick start $name did not say where it listens in 10 s" >&2
    exit 1
}

# Runs the `try` block of quick start $1 in its folder, line by line.
try_quickstart() {
    local name=$1 line command status
    cd "$work/$name"
    while IFS= read -r line; do
        [[ -n $line ]] || continue
        echo "  \$ $line"
        if [[ $line == "cargo run &" ]]; then
            start_quickstart "$name"
        elif [[ $line =~ ^curl\ (.*)#\ *([0-9]{3}) ]]; then
            command="curl -s -o /dev/null -w %{http_code} --max-time 10 ${BASH_REMATCH[1]}"
            status=$(eval "$command") || true
            if [[ $status != "${BASH_REMATCH[2]}" ]]; then
                echo "quick start $name: got $status, the README says ${BASH_REMATCH[2]}" >&2
                exit 1
            fi
            echo "    $status"
        else
            eval "$line"
        fi
    done <try.sh
    if [[ -n $server_pid ]]; then
        kill "$server_pid"
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
    cd "$repo"
}

for name in "${names[@]}"; do
    if [[ -s $work/$name/try.sh ]]; then
        echo "trying $name"
        try_quickstart "$name"
    fi
done
echo "README quick starts: ${#names[@]} built and tried"
