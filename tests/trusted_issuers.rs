//! Several issuers behind one layer (`TrustedIssuer`), through a real axum
//! server: each token is verified with the keys and rules of the issuer its
//! `iss` names, and with nothing else.

mod common;

use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Empty;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower_jwt_auth::{
    AuthError, AuthErrorKind, Claims, ConfigError, JwtAuthLayer, Key, KeySet, TrustedIssuer,
};

use common::{Server, pyjwt_token, send_bearer, serve_axum};

/// The issuer of the committed PyJWT fixtures, with their JWK Set.
const PYJWT_ISSUER: &str = "https://issuer.example";
const PYJWT_AUDIENCE: &str = "api://tower-jwt-auth";
const LOGIN_ISSUER: &str = "https://login.example.com";
const LOGIN_SECRET: &[u8] = b"the login service's secret, 32+ bytes";
const PARTNER_ISSUER: &str = "https://partner.example.org";
const PARTNER_SECRET: &[u8] = b"the partner's own secret, 32+ bytes!!";
const FAR: u64 = 4_102_444_800;

fn hs256(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn layer() -> JwtAuthLayer<Value> {
    let jwks = KeySet::from_json(include_bytes!("fixtures/pyjwt/jwks.json")).unwrap();
    JwtAuthLayer::builder()
        .trusted_issuer(
            TrustedIssuer::new(PYJWT_ISSUER)
                .key_set(jwks)
                .audience(PYJWT_AUDIENCE),
        )
        .trusted_issuer(TrustedIssuer::new(LOGIN_ISSUER).key(Key::hmac(LOGIN_SECRET)))
        .trusted_issuer(
            TrustedIssuer::new(PARTNER_ISSUER)
                .key(Key::hmac(PARTNER_SECRET))
                .audience("partner-api")
                .algorithms([Algorithm::HS256]),
        )
        .build()
        .unwrap()
}

async fn server() -> Server {
    let app = Router::new()
        .route(
            "/me",
            get(
                |Extension(Claims(claims)): Extension<Claims<Value>>| async move {
                    claims["iss"].to_string()
                },
            ),
        )
        .layer(layer());
    serve_axum(app).await
}

/// The status and, for a refusal, the error description of `GET /me`.
async fn get_me(server: &Server, token: &str) -> (StatusCode, String) {
    let reply = send_bearer("GET", &server.url("/me"), token).await;
    let text = if reply.status == StatusCode::OK {
        reply.text()
    } else {
        reply.error_description()
    };
    (reply.status, text)
}

#[tokio::test]
async fn each_issuer_verifies_its_own_tokens() {
    let server = server().await;
    for name in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        let (status, iss) = get_me(&server, &pyjwt_token(name)).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(iss, format!("\"{PYJWT_ISSUER}\""));
    }
    let login = hs256(
        &json!({ "iss": LOGIN_ISSUER, "sub": "ada", "exp": FAR }),
        LOGIN_SECRET,
    );
    assert_eq!(
        get_me(&server, &login).await,
        (StatusCode::OK, format!("\"{LOGIN_ISSUER}\""))
    );
    let partner = hs256(
        &json!({ "iss": PARTNER_ISSUER, "aud": "partner-api", "exp": FAR }),
        PARTNER_SECRET,
    );
    assert_eq!(get_me(&server, &partner).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_key_of_one_issuer_never_vouches_for_another() {
    let server = server().await;
    // Signed by the partner, claiming to be the login service.
    let forged = hs256(
        &json!({ "iss": LOGIN_ISSUER, "sub": "admin", "exp": FAR }),
        PARTNER_SECRET,
    );
    assert_eq!(
        get_me(&server, &forged).await,
        (StatusCode::UNAUTHORIZED, "invalid signature".into())
    );
    // HMAC-signed with the login secret, claiming the asymmetric issuer:
    // that issuer's keys allow no HMAC algorithm at all.
    let forged = hs256(
        &json!({ "iss": PYJWT_ISSUER, "aud": PYJWT_AUDIENCE, "exp": FAR }),
        LOGIN_SECRET,
    );
    assert_eq!(
        get_me(&server, &forged).await,
        (StatusCode::UNAUTHORIZED, "algorithm not allowed".into())
    );
    // The PyJWT RS256 token signed by an unrelated RSA key.
    assert_eq!(
        get_me(&server, &pyjwt_token("RS256-other-key")).await,
        (StatusCode::UNAUTHORIZED, "invalid signature".into())
    );
}

#[tokio::test]
async fn the_issuer_must_be_named_and_trusted() {
    let server = server().await;
    for (claims, expected) in [
        (json!({ "sub": "ada", "exp": FAR }), "missing claim `iss`"),
        (json!({ "iss": null, "exp": FAR }), "missing claim `iss`"),
        (
            json!({ "iss": "https://evil.example", "exp": FAR }),
            "issuer not accepted",
        ),
        (
            json!({ "iss": "https://LOGIN.example.com", "exp": FAR }),
            "issuer not accepted",
        ),
        (
            json!({ "iss": [LOGIN_ISSUER], "exp": FAR }),
            "claim `iss` is not a string",
        ),
        (
            json!({ "iss": 7, "exp": FAR }),
            "claim `iss` is not a string",
        ),
    ] {
        let token = hs256(&claims, LOGIN_SECRET);
        assert_eq!(
            get_me(&server, &token).await,
            (StatusCode::UNAUTHORIZED, expected.into()),
            "{claims}"
        );
    }
    // Two `iss` members: the token could mean either; it is refused before
    // any issuer is chosen.
    let header = r#"{"alg":"HS256"}"#;
    let payload = format!(r#"{{"iss":"{PARTNER_ISSUER}","iss":"{LOGIN_ISSUER}","exp":{FAR}}}"#);
    let token = sign_raw(header, &payload, LOGIN_SECRET);
    let (status, _) = get_me(&server, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn audiences_are_per_issuer() {
    let server = server().await;
    // The partner requires its audience.
    for claims in [
        json!({ "iss": PARTNER_ISSUER, "exp": FAR }),
        json!({ "iss": PARTNER_ISSUER, "aud": PYJWT_AUDIENCE, "exp": FAR }),
    ] {
        let (status, _) = get_me(&server, &hs256(&claims, PARTNER_SECRET)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{claims}");
    }
    // The login service configures none: its tokens need no `aud`, and one
    // that has an `aud` is refused (RFC 7519 §4.1.3), even the partner's.
    let plain = hs256(&json!({ "iss": LOGIN_ISSUER, "exp": FAR }), LOGIN_SECRET);
    assert_eq!(get_me(&server, &plain).await.0, StatusCode::OK);
    let with_aud = hs256(
        &json!({ "iss": LOGIN_ISSUER, "aud": "partner-api", "exp": FAR }),
        LOGIN_SECRET,
    );
    assert_eq!(
        get_me(&server, &with_aud).await,
        (StatusCode::UNAUTHORIZED, "audience not accepted".into())
    );
}

#[tokio::test]
async fn the_error_kinds_are_those_of_a_single_issuer() {
    use tower::{Layer, ServiceExt, service_fn};
    let inner = service_fn(|_: Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(Empty::<Bytes>::new()))
    });
    let service = layer().layer(inner);
    for (token, kind) in [
        (
            hs256(&json!({ "exp": FAR }), LOGIN_SECRET),
            AuthErrorKind::MissingClaim,
        ),
        (
            hs256(&json!({ "iss": "x", "exp": FAR }), LOGIN_SECRET),
            AuthErrorKind::InvalidIssuer,
        ),
        (
            hs256(&json!({ "iss": LOGIN_ISSUER, "exp": 1 }), LOGIN_SECRET),
            AuthErrorKind::Expired,
        ),
        ("a.b.c".to_owned(), AuthErrorKind::MalformedToken),
    ] {
        let response = service
            .clone()
            .oneshot(
                Request::get("/")
                    .header("authorization", format!("Bearer {token}"))
                    .body(())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            response
                .extensions()
                .get::<AuthError>()
                .map(AuthError::kind),
            Some(kind),
            "{token}"
        );
    }
}

#[test]
fn a_trusted_issuer_layer_takes_its_keys_and_rules_from_the_issuers() {
    let issuer = || TrustedIssuer::new(LOGIN_ISSUER).key(Key::hmac(LOGIN_SECRET));
    let builder = JwtAuthLayer::<Value>::builder;
    let error = |result: Result<JwtAuthLayer<Value>, ConfigError>| result.unwrap_err();
    let not_on_trusted = |setting| ConfigError::NotOnTrustedIssuer { setting };
    for (result, expected) in [
        (
            builder()
                .trusted_issuer(issuer())
                .key(Key::hmac(LOGIN_SECRET))
                .build(),
            not_on_trusted("key"),
        ),
        (
            builder().trusted_issuer(issuer()).issuer("a").build(),
            not_on_trusted("issuer"),
        ),
        (
            builder().trusted_issuer(issuer()).audience("a").build(),
            not_on_trusted("audience"),
        ),
        (
            builder()
                .trusted_issuer(issuer())
                .algorithms([Algorithm::HS256])
                .build(),
            not_on_trusted("algorithms"),
        ),
        (
            builder()
                .trusted_issuer(issuer())
                .trusted_issuer(issuer())
                .build(),
            ConfigError::DuplicateIssuer {
                issuer: LOGIN_ISSUER.into(),
            },
        ),
        (
            builder()
                .trusted_issuer(TrustedIssuer::new("").key(Key::hmac(LOGIN_SECRET)))
                .build(),
            ConfigError::Empty {
                setting: "trusted_issuer",
            },
        ),
        (
            builder().trusted_issuer(issuer().audience("")).build(),
            ConfigError::Empty {
                setting: "audience",
            },
        ),
    ] {
        let error = error(result);
        assert_eq!(format!("{error:?}"), format!("{expected:?}"));
    }
    assert!(matches!(
        builder()
            .trusted_issuer(TrustedIssuer::new(LOGIN_ISSUER))
            .build(),
        Err(ConfigError::NoKeys)
    ));
    // A key that fits none of an issuer's algorithms is skipped; with none
    // left, the issuer cannot verify anything.
    assert!(matches!(
        builder()
            .trusted_issuer(issuer().algorithms([Algorithm::RS256]))
            .build(),
        Err(ConfigError::NoKeyForAlgorithms { algorithms, skipped: 1 }) if algorithms == [Algorithm::RS256]
    ));
    let jwks = || KeySet::from_json(include_bytes!("fixtures/pyjwt/jwks.json")).unwrap();
    let rsa_only = builder()
        .trusted_issuer(issuer())
        .trusted_issuer(
            TrustedIssuer::new(PYJWT_ISSUER)
                .key_set(jwks())
                .algorithms([Algorithm::RS256]),
        )
        .build()
        .unwrap();
    assert_eq!(rsa_only.skipped_keys(), 3, "EC P-256, EC P-384, Ed25519");
    assert_eq!(layer().skipped_keys(), 0);
}

/// HMAC-SHA256 over `header.payload` given as JSON text, so that odd payloads
/// (duplicate members) can be signed.
fn sign_raw(header: &str, payload: &str, secret: &[u8]) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    )
    .unwrap();
    format!("{message}.{signature}")
}
