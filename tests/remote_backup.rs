//! A remote JWK Set's backup file and its maximum staleness, against a real
//! JWKS endpoint on 127.0.0.1 that the test takes down and brings back, and
//! through a real axum server with the layer: a set writes the file, a set
//! built while the provider is down starts from it (and only from a usable
//! one), and keys older than the maximum staleness are dropped until the
//! provider answers again. Public API only.

#![cfg(feature = "remote-jwks")]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Extension, Router};
use http::StatusCode;
use serde_json::{Value, json};
use tower_jwt_auth::{Claims, JwtAuthLayer, RemoteKeyErrorKind, RemoteKeySet, RemoteKeySetBuilder};

use common::jwks_server::JwksServer;
use common::logs::Logs;
use common::{Server, pyjwt_token, send_bearer, serve_axum};

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api://tower-jwt-auth";
/// Polling loops give up after this.
const BOUND: Duration = Duration::from_secs(10);

/// A directory of its own for each test, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tower-jwt-auth-backup-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).expect("create the test directory");
        Self(path)
    }

    fn file(&self) -> PathBuf {
        self.0.join("jwks-backup.json")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The PyJWT fixtures' JWK Set with only the keys named.
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

/// Short timeouts, so that a fetch from a provider that is down fails fast.
fn builder(jwks: &JwksServer, backup: &Path) -> RemoteKeySetBuilder {
    RemoteKeySet::builder(jwks.url())
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(2))
        .backup_file(backup)
}

/// An app whose `/me` needs a token verified with `keys`.
async fn app(keys: RemoteKeySet) -> Server {
    serve(
        JwtAuthLayer::builder()
            .jwks(keys)
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .build()
            .unwrap(),
    )
    .await
}

/// An app whose `/me` needs a token accepted by `layer`.
async fn serve(layer: JwtAuthLayer<Value>) -> Server {
    let app = Router::new()
        .route(
            "/me",
            get(|Extension(Claims(c)): Extension<Claims<Value>>| async move {
                c["sub"].to_string()
            }),
        )
        .layer(layer);
    serve_axum(app).await
}

/// The status of `GET /me` with the PyJWT fixture token `name`.
async fn status(server: &Server, name: &str) -> StatusCode {
    send_bearer("GET", &server.url("/me"), &pyjwt_token(name))
        .await
        .status
}

/// Waits, at most `BOUND`, until `done` holds.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + BOUND;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

fn read_record(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("the backup exists")).expect("JSON")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A backup of `document` for `jwks`, written by a set that fetched it.
async fn written_backup(dir: &TempDir, document: &str) -> (JwksServer, Value) {
    let jwks = JwksServer::start().await;
    jwks.set_document(document.to_owned());
    builder(&jwks, &dir.file()).build().await.unwrap();
    let record = read_record(&dir.file());
    (jwks, record)
}

#[tokio::test]
async fn a_good_fetch_writes_the_backup_and_a_start_while_down_uses_it() {
    let (log, _guard) = Logs::capture(tracing::Level::WARN);
    let dir = TempDir::new();
    let jwks = JwksServer::start().await;
    jwks.set_document(fixture_jwks(&["ed-1", "rsa-1"]));
    let before = unix_now();
    let first = builder(&jwks, &dir.file()).build().await.unwrap();

    let record = read_record(&dir.file());
    assert_eq!(record["format"], 1);
    assert_eq!(record["origin"]["jwks_uri"], jwks.url());
    let fetched_at = record["fetched_at"].as_u64().unwrap();
    assert!(fetched_at >= before && fetched_at <= unix_now(), "{record}");
    assert_eq!(
        record["document"],
        serde_json::from_str::<Value>(&fixture_jwks(&["ed-1", "rsa-1"])).unwrap()
    );
    drop(first);
    assert_eq!(log.take(), "", "nothing to warn about");

    // The provider goes down; a new server starts from the backup.
    jwks.stop();
    let second = builder(&jwks, &dir.file()).build().await.unwrap();
    assert_eq!(second.generation(), Some(1));
    let warnings = log.take();
    assert!(
        warnings.contains("the identity provider is down: using the JWK Set backup fetched"),
        "{warnings}"
    );
    assert!(warnings.contains("age_secs="), "{warnings}");
    assert!(warnings.contains("cannot connect"), "{warnings}");
    let server = app(second.clone()).await;
    assert_eq!(status(&server, "EdDSA").await, StatusCode::OK);
    assert_eq!(status(&server, "RS256").await, StatusCode::OK);
    assert_eq!(status(&server, "ES256").await, StatusCode::UNAUTHORIZED);

    // The provider is retried in the background, with backoff, as after any
    // failure; its answer replaces the backup's keys.
    jwks.set_document(fixture_jwks(&["ec256-1"]));
    jwks.up().await;
    assert!(eventually(|| second.generation() == Some(2)).await);
    assert_eq!(status(&server, "ES256").await, StatusCode::OK);
    assert_eq!(status(&server, "EdDSA").await, StatusCode::UNAUTHORIZED);
    assert!(
        eventually(|| read_record(&dir.file())["document"]["keys"][0]["kid"] == "ec256-1").await
    );
}

