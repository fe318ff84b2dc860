//! Protecting an API with the keys of an OpenID Connect provider.
//!
//! The layer finds the provider's JWK Set through discovery (its metadata's
//! `jwks_uri`: RFC 8414's `/.well-known/oauth-authorization-server` first,
//! then `{issuer}/.well-known/openid-configuration`, which the local provider
//! serves), verifies tokens
//! with it, refetches it (rate-limited) when a token names a key it does not
//! know yet, and keeps serving the last good keys while the provider is down.
//!
//! By default it needs nothing else: it starts a small local provider on
//! 127.0.0.1 (discovery, a JWK Set with a freshly generated Ed25519 key, and
//! `POST /token` issuing access tokens), then protects `GET /api/me`:
//!
//! ```sh
//! cargo run --example oidc --features remote-jwks
//! ```
//!
//! It prints ready-to-run `curl` lines. Against a real provider (Keycloak,
//! Auth0, Okta, Dex, Entra ID, Google), name it and the audience its access
//! tokens carry; tokens then come from that provider:
//!
//! ```sh
//! OIDC_ISSUER=https://idp.example/realms/main OIDC_AUDIENCE=orders-api \
//!   cargo run --example oidc --features remote-jwks
//! ```
//!
//! `OIDC_ADDR` sets the API's address (default `127.0.0.1:3003`), printed at
//! start. With
//! `--self-test`, it makes its own requests against the local provider, checks
//! the answers (200 with a token, 401 without, a key rotated right after the
//! API's first fetch accepted at its first token, twice) and exits: the gate
//! runs it that way.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower_jwt_auth::{Claims, JwtAuthLayer, RemoteKeySet, TokenIssuer};

const DEFAULT_ADDR: &str = "127.0.0.1:3003";
const LOCAL_AUDIENCE: &str = "orders-api";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_jwt_auth=debug".into()),
        )
        .init();
    let self_test = std::env::args().any(|a| a == "--self-test");

    // The provider: a real one when named, else the local one.
    let (issuer, audience, local) = match std::env::var("OIDC_ISSUER") {
        Ok(issuer) if !self_test => {
            let audience = std::env::var("OIDC_AUDIENCE").unwrap_or_default();
            (issuer, audience, None)
        }
        _ => {
            let local = LocalProvider::start().await?;
            (local.issuer.clone(), LOCAL_AUDIENCE.to_owned(), Some(local))
        }
    };

    // Discovery, then the first fetch of the JWK Set: a provider that cannot
    // be reached fails here, at startup, rather than at the first request.
    // Tokens naming a key the set lacks refetch it at once, two at most, then
    // one per 30 s (the defaults), so a forged `kid` cannot hammer the provider.
    let keys = RemoteKeySet::discover(&issuer).build().await?;
    println!("keys of {issuer}: {keys:?}");

    let mut auth = JwtAuthLayer::<Value>::builder().jwks(keys).issuer(&issuer);
    if !audience.is_empty() {
        auth = auth.audience(&audience);
    }
    let app = Router::new()
        .route(
            "/api/me",
            get(|Extension(Claims(claims)): Extension<Claims<Value>>| async move { Json(claims) }),
        )
        .route_layer(auth.build()?)
        .route("/", get(|| async { "GET /api/me with a bearer token\n" }));

    let addr: SocketAddr = if self_test {
        "127.0.0.1:0".parse()?
    } else {
        let addr = std::env::var("OIDC_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.into());
        addr.parse().map_err(|e| {
            format!("OIDC_ADDR={addr:?} is not an address such as {DEFAULT_ADDR}: {e}")
        })?
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let api = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    match &local {
        Some(local) if self_test => {
            let result = self_check(local, &api).await;
            server.abort();
            result?;
            println!("self-test passed");
        }
        Some(local) => {
            println!(
                "oidc listening on {api}; tokens from the local provider at {}",
                local.issuer
            );
            println!(
                "  TOKEN=$(curl -s -X POST {}/token | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')",
                local.issuer
            );
            println!("  curl -i {api}/api/me -H \"authorization: Bearer $TOKEN\"");
            println!("  curl -i {api}/api/me");
            println!(
                "  curl -X POST {}/rotate   # a new signing key; its first token is accepted",
                local.issuer
            );
            println!(
                "  (a key the API has not seen is fetched at its first token: twice at once, \
                 then once per 30 s)"
            );
            server.await??;
        }
        None => {
            println!("oidc listening on {api}; send an access token of {issuer}:");
            println!("  curl -i {api}/api/me -H \"authorization: Bearer $TOKEN\"");
            server.await??;
        }
    }
    Ok(())
}

/// The checks of `--self-test`, against the local provider.
async fn self_check(local: &LocalProvider, api: &str) -> Result<(), String> {
    let status = |token: Option<String>| async move {
        let mut request = reqwest_like::get(&format!("{api}/api/me"));
        if let Some(token) = token {
            request = request.bearer(&token);
        }
        request.send().await
    };
    let expect = |what: &str, got: u16, want: u16| {
        if got == want {
            println!("ok: {what}: {got}");
            Ok(())
        } else {
            Err(format!("{what}: expected {want}, got {got}"))
        }
    };
    expect(
        "a provider's token",
        status(Some(local.token())).await?,
        200,
    )?;
    expect("no token", status(None).await?, 401)?;
    // The provider rotates its key a moment after the API's first fetch: the
    // first token with the new kid makes the layer refetch the JWK Set, at
    // once, and passes; so does the next rotation's.
    for rotation in [
        "a token of the rotated key",
        "a token of the key rotated again",
    ] {
        local.rotate();
        expect(rotation, status(Some(local.token())).await?, 200)?;
    }
    Ok(())
}

/// A minimal OpenID provider on 127.0.0.1: discovery, a JWK Set, tokens.
struct LocalProvider {
    issuer: String,
    keys: Arc<Mutex<Signing>>,
}

/// The current signing key, and the public keys published.
struct Signing {
    issuer: TokenIssuer,
    published: Vec<Value>,
    generation: u32,
}

impl Signing {
    /// A fresh Ed25519 key named `key-<generation>`, published beside the
    /// earlier ones.
    fn rotate(&mut self, issuer: &str) -> Result<(), String> {
        self.generation += 1;
        let kid = format!("key-{}", self.generation);
        let (signer, jwk) = ed25519_key(issuer, &kid)?;
        self.issuer = signer;
        self.published.push(jwk);
        Ok(())
    }
}

/// A new Ed25519 key: a token issuer with it, and its public JWK.
fn ed25519_key(issuer: &str, kid: &str) -> Result<(TokenIssuer, Value), String> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|e| e.to_string())?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|e| e.to_string())?;
    let jwk = json!({
        "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
    });
    let signer = TokenIssuer::builder(EncodingKey::from_ed_der(pkcs8.as_ref()), Algorithm::EdDSA)
        .issuer(issuer)
        .audience(LOCAL_AUDIENCE)
        .kid(kid)
        .jti(true)
        .build()
        .map_err(|e| e.to_string())?;
    Ok((signer, jwk))
}

