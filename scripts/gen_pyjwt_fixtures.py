#!/usr/bin/python3
"""Generate PyJWT interoperability fixtures for tower-jwt-auth.

Writes into tests/fixtures/pyjwt/ (relative to the repository root) a set of
JWTs signed by *another* implementation (PyJWT + cryptography), together with
the public keys needed to verify them. The Rust tests use these files to check
that tokens produced elsewhere are accepted (or rejected) by the middleware.

Every run creates fresh keys, so all outputs change together; rerun with
    /usr/bin/python3 scripts/gen_pyjwt_fixtures.py
Private keys are never written: the tests only verify.

Files produced:
  hmac_secret.txt         64 random bytes as 128 lowercase hex chars, no trailing
                          newline. The HMAC secret for HS* tokens is the ASCII
                          text of that hex string (128 bytes), NOT the decoded bytes.
  rsa_public.pem          RSA 2048 public key, SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY")
  rsa_public_pkcs1.pem    same key, PKCS#1 PEM ("BEGIN RSA PUBLIC KEY")
  rsa_public.der          same key, PKCS#1 RSAPublicKey DER (jsonwebtoken from_rsa_der)
  other_rsa_public.pem    an unrelated RSA 2048 public key, SPKI PEM
  ec_p256_public.pem/.der, ec_p384_public.pem/.der
                          SPKI PEM; .der is the raw uncompressed SEC1 point
                          0x04||x||y (jsonwebtoken from_ec_der)
  ed25519_public.pem/.der SPKI PEM; .der is the raw 32-byte key (from_ed_der)
  jwks.json               JWK Set: rsa-1, ec256-1, ec384-1, ed-1
  tokens.json             [{name, alg, key_file, kid, token, claims, expect}]
  manifest.json           generator versions, date, claims, file descriptions

At the end the script re-reads the written public files and checks every token
with jwt.decode: valid ones must decode, negative ones must fail as expected.
"""
import base64
import datetime
import json
import platform
import secrets
from pathlib import Path

import cryptography
import jwt
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "pyjwt"
ISS, AUD = "https://issuer.example", "api://tower-jwt-auth"
CLAIMS = {"sub": "user-42", "name": "Ada", "iss": ISS, "aud": AUD,
          "iat": 1700000000, "nbf": 1700000000, "exp": 4102444800,
          "scope": "read write"}