#[tokio::test]
async fn a_provider_answering_503_at_start_falls_back_on_the_backup() {
    let dir = TempDir::new();
    let (jwks, _) = written_backup(&dir, &fixture_jwks(&["ed-1"])).await;
    jwks.set_status(StatusCode::SERVICE_UNAVAILABLE);
    let set = builder(&jwks, &dir.file()).build().await.unwrap();
    let server = app(set).await;
    assert_eq!(status(&server, "EdDSA").await, StatusCode::OK);

    // A lazy start too: its first fetch, in the background, fails the same way.
    let lazy = builder(&jwks, &dir.file())
        .fail_fast(false)
        .build()
        .await
        .unwrap();
    assert!(eventually(|| lazy.keys().is_some()).await);
    let server = app(lazy).await;
    assert_eq!(status(&server, "EdDSA").await, StatusCode::OK);
}

#[tokio::test]
async fn a_good_first_fetch_wins_over_the_backup() {
    let dir = TempDir::new();
    let (jwks, _) = written_backup(&dir, &fixture_jwks(&["ed-1"])).await;
    jwks.set_document(fixture_jwks(&["rsa-1"]));
    let set = builder(&jwks, &dir.file()).build().await.unwrap();
    let server = app(set).await;
    assert_eq!(status(&server, "RS256").await, StatusCode::OK);
    assert_eq!(status(&server, "EdDSA").await, StatusCode::UNAUTHORIZED);
    // And the backup now holds the new document.
    assert_eq!(
        read_record(&dir.file())["document"]["keys"][0]["kid"],
        "rsa-1"
    );
}

/// Builds a set for `jwks` (down) with the backup `record` (bytes) in the
/// file; the error of the build, which the backup did not prevent. Then the
/// same lazily: the set has no keys, and the layer answers 503.
async fn refused(
    jwks: &JwksServer,
    record: &[u8],
    configure: fn(RemoteKeySetBuilder) -> RemoteKeySetBuilder,
) -> String {
    let (log, _guard) = Logs::capture(tracing::Level::WARN);
    let dir = TempDir::new();
    std::fs::write(dir.file(), record).unwrap();
    let error = configure(builder(jwks, &dir.file()))
        .build()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::Network, "{error}");

    let lazy = configure(builder(jwks, &dir.file()))
        .fail_fast(false)
        .build()
        .await
        .unwrap();
    let _ = lazy.refresh().await.unwrap_err();
    assert!(lazy.keys().is_none());
    let server = app(lazy).await;
    assert_eq!(
        status(&server, "EdDSA").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // The file is left as it was: a set never destroys what it cannot use.
    assert_eq!(std::fs::read(dir.file()).unwrap(), record);
    log.take()
}

fn same(builder: RemoteKeySetBuilder) -> RemoteKeySetBuilder {
    builder
}

#[tokio::test]
async fn a_backup_older_than_max_staleness_is_refused() {
    let dir = TempDir::new();
    let (jwks, mut record) = written_backup(&dir, &fixture_jwks(&["ed-1"])).await;
    jwks.stop();
    record["fetched_at"] = json!(unix_now() - 2 * 60 * 60);
    let old = record.to_string();
    let why = refused(&jwks, old.as_bytes(), |b| {
        b.max_staleness(Duration::from_secs(60 * 60))
    })
    .await;
    assert!(why.contains("older than max_staleness"), "{why}");
    // Within the default (24 h), the same backup is used.
    std::fs::write(dir.file(), &old).unwrap();
    let set = builder(&jwks, &dir.file()).build().await.unwrap();
    assert!(set.keys().is_some());
}

#[tokio::test]
async fn a_backup_written_for_another_url_is_refused() {
    let dir = TempDir::new();
    let (_other, record) = written_backup(&dir, &fixture_jwks(&["ed-1"])).await;
    let jwks = JwksServer::down().await;
    let why = refused(&jwks, record.to_string().as_bytes(), same).await;
    assert!(why.contains("it was written for"), "{why}");
}

