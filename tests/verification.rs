//! Every verification rule and every failure cause, driven through the service
//! with `oneshot`: an echo inner service for requests that pass, and one that
//! panics for requests that must be refused (a refusal never reaches it).
//!
//! Tokens are built here, most of them by hand (header and payload JSON,
//! base64url, HMAC), so that odd shapes can be tested. Time comes from an
//! injected clock; nothing sleeps.

use std::convert::Infallible;
use std::future::Ready;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tower::{Layer, ServiceExt, service_fn};
use tower_jwt_auth::{
    AuthError, AuthErrorKind, Claims, ConfigError, DEFAULT_MAX_TOKEN_LENGTH, DefaultResponder,
    ErrorResponder, JwtAuthBuilder, JwtAuthLayer, Key, KeySet, ResponseBody, TokenIssuer,
    TokenSource,
};

type Body = Full<Bytes>;

/// 64 bytes, long enough for every HMAC algorithm (RFC 7518 §3.2).
const SECRET: &[u8] = b"verification secret, 64 bytes long: enough for HS256 to HS512!!!";
const OTHER_SECRET: &[u8] = b"another secret that is 32+ bytes long......";
/// The fixed "now" of the tests (2027-01-15).
const NOW: u64 = 1_800_000_000;
/// Far in the future (2100-01-01), for tokens whose expiry is not the point.
const FAR: u64 = 4_102_444_800;
const HS256_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
const RSA_PUBLIC_PEM: &[u8] = include_bytes!("fixtures/pyjwt/rsa_public.pem");

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

fn b64(data: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// jsonwebtoken's free functions use its process default provider, which
/// building a layer installs.
fn install_provider() {
    let _ = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .build()
        .unwrap();
}

/// HMAC-signs `header.payload` exactly as given (already encoded, possibly badly).
fn sign_encoded(header: &str, payload: &str, secret: &[u8], alg: Algorithm) -> String {
    install_provider();
    let message = format!("{header}.{payload}");
    let key = EncodingKey::from_secret(secret);
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).unwrap();
    format!("{message}.{signature}")
}

/// An HS256 token with this header text and payload bytes.
fn token_with(header: &str, payload: &[u8]) -> String {
    sign_encoded(&b64(header), &b64(payload), SECRET, Algorithm::HS256)
}

/// An HS256 token with these claims.
fn token(claims: Value) -> String {
    token_with(HS256_HEADER, claims.to_string().as_bytes())
}

/// An HS256 token with a far `exp` plus `extra` claims.
fn token_plus(extra: Value) -> String {
    let mut claims = json!({ "sub": "user-1", "exp": FAR });
    claims
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    token(claims)
}

fn good_token() -> String {
    token(json!({ "sub": "user-1", "exp": FAR }))
}

/// The three segments of a token.
fn segments(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    parts.try_into().unwrap()
}

// ---------------------------------------------------------------------------
// Layers, requests, services
// ---------------------------------------------------------------------------

/// One HMAC key, a clock fixed at [`NOW`].
fn builder() -> JwtAuthBuilder<Value> {
    JwtAuthLayer::builder().key(Key::hmac(SECRET)).clock(|| NOW)
}

fn layer() -> JwtAuthLayer<Value> {
    builder().build().unwrap()
}

/// A clock the test moves, and the closure to give the layer.
fn movable_clock(start: u64) -> (Arc<AtomicU64>, impl Fn() -> u64 + Send + Sync + 'static) {
    let now = Arc::new(AtomicU64::new(start));
    let clock = {
        let now = now.clone();
        move || now.load(Ordering::SeqCst)
    };
    (now, clock)
}

fn bearer(token: &str) -> Request<Body> {
    Request::get("/")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::default())
        .unwrap()
}

fn with_authorization(values: &[&str]) -> Request<Body> {
    let mut request = Request::get("/");
    for value in values {
        request = request.header(AUTHORIZATION, *value);
    }
    request.body(Body::default()).unwrap()
}

/// Answers with the request's body, and moves its headers and extensions into
/// the response, where the test can look at them.
async fn echo(request: Request<Body>) -> Result<Response<Body>, Infallible> {
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let mut response = Response::new(Body::from(bytes));
    *response.headers_mut() = parts.headers;
    *response.extensions_mut() = parts.extensions;
    Ok(response)
}

fn must_not_be_called(_: Request<Body>) -> Ready<Result<Response<Body>, Infallible>> {
    panic!("a refused request reached the inner service")
}

async fn call<C, R>(
    layer: &JwtAuthLayer<C, R>,
    request: Request<Body>,
) -> Response<ResponseBody<Body>>
where
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ErrorResponder,
{
    layer
        .layer(service_fn(echo))
        .oneshot(request)
        .await
        .unwrap()
}

/// The request must reach the inner service; returns the claims it saw.
async fn accepted<C, R>(layer: &JwtAuthLayer<C, R>, request: Request<Body>) -> Option<C>
where
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ErrorResponder,
{
    let response = call(layer, request).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "refused: {:?}",
        response.extensions().get::<AuthError>()
    );
    response
        .extensions()
        .get::<Claims<C>>()
        .cloned()
        .map(Claims::into_inner)
}

/// The token must be accepted; returns its claims.
async fn accepts(layer: &JwtAuthLayer<Value>, token: &str) -> Value {
    accepted(layer, bearer(token)).await.expect("no claims")
}

/// The request must be refused without reaching the inner service.
async fn refused<C, R>(
    layer: &JwtAuthLayer<C, R>,
    request: Request<Body>,
) -> (Response<ResponseBody<Body>>, AuthError)
where
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ErrorResponder,
{
    let response = layer
        .layer(service_fn(must_not_be_called))
        .oneshot(request)
        .await
        .unwrap();
    let error = response
        .extensions()
        .get::<AuthError>()
        .expect("no AuthError in the rejection's extensions")
        .clone();
    (response, error)
}

async fn body_json(response: Response<ResponseBody<Body>>) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// The default responder's answer: status, exact challenge, JSON body, kind.
async fn assert_answer<C: DeserializeOwned + Clone + Send + Sync + 'static>(
    layer: &JwtAuthLayer<C>,
    request: Request<Body>,
    (status, code): (StatusCode, &str),
    kind: AuthErrorKind,
    description: &str,
) {
    let (response, error) = refused(layer, request).await;
    assert_eq!(error.kind(), kind, "{error:?}");
    assert_eq!(error.description(), description);
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()[WWW_AUTHENTICATE],
        format!(r#"Bearer error="{code}", error_description="{description}""#)
    );
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(
        body_json(response).await,
        json!({ "error": code, "error_description": description })
    );
}

const INVALID_TOKEN: (StatusCode, &str) = (StatusCode::UNAUTHORIZED, "invalid_token");
const INVALID_REQUEST: (StatusCode, &str) = (StatusCode::BAD_REQUEST, "invalid_request");

/// The bearer token must be refused as an invalid token, for this reason.
async fn refuses<C: DeserializeOwned + Clone + Send + Sync + 'static>(
    layer: &JwtAuthLayer<C>,
    token: &str,
    kind: AuthErrorKind,
    description: &str,
) {
    assert_answer(layer, bearer(token), INVALID_TOKEN, kind, description).await;
}

