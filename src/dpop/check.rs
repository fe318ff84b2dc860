//! [`DpopCheck`]: the DPoP rules of RFC 9449 §7 as a check after
//! verification (`crate::checks`).
//!
//! For a token sent as `Authorization: DPoP`, in this order: the issuer takes
//! DPoP, the token is DPoP-bound (`cnf.jkt`), exactly one proof, the proof
//! itself (`proof.rs`), its key is the token's (`jkt`), the server's nonce
//! when nonces are on, and last the proof id, seen once (the only step that
//! may wait, for a shared store). For a token sent any other way: refused when
//! DPoP-bound (RFC 9449 §7.2) or where DPoP is required.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::CryptoProvider;
use serde::Deserialize;

use super::nonce::DpopNonces;
use super::proof::{self, Expected, ProofRules};
use super::replay::{ReplayAnswer, ReplayCheck};
use super::target::{self, Base};
use super::{Dpop, DpopMode};
use crate::checks::{Carrier, Head, Step, TokenCheck, VerifiedToken};
use crate::clock::SharedClock;
use crate::crypto::{self, constant_time_eq};
use crate::error::{AuthError, AuthErrorKind, AuthScheme, Challenge, ConfigError};
use crate::peer::TrustedProxies;

/// The header that carries the proof.
const DPOP: &str = "dpop";

/// The DPoP check of one layer, built once.
#[derive(Debug)]
pub(crate) struct DpopCheck {
    /// The layer's mode.
    mode: DpopMode,
    /// Trusted issuers whose mode differs from the layer's, by `iss`.
    by_issuer: Vec<(String, DpopMode)>,
    rules: ProofRules,
    provider: &'static CryptoProvider,
    base: Option<Base>,
    proxies: Option<TrustedProxies>,
    nonces: Option<DpopNonces>,
    replay: ReplayCheck,
    clock: SharedClock,
    /// The challenge of this check's refusals: under `DPoP`.
    challenge: Arc<Challenge>,
}

impl DpopCheck {
    /// The check `dpop` describes, for a layer whose trusted issuers set
    /// `by_issuer` modes of their own.
    ///
    /// # Errors
    ///
    /// An empty or symmetric list of algorithms, a zero proof age or length,
    /// a public URL that is not an absolute `http(s)` URL.
    pub(crate) fn new(
        dpop: Dpop,
        by_issuer: Vec<(String, DpopMode)>,
        provider: &'static CryptoProvider,
        clock: SharedClock,
        challenge: &Challenge,
    ) -> Result<Self, ConfigError> {
        if dpop.algorithms.is_empty() {
            return Err(ConfigError::Empty {
                setting: "dpop algorithms",
            });
        }
        if let Some(&symmetric) = dpop.algorithms.iter().find(|a| is_hmac(**a)) {
            return Err(ConfigError::SymmetricDpopAlgorithm {
                algorithm: symmetric,
            });
        }
        // `iat` is whole seconds: a window under one second would take only
        // proofs made in the server's current second.
        if dpop.max_age.as_secs() == 0 {
            return Err(ConfigError::Empty {
                setting: "dpop proof_max_age",
            });
        }
        if dpop.max_length == 0 {
            return Err(ConfigError::Empty {
                setting: "dpop max_proof_length",
            });
        }
        let base = dpop.public_url.as_deref().map(Base::parse).transpose()?;
        let by_issuer = by_issuer
            .into_iter()
            .filter(|(_, mode)| *mode != dpop.mode)
            .collect();
        Ok(Self {
            mode: dpop.mode,
            by_issuer,
            rules: ProofRules {
                algorithms: dpop.algorithms,
                max_age: dpop.max_age.as_secs(),
                skew: dpop.skew.as_secs(),
                max_length: dpop.max_length,
            },
            provider,
            base,
            proxies: dpop.trusted_proxies,
            nonces: dpop.nonces,
            replay: dpop.replay,
            clock,
            challenge: Arc::new(Challenge {
                scheme: AuthScheme::Dpop,
                ..challenge.clone()
            }),
        })
    }

