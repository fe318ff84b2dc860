//! The seed application, live, beside its port (`examples/custom_error.rs`):
//! every request goes to both, and status, `Content-Type` and JSON body must
//! be the same. The seed is the reference, not a copy of its strings: its own
//! `valid_token` and `create_token` run in Flask with Debian's PyJWT 2.6
//! (tests/seed/app.py), and the tokens come from its side too (PyJWT, the
//! seed's `create_token`, tests/seed/sign.py), or are made here by hand (the
//! empty, garbled, tampered and `alg: none` ones).
//!
//! The port runs in this process, as the example's own `app` on a real axum
//! server on 127.0.0.1: the example file is compiled into this test, so the
//! test always runs the code of this checkout with the features of this run,
//! not an example binary that may be stale or missing (`cargo test --test
//! seed_app` builds no examples). Both servers start once per test binary.
//!
//! Where the port knowingly differs from the seed, the example's docs say so,
//! and [`the_documented_differences_hold`] checks that each still does and
//! that the port answers as documented.
//!
//! Needs `/usr/bin/python3` with Debian's `python3-flask` and `python3-jwt`
//! (`.ci/run` installs them).

#[path = "../examples/custom_error.rs"]
#[allow(dead_code)]
mod custom_error;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The seed's `salt`: not ASCII, to show that both take its UTF-8 bytes.
const SECRET: &str = "the seed's salt, sälzig ✓ 0123456789";
const PYTHON: &str = "/usr/bin/python3";
/// How long any answer or start-up may take.
const TIMEOUT: Duration = Duration::from_secs(20);
const FORM: &str = "application/x-www-form-urlencoded";

// ---------------------------------------------------------------------------
// The two servers, once per test binary.
// ---------------------------------------------------------------------------

struct Servers {
    seed: SocketAddr,
    port: SocketAddr,
    /// The Flask process; it exits when this process closes its stdin.
    _child: Mutex<Child>,
}

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed")
}

fn servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let (child, seed) = start_seed();
        Servers {
            seed,
            port: start_port(),
            _child: Mutex::new(child),
        }
    })
}

/// Starts tests/seed/app.py and waits for its `listening on <port>`.
fn start_seed() -> (Child, SocketAddr) {
    let mut child = Command::new(PYTHON)
        .arg(seed_dir().join("app.py"))
        .env("JWT_SECRET", SECRET)
        .env("SEED_EXIT_ON_EOF", "1")
        // The documented differences include requests the seed crashes on.
        .env("SEED_QUIET", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        let _ = sender.send(first);
        // Keep reading, so that the app never blocks on a full pipe.
        for _ in lines {}
    });
    let line = receiver.recv_timeout(TIMEOUT).ok().flatten();
    let port = line
        .as_deref()
        .and_then(|line| line.strip_prefix("listening on "))
        .and_then(|port| port.parse::<u16>().ok())
        .unwrap_or_else(|| {
            let _ = child.kill();
            panic!(
                "the seed app did not start (got {line:?}; its error is above): it needs \
                 Debian's python3-flask and python3-jwt for {PYTHON} \
                 (apt-get install python3-flask python3-jwt; .ci/run does)"
            )
        });
    (child, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Serves the example's app on 127.0.0.1:0, on a runtime of its own that
/// lives as long as the test binary.
fn start_port() -> SocketAddr {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let app = custom_error::app(SECRET.as_bytes()).expect("the port's layer");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            sender
                .send(listener.local_addr().expect("address"))
                .unwrap();
            axum::serve(listener, app).await.expect("serve");
        });
    });
    receiver.recv_timeout(TIMEOUT).expect("the port started")
}

// ---------------------------------------------------------------------------
// Requests and answers, over raw HTTP/1.1.
// ---------------------------------------------------------------------------

/// One request to `/api/me`.
#[derive(Clone, Debug)]
struct Req {
    method: &'static str,
    /// `?...`, or empty.
    query: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
}