/// 401 with a challenge and no error code: the request carried no token.
async fn assert_no_token<R: ErrorResponder>(
    layer: &JwtAuthLayer<Value, R>,
    request: Request<Body>,
    challenge: &str,
) {
    let (response, error) = refused(layer, request).await;
    assert_eq!(error.kind(), AuthErrorKind::MissingToken);
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[WWW_AUTHENTICATE], challenge);
    assert_eq!(
        body_json(response).await,
        json!({ "error": "unauthorized", "error_description": "no token" })
    );
}

// ---------------------------------------------------------------------------
// Finding the token
// ---------------------------------------------------------------------------

#[tokio::test]
async fn no_token_is_401_with_a_bare_challenge() {
    let request = Request::get("/").body(Body::default()).unwrap();
    assert_no_token(&layer(), request, "Bearer").await;
}

#[tokio::test]
async fn the_realm_appears_in_every_challenge() {
    let layer = builder()
        .responder(DefaultResponder::new().realm("api"))
        .build()
        .unwrap();
    let request = Request::get("/").body(Body::default()).unwrap();
    assert_no_token(&layer, request, r#"Bearer realm="api""#).await;

    let expired = token(json!({ "exp": NOW - 3600 }));
    let (response, _) = refused(&layer, bearer(&expired)).await;
    assert_eq!(
        response.headers()[WWW_AUTHENTICATE],
        r#"Bearer realm="api", error="invalid_token", error_description="token expired""#
    );
}

#[tokio::test]
async fn two_different_tokens_are_an_invalid_request() {
    let layer = builder()
        .source(TokenSource::bearer())
        .source(TokenSource::query("access_token"))
        .build()
        .unwrap();
    let (one, two) = (good_token(), token_plus(json!({ "n": 2 })));
    let header_and_query = Request::get(format!("/?access_token={two}"))
        .header(AUTHORIZATION, format!("Bearer {one}"))
        .body(Body::default())
        .unwrap();
    let two_headers = with_authorization(&[&format!("Bearer {one}"), &format!("Bearer {two}")]);
    for request in [header_and_query, two_headers] {
        assert_answer(
            &layer,
            request,
            INVALID_REQUEST,
            AuthErrorKind::MultipleTokens,
            "more than one token in the request",
        )
        .await;
    }
}

#[tokio::test]
async fn the_same_token_twice_is_accepted() {
    let layer = builder()
        .source(TokenSource::bearer())
        .source(TokenSource::query("access_token"))
        .build()
        .unwrap();
    let token = good_token();
    let header_and_query = Request::get(format!("/?access_token={token}"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::default())
        .unwrap();
    let two_headers = with_authorization(&[&format!("Bearer {token}"), &format!("Bearer {token}")]);
    for request in [header_and_query, two_headers] {
        assert_eq!(accepted(&layer, request).await.unwrap()["sub"], "user-1");
    }
}

#[tokio::test]
async fn a_bearer_scheme_without_a_usable_token_is_an_invalid_request() {
    for (value, description) in [
        ("Bearer", "authorization scheme without a token"),
        ("Bearer    ", "authorization scheme without a token"),
        ("Bearer a b", "the token header holds more than a token"),
    ] {
        assert_answer(
            &layer(),
            with_authorization(&[value]),
            INVALID_REQUEST,
            AuthErrorKind::MalformedRequest,
            description,
        )
        .await;
    }
}

#[tokio::test]
async fn another_scheme_alone_is_no_token() {
    let request = with_authorization(&["Basic dXNlcjpwYXNzd29yZA=="]);
    assert_no_token(&layer(), request, "Bearer").await;
}

// ---------------------------------------------------------------------------
// Token shape
// ---------------------------------------------------------------------------

/// A valid token of about `len` bytes (a padding claim makes up the length).
fn token_of_about(len: usize) -> String {
    let short = token_plus(json!({ "pad": "" }));
    // Four base64 characters per three bytes of padding.
    token_plus(json!({ "pad": "x".repeat((len - short.len()) * 3 / 4) }))
}

#[tokio::test]
async fn tokens_over_8_kib_are_refused_before_decoding() {
    assert_eq!(DEFAULT_MAX_TOKEN_LENGTH, 8 * 1024);
    let under = token_of_about(8 * 1024 - 8);
    assert!(under.len() <= 8 * 1024);
    accepts(&layer(), &under).await;

    let over = token_of_about(8 * 1024 + 8);
    assert!(over.len() > 8 * 1024);
    refuses(
        &layer(),
        &over,
        AuthErrorKind::TokenTooLong,
        "token too long",
    )
    .await;
    // Not even a token: the length alone decides.
    let junk = "x".repeat(8 * 1024 + 1);
    refuses(
        &layer(),
        &junk,
        AuthErrorKind::TokenTooLong,
        "token too long",
    )
    .await;
}

#[tokio::test]
async fn a_custom_maximum_is_inclusive() {
    let token = good_token();
    let exact = builder().max_token_length(token.len()).build().unwrap();
    accepts(&exact, &token).await;
    let shorter = builder().max_token_length(token.len() - 1).build().unwrap();
    refuses(
        &shorter,
        &token,
        AuthErrorKind::TokenTooLong,
        "token too long",
    )
    .await;
}

#[tokio::test]
async fn tokens_that_are_not_three_base64url_segments_are_malformed() {
    let good = good_token();
    let [header, payload, signature] = segments(&good);
    let claims = json!({ "exp": FAR }).to_string();
    let cases: Vec<(String, &str)> = vec![
        (format!("{header}.{payload}"), "token is not three segments"),
        (format!("{good}.{signature}"), "token is not three segments"),
        ("..".to_owned(), "header is not a JOSE header"),
        (
            format!("{header}.{payload}.{signature}!"),
            "signature is not base64url",
        ),
        // Properly signed, so only the encoding can be wrong.
        (
            sign_encoded(
                &STANDARD.encode(r#"{"alg":"HS256" }"#),
                &b64(&claims),
                SECRET,
                Algorithm::HS256,
            ),
            "header is not base64url",
        ),
        (
            sign_encoded(
                &b64(HS256_HEADER),
                &padded(&claims),
                SECRET,
                Algorithm::HS256,
            ),
            "claims are not base64url",
        ),
        (
            sign_encoded(
                &b64(HS256_HEADER),
                &with_char(&claims, '+'),
                SECRET,
                Algorithm::HS256,
            ),
            "claims are not base64url",
        ),
        (
            sign_encoded(
                &b64(HS256_HEADER),
                &with_char(&claims, '/'),
                SECRET,
                Algorithm::HS256,
            ),
            "claims are not base64url",
        ),
        (
            token_with("not json", claims.as_bytes()),
            "header is not a JOSE header",
        ),
        (
            token_with(r#"{"typ":"JWT"}"#, claims.as_bytes()),
            "header is not a JOSE header",
        ),
        (
            token_with(HS256_HEADER, b"not json"),
            "claims are not a JSON object",
        ),
        (
            token_with(HS256_HEADER, b"[1,2,3]"),
            "claims are not a JSON object",
        ),
        (
            token_with(HS256_HEADER, b"{\"exp\":4102444800,\"sub\":\"\xff\"}"),
            "claims are not UTF-8",
        ),
    ];
    for (token, description) in cases {
        refuses(&layer(), &token, AuthErrorKind::MalformedToken, description).await;
    }
}

/// Standard base64 of `text` with `=` padding (its length is not a multiple of 3).
fn padded(text: &str) -> String {
    let mut text = text.to_owned();
    while text.len().is_multiple_of(3) {
        text.push(' ');
    }
    let encoded = STANDARD.encode(&text);
    assert!(encoded.ends_with('='), "{encoded}");
    encoded
}

/// Standard base64 (no padding) of `claims` with a claim chosen so that the
/// encoding holds `c` (`+` or `/`), which base64url does not allow.
fn with_char(claims: &str, c: char) -> String {
    let filler = if c == '+' { ">>>" } else { "???" };
    (0..3)
        .map(|shift| {
            let inner = claims.trim_end_matches('}');
            format!(r#"{inner},"f":"{}{filler}"}}"#, " ".repeat(shift))
        })
        .map(|text| STANDARD_NO_PAD.encode(text))
        .find(|encoded| encoded.contains(c))
        .unwrap()
}

#[tokio::test]
async fn trailing_data_after_the_claims_is_malformed() {
    let token = token_with(HS256_HEADER, br#"{"exp":4102444800} trailing"#);
    refuses(
        &layer(),
        &token,
        AuthErrorKind::MalformedToken,
        "claims are not a JSON object",
    )
    .await;
}

/// Valid JSON but for one byte that is not UTF-8, in a claim no check reads.
fn non_utf8_token() -> String {
    token_with(HS256_HEADER, b"{\"exp\":4102444800,\"note\":\"\xff\"}")
}

#[tokio::test]
async fn non_utf8_claims_are_malformed() {
    refuses(
        &layer(),
        &non_utf8_token(),
        AuthErrorKind::MalformedToken,
        "claims are not UTF-8",
    )
    .await;
}

#[tokio::test]
async fn a_non_utf8_header_is_malformed() {
    let claims = json!({ "exp": FAR }).to_string();
    let header = b"{\"alg\":\"HS256\",\"note\":\"\xff\"}";
    let token = sign_encoded(&b64(header), &b64(&claims), SECRET, Algorithm::HS256);
    refuses(
        &layer(),
        &token,
        AuthErrorKind::MalformedToken,
        "header is not UTF-8",
    )
    .await;
}

#[tokio::test]
async fn non_utf8_claims_are_refused_even_when_the_claims_type_ignores_them() {
    #[derive(Clone, Deserialize)]
    struct Exp {
        #[allow(dead_code)]
        exp: u64,
    }
    let typed = JwtAuthLayer::<Exp>::builder()
        .key(Key::hmac(SECRET))
        .clock(|| NOW)
        .build()
        .unwrap();
    refuses(
        &typed,
        &non_utf8_token(),
        AuthErrorKind::MalformedToken,
        "claims are not UTF-8",
    )
    .await;
}

#[tokio::test]
async fn duplicate_exp_is_malformed_and_named() {
    for payload in [
        format!(r#"{{"exp":{FAR},"exp":1}}"#),
        format!(r#"{{"exp":1,"exp":{FAR}}}"#),
    ] {
        let token = token_with(HS256_HEADER, payload.as_bytes());
        refuses(
            &layer(),
            &token,
            AuthErrorKind::MalformedToken,
            "claim `exp` given twice",
        )
        .await;
    }
}

// ---------------------------------------------------------------------------
// Header: alg, crit, typ
// ---------------------------------------------------------------------------

const ALG_NOT_ALLOWED: &str = "algorithm not allowed";

#[tokio::test]
async fn alg_none_is_refused_in_every_spelling() {
    let claims = json!({ "exp": FAR }).to_string();
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = b64(json!({ "alg": alg, "typ": "JWT" }).to_string());
        let unsigned = format!("{header}.{}.", b64(&claims));
        refuses(
            &layer(),
            &unsigned,
            AuthErrorKind::AlgorithmNotAllowed,
            ALG_NOT_ALLOWED,
        )
        .await;
        let signed = sign_encoded(&header, &b64(&claims), SECRET, Algorithm::HS256);
        refuses(
            &layer(),
            &signed,
            AuthErrorKind::AlgorithmNotAllowed,
            ALG_NOT_ALLOWED,
        )
        .await;
    }
}

#[tokio::test]
async fn algorithms_outside_the_allow_list_are_refused() {
    let hs256_only = builder().algorithms([Algorithm::HS256]).build().unwrap();
    let claims = json!({ "exp": FAR }).to_string();
    let hs384 = sign_encoded(
        &b64(r#"{"alg":"HS384"}"#),
        &b64(&claims),
        SECRET,
        Algorithm::HS384,
    );
    accepts(&layer(), &hs384).await;
    refuses(
        &hs256_only,
        &hs384,
        AuthErrorKind::AlgorithmNotAllowed,
        ALG_NOT_ALLOWED,
    )
    .await;

    // Unknown names, and a real algorithm of another family than the key's.
    for alg in ["HS257", "hs256", "ES512", "PS256"] {
        let header = b64(json!({ "alg": alg }).to_string());
        let token = sign_encoded(&header, &b64(&claims), SECRET, Algorithm::HS256);
        refuses(
            &layer(),
            &token,
            AuthErrorKind::AlgorithmNotAllowed,
            ALG_NOT_ALLOWED,
        )
        .await;
    }
}

#[tokio::test]
async fn an_rsa_public_key_is_never_an_hmac_secret() {
    let layer = JwtAuthLayer::<Value>::builder()
        .key(Key::rsa_pem(RSA_PUBLIC_PEM).unwrap())
        .clock(|| NOW)
        .build()
        .unwrap();
    let claims = json!({ "exp": FAR }).to_string();
    let forged = sign_encoded(
        &b64(HS256_HEADER),
        &b64(&claims),
        RSA_PUBLIC_PEM,
        Algorithm::HS256,
    );
    refuses(
        &layer,
        &forged,
        AuthErrorKind::AlgorithmNotAllowed,
        ALG_NOT_ALLOWED,
    )
    .await;
}

#[tokio::test]
async fn any_crit_header_is_refused() {
    for crit in [json!(["exp"]), json!([]), Value::Null] {
        let header = json!({ "alg": "HS256", "crit": crit }).to_string();
        let token = token_with(&header, json!({ "exp": FAR }).to_string().as_bytes());
        refuses(
            &layer(),
            &token,
            AuthErrorKind::UnsupportedCritical,
            "unsupported critical header parameter",
        )
        .await;
    }
}

#[tokio::test]
async fn typ_is_compared_as_a_media_type() {
    let layer = builder().typ("JWT").build().unwrap();
    let claims = json!({ "exp": FAR }).to_string();
    for typ in ["JWT", "jwt", "application/jwt", "Application/JWT"] {
        let header = json!({ "alg": "HS256", "typ": typ }).to_string();
        accepts(&layer, &token_with(&header, claims.as_bytes())).await;
    }
    for header in [
        json!({ "alg": "HS256", "typ": "at+jwt" }),
        json!({ "alg": "HS256", "typ": "" }),
        json!({ "alg": "HS256" }),
    ] {
        let token = token_with(&header.to_string(), claims.as_bytes());
        refuses(
            &layer,
            &token,
            AuthErrorKind::InvalidType,
            "unexpected token type",
        )
        .await;
    }
    // Without a configured typ, any typ (or none) is fine.
    let header = json!({ "alg": "HS256", "typ": "at+jwt" }).to_string();
    accepts(&self::layer(), &token_with(&header, claims.as_bytes())).await;
}

// ---------------------------------------------------------------------------
// Keys and signatures
// ---------------------------------------------------------------------------

fn kid_token(kid: Option<&str>, secret: &[u8]) -> String {
    let mut issuer = TokenIssuer::hmac(secret).clock(|| NOW);
    if let Some(kid) = kid {
        issuer = issuer.kid(kid);
    }
    issuer
        .build()
        .unwrap()
        .issue(&json!({ "sub": "user-1" }))
        .unwrap()
}

const NO_KEY: &str = "no key for this token";
const BAD_SIGNATURE: &str = "invalid signature";

#[tokio::test]
async fn kid_selects_the_key() {
    let layer = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET).with_kid("k1"))
        .key(Key::hmac(OTHER_SECRET).with_kid("k2"))
        .clock(|| NOW)
        .build()
        .unwrap();
    accepts(&layer, &kid_token(Some("k1"), SECRET)).await;
    accepts(&layer, &kid_token(Some("k2"), OTHER_SECRET)).await;
    // The kid names the key: the other one is not tried.
    let wrong = kid_token(Some("k1"), OTHER_SECRET);
    refuses(
        &layer,
        &wrong,
        AuthErrorKind::InvalidSignature,
        BAD_SIGNATURE,
    )
    .await;
    // No key has this kid, and there is no kid-less key to fall back to.
    let unknown = kid_token(Some("k3"), SECRET);
    refuses(&layer, &unknown, AuthErrorKind::UnknownKey, NO_KEY).await;
    // Without a kid every key is tried.
    accepts(&layer, &kid_token(None, SECRET)).await;
    accepts(&layer, &kid_token(None, OTHER_SECRET)).await;
}

#[tokio::test]
async fn an_unknown_kid_falls_back_to_the_keys_without_kid() {
    let layer = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET).with_kid("k1"))
        .key(Key::hmac(OTHER_SECRET))
        .clock(|| NOW)
        .build()
        .unwrap();
    accepts(&layer, &kid_token(Some("elsewhere"), OTHER_SECRET)).await;
    // Only the kid-less key: the kid'ed one is not tried for a foreign kid.
    let token = kid_token(Some("elsewhere"), SECRET);
    refuses(
        &layer,
        &token,
        AuthErrorKind::InvalidSignature,
        BAD_SIGNATURE,
    )
    .await;
}

#[tokio::test]
async fn bad_signatures_are_refused() {
    let good = good_token();
    let [header, payload, signature] = segments(&good);
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes.truncate(bytes.len() - 1);
    let other_secret = sign_encoded(header, payload, OTHER_SECRET, Algorithm::HS256);
    for token in [
        other_secret,
        format!("{header}.{payload}.{}", b64(&bytes)),
        format!("{header}.{payload}."),
    ] {
        refuses(
            &layer(),
            &token,
            AuthErrorKind::InvalidSignature,
            BAD_SIGNATURE,
        )
        .await;
    }
}

// ---------------------------------------------------------------------------
// Time: exp and nbf
// ---------------------------------------------------------------------------

/// A layer with a clock the test moves, starting at [`NOW`].
fn timed(leeway: u64) -> (Arc<AtomicU64>, JwtAuthLayer<Value>) {
    let (now, clock) = movable_clock(NOW);
    let layer = builder()
        .clock(clock)
        .leeway(Duration::from_secs(leeway))
        .build()
        .unwrap();
    (now, layer)
}

#[tokio::test]
async fn exp_is_the_first_refused_instant_after_the_leeway() {
    let token = token(json!({ "exp": NOW }));
    let (now, layer) = timed(60);
    now.store(NOW + 59, Ordering::SeqCst);
    accepts(&layer, &token).await;
    now.store(NOW + 60, Ordering::SeqCst);
    refuses(&layer, &token, AuthErrorKind::Expired, "token expired").await;
}

#[tokio::test]
async fn exp_without_leeway() {
    let token = token(json!({ "exp": NOW }));
    let (now, layer) = timed(0);
    now.store(NOW - 1, Ordering::SeqCst);
    accepts(&layer, &token).await;
    now.store(NOW, Ordering::SeqCst);
    refuses(&layer, &token, AuthErrorKind::Expired, "token expired").await;
}

#[tokio::test]
async fn the_default_leeway_is_60_seconds() {
    let token = token(json!({ "exp": NOW }));
    let (now, clock) = movable_clock(NOW + 59);
    let layer = builder().clock(clock).build().unwrap();
    accepts(&layer, &token).await;
    now.store(NOW + 60, Ordering::SeqCst);
    refuses(&layer, &token, AuthErrorKind::Expired, "token expired").await;
}

#[tokio::test]
async fn fractional_exp() {
    let token = token_with(HS256_HEADER, format!(r#"{{"exp":{NOW}.5}}"#).as_bytes());
    let (now, layer) = timed(0);
    accepts(&layer, &token).await;
    now.store(NOW + 1, Ordering::SeqCst);
    refuses(&layer, &token, AuthErrorKind::Expired, "token expired").await;
}

#[tokio::test]
async fn exp_must_be_a_number() {
    for exp in [
        json!("123"),
        json!(format!("{FAR}")),
        json!([FAR]),
        json!(true),
    ] {
        refuses(
            &layer(),
            &token(json!({ "exp": exp })),
            AuthErrorKind::InvalidClaimType,
            "claim `exp` is not a number",
        )
        .await;
    }
}

#[tokio::test]
async fn negative_exp_is_expired() {
    refuses(
        &layer(),
        &token(json!({ "exp": -1 })),
        AuthErrorKind::Expired,
        "token expired",
    )
    .await;
}

#[tokio::test]
async fn exp_is_required_by_default() {
    for claims in [
        json!({ "sub": "user-1" }),
        json!({ "sub": "user-1", "exp": null }),
    ] {
        refuses(
            &layer(),
            &token(claims),
            AuthErrorKind::MissingClaim,
            "missing claim `exp`",
        )
        .await;
    }
    let optional_exp = builder().required_claims([]).build().unwrap();
    accepts(&optional_exp, &token(json!({ "sub": "user-1" }))).await;
    // Optional is not unchecked: a present `exp` that has passed is refused.
    refuses(
        &optional_exp,
        &token(json!({ "sub": "user-1", "exp": NOW - 61 })),
        AuthErrorKind::Expired,
        "token expired",
    )
    .await;
    // Owned names go in as `&str`.
    let names: Vec<String> = ["sub".to_owned()].into();
    let sub_only = builder()
        .required_claims(names.iter().map(String::as_str))
        .build()
        .unwrap();
    accepts(&sub_only, &token(json!({ "sub": "user-1" }))).await;
}

#[tokio::test]
async fn dangerous_skip_exp_check_accepts_an_expired_exp_but_not_a_mistyped_one() {
    let expired = token(json!({ "sub": "user-1", "exp": NOW - 3600 }));
    refuses(&layer(), &expired, AuthErrorKind::Expired, "token expired").await;
    let lenient = builder().dangerous_skip_exp_check().build().unwrap();
    accepts(&lenient, &expired).await;
    refuses(
        &lenient,
        &token(json!({ "sub": "user-1", "exp": "yesterday" })),
        AuthErrorKind::InvalidClaimType,
        "claim `exp` is not a number",
    )
    .await;
    // `exp` is still required, as `required_claims` says, and `nbf` still
    // checked.
    refuses(
        &lenient,
        &token(json!({ "sub": "user-1" })),
        AuthErrorKind::MissingClaim,
        "missing claim `exp`",
    )
    .await;
    refuses(
        &lenient,
        &token(json!({ "exp": NOW - 3600, "nbf": NOW + 3600 })),
        AuthErrorKind::NotYetValid,
        "token not yet valid",
    )
    .await;
    let lenient_optional = builder()
        .dangerous_skip_exp_check()
        .required_claims([])
        .build()
        .unwrap();
    accepts(&lenient_optional, &token(json!({ "sub": "user-1" }))).await;
}

#[tokio::test]
async fn dangerous_skip_nbf_check_accepts_a_future_nbf_but_not_a_mistyped_one() {
    let early = token(json!({ "sub": "user-1", "exp": FAR, "nbf": NOW + 3600 }));
    refuses(
        &layer(),
        &early,
        AuthErrorKind::NotYetValid,
        "token not yet valid",
    )
    .await;
    let lenient = builder().dangerous_skip_nbf_check().build().unwrap();
    accepts(&lenient, &early).await;
    refuses(
        &lenient,
        &token(json!({ "exp": FAR, "nbf": "tomorrow" })),
        AuthErrorKind::InvalidClaimType,
        "claim `nbf` is not a number",
    )
    .await;
    // `exp` is still checked.
    refuses(
        &lenient,
        &token(json!({ "exp": NOW - 3600, "nbf": NOW + 3600 })),
        AuthErrorKind::Expired,
        "token expired",
    )
    .await;
}

#[tokio::test]
async fn nbf_is_checked_with_the_leeway() {
    let token = token(json!({ "exp": FAR, "nbf": NOW + 100 }));
    let (now, layer) = timed(60);
    refuses(
        &layer,
        &token,
        AuthErrorKind::NotYetValid,
        "token not yet valid",
    )
    .await;
    now.store(NOW + 39, Ordering::SeqCst);
    refuses(
        &layer,
        &token,
        AuthErrorKind::NotYetValid,
        "token not yet valid",
    )
    .await;
    now.store(NOW + 40, Ordering::SeqCst);
    accepts(&layer, &token).await;
}

#[tokio::test]
async fn nbf_must_be_a_number() {
    refuses(
        &layer(),
        &token_plus(json!({ "nbf": "0" })),
        AuthErrorKind::InvalidClaimType,
        "claim `nbf` is not a number",
    )
    .await;
}

// ---------------------------------------------------------------------------
// iss, aud, sub, required claims
// ---------------------------------------------------------------------------

const ISSUER: &str = "https://issuer.example";

#[tokio::test]
async fn a_configured_issuer_must_be_present_a_string_and_accepted() {
    let layer = builder()
        .issuer(ISSUER)
        .issuer("https://second.example")
        .build()
        .unwrap();
    accepts(&layer, &token_plus(json!({ "iss": ISSUER }))).await;
    accepts(
        &layer,
        &token_plus(json!({ "iss": "https://second.example" })),
    )
    .await;

    let cases = [
        (
            json!({}),
            AuthErrorKind::MissingClaim,
            "missing claim `iss`",
        ),
        (
            json!({ "iss": null }),
            AuthErrorKind::MissingClaim,
            "missing claim `iss`",
        ),
        (
            json!({ "iss": 42 }),
            AuthErrorKind::InvalidClaimType,
            "claim `iss` is not a string",
        ),
        (
            json!({ "iss": [ISSUER] }),
            AuthErrorKind::InvalidClaimType,
            "claim `iss` is not a string",
        ),
        (
            json!({ "iss": "https://evil.example" }),
            AuthErrorKind::InvalidIssuer,
            "issuer not accepted",
        ),
        (
            json!({ "iss": "https://issuer.example/" }),
            AuthErrorKind::InvalidIssuer,
            "issuer not accepted",
        ),
    ];
    for (extra, kind, description) in cases {
        refuses(&layer, &token_plus(extra), kind, description).await;
    }
}

#[tokio::test]
async fn a_configured_audience_must_be_present_and_named() {
    let layer = builder()
        .audience("api://one")
        .audience("api://two")
        .build()
        .unwrap();
    for aud in [json!("api://two"), json!(["api://other", "api://one"])] {
        accepts(&layer, &token_plus(json!({ "aud": aud }))).await;
    }
    let not_accepted = (AuthErrorKind::InvalidAudience, "audience not accepted");
    let wrong_type = (
        AuthErrorKind::InvalidClaimType,
        "claim `aud` is not a string or an array of strings",
    );
    let cases = [
        (json!({ "aud": "api://other" }), not_accepted),
        (json!({ "aud": ["api://x", "api://y"] }), not_accepted),
        (json!({ "aud": [] }), not_accepted),
        (
            json!({}),
            (AuthErrorKind::MissingClaim, "missing claim `aud`"),
        ),
        (json!({ "aud": 7 }), wrong_type),
        (json!({ "aud": ["api://one", 7] }), wrong_type),
    ];
    for (extra, (kind, description)) in cases {
        refuses(&layer, &token_plus(extra), kind, description).await;
    }
}

#[tokio::test]
async fn an_aud_is_refused_when_no_audience_is_configured() {
    for aud in [json!("api://anything"), json!(["api://anything"])] {
        refuses(
            &layer(),
            &token_plus(json!({ "aud": aud })),
            AuthErrorKind::InvalidAudience,
            "audience not accepted",
        )
        .await;
    }
}

#[tokio::test]
async fn a_configured_subject_must_match() {
    let layer = builder().subject("user-1").build().unwrap();
    accepts(&layer, &good_token()).await;
    let cases = [
        (
            json!({ "sub": "user-2" }),
            AuthErrorKind::InvalidSubject,
            "subject not accepted",
        ),
        (
            json!({ "sub": 1 }),
            AuthErrorKind::InvalidClaimType,
            "claim `sub` is not a string",
        ),
    ];
    for (extra, kind, description) in cases {
        refuses(&layer, &token_plus(extra), kind, description).await;
    }
    refuses(
        &layer,
        &token(json!({ "exp": FAR })),
        AuthErrorKind::MissingClaim,
        "missing claim `sub`",
    )
    .await;
}

#[tokio::test]
async fn required_extra_claims_must_be_present_and_not_null() {
    let layer = builder().require_claim("role").build().unwrap();
    accepts(&layer, &token_plus(json!({ "role": "admin" }))).await;
    accepts(&layer, &token_plus(json!({ "role": false }))).await;
    for extra in [json!({}), json!({ "role": null })] {
        refuses(
            &layer,
            &token_plus(extra),
            AuthErrorKind::MissingClaim,
            "missing required claim",
        )
        .await;
    }
    // require_claim adds to the default: exp is still required.
    refuses(
        &layer,
        &token(json!({ "role": "admin" })),
        AuthErrorKind::MissingClaim,
        "missing claim `exp`",
    )
    .await;
}

// ---------------------------------------------------------------------------
// Claims types, modes, responders
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Deserialize)]
struct Named {
    sub: String,
    name: String,
}

fn named_layer() -> JwtAuthLayer<Named> {
    JwtAuthLayer::builder()
        .key(Key::hmac(SECRET))
        .clock(|| NOW)
        .build()
        .unwrap()
}

#[tokio::test]
async fn claims_that_do_not_fit_the_claims_type_are_refused() {
    for extra in [json!({}), json!({ "name": 5 })] {
        refuses(
            &named_layer(),
            &token_plus(extra),
            AuthErrorKind::InvalidClaims,
            "claims do not match the expected shape",
        )
        .await;
    }
}

#[tokio::test]
async fn optional_mode_lets_requests_without_token_through() {
    let layer = builder().optional(true).build().unwrap();
    let request = Request::get("/").body(Body::default()).unwrap();
    assert_eq!(accepted(&layer, request).await, None);
    let claims = accepted(&layer, bearer(&good_token())).await;
    assert_eq!(claims.unwrap()["sub"], "user-1");
    // A token that is there must still be good.
    let expired = token(json!({ "exp": NOW - 3600 }));
    refuses(&layer, &expired, AuthErrorKind::Expired, "token expired").await;
    // So must the request.
    assert_answer(
        &layer,
        with_authorization(&["Bearer"]),
        INVALID_REQUEST,
        AuthErrorKind::MalformedRequest,
        "authorization scheme without a token",
    )
    .await;
}

#[tokio::test]
async fn a_custom_responder_replaces_the_whole_answer() {
    let layer = builder()
        .responder(|error: &AuthError| {
            let code = if error.kind() == AuthErrorKind::Expired {
                1003
            } else {
                1000
            };
            Response::builder()
                .status(StatusCode::IM_A_TEAPOT)
                .header("x-reason", error.description())
                .body(Bytes::from(json!({ "code": code }).to_string()))
                .unwrap()
        })
        .build()
        .unwrap();
    let expired = token(json!({ "exp": NOW - 3600 }));
    let (response, error) = refused(&layer, bearer(&expired)).await;
    assert_eq!(error.kind(), AuthErrorKind::Expired);
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(response.headers()["x-reason"], "token expired");
    assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
    assert_eq!(body_json(response).await, json!({ "code": 1003 }));

    let (response, error) = refused(&layer, Request::new(Body::default())).await;
    assert_eq!(error.kind(), AuthErrorKind::MissingToken);
    assert_eq!(body_json(response).await, json!({ "code": 1000 }));
}

// ---------------------------------------------------------------------------
// Success: nothing lost
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
struct Marker(u32);

#[tokio::test]
async fn an_accepted_request_reaches_the_inner_service_unchanged_plus_claims() {
    let token = TokenIssuer::hmac(SECRET)
        .clock(|| NOW)
        .build()
        .unwrap()
        .issue(&json!({ "sub": "user-1", "name": "Ada" }))
        .unwrap();
    let mut request = Request::post("/items?x=1")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header("x-one", "1")
        .header("x-many", "a")
        .header("x-many", "b")
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(Bytes::from_static(b"\x00body bytes\xff")))
        .unwrap();
    request.extensions_mut().insert(Marker(7));
    let sent_headers = request.headers().clone();

    // Keep what the inner service saw.
    let seen = Arc::new(Mutex::new(None));
    let inner = {
        let seen = seen.clone();
        service_fn(move |request: Request<Body>| {
            let seen = seen.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = body.collect().await.unwrap().to_bytes();
                *seen.lock().unwrap() = Some((parts, bytes));
                Ok::<_, Infallible>(Response::new(Body::from("done")))
            }
        })
    };
    let response = named_layer().layer(inner).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "done"
    );

    let (parts, body) = seen.lock().unwrap().take().unwrap();
    assert_eq!(parts.method, http::Method::POST);
    assert_eq!(parts.uri, "/items?x=1");
    assert_eq!(parts.headers, sent_headers);
    assert_eq!(&body[..], b"\x00body bytes\xff");
    assert_eq!(parts.extensions.get::<Marker>(), Some(&Marker(7)));
    let claims = parts.extensions.get::<Claims<Named>>().unwrap();
    assert_eq!(
        claims.0,
        Named {
            sub: "user-1".into(),
            name: "Ada".into()
        }
    );
}

#[tokio::test]
async fn value_claims_hold_the_whole_payload() {
    let claims = json!({ "sub": "user-1", "exp": FAR, "nested": { "a": [1, 2] }, "n": 1.5 });
    assert_eq!(accepts(&layer(), &token(claims.clone())).await, claims);
    // The echo's response body is the request body.
    let request = Request::post("/")
        .header(AUTHORIZATION, format!("Bearer {}", good_token()))
        .body(Body::from("payload"))
        .unwrap();
    let response = call(&layer(), request).await;
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "payload"
    );
}

