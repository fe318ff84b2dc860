//! A fleet under load while tokens are revoked: two real axum servers with
//! the layer, each with its own `RedisConnection` and local mirror, on one
//! real Redis; clients send `requests` HTTP requests spread over both, while
//! a revoker logs `revocations` tokens out (`POST /logout` on either server,
//! which revokes the presented token) as the load goes on.
//!
//! Every answer is checked against what was known when it was sent and
//! received:
//!
//! - a token never revoked must always pass (`200`): a `401` or a `503` for
//!   it is a valid token refused;
//! - a revoked token may pass only if its request was sent before the
//!   revocation returned plus the window (the mirror's staleness bound): one
//!   sent later and let through is a revoked token accepted after its
//!   window;
//! - a token refused before its revocation even started is a valid token
//!   refused too.
//!
//! The mirror holds at most `mirror_entries` keys (the redis crate's LRU).
//! Shared by tests/revocation_fleet.rs (reduced, in the gate) and
//! benches/revocation_load.rs (the full size, run by
//! scripts/revocation_load.sh), which includes it with `#[path]` beside
//! `redis.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::OnceCell;
use tower_jwt_auth::{
    JwtAuthLayer, Key, RedisConnection, RedisRevocations, Revocation, RevocationStore, TokenInfo,
    TokenIssuer,
};

use super::redis::RedisServer;

const SECRET: &[u8] = b"revocation load secret, 32 bytes.";

/// The size of a run.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Requests to `/me`, over both servers.
    pub requests: usize,
    /// Tokens revoked during the run.
    pub revocations: usize,
    /// Tokens never revoked.
    pub valid: usize,
    /// Clients sending at once.
    pub clients: usize,
    /// The most keys each server's mirror holds.
    pub mirror_entries: usize,
    /// The check's timeout: generous, so that a loaded machine's slow
    /// moment is not taken for a refusal of a valid token.
    pub timeout: Duration,
}

/// What a run saw.
#[derive(Debug, Default)]
pub struct Outcome {
    pub requests: usize,
    pub revocations: usize,
    pub elapsed: Duration,
    /// Requests whose token was never revoked, refused (must be 0).
    pub valid_refused: usize,
    /// Requests sent past their token's window, let through (must be 0).
    pub revoked_accepted_late: usize,
    /// Requests with a revoked token let through within the window.
    pub revoked_accepted_in_window: usize,
    /// Requests with a revoked token refused.
    pub revoked_refused: usize,
    /// The latest, after its revocation returned, that a revoked token was
    /// let through (sent time).
    pub latest_acceptance: Duration,
    /// Hits, misses and invalidations of both mirrors.
    pub mirror_hits: u64,
    pub mirror_misses: u64,
    pub mirror_invalidations: u64,
    /// Other answers (neither 200 nor 401), with a sample.
    pub other: usize,
    pub sample: String,
    /// The window: the mirror's staleness bound.
    pub window: Duration,
}

