//! A real OAuth authorization server and DPoP client for the sender-constrained
//! token tests: `node tests/oauth/server.mjs` (oidc-provider and panva's
//! `dpop`), driven through its JSON control API. It issues DPoP-bound
//! (`cnf.jkt`), certificate-bound (`cnf["x5t#S256"]`) and plain bearer JWT
//! access tokens for the audience [`AUDIENCE`], and makes DPoP proofs with the
//! keys it keeps.
//!
//! [`OauthProvider::shared`] gives the one provider of a test binary (started
//! once, on a runtime thread of its own); [`OauthProvider::start`] a private
//! one, killed when dropped. Either way the Node process also exits when its
//! stdin closes, so a test binary that dies leaves none behind.
//!
//! Before the first start, `scripts/oauth_harness.sh` installs the harness
//! with `npm ci` into tests/oauth/node_modules when needed (once per process,
//! one process at a time). Needs Node.js >= 20.18 with npm, and the npm
//! registry for that first install; without them the tests fail, with a
//! message that says so (they are not skipped).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::OnceCell;

/// The audience of the provider's JWT access tokens.
pub const AUDIENCE: &str = "https://api.test";
/// The audience of its opaque access tokens (the ones it can introspect).
pub const OPAQUE_AUDIENCE: &str = "https://opaque.api.test";
/// How long the server may take from spawn to its ready line.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `npm ci` (and waiting for another process's) may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(360);
/// The lines of the server's stderr kept for failure messages.
const LOG_LINES: usize = 200;

/// The JWS algorithms of the DPoP keys the harness makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DpopAlg {
    Es256,
    /// An Ed25519 key whose proofs say `"alg": "EdDSA"` (RFC 8037): the
    /// harness re-signs the library's proofs with that name.
    EdDsa,
    /// An Ed25519 key whose proofs say `"alg": "Ed25519"` (RFC 9864), as the
    /// `dpop` library names them.
    Ed25519,
    Ps256,
    Rs256,
}

impl DpopAlg {
    pub const ALL: [Self; 5] = [
        Self::Es256,
        Self::EdDsa,
        Self::Ed25519,
        Self::Ps256,
        Self::Rs256,
    ];

    /// The `alg` of its proofs' headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Ed25519 => "Ed25519",
            Self::Ps256 => "PS256",
            Self::Rs256 => "RS256",
        }
    }
}

/// A DPoP-bound access token and the key pair it is bound to.
#[derive(Clone, Debug)]
pub struct DpopToken {
    pub access_token: String,
    /// `DPoP`, as the provider said.
    pub token_type: String,
    /// The id of the key pair the harness keeps, for [`ProofRequest::key`].
    pub key: String,
    /// The `alg` of its proofs.
    pub alg: String,
    /// The RFC 7638 thumbprint of the public key (base64url SHA-256).
    pub jkt: String,
    /// The public key, as a JWK.
    pub public_jwk: Value,
}

/// A certificate-bound access token.
#[derive(Clone, Debug)]
pub struct MtlsToken {
    pub access_token: String,
    /// The base64url SHA-256 of the certificate's DER, by the harness.
    pub x5t_s256: String,
}

/// What a DPoP proof is made for (`POST /proof`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProofRequest {
    /// The key pair: [`DpopToken::key`].
    pub key: String,
    pub htm: String,
    pub htu: String,
    /// The access token the proof goes with: its SHA-256 becomes `ath`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Seconds added to the current time for `iat` (negative: the past).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat_offset: Option<i64>,
    /// A `jti` of the test's choosing instead of a random one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl ProofRequest {
    pub fn new(key: &str, htm: &str, htu: &str) -> Self {
        Self {
            key: key.to_owned(),
            htm: htm.to_owned(),
            htu: htu.to_owned(),
            ..Self::default()
        }
    }

    pub fn access_token(mut self, token: &str) -> Self {
        self.access_token = Some(token.to_owned());
        self
    }

    pub fn nonce(mut self, nonce: &str) -> Self {
        self.nonce = Some(nonce.to_owned());
        self
    }

    pub fn iat_offset(mut self, seconds: i64) -> Self {
        self.iat_offset = Some(seconds);
        self
    }

    pub fn jti(mut self, jti: &str) -> Self {
        self.jti = Some(jti.to_owned());
        self
    }
}

