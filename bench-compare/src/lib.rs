//! tower-jwt-auth and the JWT middleware users would pick instead, behind the
//! same axum route, for `benches/peers.rs`.
//!
//! Every [`Peer`] is one axum `Router` with one route, `GET /me`, answering the
//! token's `sub` claim as text (or, where the peer gives no claims, the same
//! fixed text). The requests are the PyJWT fixtures of the main crate
//! (`tests/fixtures/pyjwt`): the same token, the same key, `iss` and `aud`
//! checked by every peer that can check them.
//!
//! jwt-authorizer 0.15 is built on axum 0.7, so its Router is an axum 0.7 one
//! (the same route and handler shape); every other peer runs on axum 0.8.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde::Deserialize;
use tower::ServiceExt as _;

pub const ISSUER: &str = "https://issuer.example";
pub const AUDIENCE: &str = "api://tower-jwt-auth";
/// The `sub` claim of the fixture tokens, and the fixed answer of the peers
/// that give no claims.
pub const SUBJECT: &str = "user-42";
/// The secret of the static-string floor (tower-http's bearer check).
pub const STATIC_TOKEN: &str = "static-token";

const TOKENS: &str = include_str!("../../tests/fixtures/pyjwt/tokens.json");
const HMAC_SECRET: &str = include_str!("../../tests/fixtures/pyjwt/hmac_secret.txt");
const RSA_PUBLIC_PEM: &str = include_str!("../../tests/fixtures/pyjwt/rsa_public.pem");

/// The algorithms compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    HS256,
    RS256,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::HS256, Alg::RS256];
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Alg::HS256 => "HS256",
            Alg::RS256 => "RS256",
        })
    }
}

/// The claims every JWT peer decodes: only what the handler answers.
#[derive(Clone, Debug, Deserialize)]
pub struct Subject {
    pub sub: String,
}

/// The valid fixture token of `alg`.
pub fn token(alg: Alg) -> String {
    let tokens: Vec<serde_json::Value> =
        serde_json::from_str(TOKENS).expect("tokens.json is a JSON array");
    let entry = tokens
        .iter()
        .find(|t| t["name"] == alg.to_string())
        .expect("tokens.json has one valid token per algorithm");
    assert_eq!(
        entry["expect"], "valid",
        "the {alg} fixture is a valid token"
    );
    entry["token"]
        .as_str()
        .expect("token is a string")
        .to_owned()
}

/// `token` with its signature changed: well-formed, correctly signed by no one.
pub fn forge(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').expect("a JWS has three parts");
    // The first base64url character carries the signature's top 6 bits, so
    // changing it always changes the decoded signature.
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    format!("{signed}.{first}{}", &signature[1..])
}

fn hmac_secret() -> &'static str {
    HMAC_SECRET.trim_end()
}

/// `Authorization: Bearer <token>`.
pub fn bearer(token: &str) -> HeaderValue {
    HeaderValue::try_from(format!("Bearer {token}")).expect("a token is a valid header value")
}

/// Drives a future that never waits to completion: every peer's request is
/// in memory, with static keys, so it completes in its first poll. A runtime
/// would add the same constant to every peer and blur the differences.
///
/// # Panics
///
/// When the future is not ready after one poll.
pub fn now_or_never<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an in-memory request should complete without waiting"),
    }
}

/// A Router of the axum version the peer is built on.
#[derive(Clone)]
enum App {
    Axum08(axum::Router),
    Axum07(axum07::Router),
}

/// A request for one [`Peer`]'s Router (its axum version's body type).
pub enum PeerRequest {
    Axum08(Request<axum::body::Body>),
    Axum07(Request<axum07::body::Body>),
}

/// One middleware in front of `GET /me`, with the request it must authorize
/// and, when it checks anything, one it must refuse.
pub struct Peer {
    pub name: &'static str,
    app: App,
    authorized: HeaderValue,
    forged: Option<HeaderValue>,
}

impl Peer {
    /// A request that must be answered with 200.
    pub fn authorized_request(&self) -> PeerRequest {
        self.request(&self.authorized)
    }

