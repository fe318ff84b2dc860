//! [`ClientCertificate`]: the TLS client certificate of a request's
//! connection, as the server's accept loop hands it to the middleware.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;

use crate::crypto;

/// The certificate a client presented in the TLS handshake of a request's
/// connection (the leaf, DER-encoded): a request extension the server's
/// accept loop inserts after the handshake, for
/// [`CertificateBinding::from_connection`](crate::CertificateBinding::from_connection).
///
/// It is not parsed or verified here: the TLS stack verified it (chain,
/// validity, key possession) before the first request, and a certificate
/// binding only compares its SHA-256 with the token's `cnf["x5t#S256"]`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate(Bytes);

impl ClientCertificate {
    /// The certificate whose DER encoding is `der`; with rustls, the first
    /// of `ServerConnection::peer_certificates()`.
    pub fn from_der(der: impl Into<Bytes>) -> Self {
        Self(der.into())
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.0
    }

    /// The DER encoding, as the shared bytes it is kept in.
    pub fn into_der(self) -> Bytes {
        self.0
    }

    /// The certificate's SHA-256 thumbprint, base64url without padding: what
    /// a token bound to it carries as `cnf["x5t#S256"]` (RFC 8705 §3.1), for
    /// an issuer of such tokens and for tests.
    ///
    /// `None` in a build without the `aws-lc-rs` and `rust-crypto` features,
    /// which has no SHA-256 of its own.
    ///
    /// ```
    /// use tower_jwt_auth::ClientCertificate;
    ///
    /// let certificate = ClientCertificate::from_der(&b"not really DER"[..]);
    /// # #[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
    /// assert_eq!(
    ///     certificate.thumbprint().as_deref(),
    ///     Some("R2W5kOJzI22JQYZk1Rg3ufDQdmt7oSnGmKPLIiXrnMY")
    /// );
    /// ```
    pub fn thumbprint(&self) -> Option<String> {
        crypto::sha256(&self.0).map(|digest| URL_SAFE_NO_PAD.encode(digest))
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("der_length", &self.0.len())
            .finish()
    }
}
