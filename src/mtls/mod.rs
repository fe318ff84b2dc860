//! Certificate-bound access tokens (RFC 8705 §3), the resource server's
//! side: a check after verification (`crate::checks`, position 2) that
//! compares a token's `cnf["x5t#S256"]` with the SHA-256 of the client's
//! certificate. What users read is on [`CertificateBinding`].
//!
//! - `binding.rs`: [`CertificateBinding`], the public configuration, and its
//!   `TokenCheck`; it also names the forwarded header that an untrusted peer
//!   must not pass to the inner service (`TokenCheck::untrusted_headers`).
//! - `certificate.rs`: [`ClientCertificate`], the extension the accept loop
//!   inserts.
//! - `proxy.rs`: [`ProxyHeader`], the certificate a trusted proxy forwards
//!   (Envoy's XFCC, nginx's URL-encoded PEM), read within 16 KiB.
//!
//! Who the peer is, and whether it is a trusted proxy, is `crate::peer`'s.

mod binding;
mod certificate;
mod proxy;

pub use binding::CertificateBinding;
pub use certificate::ClientCertificate;
pub use proxy::ProxyHeader;