#[tokio::test]
async fn broken_or_hostile_backups_are_refused() {
    let dir = TempDir::new();
    let (jwks, record) = written_backup(&dir, &fixture_jwks(&["ed-1"])).await;
    jwks.stop();

    let mut future = record.clone();
    future["fetched_at"] = json!(unix_now() + 60 * 60);
    let mut no_keys = record.clone();
    no_keys["document"] = json!({ "keys": [] });
    let mut not_a_set = record.clone();
    not_a_set["document"] = json!("keys");
    let mut other_format = record.clone();
    other_format["format"] = json!(2);
    let mut negative = record.clone();
    negative["fetched_at"] = json!(-1);
    let mut huge_time = record.clone();
    huge_time["fetched_at"] = json!(u64::MAX);
    // Each case, and the reason the warning gives.
    let cases: [(&str, Vec<u8>); 9] = [
        ("not a backup record", b"\x00\xffnot json at all".to_vec()),
        ("not a backup record", Vec::new()),
        (
            "not a backup record",
            record.to_string().as_bytes()[..40].to_vec(),
        ),
        ("in the future", future.to_string().into_bytes()),
        ("can verify signatures", no_keys.to_string().into_bytes()),
        ("not a JWK Set", not_a_set.to_string().into_bytes()),
        ("format 2 is not 1", other_format.to_string().into_bytes()),
        ("not a backup record", negative.to_string().into_bytes()),
        ("out of range", huge_time.to_string().into_bytes()),
    ];
    for (reason, bytes) in cases {
        let why = refused(&jwks, &bytes, same).await;
        assert!(why.contains("JWK Set backup: not used"), "{why}");
        assert!(why.contains(reason), "{reason}: {why}");
    }

    // Larger than the document limit plus 16 KiB: not even parsed.
    let mut huge = record.clone();
    huge["padding"] = json!("x".repeat(20 * 1024));
    let why = refused(&jwks, huge.to_string().as_bytes(), |b| {
        b.max_document_size(1024)
    })
    .await;
    assert!(why.contains("larger than the limit"), "{why}");
}

#[tokio::test]
async fn a_backup_that_cannot_be_written_changes_nothing_else() {
    let (log, _guard) = Logs::capture(tracing::Level::WARN);
    let dir = TempDir::new();
    let jwks = JwksServer::start().await;
    jwks.set_document(fixture_jwks(&["ed-1"]));
    let missing = dir.0.join("no-such-directory").join("backup.json");
    let set = builder(&jwks, &missing).build().await.unwrap();
    let warnings = log.take();
    assert_eq!(warnings.matches("WARN").count(), 1, "{warnings}");
    assert!(warnings.contains("cannot write it"), "{warnings}");
    let server = app(set).await;
    assert_eq!(status(&server, "EdDSA").await, StatusCode::OK);
}

#[tokio::test]
async fn stale_keys_are_dropped_then_come_back_with_the_provider() {
    let (log, _guard) = Logs::capture(tracing::Level::WARN);
    let jwks = JwksServer::start().await;
    jwks.set_document(fixture_jwks(&["ed-1"]));
    // Refreshed every second or so while the provider is up; retried at most
    // a second apart while it is down.
    let set = RemoteKeySet::builder(jwks.url())
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(1))
        .cache_bounds(Duration::from_secs(1), Duration::from_secs(1))
        .max_staleness(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    // With a token cache, a token verified once is a hit afterwards: it must
    // be refused too once the keys are dropped.
    let layer = JwtAuthLayer::builder()
        .jwks(set.clone())
        .issuer(ISSUER)
        .audience(AUDIENCE);
    #[cfg(feature = "token-cache")]
    let layer = layer.token_cache(100);
    let server = serve(layer.build().unwrap()).await;
    assert_eq!(status(&server, "EdDSA").await, StatusCode::OK);
    assert_eq!(status(&server, "EdDSA").await, StatusCode::OK);

    jwks.stop();
    assert!(eventually(|| set.keys().is_none()).await, "dropped");
    assert_eq!(
        status(&server, "EdDSA").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let warnings = log.take();
    assert_eq!(
        warnings.matches("JWK Set keys dropped").count(),
        1,
        "{warnings}"
    );
    assert!(warnings.contains("max_staleness_secs=2"), "{warnings}");

    jwks.up().await;
    assert!(eventually(|| set.keys().is_some()).await, "back");
    assert_eq!(status(&server, "EdDSA").await, StatusCode::OK);
    assert_eq!(set.generation(), Some(2), "a new generation after the gap");
    assert_eq!(log.take().matches("JWK Set keys dropped").count(), 0);
}

#[tokio::test]
async fn max_staleness_below_the_cache_minimum_is_refused_at_build() {
    let jwks = JwksServer::start().await;
    let error = RemoteKeySet::builder(jwks.url())
        .max_staleness(Duration::from_secs(30))
        .build()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), RemoteKeyErrorKind::InvalidConfig, "{error}");
    assert!(error.to_string().contains("max_staleness"), "{error}");
    // `Duration::MAX` keeps the keys for ever.
    RemoteKeySet::builder(jwks.url())
        .max_staleness(Duration::MAX)
        .build()
        .await
        .unwrap();
}
