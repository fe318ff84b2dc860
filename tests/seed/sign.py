#!/usr/bin/python3
"""Tokens for tests/seed_app.rs, made by the seed's side: its own
`create_token` (from tests/seed/app.py), PyJWT's `jwt.encode`, or an HMAC
over header and claims given as JSON text, for headers PyJWT will not write
(an unknown `alg`, a parameter given twice).

Reads a JSON list of specifications on stdin, writes the JSON list of tokens
on stdout, in order. The secret is `JWT_SECRET`, as for the app. Each
specification is one of:

    {"create_token": {claims}, "timeout": minutes}
    {"encode": {claims}, "algorithm": "HS256", "headers": {...}, "key": "other secret"}
    {"hmac": {"header": "<JSON text>", "claims": "<JSON text>"}}

(`algorithm`, `headers` and `key` are optional.)
"""
import base64
import contextlib
import hashlib
import hmac
import io
import json
import os
import sys

import jwt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import app as seed  # noqa: E402  (after the path, and reads JWT_SECRET)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make(spec):
    if "create_token" in spec:
        # The seed prints the claims it signs; the output here is the tokens.
        with contextlib.redirect_stdout(io.StringIO()):
            return seed.create_token(spec["create_token"], spec.get("timeout", 1))
    if "encode" in spec:
        return jwt.encode(
            spec["encode"],
            spec.get("key", seed.salt),
            algorithm=spec.get("algorithm", "HS256"),
            headers=spec.get("headers"),
        )
    if "hmac" in spec:
        signing_input = ".".join(
            b64url(spec["hmac"][part].encode()) for part in ("header", "claims")
        )
        mac = hmac.new(seed.salt.encode(), signing_input.encode(), hashlib.sha256)
        return f"{signing_input}.{b64url(mac.digest())}"
    raise ValueError(f"unknown token specification: {spec!r}")


if __name__ == "__main__":
    json.dump([make(spec) for spec in json.load(sys.stdin)], sys.stdout)
