//! How long a new key takes to be used: from the kubelet's update of a
//! Secret volume (the rename of a new `..data` symlink over the old one) to
//! the first request whose token the new key signed that the layer accepts.
//!
//! Not a criterion bench: the delay is made of the poll interval and the
//! settle time, not of CPU work. Each round publishes a new version holding
//! a new key, then sends a request with a token of that key every
//! millisecond (through `JwtAuth` with `oneshot`, on a current-thread tokio
//! runtime) until one is accepted. It reports min, median, mean and max per
//! poll interval (the default 1 s, and 100 ms).
//!
//! `cargo bench --bench key_files --features key-files`; results in
//! BENCHMARKS.md, "Key files: the delay of a change".

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::json;
use tower::{Layer as _, ServiceExt as _, service_fn};
use tower_jwt_auth::{JwtAuthLayer, KeyFiles, TokenIssuer};

fn secret(kid: &str) -> Vec<u8> {
    format!("the HMAC secret of key {kid}, 32 bytes at least").into_bytes()
}

fn jwks(kid: &str) -> Vec<u8> {
    let key = json!({ "kty": "oct", "kid": kid, "k": URL_SAFE_NO_PAD.encode(secret(kid)) });
    json!({ "keys": [key] }).to_string().into_bytes()
}

/// The kubelet's update: a new timestamped directory, a new `..data`
/// symlink renamed over the old one, the old directory removed.
fn publish(root: &Path, version: usize, bytes: &[u8]) {
    let name = format!("..2026_12_06_02_00_00.{version:06}");
    std::fs::create_dir(root.join(&name)).unwrap();
    std::fs::write(root.join(&name).join("jwks.json"), bytes).unwrap();
    let old = std::fs::read_link(root.join("..data")).ok();
    std::os::unix::fs::symlink(&name, root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    if let Some(old) = old {
        std::fs::remove_dir_all(root.join(old)).unwrap();
    }
}

async fn status(layer: &JwtAuthLayer<serde_json::Value>, token: &str) -> StatusCode {
    let inner = service_fn(|_: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    });
    let request = Request::get("/")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::default())
        .unwrap();
    layer.layer(inner).oneshot(request).await.unwrap().status()
}

/// The delays of `rounds` changes with `interval`.
async fn delays(root: &Path, interval: Duration, rounds: usize) -> Vec<Duration> {
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root).unwrap();
    publish(root, 0, &jwks("k0"));
    std::os::unix::fs::symlink("..data/jwks.json", root.join("jwks.json")).unwrap();
    let keys = KeyFiles::jwk_set(root.join("jwks.json"))
        .poll_interval(interval)
        .build()
        .unwrap();
    let layer = JwtAuthLayer::builder().key_files(keys).build().unwrap();
    let mut delays = Vec::new();
    for round in 1..=rounds {
        let kid = format!("k{round}");
        let token = TokenIssuer::hmac(secret(&kid))
            .kid(&kid)
            .build()
            .unwrap()
            .issue(&json!({}))
            .unwrap();
        // Changes land at any moment of the poll cycle.
        tokio::time::sleep(interval.mul_f64(0.37 * round as f64 % 1.0)).await;
        publish(root, round, &jwks(&kid));
        let changed = Instant::now();
        let limit = changed + interval * 5 + Duration::from_secs(1);
        while status(&layer, &token).await != StatusCode::OK {
            assert!(Instant::now() < limit, "the new key was never used");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        delays.push(changed.elapsed());
    }
    delays
}

fn report(interval: Duration, mut delays: Vec<Duration>) {
    delays.sort();
    let mean = delays.iter().sum::<Duration>() / delays.len() as u32;
    println!(
        "key_files/delay interval={interval:?} rounds={} min={:?} median={:?} mean={mean:?} max={:?}",
        delays.len(),
        delays[0],
        delays[delays.len() / 2],
        delays[delays.len() - 1],
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter or `--list` is not supported.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let root: PathBuf = std::env::temp_dir().join(format!(
        "tower-jwt-auth-bench-key-files-{}",
        std::process::id()
    ));
    for (interval, rounds) in [
        (Duration::from_secs(1), 12),
        (Duration::from_millis(100), 40),
    ] {
        let delays = runtime.block_on(delays(&root, interval, rounds));
        report(interval, delays);
    }
    let _ = std::fs::remove_dir_all(&root);
}
