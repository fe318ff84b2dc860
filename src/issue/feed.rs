//! A key ring as a source of keys for the verifier (`crate::verify::KeyFeed`):
//! an issuer that verifies its own tokens follows its rotations in process,
//! with no JWK Set to fetch.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use jsonwebtoken::Algorithm;
use jsonwebtoken::crypto::CryptoProvider;

use super::ring::KeyRing;
use crate::error::ConfigError;
use crate::key::Key;
use crate::verify::KeyEntry;
use crate::verify::key_source::{DynamicKeys, KeyFeed, OpenFeed, public_key_algorithms};
use crate::verify::prepare::allowed_entries;
use crate::verify::prepared_keys::PreparedKeys;

impl KeyFeed for KeyRing {
    fn open(
        &self,
        provider: &'static CryptoProvider,
        algorithms: Option<Vec<Algorithm>>,
    ) -> Result<OpenFeed, ConfigError> {
        let algorithms = public_key_algorithms(algorithms, "the public keys of a key ring")?;
        Ok(OpenFeed {
            keys: Box::new(RingKeys {
                ring: self.clone(),
                provider,
                allowed: algorithms.clone(),
                prepared: PreparedKeys::default(),
            }),
            algorithms,
        })
    }

    fn setting(&self) -> &'static str {
        "key_ring"
    }
}

/// A ring's public keys, made ready for verification once per change.
struct RingKeys {
    ring: KeyRing,
    provider: &'static CryptoProvider,
    allowed: Vec<Algorithm>,
    prepared: PreparedKeys,
}

impl DynamicKeys for RingKeys {
    fn sync(&self, forget: &dyn Fn(&[u64])) -> (Option<Arc<[KeyEntry]>>, bool) {
        let (entries, new) = self.prepared.get_or_prepare(
            self.ring.generation(),
            // The ring's own public keys, checked when they were made: one
            // that does not fit the allowed algorithms is left out.
            || {
                self.ring
                    .public_jwks()
                    .1
                    .iter()
                    .filter_map(|jwk| Key::from_jwk(jwk).ok())
                    .filter_map(|key| {
                        allowed_entries(self.provider, &key, Some(&self.allowed))
                            .ok()
                            .flatten()
                    })
                    .flatten()
                    .collect()
            },
            forget,
        );
        (Some(entries), new)
    }

    /// Nothing to fetch: the ring is always up to date, and a `kid` it lacks
    /// is refused at once.
    fn refresh(&self) -> BoxFuture<'static, ()> {
        Box::pin(std::future::ready(()))
    }

    fn len(&self) -> usize {
        self.ring.public_jwks().1.len()
    }
}

#[cfg(all(test, any(feature = "aws-lc-rs", feature = "rust-crypto")))]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use bytes::Bytes;
    use http::{Request, Response, StatusCode};
    use http_body_util::Full;
    use tower::{Layer, ServiceExt, service_fn};

    use super::*;
    use crate::{AuthError, AuthErrorKind, JwtAuthLayer, SigningKey, TokenIssuer};

    const START: u64 = 1_700_000_000;

    fn key() -> SigningKey {
        let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap()
            .serialize_pem();
        SigningKey::from_pem(Algorithm::ES256, pem.as_bytes()).unwrap()
    }

    /// The status `layer` answers a bearer `token` with, and the error kind.
    async fn verify(
        layer: &JwtAuthLayer<serde_json::Value>,
        token: &str,
    ) -> (StatusCode, Option<AuthErrorKind>) {
        let inner = service_fn(|_: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
        });
        let request = Request::get("/")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::default())
            .unwrap();
        let response = layer.layer(inner).oneshot(request).await.unwrap();
        let kind = response
            .extensions()
            .get::<AuthError>()
            .map(AuthError::kind);
        (response.status(), kind)
    }

    #[tokio::test]
    async fn a_layer_on_the_ring_follows_its_rotations() {
        let now = Arc::new(AtomicU64::new(START));
        let clock = {
            let now = now.clone();
            move || now.load(Ordering::Relaxed)
        };
        let first_key = key();
        let ring = KeyRing::builder(first_key.clone(), key())
            .max_age(Duration::from_secs(60))
            .token_ttl(Duration::from_secs(600))
            .leeway(Duration::from_secs(60))
            .clock(clock.clone())
            .build();
        let issuer = TokenIssuer::key_ring(ring.clone())
            .ttl(Duration::from_secs(600))
            .clock(clock.clone())
            .build()
            .unwrap();
        let layer = JwtAuthLayer::<serde_json::Value>::builder()
            .key_ring(ring.clone())
            .clock(clock)
            .build()
            .unwrap();
        let first = issuer.issue(&serde_json::json!({"sub": "a"})).unwrap();
        assert_eq!(verify(&layer, &first).await, (StatusCode::OK, None));

        now.store(START + 61, Ordering::Relaxed);
        ring.rotate(key()).unwrap();
        let second = issuer.issue(&serde_json::json!({"sub": "b"})).unwrap();
        assert_eq!(verify(&layer, &second).await, (StatusCode::OK, None));
        // The retired key still verifies its tokens.
        assert_eq!(verify(&layer, &first).await, (StatusCode::OK, None));

        // Dropped after 600 s + 60 s: a token it signs now, valid in every
        // other respect, is refused (the key is gone).
        now.store(START + 61 + 661, Ordering::Relaxed);
        assert!(ring.retired_kids().is_empty());
        let forged = TokenIssuer::builder(first_key.encoding_key().clone(), Algorithm::ES256)
            .kid(first_key.kid())
            .clock(move || START + 61 + 661)
            .build()
            .unwrap()
            .issue(&serde_json::json!({"sub": "m"}))
            .unwrap();
        assert_eq!(
            verify(&layer, &forged).await,
            (StatusCode::UNAUTHORIZED, Some(AuthErrorKind::UnknownKey))
        );
    }

    #[test]
    fn hmac_algorithms_are_refused() {
        let ring = KeyRing::builder(key(), key()).build();
        let built = JwtAuthLayer::<serde_json::Value>::builder()
            .key_ring(ring)
            .algorithms([Algorithm::HS256])
            .build();
        assert!(matches!(built, Err(ConfigError::AlgorithmMismatch(_))));
    }
}
