//! A WebSocket behind [`JwtAuthLayer`], closed when its token expires or is
//! revoked.
//!
//! A browser cannot set `Authorization` on a WebSocket, so the token comes in
//! the subprotocol list, Kubernetes' way, beside the protocol the page speaks:
//!
//! ```js
//! const b64url = btoa(token).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
//! new WebSocket("ws://127.0.0.1:3006/ws", ["chat", "base64url.bearer.authorization.k8s.io." + b64url]);
//! ```
//!
//! or, for clients without subprotocols, in the query (`/ws?access_token=`).
//! The layer verifies it before the upgrade (no token or a bad one: `401`, no
//! `101`), removes its entry from `Sec-WebSocket-Protocol` (the handler's
//! `protocols(["chat"])` can only choose `chat`), and hands the handler the
//! token's [`TokenExpiry`]. The handler echoes messages until the token
//! expires, then sends a close frame (1008, "token expired"); every 2 s it
//! also asks the revocation store whether the token was revoked
//! (`POST /logout` with the token revokes it), and closes with
//! "token revoked".
//!
//! ```sh
//! cargo run --example websocket
//! ```
//!
//! It listens on `WS_ADDR` (default `127.0.0.1:3006`), signs tokens with the
//! bytes of `JWT_SECRET` (or an embedded example secret), and prints a token
//! valid for a minute with commands to try. With `--self-test` it connects
//! with tokio-tungstenite and checks the answers (accepted with `chat`,
//! refused before the upgrade, closed at expiry, closed on revocation), then
//! exits: the gate runs it that way.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::{SinkExt as _, StreamExt as _};
use http::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tower_jwt_auth::{
    Claims, JwtAuthLayer, Key, MemoryRevocations, Revocation, RevocationStore as _, TokenExpiry,
    TokenInfo, TokenIssuer, TokenSource,
};

const DEFAULT_ADDR: &str = "127.0.0.1:3006";
/// The example's HS256 secret when `JWT_SECRET` is unset: public, so for
/// trying the example only.
const EXAMPLE_SECRET: &str = "websocket-example-secret-of-32-bytes+";
/// How often an open connection asks whether its token was revoked.
const RECHECK: Duration = Duration::from_secs(2);
/// The subprotocol prefix of [`TokenSource::websocket_protocol`].
const TOKEN_PROTOCOL: &str = "base64url.bearer.authorization.k8s.io.";

#[derive(Clone)]
struct App {
    store: MemoryRevocations,
    revocation: Revocation,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_jwt_auth=debug".into()),
        )
        .init();
    let self_test = std::env::args().any(|a| a == "--self-test");
    let secret = match std::env::var("JWT_SECRET") {
        Ok(secret) if !secret.is_empty() && !self_test => secret,
        _ => EXAMPLE_SECRET.to_owned(),
    };

    let store = MemoryRevocations::new();
    let revocation = Revocation::new(store.clone());
    let auth = JwtAuthLayer::<Value>::builder()
        .key(Key::hmac(&secret))
        .source(TokenSource::bearer())
        .source(TokenSource::websocket_protocol())
        // For WebSocket clients that cannot send subprotocols either.
        .source(TokenSource::query("access_token"))
        .token_expiry(true)
        .revocation(revocation.clone())
        .build()?;
    let app = Router::new()
        .route("/ws", get(upgrade))
        .route("/logout", post(logout))
        .route_layer(auth)
        .with_state(App { store, revocation });

    let addr: SocketAddr = if self_test {
        "127.0.0.1:0".parse()?
    } else {
        let addr = std::env::var("WS_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.into());
        addr.parse().map_err(|e| {
            format!("WS_ADDR={addr:?} is not an address such as {DEFAULT_ADDR}: {e}")
        })?
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let issuer = TokenIssuer::hmac(&secret).build()?;

    if self_test {
        let result = self_check(&issuer, addr).await;
        server.abort();
        result?;
        println!("self-test passed");
        return Ok(());
    }
    let token = issuer.issue_with_ttl(&json!({ "sub": "ada" }), Duration::from_secs(60))?;
    println!("websocket listening on ws://{addr}/ws; a token valid for 60 s:");
    println!("  TOKEN={token}");
    println!("  websocat -v 'ws://{addr}/ws?access_token=$TOKEN'   # closed at expiry");
    println!(
        "  websocat -v --protocol 'chat, {TOKEN_PROTOCOL}{}' ws://{addr}/ws",
        URL_SAFE_NO_PAD.encode(&token)
    );
    println!(
        "  curl -i -X POST {addr}/logout -H \"authorization: Bearer $TOKEN\"   # closed within {RECHECK:?}"
    );
    println!("  curl -i http://{addr}/ws   # 401");
    server.await??;
    Ok(())
}

/// `GET /ws`: the upgrade, for an accepted token only (the layer refused the
/// others with 401 before this ran).
async fn upgrade(
    upgrade: WebSocketUpgrade,
    State(app): State<App>,
    Extension(Claims(claims)): Extension<Claims<Value>>,
    Extension(expiry): Extension<TokenExpiry>,
    Extension(token): Extension<TokenInfo>,
) -> Response {
    let user = claims["sub"].as_str().unwrap_or("someone").to_owned();
    // The token's entry is no longer in the list: only `chat` can be chosen.
    upgrade
        .protocols(["chat"])
        .on_upgrade(move |socket| echo(socket, user, expiry, token, app.revocation))
}

/// Echoes messages until the client leaves, the token expires, or it is
/// revoked; then closes with a reason.
async fn echo(
    mut socket: WebSocket,
    user: String,
    expiry: TokenExpiry,
    token: TokenInfo,
    revocation: Revocation,
) {
    // `None`: a token without `exp` (not with this layer, which requires it).
    let deadline = expiry
        .remaining()
        .and_then(|remaining| Instant::now().checked_add(remaining));
    let expired = async move {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expired);
    let mut recheck = tokio::time::interval_at(Instant::now() + RECHECK, RECHECK);
    let reason = loop {
        tokio::select! {
            () = &mut expired => break "token expired",
            _ = recheck.tick() => {
                if let Err(error) = revocation.check(token.clone()).await {
                    tracing::info!(%user, %error, "closing a WebSocket");
                    break "token revoked";
                }
            }
            message = socket.recv() => match message {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    if socket.send(message).await.is_err() {
                        return;
                    }
                }
                // Pings are answered by the WebSocket itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
            },
        }
    };
    let close = CloseFrame {
        code: close_code::POLICY,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(close))).await;
}

