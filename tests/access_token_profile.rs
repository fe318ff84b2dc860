//! The JWT access token profile (RFC 9068) preset,
//! `JwtAuthBuilder::jwt_access_token_profile`, against real RFC 9068 tokens:
//! oidc-provider's JWT access tokens (the OAuth harness, `tests/oauth/`) are
//! read by hand here, then accepted over HTTP by a layer with the preset;
//! tokens that fall short of the profile (another or no `typ`, a mandatory
//! claim missing), signed here by a key the layer also trusts, are refused
//! with the right `AuthErrorKind`; and a layer with the preset but without an
//! issuer or an audience does not build.
//!
//! One provider and one resource server per test binary.

mod common;

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tower::{ServiceExt, service_fn};
use tower_jwt_auth::{
    AuthError, Claims, ConfigError, JwtAuthBuilder, JwtAuthLayer, Key, RequireLayer, TrustedIssuer,
};

use common::oauth_provider::{AUDIENCE, OauthProvider};
use common::{Reply, send_bearer, serve_axum_for_the_binary};

/// The `kid` of the key this file signs its own tokens with.
const LOCAL_KID: &str = "local-es256";

// ---------------------------------------------------------------------------
// Tokens read by hand.
// ---------------------------------------------------------------------------

/// The JSON of a compact JWS's part `index` (0: header, 1: payload).
fn part(jws: &str, index: usize) -> Value {
    let part = jws.split('.').nth(index).expect("a compact JWS");
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url");
    serde_json::from_slice(&bytes).expect("a JSON object")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

// ---------------------------------------------------------------------------
// A key of this file's, trusted by the resource server beside the provider's.
// ---------------------------------------------------------------------------

struct LocalKey {
    /// PKCS#8 PEM of the private key.
    private: String,
    /// SPKI PEM of the public key.
    public: String,
}

fn local_key() -> &'static LocalKey {
    static KEY: std::sync::OnceLock<LocalKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256");
        LocalKey {
            private: pair.serialize_pem(),
            public: pair.public_key_pem(),
        }
    })
}

/// An ES256 token of `claims` with this `typ` (none: no `typ` at all),
/// signed by the local key.
fn sign(typ: Option<&str>, claims: &Value) -> String {
    // jsonwebtoken's process default provider, which building a layer
    // installs: with both backend features, there is none before.
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        let _ = JwtAuthLayer::<Value>::builder()
            .key(Key::hmac(b"a secret of at least 32 bytes...."))
            .build();
    });
    let header = Header {
        typ: typ.map(str::to_owned),
        kid: Some(LOCAL_KID.to_owned()),
        ..Header::new(Algorithm::ES256)
    };
    let key = EncodingKey::from_ec_pem(local_key().private.as_bytes()).expect("the local key");
    jsonwebtoken::encode(&header, claims, &key).expect("a signed token")
}

/// Every claim RFC 9068 §2.2 makes mandatory, for the provider's issuer and
/// the harness's audience.
fn full_claims(provider: &OauthProvider) -> Value {
    let now = unix_now();
    json!({
        "iss": provider.issuer(),
        "exp": now + 300,
        "aud": AUDIENCE,
        "sub": "client-a",
        "client_id": "client-a",
        "iat": now,
        "jti": "2a8f0c1e",
        "scope": "read",
    })
}

// ---------------------------------------------------------------------------
// The resource server.
// ---------------------------------------------------------------------------

/// The provider's keys and issuer, the harness's audience, and the preset.
async fn builder(provider: &OauthProvider) -> JwtAuthBuilder<Value> {
    JwtAuthLayer::builder()
        .key_set(provider.key_set().await)
        .issuer(provider.issuer())
        .audience(AUDIENCE)
        .jwt_access_token_profile()
}

/// Answers a refusal with its kind: `{"kind": "InvalidType", ...}`.
fn kind_responder(error: &AuthError) -> Response<Bytes> {
    let body = json!({ "kind": format!("{:?}", error.kind()), "description": error.description() });
    Response::builder()
        .status(error.status())
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))
        .expect("a response")
}

