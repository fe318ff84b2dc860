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