    /// The mode for a token with claims `payload`: its issuer's, or the
    /// layer's.
    fn mode_of(&self, payload: &str) -> DpopMode {
        if self.by_issuer.is_empty() {
            return self.mode;
        }
        #[derive(Deserialize)]
        struct Issuer<'a> {
            #[serde(borrow)]
            iss: Option<Cow<'a, str>>,
        }
        // The verifier has read `iss` (it chose the issuer by it).
        let iss = serde_json::from_str::<Issuer<'_>>(payload)
            .ok()
            .and_then(|i| i.iss);
        iss.and_then(|iss| {
            self.by_issuer
                .iter()
                .find(|(name, _)| *name == iss)
                .map(|(_, mode)| *mode)
        })
        .unwrap_or(self.mode)
    }

    /// A refusal under the `DPoP` challenge (with a fresh nonce, when nonces
    /// are on: the client needs one for its next proof anyway).
    fn refuse(&self, kind: AuthErrorKind, description: &'static str) -> Step {
        Step::Refuse(self.error(AuthError::new(kind, description)))
    }

    fn error(&self, error: AuthError) -> AuthError {
        error.with_challenge(self.challenge_now())
    }

    /// The challenge of a refusal now: with a fresh nonce when nonces are
    /// on. Taken before a replay store is asked, so that its refusals carry
    /// one as the others do.
    fn challenge_now(&self) -> Arc<Challenge> {
        match &self.nonces {
            Some(nonces) => Arc::new(Challenge {
                dpop_nonce: Some(nonces.issue(self.clock.now()).into()),
                ..Challenge::clone(&self.challenge)
            }),
            None => Arc::clone(&self.challenge),
        }
    }

    /// The URL a proof of this request must name, normalized.
    fn target_of(&self, head: Head<'_>) -> Option<String> {
        if self.base.is_none()
            && let Some(proxies) = &self.proxies
            && proxies.trusts(head.extensions)
            && let Some(forwarded) = target::forwarded(head.headers)
        {
            return target::of_forwarded(&head, &forwarded);
        }
        target::of_request(&head, self.base.as_ref())
    }

    /// The checks of a token sent with the `DPoP` scheme.
    fn check_proof(&self, token: &VerifiedToken<'_>, head: Head<'_>, jkt: &str) -> Step {
        let mut proofs = head.headers.get_all(DPOP).iter();
        let (Some(proof), None) = (proofs.next(), proofs.next()) else {
            return match head.headers.contains_key(DPOP) {
                true => self.refuse(AuthErrorKind::MalformedRequest, "more than one DPoP proof"),
                false => self.refuse(AuthErrorKind::InvalidDpopProof, "no DPoP proof"),
            };
        };
        let Ok(proof) = proof.to_str() else {
            return self.refuse(AuthErrorKind::MalformedRequest, "DPoP proof is not a JWT");
        };
        let Some(target) = self.target_of(head) else {
            return self.refuse(
                AuthErrorKind::InvalidDpopProof,
                "the request's URL cannot be known",
            );
        };
        let now = self.clock.now();
        let expected = Expected {
            method: head.method,
            target: &target,
            access_token: token.text,
            now,
        };
        let proof = match proof::verify(self.provider, proof, &self.rules, &expected) {
            Ok(proof) => proof,
            Err(error) => return Step::Refuse(self.error(error)),
        };
        if !constant_time_eq(proof.jkt.as_bytes(), jkt.as_bytes()) {
            return self.refuse(
                AuthErrorKind::TokenBindingMismatch,
                "DPoP proof key is not the token's",
            );
        }
        if let Some(nonces) = &self.nonces
            && !proof
                .nonce
                .as_deref()
                .is_some_and(|n| nonces.accepts(n, now))
        {
            return self.refuse(
                AuthErrorKind::UseDpopNonce,
                "DPoP proof without this server's current nonce",
            );
        }
        let Some(id) = replay_id(jkt, &proof.jti) else {
            return self.refuse(
                AuthErrorKind::ReplayCheckUnavailable,
                "no SHA-256 for the DPoP replay check",
            );
        };
        // Remembered for as long as the proof could be accepted.
        let expires_at = proof
            .iat
            .max(now)
            .saturating_add(self.rules.max_age)
            .saturating_add(self.rules.skew);
        match self.replay.check(&id, expires_at, now) {
            ReplayAnswer::Ready(Ok(())) => Step::Pass,
            ReplayAnswer::Ready(Err(error)) => Step::Refuse(self.error(error)),
            ReplayAnswer::Waiting(answer) => {
                let challenge = self.challenge_now();
                Step::Wait(Box::pin(async move {
                    answer
                        .await
                        .map_err(|error| error.with_challenge(challenge))?;
                    Ok(http::Extensions::new())
                }))
            }
        }
    }
}

