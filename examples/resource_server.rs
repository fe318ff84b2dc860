//! An OAuth 2 resource server: an API that accepts an authorization
//! server's JWT access tokens (RFC 9068) and its opaque tokens (through
//! introspection, RFC 7662), tells clients where to get tokens (protected
//! resource metadata, RFC 9728, named in every `401`), and asks for a
//! stronger login where a route needs one (step-up, RFC 9470).
//!
//! Everything about the authorization server is found from its issuer:
//! discovery (RFC 8414's `/.well-known/oauth-authorization-server`, then
//! OpenID Connect's) gives the JWK Set and the introspection endpoint.
//!
//! By default it needs nothing else: it starts a small authorization server
//! on 127.0.0.1 (RFC 8414 metadata, a JWK Set with a fresh Ed25519 key,
//! `POST /token` issuing JWT or opaque access tokens for this API,
//! `POST /introspect` for the API's own credentials, `POST /revoke`), then
//! serves:
//!
//! - `GET /api/orders`: any access token with the scope `orders:read`;
//! - `POST /api/refunds`: the scope `orders:write` and a login by a second
//!   factor (`acr` `urn:example:mfa`) within the last five minutes;
//! - `GET /.well-known/oauth-protected-resource/api`: the metadata.
//!
//! ```sh
//! cargo run --example resource_server --features introspection
//! ```
//!
//! It prints ready-to-run `curl` lines. Against a real authorization server
//! (Keycloak, Auth0, Okta, Entra ID, oidc-provider), name its issuer and the
//! resource identifier (RFC 8707) its tokens carry as audience; with the
//! API's own client credentials, opaque tokens are introspected at the
//! endpoint its metadata names:
//!
//! ```sh
//! RS_ISSUER=https://idp.example/realms/main RS_RESOURCE=https://api.example/api \
//!   RS_CLIENT_ID=orders-api RS_CLIENT_SECRET=... \
//!   cargo run --example resource_server --features introspection
//! ```
//!
//! `RS_ADDR` sets the API's address (default `127.0.0.1:3004`), printed at
//! start. With `--self-test`, it makes its own requests against the local
//! authorization server, checks each answer (both kinds of token, the
//! metadata found from a `401`, the step-up and scope refusals, one
//! introspection for repeated requests, a revoked opaque token refused once
//! its cached answer expires) and exits: the gate runs it that way.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower_jwt_auth::{
    Claims, Introspection, JwtAuthLayer, RemoteKeySet, RequireLayer, ResourceMetadata,
};

