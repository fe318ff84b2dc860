//! The introspection cache shared through Redis (`RedisIntrospectionCache`):
//! two instances of a fleet (two axum servers, each with its own
//! `Introspection`, so its own in-process cache) sharing a real
//! `redis-server` (one per test, see `common/redis.rs`), in front of a real
//! introspection endpoint that counts the requests per token (one per test
//! binary, `common/introspection_endpoint.rs`; each test asks about tokens
//! of its own).

#![cfg(all(feature = "introspection", feature = "redis"))]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use tokio::time::timeout;
use tower_jwt_auth::{
    CircuitBreaker, Claims, Introspection, JwtAuthLayer, RedisIntrospectionCache,
};

use common::introspection_endpoint::{Answer, Hostile, json_answer, router};
use common::logs::Logs;
use common::redis::RedisServer;
use common::{Reply, Server, send_bearer, serve_axum};

/// The longest any step of these tests may take.
const BOUND: Duration = Duration::from_secs(15);
/// The instances' `max_cache_lifetime`.
const MAX_LIFETIME: Duration = Duration::from_secs(30);
/// The instances' `inactive_cache_lifetime`.
const INACTIVE_LIFETIME: Duration = Duration::from_secs(5);
/// The prefix of the answers' keys, by default; the digest follows in braces
/// (the hash tag a cluster places it by), then `introspection`.
const ANSWER_KEYS: &str = "tower-jwt-auth:{";

fn now() -> u64 {
    UNIX_EPOCH.elapsed().expect("clock after 1970").as_secs()
}

/// The introspection endpoint of the test binary, and its state.
async fn endpoint() -> &'static (SocketAddr, Hostile) {
    static ENDPOINT: OnceCell<(SocketAddr, Hostile)> = OnceCell::const_new();
    ENDPOINT
        .get_or_init(|| async {
            let state = Hostile::default();
            let app = router(state.clone());
            let addr = common::serve_axum_for_the_binary(|| async move { app }).await;
            (addr, state)
        })
        .await
}

/// The endpoint answers that `token` is active, for `ada`, until `exp`.
async fn active(token: &str, exp: u64) {
    let body = json!({
        "active": true, "iss": "https://as.test", "aud": "https://api.test",
        "sub": "ada", "exp": exp,
    });
    endpoint().await.1.answer(token, json_answer(body));
}

/// How many times the endpoint was asked about `token`.
async fn asked(token: &str) -> usize {
    endpoint().await.1.requests_for(token)
}

/// A token of this run: unknown to the endpoint (inactive) until told.
fn token(name: &str) -> String {
    format!("{name}-{}-{}", std::process::id(), now())
}

/// The answer's key of `token`: its base64url SHA-256, never the token.
fn answer_key(token: &str) -> String {
    format!(
        "{ANSWER_KEYS}{}}}introspection",
        URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
    )
}

/// One instance of the fleet: an API whose `/me` answers the claims, behind a
/// layer that introspects at the endpoint with the shared cache in `redis`.
async fn instance(redis: &RedisServer) -> Server {
    instance_with(redis, CircuitBreaker::default()).await
}

/// [`instance`], whose shared cache stops asking Redis as `breaker` says.
async fn instance_with(redis: &RedisServer, breaker: CircuitBreaker) -> Server {
    let shared = timeout(BOUND, RedisIntrospectionCache::connect(redis.url()))
        .await
        .expect("connect in time")
        .expect("connect")
        .circuit_breaker(breaker);
    let (addr, _) = endpoint().await;
    let introspection = Introspection::builder(format!("http://{addr}/introspect"))
        .client_secret_basic("rs", "s3cret")
        .timeout(Duration::from_secs(2))
        .max_cache_lifetime(MAX_LIFETIME)
        .inactive_cache_lifetime(INACTIVE_LIFETIME)
        .shared_cache(shared)
        .build()
        .expect("introspection");
    let layer = JwtAuthLayer::<Value>::builder()
        .introspection(introspection)
        .issuer("https://as.test")
        .audience("https://api.test")
        .build()
        .expect("layer");
    let me =
        |Extension(Claims(claims)): Extension<Claims<Value>>| async move { axum::Json(claims) };
    serve_axum(Router::new().route("/me", get(me)).layer(layer)).await
}

