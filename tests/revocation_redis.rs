//! The Redis revocation store against a real `redis-server`, one per test
//! (see `common/redis.rs`): sharing between instances, expiry, subject
//! revocation, a Redis that dies and comes back, a Redis too slow to answer.

#![cfg(feature = "redis")]

mod common;

use std::time::{Duration, Instant, UNIX_EPOCH};

use common::logs::Logs;
use common::redis::RedisServer;
use tower_jwt_auth::{
    AuthError, AuthErrorKind, DEFAULT_KEY_PREFIX, MAX_ID_LENGTH, RedisRevocations, Revocation,
    RevocationStore, TokenInfo,
};

/// The longest any wait in these tests may take.
const BOUND: Duration = Duration::from_secs(15);

fn now() -> u64 {
    UNIX_EPOCH.elapsed().expect("clock after 1970").as_secs()
}

/// A token issued ten seconds ago that expires in ten minutes.
fn token(jti: &str) -> TokenInfo {
    TokenInfo::new()
        .with_issuer("https://id.example.com")
        .with_subject("ada")
        .with_jti(jti)
        .with_issued_at(now() - 10)
        .with_expires_at(now() + 600)
}

async fn connect(server: &RedisServer) -> RedisRevocations {
    tokio::time::timeout(BOUND, RedisRevocations::connect(server.url()))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// The key of a `jti` under the default prefix, as the store documents it.
fn jti_key(issuer: Option<&str>, jti: &str) -> String {
    let issuer = issuer.map_or("-:".to_owned(), |i| format!("{}:{i}", i.len()));
    format!("{DEFAULT_KEY_PREFIX}jti:{issuer}{}:{jti}", jti.len())
}

/// Asserts that every key written has a time to live.
async fn assert_every_key_expires(server: &RedisServer) {
    let keys = server.keys().await;
    assert!(!keys.is_empty());
    for key in keys {
        let ttl = server.ttl(&key).await;
        assert!(ttl > 0, "{key} has TTL {ttl}");
    }
}

#[tokio::test]
async fn a_token_revoked_through_one_instance_is_refused_by_another() {
    let redis = RedisServer::start().await;
    // Two servers of the application: two stores, two connection managers.
    let one = connect(&redis).await;
    let two = connect(&redis).await;
    let checks = Revocation::new(two.clone());

    let token = token("5f0c6d1e");
    assert!(!two.is_revoked(&token).await.unwrap());
    checks.check(token.clone()).await.unwrap();

    one.revoke(&token).await.unwrap();
    assert!(two.is_revoked(&token).await.unwrap());
    let error = checks.check(token.clone()).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::Revoked);
    assert_eq!(error.status(), http::StatusCode::UNAUTHORIZED);

    // Only that token, and only for its issuer.
    assert!(!two.is_revoked(&self::token("other")).await.unwrap());
    let elsewhere = self::token("5f0c6d1e").with_issuer("https://other.example.com");
    assert!(!two.is_revoked(&elsewhere).await.unwrap());

    let key = jti_key(Some("https://id.example.com"), "5f0c6d1e");
    assert_eq!(redis.keys().await, [key]);
    assert_every_key_expires(&redis).await;
}

