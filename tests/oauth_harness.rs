//! The OAuth harness end to end (tests/oauth/server.mjs through
//! `common::oauth_provider`), before the crate checks DPoP itself: tokens from
//! a real authorization server (oidc-provider) and proofs from a real DPoP
//! client (`dpop`), read here by hand and compared with what this file
//! computes on its own (RFC 7638 thumbprints, `ath`, `x5t#S256`); the tokens'
//! signatures verified by the crate with the provider's JWK Set. The crate
//! refuses a bound token when no check proves its binding, so the DPoP-bound
//! and certificate-bound tokens are refused as bearer tokens, and a plain one
//! passes.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::WWW_AUTHENTICATE;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower_jwt_auth::{Claims, JwtAuthBuilder, JwtAuthLayer, Key};

use common::oauth_provider::{AUDIENCE, DpopAlg, OPAQUE_AUDIENCE, OauthProvider, ProofRequest};
use common::{Reply, Server, send, send_bearer, serve_axum};

/// The resource the proofs are made for.
const RESOURCE: &str = "https://api.test/orders";

// ---------------------------------------------------------------------------
// Computed here, independently of the harness.
// ---------------------------------------------------------------------------

fn sha256_b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

/// The JSON of a compact JWS's part `index` (0: header, 1: payload).
fn part(jws: &str, index: usize) -> Value {
    let part = jws.split('.').nth(index).expect("a compact JWS");
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url");
    serde_json::from_slice(&bytes).expect("a JSON object")
}

/// The RFC 7638 thumbprint of a public JWK: the SHA-256 of its required
/// members, in lexicographic order, as JSON without white space.
fn thumbprint(jwk: &Value) -> String {
    let required: &[&str] = match jwk["kty"].as_str().expect("kty") {
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "RSA" => &["e", "kty", "n"],
        other => panic!("unexpected kty {other}"),
    };
    let members: Vec<String> = required
        .iter()
        .map(|name| {
            let value = jwk[*name].as_str().expect("a string member");
            format!("\"{name}\":{}", Value::from(value))
        })
        .collect();
    sha256_b64url(format!("{{{}}}", members.join(",")).as_bytes())
}

fn unix_now() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(now.as_secs()).unwrap()
}

// ---------------------------------------------------------------------------
// A resource server: the crate's layer before an axum handler.
// ---------------------------------------------------------------------------

fn layer(provider: &OauthProvider) -> JwtAuthBuilder<Value> {
    JwtAuthLayer::builder()
        .issuer(provider.issuer())
        .audience(AUDIENCE)
}

/// `GET /orders` answers the token's `client_id`.
async fn resource_server(layer: JwtAuthLayer<Value>) -> Server {
    let app = Router::new()
        .route(
            "/orders",
            get(
                |Extension(Claims(claims)): Extension<Claims<Value>>| async move {
                    claims["client_id"].as_str().unwrap_or_default().to_owned()
                },
            ),
        )
        .layer(layer);
    serve_axum(app).await
}

fn assert_invalid_token(reply: &Reply, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {}",
        reply.text()
    );
    let challenge = reply.header(WWW_AUTHENTICATE);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{what}: {challenge}"
    );
}

// ---------------------------------------------------------------------------
// Tokens.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn dpop_tokens_are_bound_to_the_key_the_harness_keeps() {
    let provider = OauthProvider::shared().await;
    for alg in DpopAlg::ALL {
        let token = provider.dpop_token(alg).await;
        assert_eq!(token.token_type, "DPoP", "{alg:?}");
        assert_eq!(token.alg, alg.as_str());
        // The thumbprint of the key, three ways: the harness's, this file's,
        // and the provider's (the token's cnf.jkt, from the proof it got).
        assert_eq!(token.jkt, thumbprint(&token.public_jwk), "{alg:?}");
        assert!(token.public_jwk.get("d").is_none(), "a public key only");

        let header = part(&token.access_token, 0);
        assert_eq!(header["typ"], "at+jwt", "RFC 9068: {header}");
        assert_eq!(header["alg"], "ES256");
        assert!(header["kid"].is_string(), "{header}");
        let claims = part(&token.access_token, 1);
        assert_eq!(
            claims["cnf"],
            json!({ "jkt": token.jkt }),
            "{alg:?}: {claims}"
        );
        assert_eq!(claims["iss"], provider.issuer());
        assert_eq!(claims["aud"], AUDIENCE);
        assert_eq!(claims["client_id"], "harness-dpop");
        assert!(claims["exp"].as_i64().unwrap() > unix_now(), "{claims}");
    }
}

#[tokio::test]
async fn certificate_bound_tokens_carry_the_certificate_thumbprint() {
    let provider = OauthProvider::shared().await;
    let mut seen = Vec::new();
    for name in ["client-a.test", "client-b.test"] {
        let client = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let x5t = sha256_b64url(client.cert.der());
        let token = provider.mtls_token(&client.cert.pem()).await;
        assert_eq!(token.x5t_s256, x5t);
        let claims = part(&token.access_token, 1);
        assert_eq!(claims["cnf"], json!({ "x5t#S256": x5t }), "{claims}");
        assert_eq!(claims["client_id"], "harness-mtls");
        assert_eq!(claims["aud"], AUDIENCE);
        seen.push(x5t);
    }
    assert_ne!(seen[0], seen[1], "each certificate its own binding");
}