// ---------------------------------------------------------------------------
// Configuration errors
// ---------------------------------------------------------------------------

#[test]
fn configuration_errors_are_found_at_build_time() {
    let build = |b: JwtAuthBuilder<Value>| b.build().unwrap_err();
    let no_keys = JwtAuthLayer::<Value>::builder();
    assert!(matches!(build(no_keys), ConfigError::NoKeys));
    let empty_secret = JwtAuthLayer::builder().key(Key::hmac(b""));
    assert!(matches!(build(empty_secret), ConfigError::InvalidKey(_)));
    let hmac_rs256 =
        JwtAuthLayer::builder().key(Key::hmac(SECRET).with_algorithm(Algorithm::RS256));
    assert!(matches!(
        build(hmac_rs256),
        ConfigError::AlgorithmMismatch(_)
    ));
    let rsa_hs256 = JwtAuthLayer::builder()
        .key(Key::rsa_pem(RSA_PUBLIC_PEM).unwrap())
        .algorithms([Algorithm::HS256]);
    assert!(matches!(
        build(rsa_hs256),
        ConfigError::NoKeyForAlgorithms { skipped: 1, .. }
    ));
    let cookie = builder().source(TokenSource::cookie("a b"));
    assert!(matches!(build(cookie), ConfigError::InvalidSourceName(name) if name == "a b"));
    let junk_rsa = JwtAuthLayer::builder().key(Key::rsa_der(b"junk"));
    assert!(matches!(build(junk_rsa), ConfigError::InvalidKey(_)));

    assert!(matches!(
        Key::ec_der(&[4; 10]),
        Err(ConfigError::InvalidKey(_))
    ));
    assert!(matches!(
        Key::rsa_pem(b"not a pem"),
        Err(ConfigError::InvalidKey(_))
    ));
}