#[tokio::test]
async fn a_token_without_jti_revoked_through_one_instance_by_digest_is_refused_by_another() {
    let redis = RedisServer::start().await;
    let one = connect(&redis).await;
    let two = connect(&redis).await;
    let text = "eyJ0eXAiOiJqd3QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2VjcmV0LXNpZ25hdHVyZQ";
    let identify = |text: &str| {
        TokenInfo::new()
            .with_issuer("https://id.example.com")
            .with_subject("ada")
            .with_expires_at(now() + 600)
            .with_digest_of(text)
    };
    let token = identify(text);
    let digest = token.token_digest().expect("a crypto backend").to_owned();
    assert_eq!(digest.len(), 43);
    assert!(!two.is_revoked(&token).await.unwrap());

    one.revoke(&token).await.unwrap();
    assert!(two.is_revoked(&token).await.unwrap());
    // The same token, identified anew by the other instance.
    assert!(two.is_revoked(&identify(text)).await.unwrap());
    // Not another token of the subject, nor the claims without the digest.
    assert!(
        !two.is_revoked(&identify("another.token.text"))
            .await
            .unwrap()
    );
    let bare = TokenInfo::new().with_subject("ada");
    assert!(!two.is_revoked(&bare).await.unwrap());
    // A `jti` that spells the digest reaches another key.
    assert!(!two.is_revoked(&self::token(&digest)).await.unwrap());

    let keys = redis.keys().await;
    assert_eq!(keys, [format!("{DEFAULT_KEY_PREFIX}sha256:{digest}")]);
    for part in text.split('.') {
        assert!(!keys[0].contains(part), "the key holds {part}");
    }
    assert_every_key_expires(&redis).await;
}

#[tokio::test]
async fn entries_expire_with_the_token() {
    let redis = RedisServer::start().await;
    let store = connect(&redis).await.leeway(Duration::ZERO);
    let short = TokenInfo::new()
        .with_jti("short-lived")
        .with_expires_at(now() + 3);
    store.revoke(&short).await.unwrap();
    assert!(store.is_revoked(&short).await.unwrap());

    let key = jti_key(None, "short-lived");
    let ttl = redis.ttl(&key).await;
    assert!((1..=3).contains(&ttl), "TTL {ttl}");
    let (store_ref, short_ref) = (&store, &short);
    common::eventually(BOUND, "the entry expires", move || async move {
        !store_ref.is_revoked(short_ref).await.unwrap()
    })
    .await;
    assert_eq!(redis.command(&["EXISTS", &key]).await.unwrap(), "0");

    // The leeway keeps an entry past `exp`, as long as the layer accepts the token.
    let store = store.leeway(Duration::from_secs(60));
    let token = TokenInfo::new()
        .with_jti("with-leeway")
        .with_expires_at(now() + 10);
    store.revoke(&token).await.unwrap();
    let ttl = redis.ttl(&jti_key(None, "with-leeway")).await;
    assert!((65..=70).contains(&ttl), "TTL {ttl}");
}

#[tokio::test]
async fn an_expired_token_is_not_written() {
    let redis = RedisServer::start().await;
    let store = connect(&redis).await;
    let old = token("old").with_expires_at(now() - 3600);
    store.revoke(&old).await.unwrap();
    assert_eq!(redis.command(&["DBSIZE"]).await.unwrap(), "0");
    store
        .revoke_subject(None, "ada", now() - 7200, now() - 3600)
        .await
        .unwrap();
    assert_eq!(redis.command(&["DBSIZE"]).await.unwrap(), "0");
}

#[tokio::test]
async fn a_subject_revocation_refuses_the_tokens_issued_before() {
    let redis = RedisServer::start().await;
    let one = connect(&redis).await;
    let two = connect(&redis).await;
    let issuer = Some("https://id.example.com");
    let t = now();

    let earlier = token("a").with_issued_at(t - 100);
    let later = token("b").with_issued_at(t + 1);
    let unknown = TokenInfo::new()
        .with_issuer("https://id.example.com")
        .with_subject("ada");
    let other_subject = token("c").with_subject("bob").with_issued_at(t - 100);
    let other_issuer = token("d")
        .with_issuer("https://other.example.com")
        .with_issued_at(t - 100);

    one.revoke_subject(issuer, "ada", t, t + 3600)
        .await
        .unwrap();
    assert!(two.is_revoked(&earlier).await.unwrap());
    assert!(!two.is_revoked(&later).await.unwrap());
    assert!(two.is_revoked(&unknown).await.unwrap(), "no iat fails safe");
    assert!(!two.is_revoked(&other_subject).await.unwrap());
    assert!(!two.is_revoked(&other_issuer).await.unwrap());

    // An older revocation arriving late keeps the later `before` and expiry.
    one.revoke_subject(issuer, "ada", t - 1000, t + 60)
        .await
        .unwrap();
    assert!(
        two.is_revoked(&token("e").with_issued_at(t - 500))
            .await
            .unwrap()
    );
    let key = format!("{DEFAULT_KEY_PREFIX}sub:22:https://id.example.com3:ada");
    let value = redis.command(&["GET", &key]).await.unwrap();
    assert_eq!(value, format!("{t}:{}", t + 3600 + 60));
    assert!(redis.ttl(&key).await > 3600);

    // A later one moves `before` forward.
    one.revoke_subject(issuer, "ada", t + 2, t + 3600)
        .await
        .unwrap();
    assert!(two.is_revoked(&later).await.unwrap());

    // A jti revocation and a subject one in one check (one MGET).
    one.revoke(&later).await.unwrap();
    assert!(two.is_revoked(&later).await.unwrap());
    assert_every_key_expires(&redis).await;
}