#[tokio::test]
async fn bearer_tokens_are_not_bound() {
    let provider = OauthProvider::shared().await;
    let claims = part(&provider.bearer_token().await, 1);
    assert!(claims.get("cnf").is_none(), "{claims}");
    assert_eq!(claims["client_id"], "harness-bearer");
    assert_eq!(claims["aud"], AUDIENCE);
}

// ---------------------------------------------------------------------------
// Proofs.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn proofs_carry_the_members_of_rfc_9449() {
    let provider = OauthProvider::shared().await;
    for alg in DpopAlg::ALL {
        let token = provider.dpop_token(alg).await;
        let request =
            ProofRequest::new(&token.key, "GET", RESOURCE).access_token(&token.access_token);
        let proof = provider.proof(&request).await;

        let header = part(&proof, 0);
        assert_eq!(header["typ"], "dpop+jwt", "{header}");
        assert_eq!(header["alg"], alg.as_str(), "{header}");
        assert_eq!(
            thumbprint(&header["jwk"]),
            token.jkt,
            "the token's key: {header}"
        );
        assert!(header["jwk"].get("d").is_none(), "{header}");

        let claims = part(&proof, 1);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], RESOURCE);
        assert!(
            (claims["iat"].as_i64().unwrap() - unix_now()).abs() < 60,
            "{claims}"
        );
        assert!(!claims["jti"].as_str().unwrap().is_empty(), "{claims}");
        assert_eq!(
            claims["ath"],
            sha256_b64url(token.access_token.as_bytes()),
            "{claims}"
        );
        assert!(claims.get("nonce").is_none(), "{claims}");

        // Another proof, another jti.
        let again = part(&provider.proof(&request).await, 1);
        assert_ne!(again["jti"], claims["jti"]);
    }
}

#[tokio::test]
async fn proofs_take_a_nonce_a_shifted_iat_and_a_chosen_jti() {
    let provider = OauthProvider::shared().await;
    let token = provider.dpop_token(DpopAlg::Es256).await;
    // No access token: no ath (as for a token request).
    let request = ProofRequest::new(&token.key, "POST", RESOURCE)
        .nonce("server-nonce-1")
        .iat_offset(-300)
        .jti("chosen-jti");
    let proof = provider.proof(&request).await;
    let claims = part(&proof, 1);
    assert_eq!(claims["nonce"], "server-nonce-1");
    assert_eq!(claims["jti"], "chosen-jti");
    assert_eq!(claims["htm"], "POST");
    assert!(claims.get("ath").is_none(), "{claims}");
    let shift = claims["iat"].as_i64().unwrap() - unix_now();
    assert!((-360..-240).contains(&shift), "iat {shift} s from now");
    let header = part(&proof, 0);
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(thumbprint(&header["jwk"]), token.jkt);
}