/// The Node process behind the provider and its control API.
pub struct OauthProvider {
    issuer: String,
    jwks_uri: String,
    control: String,
    pid: u32,
    startup: Duration,
    log: Arc<Mutex<Vec<String>>>,
    /// Killed when dropped (`kill_on_drop`).
    child: Child,
    /// Held open: the server exits when it closes.
    stdin: Option<ChildStdin>,
}

/// How many servers this process started (shared or not).
static STARTED: AtomicUsize = AtomicUsize::new(0);
/// How many times [`OauthProvider::shared`] started one (once, or a failure).
static SHARED_STARTS: AtomicUsize = AtomicUsize::new(0);

impl OauthProvider {
    /// The provider of this test binary: started by the first caller, on a
    /// thread with a runtime of its own (each `#[tokio::test]` has its own
    /// runtime, which ends with the test), and never stopped: it exits with
    /// the test binary, when its stdin closes.
    ///
    /// # Panics
    ///
    /// When the harness cannot be installed or started (the message says why).
    pub async fn shared() -> &'static Self {
        static SHARED: OnceCell<OauthProvider> = OnceCell::const_new();
        SHARED
            .get_or_init(|| async {
                SHARED_STARTS.fetch_add(1, Ordering::SeqCst);
                let (sender, receiver) = tokio::sync::oneshot::channel();
                std::thread::Builder::new()
                    .name("oauth-provider".to_owned())
                    .spawn(move || {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("runtime of the OAuth provider");
                        runtime.block_on(async move {
                            let _ = sender.send(Self::try_start().await);
                            // The child's pipes and reaper live on this runtime.
                            std::future::pending::<()>().await;
                        });
                    })
                    .expect("spawn the OAuth provider's thread");
                match receiver.await {
                    Ok(Ok(provider)) => provider,
                    Ok(Err(message)) => panic!("{message}"),
                    Err(_) => panic!("the OAuth provider's thread died while starting it"),
                }
            })
            .await
    }

    /// A provider of its own, killed when dropped. Prefer [`shared`](Self::shared).
    ///
    /// # Panics
    ///
    /// When the harness cannot be installed or started (the message says why).
    pub async fn start() -> Self {
        Self::try_start().await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// How many servers this process has started so far.
    pub fn started() -> usize {
        STARTED.load(Ordering::SeqCst)
    }

    /// How many times [`shared`](Self::shared) started one (at most once,
    /// unless starting failed).
    pub fn shared_starts() -> usize {
        SHARED_STARTS.load(Ordering::SeqCst)
    }

    async fn try_start() -> Result<Self, String> {
        ensure_installed().await?;
        let node = std::env::var("NODE").unwrap_or_else(|_| "node".to_owned());
        let script = harness_dir().join("server.mjs");
        let spawned_at = Instant::now();
        let mut child = Command::new(&node)
            .arg(&script)
            .current_dir(harness_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run `{node} {}`: {e}. The OAuth harness needs Node.js >= 20.18 \
                     (Debian's nodejs), or NODE set to its path",
                    script.display()
                )
            })?;
        STARTED.fetch_add(1, Ordering::SeqCst);
        let pid = child.id().unwrap_or_default();
        let log = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(keep_lines(
            child.stderr.take().expect("stderr"),
            log.clone(),
        ));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();

        let ready = tokio::time::timeout(START_TIMEOUT, async {
            // The ready line is the first line of JSON; anything else is noise.
            while let Some(line) = stdout.next_line().await.map_err(|e| e.to_string())? {
                if let Ok(ready @ Value::Object(_)) = serde_json::from_str::<Value>(&line) {
                    return Ok(ready);
                }
                push_line(&log, format!("stdout: {line}"));
            }
            Err("it exited before its ready line".to_owned())
        })
        .await
        .unwrap_or_else(|_| Err(format!("no ready line within {START_TIMEOUT:?}")));
        let startup = spawned_at.elapsed();
        let ready = match ready {
            Ok(ready) => ready,
            Err(why) => {
                let _ = child.start_kill();
                // Its last words, if any, before the message.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Err(format!(
                    "the OAuth harness (`{node} {}`) did not start: {why}; its stderr:\n{}",
                    script.display(),
                    log_text(&log)
                ));
            }
        };
        // Nothing more is expected on stdout; read it anyway, so that a stray
        // print never blocks the server on a full pipe.
        let stdout_log = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                push_line(&stdout_log, format!("stdout: {line}"));
            }
        });
        let field = |name: &str| -> Result<String, String> {
            ready[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("the ready line {ready} has no string `{name}`"))
        };
        Ok(Self {
            issuer: field("issuer")?,
            jwks_uri: field("jwks_uri")?,
            control: field("control")?,
            pid,
            startup,
            log,
            stdin: child.stdin.take(),
            child,
        })
    }

    /// `http://127.0.0.1:<port>`, the `iss` of its tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Its JWK Set: the keys of its access tokens.
    pub fn jwks_uri(&self) -> &str {
        &self.jwks_uri
    }

    /// The provider's JWK Set, fetched over HTTP, as a resource server
    /// configures it.
    pub async fn key_set(&self) -> tower_jwt_auth::KeySet {
        let request = Request::get(self.jwks_uri())
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let reply = super::send(request).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        tower_jwt_auth::KeySet::from_json(&reply.body).expect("the provider's JWK Set")
    }

    /// The control API's base URL.
    pub fn control_url(&self) -> &str {
        &self.control
    }

    /// The Node process's id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// From spawn to the ready line.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The last lines of the server's stderr (and any stray stdout).
    pub fn log(&self) -> String {
        log_text(&self.log)
    }

    /// A fresh key pair of `alg` and an access token bound to it, obtained
    /// with a DPoP proof of that key (and the provider's nonce).
    pub async fn dpop_token(&self, alg: DpopAlg) -> DpopToken {
        let answer = self
            .call(Method::POST, "/dpop-token", json!({ "alg": alg.as_str() }))
            .await;
        DpopToken {
            access_token: string(&answer, "access_token"),
            token_type: string(&answer, "token_type"),
            key: string(&answer, "key"),
            alg: string(&answer, "alg"),
            jkt: string(&answer, "jkt"),
            public_jwk: answer["public_jwk"].clone(),
        }
    }

    /// A DPoP proof made by the client library (see [`ProofRequest`]).
    pub async fn proof(&self, request: &ProofRequest) -> String {
        let body = serde_json::to_value(request).expect("a proof request is JSON");
        string(&self.call(Method::POST, "/proof", body).await, "proof")
    }

    /// An access token bound to the certificate `cert_pem` (which the harness
    /// passes as a TLS-terminating proxy would: in a header).
    pub async fn mtls_token(&self, cert_pem: &str) -> MtlsToken {
        let answer = self
            .call(Method::POST, "/mtls-token", json!({ "cert_pem": cert_pem }))
            .await;
        MtlsToken {
            access_token: string(&answer, "access_token"),
            x5t_s256: string(&answer, "x5t#S256"),
        }
    }

    /// A plain (unbound) access token for [`AUDIENCE`].
    pub async fn bearer_token(&self) -> String {
        string(
            &self.call(Method::POST, "/bearer-token", json!({})).await,
            "access_token",
        )
    }

    /// An opaque access token for the harness's `opaque_audience`, with
    /// `scope` ("read", "write", "read write") if given: the kind the
    /// provider's introspection endpoint answers for.
    pub async fn opaque_token(&self, scope: Option<&str>) -> String {
        let mut body = json!({ "resource": "https://opaque.api.test" });
        if let Some(scope) = scope {
            body["scope"] = json!(scope);
        }
        string(
            &self.call(Method::POST, "/bearer-token", body).await,
            "access_token",
        )
    }

    /// Revokes a token of [`bearer_token`](Self::bearer_token) or
    /// [`opaque_token`](Self::opaque_token) at the provider (RFC 7009).
    pub async fn revoke(&self, token: &str) {
        self.call(Method::POST, "/revoke", json!({ "token": token }))
            .await;
    }

    /// How many requests reached the provider's introspection endpoint.
    pub async fn introspection_requests(&self) -> u64 {
        self.counts().await["introspection_requests"]
            .as_u64()
            .expect("introspection_requests in /counts")
    }

    /// The harness's counters (`GET /counts`).
    pub async fn counts(&self) -> Value {
        self.call(Method::GET, "/counts", json!({})).await
    }

    /// Endpoints, audiences and the introspection client (`GET /info`).
    pub async fn info(&self) -> Value {
        self.call(Method::GET, "/info", json!({})).await
    }

    /// Any control request; panics unless it answers 200.
    pub async fn call(&self, method: Method, path: &str, body: Value) -> Value {
        match self.try_call(method.clone(), path, body).await {
            Ok(answer) => answer,
            Err((status, answer)) => panic!(
                "OAuth harness: {method} {path} answered {status}: {answer}; its stderr:\n{}",
                self.log()
            ),
        }
    }

    /// Any control request: the answer of a 200, else its status and answer.
    pub async fn try_call(
        &self,
        method: Method,
        path: &str,
        body: Value,
    ) -> Result<Value, (StatusCode, Value)> {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.control))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("a control request");
        let reply = super::send(request).await;
        let answer = serde_json::from_slice(&reply.body).unwrap_or_else(|_| json!(reply.text()));
        if reply.status == StatusCode::OK {
            Ok(answer)
        } else {
            Err((reply.status, answer))
        }
    }

    /// Closes the server's stdin, as a test process that dies does, and waits
    /// (at most `timeout`) for it to exit; `None` if it did not.
    pub async fn close_stdin(mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        drop(self.stdin.take());
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

impl std::fmt::Debug for OauthProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OauthProvider")
            .field("issuer", &self.issuer)
            .field("control", &self.control)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// tests/oauth.
fn harness_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oauth")
}

