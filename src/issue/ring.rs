//! [`KeyRing`]: the signing keys of an issuer that rotates them: the next
//! key (published, not signing yet), the current one (signing), and the
//! retired ones (published until the last token they signed has expired).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;

use super::DEFAULT_TTL;
use super::jwks::JwkSetService;
use super::signing_key::SigningKey;
use crate::clock::{Clock, DEFAULT_LEEWAY, SharedClock};

/// The default `max-age` of the JWK Set: 5 minutes. It is also the shortest
/// time a next key is published before it signs.
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// The signing keys of a [`TokenIssuer`](crate::TokenIssuer) that rotates
/// them, and the JWK Set that publishes their public halves.
///
/// A ring holds three kinds of keys:
///
/// - the **next** key: published in the JWK Set, not signing yet;
/// - the **current** key: signs every token (its `kid` in the header);
/// - the **retired** keys: no longer signing, still published until every
///   token they signed has expired (plus the verifiers' leeway), then
///   dropped.
///
/// [`rotate`](Self::rotate) moves them along: next → current, current →
/// retired, and the new key becomes the next one.
///
/// # Timing
///
/// Two rules make a rotation invisible to the verifiers of the tokens:
///
/// 1. **A key is published before it signs.** `rotate` refuses
///    ([`RotateError::TooEarly`]) to promote a next key published for less
///    than the JWK Set's `max-age` ([`max_age`](KeyRingBuilder::max_age)).
///    A verifier that caches the set per `Cache-Control`, as
///    `RemoteKeySet` (feature `remote-jwks`) does, holds a copy at most `max-age` old (it even refreshes at 80 to
///    90 % of it): once the next key has been published that long, every
///    such copy has it, and the first token it signs is verified from the
///    cache, without a fetch. Should a verifier's refresh have failed, its
///    fetch for an unknown `kid` is the fallback; the rule keeps that fetch
///    (rate-limited, so a flood of made-up key ids can spend its budget) off
///    the path of valid tokens. Two caveats: a verifier that bounds
///    lifetimes from below (`RemoteKeySetBuilder::cache_bounds`, 60 s by
///    default) keeps a copy at least that long, so choose a
///    `max-age` within the verifiers' bounds; and a shared HTTP cache in
///    front of the JWK Set (`public` allows one) may serve a copy up to
///    `max-age` old that a verifier then keeps `max-age` more: rotate no
///    more often than twice `max-age` then.
/// 2. **A retired key stays published for one token lifetime plus the
///    leeway.** Its tokens are valid until their `exp` plus the verifiers'
///    leeway; the ring keeps the key in the set until then: until the
///    retirement plus [`token_ttl`](KeyRingBuilder::token_ttl), or the
///    latest `exp` it actually signed if later (a token issued with
///    [`issue_with_ttl`](crate::TokenIssuer::issue_with_ttl) and a longer
///    TTL), plus [`leeway`](KeyRingBuilder::leeway). Then it is dropped, and
///    verifiers stop accepting it within one `max-age`.
///
/// Times are whole seconds of the ring's [`Clock`]; each rule rounds toward
/// safety (a key is promoted or dropped up to a second late, never early).
///
/// Clones share the keys: cheap, one `Arc`. Reads take a read lock held
/// for a few pointer copies, never across a signature.
///
/// ```
/// use std::time::Duration;
/// use jsonwebtoken::Algorithm;
/// use tower_jwt_auth::{KeyRing, RotateError, SigningKey, TokenIssuer};
///
/// # fn pem() -> String { rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap().serialize_pem() }
/// let key = |pem: String| SigningKey::from_pem(Algorithm::ES256, pem.as_bytes());
/// // `pem()`: a new PKCS#8 P-256 private key, from wherever keys come from.
/// let ring = KeyRing::builder(key(pem())?, key(pem())?)
///     .max_age(Duration::from_secs(300))
///     .token_ttl(Duration::from_secs(900))
///     .build();
/// let issuer = TokenIssuer::key_ring(ring.clone()).ttl(Duration::from_secs(900)).build()?;
/// let token = issuer.issue(&serde_json::json!({ "sub": "ada" }))?;
///
/// // The next key was published a moment ago: too early to sign with it.
/// assert!(matches!(ring.rotate(key(pem())?), Err(RotateError::TooEarly { .. })));
/// // The JWK Set: the current and the next key (`ring.jwk_set_service()` serves it).
/// let set: serde_json::Value = serde_json::from_slice(&ring.jwk_set())?;
/// assert_eq!(set["keys"].as_array().map(Vec::len), Some(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

