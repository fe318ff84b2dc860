//! Server-provided nonces for DPoP proofs (RFC 9449 §8, §9), without state.
//!
//! A nonce names a window of time and carries a MAC of it: base64url of the
//! window's number (8 bytes, big-endian) followed by the first 16 bytes of
//! HMAC-SHA256(secret, label || number), 32 characters in all. Any server
//! holding the secret can check it without having seen it issued, and it
//! stops being accepted once the window after its own has passed. The label
//! keeps these MACs apart from anything else the same secret might sign.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::constant_time_eq;
use crate::error::ConfigError;

/// How long a nonce window lasts unless told otherwise: 5 minutes.
pub const DEFAULT_NONCE_ROTATION: Duration = Duration::from_secs(5 * 60);

/// The shortest secret: the HMAC-SHA256 output (RFC 2104 §3).
const MIN_SECRET_LENGTH: usize = 32;

/// Domain separation: these MACs sign nothing but nonce windows. (Without a
/// crypto backend there are no MACs, and nothing reads it.)
#[cfg_attr(
    not(any(feature = "aws-lc-rs", feature = "rust-crypto")),
    allow(dead_code)
)]
const LABEL: &[u8] = b"tower-jwt-auth DPoP nonce v1\0";

/// The bytes of the MAC kept in a nonce: 128 bits.
const TAG_LENGTH: usize = 16;

/// The bytes of a nonce: the window number, then the truncated MAC.
const NONCE_BYTES: usize = 8 + TAG_LENGTH;

/// The characters of a nonce: base64url of [`NONCE_BYTES`], unpadded.
const NONCE_LENGTH: usize = NONCE_BYTES / 3 * 4;

/// Stateless server nonces for DPoP proofs (RFC 9449 §9): the resource
/// server hands one out in a `DPoP-Nonce` header, and the client must put it
/// in the `nonce` claim of its next proofs, which bounds how long a proof
/// made in advance can be used.
///
/// A nonce is accepted during the window it was issued in and the next one,
/// so for between one and two rotation periods ([`rotate_every`], 5 minutes
/// by default); then the client is asked to use a fresh one. Nothing is
/// stored: a nonce carries its window and a MAC of it under the secret.
///
/// A server fleet must share one secret ([`DpopNonces::new`]), or a nonce
/// issued by one server is refused by the others. [`DpopNonces::random`]
/// makes a secret for one process, which is fine for a single server, and
/// invalidates the nonces in use whenever it restarts.
///
/// [`rotate_every`]: DpopNonces::rotate_every
#[derive(Clone)]
pub struct DpopNonces {
    mac: Mac,
    /// The window length in seconds, at least 1.
    period: u64,
}

impl DpopNonces {
    /// Nonces made with `secret`, shared by every server that must accept
    /// the nonces of the others.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ShortNonceSecret`] when `secret` is shorter than 32
    /// bytes; [`ConfigError::NoCryptoProvider`] in a build without the
    /// `aws-lc-rs` or `rust-crypto` feature.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_LENGTH {
            return Err(ConfigError::ShortNonceSecret {
                length: secret.len(),
                minimum: MIN_SECRET_LENGTH,
            });
        }
        Ok(Self {
            mac: Mac::new(secret)?,
            period: DEFAULT_NONCE_ROTATION.as_secs(),
        })
    }

    /// Nonces made with a random secret of this process: for one server
    /// (a fleet needs a shared secret, [`DpopNonces::new`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError::RandomUnavailable`] when the operating system's
    /// random generator fails; [`ConfigError::NoCryptoProvider`] in a
    /// build without the `aws-lc-rs` or `rust-crypto` feature.
    pub fn random() -> Result<Self, ConfigError> {
        let mut secret = [0u8; MIN_SECRET_LENGTH];
        fill_random(&mut secret)?;
        Self::new(secret)
    }

    /// Sets the length of a nonce window (5 minutes by default), in whole
    /// seconds, at least one. A nonce is accepted in its window and the
    /// next.
    #[must_use]
    pub fn rotate_every(mut self, period: Duration) -> Self {
        self.period = period.as_secs().max(1);
        self
    }

    /// A nonce for the window of `now` (seconds since the Unix epoch).
    pub(crate) fn issue(&self, now: u64) -> String {
        let window = now / self.period;
        let mut bytes = [0u8; NONCE_BYTES];
        let (number, tag) = bytes.split_at_mut(8);
        number.copy_from_slice(&window.to_be_bytes());
        // A missing MAC (impossible for SHA-256) leaves zeros, which
        // `accepts` never takes: the nonce is then refused, never forged.
        if let Some(mac) = self.mac.tag(window) {
            tag.copy_from_slice(&mac);
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Whether `nonce` was issued by [`issue`](Self::issue) with this secret,
    /// in the window of `now` or the one before. The MAC is compared in
    /// constant time.
    pub(crate) fn accepts(&self, nonce: &str, now: u64) -> bool {
        if nonce.len() != NONCE_LENGTH {
            return false;
        }
        let mut bytes = [0u8; NONCE_BYTES];
        if URL_SAFE_NO_PAD.decode_slice(nonce, &mut bytes) != Ok(NONCE_BYTES) {
            return false;
        }
        let (number, tag) = bytes.split_at(8);
        let Ok(number) = <[u8; 8]>::try_from(number) else {
            return false;
        };
        let window = u64::from_be_bytes(number);
        let current = now / self.period;
        if window != current && window.checked_add(1) != Some(current) {
            return false;
        }
        self.mac
            .tag(window)
            .is_some_and(|mac| constant_time_eq(&mac, tag))
    }
}

impl fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopNonces")
            .field("secret", &"[redacted]")
            .field("rotate_every", &Duration::from_secs(self.period))
            .finish()
    }
}

