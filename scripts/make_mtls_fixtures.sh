#!/usr/bin/env bash
# Makes the mutual-TLS fixtures of tests/mtls.rs and examples/mtls.rs in
# tests/fixtures/mtls/ (relative to the repository root), with OpenSSL 3:
#
#   ca.pem                 a test certificate authority (its key is discarded)
#   server.pem, server.key a server certificate for DNS:localhost and
#                          IP:127.0.0.1, and its PKCS#8 key
#   client.pem, client.key a client certificate (CN=ada), and its key
#   other.pem, other.key   another client certificate of the same CA
#                          (CN=mallory): valid for TLS, bound to no token
#
# EC P-256 keys, certificates valid for 100 years. Test material only: the
# keys are public in the repository. Every run makes new keys, so every file
# changes together, and the thumbprints the tests compute change with them
# (the tests compute them from the files; nothing else needs updating).
#
#   scripts/make_mtls_fixtures.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=tests/fixtures/mtls
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

days=36500
key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# The CA: self-signed, allowed to sign certificates only.
key "$work/ca.key"
openssl req -x509 -new -key "$work/ca.key" -out "$out/ca.pem" -days "$days" \
    -subj "/CN=tower-jwt-auth mTLS test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"

# leaf NAME SUBJECT EXTENSIONS: a key and a certificate signed by the CA.
leaf() {
    local name=$1 subject=$2 extensions=$3
    key "$out/$name.key"
    openssl req -new -key "$out/$name.key" -out "$work/$name.csr" -subj "$subject"
    printf '%b' "$extensions" > "$work/$name.ext"
    openssl x509 -req -in "$work/$name.csr" -CA "$out/ca.pem" -CAkey "$work/ca.key" \
        -CAcreateserial -CAserial "$work/ca.srl" -out "$out/$name.pem" -days "$days" \
        -extfile "$work/$name.ext" 2>/dev/null
}

common='basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n'
leaf server "/CN=localhost" "${common}extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
leaf client "/CN=ada" "${common}extendedKeyUsage=clientAuth\n"
leaf other "/CN=mallory" "${common}extendedKeyUsage=clientAuth\n"

for name in server client other; do
    openssl verify -CAfile "$out/ca.pem" "$out/$name.pem" >/dev/null
done
echo "wrote $out: ca.pem, server, client and other (.pem and .key)"