#[tokio::test]
async fn no_claim_value_reaches_another_key() {
    let redis = RedisServer::start().await;
    let store = connect(&redis).await;
    let colons = TokenInfo::new()
        .with_issuer("a")
        .with_jti("b:1:c\0\u{1F600}")
        .with_expires_at(now() + 600);
    store.revoke(&colons).await.unwrap();
    assert!(store.is_revoked(&colons).await.unwrap());
    for (issuer, jti) in [("a:b", "1:c\0\u{1F600}"), ("a:1", "b:1:c\0\u{1F600}")] {
        let other = TokenInfo::new()
            .with_issuer(issuer)
            .with_jti(jti)
            .with_expires_at(now() + 600);
        assert!(!store.is_revoked(&other).await.unwrap(), "{issuer} {jti:?}");
    }

    // Values too long to be keys cannot be revoked, and so are never revoked.
    let long = token(&"x".repeat(MAX_ID_LENGTH + 1));
    let error = store.revoke(&long).await.unwrap_err();
    assert!(error.to_string().contains("MAX_ID_LENGTH"), "{error}");
    assert!(!store.is_revoked(&long).await.unwrap());
    let no_jti = TokenInfo::new().with_expires_at(now() + 600);
    let error = store.revoke(&no_jti).await.unwrap_err();
    assert!(error.to_string().contains("without `jti`"), "{error}");
    assert_eq!(redis.keys().await.len(), 1);
}

#[tokio::test]
async fn prefixes_keep_applications_apart() {
    let redis = RedisServer::start().await;
    let a = connect(&redis).await.prefix("app-a:");
    let b = connect(&redis).await.prefix("app-b:");
    let token = token("shared-id");
    a.revoke(&token).await.unwrap();
    assert!(a.is_revoked(&token).await.unwrap());
    assert!(!b.is_revoked(&token).await.unwrap());
    let keys = redis.keys().await;
    assert_eq!(keys.len(), 1);
    assert!(keys[0].starts_with("app-a:jti:"), "{keys:?}");
}

/// The check's answer, within [`BOUND`].
async fn check(revocation: &Revocation, token: &TokenInfo) -> Result<(), AuthError> {
    tokio::time::timeout(BOUND, revocation.check(token.clone()))
        .await
        .expect("the check has its own timeout")
}

