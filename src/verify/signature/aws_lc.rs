//! Keys parsed once by aws-lc-rs, with the algorithm parameters of
//! jsonwebtoken's aws-lc backend (`jsonwebtoken::crypto::aws_lc`).

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ED25519, ParsedPublicKey,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512,
    RSA_PSS_2048_8192_SHA256, RSA_PSS_2048_8192_SHA384, RSA_PSS_2048_8192_SHA512,
    VerificationAlgorithm,
};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};

use super::SignatureKey;

/// `key` ready for `algorithm`.
pub(super) fn prepare(algorithm: Algorithm, key: &DecodingKey) -> Result<SignatureKey, Error> {
    let hmac = |a| -> Result<SignatureKey, Error> {
        let secret = key.try_get_as_bytes()?;
        Ok(SignatureKey::Hmac(Box::new(hmac::Key::new(a, secret))))
    };
    let public = |a: &'static dyn VerificationAlgorithm, invalid: fn(String) -> ErrorKind| {
        let parsed = match key.kind() {
            DecodingKeyKind::SecretOrDer(bytes) => ParsedPublicKey::new(a, bytes),
            DecodingKeyKind::RsaModulusExponent { n, e } => {
                let der = rsa_public_key_der(n, e)
                    .ok_or_else(|| invalid("modulus or exponent with a leading zero".into()))?;
                ParsedPublicKey::new(a, der)
            }
        };
        parsed
            .map(SignatureKey::Public)
            .map_err(|e| Error::from(invalid(e.to_string())))
    };
    let rsa = |a| public(a, ErrorKind::InvalidRsaKey);
    let ec = |a| public(a, |_| ErrorKind::InvalidEcdsaKey);
    match algorithm {
        Algorithm::HS256 => hmac(hmac::HMAC_SHA256),
        Algorithm::HS384 => hmac(hmac::HMAC_SHA384),
        Algorithm::HS512 => hmac(hmac::HMAC_SHA512),
        Algorithm::RS256 => rsa(&RSA_PKCS1_2048_8192_SHA256),
        Algorithm::RS384 => rsa(&RSA_PKCS1_2048_8192_SHA384),
        Algorithm::RS512 => rsa(&RSA_PKCS1_2048_8192_SHA512),
        Algorithm::PS256 => rsa(&RSA_PSS_2048_8192_SHA256),
        Algorithm::PS384 => rsa(&RSA_PSS_2048_8192_SHA384),
        Algorithm::PS512 => rsa(&RSA_PSS_2048_8192_SHA512),
        Algorithm::ES256 => ec(&ECDSA_P256_SHA256_FIXED),
        Algorithm::ES384 => ec(&ECDSA_P384_SHA384_FIXED),
        Algorithm::EdDSA => public(&ED25519, |_| ErrorKind::InvalidEddsaKey),
        // An algorithm newer than this code: jsonwebtoken's provider judges it.
        _ => Ok(SignatureKey::Provider(key.clone())),
    }
}

/// The PKCS#1 `RSAPublicKey` DER (RFC 8017 §A.1.1) of a JWK's `n` and `e`
/// (big-endian, RFC 7518 §6.3.1). Like aws-lc-rs's `RsaPublicKeyComponents`,
/// which jsonwebtoken verifies such keys with, it refuses leading zeros.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Option<Vec<u8>> {
    if n.first().is_none_or(|&b| b == 0) || e.first().is_none_or(|&b| b == 0) {
        return None;
    }
    let mut integers = Vec::with_capacity(n.len() + e.len() + 16);
    der_unsigned_integer(&mut integers, n);
    der_unsigned_integer(&mut integers, e);
    let mut der = Vec::with_capacity(integers.len() + 8);
    der.push(0x30); // SEQUENCE
    der_length(&mut der, integers.len());
    der.extend_from_slice(&integers);
    Some(der)
}

