//! The metrics (feature `metrics`) as an operator sees them: a real axum
//! server on 127.0.0.1 with the layers and a `/metrics` route that renders
//! the Prometheus recorder installed once for this binary; a known sequence
//! of requests over real HTTP; then `/metrics`, scraped over HTTP, parsed,
//! and every count checked exactly. Hostile values (a random `iss`, `kid`,
//! `sub`) must never become label values.
//!
//! The recorder is global to the process, so everything counted is in one
//! test, in order: a second test running beside it would add to its counts.
#![cfg(all(
    feature = "metrics",
    feature = "revocation",
    feature = "token-cache",
    feature = "remote-jwks"
))]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::{Value, json};
use tower_jwt_auth::jsonwebtoken::{self, EncodingKey, Header};
use tower_jwt_auth::{
    JwtAuthLayer, Key, MemoryRevocations, RemoteKeySet, Revocation, RevocationFuture,
    RevocationStore, TokenInfo, TokenIssuer, TrustedIssuer,
};

use common::jwks_server::JwksServer;
use common::{Reply, pyjwt_token, send, send_bearer, serve_axum};

const ISSUER_A: &str = "https://a.example";
const ISSUER_B: &str = "https://b.example";
const SECRET_A: &[u8] = b"the secret of issuer A, 32 bytes or more";
const SECRET_B: &[u8] = b"the secret of issuer B, 32 bytes or more";
const KID_A: &str = "a-1";
const KID_B: &str = "b-1";
/// The fixtures' issuer and audience (tests/fixtures/pyjwt).
const FIXTURE_ISSUER: &str = "https://issuer.example";
const FIXTURE_AUDIENCE: &str = "api://tower-jwt-auth";

/// The recorder of this binary, installed once.
fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("the only recorder of this binary")
        })
        .clone()
}

/// A value no one could guess, for hostile claims and headers.
fn random(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}-{nanos:x}-{:x}", std::process::id())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn issuer(iss: &str, secret: &[u8], kid: &str) -> TokenIssuer {
    TokenIssuer::hmac(secret)
        .issuer(iss)
        .kid(kid)
        .build()
        .unwrap()
}

/// HS256 with `secret` over `claims` and a header with `kid`: tokens no
/// `TokenIssuer` would make (expired, forged).
fn signed(secret: &[u8], kid: &str, claims: &Value) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// The fixtures' JWK Set with only the keys named.
fn fixture_jwks(kids: &[&str]) -> String {
    let all: Value = serde_json::from_str(include_str!("fixtures/pyjwt/jwks.json")).unwrap();
    let keys: Vec<Value> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| kids.iter().any(|kid| k["kid"] == *kid))
        .cloned()
        .collect();
    json!({ "keys": keys }).to_string()
}

/// The fixture RS256 token with its header's `kid` replaced: no key
/// verifies it, but it asks for that key.
fn token_naming(kid: &str) -> String {
    let header = json!({ "alg": "RS256", "kid": kid, "typ": "JWT" });
    let real = pyjwt_token("RS256");
    let (_, rest) = real.split_once('.').unwrap();
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

/// A revocation store that fails while it is down, and revokes nothing.
#[derive(Default)]
struct Switch {
    down: AtomicBool,
}

impl RevocationStore for Switch {
    fn is_revoked<'a>(&'a self, _: &'a TokenInfo) -> RevocationFuture<'a, bool> {
        let down = self.down.load(Ordering::SeqCst);
        Box::pin(async move {
            if down {
                Err("connection refused".into())
            } else {
                Ok(false)
            }
        })
    }

    fn revoke<'a>(&'a self, _: &'a TokenInfo) -> RevocationFuture<'a, ()> {
        Box::pin(async { Err("read-only".into()) })
    }

    fn revoke_subject<'a>(
        &'a self,
        _: Option<&'a str>,
        _: &'a str,
        _: u64,
        _: u64,
    ) -> RevocationFuture<'a, ()> {
        Box::pin(async { Err("read-only".into()) })
    }
}

/// One sample of the text format: the metric's name and its labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    name: String,
    labels: BTreeMap<String, String>,
}

/// The samples of a Prometheus text exposition, by series; comments left
/// out. Label values are unescaped (`\\`, `\"`, `\n`).
fn parse(text: &str) -> BTreeMap<Series, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let value: f64 = value.parse().expect("a number");
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').unwrap())),
        };
        let series = Series {
            name: name.to_owned(),
            labels,
        };
        assert!(
            samples.insert(series, value).is_none(),
            "a series twice: {line}"
        );
    }
    samples
}