/// Runs scripts/oauth_harness.sh (which runs `npm ci` when needed) once per
/// process; its failure is every caller's.
async fn ensure_installed() -> Result<(), String> {
    static INSTALLED: OnceCell<Result<(), String>> = OnceCell::const_new();
    INSTALLED
        .get_or_init(|| async {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/oauth_harness.sh");
            let run = Command::new("bash")
                .arg(&script)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output();
            match tokio::time::timeout(INSTALL_TIMEOUT, run).await {
                Err(_) => Err(format!(
                    "{} did not finish within {INSTALL_TIMEOUT:?}",
                    script.display()
                )),
                Ok(Err(e)) => Err(format!("cannot run bash {}: {e}", script.display())),
                Ok(Ok(output)) if output.status.success() => Ok(()),
                Ok(Ok(output)) => Err(format!(
                    "the OAuth harness could not be installed ({}, {}): {}{}",
                    script.display(),
                    output.status,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr),
                )),
            }
        })
        .await
        .clone()
}

/// Keeps the last `LOG_LINES` lines of `pipe` in `log`.
async fn keep_lines(pipe: impl AsyncRead + Unpin, log: Arc<Mutex<Vec<String>>>) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        push_line(&log, line);
    }
}

fn push_line(log: &Mutex<Vec<String>>, line: String) {
    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
    if log.len() == LOG_LINES {
        log.remove(0);
    }
    log.push(line);
}

fn log_text(log: &Mutex<Vec<String>>) -> String {
    log.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
}

/// `answer[name]`, a string.
fn string(answer: &Value, name: &str) -> String {
    answer[name]
        .as_str()
        .unwrap_or_else(|| panic!("OAuth harness: no string `{name}` in {answer}"))
        .to_owned()
}
