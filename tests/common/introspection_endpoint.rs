//! An introspection endpoint (RFC 7662) that the test controls, on
//! 127.0.0.1: a hostile authorization server whose answers, per token, may be
//! oversized, garbled, redirected, slow or failing, and which counts the
//! requests it gets, in all and per token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use super::{Server, serve_axum};

/// What the hostile server answers for one token.
#[derive(Clone, Default)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub body: String,
    pub delay: Duration,
    pub location: Option<String>,
}

pub fn json_answer(body: Value) -> Answer {
    Answer {
        status: 200,
        content_type: Some("application/json"),
        body: body.to_string(),
        ..Answer::default()
    }
}

/// The headers and form of one introspection request.
pub type Seen = (HeaderMap, Vec<(String, String)>);

/// The hostile server's state: its answers by token, and the requests it got.
#[derive(Clone, Default)]
pub struct Hostile {
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    /// Every request.
    pub requests: Arc<AtomicUsize>,
    /// The requests, by the token they asked about.
    by_token: Arc<Mutex<HashMap<String, usize>>>,
    /// The headers and form of the last request.
    pub last: Arc<Mutex<Option<Seen>>>,
}

impl Hostile {
    /// What to answer about `token` (unknown tokens are inactive).
    pub fn answer(&self, token: &str, answer: Answer) {
        self.answers
            .lock()
            .unwrap()
            .insert(token.to_owned(), answer);
    }

    /// How many requests asked about `token`.
    pub fn requests_for(&self, token: &str) -> usize {
        self.by_token
            .lock()
            .unwrap()
            .get(token)
            .copied()
            .unwrap_or(0)
    }
}

/// The endpoint: counts the request, then answers as told.
async fn introspect(State(state): State<Hostile>, headers: HeaderMap, body: Bytes) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let token = form
        .iter()
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.clone())
        .unwrap_or_default();
    *state
        .by_token
        .lock()
        .unwrap()
        .entry(token.clone())
        .or_default() += 1;
    *state.last.lock().unwrap() = Some((headers, form));
    let answer = state.answers.lock().unwrap().get(&token).cloned();
    let Some(answer) = answer else {
        return axum::Json(json!({ "active": false })).into_response();
    };
    tokio::time::sleep(answer.delay).await;
    let mut response = Response::new(axum::body::Body::from(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).expect("status");
    if let Some(content_type) = answer.content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type.parse().unwrap());
    }
    if let Some(location) = answer.location {
        response
            .headers_mut()
            .insert(header::LOCATION, location.parse().unwrap());
    }
    response
}

/// The hostile server's app: its endpoint at `/introspect`, on `state`.
pub fn router(state: Hostile) -> Router {
    Router::new()
        .route("/introspect", post(introspect))
        .with_state(state)
}

/// Starts a hostile server on the test's runtime.
pub async fn hostile_server() -> (Server, Hostile) {
    let state = Hostile::default();
    (serve_axum(router(state.clone())).await, state)
}