/// `GET /me` answers the token's `client_id`; `GET /read` needs the scope
/// `read`, granted by RFC 9068's `scope` claim.
async fn server() -> SocketAddr {
    static SERVER: OnceCell<SocketAddr> = OnceCell::const_new();
    *SERVER
        .get_or_init(|| {
            serve_axum_for_the_binary(|| async {
                let provider = OauthProvider::shared().await;
                let local = Key::ec_pem(local_key().public.as_bytes())
                    .expect("the local public key")
                    .with_kid(LOCAL_KID);
                let layer = builder(provider)
                    .await
                    .key(local)
                    .responder(kind_responder)
                    .build()
                    .expect("the layer");
                let read = RequireLayer::<Value>::builder()
                    .scope("read")
                    .responder(kind_responder)
                    .build()
                    .expect("the scope rule");
                let client_id = |Extension(Claims(claims)): Extension<Claims<Value>>| async move {
                    claims["client_id"].as_str().unwrap_or_default().to_owned()
                };
                Router::new()
                    .route("/me", get(client_id))
                    .route("/read", get(client_id).route_layer(read))
                    .layer(layer)
            })
        })
        .await
}

async fn get_with(path: &str, token: &str) -> Reply {
    let url = format!("http://{}{path}", server().await);
    send_bearer("GET", &url, token).await
}

/// A `401` whose refusal is of `kind`.
#[track_caller]
fn assert_refused(reply: &Reply, kind: &str, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {}",
        reply.text()
    );
    assert_eq!(reply.json()["kind"], kind, "{what}: {}", reply.text());
}

// ---------------------------------------------------------------------------
// The provider's tokens.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_providers_access_tokens_are_rfc_9068_jwts() {
    let provider = OauthProvider::shared().await;
    let token = provider.bearer_token().await;
    let header = part(&token, 0);
    assert_eq!(header["typ"], "at+jwt", "RFC 9068 §2.1: {header}");
    assert_eq!(header["alg"], "ES256", "{header}");
    let claims = part(&token, 1);
    assert_eq!(claims["iss"], provider.issuer(), "{claims}");
    assert_eq!(claims["aud"], AUDIENCE, "{claims}");
    assert_eq!(claims["client_id"], "harness-bearer", "{claims}");
    for name in ["sub", "jti"] {
        assert!(
            claims[name].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: {claims}"
        );
    }
    let now = unix_now();
    let iat = claims["iat"].as_u64().expect("a numeric iat");
    let exp = claims["exp"].as_u64().expect("a numeric exp");
    assert!(iat <= now + 5 && now < exp, "{claims}");
}

#[tokio::test]
async fn a_layer_with_the_profile_accepts_them_over_http() {
    let provider = OauthProvider::shared().await;
    let token = provider.bearer_token().await;
    let reply = get_with("/me", &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.text(), "harness-bearer");

    // RFC 9068 §2.2.3: the granted scopes in `scope`, read by `RequireLayer`.
    assert_eq!(
        get_with("/read", &token).await.status,
        StatusCode::FORBIDDEN
    );
    let scoped = provider
        .call(Method::POST, "/bearer-token", json!({ "scope": "read" }))
        .await;
    let scoped = scoped["access_token"].as_str().expect("a token");
    assert_eq!(part(scoped, 1)["scope"], "read");
    let reply = get_with("/read", scoped).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

// ---------------------------------------------------------------------------
// Tokens that fall short of the profile.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_typ_must_be_at_jwt_in_any_spelling() {
    let provider = OauthProvider::shared().await;
    let claims = full_claims(provider);
    // RFC 7515 §4.1.9: case-insensitive, `application/` optional.
    for typ in [
        "at+jwt",
        "application/at+jwt",
        "AT+JWT",
        "Application/At+Jwt",
    ] {
        let reply = get_with("/me", &sign(Some(typ), &claims)).await;
        assert_eq!(reply.status, StatusCode::OK, "{typ}: {}", reply.text());
        assert_eq!(reply.text(), "client-a");
    }
    for typ in [
        Some("JWT"),
        Some("jwt"),
        Some("application/jwt"),
        Some("dpop+jwt"),
        Some("at+jwt2"),
        Some("at+jwt "),
        Some("text/at+jwt"),
        Some("application/application/at+jwt"),
        Some(""),
        None,
    ] {
        let reply = get_with("/me", &sign(typ, &claims)).await;
        assert_refused(&reply, "InvalidType", &format!("typ {typ:?}"));
    }
}

