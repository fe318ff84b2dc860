//! WebSocket upgrades through a real axum server (`WebSocketUpgrade`) and a
//! real client (tokio-tungstenite): the token in the subprotocol list (never
//! echoed, never seen by the handler) or in the query, refusals before the
//! upgrade (no `101`), and a socket the server closes when its token expires.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::{SinkExt as _, StreamExt as _};
use http::header::{SEC_WEBSOCKET_PROTOCOL, WWW_AUTHENTICATE};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Error as WsError};
use tower_jwt_auth::{ConfigError, JwtAuthLayer, Key, TokenExpiry, TokenIssuer, TokenSource};

mod common;

use common::{TIMEOUT, serve_axum_for_the_binary};

const SECRET: &[u8] = b"websocket integration secret, 32";
const OTHER_SECRET: &[u8] = b"someone else's secret, 32 bytes!";
const PREFIX: &str = "base64url.bearer.authorization.k8s.io.";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn now() -> u64 {
    UNIX_EPOCH.elapsed().unwrap().as_secs()
}

/// A token of `secret` issued at `iat` (by the issuer's clock), valid `ttl`.
fn token_at(secret: &[u8], iat: u64, ttl: Duration) -> String {
    TokenIssuer::hmac(secret)
        .clock(move || iat)
        .build()
        .unwrap()
        .issue_with_ttl(&json!({ "sub": "ada" }), ttl)
        .unwrap()
}

fn token() -> String {
    token_at(SECRET, now(), Duration::from_secs(600))
}

/// The subprotocol entry that carries `token`.
fn entry(token: &str) -> String {
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(token))
}

/// `GET /ws`: sends the `Sec-WebSocket-Protocol` values it received (`|`
/// between headers, `-` for none) as its first message, echoes, and closes
/// with 1008 "token expired" at the token's `exp`.
async fn ws(
    upgrade: WebSocketUpgrade,
    headers: HeaderMap,
    Extension(expiry): Extension<TokenExpiry>,
) -> Response {
    let seen: Vec<_> = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect();
    let seen = if seen.is_empty() {
        "-".to_owned()
    } else {
        seen.join("|")
    };
    upgrade
        .protocols(["chat", "superchat"])
        .on_upgrade(move |socket| echo(socket, seen, expiry))
}

async fn echo(mut socket: WebSocket, seen: String, expiry: TokenExpiry) {
    if socket.send(Message::text(seen)).await.is_err() {
        return;
    }
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
    loop {
        tokio::select! {
            () = &mut expired => break,
            message = socket.recv() => match message {
                Some(Ok(message @ Message::Text(_))) => {
                    if socket.send(message).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
        }
    }
    let close = CloseFrame {
        code: close_code::POLICY,
        reason: "token expired".into(),
    };
    let _ = socket.send(Message::Close(Some(close))).await;
}

/// The server, once per test binary: `/ws` behind a layer with the
/// subprotocol source and the query as a fallback.
async fn server() -> SocketAddr {
    static SERVER: OnceCell<SocketAddr> = OnceCell::const_new();
    *SERVER
        .get_or_init(|| {
            serve_axum_for_the_binary(|| async {
                let layer = JwtAuthLayer::<Value>::builder()
                    .key(Key::hmac(SECRET))
                    .source(TokenSource::websocket_protocol())
                    .source(TokenSource::query("access_token"))
                    .token_expiry(true)
                    .build()
                    .expect("the layer");
                Router::new().route("/ws", get(ws)).route_layer(layer)
            })
        })
        .await
}

/// Opens `/ws<query>` offering `protocols` (none when empty).
async fn connect(
    query: &str,
    protocols: &[&str],
) -> Result<(Socket, tungstenite::handshake::client::Response), WsError> {
    let url = format!("ws://{}/ws{query}", server().await);
    let mut request = url.into_client_request().unwrap();
    for value in protocols {
        request
            .headers_mut()
            .append(SEC_WEBSOCKET_PROTOCOL, value.parse().unwrap());
    }
    tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request))
        .await
        .expect("a handshake in time")
}

