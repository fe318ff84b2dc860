//! Load: a real hyper server with the layer (bearer and form-field sources) on
//! 127.0.0.1, and 64 keep-alive client connections sending a deterministic mix
//! of valid, expired, forged, missing, form and garbage tokens. Every answer is
//! checked against the status its kind must get; the server must not panic,
//! the inner service must run exactly once per accepted request, and the
//! process's resident memory must not grow with the number of requests.
//!
//! 40,000 requests in debug builds, 200,000 with `--release`; set
//! `LOAD_REQUESTS` to change it. Timings are printed, never asserted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tower::{BoxError, Layer, service_fn};
use tower_jwt_auth::{
    Claims, DefaultResponder, JwtAuthLayer, Key, RequestBody, TokenIssuer, TokenSource, WithForm,
};

const SECRET: &[u8] = b"load test secret, 32 bytes long!";
const OTHER_SECRET: &[u8] = b"a forger's secret, 32 bytes long";
const CONNECTIONS: usize = 64;
/// Requests before the first memory reading: connections, caches and the
/// allocator's arenas are warm by then.
const WARM_UP: usize = 5_000;
/// Allowed growth of the resident set between the warm-up and the end: about
/// 16 times what a run shows without a leak, and below what a 200-byte leak
/// per request adds over 200,000 requests (see `resident_bytes`).
const RSS_GROWTH_LIMIT: u64 = 16 << 20;
/// The whole run, server included, is cut off after this.
const RUN_LIMIT: Duration = Duration::from_secs(300);
const PAGE_SIZE: u64 = 4096;

#[derive(Clone, Debug, Deserialize)]
struct User {
    sub: String,
}

/// The number of requests: `LOAD_REQUESTS`, else by build profile.
fn total_requests() -> usize {
    match std::env::var("LOAD_REQUESTS") {
        Ok(value) => value.parse().expect("LOAD_REQUESTS is a number"),
        Err(_) if cfg!(debug_assertions) => 40_000,
        Err(_) => 200_000,
    }
}

// ---------------------------------------------------------------------------
// The mix of requests.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Valid,
    Expired,
    Forged,
    Missing,
    FormValid,
    FormBad,
    Garbage,
}

const KINDS: [Kind; 7] = [
    Kind::Valid,
    Kind::Expired,
    Kind::Forged,
    Kind::Missing,
    Kind::FormValid,
    Kind::FormBad,
    Kind::Garbage,
];

impl Kind {
    /// The kind of request number `index`: deterministic, and since 64 is
    /// not a multiple of 7, every connection sends every kind.
    fn of(index: usize) -> Self {
        KINDS[index % KINDS.len()]
    }

    fn expected(self) -> StatusCode {
        match self {
            Self::Valid | Self::FormValid => StatusCode::OK,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

/// The tokens, made once. Each connection has its own subject, so that an
/// answer carrying another connection's claims is caught.
struct Tokens {
    valid: Vec<String>,
    expired: String,
    forged: String,
    /// A valid token with its signature cut short.
    truncated: String,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

impl Tokens {
    fn new() -> Self {
        let sign = |secret: &[u8], sub: &str| {
            TokenIssuer::hmac(secret)
                .ttl(Duration::from_secs(3600))
                .build()
                .expect("issuer")
                .issue(&serde_json::json!({ "sub": sub }))
                .expect("token")
        };
        // Expired an hour ago: far beyond the default 60 s leeway.
        let an_hour_ago = unix_now() - 3600;
        let expired = TokenIssuer::hmac(SECRET)
            .clock(move || an_hour_ago)
            .ttl(Duration::from_secs(60))
            .build()
            .expect("issuer")
            .issue(&serde_json::json!({ "sub": "late" }))
            .expect("token");
        let valid: Vec<String> = (0..CONNECTIONS)
            .map(|c| sign(SECRET, &subject(c)))
            .collect();
        let truncated = valid[0][..valid[0].len() - 4].to_owned();
        Self {
            valid,
            expired,
            forged: sign(OTHER_SECRET, "mallory"),
            truncated,
        }
    }

    /// Request `kind` from connection `connection`, and the body a 200 must carry.
    fn request(&self, kind: Kind, connection: usize) -> (Request<Full<Bytes>>, Option<String>) {
        let valid = &self.valid[connection];
        let sub = subject(connection);
        match kind {
            Kind::Valid => (get(Some(valid)), Some(format!("{sub}:0"))),
            Kind::Expired => (get(Some(&self.expired)), None),
            Kind::Forged => (get(Some(&self.forged)), None),
            Kind::Missing => (get(None), None),
            Kind::FormValid => {
                let body = form(valid);
                let expected = format!("{sub}:{}", body.len());
                (post(body), Some(expected))
            }
            Kind::FormBad => (post(form(&self.truncated)), None),
            Kind::Garbage => (get(Some("garbage.not-a.jwt")), None),
        }
    }
}

fn subject(connection: usize) -> String {
    format!("user-{connection}")
}

fn get(token: Option<&str>) -> Request<Full<Bytes>> {
    let mut request = Request::get("/");
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Full::default()).expect("request")
}

fn form(token: &str) -> String {
    format!("note=load+test&token={token}&more=1")
}

fn post(body: String) -> Request<Full<Bytes>> {
    Request::post("/")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::from(body))
        .expect("request")
}

// ---------------------------------------------------------------------------
// The server.
// ---------------------------------------------------------------------------

fn layer() -> JwtAuthLayer<User, DefaultResponder, WithForm> {
    JwtAuthLayer::builder()
        .key(Key::hmac(SECRET))
        .source(TokenSource::bearer())
        .form_field("token")
        .build()
        .expect("layer")
}

/// What the server saw, once all its connections are closed.
#[derive(Debug, Default)]
struct ServerReport {
    connections: usize,
    connection_errors: usize,
    panics: usize,
}

impl ServerReport {
    fn record(&mut self, joined: Result<Result<(), hyper::Error>, tokio::task::JoinError>) {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(_)) => self.connection_errors += 1,
            Err(e) if e.is_panic() => self.panics += 1,
            Err(_) => {}
        }
    }
}