#[tokio::test(flavor = "current_thread")]
async fn a_redis_that_dies_fails_closed_or_open_and_is_found_again() {
    let (logs, _guard) = Logs::capture(tracing::Level::INFO);
    let mut redis = RedisServer::start().await;
    let store = connect(&redis).await;
    let closed = Revocation::new(store.clone()).timeout(Duration::from_millis(300));
    // Another policy over the same store: it counts (and logs) its own outage.
    let open = closed.clone().fail_open(true);
    let valid = token("secret-valid");
    let revoked = token("secret-revoked");
    store.revoke(&revoked).await.unwrap();
    check(&closed, &valid).await.unwrap();
    assert_eq!(
        check(&closed, &revoked).await.unwrap_err().kind(),
        AuthErrorKind::Revoked
    );
    assert_eq!(logs.take(), "");

    redis.kill();
    let error = check(&closed, &valid).await.unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::RevocationUnavailable);
    assert_eq!(error.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert!(std::error::Error::source(&error).is_some());
    let logged = logs.take();
    assert!(logged.contains("WARN"), "{logged}");
    assert!(logged.contains("fail closed"), "{logged}");
    // One warning per outage, not per request: the next failures are counted.
    for _ in 0..3 {
        check(&closed, &valid).await.unwrap_err();
    }
    assert_eq!(logs.take(), "");

    check(&open, &valid).await.unwrap();
    let logged = logs.take();
    assert!(logged.contains("WARN"), "{logged}");
    assert!(logged.contains("fail open"), "{logged}");
    assert!(
        !logged.contains("secret"),
        "no claim value in logs: {logged}"
    );
    // Fail open lets a revoked token through too: that is its price.
    check(&open, &revoked).await.unwrap();
    assert_eq!(logs.take(), "");

    // A new Redis on the same port: the manager reconnects by itself. It is
    // empty (no persistence here), so the revocation is gone with the old one.
    redis.restart().await;
    let (closed_ref, valid_ref) = (&closed, &valid);
    common::eventually(BOUND, "the manager reconnects", move || async move {
        check(closed_ref, valid_ref).await.is_ok()
    })
    .await;
    let logged = logs.take();
    let again: Vec<_> = logged
        .lines()
        .filter(|line| line.contains("revocation store answers again"))
        .collect();
    assert_eq!(again.len(), 1, "{logged}");
    assert!(again[0].contains("INFO"), "{logged}");
    // The four failures above, and those while the manager reconnected.
    let failed: u64 = again[0]
        .split("failed_checks=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count: {logged}"));
    assert!(failed >= 4, "{logged}");
    assert!(
        !logged.contains("secret"),
        "no claim value in logs: {logged}"
    );
    store.revoke(&revoked).await.unwrap();
    assert_eq!(
        check(&closed, &revoked).await.unwrap_err().kind(),
        AuthErrorKind::Revoked
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_slow_redis_hits_the_timeout() {
    let (logs, _guard) = Logs::capture(tracing::Level::WARN);
    let redis = RedisServer::start().await;
    let store = connect(&redis).await;
    let revocation = Revocation::new(store).timeout(Duration::from_millis(100));
    let token = token("slow");
    check(&revocation, &token).await.unwrap();

    // Every client's commands wait 2 s (CLIENT PAUSE needs no debug command):
    // far longer than the timeout, so a loaded machine cannot blur the two.
    assert_eq!(
        redis.command(&["CLIENT", "PAUSE", "2000"]).await.unwrap(),
        "OK"
    );
    let start = Instant::now();
    let error = check(&revocation, &token).await.unwrap_err();
    let took = start.elapsed();
    assert_eq!(error.kind(), AuthErrorKind::RevocationUnavailable);
    assert_eq!(error.description(), "revocation check timed out");
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert!(logs.take().contains("timed out"));

    // Once the pause is over, the same connection answers again.
    let (revocation, token) = (&revocation, &token);
    common::eventually(BOUND, "Redis answers after the pause", move || async move {
        check(revocation, token).await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn connecting_to_no_redis_fails_in_bounded_time() {
    // A port nothing listens on: a server started and killed.
    let port = {
        let redis = RedisServer::start().await;
        redis.port()
    };
    let start = Instant::now();
    let result = tokio::time::timeout(
        BOUND,
        RedisRevocations::connect(format!("redis://127.0.0.1:{port}/")),
    )
    .await
    .expect("connect gives up within the bound");
    assert!(result.is_err());
    assert!(start.elapsed() < BOUND);
}