// ---------------------------------------------------------------------------
// Keys and allowed algorithms
// ---------------------------------------------------------------------------

const JWKS: &[u8] = include_bytes!("fixtures/pyjwt/jwks.json");
const EC_P256_PEM: &[u8] = include_bytes!("fixtures/pyjwt/ec_p256_public.pem");
const PYJWT_AUDIENCE: &str = "api://tower-jwt-auth";

/// The committed PyJWT token named `name`.
fn pyjwt_token(name: &str) -> String {
    let tokens: Vec<Value> =
        serde_json::from_str(include_str!("fixtures/pyjwt/tokens.json")).unwrap();
    let token = tokens.iter().find(|t| t["name"] == name).unwrap();
    token["token"].as_str().unwrap().to_owned()
}

/// The PyJWT fixtures' JWK Set, with their audience, at [`NOW`].
fn jwks_builder() -> JwtAuthBuilder<Value> {
    JwtAuthLayer::builder()
        .key_set(KeySet::from_json(JWKS).unwrap())
        .audience(PYJWT_AUDIENCE)
        .clock(|| NOW)
}

#[tokio::test]
async fn a_static_key_set_keeps_the_keys_of_the_allowed_algorithms() {
    // As a remote set does: the RSA key stays, the EC and Ed25519 keys are
    // skipped and counted.
    let rsa_only = jwks_builder()
        .algorithms([Algorithm::RS256, Algorithm::PS256])
        .build()
        .unwrap();
    assert_eq!(rsa_only.skipped_keys(), 3);
    for name in ["RS256", "PS256"] {
        accepts(&rsa_only, &pyjwt_token(name)).await;
    }
    for name in ["RS384", "ES256", "EdDSA"] {
        refuses(
            &rsa_only,
            &pyjwt_token(name),
            AuthErrorKind::AlgorithmNotAllowed,
            ALG_NOT_ALLOWED,
        )
        .await;
    }
    let all = jwks_builder().build().unwrap();
    assert_eq!(all.skipped_keys(), 0);
    accepts(&all, &pyjwt_token("ES384")).await;

    // No key left is a configuration error, and so is an empty list.
    let error = jwks_builder()
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap_err();
    assert!(
        matches!(&error, ConfigError::NoKeyForAlgorithms { algorithms, skipped: 4 } if algorithms == &[Algorithm::HS256]),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "none of the 4 keys can verify any of the allowed algorithms [HS256]"
    );
    assert!(matches!(
        jwks_builder().algorithms([]).build().unwrap_err(),
        ConfigError::Empty {
            setting: "algorithms"
        }
    ));
}

