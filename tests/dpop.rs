//! DPoP (RFC 9449) end to end, against independent implementations: access
//! tokens from a real authorization server (oidc-provider, bound to the
//! client's key by `cnf.jkt`) and proofs from a real DPoP client (`dpop`),
//! both through the Node harness (`common::oauth_provider`), sent over HTTP
//! to an axum server behind the layer.
//!
//! One provider per test binary; each test starts its own resource servers
//! (and, for the fleet test, its own Redis).

mod common;

use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use http::header::WWW_AUTHENTICATE;
use http::{Request, StatusCode};
use http_body_util::Empty;
use serde_json::Value;
use tower_jwt_auth::{Claims, Dpop, DpopNonces, JwtAuthBuilder, JwtAuthLayer};

use common::oauth_provider::{AUDIENCE, DpopAlg, DpopToken, OauthProvider, ProofRequest};
use common::{Reply, Server, send, serve_axum};

/// The URL clients call the API by; the servers run on 127.0.0.1 behind
/// "it", as behind a TLS-terminating proxy.
const PUBLIC_URL: &str = "https://api.test";
/// The resource the proofs name.
const RESOURCE: &str = "https://api.test/orders";

async fn builder(provider: &OauthProvider) -> JwtAuthBuilder<Value> {
    JwtAuthLayer::builder()
        .key_set(provider.key_set().await)
        .issuer(provider.issuer())
        .audience(AUDIENCE)
}

/// `GET /orders` answers the token's `client_id`, behind `layer`.
async fn resource_server(layer: JwtAuthLayer<Value>) -> Server {
    let app = Router::new()
        .route(
            "/orders",
            get(
                |Extension(Claims(claims)): Extension<Claims<Value>>| async move {
                    claims["client_id"].as_str().unwrap_or_default().to_owned()
                },
            )
            .post(|| async { "posted" }),
        )
        .layer(layer);
    serve_axum(app).await
}

async fn server_with(dpop: Dpop) -> Server {
    let provider = OauthProvider::shared().await;
    let layer = builder(provider).await.dpop(dpop).build().unwrap();
    resource_server(layer).await
}

/// `method /orders` on `server` with `Authorization: <scheme> <token>` and
/// the proofs given (none, one, or several `DPoP` headers).
async fn call(server: &Server, method: &str, scheme: &str, token: &str, proofs: &[&str]) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(server.url("/orders"))
        .header("authorization", format!("{scheme} {token}"));
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    send(request.body(Empty::<Bytes>::new()).unwrap()).await
}

/// A fresh proof of `token`'s key for `GET` on the resource.
async fn proof_for(provider: &OauthProvider, token: &DpopToken) -> String {
    let request = ProofRequest::new(&token.key, "GET", RESOURCE).access_token(&token.access_token);
    provider.proof(&request).await
}