impl Req {
    fn get() -> Self {
        Self {
            method: "GET",
            query: String::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    fn post() -> Self {
        Self {
            method: "POST",
            ..Self::get()
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self.header("content-type", content_type)
    }

    /// A POST of the urlencoded `body`, as given.
    fn form(body: impl Into<Vec<u8>>) -> Self {
        Self::post().body(FORM, body)
    }

    /// A POST of the form `token=<token>`, encoded as a browser does.
    fn token(token: &str) -> Self {
        Self::form(format!("token={}", urlencode(token)))
    }
}

fn urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A `multipart/form-data` body of `(name, file name, value)` parts.
fn multipart(parts: &[(&str, Option<&str>, &str)]) -> Req {
    const BOUNDARY: &str = "seed-boundary-7MA4YWxkTrZu0gW";
    let mut body = String::new();
    for (name, file_name, value) in parts {
        body.push_str(&format!("--{BOUNDARY}\r\n"));
        match file_name {
            Some(file) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                 Content-Type: text/plain\r\n"
            )),
            None => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"\r\n"
            )),
        }
        body.push_str(&format!("\r\n{value}\r\n"));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    Req::post().body(&format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// What a client of the seed sees.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    content_type: String,
    /// The body as JSON when it is JSON, else its text.
    body: Value,
}

fn send(addr: SocketAddr, request: &Req) -> Answer {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    let mut head = format!(
        "{} /api/me{} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n",
        request.method, request.query
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = &request.body {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(request.body.as_deref().unwrap_or_default());
    // A server that answers before it has read the whole body (`413`) may
    // close the connection on the rest: what it answered still counts.
    let sent = stream.write_all(&bytes);
    let mut response = Vec::new();
    let read = stream.read_to_end(&mut response);
    if response.is_empty() {
        panic!("no answer from {addr}: sending {sent:?}, reading {read:?}");
    }
    parse(&response)
}

fn parse(response: &[u8]) -> Answer {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {response:?}"));
    let head = std::str::from_utf8(&response[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let mut content_type = String::new();
    let mut chunked = false;
    for line in lines {
        let (name, value) = line.split_once(':').expect("header line");
        match name.to_ascii_lowercase().as_str() {
            "content-type" => content_type = value.trim().to_owned(),
            "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let mut body = response[end + 4..].to_vec();
    if chunked {
        body = dechunk(&body);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        content_type,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = std::str::from_utf8(&data[..line_end]).expect("ASCII size");
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).expect("hex");
        if size == 0 {
            return body;
        }
        let start = line_end + 2;
        body.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

// ---------------------------------------------------------------------------
// Tokens.
// ---------------------------------------------------------------------------

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// Makes the tokens of `specs` (see tests/seed/sign.py) in one run of PyJWT.
fn sign(specs: &[Value]) -> Vec<String> {
    let mut child = Command::new(PYTHON)
        .arg(seed_dir().join("sign.py"))
        .env("JWT_SECRET", SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(Value::from(specs).to_string().as_bytes())
        .unwrap();
    drop(stdin);
    let output = child.wait_with_output().expect("sign.py");
    assert!(output.status.success(), "sign.py failed (see above)");
    let tokens: Vec<String> = serde_json::from_slice(&output.stdout).expect("a JSON list");
    assert_eq!(tokens.len(), specs.len());
    tokens
}

/// The seed's `create_token(claims, timeout)`.
fn create_token(claims: Value, timeout_minutes: i64) -> Value {
    json!({ "create_token": claims, "timeout": timeout_minutes })
}

/// PyJWT's `jwt.encode(claims, salt)`.
fn encode(claims: Value) -> Value {
    json!({ "encode": claims })
}

/// HMAC-SHA256 over header and claims given as JSON text, whatever they say.
fn hmac(header: &str, claims: &str) -> Value {
    json!({ "hmac": { "header": header, "claims": claims } })
}

fn b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

/// A case: its name, and the request.
type Case = (&'static str, Req);

/// Makes a case's request of its token.
type MakeRequest = Box<dyn Fn(&str) -> Req>;

/// Builds the requests of the cases whose tokens PyJWT makes, once for all.
struct Signed {
    names: Vec<&'static str>,
    specs: Vec<Value>,
    requests: Vec<MakeRequest>,
}

impl Signed {
    fn new() -> Self {
        Self {
            names: Vec::new(),
            specs: Vec::new(),
            requests: Vec::new(),
        }
    }

    /// The case `name`: the token of `spec` in the form field `token`.
    fn add(&mut self, name: &'static str, spec: Value) -> &mut Self {
        self.with(name, spec, Req::token)
    }

    /// The case `name`: `request` made of the token of `spec`.
    fn with(
        &mut self,
        name: &'static str,
        spec: Value,
        request: impl Fn(&str) -> Req + 'static,
    ) -> &mut Self {
        self.names.push(name);
        self.specs.push(spec);
        self.requests.push(Box::new(request));
        self
    }

    fn cases(self) -> Vec<Case> {
        let tokens = sign(&self.specs);
        self.names
            .into_iter()
            .zip(tokens)
            .zip(self.requests)
            .map(|((name, token), request)| (name, request(&token)))
            .collect()
    }
}

/// A valid token of PyJWT's, and its parts.
fn valid_token() -> String {
    sign(&[encode(json!({ "sub": "ada", "exp": now() + 3600 }))]).remove(0)
}

// ---------------------------------------------------------------------------
// The comparison.
// ---------------------------------------------------------------------------

/// Every case answered alike by the seed and the port; the failures, all
/// listed together.
fn compare(cases: &[Case]) -> Vec<String> {
    let servers = servers();
    let mut failures = Vec::new();
    for (name, request) in cases {
        let seed = send(servers.seed, request);
        let port = send(servers.port, request);
        if seed != port {
            failures.push(format!("{name}:\n  seed {seed:?}\n  port {port:?}"));
        }
    }
    failures
}

fn the_token_cases() -> Vec<Case> {
    let now = now();
    let mut signed = Signed::new();
    signed
        // The seed's own tokens, as its clients hold them.
        .add(
            "create_token, valid (its default timeout, 1 minute)",
            create_token(
                json!({ "data": { "name": "SmallStars", "authority": "0" } }),
                1,
            ),
        )
        .add(
            "create_token, expired a minute ago (timeout -1)",
            create_token(json!({ "data": { "name": "SmallStars" } }), -1),
        )
        .add(
            "create_token, expiring now (timeout 0)",
            create_token(json!({ "user": 7 }), 0),
        )
        // Time.
        .add(
            "PyJWT, valid for an hour",
            encode(json!({ "sub": "ada", "exp": now + 3600 })),
        )
        .add("no exp: not required", encode(json!({ "sub": "ada" })))
        .add(
            "expired 30 s ago: no leeway",
            encode(json!({ "sub": "ada", "exp": now - 30 })),
        )
        .add(
            "a fractional exp in the past",
            encode(json!({ "exp": now as f64 - 10.5 })),
        )
        .add("exp not a number", encode(json!({ "exp": "soon" })))
        .add(
            "exp an object-like string",
            encode(json!({ "exp": "1e9x" })),
        )
        .add("nbf in the future", encode(json!({ "nbf": now + 3600 })))
        .add(
            "nbf in the past",
            encode(json!({ "nbf": now - 60, "exp": now + 60 })),
        )
        .add("nbf not a number", encode(json!({ "nbf": "later" })))
        .add("iat in the future", encode(json!({ "iat": now + 3600 })))
        .add("iat in the past", encode(json!({ "iat": now - 60 })))
        .add("iat not a number", encode(json!({ "iat": "then" })))
        // Audience, issuer, subject: none is expected.
        .add(
            "aud without an audience",
            encode(json!({ "aud": "my-api" })),
        )
        .add("aud, a list", encode(json!({ "aud": ["a", "b"] })))
        .add("aud of another type", encode(json!({ "aud": 5 })))
        .add(
            "iss and sub strings",
            encode(json!({ "iss": "me", "sub": "ada" })),
        )
        // Claims.
        .add("empty claims: `if not payload`", encode(json!({})))
        .add(
            "the seed note's claims",
            encode(json!({ "data": { "name": "SmallStars", "authority": "0" }, "exp": now + 60 })),
        )
        .add("claims a JSON list", hmac(r#"{"alg":"HS256"}"#, "[1]"))
        .add("header a JSON list", hmac(r#"["HS256"]"#, r#"{"a":1}"#))
        .add("claims a JSON string", hmac(r#"{"alg":"HS256"}"#, r#""x""#))
        .add("claims not JSON", hmac(r#"{"alg":"HS256"}"#, "nope"))
        // Algorithms and headers.
        .add(
            "HS512 with the same secret",
            json!({ "encode": { "sub": "ada" }, "algorithm": "HS512" }),
        )
        .add(
            "HS384 with the same secret",
            json!({ "encode": { "sub": "ada" }, "algorithm": "HS384" }),
        )
        .add(
            "alg HS2: `alg in 'HS256'`, then unknown",
            hmac(r#"{"alg":"HS2"}"#, "{}"),
        )
        .add(
            "alg 256: `alg in 'HS256'`, then unknown",
            hmac(r#"{"alg":"256"}"#, "{}"),
        )
        .add("alg empty", hmac(r#"{"alg":""}"#, r#"{"a":1}"#))
        .add(
            "alg ES256 signed with HMAC",
            hmac(r#"{"alg":"ES256"}"#, r#"{"a":1}"#),
        )
        .add(
            "header a JSON object in a list",
            hmac(r#"[{"alg":"HS256"}]"#, r#"{"a":1}"#),
        )
        .add("header not JSON", hmac("HS256", r#"{"a":1}"#))
        .add(
            "a kid the key does not have",
            json!({ "encode": { "sub": "ada" }, "headers": { "kid": "k-1" } }),
        )
        .add(
            "typ JWT",
            json!({ "encode": { "sub": "ada" }, "headers": { "typ": "JWT" } }),
        )
        .add(
            "crit",
            hmac(r#"{"alg":"HS256","crit":["exp"]}"#, r#"{"a":1}"#),
        )
        .add(
            "another secret",
            json!({ "encode": { "sub": "ada" }, "key": "not the seed's salt" }),
        )
        // Requests around a valid token.
        .with(
            "a form with other fields around token",
            encode(json!({ "sub": "ada" })),
            |token| {
                Req::form(format!(
                    "name=ada&token={}&note=hi%21+there",
                    urlencode(token)
                ))
            },
        )
        .with(
            "a percent-encoded field name",
            encode(json!({ "sub": "ada" })),
            |token| Req::form(format!("tok%65n={token}")),
        )
        .with(
            "urlencoded with a charset",
            encode(json!({ "sub": "ada" })),
            |token| {
                Req::post().body(
                    "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
                    format!("token={token}"),
                )
            },
        )
        .with("a form on GET", encode(json!({ "sub": "ada" })), |token| {
            Req::get().body(FORM, format!("token={token}"))
        })
        .with(
            "the token in a JSON body",
            encode(json!({ "sub": "ada" })),
            |token| Req::post().body("application/json", json!({ "token": token }).to_string()),
        )
        .with(
            "the token in a text/plain body",
            encode(json!({ "sub": "ada" })),
            |token| Req::post().body("text/plain", format!("token={token}")),
        )
        .with(
            "the token in the query string",
            encode(json!({ "sub": "ada" })),
            |token| Req {
                query: format!("?token={token}"),
                ..Req::post()
            },
        );
    let mut cases = signed.cases();

    // By hand.
    let valid = valid_token();
    let [header, claims, signature] = valid.split('.').collect::<Vec<_>>()[..] else {
        panic!("three segments")
    };
    let tampered = format!(
        "{header}.{}.{signature}",
        b64(&json!({ "sub": "eve", "exp": now + 3600 }).to_string())
    );
    let unsigned = |alg: &str| {
        format!(
            "{}.{}.",
            b64(&json!({ "alg": alg, "typ": "JWT" }).to_string()),
            b64(&json!({ "sub": "eve", "exp": now + 3600 }).to_string())
        )
    };
    cases.extend([
        ("tampered payload", Req::token(&tampered)),
        ("alg none", Req::token(&unsigned("none"))),
        ("alg None", Req::token(&unsigned("None"))),
        (
            "signature removed",
            Req::token(&format!("{header}.{claims}.")),
        ),
        ("garbled", Req::token("garbage")),
        ("two segments", Req::token(&format!("{header}.{claims}"))),
        ("four segments", Req::token(&format!("{valid}.{signature}"))),
        (
            "a space in the token (+)",
            Req::form(format!("token={header}+{claims}")),
        ),
        ("empty token", Req::form("token=")),
        (
            "empty token among other fields",
            Req::form("a=1&token=&b=2"),
        ),
        ("token without =", Req::form("a=1&token")),
        ("a bad escape in the token field", Req::form("token=abc%zz")),
        (
            "invalid UTF-8 in the token field",
            Req::form("token=%FF%FE"),
        ),
        ("no token field", Req::form("name=ada&note=hi")),
        ("an empty form", Req::form("")),
        ("POST without a body", Req::post()),
        ("GET without anything", Req::get()),
        ("a JSON body", Req::post().body("application/json", "{}")),
    ]);
    cases
}

#[test]
fn the_port_answers_as_the_seed() {
    let cases = the_token_cases();
    assert!(cases.len() > 50, "{} cases", cases.len());
    let failures = compare(&cases);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[cfg(feature = "multipart")]
#[test]
fn multipart_forms_are_answered_as_the_seed() {
    let valid = valid_token();
    let cases: Vec<Case> = vec![
        (
            "multipart, the token",
            multipart(&[("token", None, &valid)]),
        ),
        (
            "multipart, the token among other fields",
            multipart(&[
                ("name", None, "ada"),
                ("token", None, &valid),
                ("n", None, "2"),
            ]),
        ),
        (
            "multipart, a garbled token",
            multipart(&[("token", None, "garbage")]),
        ),
        (
            "multipart, an empty token",
            multipart(&[("token", None, "")]),
        ),
        (
            "multipart, no token field",
            multipart(&[("name", None, "ada")]),
        ),
        (
            "multipart, an empty file named token",
            multipart(&[("token", Some("t.txt"), "")]),
        ),
        (
            "multipart, a broken body",
            Req::post().body("multipart/form-data; boundary=xyz", "--xyz\r\nbroken"),
        ),
    ];
    let failures = compare(&cases);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------
// Where the port differs, as its docs say.
// ---------------------------------------------------------------------------

/// The port's answer in the example's docs: `{"code": 1003, "error": <message>}`
/// (`1002` for `None`), with `status`.
fn documented(status: u16, message: Option<&str>) -> Answer {
    Answer {
        status,
        content_type: "application/json".to_owned(),
        body: match message {
            Some(message) => json!({ "code": 1003, "error": message }),
            None => json!({ "code": 1002 }),
        },
    }
}

#[test]
fn the_documented_differences_hold() {
    const FAILED: Option<&str> = Some("Token validation failed");
    const INVALID: Option<&str> = Some("Token is invalid");
    const TIMEOUT: Option<&str> = Some("Token is timeout");
    let now = now();
    let valid = valid_token();
    let mut signed = Signed::new();
    signed
        .add(
            "exp a numeric string",
            encode(json!({ "exp": (now + 3600).to_string() })),
        )
        .add(
            "nbf a numeric string",
            encode(json!({ "nbf": (now - 60).to_string() })),
        )
        .add("sub a number", encode(json!({ "sub": 42 })))
        .add("iss a number", encode(json!({ "iss": 42 })))
        .add("aud empty", encode(json!({ "aud": "" })))
        .add("aud an empty list", encode(json!({ "aud": [] })))
        .add("iat true", encode(json!({ "iat": true })))
        .add("exp true", encode(json!({ "exp": true })))
        .add("exp null", encode(json!({ "exp": null })))
        .add("iat a list", encode(json!({ "iat": [1] })))
        .add("iat a numeric string", encode(json!({ "iat": "123" })))
        .add("alg a number", hmac(r#"{"alg":1}"#, "{}"))
        .add("no alg", hmac(r#"{"typ":"JWT"}"#, r#"{"a":1}"#))
        .add(
            "kid a number",
            hmac(r#"{"alg":"HS256","kid":1}"#, r#"{"a":1}"#),
        )
        .add(
            "typ a number",
            hmac(r#"{"alg":"HS256","typ":1}"#, r#"{"a":1}"#),
        )
        .add(
            "crit b64",
            hmac(r#"{"alg":"HS256","crit":["b64"],"b64":true}"#, r#"{"a":1}"#),
        )
        .add(
            "exp given twice",
            hmac(
                r#"{"alg":"HS256"}"#,
                &format!(r#"{{"exp":1,"exp":{}}}"#, now + 3600),
            ),
        )
        .add(
            "alg given twice",
            hmac(r#"{"alg":"none","alg":"HS256"}"#, r#"{"a":1}"#),
        )
        .add(
            "expired and nbf in the future",
            encode(json!({ "exp": now - 30, "nbf": now + 3600 })),
        )
        .add(
            "expired and iat in the future",
            encode(json!({ "exp": now - 30, "iat": now + 3600 })),
        );
    let differences: Vec<(Case, Answer)> = signed
        .cases()
        .into_iter()
        .zip([
            documented(200, FAILED),
            documented(200, FAILED),
            documented(200, INVALID),
            documented(200, INVALID),
            documented(200, INVALID),
            documented(200, INVALID),
            documented(200, INVALID),
            documented(200, FAILED),
            documented(200, None),
            documented(200, INVALID),
            documented(200, INVALID),
            documented(200, FAILED),
            documented(200, FAILED),
            documented(200, FAILED),
            documented(200, FAILED),
            documented(200, INVALID),
            documented(200, FAILED),
            documented(200, FAILED),
            documented(200, TIMEOUT),
            documented(200, TIMEOUT),
        ])
        .chain([
            (
                ("a padded signature", Req::token(&format!("{valid}=="))),
                documented(200, FAILED),
            ),
            (
                (
                    "characters base64 ignores",
                    Req::token(&format!("{valid}!!!!")),
                ),
                documented(200, FAILED),
            ),
            (
                (
                    "two token fields, the first valid",
                    Req::form(format!("token={valid}&token=garbage")),
                ),
                documented(400, INVALID),
            ),
            (
                (
                    "two token fields, the first empty",
                    Req::form(format!("token=&token={valid}")),
                ),
                documented(200, None),
            ),
            (
                (
                    "a form over the 64 KiB limit",
                    Req::form(format!(
                        "token={valid}&pad={}",
                        "x".repeat(tower_jwt_auth::DEFAULT_FORM_LIMIT)
                    )),
                ),
                documented(413, FAILED),
            ),
            (
                (
                    "a bearer header (the addition)",
                    Req::post().header("authorization", format!("Bearer {valid}")),
                ),
                documented(200, None),
            ),
        ])
        .collect();
    let differences: Vec<(Case, Answer)> = differences
        .into_iter()
        .chain(multipart_differences(&valid))
        .collect();

    let servers = servers();
    let mut failures = Vec::new();
    for ((name, request), expected) in &differences {
        let seed = send(servers.seed, request);
        let port = send(servers.port, request);
        if port != *expected {
            failures.push(format!(
                "{name}: the port answers {port:?}, not {expected:?}"
            ));
        }
        if seed == port {
            failures.push(format!(
                "{name}: the seed now answers as the port ({seed:?}): not a difference any more"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The multipart differences of this build.
fn multipart_differences(valid: &str) -> Vec<(Case, Answer)> {
    let login = Some("Please login in");
    if cfg!(feature = "multipart") {
        vec![(
            (
                "multipart, a file named token",
                multipart(&[("token", Some("token.txt"), valid)]),
            ),
            documented(200, None),
        )]
    } else {
        vec![(
            (
                "multipart, without the multipart feature",
                multipart(&[("token", None, valid)]),
            ),
            documented(200, login),
        )]
    }
}

// ---------------------------------------------------------------------------
// The copy of the seed.
// ---------------------------------------------------------------------------

/// tests/seed/app.py holds the seed's two functions as the seed note has them,
/// when the note is at hand (beside the repository, as in the project's
/// workspace; a fresh clone has no note, and nothing to compare).
#[test]
fn the_seed_app_holds_the_seeds_code_verbatim() {
    let note =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds/000_140d1c6f3ad14e65.txt");
    let Ok(note) = std::fs::read_to_string(&note) else {
        eprintln!("no seed note at {}: nothing to compare", note.display());
        return;
    };
    let app = std::fs::read_to_string(seed_dir().join("app.py")).unwrap();
    let copy = app
        .split("# --- verbatim from the seed: begin")
        .nth(1)
        .and_then(|rest| rest.split("# --- verbatim from the seed: end").next())
        .expect("the markers");
    // The note's code blocks, unindented (they sit in a Markdown list).
    let blocks: Vec<String> = note
        .split("```python\n")
        .skip(1)
        .map(|block| {
            let code = block.split("```").next().unwrap();
            code.lines()
                .map(|line| line.strip_prefix("  ").unwrap_or(line).trim_end())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    assert_eq!(blocks.len(), 2, "create_token and valid_token");
    let normalize = |code: &str| {
        code.lines()
            .map(str::trim_end)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let copy = normalize(copy.split_once('\n').unwrap().1);
    let expected = blocks
        .iter()
        .map(|b| normalize(b))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(copy, expected);
}