#[test]
fn an_allowed_algorithm_that_no_key_verifies_is_named() {
    let p256 = || {
        JwtAuthLayer::<Value>::builder()
            .key(Key::ec_pem(EC_P256_PEM).unwrap())
            .algorithms([Algorithm::ES256, Algorithm::ES384])
    };
    let error = p256().build().unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::UnverifiableAlgorithm {
                algorithm: Algorithm::ES384
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("ES384 is allowed but no key can verify it")
    );
    // With a key for it, the same list builds.
    let both = p256()
        .key_set(KeySet::from_json(JWKS).unwrap())
        .audience(PYJWT_AUDIENCE)
        .build()
        .unwrap();
    assert_eq!(both.skipped_keys(), 2, "the RSA and Ed25519 keys");
    // An HMAC secret too short for an allowed algorithm: the message says so.
    let error = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac([1; 48]))
        .algorithms([Algorithm::HS256, Algorithm::HS512])
        .build()
        .unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::UnverifiableAlgorithm {
                algorithm: Algorithm::HS512
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("HS512 from 64"), "{error}");
}

#[tokio::test]
async fn hmac_secrets_allow_the_algorithms_their_length_covers() {
    // RFC 7518 §3.2: HS256 from 32 bytes, HS384 from 48, HS512 from 64.
    for (length, allowed) in [
        (32, &[Algorithm::HS256][..]),
        (47, &[Algorithm::HS256]),
        (48, &[Algorithm::HS256, Algorithm::HS384]),
        (63, &[Algorithm::HS256, Algorithm::HS384]),
        (64, &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]),
    ] {
        let secret = &SECRET[..length];
        assert_eq!(Key::hmac(secret).algorithms(), allowed, "{length} bytes");
        let layer = JwtAuthLayer::<Value>::builder()
            .key(Key::hmac(secret))
            .clock(|| NOW)
            .build()
            .unwrap();
        for algorithm in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let header = json!({ "alg": algorithm }).to_string();
            let token = sign_encoded(
                &b64(header),
                &b64(json!({ "exp": FAR }).to_string()),
                secret,
                algorithm,
            );
            if allowed.contains(&algorithm) {
                accepts(&layer, &token).await;
            } else {
                refuses(
                    &layer,
                    &token,
                    AuthErrorKind::AlgorithmNotAllowed,
                    ALG_NOT_ALLOWED,
                )
                .await;
            }
        }
    }
}

