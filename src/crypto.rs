//! The choice of `jsonwebtoken`'s crypto backend.
//!
//! jsonwebtoken 11 panics at the first signature check when the final build enables
//! none or both of its backends and no process default was installed. This crate
//! never asks jsonwebtoken for its process default: it holds the provider it
//! verifies and signs with, chosen here from this crate's features (aws-lc-rs
//! wins when both are on) or given by the user, and fails with
//! [`ConfigError::NoCryptoProvider`](crate::ConfigError::NoCryptoProvider) at build
//! time when there is none.

use jsonwebtoken::crypto::CryptoProvider;

use crate::error::ConfigError;

/// The provider this crate's features select, if any.
pub(crate) fn feature_provider() -> Option<&'static CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    {
        Some(&jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER)
    }
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    {
        Some(&jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER)
    }
    #[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
    {
        None
    }
}

/// The provider to use: `configured`, else the one of this crate's features;
/// made jsonwebtoken's process default too when none was.
///
/// # Errors
///
/// [`ConfigError::NoCryptoProvider`] when there is neither.
pub(crate) fn select(
    configured: Option<&'static CryptoProvider>,
) -> Result<&'static CryptoProvider, ConfigError> {
    let provider = configured
        .or_else(feature_provider)
        .ok_or(ConfigError::NoCryptoProvider)?;
    install_process_default(provider);
    Ok(provider)
}

/// Makes `provider` jsonwebtoken's process default too, when none was installed,
/// so that the application's own calls to `jsonwebtoken::decode`/`encode` cannot
/// meet the "no provider" panic either. An earlier installation is kept.
fn install_process_default(provider: &'static CryptoProvider) {
    let _ = provider.install_default();
}

/// Whether `provider` is jsonwebtoken's aws-lc-rs provider, whose keys this
/// crate may then parse once with aws-lc-rs itself (see `verify::signature`).
#[cfg(feature = "aws-lc-rs")]
pub(crate) fn is_aws_lc_default(provider: &CryptoProvider) -> bool {
    std::ptr::eq(provider, &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER)
}

/// The SHA-256 digest of `data`, from the crypto backend of this crate's
/// features (aws-lc-rs wins when both are on, as for the provider).
///
/// `None` in a build without a backend feature. Such a build has no provider
/// of its own (building a layer fails with
/// [`ConfigError::NoCryptoProvider`] unless the user gives one), and this
/// crate does not carry a SHA-256 of its own for it: the callers treat `None`
/// as "no digest" (the revocation identity of a token without `jti`, see
/// `revocation::TokenInfo`) or refuse to build (a certificate binding,
/// `ConfigError::NeedsBackendFeature`), and never panic.
pub(crate) fn sha256(data: &[u8]) -> Option<[u8; 32]> {
    #[cfg(feature = "aws-lc-rs")]
    {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
        // Always 32 bytes; a mismatch would be `None`, not a panic.
        digest.as_ref().try_into().ok()
    }
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    {
        use sha2::Digest as _;
        Some(sha2::Sha256::digest(data).into())
    }
    #[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
    {
        let _ = data;
        None
    }
}

/// Compares without an early exit, so the time does not tell how much
/// matched (the CSRF double-submit value, a certificate's thumbprint).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    /// FIPS 180-2 test vectors (appendix B.1 and B.2), and the empty input.
    #[test]
    #[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
    fn sha256_matches_the_standard_vectors() {
        let hex =
            |bytes: [u8; 32]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
        let cases: [(&[u8], &str); 3] = [
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(hex(super::sha256(input).unwrap()), expected);
        }
    }

    #[test]
    #[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
    fn sha256_is_none_without_a_backend() {
        assert_eq!(super::sha256(b"abc"), None);
    }
}