/// HMAC-SHA256 keyed once, from the crypto backend of this crate's features
/// (aws-lc-rs when both are on); no variant without one, so that no value
/// can be built.
#[derive(Clone)]
enum Mac {
    #[cfg(feature = "aws-lc-rs")]
    AwsLc(aws_lc_rs::hmac::Key),
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    RustCrypto(hmac::Hmac<sha2::Sha256>),
}

impl Mac {
    fn new(secret: &[u8]) -> Result<Self, ConfigError> {
        #[cfg(feature = "aws-lc-rs")]
        {
            use aws_lc_rs::hmac;
            Ok(Self::AwsLc(hmac::Key::new(hmac::HMAC_SHA256, secret)))
        }
        #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
        {
            use hmac::Mac as _;
            // HMAC takes keys of any length: this cannot fail.
            hmac::Hmac::<sha2::Sha256>::new_from_slice(secret)
                .map(Self::RustCrypto)
                .map_err(|_| ConfigError::NoCryptoProvider)
        }
        #[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
        {
            let _ = secret;
            Err(ConfigError::NoCryptoProvider)
        }
    }

    /// The first [`TAG_LENGTH`] bytes of the MAC of `window`'s label.
    #[cfg_attr(
        not(any(feature = "aws-lc-rs", feature = "rust-crypto")),
        allow(unused_variables, reason = "no variant reads it")
    )]
    fn tag(&self, window: u64) -> Option<[u8; TAG_LENGTH]> {
        // On the place, not the reference: without a backend there is no
        // variant, and the match is empty.
        match *self {
            #[cfg(feature = "aws-lc-rs")]
            Self::AwsLc(ref key) => {
                let mut out = [0u8; TAG_LENGTH];
                let mut context = aws_lc_rs::hmac::Context::with_key(key);
                context.update(LABEL);
                context.update(&window.to_be_bytes());
                out.copy_from_slice(context.sign().as_ref().get(..TAG_LENGTH)?);
                Some(out)
            }
            #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
            Self::RustCrypto(ref key) => {
                use hmac::Mac as _;
                let mut out = [0u8; TAG_LENGTH];
                let mut mac = key.clone();
                mac.update(LABEL);
                mac.update(&window.to_be_bytes());
                out.copy_from_slice(mac.finalize().into_bytes().get(..TAG_LENGTH)?);
                Some(out)
            }
        }
    }
}