    fn request(&self, authorization: &HeaderValue) -> PeerRequest {
        let builder = Request::get("/me").header(header::AUTHORIZATION, authorization.clone());
        match self.app {
            App::Axum08(_) => PeerRequest::Axum08(builder.body(Default::default()).unwrap()),
            App::Axum07(_) => PeerRequest::Axum07(builder.body(Default::default()).unwrap()),
        }
    }

    /// One request through a clone of the Router, as `oneshot`; the status.
    pub fn send(&self, request: PeerRequest) -> StatusCode {
        self.exchange(request).0
    }

    fn exchange(&self, request: PeerRequest) -> (StatusCode, Bytes) {
        match (&self.app, request) {
            (App::Axum08(router), PeerRequest::Axum08(request)) => {
                let response = now_or_never(router.clone().oneshot(request)).unwrap();
                let status = response.status();
                (status, read(response.into_body()))
            }
            (App::Axum07(router), PeerRequest::Axum07(request)) => {
                let response = now_or_never(router.clone().oneshot(request)).unwrap();
                let status = response.status();
                (status, read(response.into_body()))
            }
            _ => panic!("a request for another axum version"),
        }
    }

    /// Checks, once and outside any measurement, that the authorized request
    /// really passes (200 and the subject) and that a forged token is
    /// refused: a comparison must never time a rejection by mistake.
    ///
    /// # Panics
    ///
    /// When either is not so.
    pub fn check(&self) {
        let (status, body) = self.exchange(self.authorized_request());
        assert_eq!(status, StatusCode::OK, "{}: authorized request", self.name);
        assert_eq!(body, SUBJECT, "{}: the handler's answer", self.name);
        if let Some(forged) = &self.forged {
            let (status, _) = self.exchange(self.request(forged));
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{}: forged token",
                self.name
            );
        }
    }
}

fn read<B>(body: B) -> Bytes
where
    B: http_body::Body<Data = Bytes>,
    B::Error: fmt::Debug,
{
    now_or_never(body.collect()).unwrap().to_bytes()
}

/// Every peer for `alg`, in the order of the tables.
pub fn peers(alg: Alg) -> Vec<Peer> {
    let token = token(alg);
    let jwt_peer = |name, app| Peer {
        name,
        app,
        authorized: bearer(&token),
        forged: Some(bearer(&forge(&token))),
    };
    vec![
        jwt_peer("tower-jwt-auth", this_crate(alg)),
        jwt_peer("jwt-authorizer", jwt_authorizer(alg)),
        jwt_peer("axum-jwt-auth", axum_jwt_auth(alg)),
        Peer {
            name: "tower-http-bearer",
            app: tower_http_bearer(),
            authorized: bearer(STATIC_TOKEN),
            forged: Some(bearer("forged-token")),
        },
        Peer {
            name: "no-auth",
            app: no_auth(),
            authorized: bearer(&token),
            forged: None,
        },
    ]
}

async fn fixed_subject() -> &'static str {
    SUBJECT
}

fn this_crate(alg: Alg) -> App {
    use tower_jwt_auth::{Claims, JwtAuthLayer, Key};

    async fn me(Claims(claims): Claims<Subject>) -> String {
        claims.sub
    }

    let key = match alg {
        Alg::HS256 => Key::hmac(hmac_secret()),
        Alg::RS256 => Key::rsa_pem(RSA_PUBLIC_PEM.as_bytes()).unwrap(),
    };
    let layer = JwtAuthLayer::<Subject>::builder()
        .key(key)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap();
    App::Axum08(
        axum::Router::new()
            .route("/me", axum::routing::get(me))
            .layer(layer),
    )
}