struct Inner {
    keys: RwLock<Keys>,
    max_age: Duration,
    token_ttl: Duration,
    leeway: Duration,
    clock: SharedClock,
    cache_control: HeaderValue,
}

/// The keys, and the JWK Set document they make, written at each change.
struct Keys {
    next: Arc<RingKey>,
    current: Arc<RingKey>,
    retired: Vec<Retired>,
    document: Bytes,
    /// Counts the changes of the set, for verifiers in this process.
    generation: u64,
}

/// A key of the ring, with the latest `exp` it signed.
pub(crate) struct RingKey {
    pub(crate) key: SigningKey,
    /// When it entered the ring (published), in clock seconds.
    published_at: u64,
    /// The largest `exp` of a token it signed; 0 before the first.
    last_exp: AtomicU64,
}

impl RingKey {
    fn new(key: SigningKey, now: u64) -> Arc<Self> {
        Arc::new(Self {
            key,
            published_at: now,
            last_exp: AtomicU64::new(0),
        })
    }

    /// Notes that a token expiring at `exp` is about to be signed.
    pub(crate) fn signs_until(&self, exp: u64) {
        self.last_exp.fetch_max(exp, Ordering::Relaxed);
    }
}

struct Retired {
    key: Arc<RingKey>,
    retired_at: u64,
}

/// Why [`KeyRing::rotate`] did not rotate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotateError {
    /// The next key has been published for less than the JWK Set's
    /// `max-age`: verifiers may not have it yet. Nothing changed; call
    /// again after `ready_in`.
    TooEarly {
        /// How long until the next key may sign.
        ready_in: Duration,
    },
    /// The new key has the `kid` of a key still in the ring: tokens would
    /// name two keys at once.
    DuplicateKid(String),
}

impl fmt::Display for RotateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooEarly { ready_in } => write!(
                f,
                "the next key is not published long enough yet: rotate again in {} s",
                ready_in.as_secs()
            ),
            Self::DuplicateKid(kid) => write!(f, "a key of the ring already has the kid {kid:?}"),
        }
    }
}

impl std::error::Error for RotateError {}

/// Configures a [`KeyRing`].
#[must_use]
pub struct KeyRingBuilder {
    current: SigningKey,
    next: SigningKey,
    max_age: Duration,
    token_ttl: Duration,
    leeway: Duration,
    clock: SharedClock,
}

/// Whole seconds, rounded up: the safe side for every wait of the ring.
fn ceil_secs(duration: Duration) -> u64 {
    duration
        .as_secs()
        .saturating_add(u64::from(duration.subsec_nanos() > 0))
}

impl KeyRing {
    /// A ring whose `current` key signs from now on, with `next` published
    /// ahead of the first rotation. Both are published at once: a verifier
    /// meets `current` either in its first fetch, or through its fetch for
    /// an unknown `kid`. Give them different `kid`s (thumbprints differ
    /// for different keys), as [`rotate`](Self::rotate) requires of every
    /// new key.
    pub fn builder(current: SigningKey, next: SigningKey) -> KeyRingBuilder {
        KeyRingBuilder {
            current,
            next,
            max_age: DEFAULT_JWKS_MAX_AGE,
            token_ttl: DEFAULT_TTL,
            leeway: DEFAULT_LEEWAY,
            clock: SharedClock::default(),
        }
    }

    /// Moves the keys along: the next key signs from now on, the current
    /// one retires (published until its tokens have expired, see the
    /// [timing rules](Self#timing)), and `new` is published as the next key.
    /// Retired keys past their time are dropped.
    ///
    /// # Errors
    ///
    /// [`RotateError::TooEarly`] when the next key has been published for
    /// less than the JWK Set's [`max_age`](KeyRingBuilder::max_age): nothing
    /// changes (a scheduler tries again after `ready_in`);
    /// [`RotateError::DuplicateKid`] when `new`'s `kid` is already in the ring.
    pub fn rotate(&self, new: SigningKey) -> Result<(), RotateError> {
        let now = self.inner.clock.now();
        let mut keys = self.write();
        let ready_at = keys
            .next
            .published_at
            .saturating_add(ceil_secs(self.inner.max_age))
            // The clock reads whole seconds: the key may have come in late
            // in its second, and must be out that long all the same.
            .saturating_add(1);
        if now < ready_at {
            return Err(RotateError::TooEarly {
                ready_in: Duration::from_secs(ready_at - now),
            });
        }
        let kid = new.kid();
        let taken = keys.all().any(|k| k.key.kid() == kid);
        if taken {
            return Err(RotateError::DuplicateKid(kid.to_owned()));
        }
        let next = std::mem::replace(&mut keys.next, RingKey::new(new, now));
        let retired = std::mem::replace(&mut keys.current, next);
        keys.retired.push(Retired {
            key: retired,
            retired_at: now,
        });
        self.prune_locked(&mut keys, now);
        keys.changed();
        Ok(())
    }