/// `a="x",b="y"` into a map.
fn parse_labels(mut text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !text.is_empty() {
        let (key, rest) = text.split_once("=\"").expect("label=\"value\"");
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().expect("a closing quote") {
                (_, '\\') => match chars.next().expect("an escape").1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (at, '"') => break at,
                (_, other) => value.push(other),
            }
        };
        labels.insert(key.to_owned(), value);
        text = rest[end + 1..].trim_start_matches(',');
    }
    labels
}

/// What `/metrics` says now.
struct Scrape {
    text: String,
    samples: BTreeMap<Series, f64>,
}

impl Scrape {
    async fn of(url: &str) -> Self {
        let reply: Reply = send(
            http::Request::get(url)
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let text = reply.text();
        let samples = parse(&text);
        Self { text, samples }
    }

    /// The value of the series `name` with exactly `labels`; 0 when absent.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let series = Series {
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        self.samples.get(&series).copied().unwrap_or(0.0)
    }

    /// The label sets of every series named `name`.
    fn label_sets(&self, name: &str) -> BTreeSet<BTreeMap<String, String>> {
        self.samples
            .keys()
            .filter(|s| s.name == name)
            .map(|s| s.labels.clone())
            .collect()
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const DECISIONS: &str = "tower_jwt_auth_decisions_total";

#[tokio::test]
async fn every_decision_and_dependency_is_counted_exactly() {
    let prometheus = prometheus();

    // The key set's endpoint: the EC key at first; the RSA key joins later.
    let jwks = JwksServer::start().await;
    jwks.set_document(fixture_jwks(&["ec256-1"]));
    let remote = RemoteKeySet::builder(jwks.url())
        .unknown_kid_interval(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();

    let store = MemoryRevocations::new();
    let api = JwtAuthLayer::<Value>::builder()
        .trusted_issuer(TrustedIssuer::new(ISSUER_A).key(Key::hmac(SECRET_A).with_kid(KID_A)))
        .trusted_issuer(TrustedIssuer::new(ISSUER_B).key(Key::hmac(SECRET_B).with_kid(KID_B)))
        .token_cache(100)
        .revocation(Revocation::new(store.clone()))
        .build()
        .unwrap();
    let optional = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET_A).with_kid(KID_A))
        .optional(true)
        .build()
        .unwrap();
    let switch = Arc::new(Switch::default());
    let flaky = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET_A).with_kid(KID_A))
        .revocation(Revocation::from_arc(switch.clone()))
        .build()
        .unwrap();
    let remote_layer = JwtAuthLayer::<Value>::builder()
        .jwks(remote)
        .issuer(FIXTURE_ISSUER)
        .audience(FIXTURE_AUDIENCE)
        .build()
        .unwrap();
    let render = prometheus.clone();
    let app = Router::new()
        .merge(
            Router::new()
                .route("/api", get(|| async { "ok" }))
                .layer(api),
        )
        .merge(
            Router::new()
                .route("/optional", get(|| async { "ok" }))
                .layer(optional),
        )
        .merge(
            Router::new()
                .route("/remote", get(|| async { "ok" }))
                .layer(remote_layer),
        )
        .merge(
            Router::new()
                .route("/flaky", get(|| async { "ok" }))
                .layer(flaky),
        )
        .route("/metrics", get(move || async move { render.render() }));
    let server = serve_axum(app).await;
    let api = server.url("/api");

    let hostile_sub = random("sub");
    let hostile_iss = random("https://evil");
    let hostile_kid = random("kid");
    let a = issuer(ISSUER_A, SECRET_A, KID_A);
    let b = issuer(ISSUER_B, SECRET_B, KID_B);
    let token_a = a.issue(&json!({ "sub": hostile_sub })).unwrap();
    let token_b = b.issue(&json!({ "sub": "bob" })).unwrap();
    let expired = signed(
        SECRET_A,
        KID_A,
        &json!({ "iss": ISSUER_A, "sub": hostile_sub, "exp": now() - 3600 }),
    );
    let forged = signed(
        b"not the secret of A, but as long as it",
        KID_A,
        &json!({ "iss": ISSUER_A, "sub": hostile_sub, "exp": now() + 600 }),
    );
    // A stranger signs with A's secret, yet names an issuer no one trusts.
    let wrong_issuer = signed(
        SECRET_A,
        KID_A,
        &json!({ "iss": hostile_iss, "sub": hostile_sub, "exp": now() + 600 }),
    );
    let unknown_kid = signed(
        SECRET_A,
        &hostile_kid,
        &json!({ "iss": ISSUER_A, "sub": hostile_sub, "exp": now() + 600 }),
    );
    let to_revoke = a.issue(&json!({ "sub": "mallory" })).unwrap();
    store
        .revoke_subject(Some(ISSUER_A), "mallory", now() + 1, now() + 600)
        .await
        .unwrap();

    // The sequence, and what each answer must be.
    let expect = |reply: Reply, status: StatusCode| {
        assert_eq!(reply.status, status, "{}", reply.text());
    };
    expect(send_bearer("GET", &api, &token_a).await, StatusCode::OK); // cache miss
    expect(send_bearer("GET", &api, &token_a).await, StatusCode::OK); // cache hit
    expect(send_bearer("GET", &api, &token_b).await, StatusCode::OK);
    let no_token = http::Request::get(&api)
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    expect(send(no_token).await, StatusCode::UNAUTHORIZED);
    for token in [&expired, &forged, &wrong_issuer, &unknown_kid, &to_revoke] {
        expect(
            send_bearer("GET", &api, token).await,
            StatusCode::UNAUTHORIZED,
        );
    }
    let anonymous = http::Request::get(server.url("/optional"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    expect(send(anonymous).await, StatusCode::OK);

    // The remote key set: its first fetch, then a token whose key arrives
    // with a refetch, then two made-up key ids: one refetch, then none (the
    // budget of 2 is spent).
    let remote_url = server.url("/remote");
    expect(
        send_bearer("GET", &remote_url, &pyjwt_token("ES256")).await,
        StatusCode::OK,
    );
    jwks.set_document(fixture_jwks(&["ec256-1", "rsa-1"]));
    expect(
        send_bearer("GET", &remote_url, &pyjwt_token("RS256")).await,
        StatusCode::OK,
    );
    for _ in 0..2 {
        expect(
            send_bearer("GET", &remote_url, &token_naming(&hostile_kid)).await,
            StatusCode::UNAUTHORIZED,
        );
    }
    assert_eq!(jwks.fetches(), 3, "the endpoint's own count");

    let scrape = Scrape::of(&server.url("/metrics")).await;
    let text = &scrape.text;
    for hostile in [&hostile_sub, &hostile_iss, &hostile_kid] {
        assert!(!text.contains(hostile.as_str()), "{hostile} in\n{text}");
    }
    assert!(!text.contains("mallory") && !text.contains("bob"), "{text}");
    assert!(
        text.contains("# HELP tower_jwt_auth_decisions_total "),
        "described: {text}"
    );

    // Decisions: every series, exactly.
    let refused = |kind: &'static str| labels(&[("outcome", "refused"), ("kind", kind)]);
    let expected: BTreeSet<_> = [
        labels(&[("outcome", "accepted"), ("issuer", ISSUER_A)]),
        labels(&[("outcome", "accepted"), ("issuer", ISSUER_B)]),
        labels(&[("outcome", "accepted")]),
        labels(&[("outcome", "anonymous")]),
        refused("missing_token"),
        refused("expired"),
        refused("invalid_signature"),
        refused("invalid_issuer"),
        refused("unknown_key"),
        refused("revoked"),
    ]
    .into_iter()
    .collect();
    assert_eq!(scrape.label_sets(DECISIONS), expected, "{text}");
    let decisions = |pairs: &[(&str, &str)]| scrape.value(DECISIONS, pairs);
    assert_eq!(
        decisions(&[("outcome", "accepted"), ("issuer", ISSUER_A)]),
        2.0
    );
    assert_eq!(
        decisions(&[("outcome", "accepted"), ("issuer", ISSUER_B)]),
        1.0
    );
    // The remote layer has one issuer: no `issuer` label.
    assert_eq!(decisions(&[("outcome", "accepted")]), 2.0);
    assert_eq!(decisions(&[("outcome", "anonymous")]), 1.0);
    for (kind, count) in [
        ("missing_token", 1.0),
        ("expired", 1.0),
        ("invalid_signature", 1.0),
        ("invalid_issuer", 1.0),
        // One at /api, two at /remote.
        ("unknown_key", 3.0),
        ("revoked", 1.0),
    ] {
        let pairs = [("outcome", "refused"), ("kind", kind)];
        assert_eq!(decisions(&pairs), count, "{kind}: {text}");
    }

    // Verification time: every request that carried a token, 5 accepted
    // (3 at /api, 2 at /remote) and 7 refused (5 at /api, 2 at /remote).
    let timed = "tower_jwt_auth_verification_duration_seconds_count";
    assert_eq!(
        scrape.value(timed, &[("outcome", "accepted")]),
        5.0,
        "{text}"
    );
    assert_eq!(
        scrape.value(timed, &[("outcome", "refused")]),
        7.0,
        "{text}"
    );

    // The token cache of /api: a hit for the second request, a miss for
    // every other token it saw (7).
    let cache = "tower_jwt_auth_token_cache_lookups_total";
    assert_eq!(scrape.value(cache, &[("result", "hit")]), 1.0, "{text}");
    assert_eq!(scrape.value(cache, &[("result", "miss")]), 7.0, "{text}");
    assert_eq!(scrape.value(cache, &[("result", "expired")]), 0.0, "{text}");

    // Revocation: the three accepted tokens and the revoked one.
    let checks = "tower_jwt_auth_revocation_checks_total";
    assert_eq!(scrape.value(checks, &[("result", "not_revoked")]), 3.0);
    assert_eq!(scrape.value(checks, &[("result", "revoked")]), 1.0);
    assert_eq!(scrape.value(checks, &[("result", "failed")]), 0.0);
    let check_time = "tower_jwt_auth_revocation_check_duration_seconds_count";
    assert_eq!(scrape.value(check_time, &[]), 4.0, "{text}");
    // The in-memory store never failed: no outage, ever.
    assert_eq!(
        scrape.value("tower_jwt_auth_outage", &[("check", "revocation")]),
        0.0
    );

    // The remote key set, labelled with its configured URL.
    let url = jwks.url();
    let by_url = [("url", url.as_str())];
    assert_eq!(
        scrape.value("tower_jwt_auth_jwks_fetches_total", &by_url),
        3.0,
        "{text}"
    );
    assert_eq!(
        scrape.value("tower_jwt_auth_jwks_fetch_failures_total", &by_url),
        0.0
    );
    let refetches = "tower_jwt_auth_jwks_unknown_kid_refetches_total";
    let refetch = |result| scrape.value(refetches, &[("url", url.as_str()), ("result", result)]);
    assert_eq!(refetch("started"), 2.0, "{text}");
    assert_eq!(refetch("joined"), 0.0, "{text}");
    assert_eq!(refetch("limited"), 1.0, "{text}");
    let age = scrape.value("tower_jwt_auth_jwks_age_seconds", &by_url);
    assert!(
        text.contains("tower_jwt_auth_jwks_age_seconds{") && (0.0..600.0).contains(&age),
        "{age}: {text}"
    );

    // A revocation store's outage: the gauge up while it lasts, down after.
    let flaky_url = server.url("/flaky");
    let metrics_url = server.url("/metrics");
    switch.down.store(true, Ordering::SeqCst);
    expect(
        send_bearer("GET", &flaky_url, &token_a).await,
        StatusCode::SERVICE_UNAVAILABLE,
    );
    let during = Scrape::of(&metrics_url).await;
    let outage = [("check", "revocation")];
    assert_eq!(
        during.value("tower_jwt_auth_outage", &outage),
        1.0,
        "{}",
        during.text
    );
    assert_eq!(during.value(checks, &[("result", "failed")]), 1.0);
    let unavailable = [("outcome", "refused"), ("kind", "revocation_unavailable")];
    assert_eq!(during.value(DECISIONS, &unavailable), 1.0);
    switch.down.store(false, Ordering::SeqCst);
    expect(
        send_bearer("GET", &flaky_url, &token_a).await,
        StatusCode::OK,
    );
    let after = Scrape::of(&metrics_url).await;
    assert_eq!(
        after.value("tower_jwt_auth_outage", &outage),
        0.0,
        "{}",
        after.text
    );
    assert_eq!(after.value(checks, &[("result", "not_revoked")]), 4.0);
    assert_eq!(after.value(check_time, &[]), 6.0);
    // A layer with keys, not trusted issuers: no `issuer` label.
    assert_eq!(after.value(DECISIONS, &[("outcome", "accepted")]), 3.0);
}