/// One token of the run, and when its revocation started and returned.
struct Candidate {
    token: String,
    started: OnceCell<Instant>,
    revoked: OnceCell<Instant>,
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// A server of the fleet: its address and its connection (for the mirror's
/// counts).
struct Instance {
    url: String,
    connection: RedisConnection,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn instance(redis: &RedisServer, load: Load) -> Instance {
    let connection = RedisConnection::builder(redis.url())
        .local_mirror(load.mirror_entries)
        .connect()
        .await
        .expect("connect to Redis");
    let store = RedisRevocations::new(connection.clone());
    let layer = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(SECRET))
        .revocation(Revocation::new(store.clone()).timeout(load.timeout))
        .build()
        .expect("a layer");
    let app = Router::new()
        .route("/me", get(|| async { "ok" }))
        .route(
            "/logout",
            post(move |Extension(token): Extension<TokenInfo>| async move {
                match store.revoke(&token).await {
                    Ok(()) => StatusCode::NO_CONTENT,
                    Err(_) => StatusCode::SERVICE_UNAVAILABLE,
                }
            }),
        )
        .layer(layer);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    Instance {
        url,
        connection,
        task,
    }
}

async fn send(client: &HttpClient, method: &str, url: &str, token: &str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"))
        .body(Empty::new())
        .expect("a request");
    let exchange = async {
        let response = client.request(request).await.expect("an answer");
        let status = response.status();
        // Read the body so that the connection is reused.
        let _ = response.into_body().collect().await;
        status
    };
    tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .expect("an answer within 30 s")
}

/// A small deterministic generator, so that runs are repeatable in shape.
fn next(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

/// Runs `load` against a Redis of its own, and returns what it saw.
pub async fn run(load: Load) -> Outcome {
    let redis = RedisServer::start().await;
    let servers = [instance(&redis, load).await, instance(&redis, load).await];
    let window = servers[0]
        .connection
        .mirror_staleness_bound()
        .expect("a mirror");
    let issuer = TokenIssuer::hmac(SECRET)
        .jti(true)
        .ttl(Duration::from_secs(3600))
        .build()
        .expect("an issuer");
    let issue = |n: usize| {
        issuer
            .issue(&json!({ "sub": format!("user-{n}") }))
            .expect("a token")
    };
    let valid: Arc<Vec<String>> = Arc::new((0..load.valid).map(issue).collect());
    let candidates: Arc<Vec<Candidate>> = Arc::new(
        (0..load.revocations)
            .map(|n| Candidate {
                token: issue(load.valid + n),
                started: OnceCell::new(),
                revoked: OnceCell::new(),
            })
            .collect(),
    );
    let urls: Arc<[String; 2]> = Arc::new([servers[0].url.clone(), servers[1].url.clone()]);
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let sent = Arc::new(AtomicUsize::new(0));
    let revoked_so_far = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();

    // The revoker: token k is logged out once k/revocations of the requests
    // are sent, on either server in turn.
    let revoker = {
        let (client, urls, candidates, sent, revoked_so_far) = (
            client.clone(),
            urls.clone(),
            candidates.clone(),
            sent.clone(),
            revoked_so_far.clone(),
        );
        tokio::spawn(async move {
            for (k, candidate) in candidates.iter().enumerate() {
                let due = k * load.requests / (load.revocations + 1);
                while sent.load(Ordering::Relaxed) < due {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
                let _ = candidate.started.set(Instant::now());
                let url = format!("{}/logout", urls[k % 2]);
                let status = send(&client, "POST", &url, &candidate.token).await;
                assert_eq!(status, StatusCode::NO_CONTENT, "logout of token {k}");
                let _ = candidate.revoked.set(Instant::now());
                revoked_so_far.store(k + 1, Ordering::Release);
            }
        })
    };

    let mut clients = tokio::task::JoinSet::new();
    for c in 0..load.clients {
        let (client, urls, valid, candidates, sent, revoked_so_far) = (
            client.clone(),
            urls.clone(),
            valid.clone(),
            candidates.clone(),
            sent.clone(),
            revoked_so_far.clone(),
        );
        clients.spawn(async move {
            let mut outcome = Outcome::default();
            let mut random = c as u64 + 1;
            loop {
                let i = sent.fetch_add(1, Ordering::Relaxed);
                if i >= load.requests {
                    return outcome;
                }
                outcome.requests += 1;
                let url = format!("{}/me", urls[i % 2]);
                // Half the requests carry a valid token, half a candidate
                // near the revocation front: just revoked, or about to be.
                let candidate = if i % 2 == 0 || candidates.is_empty() {
                    None
                } else {
                    let front = revoked_so_far.load(Ordering::Acquire) as u64;
                    let k = (front + next(&mut random) % 64).saturating_sub(32);
                    Some(&candidates[(k as usize).min(candidates.len() - 1)])
                };
                let token = match candidate {
                    Some(candidate) => &candidate.token,
                    None => &valid[next(&mut random) as usize % valid.len()],
                };
                let sent_at = Instant::now();
                let status = send(&client, "GET", &url, token).await;
                let received_at = Instant::now();
                outcome.judge(candidate, status, sent_at, received_at, window);
            }
        });
    }
    let mut outcome = Outcome {
        window,
        ..Outcome::default()
    };
    while let Some(part) = clients.join_next().await {
        outcome.add(part.expect("a client"));
    }
    revoker.await.expect("the revoker");
    outcome.elapsed = start.elapsed();
    outcome.revocations = revoked_so_far.load(Ordering::Acquire);
    for server in &servers {
        let stats = server.connection.mirror_stats().expect("a mirror");
        outcome.mirror_hits += stats.hits;
        outcome.mirror_misses += stats.misses;
        outcome.mirror_invalidations += stats.invalidations;
    }
    drop(servers);
    drop(redis);
    outcome
}

impl Outcome {
    fn judge(
        &mut self,
        candidate: Option<&Candidate>,
        status: StatusCode,
        sent_at: Instant,
        received_at: Instant,
        window: Duration,
    ) {
        let revoked = candidate.and_then(|c| c.revoked.get().copied());
        let started = candidate.and_then(|c| c.started.get().copied());
        match status {
            StatusCode::OK => {
                if let Some(revoked) = revoked
                    && sent_at > revoked
                {
                    let late = sent_at - revoked;
                    self.latest_acceptance = self.latest_acceptance.max(late);
                    if late > window {
                        self.revoked_accepted_late += 1;
                    } else {
                        self.revoked_accepted_in_window += 1;
                    }
                }
            }
            StatusCode::UNAUTHORIZED => {
                // Refused before its revocation started: a valid token refused.
                match started {
                    Some(started) if started <= received_at => self.revoked_refused += 1,
                    _ => self.valid_refused += 1,
                }
            }
            other => {
                if candidate.is_none() {
                    self.valid_refused += 1;
                }
                self.other += 1;
                if self.sample.is_empty() {
                    self.sample = format!("{other}");
                }
            }
        }
    }

    fn add(&mut self, part: Outcome) {
        self.requests += part.requests;
        self.valid_refused += part.valid_refused;
        self.revoked_accepted_late += part.revoked_accepted_late;
        self.revoked_accepted_in_window += part.revoked_accepted_in_window;
        self.revoked_refused += part.revoked_refused;
        self.latest_acceptance = self.latest_acceptance.max(part.latest_acceptance);
        self.other += part.other;
        if self.sample.is_empty() {
            self.sample = part.sample;
        }
    }
}
