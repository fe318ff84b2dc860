//! Tokens signed by PyJWT (tests/fixtures/pyjwt, made by
//! scripts/gen_pyjwt_fixtures.py) verify here with every key format: PEM
//! (SPKI and PKCS#1), DER and a JWK Set; and any change to them is refused.

use std::convert::Infallible;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use serde_json::Value;
use tower::{Layer, ServiceExt, service_fn};
use tower_jwt_auth::{AuthError, AuthErrorKind, Claims, JwtAuthBuilder, JwtAuthLayer, Key, KeySet};

type Body = Full<Bytes>;

/// The clock of every layer here: after the fixtures' `nbf`, before their `exp`.
const NOW: u64 = 1_800_000_000;
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api://tower-jwt-auth";

/// One entry of tokens.json.
#[derive(Debug, Deserialize)]
struct Fixture {
    name: String,
    alg: String,
    key_file: String,
    kid: Option<String>,
    token: String,
    claims: Value,
    expect: String,
}

impl Fixture {
    fn is_hmac(&self) -> bool {
        self.alg.starts_with("HS")
    }

    /// The seed application's token: no `iss` or `aud`, `typ: "jwt"`.
    fn is_seed_style(&self) -> bool {
        self.claims.get("iss").is_none()
    }
}

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pyjwt")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

fn fixtures() -> Vec<Fixture> {
    serde_json::from_slice(&read("tokens.json")).unwrap()
}

fn fixture(name: &str) -> Fixture {
    fixtures().into_iter().find(|f| f.name == name).unwrap()
}

/// The key of `key_file`, read with the constructor of its format.
fn key_for(key_file: &str) -> Key {
    let bytes = read(key_file);
    match key_file {
        // The ASCII text itself is the secret, not its hex decoding.
        "hmac_secret.txt" => Key::hmac(bytes),
        f if f.starts_with("rsa_") || f.starts_with("other_rsa_") => Key::rsa_pem(&bytes).unwrap(),
        f if f.starts_with("ec_") => Key::ec_pem(&bytes).unwrap(),
        f if f.starts_with("ed25519") => Key::ed_pem(&bytes).unwrap(),
        other => panic!("no key constructor for {other}"),
    }
}

/// A clock fixed at [`NOW`], and `iss`/`aud` as the fixtures carry them.
fn configured(keys: impl IntoIterator<Item = Key>, seed_style: bool) -> JwtAuthBuilder<Value> {
    let builder = JwtAuthLayer::builder().keys(keys).clock(|| NOW);
    if seed_style {
        builder
    } else {
        builder.issuer(ISSUER).audience(AUDIENCE)
    }
}

fn layer_for(fixture: &Fixture) -> JwtAuthLayer<Value> {
    configured([key_for(&fixture.key_file)], fixture.is_seed_style())
        .build()
        .unwrap()
}

async fn echo(request: Request<Body>) -> Result<Response<Body>, Infallible> {
    let mut response = Response::new(Body::default());
    *response.extensions_mut() = request.into_parts().0.extensions;
    Ok(response)
}

/// The claims the inner service received, or the reason for the refusal.
async fn verify(layer: &JwtAuthLayer<Value>, token: &str) -> Result<Value, AuthErrorKind> {
    let request = Request::get("/")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::default())
        .unwrap();
    let response = layer
        .layer(service_fn(echo))
        .oneshot(request)
        .await
        .unwrap();
    match response.extensions().get::<AuthError>() {
        Some(error) => {
            assert_ne!(response.status(), StatusCode::OK);
            Err(error.kind())
        }
        None => {
            assert_eq!(response.status(), StatusCode::OK);
            Ok(response
                .extensions()
                .get::<Claims<Value>>()
                .unwrap()
                .0
                .clone())
        }
    }
}

fn expected_outcome(fixture: &Fixture) -> Result<Value, AuthErrorKind> {
    match fixture.expect.as_str() {
        "valid" => Ok(fixture.claims.clone()),
        "expired" => Err(AuthErrorKind::Expired),
        "missing-exp" => Err(AuthErrorKind::MissingClaim),
        "bad-signature" => Err(AuthErrorKind::InvalidSignature),
        other => panic!("unknown expectation {other:?}"),
    }
}

#[test]
fn the_fixtures_cover_every_algorithm_and_expectation() {
    let fixtures = fixtures();
    let algs: Vec<&str> = fixtures.iter().map(|f| f.alg.as_str()).collect();
    for alg in [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA",
    ] {
        assert!(algs.contains(&alg), "no {alg} fixture");
    }
    for expect in ["valid", "expired", "missing-exp", "bad-signature"] {
        assert!(
            fixtures.iter().any(|f| f.expect == expect),
            "no {expect} fixture"
        );
    }
}