const DEFAULT_ADDR: &str = "127.0.0.1:3004";
/// The acr of a login with a second factor, which refunds need.
const MFA: &str = "urn:example:mfa";
/// The acr of a login with a password only.
const PASSWORD: &str = "urn:example:pwd";

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_jwt_auth=debug".into()),
        )
        .init();
    let self_test = std::env::args().any(|a| a == "--self-test");

    let addr: SocketAddr = if self_test {
        "127.0.0.1:0".parse()?
    } else {
        let addr = std::env::var("RS_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.into());
        addr.parse().map_err(|e| {
            format!("RS_ADDR={addr:?} is not an address such as {DEFAULT_ADDR}: {e}")
        })?
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let api = format!("http://{}", listener.local_addr()?);

    // The authorization server: a real one when named, else the local one,
    // which issues tokens for this API's resource identifier.
    let real = std::env::var("RS_ISSUER").ok().filter(|_| !self_test);
    let (issuer, resource, credentials, local) = match real {
        Some(issuer) => {
            let resource = std::env::var("RS_RESOURCE").map_err(|_| {
                "RS_RESOURCE is not set: the resource identifier (RFC 8707) that the \
                 authorization server's tokens for this API carry as audience, such as \
                 https://api.example/api"
            })?;
            let credentials = match (
                std::env::var("RS_CLIENT_ID"),
                std::env::var("RS_CLIENT_SECRET"),
            ) {
                (Ok(id), Ok(secret)) => Some((id, secret)),
                _ => None,
            };
            (issuer, resource, credentials, None)
        }
        None => {
            let resource = format!("{api}/api");
            let local = LocalAuthorizationServer::start(&resource).await?;
            let credentials = Some(local.credentials.clone());
            (local.issuer.clone(), resource, credentials, Some(local))
        }
    };

    // Discovery, then the first fetch of the JWK Set: an authorization server
    // that cannot be reached fails here, at startup.
    let keys = RemoteKeySet::discover(&issuer).build().await?;
    let metadata = keys.metadata().ok_or("discovery found no metadata")?;
    println!(
        "authorization server {issuer}: metadata at {}",
        metadata.url()
    );

    let mut auth = JwtAuthLayer::<Value>::builder()
        .jwks(keys)
        .issuer(&issuer)
        .audience(&resource)
        // typ at+jwt, and the claims RFC 9068 makes mandatory: an ID token
        // is not an access token. (The required claims apply to introspected
        // tokens too: the local server's answers carry them all.)
        .jwt_access_token_profile()
        .resource_metadata(
            ResourceMetadata::new(&resource)
                .scopes_supported(["orders:read", "orders:write"])
                .field("resource_name", "Orders API"),
        );
    match (&credentials, metadata.introspection_endpoint()) {
        (Some((id, secret)), Some(endpoint)) => {
            // How long a token revoked at the authorization server may still
            // be accepted here; the self-test waits for it, so it is short.
            let lifetime = Duration::from_secs(if self_test { 1 } else { 30 });
            let introspection = Introspection::from_metadata(&metadata)?
                .client_secret_basic(id, secret)
                .max_cache_lifetime(lifetime)
                .build()?;
            println!("opaque tokens are introspected at {endpoint}");
            auth = auth.introspection(introspection);
        }
        (None, Some(_)) => {
            println!("RS_CLIENT_ID/RS_CLIENT_SECRET not set: opaque tokens are refused")
        }
        (_, None) => println!("the metadata names no introspection endpoint: JWTs only"),
    }
    let auth = auth.build()?;
    let metadata_service = auth
        .resource_metadata_service()
        .ok_or("the layer publishes its metadata")?;
    let metadata_path = metadata_service.path().to_owned();
    let metadata_url = metadata_service.url().to_owned();

    let read = RequireLayer::<Value>::builder()
        .scope("orders:read")
        .build()?;
    let refund = RequireLayer::<Value>::builder()
        .scope("orders:write")
        .acr_values([MFA])
        .max_age(Duration::from_secs(300))
        .build()?;
    let app = Router::new()
        .route("/api/orders", get(orders).route_layer(read))
        .route("/api/refunds", post(refunds).route_layer(refund))
        .route_layer(auth)
        .route_service(&metadata_path, metadata_service)
        .route(
            "/",
            get(|| async { "GET /api/orders, POST /api/refunds with an access token\n" }),
        );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    match &local {
        Some(local) if self_test => {
            let result = self_check(local, &api, &metadata_url).await;
            server.abort();
            result?;
            println!("self-test passed");
        }
        Some(local) => {
            let token = |form: &str| {
                format!(
                    "$(curl -s -X POST {}/token -d '{form}' | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')",
                    local.issuer
                )
            };
            println!(
                "resource server listening on {api}; tokens from {}",
                local.issuer
            );
            println!("  JWT={}", token("scope=orders:read"));
            println!("  curl -i {api}/api/orders -H \"authorization: Bearer $JWT\"");
            println!("  OPAQUE={}", token("format=opaque&scope=orders:read"));
            println!("  curl -i {api}/api/orders -H \"authorization: Bearer $OPAQUE\"");
            println!("  curl -i {api}/api/orders    # the 401 names {metadata_url}");
            println!("  curl {metadata_url}");
            println!("  WEAK={}", token("scope=orders:write"));
            println!(
                "  curl -i -X POST {api}/api/refunds -H \"authorization: Bearer $WEAK\"   # 401, acr_values"
            );
            println!("  MFA={}", token(&format!("scope=orders:write&acr={MFA}")));
            println!("  curl -i -X POST {api}/api/refunds -H \"authorization: Bearer $MFA\"");
            server.await??;
        }
        None => {
            println!("resource server listening on {api}; send an access token of {issuer}:");
            println!("  curl -i {api}/api/orders -H \"authorization: Bearer $TOKEN\"");
            println!("  metadata: {metadata_url}");
            server.await??;
        }
    }
    Ok(())
}

async fn orders(Extension(Claims(claims)): Extension<Claims<Value>>) -> Json<Value> {
    Json(json!({ "orders": [], "for": claims["sub"], "client": claims["client_id"] }))
}

async fn refunds(Extension(Claims(claims)): Extension<Claims<Value>>) -> Json<Value> {
    Json(json!({ "refunded": true, "by": claims["sub"], "acr": claims["acr"] }))
}

/// The checks of `--self-test`, against the local authorization server.
async fn self_check(
    local: &LocalAuthorizationServer,
    api: &str,
    metadata_url: &str,
) -> Result<(), String> {
    let expect = |what: &str, got: &client::Reply, want: u16| {
        if got.status == want {
            println!("ok: {what}: {want}");
            Ok(())
        } else {
            Err(format!(
                "{what}: expected {want}, got {} {}",
                got.status, got.body
            ))
        }
    };
    let orders = format!("{api}/api/orders");
    let refunds = format!("{api}/api/refunds");
    let introspections = || local.introspections.load(Ordering::SeqCst);

    // Both kinds of token.
    let jwt = local.issue(Format::Jwt, "orders:read", PASSWORD)?;
    expect(
        "a JWT access token",
        &client::get(&orders, Some(&jwt)).await?,
        200,
    )?;
    let opaque = local.issue(Format::Opaque, "orders:read", PASSWORD)?;
    for _ in 0..3 {
        expect(
            "an opaque token, introspected",
            &client::get(&orders, Some(&opaque)).await?,
            200,
        )?;
    }
    if introspections() != 1 {
        return Err(format!(
            "three requests with one opaque token: {} introspections, expected 1",
            introspections()
        ));
    }
    println!("ok: three requests, one introspection");
    // A JWT that is not an access token (typ JWT, as an ID token).
    let not_at = local.sign("JWT", &local.claims("orders:read", PASSWORD))?;
    expect(
        "a JWT without typ at+jwt",
        &client::get(&orders, Some(&not_at)).await?,
        401,
    )?;

    // A client without a token finds where to get one.
    let reply = client::get(&orders, None).await?;
    expect("no token", &reply, 401)?;
    let wanted = format!("resource_metadata=\"{metadata_url}\"");
    if !reply.www_authenticate.contains(&wanted) {
        return Err(format!("the 401 does not name the metadata: {reply:?}"));
    }
    let document: Value = serde_json::from_str(&client::get(metadata_url, None).await?.body)
        .map_err(|e| format!("the metadata is not JSON: {e}"))?;
    if document["resource"] != format!("{api}/api")
        || document["authorization_servers"] != json!([local.issuer])
    {
        return Err(format!("unexpected metadata: {document}"));
    }
    println!(
        "ok: the 401 names the metadata, which names {}",
        local.issuer
    );

    // Step-up: the scope is there, the login is too weak; then strong enough.
    let weak = local.issue(Format::Jwt, "orders:write", PASSWORD)?;
    let reply = client::post(&refunds, &weak).await?;
    expect("a refund after a password login", &reply, 401)?;
    if !reply
        .www_authenticate
        .contains("error=\"insufficient_user_authentication\"")
        || !reply
            .www_authenticate
            .contains(&format!("acr_values=\"{MFA}\""))
    {
        return Err(format!("not a step-up challenge: {reply:?}"));
    }
    let strong = local.issue(Format::Opaque, "orders:write", MFA)?;
    expect(
        "a refund after a second factor",
        &client::post(&refunds, &strong).await?,
        200,
    )?;
    expect(
        "a refund without orders:write",
        &client::post(&refunds, &jwt).await?,
        403,
    )?;

    // Revoked at the authorization server: accepted while the cached answer
    // holds (one second here), refused after.
    local.revoke(&opaque);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    expect(
        "a revoked opaque token, once its cached answer expired",
        &client::get(&orders, Some(&opaque)).await?,
        401,
    )?;
    Ok(())
}

/// Which kind of access token the local authorization server issues.
#[derive(Clone, Copy)]
enum Format {
    /// A JWT access token (RFC 9068), signed with the published key.
    Jwt,
    /// A random string, which only introspection can judge.
    Opaque,
}

/// A minimal authorization server on 127.0.0.1: RFC 8414 metadata, a JWK
/// Set, tokens for one resource, introspection and revocation.
struct LocalAuthorizationServer {
    issuer: String,
    resource: String,
    /// The resource server's client id and secret at the introspection endpoint.
    credentials: (String, String),
    signing: EncodingKey,
    kid: String,
    /// The live opaque tokens and their claims.
    opaque: Mutex<HashMap<String, Value>>,
    introspections: AtomicUsize,
}

impl LocalAuthorizationServer {
    async fn start(resource: &str) -> Result<Arc<Self>, Error> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| "cannot make an Ed25519 key")?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|_| "cannot read the Ed25519 key")?;
        let kid = "key-1".to_owned();
        let jwk = json!({
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        });
        let server = Arc::new(Self {
            issuer: issuer.clone(),
            resource: resource.to_owned(),
            credentials: ("orders-api".to_owned(), random()?),
            signing: EncodingKey::from_ed_der(pkcs8.as_ref()),
            kid,
            opaque: Mutex::new(HashMap::new()),
            introspections: AtomicUsize::new(0),
        });
        let metadata = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/jwks.json"),
            "token_endpoint": format!("{issuer}/token"),
            "introspection_endpoint": format!("{issuer}/introspect"),
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
            "revocation_endpoint": format!("{issuer}/revoke"),
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": ["orders:read", "orders:write"],
            "acr_values_supported": [PASSWORD, MFA],
        });
        let jwks = json!({ "keys": [jwk] });
        let app = Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(move || {
                    let metadata = metadata.clone();
                    async move { Json(metadata) }
                }),
            )
            .route(
                "/jwks.json",
                get(move || {
                    let jwks = jwks.clone();
                    async move { Json(jwks) }
                }),
            )
            .route("/token", post(token))
            .route("/introspect", post(introspect))
            .route("/revoke", post(revoke))
            .with_state(Arc::clone(&server));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(server)
    }

    /// The claims of a token for this resource, issued now to the client
    /// `example-client` for the user `ada`, who logged in by `acr` now.
    fn claims(&self, scope: &str, acr: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer, "aud": self.resource, "sub": "ada",
            "client_id": "example-client", "iat": now, "exp": now + 300,
            "jti": random().unwrap_or_default(), "scope": scope,
            "acr": acr, "auth_time": now,
        })
    }

    fn sign(&self, typ: &str, claims: &Value) -> Result<String, String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing).map_err(|e| e.to_string())
    }

    fn issue(&self, format: Format, scope: &str, acr: &str) -> Result<String, String> {
        let claims = self.claims(scope, acr);
        match format {
            Format::Jwt => self.sign("at+jwt", &claims),
            Format::Opaque => {
                let token = random()?;
                let mut opaque = self.opaque.lock().unwrap_or_else(|e| e.into_inner());
                opaque.insert(token.clone(), claims);
                Ok(token)
            }
        }
    }

    fn revoke(&self, token: &str) {
        let mut opaque = self.opaque.lock().unwrap_or_else(|e| e.into_inner());
        opaque.remove(token);
    }

    /// Whether `headers` carry the resource server's credentials
    /// (`client_secret_basic`; neither part needs form-encoding here).
    fn authenticates(&self, headers: &HeaderMap) -> bool {
        let (id, secret) = &self.credentials;
        let expected = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        headers
            .get("authorization")
            .is_some_and(|value| value.as_bytes() == expected.as_bytes())
    }
}