fn jwt_authorizer(alg: Alg) -> App {
    use jwt_authorizer::{AuthorizerBuilder, IntoLayer as _, JwtClaims, Validation};

    async fn me(JwtClaims(claims): JwtClaims<Subject>) -> String {
        claims.sub
    }

    let builder = match alg {
        Alg::HS256 => AuthorizerBuilder::<Subject>::from_secret(hmac_secret()),
        Alg::RS256 => AuthorizerBuilder::from_rsa_pem_text(RSA_PUBLIC_PEM),
    };
    let validation = Validation::new().iss(&[ISSUER]).aud(&[AUDIENCE]).nbf(true);
    // Building is async (it may fetch a JWKS); with a static key it is not.
    let authorizer = now_or_never(builder.validation(validation).build()).unwrap();
    let router = axum07::Router::new()
        .route("/me", axum07::routing::get(me))
        .layer(authorizer.into_layer());
    App::Axum07(router)
}

fn axum_jwt_auth(alg: Alg) -> App {
    use axum_jwt_auth::{Claims, Decoder, LocalDecoder};
    use jsonwebtoken10::{Algorithm, DecodingKey, Validation};

    async fn me(claims: Claims<Subject>) -> String {
        claims.claims.sub
    }

    install_jsonwebtoken10_backend();
    let (key, algorithm) = match alg {
        Alg::HS256 => (
            DecodingKey::from_secret(hmac_secret().as_bytes()),
            Algorithm::HS256,
        ),
        Alg::RS256 => (
            DecodingKey::from_rsa_pem(RSA_PUBLIC_PEM.as_bytes()).unwrap(),
            Algorithm::RS256,
        ),
    };
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.validate_nbf = true;
    let decoder: Decoder<Subject> = Arc::new(
        LocalDecoder::builder()
            .keys(vec![key])
            .validation(validation)
            .build()
            .unwrap(),
    );
    let router = axum::Router::new()
        .route("/me", axum::routing::get(me))
        .with_state(decoder);
    App::Axum08(router)
}

/// The environment variable choosing jsonwebtoken 10's backend for
/// axum-jwt-auth: `aws-lc-rs` (the default: the backend tower-jwt-auth uses,
/// so the comparison is between the layers) or `rust-crypto` (what
/// axum-jwt-auth 0.7 enables by itself).
pub const JWT10_BACKEND_VAR: &str = "BENCH_COMPARE_JWT10_BACKEND";

/// The name of the backend axum-jwt-auth verifies with in this process.
pub fn jsonwebtoken10_backend() -> &'static str {
    match std::env::var(JWT10_BACKEND_VAR).as_deref() {
        Ok("rust-crypto") => "rust-crypto",
        _ => "aws-lc-rs",
    }
}

fn install_jsonwebtoken10_backend() {
    use jsonwebtoken10::crypto::{aws_lc, rust_crypto};

    let provider = match jsonwebtoken10_backend() {
        "rust-crypto" => &rust_crypto::DEFAULT_PROVIDER,
        _ => &aws_lc::DEFAULT_PROVIDER,
    };
    // Both backends are compiled in, so jsonwebtoken 10 cannot pick one by
    // itself. An error only means it is installed already (second algorithm).
    let _ = provider.install_default();
}

fn tower_http_bearer() -> App {
    // tower-http keeps `bearer` (in its `auth` feature) but deprecated that
    // module in 0.6.7 as "too basic to be useful in real applications": here
    // it is exactly the floor wanted, a static string comparison.
    #[allow(deprecated)]
    let layer = tower_http::validate_request::ValidateRequestHeaderLayer::bearer(STATIC_TOKEN);
    App::Axum08(
        axum::Router::new()
            .route("/me", axum::routing::get(fixed_subject))
            .layer(layer),
    )
}

fn no_auth() -> App {
    App::Axum08(axum::Router::new().route("/me", axum::routing::get(fixed_subject)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_peer_authorizes_the_fixture_and_refuses_a_forgery() {
        for alg in Alg::ALL {
            for peer in peers(alg) {
                peer.check();
            }
        }
    }

    #[test]
    fn a_forged_token_differs_only_in_its_signature() {
        let token = token(Alg::HS256);
        let forged = forge(&token);
        assert_ne!(forged, token);
        assert_eq!(
            forged.rsplit_once('.').unwrap().0,
            token.rsplit_once('.').unwrap().0
        );
    }
}