impl TokenCheck for DpopCheck {
    fn check(&self, token: &VerifiedToken<'_>, head: Head<'_>) -> Step {
        let jkt = token.confirmation.and_then(|c| c.jkt.as_deref());
        let mode = self.mode_of(token.payload);
        match (token.carrier, jkt) {
            (Carrier::Dpop, _) if mode == DpopMode::Off => self.refuse(
                AuthErrorKind::TokenBindingMismatch,
                "this issuer's tokens are not taken with DPoP",
            ),
            (Carrier::Dpop, None) => self.refuse(
                AuthErrorKind::TokenBindingMismatch,
                "token sent with DPoP is not DPoP-bound",
            ),
            (Carrier::Dpop, Some(jkt)) => self.check_proof(token, head, jkt),
            (_, Some(_)) => self.refuse(
                AuthErrorKind::TokenBindingMismatch,
                "DPoP-bound token sent as a bearer token",
            ),
            (_, None) if mode == DpopMode::Required => {
                self.refuse(AuthErrorKind::DpopRequired, "DPoP required")
            }
            (_, None) => Step::Pass,
        }
    }
}

/// The id a proof is remembered by: base64url(SHA-256(jkt "." jti)), so that
/// one client's ids never collide with another's, and a store holds 43
/// characters whatever the `jti` was.
fn replay_id(jkt: &str, jti: &str) -> Option<String> {
    let mut input = Vec::with_capacity(jkt.len() + 1 + jti.len());
    input.extend_from_slice(jkt.as_bytes());
    input.push(b'.');
    input.extend_from_slice(jti.as_bytes());
    crypto::sha256(&input).map(|digest| URL_SAFE_NO_PAD.encode(digest))
}

fn is_hmac(algorithm: jsonwebtoken::Algorithm) -> bool {
    use jsonwebtoken::Algorithm::{HS256, HS384, HS512};
    matches!(algorithm, HS256 | HS384 | HS512)
}

