#!/usr/bin/python3
"""The seed application, live: the reference `examples/custom_error.rs` is
compared with (tests/seed_app.rs).

`create_token` and `valid_token` are copied verbatim from the seed note this
project grew from (shared/seeds/000_140d1c6f3ad14e65.txt, "Sample Code"; the
test checks the copy against the note when the note is at hand). Around them,
only what the note leaves out: the secret `salt` (here from `JWT_SECRET`, as
the port reads it) and a Flask route that answers `valid_token(request)`.

Run with Debian's Flask 2.2 and PyJWT 2.6 (`apt-get install python3-flask
python3-jwt`):

    JWT_SECRET=... /usr/bin/python3 tests/seed/app.py

It serves on an ephemeral port of 127.0.0.1 (or `SEED_PORT`) and prints
`listening on <port>` once it accepts connections. With `SEED_EXIT_ON_EOF=1`
it exits when its standard input closes: a test keeps the pipe open, and the
server goes with the test process, however that ends. With `SEED_QUIET=1`
it does not log the exceptions of requests it answers `500`.
"""
import logging
import os
import sys
import threading

from flask import Flask, request
from werkzeug.serving import make_server

salt = os.environ["JWT_SECRET"]

app = Flask(__name__)


# --- verbatim from the seed: begin ----------------------------------------
def create_token(payload, timeout=1):
    import jwt
    import datetime

    # header
    headers = {
        'typ': 'jwt',
        'alg': 'HS256'
    }
    payload['exp'] = datetime.datetime.utcnow() + datetime.timedelta(minutes=timeout)
    print(payload)

    token = jwt.encode(payload=payload, key=salt, headers=headers)
    return token


def valid_token(request):
    try:
        token = request.form['token']

    except BaseException:
        return {
            'code': 1003,
            'error': 'Please login in'
        }

    import jwt
    payload = None
    error_msg = None
    try:
        payload = jwt.decode(token, salt, 'HS256')
    except jwt.ExpiredSignatureError:
        error_msg = 'Token is timeout'
    except jwt.DecodeError:
        error_msg = 'Token validation failed'
    except jwt.InvalidTokenError:
        error_msg = 'Token is invalid'

    if not payload:
        return {
            'code': 1003,
            'error': error_msg
        }
    return {
        'code': 1002
    }
# --- verbatim from the seed: end ------------------------------------------


@app.route("/api/me", methods=["GET", "POST"])
def me():
    return valid_token(request)


if __name__ == "__main__":
    # One line per request on stderr is noise in a test run.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if os.environ.get("SEED_QUIET"):
        app.logger.setLevel(logging.CRITICAL)
    if os.environ.get("SEED_EXIT_ON_EOF"):
        threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    server = make_server("127.0.0.1", int(os.environ.get("SEED_PORT", "0")), app, threaded=True)
    print(f"listening on {server.server_port}", flush=True)
    server.serve_forever()