#[tokio::test]
async fn a_short_hmac_secret_is_refused_unless_declared_legacy() {
    let short = |key: Key| {
        JwtAuthLayer::<Value>::builder()
            .key(key)
            .clock(|| NOW)
            .build()
    };
    let refused = |result: Result<JwtAuthLayer<Value>, ConfigError>| match result {
        Err(ConfigError::ShortHmacSecret {
            algorithm,
            length,
            minimum,
        }) => (algorithm, length, minimum),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        refused(short(Key::hmac("short"))),
        (Algorithm::HS256, 5, 32)
    );
    assert_eq!(
        refused(short(Key::hmac(&SECRET[..31]))),
        (Algorithm::HS256, 31, 32)
    );
    // Pinned to an algorithm the length does not cover, whatever is allowed.
    assert_eq!(
        refused(short(
            Key::hmac(&SECRET[..32]).with_algorithm(Algorithm::HS512)
        )),
        (Algorithm::HS512, 32, 64)
    );
    let jwk = format!(
        r#"{{"kty":"oct","alg":"HS384","k":"{}"}}"#,
        b64(&SECRET[..40])
    );
    assert_eq!(
        refused(short(Key::from_jwk_json(jwk.as_bytes()).unwrap())),
        (Algorithm::HS384, 40, 48)
    );
    assert_eq!(
        refused(short(Key::hmac_base64(&STANDARD.encode("short")).unwrap())),
        (Algorithm::HS256, 5, 32)
    );
    let error = short(Key::hmac("short")).unwrap_err().to_string();
    assert!(error.contains("hmac_legacy_short_secret"), "{error}");

    // The declared opt-out: every HMAC algorithm, any length but 0.
    let legacy = short(Key::hmac_legacy_short_secret("short")).unwrap();
    for algorithm in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let header = json!({ "alg": algorithm }).to_string();
        let claims = b64(json!({ "exp": FAR, "sub": "old" }).to_string());
        accepts(
            &legacy,
            &sign_encoded(&b64(header), &claims, b"short", algorithm),
        )
        .await;
    }
    assert!(matches!(
        short(Key::hmac_legacy_short_secret("")),
        Err(ConfigError::InvalidKey(_))
    ));
}