    /// The key that signs now.
    pub(crate) fn current(&self) -> Arc<RingKey> {
        self.read().current.clone()
    }

    /// The `kid` of the key that signs now.
    pub fn current_kid(&self) -> String {
        self.read().current.key.kid().to_owned()
    }

    /// The `kid` of the next key, published but not signing yet.
    pub fn next_kid(&self) -> String {
        self.read().next.key.kid().to_owned()
    }

    /// The `kid`s of the retired keys still published, the oldest first.
    pub fn retired_kids(&self) -> Vec<String> {
        self.prune();
        let keys = self.read();
        keys.retired
            .iter()
            .map(|r| r.key.key.kid().to_owned())
            .collect()
    }

    /// The JWK Set document (`{"keys": [...]}`) of the next, current and
    /// retired keys' public JWKs, retired keys past their time dropped
    /// first. Written once per change: a call copies a pointer.
    pub fn jwk_set(&self) -> Bytes {
        self.prune();
        self.read().document.clone()
    }

    /// A Tower service that serves [`jwk_set`](Self::jwk_set) with
    /// `Cache-Control: public, max-age=…`: route it at
    /// `/.well-known/jwks.json`.
    pub fn jwk_set_service(&self) -> JwkSetService {
        JwkSetService::new(self.clone())
    }

    /// The JWK Set's `max-age`, which is also the shortest time a next key
    /// is published before it signs.
    pub fn max_age(&self) -> Duration {
        self.inner.max_age
    }

    /// The set's generation, retired keys past their time dropped first.
    pub(crate) fn generation(&self) -> u64 {
        self.prune()
    }

    /// The public JWKs of the set, and its generation.
    pub(crate) fn public_jwks(&self) -> (u64, Vec<jsonwebtoken::jwk::Jwk>) {
        self.prune();
        let keys = self.read();
        let jwks = keys.all().map(|k| k.key.public_jwk().clone()).collect();
        (keys.generation, jwks)
    }

    pub(crate) fn cache_control(&self) -> &HeaderValue {
        &self.inner.cache_control
    }

    /// Drops the retired keys past their time; the write lock only when
    /// there is one.
    /// The set's generation after that: one read lock when nothing expired
    /// (what a verifier in this process pays per request).
    fn prune(&self) -> u64 {
        let now = self.inner.clock.now();
        {
            let keys = self.read();
            if !keys.retired.iter().any(|r| now >= self.deadline(r)) {
                return keys.generation;
            }
        }
        let mut keys = self.write();
        if self.prune_locked(&mut keys, now) {
            keys.changed();
        }
        keys.generation
    }

    fn prune_locked(&self, keys: &mut Keys, now: u64) -> bool {
        let before = keys.retired.len();
        keys.retired.retain(|r| now < self.deadline(r));
        keys.retired.len() != before
    }

    /// The first second at which no token `retired` signed is valid
    /// anywhere: after the later of its retirement plus the token TTL and
    /// the latest `exp` it signed, plus the leeway.
    fn deadline(&self, retired: &Retired) -> u64 {
        let s = &*self.inner;
        let by_ttl = retired.retired_at.saturating_add(ceil_secs(s.token_ttl));
        let signed = retired.key.last_exp.load(Ordering::Relaxed);
        by_ttl
            .max(signed)
            .saturating_add(ceil_secs(s.leeway))
            // A token valid through second `exp + leeway` is refused from the next.
            .saturating_add(1)
    }

