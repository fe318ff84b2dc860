//! A build with neither crypto feature: building must fail with a clear
//! [`ConfigError::NoCryptoProvider`] instead of jsonwebtoken's panic at the
//! first request.
//!
//! The escape hatch in such a build is an explicit provider, given with
//! `JwtAuthBuilder::crypto_provider` or `TokenIssuerBuilder::crypto_provider`
//! (a custom `jsonwebtoken::crypto::CryptoProvider`). This build has no
//! provider to pass, so only the error is tested here.
//!
//! Run with `cargo test --no-default-features --test no_backend`.

#![cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]

use tower_jwt_auth::{ConfigError, JwtAuthLayer, Key, TokenIssuer};

const SECRET: &[u8] = b"a secret of at least 32 bytes....";

/// The message must tell the user what to do: which features to enable.
fn assert_explains_features(error: &ConfigError) {
    let message = error.to_string();
    for needle in ["aws-lc-rs", "rust-crypto", "crypto_provider"] {
        assert!(
            message.contains(needle),
            "{message:?} does not mention {needle:?}"
        );
    }
}

#[test]
fn layer_build_fails_without_a_backend() {
    let error = JwtAuthLayer::<serde_json::Value>::builder()
        .key(Key::hmac(SECRET))
        .build()
        .expect_err("no backend, yet the layer was built");
    assert!(matches!(error, ConfigError::NoCryptoProvider), "{error:?}");
    assert_explains_features(&error);
}

#[test]
fn missing_backend_is_reported_before_missing_keys() {
    // The backend is the deeper problem: report it even when keys are missing too.
    let error = JwtAuthLayer::<serde_json::Value>::builder()
        .build()
        .expect_err("no backend and no key, yet the layer was built");
    assert!(matches!(error, ConfigError::NoCryptoProvider), "{error:?}");
}

#[test]
fn issuer_build_fails_without_a_backend() {
    let error = TokenIssuer::hmac(SECRET)
        .build()
        .expect_err("no backend, yet the issuer was built");
    assert!(matches!(error, ConfigError::NoCryptoProvider), "{error:?}");
    assert_explains_features(&error);
}

#[test]
fn signing_keys_of_a_ring_need_a_backend() {
    // Deriving the public JWK and the thumbprint `kid` needs the backend.
    let pem = include_bytes!("fixtures/dpop/ec_p256.pem");
    let error =
        tower_jwt_auth::SigningKey::from_pem(tower_jwt_auth::jsonwebtoken::Algorithm::ES256, pem)
            .expect_err("no backend, yet the signing key was made");
    assert!(matches!(error, ConfigError::NoCryptoProvider), "{error:?}");
    assert_explains_features(&error);
}