PEM, DER = ser.Encoding.PEM, ser.Encoding.DER
SPKI, PKCS1 = ser.PublicFormat.SubjectPublicKeyInfo, ser.PublicFormat.PKCS1


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n: int, length: int = 0) -> bytes:
    """Big-endian bytes; minimal (no leading zero) unless a fixed length is given."""
    return n.to_bytes(length or (n.bit_length() + 7) // 8, "big")


def write(name: str, data) -> None:
    (OUT / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    hmac_secret = secrets.token_bytes(64).hex()  # the ASCII text is the secret
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec256 = ec.generate_private_key(ec.SECP256R1())
    ec384 = ec.generate_private_key(ec.SECP384R1())
    ed = ed25519.Ed25519PrivateKey.generate()

    write("hmac_secret.txt", hmac_secret)
    rsa_pub = rsa_key.public_key()
    write("rsa_public.pem", rsa_pub.public_bytes(PEM, SPKI))
    write("rsa_public_pkcs1.pem", rsa_pub.public_bytes(PEM, PKCS1))
    write("rsa_public.der", rsa_pub.public_bytes(DER, PKCS1))
    write("other_rsa_public.pem", other_rsa.public_key().public_bytes(PEM, SPKI))
    for key, stem in ((ec256, "ec_p256"), (ec384, "ec_p384")):
        write(f"{stem}_public.pem", key.public_key().public_bytes(PEM, SPKI))
        write(f"{stem}_public.der", key.public_key().public_bytes(
            ser.Encoding.X962, ser.PublicFormat.UncompressedPoint))
    write("ed25519_public.pem", ed.public_key().public_bytes(PEM, SPKI))
    write("ed25519_public.der", ed.public_key().public_bytes(
        ser.Encoding.Raw, ser.PublicFormat.Raw))

    # JWKs built by hand: PyJWT 2.6's ECAlgorithm.to_jwk strips leading zero
    # bytes from x/y, but RFC 7518 requires fixed-length coordinates.
    rn = rsa_pub.public_numbers()
    jwks = {"keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig",
         "n": b64u(uint(rn.n)), "e": b64u(uint(rn.e))}]}
    for key, kid, crv, alg, size in ((ec256, "ec256-1", "P-256", "ES256", 32),
                                     (ec384, "ec384-1", "P-384", "ES384", 48)):
        pn = key.public_key().public_numbers()
        jwks["keys"].append({"kty": "EC", "kid": kid, "use": "sig", "alg": alg,
                             "crv": crv, "x": b64u(uint(pn.x, size)),
                             "y": b64u(uint(pn.y, size))})
    jwks["keys"].append({"kty": "OKP", "kid": "ed-1", "use": "sig", "alg": "EdDSA",
                         "crv": "Ed25519", "x": b64u(ed.public_key().public_bytes(
                             ser.Encoding.Raw, ser.PublicFormat.Raw))})
    write("jwks.json", json.dumps(jwks, indent=2) + "\n")

    # (name, alg, signing key, key_file, kid, claims, extra headers, expect)
    hs = ("hmac_secret.txt", None)
    specs = [(a, a, hmac_secret, *hs, CLAIMS, {}, "valid") for a in ("HS256", "HS384", "HS512")]
    specs += [(a, a, rsa_key, "rsa_public.pem", "rsa-1", CLAIMS, {}, "valid")
              for a in ("RS256", "RS384", "RS512", "PS256")]
    specs += [
        ("ES256", "ES256", ec256, "ec_p256_public.pem", "ec256-1", CLAIMS, {}, "valid"),
        ("ES384", "ES384", ec384, "ec_p384_public.pem", "ec384-1", CLAIMS, {}, "valid"),
        ("EdDSA", "EdDSA", ed, "ed25519_public.pem", "ed-1", CLAIMS, {}, "valid"),
        ("HS256-expired", "HS256", hmac_secret, *hs, {**CLAIMS, "exp": 1700000100}, {}, "expired"),
        ("HS256-no-exp", "HS256", hmac_secret, *hs,
         {k: v for k, v in CLAIMS.items() if k != "exp"}, {}, "missing-exp"),
        ("HS256-seed-style", "HS256", hmac_secret, *hs,
         {"data": {"name": "SmallStars", "authority": "0"}, "exp": 4102444800},
         {"typ": "jwt"}, "valid"),
        ("RS256-other-key", "RS256", other_rsa, "rsa_public.pem", "rsa-1", CLAIMS, {},
         "bad-signature"),
    ]
    tokens = []
    for name, alg, key, key_file, kid, claims, headers, expect in specs:
        hdrs = {**headers, **({"kid": kid} if kid else {})}
        token = jwt.encode(claims, key, algorithm=alg, headers=hdrs or None)
        tokens.append({"name": name, "alg": alg, "key_file": key_file, "kid": kid,
                       "token": token, "claims": claims, "expect": expect})
    write("tokens.json", json.dumps(tokens, indent=2) + "\n")

    manifest = {
        "generator": {"script": "scripts/gen_pyjwt_fixtures.py",
                      "pyjwt": jwt.__version__, "cryptography": cryptography.__version__,
                      "python": platform.python_version()},
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "claims": CLAIMS,
        "hmac_secret": "HS* secret = the ASCII bytes of the 128-char hex string in "
                       "hmac_secret.txt (not the hex-decoded 64 bytes)",
        "files": {
            "hmac_secret.txt": "64 random bytes as lowercase hex, no trailing newline; "
                               "the ASCII text itself is the HMAC secret",
            "rsa_public.pem": "RSA 2048 public key, SPKI PEM (BEGIN PUBLIC KEY)",
            "rsa_public_pkcs1.pem": "same RSA key, PKCS#1 PEM (BEGIN RSA PUBLIC KEY)",
            "rsa_public.der": "same RSA key, PKCS#1 RSAPublicKey DER",
            "other_rsa_public.pem": "unrelated RSA 2048 public key, SPKI PEM",
            "ec_p256_public.pem": "P-256 public key, SPKI PEM",
            "ec_p256_public.der": "P-256 public key, raw uncompressed SEC1 point 04||x||y (65 bytes)",
            "ec_p384_public.pem": "P-384 public key, SPKI PEM",
            "ec_p384_public.der": "P-384 public key, raw uncompressed SEC1 point 04||x||y (97 bytes)",
            "ed25519_public.pem": "Ed25519 public key, SPKI PEM",
            "ed25519_public.der": "Ed25519 public key, raw 32 bytes",
            "jwks.json": "JWK Set with rsa-1 (no alg), ec256-1 (ES256), ec384-1 (ES384), ed-1 (EdDSA)",
            "tokens.json": "array of {name, alg, key_file, kid, token, claims, expect}; "
                           "expect is valid | expired | missing-exp | bad-signature",
        },
    }
    write("manifest.json", json.dumps(manifest, indent=2) + "\n")
    verify()