#[test]
fn the_token_issuer_follows_the_same_length_rule() {
    let refused = |result: Result<TokenIssuer, ConfigError>| match result {
        Err(ConfigError::ShortHmacSecret {
            algorithm,
            length,
            minimum,
        }) => (algorithm, length, minimum),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        refused(TokenIssuer::hmac("short").build()),
        (Algorithm::HS256, 5, 32)
    );
    let hs512 = |secret: &[u8]| {
        TokenIssuer::builder(EncodingKey::from_secret(secret), Algorithm::HS512).build()
    };
    assert_eq!(refused(hs512(&SECRET[..63])), (Algorithm::HS512, 63, 64));
    assert!(hs512(SECRET).is_ok());
    assert!(TokenIssuer::hmac(&SECRET[..32]).build().is_ok());
    // The legacy issuer's tokens verify with the legacy key.
    let token = TokenIssuer::hmac_legacy_short_secret("short")
        .build()
        .unwrap()
        .issue(&json!({ "sub": "old" }))
        .unwrap();
    let verified = jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_secret(b"short"),
        &Validation::new(Algorithm::HS256),
    );
    assert_eq!(verified.unwrap().claims["sub"], "old");
}

#[test]
fn a_jwk_from_json_names_why_it_cannot_be_used() {
    let reason = |json: &str| match Key::from_jwk_json(json.as_bytes()) {
        Err(ConfigError::UnusableJwk { reason, .. }) => reason,
        other => panic!("{json}: {other:?}"),
    };
    let jwks: Value = serde_json::from_slice(JWKS).unwrap();
    let ec = jwks["keys"][1].clone();
    let with = |member: &str, value: Value| {
        let mut jwk = ec.clone();
        jwk[member] = value;
        jwk.to_string()
    };
    assert_eq!(reason(&with("use", json!("enc"))), "its `use` is not `sig`");
    for curve in ["P-521", "secp256k1"] {
        assert_eq!(
            reason(&with("crv", json!(curve))),
            "its curve is not P-256, P-384 or Ed25519"
        );
    }
    assert_eq!(
        reason(&with("alg", json!("ES384"))),
        "its `alg` does not fit its key type or curve"
    );
    assert_eq!(
        reason(&with("alg", json!("RSA-OAEP"))),
        "its `alg` is not a signature algorithm"
    );
    assert_eq!(
        reason(r#"{"kty":"EC","crv":"P-256","x":"AAAA"}"#),
        "a member its `kty` needs is missing or of the wrong type"
    );
    assert_eq!(
        reason(r#"{"kty":"XYZ","k":"AAAA"}"#),
        "its `kty` is not EC, RSA, oct or OKP"
    );
    assert_eq!(reason(r#"{"k":"AAAA"}"#), "it has no `kty`");
    assert_eq!(
        reason(r#"{"kty":"OKP","crv":"X25519","x":"AAAA"}"#),
        "its curve is not P-256, P-384 or Ed25519"
    );
    // The kid is kept, for the message.
    let error = Key::from_jwk_json(with("use", json!("enc")).as_bytes()).unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"the JWK with kid "ec256-1" cannot verify signatures: its `use` is not `sig`"#
    );
    for not_a_jwk in ["", "not json", "[]", r#"{"kid":1}"#] {
        assert!(
            matches!(
                Key::from_jwk_json(not_a_jwk.as_bytes()),
                Err(ConfigError::InvalidJwk(_))
            ),
            "{not_a_jwk}"
        );
    }
    // A usable one keeps its kid and algorithm, and verifies.
    let key = Key::from_jwk_json(ec.to_string().as_bytes()).unwrap();
    assert_eq!(
        (key.kid(), key.algorithms()),
        (Some("ec256-1"), &[Algorithm::ES256][..])
    );
}

// ---------------------------------------------------------------------------
// What jsonwebtoken alone does
//
// The same tokens through `jsonwebtoken::decode` with the equivalent
// `Validation`: it accepts every one of them. These are the gaps this crate's
// own claim checks close.
// ---------------------------------------------------------------------------

fn system_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jsonwebtoken_decode(
    token: &str,
    validation: &Validation,
) -> jsonwebtoken::errors::Result<Value> {
    install_provider();
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(SECRET), validation)
        .map(|d| d.claims)
}

fn strict_validation() -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_issuer(&[ISSUER]);
    validation
}

#[tokio::test]
async fn jsonwebtoken_accepts_a_token_at_its_exp_instant() {
    // jsonwebtoken refuses only when `exp < now - leeway`, so `exp == now` passes;
    // RFC 7519 §4.1.4 says the token must not be accepted "on or after" `exp`.
    loop {
        let now = system_now();
        let token = token(json!({ "exp": now, "iss": ISSUER }));
        let result = jsonwebtoken_decode(&token, &strict_validation());
        if system_now() != now {
            continue; // the second changed under us: try again
        }
        assert!(result.is_ok(), "{result:?}");
        let layer = builder()
            .clock(move || now)
            .leeway(Duration::ZERO)
            .issuer(ISSUER)
            .build()
            .unwrap();
        refuses(&layer, &token, AuthErrorKind::Expired, "token expired").await;
        break;
    }
}

#[tokio::test]
async fn jsonwebtoken_accepts_a_missing_or_mistyped_issuer() {
    let layer = builder().issuer(ISSUER).build().unwrap();
    // jsonwebtoken checks `iss` only when present and parsable: a missing, a
    // numeric and an array `iss` all pass `set_issuer`.
    let cases = [
        (
            json!({}),
            AuthErrorKind::MissingClaim,
            "missing claim `iss`",
        ),
        (
            json!({ "iss": 42 }),
            AuthErrorKind::InvalidClaimType,
            "claim `iss` is not a string",
        ),
        (
            json!({ "iss": [ISSUER] }),
            AuthErrorKind::InvalidClaimType,
            "claim `iss` is not a string",
        ),
    ];
    for (extra, kind, description) in cases {
        let token = token_plus(extra);
        let result = jsonwebtoken_decode(&token, &strict_validation());
        assert!(result.is_ok(), "{result:?}");
        refuses(&layer, &token, kind, description).await;
    }
}

#[tokio::test]
async fn jsonwebtoken_ignores_crit() {
    install_provider();
    let mut header = Header::new(Algorithm::HS256);
    header.crit = Some(vec!["exp".to_owned()]);
    let claims = json!({ "exp": FAR, "iss": ISSUER });
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(SECRET)).unwrap();
    // jsonwebtoken parses `crit` but does not act on it (RFC 7515 §4.1.11 says
    // a recipient that does not understand a listed extension must reject).
    assert_eq!(
        jsonwebtoken_decode(&token, &strict_validation()).unwrap(),
        claims
    );
    refuses(
        &layer(),
        &token,
        AuthErrorKind::UnsupportedCritical,
        "unsupported critical header parameter",
    )
    .await;
}