    fn read(&self) -> RwLockReadGuard<'_, Keys> {
        // A panic while holding the lock cannot leave the keys half-changed
        // (each change is a few assignments): carry on with them.
        self.inner
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Keys> {
        self.inner
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Keys {
    /// Every key: next, current, then the retired ones, the latest first.
    fn all(&self) -> impl Iterator<Item = &Arc<RingKey>> {
        [&self.next, &self.current]
            .into_iter()
            .chain(self.retired.iter().rev().map(|r| &r.key))
    }

    /// Rewrites the document after a change.
    fn changed(&mut self) {
        self.document = jwk_set(self);
        self.generation += 1;
    }
}

/// `{"keys":[next, current, retired...]}`: public JWKs only.
fn jwk_set(keys: &Keys) -> Bytes {
    let jwks: Vec<_> = keys.all().map(|k| k.key.public_jwk()).collect();
    // Serializing public JWKs (strings only) cannot fail; an empty set would
    // be the safe answer if it ever did.
    serde_json::to_vec(&serde_json::json!({ "keys": jwks }))
        .map_or_else(|_| Bytes::from_static(br#"{"keys":[]}"#), Bytes::from)
}

impl KeyRingBuilder {
    /// The JWK Set's `Cache-Control: max-age`, and the shortest time a next
    /// key is published before [`rotate`](KeyRing::rotate) lets it sign
    /// (default 5 minutes, whole seconds rounded up). Shorter means faster
    /// rotations and more fetches by verifiers; see the
    /// [timing rules](KeyRing#timing).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The time to live of the tokens the ring's keys sign (default 15
    /// minutes, as [`TokenIssuer`](crate::TokenIssuer)'s): how long a
    /// retired key stays published, plus the leeway. A token issued with a
    /// longer TTL keeps its key published until it expires too.
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// The verifiers' clock-skew leeway on `exp` (default 60 s, as the
    /// layer's): a retired key stays published that much longer.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Where "now" comes from (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = SharedClock::new(clock);
        self
    }

    /// The ring, both keys published from now.
    pub fn build(self) -> KeyRing {
        let now = self.clock.now();
        let mut keys = Keys {
            next: RingKey::new(self.next, now),
            current: RingKey::new(self.current, now),
            retired: Vec::new(),
            document: Bytes::new(),
            generation: 0,
        };
        keys.changed();
        let cache_control =
            HeaderValue::from_str(&format!("public, max-age={}", ceil_secs(self.max_age)))
                .unwrap_or_else(|_| HeaderValue::from_static("no-cache"));
        KeyRing {
            inner: Arc::new(Inner {
                keys: RwLock::new(keys),
                max_age: self.max_age,
                token_ttl: self.token_ttl,
                leeway: self.leeway,
                clock: self.clock,
                cache_control,
            }),
        }
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.read();
        f.debug_struct("KeyRing")
            .field("next", &keys.next.key)
            .field("current", &keys.current.key)
            .field(
                "retired",
                &keys.retired.iter().map(|r| &r.key.key).collect::<Vec<_>>(),
            )
            .field("max_age", &self.inner.max_age)
            .field("token_ttl", &self.inner.token_ttl)
            .field("leeway", &self.inner.leeway)
            .finish()
    }
}

impl fmt::Debug for KeyRingBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRingBuilder")
            .field("current", &self.current)
            .field("next", &self.next)
            .field("max_age", &self.max_age)
            .field("token_ttl", &self.token_ttl)
            .field("leeway", &self.leeway)
            .field("clock", &self.clock)
            .finish()
    }
}

#[cfg(all(test, any(feature = "aws-lc-rs", feature = "rust-crypto")))]
mod tests {
    use std::sync::atomic::AtomicU64;

    use jsonwebtoken::Algorithm;
    use serde_json::Value;

    use super::*;
    use crate::TokenIssuer;

    const START: u64 = 1_700_000_000;

    fn key() -> SigningKey {
        let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap()
            .serialize_pem();
        SigningKey::from_pem(Algorithm::ES256, pem.as_bytes()).unwrap()
    }

    /// A ring on a clock the test moves: max-age 60 s, TTL 600 s, leeway 30 s.
    fn ring() -> (KeyRing, Arc<AtomicU64>) {
        let now = Arc::new(AtomicU64::new(START));
        let clock = {
            let now = now.clone();
            move || now.load(Ordering::Relaxed)
        };
        let ring = KeyRing::builder(key(), key())
            .max_age(Duration::from_secs(60))
            .token_ttl(Duration::from_secs(600))
            .leeway(Duration::from_secs(30))
            .clock(clock)
            .build();
        (ring, now)
    }