struct Server {
    addr: SocketAddr,
    /// Calls of the inner service.
    calls: Arc<AtomicUsize>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<ServerReport>,
}

impl Server {
    /// Stops accepting, waits for every connection task to end, and reports.
    async fn stop(self) -> ServerReport {
        let _ = self.shutdown.send(());
        self.task.await.expect("accept loop")
    }
}

/// Answers 200 with the subject and the length of the body it received.
async fn start() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let inner = service_fn(move |request: Request<RequestBody<Incoming>>| {
        counted.fetch_add(1, Ordering::Relaxed);
        async move {
            let (parts, body) = request.into_parts();
            let sub = parts
                .extensions
                .get::<Claims<User>>()
                .map_or("<none>", |claims| claims.sub.as_str())
                .to_owned();
            let length = body.collect().await?.to_bytes().len();
            Ok::<_, hyper::Error>(Response::new(Full::<Bytes>::from(format!(
                "{sub}:{length}"
            ))))
        }
    });
    let service = layer().layer(inner);
    let (shutdown, mut stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut report = ServerReport::default();
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, _) = accepted.expect("accept");
                    report.connections += 1;
                    let service = TowerToHyperService::new(service.clone());
                    connections.spawn(
                        http1::Builder::new().serve_connection(TokioIo::new(stream), service),
                    );
                }
                _ = &mut stopped => break,
            }
            while let Some(joined) = connections.try_join_next() {
                report.record(joined);
            }
        }
        while let Some(joined) = connections.join_next().await {
            report.record(joined);
        }
        report
    });
    Server {
        addr,
        calls,
        shutdown,
        task,
    }
}

// ---------------------------------------------------------------------------
// The client.
// ---------------------------------------------------------------------------

#[derive(Default)]
struct KindTally {
    sent: usize,
    statuses: BTreeMap<u16, usize>,
    mismatches: usize,
}

#[derive(Default)]
struct Tally {
    kinds: [KindTally; KINDS.len()],
    transport_errors: usize,
    /// The first few problems, for the failure message.
    problems: Vec<String>,
}

impl Tally {
    fn problem(&mut self, text: String) {
        if self.problems.len() < 10 {
            self.problems.push(text);
        }
    }

    fn merge(&mut self, other: Self) {
        for (mine, theirs) in self.kinds.iter_mut().zip(other.kinds) {
            mine.sent += theirs.sent;
            mine.mismatches += theirs.mismatches;
            for (status, count) in theirs.statuses {
                *mine.statuses.entry(status).or_default() += count;
            }
        }
        self.transport_errors += other.transport_errors;
        for problem in other.problems {
            self.problem(problem);
        }
    }

    fn sent(&self) -> usize {
        self.kinds.iter().map(|k| k.sent).sum()
    }

    fn mismatches(&self) -> usize {
        self.kinds.iter().map(|k| k.mismatches).sum()
    }

    /// Answers with 200, that is, requests the layer let through.
    fn accepted(&self) -> usize {
        self.kinds.iter().filter_map(|k| k.statuses.get(&200)).sum()
    }