/// `POST /logout`: revokes the token that came with it; its open
/// connections close at their next check.
async fn logout(State(app): State<App>, Extension(token): Extension<TokenInfo>) -> StatusCode {
    match app.store.revoke(&token).await {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The checks of `--self-test`.
async fn self_check(issuer: &TokenIssuer, addr: SocketAddr) -> Result<(), String> {
    let url = format!("ws://{addr}/ws");
    let hour = issuer
        .issue_with_ttl(&json!({ "sub": "ada" }), Duration::from_secs(3600))
        .map_err(|e| e.to_string())?;

    // Accepted: the token in the subprotocol list, `chat` chosen, echoed.
    let (mut socket, response) = connect(&url, Some(&hour)).await?;
    check(
        response.status() == StatusCode::SWITCHING_PROTOCOLS,
        "101 with a token",
    )?;
    let protocol = response.headers().get("sec-websocket-protocol");
    check(
        protocol.is_some_and(|p| p == "chat"),
        "`chat` chosen, not the token",
    )?;
    socket
        .send(tungstenite::Message::text("hello"))
        .await
        .map_err(|e| e.to_string())?;
    let echoed = within(socket.next()).await?;
    check(
        matches!(&echoed, Some(Ok(tungstenite::Message::Text(t))) if t.as_str() == "hello"),
        "the message echoed",
    )?;
    println!("ok: accepted with `chat`, echoed");

    // Refused before the upgrade: 401, no 101.
    for (token, what) in [(None, "no token"), (Some("a.b.c"), "a forged token")] {
        match connect(&url, token).await {
            Err(error) if error.contains("401") => {}
            other => {
                return Err(format!(
                    "{what}: expected a 401, got {:?}",
                    other.map(|r| r.1)
                ));
            }
        }
    }
    println!("ok: no token and a forged one refused with 401, before the upgrade");

    // Closed at expiry: a token with `exp` two seconds ahead.
    let short = issuer
        .issue_with_ttl(&json!({ "sub": "ada" }), Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    let (socket, _) = connect(&format!("{url}?access_token={short}"), None).await?;
    expect_close(socket, "token expired").await?;
    println!("ok: closed at expiry (1008, \"token expired\")");

    // Closed on revocation: `POST /logout` with the token.
    let (socket, _) = connect(&url, Some(&hour)).await?;
    let mut logout = format!(
        "POST /logout HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {hour}\r\n\
         content-length: 0\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    let answer = raw_http(addr, &mut logout).await?;
    check(answer.starts_with("HTTP/1.1 204"), "logout answers 204")?;
    expect_close(socket, "token revoked").await?;
    println!("ok: closed on revocation (1008, \"token revoked\")");
    Ok(())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `url`, offering `chat` and, with `token`, its subprotocol entry.
async fn connect(
    url: &str,
    token: Option<&str>,
) -> Result<(Socket, tungstenite::handshake::client::Response), String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    let protocols = match token {
        Some(token) => format!("chat, {TOKEN_PROTOCOL}{}", URL_SAFE_NO_PAD.encode(token)),
        None => "chat".to_owned(),
    };
    request.headers_mut().insert(
        "sec-websocket-protocol",
        protocols.parse().map_err(|_| "a header value")?,
    );
    within(tokio_tungstenite::connect_async(request))
        .await?
        .map_err(|e| e.to_string())
}

/// Reads until the server's close frame, which must come within 10 s and
/// give `reason`.
async fn expect_close(mut socket: Socket, reason: &str) -> Result<(), String> {
    within(async {
        while let Some(message) = socket.next().await {
            if let Ok(tungstenite::Message::Close(Some(frame))) = message {
                let code = u16::from(frame.code);
                return check(
                    code == close_code::POLICY && frame.reason.as_str() == reason,
                    "the close frame's code and reason",
                );
            }
        }
        Err(format!(
            "the connection ended without a close frame ({reason})"
        ))
    })
    .await?
}

/// One HTTP/1.1 exchange on a fresh connection; the answer as text.
async fn raw_http(addr: SocketAddr, request: &mut Vec<u8>) -> Result<String, String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    within(async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        stream.write_all(request).await.map_err(|e| e.to_string())?;
        request.clear();
        stream
            .read_to_end(request)
            .await
            .map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(request).into_owned())
    })
    .await?
}

async fn within<T>(future: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .map_err(|_| "no answer within 10 s".to_owned())
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("failed: {what}"))
    }
}