/// The status of a handshake that must be refused before the upgrade, and
/// its `WWW-Authenticate`.
async fn refused(query: &str, protocols: &[&str]) -> (StatusCode, String) {
    match connect(query, protocols).await {
        Err(WsError::Http(response)) => {
            assert_ne!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
            let challenge = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (response.status(), challenge)
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok((_, response)) => panic!("upgraded ({}), expected a refusal", response.status()),
    }
}

/// The next text message, within `TIMEOUT`.
async fn next_text(socket: &mut Socket) -> String {
    let message = tokio::time::timeout(TIMEOUT, socket.next())
        .await
        .expect("a message in time");
    match message {
        Some(Ok(tungstenite::Message::Text(text))) => text.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_in_the_subprotocol_list_is_accepted_and_never_echoed() {
    let token = token();
    let list = format!("chat, {}, superchat", entry(&token));
    let (mut socket, response) = connect("", &[&list]).await.expect("an upgrade");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(response.headers()[SEC_WEBSOCKET_PROTOCOL], "chat");
    // The handler saw the other entries only.
    assert_eq!(next_text(&mut socket).await, "chat, superchat");
    socket.send(tungstenite::Message::text("hi")).await.unwrap();
    assert_eq!(next_text(&mut socket).await, "hi");

    // The token entry in a header of its own, after another: the same (the
    // client checks the chosen protocol against its first header only).
    let (mut socket, response) = connect("", &["superchat", &entry(&token)])
        .await
        .expect("an upgrade");
    assert_eq!(response.headers()[SEC_WEBSOCKET_PROTOCOL], "superchat");
    assert_eq!(next_text(&mut socket).await, "superchat");

    // The token entry alone: no subprotocol is left to choose, the server
    // upgrades without one, and the client (as a browser would) fails the
    // handshake: a client offers a real protocol beside the token.
    match connect("", &[&entry(&token)]).await {
        Err(WsError::Protocol(
            tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(
                tungstenite::error::SubProtocolError::NoSubProtocol,
            ),
        )) => {}
        other => panic!("expected the client to fail the handshake, got {other:?}"),
    }
}

#[tokio::test]
async fn no_token_is_refused_before_the_upgrade() {
    let (status, challenge) = refused("", &["chat"]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");
    let (status, _) = refused("", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_and_forged_tokens_are_refused_before_the_upgrade() {
    let expired = token_at(SECRET, now() - 3600, Duration::from_secs(60));
    let forged = token_at(OTHER_SECRET, now(), Duration::from_secs(600));
    for (token, what) in [(expired, "expired"), (forged, "forged")] {
        let (status, challenge) = refused("", &[&format!("chat, {}", entry(&token))]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        let (status, _) = refused(&format!("?access_token={token}"), &["chat"]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}, in the query");
    }
}

#[tokio::test]
async fn a_token_in_the_query_is_the_fallback() {
    let (mut socket, response) = connect(&format!("?access_token={}", token()), &["chat"])
        .await
        .expect("an upgrade");
    assert_eq!(response.headers()[SEC_WEBSOCKET_PROTOCOL], "chat");
    assert_eq!(next_text(&mut socket).await, "chat");
}

#[tokio::test]
async fn two_different_tokens_are_a_bad_request() {
    let (one, other) = (
        token(),
        token_at(SECRET, now() - 1, Duration::from_secs(600)),
    );
    assert_ne!(one, other);
    for (query, list) in [
        (
            String::new(),
            format!("chat, {}, {}", entry(&one), entry(&other)),
        ),
        (
            format!("?access_token={other}"),
            format!("chat, {}", entry(&one)),
        ),
    ] {
        let (status, challenge) = refused(&query, &[&list]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(challenge.contains("invalid_request"), "{challenge}");
    }
    // The same token twice is one token.
    let (_, response) = connect(&format!("?access_token={one}"), &["chat", &entry(&one)])
        .await
        .expect("an upgrade");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
}

#[tokio::test]
async fn the_server_closes_the_socket_when_the_token_expires() {
    let iat = now();
    let exp = UNIX_EPOCH + Duration::from_secs(iat + 2);
    let token = token_at(SECRET, iat, Duration::from_secs(2));
    let (mut socket, _) = connect("", &[&format!("chat, {}", entry(&token))])
        .await
        .expect("an upgrade");
    assert_eq!(next_text(&mut socket).await, "chat");
    let close = tokio::time::timeout(TIMEOUT, async {
        loop {
            match socket.next().await {
                Some(Ok(tungstenite::Message::Close(frame))) => break frame,
                Some(Ok(_)) => {}
                other => panic!("the connection ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("a close frame within the timeout")
    .expect("a close frame with a code");
    let arrived = SystemTime::now();
    assert_eq!(u16::from(close.code), close_code::POLICY);
    assert_eq!(close.reason.as_str(), "token expired");
    // At `exp`, not before (a few milliseconds of slack for the conversion
    // of the deadline to the server's monotonic clock).
    assert!(
        arrived + Duration::from_millis(50) >= exp,
        "closed {:?} before exp",
        exp.duration_since(arrived).unwrap_or_default()
    );
}

#[tokio::test]
async fn hostile_subprotocol_lists() {
    let token = token();
    // A large list, empty entries and whitespace: read, and the token found.
    let large = vec!["x"; 20_000].join(",") + ", ,\t," + &entry(&token) + ",, chat";
    let (mut socket, response) = connect("", &[&large]).await.expect("an upgrade");
    assert_eq!(response.headers()[SEC_WEBSOCKET_PROTOCOL], "chat");
    assert_eq!(
        next_text(&mut socket).await.len(),
        20_000 * 3 - 2 + ", chat".len()
    );

    for list in [
        // The prefix alone.
        format!("chat, {PREFIX}"),
        // Not base64url without padding.
        format!("chat, {PREFIX}{}=", URL_SAFE_NO_PAD.encode("a.b.c.")),
        format!("chat, {PREFIX}YS5i+y/j"),
        format!("chat, {PREFIX}{token}"),
        // Base64url of something that is not a token.
        format!("chat, {}", entry("a b")),
        format!("chat, {}", entry(&format!("{token},{token}"))),
    ] {
        let (status, challenge) = refused("", &[&list]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{list}");
        assert!(challenge.contains("invalid_request"), "{list}: {challenge}");
    }
    // Only other protocols, and a prefix in another case: no token.
    for list in ["chat, superchat", ", , ", &entry(&token).to_uppercase()] {
        let (status, _) = refused("", &[list]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{list}");
    }
}

#[test]
fn a_prefix_that_is_no_subprotocol_token_is_refused_at_build() {
    for prefix in ["", "bearer ", "a,b", "token=", "jwt/"] {
        let built = JwtAuthLayer::<Value>::builder()
            .key(Key::hmac(SECRET))
            .source(TokenSource::websocket_protocol_with_prefix(prefix))
            .build();
        assert!(
            matches!(built, Err(ConfigError::InvalidSourceName(ref name)) if name == prefix),
            "{prefix:?}: {built:?}"
        );
    }
    assert!(
        JwtAuthLayer::<Value>::builder()
            .key(Key::hmac(SECRET))
            .source(TokenSource::websocket_protocol_with_prefix("jwt."))
            .build()
            .is_ok()
    );
}