def verify() -> None:
    """Re-read the written public files and check every token with PyJWT."""
    def load(key_file):
        data = (OUT / key_file).read_bytes()
        return data.decode() if key_file.endswith(".txt") else ser.load_pem_public_key(data)

    expected_error = {"expired": jwt.ExpiredSignatureError,
                      "missing-exp": jwt.MissingRequiredClaimError,
                      "bad-signature": jwt.InvalidSignatureError}
    # The JWKS and DER files must describe the same keys as the PEM files.
    jwks = {k["kid"]: k for k in json.loads((OUT / "jwks.json").read_text())["keys"]}
    for kid, pem, der, raw in (
            ("rsa-1", "rsa_public.pem", "rsa_public.der", (DER, PKCS1)),
            ("ec256-1", "ec_p256_public.pem", "ec_p256_public.der",
             (ser.Encoding.X962, ser.PublicFormat.UncompressedPoint)),
            ("ec384-1", "ec_p384_public.pem", "ec_p384_public.der",
             (ser.Encoding.X962, ser.PublicFormat.UncompressedPoint)),
            ("ed-1", "ed25519_public.pem", "ed25519_public.der",
             (ser.Encoding.Raw, ser.PublicFormat.Raw))):
        from_jwk = jwt.PyJWK(jwks[kid]).key
        assert from_jwk.public_bytes(PEM, SPKI) == (OUT / pem).read_bytes(), kid
        assert load(pem).public_bytes(*raw) == (OUT / der).read_bytes(), der
    assert load("rsa_public_pkcs1.pem").public_bytes(PEM, SPKI) == (OUT / "rsa_public.pem").read_bytes()
    print("ok   jwks.json, .der and PKCS#1 files match the SPKI PEM keys")

    for t in json.loads((OUT / "tokens.json").read_text()):
        seed = "iss" not in t["claims"]
        kwargs = {} if seed else {"audience": AUD, "issuer": ISS}
        header = jwt.get_unverified_header(t["token"])
        assert header.get("kid") == t["kid"], t["name"]
        try:
            got = jwt.decode(t["token"], load(t["key_file"]), algorithms=[t["alg"]],
                             options={"require": ["exp"]}, **kwargs)
        except jwt.PyJWTError as e:
            assert isinstance(e, expected_error.get(t["expect"], ())), (t["name"], e)
            print(f"ok   {t['name']:18} rejected as expected: {type(e).__name__}")
            continue
        assert t["expect"] == "valid" and got == t["claims"], t["name"]
        print(f"ok   {t['name']:18} decodes, header {header}")


if __name__ == "__main__":
    main()