impl LocalProvider {
    async fn start() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let (signer, jwk) = ed25519_key(&issuer, "key-1")?;
        let keys = Arc::new(Mutex::new(Signing {
            issuer: signer,
            published: vec![jwk],
            generation: 1,
        }));
        let state = (issuer.clone(), keys.clone());
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(|State((issuer, _)): State<ProviderState>| async move {
                    Json(json!({
                        "issuer": issuer,
                        "jwks_uri": format!("{issuer}/jwks.json"),
                        "token_endpoint": format!("{issuer}/token"),
                        "id_token_signing_alg_values_supported": ["EdDSA"],
                    }))
                }),
            )
            .route(
                "/jwks.json",
                get(|State((_, keys)): State<ProviderState>| async move {
                    let keys = keys.lock().unwrap_or_else(|e| e.into_inner());
                    (
                        [("cache-control", "public, max-age=300")],
                        Json(json!({ "keys": keys.published })),
                    )
                }),
            )
            .route(
                "/token",
                post(|State((_, keys)): State<ProviderState>| async move {
                    let keys = keys.lock().unwrap_or_else(|e| e.into_inner());
                    match keys
                        .issuer
                        .issue(&json!({ "sub": "service-account", "scope": "orders:read" }))
                    {
                        Ok(token) => Ok(Json(json!({
                            "access_token": token,
                            "token_type": "Bearer",
                        }))),
                        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
                    }
                }),
            )
            .route(
                "/rotate",
                post(|State((issuer, keys)): State<ProviderState>| async move {
                    let mut keys = keys.lock().unwrap_or_else(|e| e.into_inner());
                    keys.rotate(&issuer)
                        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
                }),
            )
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { issuer, keys })
    }

    fn token(&self) -> String {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.issuer
            .issue(&json!({ "sub": "service-account", "scope": "orders:read" }))
            .expect("the local provider signs")
    }

    fn rotate(&self) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.rotate(&self.issuer).expect("a new key");
    }
}

type ProviderState = (String, Arc<Mutex<Signing>>);

/// Just enough of an HTTP client for the self-test, on hyper-util.
mod reqwest_like {
    use bytes::Bytes;
    use http_body_util::Empty;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    pub struct Get {
        request: http::request::Builder,
    }

    pub fn get(url: &str) -> Get {
        Get {
            request: http::Request::get(url),
        }
    }

    impl Get {
        pub fn bearer(mut self, token: &str) -> Self {
            self.request = self
                .request
                .header("authorization", format!("Bearer {token}"));
            self
        }

        /// The status of the answer.
        pub async fn send(self) -> Result<u16, String> {
            let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
            let request = self.request.body(Empty::new()).map_err(|e| e.to_string())?;
            let response = client.request(request).await.map_err(|e| e.to_string())?;
            Ok(response.status().as_u16())
        }
    }
}
