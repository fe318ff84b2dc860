//! `KeyFiles` through a real axum server: a key set in a temporary directory
//! laid out like a Kubernetes Secret volume (`jwks.json -> ..data/jwks.json`,
//! `..data -> ..2026_12_06_…`), changed in every way a volume changes while
//! four clients send tokens of old and new keys; and the build's errors.
#![cfg(all(feature = "key-files", unix))]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tower_jwt_auth::jsonwebtoken::Algorithm;
use tower_jwt_auth::{
    ConfigError, JwtAuthLayer, Key, KeyFiles, KeyFilesErrorKind, TokenIssuer, TrustedIssuer,
};

use common::{Server, pyjwt_token, send_bearer, send_with, serve_axum};

/// The poll interval of the server tests: short, so that the test is.
const POLL: Duration = Duration::from_millis(50);
/// How long a test waits for the layer to take a new version.
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// The warnings of the whole binary, captured once.

/// Every event at `warn` of the test binary, as text (the poller logs on
/// the runtime's worker threads, so a thread-local capture would miss them).
fn warnings() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&logs);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Writer(Arc::clone(&writer)))
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        tracing::callsite::rebuild_interest_cache();
        logs
    })
}

struct Writer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The `tower_jwt_auth` warnings about files under `dir` so far.
fn warnings_about(dir: &Path) -> Vec<String> {
    let text = String::from_utf8_lossy(&lock(warnings())).into_owned();
    let dir = dir.display().to_string();
    text.lines()
        .filter(|line| line.contains("WARN") && line.contains("tower_jwt_auth"))
        .filter(|line| line.contains(&dir))
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------
// A directory laid out like a Kubernetes Secret volume.

/// A Secret volume as the kubelet writes it: each version a timestamped
/// directory, `..data` a symlink to the current one, each visible file a
/// symlink through `..data`; an update renames a new `..data` over the old
/// one, then deletes the old directory.
struct Volume {
    root: PathBuf,
    versions: usize,
}

impl Volume {
    fn new(name: &str) -> Self {
        let root = std::env::temp_dir().join(format!(
            "tower-jwt-auth-key-files-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Self { root, versions: 0 }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The kubelet's atomic update to a version holding `files`.
    fn publish(&mut self, files: &[(&str, &[u8])]) {
        self.versions += 1;
        let version = format!("..2026_12_06_02_00_00.{:06}", self.versions);
        let dir = self.root.join(&version);
        std::fs::create_dir(&dir).unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let old = std::fs::read_link(self.root.join("..data")).ok();
        let staged = self.root.join("..data_tmp");
        std::os::unix::fs::symlink(&version, &staged).unwrap();
        std::fs::rename(&staged, self.root.join("..data")).unwrap();
        for (name, _) in files {
            let visible = self.root.join(name);
            if std::fs::symlink_metadata(&visible).is_err() {
                std::os::unix::fs::symlink(Path::new("..data").join(name), &visible).unwrap();
            }
        }
        if let Some(old) = old {
            std::fs::remove_dir_all(self.root.join(old)).unwrap();
        }
    }

    /// Rewrites `name` in place, through its symlinks, in two writes.
    fn rewrite_in_place(&self, name: &str, bytes: &[u8]) {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(self.path(name))
            .unwrap();
        let (first, second) = bytes.split_at(bytes.len() / 2);
        file.write_all(first).unwrap();
        file.flush().unwrap();
        file.write_all(second).unwrap();
    }

    /// Writes `name` anew beside the current one and renames it over it.
    fn rename_over(&self, name: &str, bytes: &[u8]) {
        let current = self.root.join("..data");
        let staged = current.join(format!(".{name}.tmp"));
        std::fs::write(&staged, bytes).unwrap();
        std::fs::rename(&staged, current.join(name)).unwrap();
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

// ---------------------------------------------------------------------------
// Keys and tokens.

fn secret(kid: &str) -> Vec<u8> {
    format!("the HMAC secret of key {kid}, 32 bytes at least").into_bytes()
}

fn token(kid: &str) -> String {
    TokenIssuer::hmac(secret(kid))
        .kid(kid)
        .build()
        .unwrap()
        .issue(&json!({ "sub": "user-42" }))
        .unwrap()
}

/// A JWK Set of the `oct` keys named.
fn jwks(kids: &[&str]) -> Vec<u8> {
    let keys: Vec<Value> = kids
        .iter()
        .map(|kid| json!({ "kty": "oct", "kid": kid, "k": URL_SAFE_NO_PAD.encode(secret(kid)) }))
        .collect();
    json!({ "keys": keys }).to_string().into_bytes()
}

fn set(kids: &[&str]) -> BTreeSet<String> {
    kids.iter().map(|k| (*k).to_owned()).collect()
}

async fn app(layer: JwtAuthLayer<Value>) -> Server {
    serve_axum(
        Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(layer),
    )
    .await
}

/// Waits (bounded) until `token` gets `status`.
async fn wait_for(server: &Server, token: &str, status: StatusCode, what: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        if send_bearer("GET", &server.url("/"), token).await.status == status {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---------------------------------------------------------------------------
// Under load, through every kind of change.

/// What the clients check on every answer.
struct Load {
    /// The keys the layer uses for sure: a key leaves before its removal is
    /// written, and joins once the layer was seen to use it.
    valid: RwLock<BTreeSet<String>>,
    stop: AtomicBool,
    requests: AtomicUsize,
    violations: Mutex<Vec<String>>,
}

impl Load {
    fn valid(&self) -> BTreeSet<String> {
        self.valid
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_valid(&self, kids: &[&str]) {
        *self.valid.write().unwrap_or_else(PoisonError::into_inner) = set(kids);
    }

    /// One client: tokens of every key, in turn, until stopped (bounded).
    async fn client(self: Arc<Self>, url: String, offset: usize) {
        const KIDS: [&str; 5] = ["k1", "k2", "k3", "k4", "k5"];
        let tokens: Vec<String> = KIDS.iter().map(|kid| token(kid)).collect();
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        for i in offset..offset + 200_000 {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let kid = KIDS[i % KIDS.len()];
            let before = self.valid();
            let request = Request::get(&url)
                .header(
                    "authorization",
                    format!("Bearer {}", tokens[i % KIDS.len()]),
                )
                .body(Empty::new())
                .unwrap();
            let status = send_with(&client, request).await.status;
            let after = self.valid();
            self.requests.fetch_add(1, Ordering::Relaxed);
            if before.contains(kid) && after.contains(kid) && status != StatusCode::OK {
                lock(&self.violations).push(format!("{kid}: {status} (valid {before:?})"));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_volume_changes_under_load_and_no_valid_token_is_refused() {
    warnings();
    let mut volume = Volume::new("load");
    volume.publish(&[("jwks.json", &jwks(&["k1", "k2"]))]);
    let keys = KeyFiles::jwk_set(volume.path("jwks.json"))
        .poll_interval(POLL)
        .build()
        .unwrap();
    let layer = JwtAuthLayer::<Value>::builder()
        .key_files(keys.clone())
        .build()
        .unwrap();
    let server = app(layer).await;

    let load = Arc::new(Load {
        valid: RwLock::new(set(&["k1", "k2"])),
        stop: AtomicBool::new(false),
        requests: AtomicUsize::new(0),
        violations: Mutex::new(Vec::new()),
    });
    let mut clients = JoinSet::new();
    for offset in 0..4 {
        clients.spawn(Arc::clone(&load).client(server.url("/"), offset));
    }
    // Each step waits for some load to run against it.
    let some_load = || {
        let load = Arc::clone(&load);
        async move {
            let start = load.requests.load(Ordering::Relaxed);
            let deadline = Instant::now() + WAIT;
            while load.requests.load(Ordering::Relaxed) < start + 40 {
                assert!(Instant::now() < deadline, "the clients stalled");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    some_load().await;

    // (a) Rewritten in place: k3 joins.
    volume.rewrite_in_place("jwks.json", &jwks(&["k1", "k2", "k3"]));
    wait_for(
        &server,
        &token("k3"),
        StatusCode::OK,
        "k3 after the rewrite",
    )
    .await;
    load.set_valid(&["k1", "k2", "k3"]);
    some_load().await;

    // (b) The kubelet's `..data` swap: k1 leaves, k4 joins.
    load.set_valid(&["k2", "k3"]);
    volume.publish(&[("jwks.json", &jwks(&["k2", "k3", "k4"]))]);
    wait_for(&server, &token("k4"), StatusCode::OK, "k4 after the swap").await;
    wait_for(
        &server,
        &token("k1"),
        StatusCode::UNAUTHORIZED,
        "k1 refused",
    )
    .await;
    load.set_valid(&["k2", "k3", "k4"]);
    some_load().await;

    // (c) A broken version (half a document): the keys stay, one warning.
    let generation = keys.generation();
    let warned = warnings_about(&volume.root).len();
    let whole = jwks(&["k9"]);
    volume.publish(&[("jwks.json", &whole[..whole.len() / 2])]);
    let deadline = Instant::now() + WAIT;
    while warnings_about(&volume.root).len() == warned {
        assert!(
            Instant::now() < deadline,
            "no warning about the broken version"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Many more polls see the same broken version: no more warnings.
    tokio::time::sleep(POLL * 10).await;
    some_load().await;
    let now = warnings_about(&volume.root);
    assert_eq!(now.len(), warned + 1, "{now:#?}");
    let warning = now.last().unwrap();
    assert!(
        warning.contains("still using the last good keys"),
        "{warning}"
    );
    assert!(warning.contains("not a JWK Set"), "{warning}");
    assert_eq!(keys.generation(), generation);
    for kid in ["k2", "k3", "k4"] {
        let reply = send_bearer("GET", &server.url("/"), &token(kid)).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{kid} during the broken version"
        );
    }

    // (d) A key removed: k2's tokens are refused once the layer sees it.
    load.set_valid(&["k3", "k4"]);
    volume.publish(&[("jwks.json", &jwks(&["k3", "k4"]))]);
    wait_for(
        &server,
        &token("k2"),
        StatusCode::UNAUTHORIZED,
        "k2 refused",
    )
    .await;
    some_load().await;

    // (e) A new file renamed over the old one: k5 joins.
    volume.rename_over("jwks.json", &jwks(&["k3", "k4", "k5"]));
    wait_for(&server, &token("k5"), StatusCode::OK, "k5 after the rename").await;
    load.set_valid(&["k3", "k4", "k5"]);
    some_load().await;

    load.stop.store(true, Ordering::Relaxed);
    while let Some(client) = clients.join_next().await {
        client.unwrap();
    }
    let violations = lock(&load.violations).clone();
    assert!(
        violations.is_empty(),
        "valid tokens refused: {violations:#?}"
    );
    assert!(load.requests.load(Ordering::Relaxed) >= 200);
    // A, then one version per change that was taken: a, b, d, e (a write
    // seen halfway and refused would not add one).
    assert_eq!(keys.generation(), 5);
    assert_eq!(
        keys.keys()
            .keys()
            .iter()
            .map(|k| k.kid())
            .collect::<Vec<_>>(),
        [Some("k3"), Some("k4"), Some("k5")]
    );
}

// ---------------------------------------------------------------------------
// A PEM file per issuer.

#[tokio::test]
async fn a_trusted_issuers_pem_file_is_replaced_by_a_new_key() {
    warnings();
    const ISSUER: &str = "https://issuer.example";
    let mut volume = Volume::new("pem");
    volume.publish(&[(
        "key.pem",
        include_bytes!("fixtures/pyjwt/rsa_public.pem").as_slice(),
    )]);
    let keys = KeyFiles::pem(volume.path("key.pem"), Algorithm::RS256)
        .poll_interval(POLL)
        .build()
        .unwrap();
    let layer = JwtAuthLayer::<Value>::builder()
        .trusted_issuer(
            TrustedIssuer::new(ISSUER)
                .key_files(keys)
                .audience("api://tower-jwt-auth"),
        )
        .build()
        .unwrap();
    let server = app(layer).await;
    let (old, new) = (pyjwt_token("RS256"), pyjwt_token("RS256-other-key"));
    assert_eq!(
        send_bearer("GET", &server.url("/"), &old).await.status,
        StatusCode::OK
    );
    // Only RS256, the PEM file's algorithm, is allowed.
    let reply = send_bearer("GET", &server.url("/"), &pyjwt_token("RS384")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    volume.publish(&[(
        "key.pem",
        include_bytes!("fixtures/pyjwt/other_rsa_public.pem").as_slice(),
    )]);
    wait_for(&server, &new, StatusCode::OK, "the new key").await;
    let reply = send_bearer("GET", &server.url("/"), &old).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // A key of another family in the file: refused, the last good key stays.
    let warned = warnings_about(&volume.root).len();
    volume.publish(&[(
        "key.pem",
        include_bytes!("fixtures/pyjwt/ec_p256_public.pem").as_slice(),
    )]);
    let deadline = Instant::now() + WAIT;
    while warnings_about(&volume.root).len() == warned {
        assert!(Instant::now() < deadline, "no warning about the EC key");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        send_bearer("GET", &server.url("/"), &new).await.status,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------
// The build's errors.

/// A file of `bytes` in a directory of its own, removed when dropped.
struct OneFile(Volume);

impl OneFile {
    fn new(name: &str, bytes: &[u8]) -> Self {
        let volume = Volume::new(name);
        std::fs::write(volume.path("file"), bytes).unwrap();
        Self(volume)
    }
    fn path(&self) -> PathBuf {
        self.0.path("file")
    }
}

#[tokio::test]
async fn a_missing_file_is_a_build_error_naming_it() {
    let dir = Volume::new("missing");
    let path = dir.path("jwks.json");
    let error = KeyFiles::jwk_set(&path).build().unwrap_err();
    assert_eq!(error.kind(), KeyFilesErrorKind::Unreadable);
    assert_eq!(error.path(), Some(path.as_path()));
    let text = error.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert!(source.contains("No such file"), "{source}");
}

#[tokio::test]
async fn an_oversized_file_is_refused() {
    let file = OneFile::new("oversized", &jwks(&["k1", "k2", "k3"]));
    let error = KeyFiles::jwk_set(file.path())
        .max_file_size(100)
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), KeyFilesErrorKind::TooLarge);
    assert!(error.to_string().contains("limit of 100 bytes"), "{error}");
    // The default limit, 256 KiB.
    let big = OneFile::new("big", &vec![b' '; 256 * 1024 + 1]);
    let error = KeyFiles::jwk_set(big.path()).build().unwrap_err();
    assert_eq!(error.kind(), KeyFilesErrorKind::TooLarge);
    // Too many keys is too large too.
    let error = KeyFiles::jwk_set(file.path())
        .max_keys(2)
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), KeyFilesErrorKind::TooLarge);
}

#[tokio::test]
async fn a_jwk_set_of_unusable_keys_is_refused() {
    let unusable = json!({ "keys": [
        { "kty": "oct", "kid": "short", "k": URL_SAFE_NO_PAD.encode("too short") },
        { "kty": "EC", "crv": "P-256", "use": "enc",
          "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
          "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM" },
        { "kty": "what" },
    ]});
    let file = OneFile::new("unusable", unusable.to_string().as_bytes());
    let error = KeyFiles::jwk_set(file.path()).build().unwrap_err();
    assert_eq!(error.kind(), KeyFilesErrorKind::NoUsableKeys);
    assert!(
        error.to_string().contains("none of the JWK Set's 3 keys"),
        "{error}"
    );

    for (name, bytes) in [
        ("empty", &b""[..]),
        ("garbage", b"\x00\xffnot json"),
        ("no-keys", b"{\"keys\":[]}"),
    ] {
        let file = OneFile::new(name, bytes);
        let error = KeyFiles::jwk_set(file.path()).build().unwrap_err();
        assert!(
            matches!(
                error.kind(),
                KeyFilesErrorKind::Invalid | KeyFilesErrorKind::NoUsableKeys
            ),
            "{name}: {error}"
        );
    }
}

#[tokio::test]
async fn a_short_hmac_secret_file_is_refused() {
    let file = OneFile::new("short-secret", b"only 20 bytes long..");
    let error = KeyFiles::hmac(file.path()).build().unwrap_err();
    assert_eq!(error.kind(), KeyFilesErrorKind::Invalid);
    let source = std::error::Error::source(&error).unwrap();
    assert!(
        matches!(
            source.downcast_ref::<ConfigError>(),
            Some(ConfigError::ShortHmacSecret {
                length: 20,
                minimum: 32,
                ..
            })
        ),
        "{source}"
    );
    // The same secret in base64 (with the newline `echo` adds) is the same.
    let file = OneFile::new("short-base64", b"b25seSAyMCBieXRlcyBsb25nLi4=\n");
    let error = KeyFiles::builder()
        .hmac_base64(file.path())
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), KeyFilesErrorKind::Invalid);
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused() {
    let file = OneFile::new("settings", &secret("k1"));
    let kind = |builder: tower_jwt_auth::KeyFilesBuilder| builder.build().unwrap_err().kind();
    assert_eq!(kind(KeyFiles::builder()), KeyFilesErrorKind::NoFiles);
    assert_eq!(
        kind(KeyFiles::hmac(file.path()).poll_interval(Duration::ZERO)),
        KeyFilesErrorKind::InvalidSetting
    );
    assert_eq!(
        kind(KeyFiles::pem(file.path(), Algorithm::HS256)),
        KeyFilesErrorKind::InvalidSetting
    );
    // Static keys and key files for one issuer.
    let keys = KeyFiles::hmac(file.path()).build().unwrap();
    let both = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(secret("k2")))
        .key_files(keys)
        .build();
    assert!(matches!(both, Err(ConfigError::KeysAndKeySet)));
}

#[test]
fn building_outside_a_runtime_is_refused() {
    let file = OneFile::new("no-runtime", &secret("k1"));
    let error = KeyFiles::hmac(file.path()).build().unwrap_err();
    assert_eq!(error.kind(), KeyFilesErrorKind::NoRuntime);
}

// ---------------------------------------------------------------------------
// With the verified-token cache.

/// A cached token of a key that left is refused: the new version's keys
/// drop the cache's entries of the keys that left.
#[cfg(feature = "token-cache")]
#[tokio::test]
async fn a_cached_token_of_a_removed_key_is_refused() {
    warnings();
    let mut volume = Volume::new("cache");
    volume.publish(&[("jwks.json", &jwks(&["k1", "k2"]))]);
    let keys = KeyFiles::jwk_set(volume.path("jwks.json"))
        .poll_interval(POLL)
        .build()
        .unwrap();
    let layer = JwtAuthLayer::<Value>::builder()
        .key_files(keys)
        .token_cache(100)
        .build()
        .unwrap();
    let server = app(layer).await;
    let (k1, k2) = (token("k1"), token("k2"));
    for _ in 0..2 {
        assert_eq!(
            send_bearer("GET", &server.url("/"), &k1).await.status,
            StatusCode::OK
        );
    }
    volume.publish(&[("jwks.json", &jwks(&["k2"]))]);
    wait_for(
        &server,
        &k1,
        StatusCode::UNAUTHORIZED,
        "the cached k1 refused",
    )
    .await;
    assert_eq!(
        send_bearer("GET", &server.url("/"), &k2).await.status,
        StatusCode::OK
    );
}