#[tokio::test]
async fn every_fixture_gets_its_expected_answer() {
    for fixture in fixtures() {
        let outcome = verify(&layer_for(&fixture), &fixture.token).await;
        assert_eq!(outcome, expected_outcome(&fixture), "{}", fixture.name);
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct User {
    sub: String,
    name: String,
    scope: String,
    exp: u64,
}

#[tokio::test]
async fn valid_fixtures_decode_into_a_typed_claims_struct() {
    for fixture in fixtures()
        .iter()
        .filter(|f| f.expect == "valid" && !f.is_seed_style())
    {
        let layer = JwtAuthLayer::<User>::builder()
            .key(key_for(&fixture.key_file))
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .clock(|| NOW)
            .build()
            .unwrap();
        let request = Request::get("/")
            .header(AUTHORIZATION, format!("Bearer {}", fixture.token))
            .body(Body::default())
            .unwrap();
        let inner = service_fn(|request: Request<Body>| async move {
            let user = request.extensions().get::<Claims<User>>().cloned();
            Ok::<_, Infallible>(Response::new(Body::from(format!(
                "{:?}",
                user.map(|c| c.0)
            ))))
        });
        let response = layer.layer(inner).oneshot(request).await.unwrap();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let expected = User {
            sub: "user-42".into(),
            name: "Ada".into(),
            scope: "read write".into(),
            exp: 4_102_444_800,
        };
        assert_eq!(body, format!("{:?}", Some(expected)), "{}", fixture.name);
    }
}

#[tokio::test]
async fn the_seed_style_token_passes_a_typ_check() {
    let fixture = fixture("HS256-seed-style");
    let header = URL_SAFE_NO_PAD
        .decode(fixture.token.split('.').next().unwrap())
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    assert_eq!(header["typ"], "jwt", "PyJWT's lowercase typ");
    let layer = configured([key_for(&fixture.key_file)], true)
        .typ("JWT")
        .build()
        .unwrap();
    assert_eq!(
        verify(&layer, &fixture.token).await,
        Ok(fixture.claims.clone())
    );
    assert_eq!(fixture.claims["data"]["name"], "SmallStars");
}

// ---------------------------------------------------------------------------
// Tampering
// ---------------------------------------------------------------------------

/// Edits the decoded segment `index` of `token`, and re-encodes it.
fn edit_segment(token: &str, index: usize, edit: impl FnOnce(String) -> String) -> String {
    let mut segments: Vec<String> = token.split('.').map(str::to_owned).collect();
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(&segments[index]).unwrap()).unwrap();
    let edited = edit(decoded.clone());
    assert_ne!(edited, decoded, "the edit changed nothing");
    segments[index] = URL_SAFE_NO_PAD.encode(edited);
    segments.join(".")
}

/// Another value in the claims: `user-42` becomes `user-43`.
fn tamper_claims(token: &str) -> String {
    edit_segment(token, 1, |claims| {
        if claims.contains("user-42") {
            claims.replace("user-42", "user-43")
        } else {
            claims.replace("SmallStars", "SmallStarz")
        }
    })
}

/// One character of the signature changed, still valid base64url. The first
/// character carries six bits of the first byte, so the bytes change.
fn tamper_signature(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    format!("{signed}.{first}{}", &signature[1..])
}

/// The header's `alg` swapped for another one of its family (EdDSA has none:
/// HS256, the classic confusion, stands in).
fn tamper_alg(token: &str, alg: &str) -> (String, &'static str) {
    let other = match alg {
        "HS256" => "HS384",
        "HS384" | "HS512" => "HS256",
        "RS256" => "PS256",
        "RS384" | "RS512" | "PS256" => "RS256",
        "ES256" => "ES384",
        "ES384" => "ES256",
        "EdDSA" => "HS256",
        other => panic!("no swap for {other}"),
    };
    let quoted = |a: &str| format!(r#""alg":"{a}""#);
    let tampered = edit_segment(token, 0, |header| {
        header.replace(&quoted(alg), &quoted(other))
    });
    (tampered, other)
}

#[tokio::test]
async fn tampered_valid_tokens_are_refused() {
    for fixture in fixtures().iter().filter(|f| f.expect == "valid") {
        let layer = layer_for(fixture);
        let name = &fixture.name;
        let claims = tamper_claims(&fixture.token);
        assert_eq!(
            verify(&layer, &claims).await,
            Err(AuthErrorKind::InvalidSignature),
            "{name}"
        );
        let signature = tamper_signature(&fixture.token);
        assert_eq!(
            verify(&layer, &signature).await,
            Err(AuthErrorKind::InvalidSignature),
            "{name}"
        );

        // An algorithm the key allows only fails the signature; an EC key is
        // bound to its curve's algorithm and an Ed25519 key to EdDSA.
        let (swapped, other) = tamper_alg(&fixture.token, &fixture.alg);
        let expected = if fixture.is_hmac() || fixture.alg.starts_with(['R', 'P']) {
            AuthErrorKind::InvalidSignature
        } else {
            AuthErrorKind::AlgorithmNotAllowed
        };
        assert_eq!(
            verify(&layer, &swapped).await,
            Err(expected),
            "{name} as {other}"
        );
    }
}

// ---------------------------------------------------------------------------
// Other key formats
// ---------------------------------------------------------------------------

fn asymmetric() -> Vec<Fixture> {
    fixtures().into_iter().filter(|f| !f.is_hmac()).collect()
}

/// Every asymmetric fixture through one layer holding `keys`.
async fn check_asymmetric_with(keys: Vec<Key>) {
    let layer = configured(keys, false).build().unwrap();
    for fixture in asymmetric() {
        let outcome = verify(&layer, &fixture.token).await;
        assert_eq!(outcome, expected_outcome(&fixture), "{}", fixture.name);
    }
}

#[tokio::test]
async fn one_jwks_layer_verifies_every_asymmetric_token_by_kid() {
    let set = KeySet::from_json(&read("jwks.json")).unwrap();
    assert_eq!(set.skipped(), 0);
    let kids: Vec<_> = set
        .keys()
        .iter()
        .map(|k| k.kid().unwrap().to_owned())
        .collect();
    assert_eq!(kids, ["rsa-1", "ec256-1", "ec384-1", "ed-1"]);
    for fixture in asymmetric() {
        assert!(
            kids.contains(fixture.kid.as_ref().unwrap()),
            "{}",
            fixture.name
        );
    }
    check_asymmetric_with(set.into_iter().collect()).await;
}

#[tokio::test]
async fn a_jwks_layer_refuses_a_kid_it_does_not_know() {
    let layer = configured(KeySet::from_json(&read("jwks.json")).unwrap(), false)
        .build()
        .unwrap();
    let fixture = fixture("RS256");
    let renamed = edit_segment(&fixture.token, 0, |h| h.replace("rsa-1", "rsa-2"));
    assert_eq!(
        verify(&layer, &renamed).await,
        Err(AuthErrorKind::UnknownKey)
    );
}

#[tokio::test]
async fn der_keys_verify_the_same_tokens() {
    // Kid-less keys: the tokens' kids fall back to them.
    check_asymmetric_with(vec![
        Key::rsa_der(&read("rsa_public.der")),
        Key::ec_der(&read("ec_p256_public.der")).unwrap(),
        Key::ec_der(&read("ec_p384_public.der")).unwrap(),
        Key::ed_der(&read("ed25519_public.der")),
    ])
    .await;
}

#[tokio::test]
async fn a_pkcs1_pem_verifies_the_rsa_tokens() {
    let layer = configured(
        [Key::rsa_pem(&read("rsa_public_pkcs1.pem")).unwrap()],
        false,
    )
    .build()
    .unwrap();
    let rsa = fixtures()
        .into_iter()
        .filter(|f| f.alg.starts_with(['R', 'P']));
    let mut checked = 0;
    for fixture in rsa {
        let outcome = verify(&layer, &fixture.token).await;
        assert_eq!(outcome, expected_outcome(&fixture), "{}", fixture.name);
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[tokio::test]
async fn the_other_rsa_key_verifies_none_of_them() {
    let layer = configured(
        [Key::rsa_pem(&read("other_rsa_public.pem")).unwrap()],
        false,
    )
    .build()
    .unwrap();
    for fixture in fixtures().iter().filter(|f| f.alg.starts_with(['R', 'P'])) {
        let outcome = verify(&layer, &fixture.token).await;
        // RS256-other-key was signed by this key's private half.
        if fixture.expect == "bad-signature" {
            assert!(outcome.is_ok(), "{}: {outcome:?}", fixture.name);
        } else {
            assert_eq!(
                outcome,
                Err(AuthErrorKind::InvalidSignature),
                "{}",
                fixture.name
            );
        }
    }
}