#[tokio::test]
async fn every_mandatory_claim_is_required() {
    let provider = OauthProvider::shared().await;
    for name in ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"] {
        for absent in [None, Some(Value::Null)] {
            let mut claims = full_claims(provider);
            let object = claims.as_object_mut().unwrap();
            match absent.clone() {
                None => object.remove(name),
                Some(null) => object.insert(name.to_owned(), null),
            };
            let reply = get_with("/me", &sign(Some("at+jwt"), &claims)).await;
            // A `null` claim counts as absent.
            assert_refused(&reply, "MissingClaim", &format!("{name} {absent:?}"));
        }
    }
    // `scope` is optional.
    let mut claims = full_claims(provider);
    claims.as_object_mut().unwrap().remove("scope");
    let reply = get_with("/me", &sign(Some("at+jwt"), &claims)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn the_issuer_and_audience_are_validated() {
    let provider = OauthProvider::shared().await;
    let mut claims = full_claims(provider);
    claims["iss"] = "https://elsewhere.test".into();
    let reply = get_with("/me", &sign(Some("at+jwt"), &claims)).await;
    assert_refused(&reply, "InvalidIssuer", "another issuer");
    let mut claims = full_claims(provider);
    claims["aud"] = "https://another-api.test".into();
    let reply = get_with("/me", &sign(Some("at+jwt"), &claims)).await;
    assert_refused(&reply, "InvalidAudience", "another audience");
}

// ---------------------------------------------------------------------------
// Configuration.
// ---------------------------------------------------------------------------

#[track_caller]
fn assert_profile_error(
    result: Result<JwtAuthLayer<Value>, ConfigError>,
    setting: &str,
    issuer: Option<&str>,
) {
    match result {
        Err(ConfigError::AccessTokenProfile {
            setting: s,
            issuer: i,
            ..
        }) => {
            assert_eq!(s, setting);
            assert_eq!(i.as_deref(), issuer);
        }
        Err(other) => panic!("another error: {other}"),
        Ok(_) => panic!("built"),
    }
}

#[tokio::test]
async fn the_profile_without_an_issuer_or_an_audience_does_not_build() {
    let key = || Key::hmac(b"a secret of at least 32 bytes....");
    let profile = || {
        JwtAuthLayer::<Value>::builder()
            .key(key())
            .jwt_access_token_profile()
    };
    assert_profile_error(profile().build(), "issuer", None);
    assert_profile_error(
        profile().audience("https://api.test").build(),
        "issuer",
        None,
    );
    let error = profile()
        .issuer("https://login.test")
        .build()
        .expect_err("no audience");
    assert!(error.to_string().contains("`audience`"), "{error}");
    assert!(error.to_string().contains("RFC 9068"), "{error}");
    assert_profile_error(
        profile()
            .issuer("https://login.test")
            .typ("JWT")
            .audience("a")
            .build(),
        "typ",
        None,
    );
    assert!(
        profile()
            .issuer("https://login.test")
            .audience("https://api.test")
            .build()
            .is_ok()
    );

    // With trusted issuers, each one needs an audience.
    let trusted = |name: &str| TrustedIssuer::new(name).key(key());
    let result = JwtAuthLayer::<Value>::builder()
        .trusted_issuer(trusted("https://a.test").audience("https://api.test"))
        .trusted_issuer(trusted("https://b.test"))
        .jwt_access_token_profile()
        .build();
    assert_profile_error(result, "audience", Some("https://b.test"));
}

#[tokio::test]
async fn the_profile_applies_to_trusted_issuers() {
    let provider = OauthProvider::shared().await;
    let local = Key::ec_pem(local_key().public.as_bytes())
        .unwrap()
        .with_kid(LOCAL_KID);
    let layer = JwtAuthLayer::<Value>::builder()
        .trusted_issuer(
            TrustedIssuer::new(provider.issuer())
                .key_set(provider.key_set().await)
                .key(local)
                .audience(AUDIENCE),
        )
        .jwt_access_token_profile()
        .build()
        .expect("the layer");
    let service = tower::Layer::layer(
        &layer,
        service_fn(|_: Request<Full<Bytes>>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::default()))
        }),
    );
    let call = |token: String| {
        let request = Request::get("/")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::default())
            .unwrap();
        service.clone().oneshot(request)
    };
    let response = call(provider.bearer_token().await).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let refused = |response: Response<_>| {
        let error = response.extensions().get::<AuthError>().expect("refused");
        format!("{:?}", error.kind())
    };
    let claims = full_claims(provider);
    let response = call(sign(Some("JWT"), &claims)).await.unwrap();
    assert_eq!(refused(response), "InvalidType");
    let mut claims = full_claims(provider);
    claims.as_object_mut().unwrap().remove("client_id");
    let response = call(sign(Some("at+jwt"), &claims)).await.unwrap();
    assert_eq!(refused(response), "MissingClaim");
}