/// Every `WWW-Authenticate` value of `reply`.
fn challenges(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The reply is a 401 whose `DPoP` challenge carries `code`.
fn assert_dpop_error(reply: &Reply, code: &str, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {}",
        reply.text()
    );
    let all = challenges(reply);
    assert!(
        all.iter()
            .any(|c| c.starts_with("DPoP ") && c.contains(&format!(r#"error="{code}""#))),
        "{what}: {all:?}"
    );
    assert_eq!(reply.json()["error"], code, "{what}");
}

fn refused_kind(reply: &Reply) -> String {
    reply.error_description()
}

#[tokio::test]
async fn a_dpop_bound_token_with_its_proof_passes_for_every_algorithm() {
    let provider = OauthProvider::shared().await;
    let server = server_with(Dpop::allowed().public_url(PUBLIC_URL)).await;
    for alg in DpopAlg::ALL {
        let token = provider.dpop_token(alg).await;
        let proof = proof_for(provider, &token).await;
        let reply = call(&server, "GET", "DPoP", &token.access_token, &[&proof]).await;
        assert_eq!(reply.status, StatusCode::OK, "{alg:?}: {}", reply.text());
        assert_eq!(reply.text(), "harness-dpop");
    }
}

#[tokio::test]
async fn a_proof_is_accepted_once() {
    let provider = OauthProvider::shared().await;
    let server = server_with(Dpop::allowed().public_url(PUBLIC_URL)).await;
    let token = provider.dpop_token(DpopAlg::Es256).await;
    let proof = proof_for(provider, &token).await;
    let first = call(&server, "GET", "DPoP", &token.access_token, &[&proof]).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let again = call(&server, "GET", "DPoP", &token.access_token, &[&proof]).await;
    assert_dpop_error(&again, "invalid_dpop_proof", "the same proof again");
    assert_eq!(refused_kind(&again), "DPoP proof replayed");
    // A new proof of the same key is a new request.
    let fresh = proof_for(provider, &token).await;
    let next = call(&server, "GET", "DPoP", &token.access_token, &[&fresh]).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.text());
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_proof_used_on_one_server_is_refused_by_another_sharing_redis() {
    use common::redis::RedisServer;
    use tower_jwt_auth::{RedisReplays, ReplayCheck};

    let provider = OauthProvider::shared().await;
    let redis = RedisServer::start().await;
    let mut servers = Vec::new();
    for _ in 0..2 {
        let store = RedisReplays::connect(redis.url()).await.unwrap();
        let dpop = Dpop::allowed()
            .public_url(PUBLIC_URL)
            .replay(ReplayCheck::new(store));
        servers.push(server_with(dpop).await);
    }
    let token = provider.dpop_token(DpopAlg::Es256).await;
    let proof = proof_for(provider, &token).await;
    let on_a = call(&servers[0], "GET", "DPoP", &token.access_token, &[&proof]).await;
    assert_eq!(on_a.status, StatusCode::OK, "{}", on_a.text());
    let on_b = call(&servers[1], "GET", "DPoP", &token.access_token, &[&proof]).await;
    assert_dpop_error(&on_b, "invalid_dpop_proof", "replayed on B");
    assert_eq!(refused_kind(&on_b), "DPoP proof replayed");
    // B takes a proof of its own.
    let fresh = proof_for(provider, &token).await;
    let own = call(&servers[1], "GET", "DPoP", &token.access_token, &[&fresh]).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text());
}

#[tokio::test]
async fn proofs_that_do_not_fit_the_request_or_the_token_are_refused() {
    let provider = OauthProvider::shared().await;
    let server = server_with(Dpop::allowed().public_url(PUBLIC_URL)).await;
    let token = provider.dpop_token(DpopAlg::Es256).await;
    let other = provider.dpop_token(DpopAlg::Es256).await;
    let at = |htm: &str, htu: &str| {
        ProofRequest::new(&token.key, htm, htu).access_token(&token.access_token)
    };
    let cases = [
        ("another method", at("POST", RESOURCE), "invalid_dpop_proof"),
        (
            "another URL",
            at("GET", "https://api.test/invoices"),
            "invalid_dpop_proof",
        ),
        (
            "another host",
            at("GET", "https://evil.test/orders"),
            "invalid_dpop_proof",
        ),
        (
            "iat two minutes ago",
            at("GET", RESOURCE).iat_offset(-120),
            "invalid_dpop_proof",
        ),
        (
            "iat a minute ahead",
            at("GET", RESOURCE).iat_offset(60),
            "invalid_dpop_proof",
        ),
        (
            "ath of another token",
            ProofRequest::new(&token.key, "GET", RESOURCE).access_token(&other.access_token),
            "invalid_dpop_proof",
        ),
        (
            "no ath",
            ProofRequest::new(&token.key, "GET", RESOURCE),
            "invalid_dpop_proof",
        ),
        (
            "another key",
            ProofRequest::new(&other.key, "GET", RESOURCE).access_token(&token.access_token),
            "invalid_token",
        ),
    ];
    for (what, request, code) in cases {
        let proof = provider.proof(&request).await;
        let reply = call(&server, "GET", "DPoP", &token.access_token, &[&proof]).await;
        assert_dpop_error(&reply, code, what);
    }

    // A query and a fragment are not part of the URL compared (RFC 9449 §4.3).
    let with_query = at("GET", "https://API.test:443/orders?page=2#top");
    let proof = provider.proof(&with_query).await;
    let reply = call(&server, "GET", "DPoP", &token.access_token, &[&proof]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn a_dpop_token_without_its_proof_or_as_a_bearer_token_is_refused() {
    let provider = OauthProvider::shared().await;
    let server = server_with(Dpop::allowed().public_url(PUBLIC_URL)).await;
    let token = provider.dpop_token(DpopAlg::Es256).await;

    let no_proof = call(&server, "GET", "DPoP", &token.access_token, &[]).await;
    assert_dpop_error(&no_proof, "invalid_dpop_proof", "no proof");
    assert_eq!(refused_kind(&no_proof), "no DPoP proof");

    // RFC 9449 §7.2: a bound token as a bearer token, even with a good proof.
    let proof = proof_for(provider, &token).await;
    let as_bearer = call(&server, "GET", "Bearer", &token.access_token, &[&proof]).await;
    assert_dpop_error(&as_bearer, "invalid_token", "bound token as Bearer");
    assert_eq!(
        refused_kind(&as_bearer),
        "DPoP-bound token sent as a bearer token"
    );

    let (a, b) = (
        proof_for(provider, &token).await,
        proof_for(provider, &token).await,
    );
    let two = call(&server, "GET", "DPoP", &token.access_token, &[&a, &b]).await;
    assert_eq!(two.status, StatusCode::BAD_REQUEST, "{}", two.text());
    assert_eq!(two.json()["error"], "invalid_request");

    let garbage = call(&server, "GET", "DPoP", &token.access_token, &["not.a.jwt!"]).await;
    assert_eq!(
        garbage.status,
        StatusCode::BAD_REQUEST,
        "{}",
        garbage.text()
    );

    // A plain bearer token, which this server also takes, sent as DPoP.
    let bearer = provider.bearer_token().await;
    let proof = proof_for(provider, &token).await;
    let unbound = call(&server, "GET", "DPoP", &bearer, &[&proof]).await;
    assert_dpop_error(&unbound, "invalid_token", "unbound token as DPoP");
}

#[tokio::test]
async fn allowed_and_required_modes_answer_bearer_tokens_and_challenge_accordingly() {
    let provider = OauthProvider::shared().await;
    let bearer = provider.bearer_token().await;

    let allowed = server_with(Dpop::allowed().public_url(PUBLIC_URL)).await;
    let ok = call(&allowed, "GET", "Bearer", &bearer, &[]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    let request = Request::get(allowed.url("/orders"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let none = send(request).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let offered = challenges(&none);
    assert_eq!(offered.len(), 2, "{offered:?}");
    assert_eq!(offered[0], "Bearer");
    assert!(
        offered[1].starts_with("DPoP algs=\"ES256 ") && !offered[1].contains("error="),
        "{offered:?}"
    );

    let required = server_with(Dpop::required().public_url(PUBLIC_URL)).await;
    let refused = call(&required, "GET", "Bearer", &bearer, &[]).await;
    assert_dpop_error(&refused, "invalid_token", "bearer where DPoP is required");
    assert_eq!(refused_kind(&refused), "DPoP required");
    assert!(
        challenges(&refused).iter().all(|c| c.starts_with("DPoP ")),
        "no Bearer challenge where DPoP is required: {:?}",
        challenges(&refused)
    );
    let token = provider.dpop_token(DpopAlg::Es256).await;
    let proof = proof_for(provider, &token).await;
    let ok = call(&required, "GET", "DPoP", &token.access_token, &[&proof]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
}

#[tokio::test]
async fn the_nonce_round_trip() {
    let provider = OauthProvider::shared().await;
    let nonces = DpopNonces::new([7u8; 32]).unwrap();
    let server = server_with(Dpop::required().public_url(PUBLIC_URL).nonces(nonces)).await;
    let token = provider.dpop_token(DpopAlg::Es256).await;

    // Without a nonce: 401 use_dpop_nonce, and one to use.
    let proof = proof_for(provider, &token).await;
    let first = call(&server, "GET", "DPoP", &token.access_token, &[&proof]).await;
    assert_dpop_error(&first, "use_dpop_nonce", "no nonce");
    let nonce = first.header("dpop-nonce").to_owned();
    assert!(!nonce.is_empty(), "a DPoP-Nonce header");

    // With a made-up one: the same.
    let request = ProofRequest::new(&token.key, "GET", RESOURCE)
        .access_token(&token.access_token)
        .nonce("made-up");
    let made_up = provider.proof(&request).await;
    let wrong = call(&server, "GET", "DPoP", &token.access_token, &[&made_up]).await;
    assert_dpop_error(&wrong, "use_dpop_nonce", "a made-up nonce");

    // With the server's: accepted.
    let request = ProofRequest::new(&token.key, "GET", RESOURCE)
        .access_token(&token.access_token)
        .nonce(&nonce);
    let proof = provider.proof(&request).await;
    let ok = call(&server, "GET", "DPoP", &token.access_token, &[&proof]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
}

#[tokio::test]
async fn the_verifiers_refusal_of_a_dpop_token_goes_under_dpop() {
    let provider = OauthProvider::shared().await;
    let server = server_with(Dpop::allowed().public_url(PUBLIC_URL)).await;
    let token = provider.dpop_token(DpopAlg::Es256).await;
    // The verifier's refusal of a token sent with DPoP goes under DPoP too.
    let mut tampered = token.access_token.clone();
    tampered.pop();
    tampered.push(if token.access_token.ends_with('A') {
        'B'
    } else {
        'A'
    });
    let proof = proof_for(provider, &token).await;
    let reply = call(&server, "GET", "DPoP", &tampered, &[&proof]).await;
    assert_dpop_error(&reply, "invalid_token", "a tampered token sent with DPoP");
}