/// Fills `bytes` from the operating system's generator, through the crypto
/// backend in use.
fn fill_random(bytes: &mut [u8]) -> Result<(), ConfigError> {
    #[cfg(feature = "aws-lc-rs")]
    {
        aws_lc_rs::rand::fill(bytes).map_err(|_| ConfigError::RandomUnavailable)
    }
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    {
        getrandom::getrandom(bytes).map_err(|_| ConfigError::RandomUnavailable)
    }
    #[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
    {
        let _ = bytes;
        Err(ConfigError::NoCryptoProvider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a DPoP nonce secret of 32 bytes.";

    #[test]
    fn short_secrets_are_refused() {
        let error = DpopNonces::new(b"short").unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::ShortNonceSecret {
                    length: 5,
                    minimum: 32
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("32"));
    }

    #[test]
    #[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
    fn no_nonces_without_a_backend() {
        assert!(matches!(
            DpopNonces::new(SECRET),
            Err(ConfigError::NoCryptoProvider)
        ));
        assert!(matches!(
            DpopNonces::random(),
            Err(ConfigError::NoCryptoProvider)
        ));
    }

    #[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
    mod with_a_backend {
        use super::*;

        fn nonces() -> DpopNonces {
            DpopNonces::new(SECRET).unwrap()
        }

        #[test]
        fn a_nonce_is_accepted_in_its_window_and_the_next() {
            let nonces = nonces().rotate_every(Duration::from_secs(60));
            let nonce = nonces.issue(6_000);
            assert_eq!(nonce.len(), NONCE_LENGTH);
            // RFC 9449 §8.1: NQCHAR, and no padding.
            assert!(
                nonce
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(nonces.issue(6_059), nonce, "the same window");
            assert_ne!(nonces.issue(6_060), nonce, "the next window");
            for now in [6_000, 6_059, 6_060, 6_119] {
                assert!(nonces.accepts(&nonce, now), "{now}");
            }
            for now in [5_999, 6_120, 0, u64::MAX] {
                assert!(!nonces.accepts(&nonce, now), "{now}");
            }
        }

        #[test]
        fn servers_sharing_a_secret_accept_each_others_nonces() {
            let nonce = nonces().issue(1_700_000_000);
            assert!(nonces().accepts(&nonce, 1_700_000_100));
            let other = DpopNonces::new([7u8; 32]).unwrap();
            assert!(!other.accepts(&nonce, 1_700_000_100));
            let random = DpopNonces::random().unwrap();
            assert!(random.accepts(&random.issue(10), 10));
            assert!(!random.accepts(&nonce, 1_700_000_100));
            assert!(!DpopNonces::random().unwrap().accepts(&random.issue(10), 10));
        }

        #[test]
        fn forged_and_malformed_nonces_are_refused() {
            let nonces = nonces();
            let now = 1_700_000_000;
            let nonce = nonces.issue(now);
            // Every single-character change, and the MAC of another window.
            for position in 0..nonce.len() {
                let mut forged = nonce.clone().into_bytes();
                forged[position] = if forged[position] == b'A' { b'B' } else { b'A' };
                let forged = String::from_utf8(forged).unwrap();
                assert!(!nonces.accepts(&forged, now), "{forged}");
            }
            let window = now / DEFAULT_NONCE_ROTATION.as_secs();
            let mut spliced = [0u8; NONCE_BYTES];
            spliced[..8].copy_from_slice(&(window - 1).to_be_bytes());
            spliced[8..].copy_from_slice(&URL_SAFE_NO_PAD.decode(&nonce).unwrap()[8..]);
            assert!(!nonces.accepts(&URL_SAFE_NO_PAD.encode(spliced), now));
            let zeros = URL_SAFE_NO_PAD.encode({
                let mut z = [0u8; NONCE_BYTES];
                z[..8].copy_from_slice(&window.to_be_bytes());
                z
            });
            assert!(!nonces.accepts(&zeros, now));
            for bad in [
                "",
                "x",
                &nonce[1..],
                format!("{nonce}A").as_str(),
                format!("{}=", &nonce[..31]).as_str(),
                "é".repeat(16).as_str(),
                "!".repeat(NONCE_LENGTH).as_str(),
            ] {
                assert!(!nonces.accepts(bad, now), "{bad:?}");
            }
        }

        #[test]
        fn rotation_is_whole_seconds_at_least_one() {
            let nonces = nonces().rotate_every(Duration::from_millis(10));
            assert_eq!(nonces.period, 1);
            let nonce = nonces.issue(5);
            assert!(nonces.accepts(&nonce, 6) && !nonces.accepts(&nonce, 7));
            let never = nonces.rotate_every(Duration::MAX);
            assert!(never.accepts(&never.issue(0), u64::MAX));
        }

        #[test]
        fn debug_redacts_the_secret() {
            let debug = format!("{:?}", nonces());
            assert_eq!(
                debug,
                r#"DpopNonces { secret: "[redacted]", rotate_every: 300s }"#
            );
        }

        /// The tag is HMAC-SHA256 of the label and window, as a reference
        /// HMAC (itself checked on RFC 4231 test case 2) computes it: both
        /// backends agree.
        #[test]
        fn the_mac_is_hmac_sha256() {
            let nonces = nonces();
            let tag = nonces.mac.tag(42).unwrap();
            let mut message = LABEL.to_vec();
            message.extend_from_slice(&42u64.to_be_bytes());
            assert_eq!(tag, hmac_sha256(SECRET, &message)[..TAG_LENGTH]);
            // RFC 4231 §4.3.
            let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
            let hex: String = hmac_sha256(b"Jefe", b"what do ya want for nothing?")
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(hex, expected);
        }

        /// HMAC (RFC 2104) over this crate's SHA-256, as a reference.
        fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
            let sha = |data: &[u8]| crate::crypto::sha256(data).unwrap();
            let mut block = [0u8; 64];
            if key.len() > 64 {
                block[..32].copy_from_slice(&sha(key));
            } else {
                block[..key.len()].copy_from_slice(key);
            }
            let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
            let mut inner = pad(0x36);
            inner.extend_from_slice(message);
            let mut outer = pad(0x5c);
            outer.extend_from_slice(&sha(&inner));
            sha(&outer)
        }
    }
}