/// The proofs' signatures, checked by the crate with the key of their
/// header (a proof has no `exp`, hence `required_claims([])`). Proofs that
/// say `"alg": "Ed25519"` are left out: jsonwebtoken knows that algorithm
/// only by its older name, `EdDSA`, and refuses the header.
#[tokio::test]
async fn proof_signatures_verify_with_the_crate() {
    let provider = OauthProvider::shared().await;
    for alg in [
        DpopAlg::Es256,
        DpopAlg::EdDsa,
        DpopAlg::Ps256,
        DpopAlg::Rs256,
    ] {
        let token = provider.dpop_token(alg).await;
        let jwk = serde_json::to_vec(&token.public_jwk).unwrap();
        let layer = JwtAuthLayer::<Value>::builder()
            .key(Key::from_jwk_json(&jwk).expect("the proof key"))
            .required_claims([])
            .build()
            .unwrap();
        let server = resource_server(layer).await;
        let url = server.url("/orders");
        for request in [
            ProofRequest::new(&token.key, "GET", RESOURCE),
            // Re-signed by the harness with jose, not by the library.
            ProofRequest::new(&token.key, "GET", RESOURCE)
                .jti("mine")
                .iat_offset(-30),
        ] {
            let proof = provider.proof(&request).await;
            let reply = send_bearer("GET", &url, &proof).await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{alg:?} {request:?}: {}",
                reply.text()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The crate's layer with the provider's keys.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_layer_verifies_provider_tokens_and_refuses_bound_ones_as_bearer_tokens() {
    let provider = OauthProvider::shared().await;
    let keys = provider.key_set().await;
    assert!(!keys.keys().is_empty() && keys.skipped() == 0, "{keys:?}");
    let server = resource_server(layer(provider).key_set(keys).build().unwrap()).await;
    let url = server.url("/orders");

    let bearer = provider.bearer_token().await;
    let reply = send_bearer("GET", &url, &bearer).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.text(), "harness-bearer");

    // Signed by the same key, but bound: no DPoP check is configured, so the
    // binding cannot be proven (RFC 9449 §7.2, TokenBindingMismatch).
    let dpop = provider.dpop_token(DpopAlg::Es256).await;
    assert_invalid_token(
        &send_bearer("GET", &url, &dpop.access_token).await,
        "a DPoP-bound token as a bearer token",
    );
    let client = rcgen::generate_simple_self_signed(vec!["client.test".to_owned()]).unwrap();
    let mtls = provider.mtls_token(&client.cert.pem()).await;
    assert_invalid_token(
        &send_bearer("GET", &url, &mtls.access_token).await,
        "a certificate-bound token without a certificate check",
    );
}

#[cfg(feature = "remote-jwks")]
#[tokio::test]
async fn a_remote_key_set_of_the_provider_verifies_its_tokens() {
    let provider = OauthProvider::shared().await;
    // http:// is allowed to loopback addresses without allow_http.
    let keys = tower_jwt_auth::RemoteKeySet::builder(provider.jwks_uri())
        .timeout(Duration::from_secs(5))
        .build()
        .await
        .expect("the provider's JWK Set");
    let server = resource_server(layer(provider).jwks(keys).build().unwrap()).await;
    let reply = send_bearer(
        "GET",
        &server.url("/orders"),
        &provider.bearer_token().await,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

// ---------------------------------------------------------------------------
// The harness itself.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn counts_follow_the_token_requests() {
    let provider = OauthProvider::shared().await;
    let before = provider.counts().await;
    provider.dpop_token(DpopAlg::Es256).await;
    provider.bearer_token().await;
    let after = provider.counts().await;
    // Other tests share the provider: at least these.
    let grew = |name: &str| after[name].as_u64().unwrap() - before[name].as_u64().unwrap();
    assert!(grew("dpop_tokens") >= 1, "{before} {after}");
    assert!(grew("bearer_tokens") >= 1, "{before} {after}");
    // The provider asks for a nonce first: two requests for a DPoP token.
    assert!(grew("dpop_nonce_challenges") >= 1, "{before} {after}");
    assert!(grew("token_requests") >= 3, "{before} {after}");
    assert!(grew("provider_grants") >= 2, "{before} {after}");
}

#[tokio::test]
async fn the_provider_is_started_once_per_test_binary() {
    let first = OauthProvider::shared().await;
    let second = OauthProvider::shared().await;
    assert!(std::ptr::eq(first, second));
    assert_eq!(OauthProvider::shared_starts(), 1);
    eprintln!(
        "the shared OAuth provider (pid {}) started in {:?}",
        first.pid(),
        first.startup_time()
    );
}

#[tokio::test]
async fn a_private_provider_exits_when_its_stdin_closes() {
    let provider = OauthProvider::start().await;
    eprintln!(
        "a private OAuth provider started in {:?}",
        provider.startup_time()
    );
    assert!(provider.issuer().starts_with("http://127.0.0.1:"));
    assert_ne!(provider.issuer(), OauthProvider::shared().await.issuer());
    let status = provider
        .close_stdin(Duration::from_secs(5))
        .await
        .expect("the server exits when its stdin closes");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn the_control_api_refuses_what_it_cannot_do() {
    let provider = OauthProvider::shared().await;
    let refusals = [
        (
            "/proof",
            json!({ "key": "no-such-key", "htm": "GET", "htu": RESOURCE }),
            404,
        ),
        ("/proof", json!({ "htm": "GET", "htu": RESOURCE }), 400),
        ("/dpop-token", json!({ "alg": "HS256" }), 400),
        (
            "/mtls-token",
            json!({ "cert_pem": "not a certificate" }),
            400,
        ),
        // The provider's own refusal: an audience it does not serve.
        (
            "/bearer-token",
            json!({ "resource": "https://elsewhere.test" }),
            502,
        ),
    ];
    for (path, body, status) in refusals {
        let (got, answer) = provider
            .try_call(Method::POST, path, body.clone())
            .await
            .expect_err("refused");
        assert_eq!(got.as_u16(), status, "{path} {body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
}

/// oidc-provider introspects opaque tokens only: those of the second audience.
#[tokio::test]
async fn opaque_dpop_tokens_introspect_with_their_binding() {
    let provider = OauthProvider::shared().await;
    let token = provider
        .call(
            Method::POST,
            "/dpop-token",
            json!({ "alg": "ES256", "resource": OPAQUE_AUDIENCE }),
        )
        .await;
    let info = provider.info().await;
    let client = &info["introspection_client"];
    let credentials = format!(
        "{}:{}",
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap()
    );
    let form = format!("token={}", token["access_token"].as_str().unwrap());
    let request = Request::post(info["introspection_endpoint"].as_str().unwrap())
        .header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(http_body_util::Full::new(Bytes::from(form)))
        .unwrap();
    let reply = send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(answer["aud"], OPAQUE_AUDIENCE);
    assert_eq!(answer["cnf"], json!({ "jkt": token["jkt"] }));
}