#[cfg(all(test, any(feature = "aws-lc-rs", feature = "rust-crypto")))]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use bytes::Bytes;
    use http::header::{AUTHORIZATION, HOST, WWW_AUTHENTICATE};
    use http::{Request, Response, StatusCode};
    use http_body_util::Full;
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{Algorithm, EncodingKey};
    use serde_json::{Value, json};
    use tower::{Layer as _, ServiceExt as _};

    use super::*;
    use crate::test_helpers::{Echo, SECRET};
    use crate::thumbprint::{PublicJwk, jwk_thumbprint};
    use crate::{
        DpopNonces, JwtAuthBuilder, JwtAuthLayer, Key, PeerAddr, TokenIssuer, TrustedIssuer,
    };

    const NOW: u64 = 1_800_000_000;
    const NONCE_SECRET: &[u8] = b"a DPoP nonce secret, 32 bytes..!";
    const STRICT: &str = "https://strict.example";
    const LEGACY: &str = "https://legacy.example";
    const LEGACY_SECRET: &[u8] = b"the legacy issuer's 32-byte key!";

    /// The P-256 key of the proof fixtures, and its public JWK.
    struct Client {
        key: EncodingKey,
        jwk: Value,
    }

    fn client() -> Client {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dpop/ec_p256.pem"
        );
        let key = EncodingKey::from_ec_pem(&std::fs::read(path).unwrap()).unwrap();
        // `Jwk::from_encoding_key` asks jsonwebtoken's process default.
        crate::crypto::select(None).unwrap();
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap()).unwrap();
        jwk.as_object_mut().unwrap().remove("alg");
        Client { key, jwk }
    }

    impl Client {
        fn jkt(&self) -> String {
            let jwk: Jwk = serde_json::from_value(self.jwk.clone()).unwrap();
            jwk_thumbprint(&PublicJwk::of_jwk(&jwk).unwrap()).unwrap()
        }

        /// A token of `issuer` (signed with `secret`) bound to this key.
        fn bound_token(&self, issuer: &str, secret: &[u8]) -> String {
            token(
                issuer,
                secret,
                json!({ "sub": "ada", "cnf": { "jkt": self.jkt() } }),
            )
        }

        /// A proof for `method` and `htu`, sent with `token`, with `extra`
        /// claims.
        fn proof(&self, method: &str, htu: &str, token: &str, extra: Value) -> String {
            let ath = URL_SAFE_NO_PAD.encode(crypto::sha256(token.as_bytes()).unwrap());
            let mut claims = json!({
                "jti": format!("{method} {htu} {extra}"),
                "htm": method,
                "htu": htu,
                "iat": NOW,
                "ath": ath,
            });
            for (name, value) in extra.as_object().unwrap() {
                claims[name] = value.clone();
            }
            let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk });
            let mut proof = URL_SAFE_NO_PAD.encode(header.to_string());
            proof.push('.');
            URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut proof);
            let provider = crate::crypto::select(None).unwrap();
            let signer = (provider.signer_factory)(&Algorithm::ES256, &self.key).unwrap();
            let signature = signer.try_sign(proof.as_bytes()).unwrap();
            proof.push('.');
            URL_SAFE_NO_PAD.encode_string(signature, &mut proof);
            proof
        }
    }

    fn token(issuer: &str, secret: &[u8], claims: Value) -> String {
        let mut issuer_builder = TokenIssuer::hmac(secret).clock(|| NOW);
        if !issuer.is_empty() {
            issuer_builder = issuer_builder.issuer(issuer);
        }
        issuer_builder.build().unwrap().issue(&claims).unwrap()
    }

    fn unbound_token(issuer: &str, secret: &[u8]) -> String {
        token(issuer, secret, json!({ "sub": "ada" }))
    }

    fn builder() -> JwtAuthBuilder<Value> {
        JwtAuthLayer::builder().key(Key::hmac(SECRET)).clock(|| NOW)
    }

    async fn send(
        layer: &JwtAuthLayer<Value>,
        request: Request<Full<Bytes>>,
    ) -> Response<Full<Bytes>> {
        let response = layer.layer(Echo).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = http_body_util::BodyExt::collect(body)
            .await
            .unwrap()
            .to_bytes();
        Response::from_parts(parts, Full::new(body))
    }

    /// The status, and the kind of the refusal.
    async fn answer(
        layer: &JwtAuthLayer<Value>,
        request: http::request::Builder,
    ) -> (StatusCode, Option<AuthErrorKind>) {
        let response = send(layer, request.body(Full::default()).unwrap()).await;
        let kind = response
            .extensions()
            .get::<AuthError>()
            .map(AuthError::kind);
        (response.status(), kind)
    }

    fn with_dpop(token: &str, proof: &str) -> http::request::Builder {
        Request::get("/orders")
            .header(HOST, "api.example")
            .header(AUTHORIZATION, format!("DPoP {token}"))
            .header("dpop", proof)
    }

    fn with_bearer(token: &str) -> http::request::Builder {
        Request::get("/orders")
            .header(HOST, "api.example")
            .header(AUTHORIZATION, format!("Bearer {token}"))
    }

    const PASS: (StatusCode, Option<AuthErrorKind>) = (StatusCode::OK, None);

    fn refused(kind: AuthErrorKind) -> (StatusCode, Option<AuthErrorKind>) {
        (StatusCode::UNAUTHORIZED, Some(kind))
    }

    // --- per-issuer modes ---------------------------------------------------

    /// Under `Dpop::allowed()`, one issuer requiring DPoP and one taking
    /// none: each issuer's mode decides for its tokens.
    #[tokio::test]
    async fn each_trusted_issuer_has_its_own_mode() {
        let layer = JwtAuthLayer::<Value>::builder()
            .clock(|| NOW)
            .trusted_issuer(
                TrustedIssuer::new(STRICT)
                    .key(Key::hmac(SECRET))
                    .dpop(DpopMode::Required),
            )
            .trusted_issuer(
                TrustedIssuer::new(LEGACY)
                    .key(Key::hmac(LEGACY_SECRET))
                    .dpop(DpopMode::Off),
            )
            .dpop(Dpop::allowed().public_url("http://api.example"))
            .build()
            .unwrap();
        let client = client();
        let htu = "http://api.example/orders";
        let dpop_request =
            |token: &str| with_dpop(token, &client.proof("GET", htu, token, json!({})));

        // The strict issuer: DPoP only.
        let strict_bound = client.bound_token(STRICT, SECRET);
        let strict_bearer = unbound_token(STRICT, SECRET);
        assert_eq!(answer(&layer, dpop_request(&strict_bound)).await, PASS);
        assert_eq!(
            answer(&layer, with_bearer(&strict_bearer)).await,
            refused(AuthErrorKind::DpopRequired)
        );
        assert_eq!(
            answer(&layer, with_bearer(&strict_bound)).await,
            refused(AuthErrorKind::TokenBindingMismatch)
        );

        // The legacy issuer: bearer tokens only, DPoP refused whatever the
        // token and proof.
        let legacy_bearer = unbound_token(LEGACY, LEGACY_SECRET);
        let legacy_bound = client.bound_token(LEGACY, LEGACY_SECRET);
        assert_eq!(answer(&layer, with_bearer(&legacy_bearer)).await, PASS);
        for token in [&legacy_bound, &legacy_bearer] {
            assert_eq!(
                answer(&layer, dpop_request(token)).await,
                refused(AuthErrorKind::TokenBindingMismatch)
            );
        }
        assert_eq!(
            answer(&layer, with_bearer(&legacy_bound)).await,
            refused(AuthErrorKind::TokenBindingMismatch)
        );
    }

    /// The challenge of a refusal under the strict issuer names the `DPoP`
    /// scheme, and the layer (allowed, with an issuer that takes bearer
    /// tokens) still offers `Bearer`.
    #[tokio::test]
    async fn a_per_issuer_refusal_is_challenged_under_dpop() {
        let layer = JwtAuthLayer::<Value>::builder()
            .clock(|| NOW)
            .trusted_issuer(
                TrustedIssuer::new(STRICT)
                    .key(Key::hmac(SECRET))
                    .dpop(DpopMode::Required),
            )
            .dpop(Dpop::allowed())
            .build()
            .unwrap();
        let response = send(
            &layer,
            with_bearer(&unbound_token(STRICT, SECRET))
                .body(Full::default())
                .unwrap(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenges: Vec<_> = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .map(|c| c.to_str().unwrap().to_owned())
            .collect();
        assert!(
            challenges.iter().any(|c| c.starts_with("DPoP ")),
            "{challenges:?}"
        );
    }

    // --- configuration errors -----------------------------------------------

    #[test]
    fn a_trusted_issuer_mode_needs_the_layer_dpop() {
        let error = JwtAuthLayer::<Value>::builder()
            .trusted_issuer(
                TrustedIssuer::new(STRICT)
                    .key(Key::hmac(SECRET))
                    .dpop(DpopMode::Required),
            )
            .build()
            .unwrap_err();
        assert!(
            matches!(
                &error,
                ConfigError::NeedsSetting {
                    setting: "TrustedIssuer::dpop",
                    needs: "JwtAuthBuilder::dpop",
                    issuer,
                } if issuer == STRICT
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains(STRICT), "{error}");
    }

    fn build_error(dpop: Dpop) -> ConfigError {
        builder().dpop(dpop).build().unwrap_err()
    }

    #[test]
    fn symmetric_proof_algorithms_fail_the_build() {
        for algorithms in [
            &[Algorithm::HS256][..],
            &[Algorithm::ES256, Algorithm::HS384],
            &[Algorithm::HS512, Algorithm::EdDSA],
        ] {
            let symmetric = *algorithms
                .iter()
                .find(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
                .unwrap();
            let error = build_error(Dpop::required().algorithms(algorithms.iter().copied()));
            assert!(
                matches!(error, ConfigError::SymmetricDpopAlgorithm { algorithm } if algorithm == symmetric),
                "{algorithms:?}: {error:?}"
            );
        }
    }

    #[test]
    fn empty_settings_fail_the_build() {
        for (dpop, setting) in [
            (Dpop::required().algorithms([]), "dpop algorithms"),
            (
                Dpop::allowed().proof_max_age(Duration::ZERO),
                "dpop proof_max_age",
            ),
            // `iat` counts whole seconds: a shorter window is none.
            (
                Dpop::allowed().proof_max_age(Duration::from_millis(500)),
                "dpop proof_max_age",
            ),
            (
                Dpop::required().max_proof_length(0),
                "dpop max_proof_length",
            ),
        ] {
            let error = build_error(dpop);
            assert!(
                matches!(error, ConfigError::Empty { setting: s } if s == setting),
                "{setting}: {error:?}"
            );
        }
    }

    #[test]
    fn a_bad_public_url_fails_the_build() {
        for url in [
            "",
            "api.example",
            "/api",
            "ftp://api.example",
            "https://",
            "https://user@api.example",
            "https://api.example/?page=1",
            "https://api.example/#top",
            "https://api.example:99999",
            "https://api example",
            "https://[::1",
        ] {
            let error = build_error(Dpop::required().public_url(url));
            assert!(
                matches!(&error, ConfigError::InvalidPublicUrl { url: given } if given == url),
                "{url:?}: {error:?}"
            );
        }
        for url in [
            "https://api.example",
            "HTTP://API.example:8080/api/",
            "https://[2001:db8::1]/v1",
        ] {
            assert!(
                builder()
                    .dpop(Dpop::required().public_url(url))
                    .build()
                    .is_ok(),
                "{url}"
            );
        }
    }

    // --- the request's URL --------------------------------------------------

    fn peer(ip: &str) -> PeerAddr {
        PeerAddr(SocketAddr::new(ip.parse().unwrap(), 40_000))
    }

    /// Through a proxy: `Host` is the proxy's upstream, the client's URL is in
    /// the forwarding headers.
    fn forwarded(token: &str, proof: &str) -> http::request::Builder {
        Request::get("/orders")
            .header(HOST, "backend:8080")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "api.example")
            .header(AUTHORIZATION, format!("DPoP {token}"))
            .header("dpop", proof)
    }

    #[tokio::test]
    async fn forwarding_headers_are_believed_only_from_a_trusted_peer() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let layer = builder()
            .dpop(Dpop::required().forwarded_from(proxies.clone()))
            .build()
            .unwrap();
        let client = client();
        let token = client.bound_token("", SECRET);
        let public = "https://api.example/orders";
        let internal = "http://backend:8080/orders";
        let proof = |htu| client.proof("GET", htu, &token, json!({}));
        let mismatch = refused(AuthErrorKind::InvalidDpopProof);

        let from_proxy = forwarded(&token, &proof(public)).extension(peer("10.1.2.3"));
        assert_eq!(answer(&layer, from_proxy).await, PASS);
        let from_proxy = forwarded(&token, &proof(internal)).extension(peer("10.1.2.3"));
        assert_eq!(answer(&layer, from_proxy).await, mismatch);

        // From anybody else (or an unknown peer), the headers are ignored:
        // the URL is the request's own.
        for request in [
            forwarded(&token, &proof(public)).extension(peer("192.0.2.9")),
            forwarded(&token, &proof(public)).extension(peer("::ffff:192.0.2.9")),
            forwarded(&token, &proof(public)),
        ] {
            assert_eq!(answer(&layer, request).await, mismatch);
        }
        let other = forwarded(&token, &proof(internal)).extension(peer("192.0.2.9"));
        assert_eq!(answer(&layer, other).await, PASS);

        // A public URL wins over the proxy's word.
        let layer = builder()
            .dpop(
                Dpop::required()
                    .public_url("https://public.example")
                    .forwarded_from(proxies),
            )
            .build()
            .unwrap();
        let request = forwarded(&token, &proof(public)).extension(peer("10.1.2.3"));
        assert_eq!(answer(&layer, request).await, mismatch);
        let fixed = "https://public.example/orders";
        let request = forwarded(&token, &proof(fixed)).extension(peer("10.1.2.3"));
        assert_eq!(answer(&layer, request).await, PASS);
    }

    /// Without a public URL: `http://` and the `Host` header, or the scheme
    /// and authority of an absolute request URI.
    #[tokio::test]
    async fn the_default_target_is_http_and_the_host() {
        let layer = builder().dpop(Dpop::required()).build().unwrap();
        let client = client();
        let token = client.bound_token("", SECRET);
        let proof = |htu| client.proof("GET", htu, &token, json!({}));
        let mismatch = refused(AuthErrorKind::InvalidDpopProof);

        for htu in [
            "http://api.example/orders",
            "HTTP://API.EXAMPLE:80/orders?page=2",
        ] {
            assert_eq!(
                answer(&layer, with_dpop(&token, &proof(htu))).await,
                PASS,
                "{htu}"
            );
        }
        for htu in [
            "https://api.example/orders",
            "http://api.example:8080/orders",
            "http://other.example/orders",
            "http://api.example/",
        ] {
            assert_eq!(
                answer(&layer, with_dpop(&token, &proof(htu))).await,
                mismatch,
                "{htu}"
            );
        }

        let absolute = |uri: &str, htu| {
            Request::get(uri)
                .header(HOST, "ignored.example")
                .header(AUTHORIZATION, format!("DPoP {token}"))
                .header("dpop", proof(htu))
        };
        let https = absolute("https://api.example/orders", "https://api.example/orders");
        assert_eq!(answer(&layer, https).await, PASS);
        let by_host = absolute(
            "https://api.example/orders",
            "http://ignored.example/orders",
        );
        assert_eq!(answer(&layer, by_host).await, mismatch);

        // No Host, or two: the URL cannot be known.
        let no_host = Request::get("/orders")
            .header(AUTHORIZATION, format!("DPoP {token}"))
            .header("dpop", proof("http://api.example/orders"));
        assert_eq!(answer(&layer, no_host).await, mismatch);
        let two_hosts =
            with_dpop(&token, &proof("http://api.example/orders")).header(HOST, "api.example");
        assert_eq!(answer(&layer, two_hosts).await, mismatch);
    }

    // --- nonces -------------------------------------------------------------

    #[tokio::test]
    async fn nonce_refusals_carry_a_fresh_nonce() {
        let nonces = DpopNonces::new(NONCE_SECRET).unwrap();
        let layer = builder()
            .dpop(
                Dpop::required()
                    .public_url("https://api.example")
                    .nonces(nonces.clone()),
            )
            .build()
            .unwrap();
        let client = client();
        let token = client.bound_token("", SECRET);
        let htu = "https://api.example/orders";
        let fresh = nonces.issue(NOW);

        for extra in [
            json!({}),
            json!({ "nonce": "not a nonce of this server" }),
            json!({ "nonce": nonces.issue(NOW - 2 * DEFAULT_NONCE_ROTATION_SECS) }),
            json!({ "nonce": DpopNonces::new([7u8; 32]).unwrap().issue(NOW) }),
        ] {
            let proof = client.proof("GET", htu, &token, extra.clone());
            let response = send(
                &layer,
                with_dpop(&token, &proof).body(Full::default()).unwrap(),
            )
            .await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{extra}");
            let error = response.extensions().get::<AuthError>().unwrap();
            assert_eq!(error.kind(), AuthErrorKind::UseDpopNonce, "{extra}");
            assert_eq!(error.dpop_nonce(), Some(fresh.as_str()));
            assert_eq!(response.headers()["dpop-nonce"], fresh.as_str());
            let challenge = response.headers()[WWW_AUTHENTICATE].to_str().unwrap();
            assert!(
                challenge.starts_with(r#"DPoP error="use_dpop_nonce""#),
                "{challenge}"
            );
        }

        // Any other refusal of the proof brings one too: the client needs it
        // for its next proof anyway.
        let proof = client.proof(
            "GET",
            "https://api.example/other",
            &token,
            json!({ "nonce": fresh }),
        );
        let response = send(
            &layer,
            with_dpop(&token, &proof).body(Full::default()).unwrap(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.extensions().get::<AuthError>().unwrap().kind(),
            AuthErrorKind::InvalidDpopProof
        );
        assert_eq!(response.headers()["dpop-nonce"], fresh.as_str());

        // The nonce given, or the one of the window before, is taken.
        for nonce in [
            fresh.clone(),
            nonces.issue(NOW - DEFAULT_NONCE_ROTATION_SECS),
        ] {
            let proof = client.proof("GET", htu, &token, json!({ "nonce": nonce }));
            assert_eq!(answer(&layer, with_dpop(&token, &proof)).await, PASS);
        }
    }

    const DEFAULT_NONCE_ROTATION_SECS: u64 = crate::dpop::DEFAULT_NONCE_ROTATION.as_secs();

    /// A store across the network: it answers later, here "seen before"
    /// for every id, or fails.
    #[cfg(feature = "replay-store")]
    struct Remote {
        fails: bool,
    }

    #[cfg(feature = "replay-store")]
    impl crate::ReplayStore for Remote {
        fn first_use<'a>(&'a self, _: &'a str, _: u64) -> crate::ReplayFuture<'a> {
            Box::pin(async move {
                tokio::task::yield_now().await;
                match self.fails {
                    true => Err("the store is down".into()),
                    false => Ok(false),
                }
            })
        }
    }

    /// A refusal by a store that answers later carries a nonce too, as one
    /// by the memory store does.
    #[cfg(feature = "replay-store")]
    #[tokio::test]
    async fn refusals_of_a_waiting_replay_store_carry_a_fresh_nonce() {
        let nonces = DpopNonces::new(NONCE_SECRET).unwrap();
        let client = client();
        let token = client.bound_token("", SECRET);
        let fresh = nonces.issue(NOW);
        let proof = client.proof(
            "GET",
            "https://api.example/orders",
            &token,
            json!({ "nonce": fresh }),
        );
        for (replay, kind) in [
            (ReplayCheck::default(), AuthErrorKind::DpopProofReplayed),
            (
                ReplayCheck::new(Remote { fails: false }),
                AuthErrorKind::DpopProofReplayed,
            ),
            (
                ReplayCheck::new(Remote { fails: true }),
                AuthErrorKind::ReplayCheckUnavailable,
            ),
        ] {
            let layer = builder()
                .dpop(
                    Dpop::required()
                        .public_url("https://api.example")
                        .nonces(nonces.clone())
                        .replay(replay),
                )
                .build()
                .unwrap();
            let mut response = send(
                &layer,
                with_dpop(&token, &proof).body(Full::default()).unwrap(),
            )
            .await;
            if response.status() == StatusCode::OK {
                // The memory store: the second use is the replay.
                response = send(
                    &layer,
                    with_dpop(&token, &proof).body(Full::default()).unwrap(),
                )
                .await;
            }
            let error = response.extensions().get::<AuthError>().unwrap();
            assert_eq!(error.kind(), kind);
            assert_eq!(error.dpop_nonce(), Some(fresh.as_str()), "{kind:?}");
            assert_eq!(response.headers()["dpop-nonce"], fresh.as_str(), "{kind:?}");
        }
    }

    // --- Debug ----------------------------------------------------------------

    #[test]
    fn debug_shows_the_settings_and_no_secret() {
        let nonces = DpopNonces::new(NONCE_SECRET).unwrap();
        let dpop = Dpop::required()
            .algorithms([Algorithm::ES256, Algorithm::EdDSA])
            .public_url("https://api.example/v1")
            .proof_max_age(Duration::from_secs(30))
            .clock_skew(Duration::from_secs(2))
            .max_proof_length(4096)
            .forwarded_from(TrustedProxies::new(["10.0.0.0/8"]).unwrap())
            .nonces(nonces);
        let debug = format!("{dpop:?}");
        for shown in [
            "Required",
            "ES256",
            "EdDSA",
            "30s",
            "2s",
            "4096",
            "https://api.example/v1",
            "10.0.0.0/8",
            "[redacted]",
            "rotate_every: 300s",
        ] {
            assert!(debug.contains(shown), "{shown} not in {debug}");
        }
        let secret = String::from_utf8_lossy(NONCE_SECRET);
        assert!(!debug.contains(&*secret), "{debug}");

        let layer = builder().dpop(dpop).build().unwrap();
        let debug = format!("{layer:?}");
        for shown in [
            "DpopCheck",
            "Required",
            "ES256",
            "max_age: 30",
            "skew: 2",
            "max_length: 4096",
            "api.example",
            "/v1",
            "10.0.0.0/8",
            "[redacted]",
        ] {
            assert!(debug.contains(shown), "{shown} not in {debug}");
        }
        assert!(!debug.contains(&*secret), "{debug}");
        assert!(
            !debug.contains(&*String::from_utf8_lossy(SECRET)),
            "{debug}"
        );
    }
}