    fn print(&self) {
        println!("{:<10} {:>8}  {:>8}  statuses", "kind", "count", "expected");
        for (kind, tally) in KINDS.iter().zip(&self.kinds) {
            let statuses: Vec<String> = tally
                .statuses
                .iter()
                .map(|(status, count)| format!("{status}x{count}"))
                .collect();
            println!(
                "{:<10} {:>8}  {:>8}  {}",
                format!("{kind:?}"),
                tally.sent,
                kind.expected().as_u16(),
                statuses.join(" "),
            );
        }
    }
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, BoxError> {
    let stream = TcpStream::connect(addr).await?;
    let (sender, connection) = handshake(TokioIo::new(stream)).await?;
    // Errors of the connection show up in `send_request` too.
    tokio::spawn(connection);
    Ok(sender)
}

/// One request and its whole answer, on the open connection or a new one.
async fn exchange(
    sender: &mut Option<SendRequest<Full<Bytes>>>,
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), BoxError> {
    let open = match sender {
        Some(open) => open,
        None => sender.insert(connect(addr).await?),
    };
    open.ready().await?;
    let response = open.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// Connection `connection` sends the requests of `range` that are its own
/// (every 64th), one after the other on one keep-alive connection.
async fn client(
    addr: SocketAddr,
    tokens: Arc<Tokens>,
    connection: usize,
    range: Range<usize>,
) -> Tally {
    let mut tally = Tally::default();
    let mut sender = None;
    let first = range.start + (connection + CONNECTIONS - range.start % CONNECTIONS) % CONNECTIONS;
    for index in (first..range.end).step_by(CONNECTIONS) {
        let kind = Kind::of(index);
        let (request, expected_body) = tokens.request(kind, connection);
        let slot = &mut tally.kinds[index % KINDS.len()];
        slot.sent += 1;
        match exchange(&mut sender, addr, request).await {
            Ok((status, body)) => {
                *slot.statuses.entry(status.as_u16()).or_default() += 1;
                let body_ok = expected_body.is_none_or(|expected| body == expected);
                if status != kind.expected() || !body_ok {
                    slot.mismatches += 1;
                    tally.problem(format!("#{index} {kind:?}: {status} {body:?}"));
                }
            }
            Err(error) => {
                // A broken connection is replaced for the rest of the run.
                sender = None;
                tally.transport_errors += 1;
                tally.problem(format!("#{index} {kind:?}: transport error {error}"));
            }
        }
    }
    tally
}

/// Requests `range` over 64 concurrent connections.
async fn run(addr: SocketAddr, tokens: &Arc<Tokens>, range: Range<usize>) -> Tally {
    let mut clients = JoinSet::new();
    for connection in 0..CONNECTIONS {
        clients.spawn(client(addr, tokens.clone(), connection, range.clone()));
    }
    let mut tally = Tally::default();
    while let Some(joined) = clients.join_next().await {
        tally.merge(joined.expect("client task"));
    }
    tally
}

// ---------------------------------------------------------------------------
// Memory.
// ---------------------------------------------------------------------------

/// The resident set of this process (server and client), in bytes.
///
/// A coarse signal: the allocator keeps freed memory for reuse and returns it
/// to the system in its own time, so RSS moves in steps and never shrinks
/// reliably. What it does catch is growth per request: a leak of even 200
/// bytes per request is 40 MB over 200,000 requests, far above the noise
/// (about 1 MiB). The 40,000 requests of a debug run catch leaks from about
/// 500 bytes per request.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("resident pages in /proc/self/statm");
    pages * PAGE_SIZE
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

// ---------------------------------------------------------------------------
// The test.
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_load_gets_exact_answers_without_panics_or_memory_growth() {
    tokio::time::timeout(RUN_LIMIT, load(total_requests()))
        .await
        .expect("the load run ended in time");
}

async fn load(total: usize) {
    let tokens = Arc::new(Tokens::new());
    let server = start().await;
    let warm_up = WARM_UP.min(total);

    let mut tally = run(server.addr, &tokens, 0..warm_up).await;
    let rss_before = resident_bytes();
    let started = Instant::now();
    tally.merge(run(server.addr, &tokens, warm_up..total).await);
    let elapsed = started.elapsed();
    let rss_after = resident_bytes();

    let calls = server.calls.clone();
    let report = server.stop().await;

    tally.print();
    let measured = total - warm_up;
    println!(
        "{measured} requests after the warm-up in {:.2} s: {:.0} requests/s over {CONNECTIONS} connections",
        elapsed.as_secs_f64(),
        measured as f64 / elapsed.as_secs_f64(),
    );
    println!(
        "resident memory: {:.1} MiB after {warm_up} requests, {:.1} MiB after {total} ({:.1} bytes per request)",
        mib(rss_before),
        mib(rss_after),
        rss_after.saturating_sub(rss_before) as f64 / measured.max(1) as f64,
    );
    println!("server: {report:?}");

    assert_eq!(tally.sent(), total, "every request was sent");
    assert_eq!(
        (tally.mismatches(), tally.transport_errors),
        (0, 0),
        "unexpected answers: {:#?}",
        tally.problems,
    );
    assert_eq!(report.panics, 0, "no connection task panicked");
    assert_eq!(report.connection_errors, 0, "no connection failed");
    let expected_accepted = (0..total)
        .filter(|&i| Kind::of(i).expected() == StatusCode::OK)
        .count();
    assert_eq!(tally.accepted(), expected_accepted);
    assert_eq!(
        calls.load(Ordering::Relaxed),
        tally.accepted(),
        "the inner service ran once per accepted request, never for a refused one",
    );
    let growth = rss_after.saturating_sub(rss_before);
    assert!(
        growth < RSS_GROWTH_LIMIT,
        "resident memory grew by {:.1} MiB over {measured} requests",
        mib(growth),
    );
}