type Server = State<Arc<LocalAuthorizationServer>>;

/// `POST /token`: `format` (`jwt`, the default, or `opaque`), `scope`
/// (default `orders:read`) and `acr` (default the password login).
async fn token(
    State(server): Server,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Json<Value>, (StatusCode, String)> {
    let format = match form.get("format").map(String::as_str) {
        None | Some("jwt") => Format::Jwt,
        Some("opaque") => Format::Opaque,
        Some(other) => return Err((StatusCode::BAD_REQUEST, format!("format {other:?}"))),
    };
    let scope = form.get("scope").map_or("orders:read", String::as_str);
    let acr = form.get("acr").map_or(PASSWORD, String::as_str);
    let token = server
        .issue(format, scope, acr)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok(Json(json!({
        "access_token": token, "token_type": "Bearer", "expires_in": 300,
    })))
}

/// `POST /introspect` (RFC 7662), for the resource server's credentials.
async fn introspect(
    State(server): Server,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Json<Value>, StatusCode> {
    if !server.authenticates(&headers) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    server.introspections.fetch_add(1, Ordering::SeqCst);
    let opaque = server.opaque.lock().unwrap_or_else(|e| e.into_inner());
    let claims = form.get("token").and_then(|token| opaque.get(token));
    Ok(Json(match claims {
        Some(claims) if claims["exp"].as_u64().is_some_and(|exp| exp > now()) => {
            let mut answer = claims.clone();
            answer["active"] = json!(true);
            answer["token_type"] = json!("Bearer");
            answer
        }
        _ => json!({ "active": false }),
    }))
}

/// `POST /revoke` (RFC 7009): forgets an opaque token.
async fn revoke(State(server): Server, Form(form): Form<HashMap<String, String>>) -> StatusCode {
    if let Some(token) = form.get("token") {
        server.revoke(token);
    }
    StatusCode::OK
}

/// 32 random bytes, base64url: an opaque token, a `jti`, a secret.
fn random() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "no randomness".to_owned())?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Just enough of an HTTP client for the self-test, on hyper-util.
mod client {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    /// What the self-test reads of an answer.
    #[derive(Debug)]
    pub struct Reply {
        pub status: u16,
        pub www_authenticate: String,
        pub body: String,
    }

    pub async fn get(url: &str, token: Option<&str>) -> Result<Reply, String> {
        send(http::Method::GET, url, token).await
    }

    pub async fn post(url: &str, token: &str) -> Result<Reply, String> {
        send(http::Method::POST, url, Some(token)).await
    }

    async fn send(method: http::Method, url: &str, token: Option<&str>) -> Result<Reply, String> {
        let mut request = http::Request::builder().method(method).uri(url);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let client = Client::builder(TokioExecutor::new()).build_http();
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let www_authenticate = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Reply {
            status,
            www_authenticate,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}