/// A Redis and two instances sharing it.
struct Fleet {
    redis: RedisServer,
    a: Server,
    b: Server,
}

async fn fleet() -> Fleet {
    let redis = RedisServer::start().await;
    let a = instance(&redis).await;
    let b = instance(&redis).await;
    Fleet { redis, a, b }
}

async fn me(server: &Server, token: &str) -> Reply {
    timeout(BOUND, send_bearer("GET", &server.url("/me"), token))
        .await
        .expect("an answer in time")
}

fn assert_status(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{}", reply.text());
}

#[tokio::test]
async fn a_token_answered_for_one_instance_is_not_introspected_by_another() {
    let fleet = fleet().await;
    let token = token("one-then-other");
    active(&token, now() + 600).await;

    let reply = me(&fleet.a, &token).await;
    assert_status(&reply, StatusCode::OK);
    assert_eq!(reply.json()["sub"], "ada");
    assert_eq!(asked(&token).await, 1);

    let reply = me(&fleet.b, &token).await;
    assert_status(&reply, StatusCode::OK);
    assert_eq!(reply.json()["sub"], "ada");
    for server in [&fleet.a, &fleet.b, &fleet.b] {
        assert_status(&me(server, &token).await, StatusCode::OK);
    }
    assert_eq!(asked(&token).await, 1, "one introspection for the fleet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_on_two_instances_cause_one_introspection() {
    let fleet = Arc::new(fleet().await);
    let token = Arc::new(token("concurrent"));
    endpoint().await.1.answer(
        &token,
        Answer {
            delay: Duration::from_millis(200),
            ..json_answer(json!({
                "active": true, "iss": "https://as.test", "aud": "https://api.test",
                "sub": "ada", "exp": now() + 600,
            }))
        },
    );
    let started = Instant::now();
    let requests: Vec<_> = (0..50)
        .map(|i| {
            let (fleet, token) = (fleet.clone(), token.clone());
            tokio::spawn(async move {
                let server = if i % 2 == 0 { &fleet.a } else { &fleet.b };
                me(server, &token).await
            })
        })
        .collect();
    for request in requests {
        assert_status(&request.await.expect("request task"), StatusCode::OK);
    }
    assert_eq!(asked(&token).await, 1, "one introspection for 50 requests");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn inactive_answers_are_shared_too() {
    let fleet = fleet().await;
    // Unknown to the endpoint: inactive.
    let token = token("inactive");
    for server in [&fleet.a, &fleet.b, &fleet.a] {
        let reply = me(server, &token).await;
        assert_status(&reply, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.error_description(), "token is not active");
    }
    assert_eq!(asked(&token).await, 1);
    let value = fleet.redis.command(&["GET", &answer_key(&token)]).await;
    assert!(
        value.as_deref().is_ok_and(|v| v.starts_with('I')),
        "{value:?}"
    );
}

#[tokio::test]
async fn garbage_in_redis_is_never_accepted() {
    let fleet = fleet().await;
    let exp = now() + 600;
    let good = format!(
        r#"{{"active":true,"iss":"https://as.test","aud":"https://api.test","sub":"mallory","exp":{exp}}}"#
    );
    let later = now() + 300;
    // Values that might pass for an active answer, for tokens the endpoint
    // says are inactive: each is a miss, and the token is introspected.
    let forged = [
        format!("A{later}\nnot json"),
        format!("A{later}\n{}", good.replace("true", "\"true\"")),
        format!("A{later}\n{}", good.replace("true", "false")),
        format!("A{later}\n[{good}]"),
        format!("A{later}{good}"),
        format!("A\n{good}"),
        format!("A-1\n{good}"),
        format!("A{}\n{good}", now() - 1),
        format!("B{later}\n{good}"),
        good.clone(),
        "OK".to_owned(),
    ];
    for (i, value) in forged.iter().enumerate() {
        let token = token(&format!("forged-{i}"));
        let key = answer_key(&token);
        let set = fleet.redis.command(&["SET", &key, value, "EX", "60"]).await;
        assert_eq!(set.as_deref(), Ok("OK"));
        let reply = me(&fleet.a, &token).await;
        assert_status(&reply, StatusCode::UNAUTHORIZED);
        assert_eq!(asked(&token).await, 1, "{value:?}");
        // The answer written over it is the endpoint's, and B uses it.
        let value = fleet.redis.command(&["GET", &key]).await;
        assert!(
            value.as_deref().is_ok_and(|v| v.starts_with('I')),
            "{value:?}"
        );
        assert_status(&me(&fleet.b, &token).await, StatusCode::UNAUTHORIZED);
        assert_eq!(asked(&token).await, 1);
    }

    // An inactive mark whose time has passed does not refuse an active token.
    let token = token("stale-inactive");
    active(&token, exp).await;
    let past = format!("I{}", now() - 1);
    let set = fleet
        .redis
        .command(&["SET", &answer_key(&token), &past, "EX", "60"])
        .await;
    assert_eq!(set.as_deref(), Ok("OK"));
    assert_status(&me(&fleet.a, &token).await, StatusCode::OK);
    assert_eq!(asked(&token).await, 1);
}

#[tokio::test]
async fn with_redis_killed_tokens_are_introspected_directly() {
    let (logs, _guard) = Logs::capture(tracing::Level::WARN);
    let mut fleet = fleet().await;
    let before = token("before-the-outage");
    active(&before, now() + 600).await;
    assert_status(&me(&fleet.a, &before).await, StatusCode::OK);

    fleet.redis.kill();
    let good = token("during-the-outage");
    active(&good, now() + 600).await;
    let dead = token("inactive-during-the-outage");
    for server in [&fleet.a, &fleet.b] {
        let started = Instant::now();
        let reply = me(server, &good).await;
        assert_status(&reply, StatusCode::OK);
        assert_eq!(reply.json()["sub"], "ada");
        let reply = me(server, &dead).await;
        assert_status(&reply, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.error_description(), "token is not active");
        // Known to A before the outage, still in its own cache; asked by B.
        assert_status(&me(server, &before).await, StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
    // Each instance asked on its own: nothing is shared without Redis.
    assert_eq!(asked(&good).await, 2);
    assert_eq!(asked(&dead).await, 2);
    assert_eq!(asked(&before).await, 2);

    let text = logs.text();
    let warnings = text
        .lines()
        .filter(|line| line.contains("introspection cache check failed"))
        .count();
    // Once per instance (each has its own record of Redis's health).
    assert!((1..=2).contains(&warnings), "{text}");
    assert!(text.contains("token introspected directly"), "{text}");
    assert!(!text.contains(&good) && !text.contains(&dead), "{text}");
}

#[tokio::test]
async fn keys_expire_within_the_lifetimes_and_never_hold_the_token() {
    let fleet = fleet().await;
    let long = token("long-lived");
    active(&long, now() + 3600).await;
    let short = token("short-lived");
    active(&short, now() + 10).await;
    let inactive = token("never-active");
    for token in [&long, &short, &inactive] {
        let _ = me(&fleet.a, token).await;
    }

    let long_ttl = fleet.redis.ttl(&answer_key(&long)).await;
    assert!(
        0 < long_ttl && long_ttl <= MAX_LIFETIME.as_secs() as i64,
        "{long_ttl}"
    );
    let short_ttl = fleet.redis.ttl(&answer_key(&short)).await;
    assert!(0 < short_ttl && short_ttl <= 10, "{short_ttl}");
    let inactive_ttl = fleet.redis.ttl(&answer_key(&inactive)).await;
    assert!(
        0 < inactive_ttl && inactive_ttl <= INACTIVE_LIFETIME.as_secs() as i64,
        "{inactive_ttl}"
    );

    let keys = timeout(BOUND, fleet.redis.keys())
        .await
        .expect("KEYS in time");
    assert_eq!(
        keys.len(),
        3,
        "one answer per token, no lock left: {keys:?}"
    );
    for key in &keys {
        assert!(
            key.starts_with(ANSWER_KEYS) && key.ends_with("}introspection"),
            "{key}"
        );
        for token in [&long, &short, &inactive] {
            assert!(!key.contains(token.as_str()), "{key}");
        }
    }
    for token in [&long, &short, &inactive] {
        let value = fleet.redis.command(&["GET", &answer_key(token)]).await;
        assert!(
            value.as_deref().is_ok_and(|v| !v.contains(token.as_str())),
            "{value:?}"
        );
    }
}

/// How many commands of the shared cache (`GET`, `SET`, `EXISTS`) Redis has
/// run, once the count stops moving (commands queued while it was frozen are
/// run when it thaws).
async fn settled_cache_commands(redis: &RedisServer) -> u64 {
    let mut last = cache_commands(redis).await;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = cache_commands(redis).await;
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("Redis kept running commands of the shared cache");
}

async fn cache_commands(redis: &RedisServer) -> u64 {
    let info = redis
        .command(&["INFO", "commandstats"])
        .await
        .expect("INFO");
    ["get", "set", "exists"]
        .iter()
        .filter_map(|name| {
            info.lines()
                .find_map(|line| line.strip_prefix(&format!("cmdstat_{name}:calls=")))
                .and_then(|rest| rest.split(',').next())
                .map(|calls| calls.parse::<u64>().expect("a count"))
        })
        .sum()
}

#[tokio::test]
async fn a_frozen_redis_opens_the_breaker_then_a_probe_closes_it() {
    let (logs, _guard) = Logs::capture(tracing::Level::INFO);
    let redis = RedisServer::start().await;
    let cool_down = Duration::from_secs(2);
    let server = instance_with(&redis, CircuitBreaker::new(2, cool_down)).await;

    // Redis frozen: each request's command times out, the token is
    // introspected directly; two failures in a row open the breaker.
    redis.pause();
    for name in ["frozen-1", "frozen-2"] {
        let token = token(name);
        active(&token, now() + 600).await;
        assert_status(&me(&server, &token).await, StatusCode::OK);
    }
    redis.resume();
    let before = settled_cache_commands(&redis).await;
    let opened = Instant::now();

    // Open: Redis answers again but is not asked; every token is
    // introspected directly, and answered right.
    for name in ["open-1", "open-2", "open-3"] {
        let token = token(name);
        active(&token, now() + 600).await;
        assert_status(&me(&server, &token).await, StatusCode::OK);
        assert_eq!(asked(&token).await, 1);
        let dead = token.clone() + "-inactive";
        assert_status(&me(&server, &dead).await, StatusCode::UNAUTHORIZED);
    }
    assert!(
        opened.elapsed() < cool_down,
        "the open requests outlasted the cool-down: the test proves nothing"
    );
    assert_eq!(
        cache_commands(&redis).await,
        before,
        "Redis asked while open"
    );
    let text = logs.text();
    assert_eq!(
        text.matches("introspection cache circuit breaker open")
            .count(),
        1,
        "{text}"
    );

    // After the cool-down, one probe asks Redis, which answers: closed, and
    // the cache is shared again.
    tokio::time::sleep(cool_down.saturating_sub(opened.elapsed()) + Duration::from_millis(100))
        .await;
    let token = token("after-the-probe");
    active(&token, now() + 600).await;
    assert_status(&me(&server, &token).await, StatusCode::OK);
    assert!(
        cache_commands(&redis).await > before,
        "no probe asked Redis"
    );
    let text = logs.text();
    assert!(
        text.contains("introspection cache circuit breaker closed"),
        "{text}"
    );
}