    fn kids(ring: &KeyRing) -> Vec<String> {
        let set: Value = serde_json::from_slice(&ring.jwk_set()).unwrap();
        set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_jwk_set_has_public_members_only() {
        let (ring, _) = ring();
        let set: Value = serde_json::from_slice(&ring.jwk_set()).unwrap();
        let keys = set["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        for jwk in keys {
            let mut names: Vec<_> = jwk.as_object().unwrap().keys().cloned().collect();
            names.sort();
            assert_eq!(
                names,
                ["alg", "crv", "kid", "kty", "use", "x", "y"],
                "{jwk}"
            );
        }
        assert_eq!(kids(&ring), [ring.next_kid(), ring.current_kid()]);
        // Every key of the set reads back as a verification key.
        assert_eq!(
            crate::KeySet::from_json(&ring.jwk_set())
                .unwrap()
                .keys()
                .len(),
            2
        );
    }

    #[test]
    fn a_next_key_signs_only_after_one_max_age() {
        let (ring, now) = ring();
        let (current, next) = (ring.current_kid(), ring.next_kid());
        // Published at START (somewhere in that second): 60 s must have passed.
        now.store(START + 60, Ordering::Relaxed);
        assert_eq!(
            ring.rotate(key()),
            Err(RotateError::TooEarly {
                ready_in: Duration::from_secs(1)
            })
        );
        assert_eq!(
            (ring.current_kid(), ring.next_kid()),
            (current.clone(), next.clone())
        );
        now.store(START + 61, Ordering::Relaxed);
        ring.rotate(key()).unwrap();
        assert_eq!(ring.current_kid(), next);
        assert_eq!(ring.retired_kids(), [current]);
        // The new next key starts its own wait.
        assert!(matches!(
            ring.rotate(key()),
            Err(RotateError::TooEarly { .. })
        ));
        let taken = key().with_kid(ring.current_kid());
        now.store(START + 200, Ordering::Relaxed);
        assert_eq!(
            ring.rotate(taken),
            Err(RotateError::DuplicateKid(ring.current_kid()))
        );
    }

    #[test]
    fn retired_keys_are_dropped_after_the_ttl_and_the_leeway() {
        let (ring, now) = ring();
        let first = ring.current_kid();
        now.store(START + 100, Ordering::Relaxed);
        ring.rotate(key()).unwrap();
        // Retired at START + 100: published through + 600 + 30.
        now.store(START + 100 + 630, Ordering::Relaxed);
        assert_eq!(ring.retired_kids(), std::slice::from_ref(&first));
        assert!(kids(&ring).contains(&first));
        now.store(START + 100 + 631, Ordering::Relaxed);
        assert!(ring.retired_kids().is_empty());
        assert!(!kids(&ring).contains(&first));
        assert_eq!(kids(&ring).len(), 2);
    }

    #[test]
    fn a_token_with_a_longer_ttl_keeps_its_key_published() {
        let (ring, now) = ring();
        let issuer = TokenIssuer::key_ring(ring.clone())
            .clock({
                let now = now.clone();
                move || now.load(Ordering::Relaxed)
            })
            .build()
            .unwrap();
        let first = ring.current_kid();
        let token = issuer
            .issue_with_ttl(&serde_json::json!({}), Duration::from_secs(5000))
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(first.as_str()));
        now.store(START + 100, Ordering::Relaxed);
        ring.rotate(key()).unwrap();
        // Signed with the new current key from now on.
        let token = issuer.issue(&serde_json::json!({})).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid, Some(ring.current_kid()));
        // Past the ring's TTL, not past the long token's exp (+ leeway).
        now.store(START + 1000, Ordering::Relaxed);
        assert_eq!(ring.retired_kids(), std::slice::from_ref(&first));
        now.store(START + 5030, Ordering::Relaxed);
        assert_eq!(ring.retired_kids(), [first]);
        now.store(START + 5031, Ordering::Relaxed);
        assert!(ring.retired_kids().is_empty());
    }

    #[tokio::test]
    async fn the_service_serves_the_set_with_its_max_age() {
        use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
        use http::{Method, Request, StatusCode};
        use http_body::Body as _;
        use tower::ServiceExt;

        let (ring, now) = ring();
        let call = |method: Method| {
            let service = ring.jwk_set_service();
            let request = Request::builder().method(method).uri("/").body(()).unwrap();
            async move { service.oneshot(request).await.unwrap() }
        };
        for method in [Method::GET, Method::HEAD] {
            let response = call(method.clone()).await;
            assert_eq!(response.status(), StatusCode::OK);
            let headers = response.headers();
            assert_eq!(headers[CONTENT_TYPE], "application/json");
            assert_eq!(headers[CACHE_CONTROL], "public, max-age=60");
            assert_eq!(headers[CONTENT_LENGTH], ring.jwk_set().len().to_string());
            let expected = if method == Method::GET {
                ring.jwk_set().len()
            } else {
                0
            };
            assert_eq!(response.body().size_hint().exact(), Some(expected as u64));
        }
        let response = call(Method::POST).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[ALLOW], "GET, HEAD");
        // A rotation shows from the next request on.
        now.store(START + 61, Ordering::Relaxed);
        ring.rotate(key()).unwrap();
        let response = call(Method::GET).await;
        let length: usize = response.headers()[CONTENT_LENGTH]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, ring.jwk_set().len());
        assert_eq!(kids(&ring).len(), 3);
    }
}