/// A DER INTEGER of a big-endian magnitude without leading zeros.
fn der_unsigned_integer(out: &mut Vec<u8>, magnitude: &[u8]) {
    // A set top bit would read as negative: one zero byte keeps it positive.
    let pad = magnitude.first().is_some_and(|&b| b & 0x80 != 0);
    out.push(0x02); // INTEGER
    der_length(out, magnitude.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(magnitude);
}

/// A DER length: short form below 128, else long form.
fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
        Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512,
        RSA_PSS_SHA256, RSA_PSS_SHA384, RSA_PSS_SHA512, RsaEncoding,
    };
    use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
    use jsonwebtoken::jwk::JwkSet;

    use super::*;

    const MESSAGE: &[u8] = b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZGEifQ";

    /// Checks that the prepared key accepts `signature` and refuses it with one
    /// bit flipped, exactly as jsonwebtoken's own aws-lc verifier does.
    fn agrees_with_jsonwebtoken(algorithm: Algorithm, key: &DecodingKey, signature: &[u8]) {
        let prepared = prepare(algorithm, key).unwrap();
        assert!(matches!(
            (algorithm, &prepared),
            (
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512,
                SignatureKey::Hmac(_)
            ) | (_, SignatureKey::Public(_))
        ));
        let reference = (DEFAULT_PROVIDER.verifier_factory)(&algorithm, key).unwrap();
        let mut flipped = signature.to_vec();
        flipped[signature.len() / 2] ^= 0x01;
        for (signature, valid) in [(signature, true), (&flipped[..], false)] {
            let ours = prepared.verify(&DEFAULT_PROVIDER, algorithm, MESSAGE, signature);
            let theirs = reference.verify(MESSAGE, &signature.to_vec()).is_ok();
            assert_eq!((ours, theirs), (valid, valid), "{algorithm:?}");
        }
        let other_message = prepared.verify(&DEFAULT_PROVIDER, algorithm, b"x", signature);
        assert!(!other_message, "{algorithm:?}");
    }

    #[test]
    fn hmac_keys_verify_and_refuse() {
        let secret = b"a secret of at least 64 bytes, enough for every HMAC variant.....";
        let key = DecodingKey::from_secret(secret);
        for (algorithm, hmac_algorithm) in [
            (Algorithm::HS256, hmac::HMAC_SHA256),
            (Algorithm::HS384, hmac::HMAC_SHA384),
            (Algorithm::HS512, hmac::HMAC_SHA512),
        ] {
            let tag = hmac::sign(&hmac::Key::new(hmac_algorithm, secret), MESSAGE);
            agrees_with_jsonwebtoken(algorithm, &key, tag.as_ref());
        }
    }

    #[test]
    fn rsa_keys_verify_and_refuse() {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let der = DecodingKey::from_rsa_der(pair.public_key().as_ref());
        let rng = SystemRandom::new();
        let cases: [(Algorithm, &'static dyn RsaEncoding); 6] = [
            (Algorithm::RS256, &RSA_PKCS1_SHA256),
            (Algorithm::RS384, &RSA_PKCS1_SHA384),
            (Algorithm::RS512, &RSA_PKCS1_SHA512),
            (Algorithm::PS256, &RSA_PSS_SHA256),
            (Algorithm::PS384, &RSA_PSS_SHA384),
            (Algorithm::PS512, &RSA_PSS_SHA512),
        ];
        for (algorithm, encoding) in cases {
            let mut signature = vec![0; pair.public_modulus_len()];
            pair.sign(encoding, &rng, MESSAGE, &mut signature).unwrap();
            agrees_with_jsonwebtoken(algorithm, &der, &signature);
        }
    }

    #[test]
    fn ec_and_ed_keys_verify_and_refuse() {
        let rng = SystemRandom::new();
        for (algorithm, signing) in [
            (Algorithm::ES256, &ECDSA_P256_SHA256_FIXED_SIGNING),
            (Algorithm::ES384, &ECDSA_P384_SHA384_FIXED_SIGNING),
        ] {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref()).unwrap();
            let key = DecodingKey::from_ec_der(pair.public_key().as_ref());
            let signature = pair.sign(&rng, MESSAGE).unwrap();
            agrees_with_jsonwebtoken(algorithm, &key, signature.as_ref());
        }
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let key = DecodingKey::from_ed_der(pair.public_key().as_ref());
        agrees_with_jsonwebtoken(Algorithm::EdDSA, &key, pair.sign(MESSAGE).as_ref());
    }

    #[test]
    fn a_key_of_the_wrong_curve_is_refused_at_build_time() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let key = DecodingKey::from_ec_der(pair.public_key().as_ref());
        assert!(prepare(Algorithm::ES256, &key).is_err());
        assert!(prepare(Algorithm::ES384, &key).is_ok());

        // Through the builder: a ready-made key is bound to its curve, and
        // pinning the other curve's algorithm fails the build, not every request.
        let key = crate::Key::from_decoding_key(key);
        assert_eq!(key.algorithms(), [Algorithm::ES384]);
        let build = |key: crate::Key| {
            crate::JwtAuthLayer::<serde_json::Value>::builder()
                .key(key)
                .build()
                .map(|_| ())
        };
        assert!(build(key.clone()).is_ok());
        let pinned = key.with_algorithm(Algorithm::ES256);
        assert!(matches!(
            build(pinned),
            Err(crate::ConfigError::InvalidKey(_))
        ));
    }

    /// The JWK (n, e) form of the PyJWT fixture key verifies the fixture's RS256
    /// and PS256 tokens like its PEM form, and refuses them tampered.
    #[test]
    fn rsa_modulus_and_exponent_keys_verify_fixture_tokens() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pyjwt");
        let read = |f: &str| std::fs::read(format!("{dir}/{f}")).unwrap();
        let set: JwkSet = serde_json::from_slice(&read("jwks.json")).unwrap();
        let jwk = set.find("rsa-1").unwrap();
        let n_e = DecodingKey::from_jwk(jwk).unwrap();
        assert!(matches!(
            n_e.kind(),
            DecodingKeyKind::RsaModulusExponent { .. }
        ));
        let pem = DecodingKey::from_rsa_pem(&read("rsa_public.pem")).unwrap();
        let tokens: Vec<serde_json::Value> = serde_json::from_slice(&read("tokens.json")).unwrap();
        for name in ["RS256", "PS256", "RS512"] {
            let fixture = tokens.iter().find(|t| t["name"] == name).unwrap();
            let algorithm: Algorithm = name.parse().unwrap();
            let token = fixture["token"].as_str().unwrap();
            let (message, signature) = token.rsplit_once('.').unwrap();
            let mut signature = base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                signature,
            )
            .unwrap();
            for key in [&n_e, &pem] {
                let prepared = prepare(algorithm, key).unwrap();
                let verify =
                    |s: &[u8]| prepared.verify(&DEFAULT_PROVIDER, algorithm, message.as_bytes(), s);
                assert!(verify(&signature), "{name}");
                signature[0] ^= 0x80;
                assert!(!verify(&signature), "{name}");
                signature[0] ^= 0x80;
            }
        }
    }

    #[test]
    fn rsa_components_with_leading_zeros_are_refused() {
        let key = |n: &[u8], e: &[u8]| DecodingKey::from_rsa_raw_components(n, e);
        let n = [0xC5; 256];
        assert!(prepare(Algorithm::RS256, &key(&n, &[1, 0, 1])).is_ok());
        let mut padded = vec![0];
        padded.extend_from_slice(&n);
        assert!(prepare(Algorithm::RS256, &key(&padded, &[1, 0, 1])).is_err());
        assert!(prepare(Algorithm::RS256, &key(&n, &[0, 1, 0, 1])).is_err());
        assert!(prepare(Algorithm::RS256, &key(&n, &[])).is_err());
    }

    #[test]
    fn der_lengths_and_integers() {
        let encoded = |len| {
            let mut out = Vec::new();
            der_length(&mut out, len);
            out
        };
        assert_eq!(encoded(0x7F), [0x7F]);
        assert_eq!(encoded(0x80), [0x81, 0x80]);
        assert_eq!(encoded(0x0101), [0x82, 0x01, 0x01]);
        let mut out = Vec::new();
        der_unsigned_integer(&mut out, &[0x80, 0x01]);
        der_unsigned_integer(&mut out, &[0x01, 0x00, 0x01]);
        assert_eq!(out, [2, 3, 0, 0x80, 1, 2, 3, 1, 0, 1]);
    }
}
