//! [`ClientAuth`]: how the resource server authenticates itself to the
//! introspection endpoint: `client_secret_basic` (RFC 7662 §2.1, RFC 6749
//! §2.3.1) or `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9).

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use jsonwebtoken::{Algorithm, EncodingKey};

use crate::TokenIssuer;
use crate::remote::{RemoteKeyError, RemoteKeyErrorKind};

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long one client assertion holds: long enough for clock skew between
/// the two servers, short enough that a captured one is soon worthless (it
/// is also single-use: a fresh `jti` each time).
const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// The credentials as the builder was given them.
#[derive(Clone)]
pub(super) enum Credentials {
    /// A client id and secret.
    Secret { id: String, secret: String },
    /// A client id and the private key its assertions are signed with.
    PrivateKey {
        id: String,
        key: EncodingKey,
        algorithm: Algorithm,
    },
}

/// The settings of `private_key_jwt` assertions beyond the key.
#[derive(Debug, Clone, Default)]
pub(super) struct AssertionSettings {
    /// The header's `kid`.
    pub(super) kid: Option<String>,
    /// The `aud`, as set.
    pub(super) audience: Option<String>,
    /// The issuer whose metadata named the endpoint: the `aud` by default.
    pub(super) issuer: Option<String>,
}

impl Credentials {
    /// The method's name in authorization server metadata (RFC 8414 §2).
    pub(super) fn method(&self) -> &'static str {
        match self {
            Self::Secret { .. } => "client_secret_basic",
            Self::PrivateKey { .. } => "private_key_jwt",
        }
    }

    /// Checks the credentials and makes what each request carries;
    /// `audience` is the assertions' `aud` unless `settings` set one.
    pub(super) fn into_auth(
        self,
        settings: &AssertionSettings,
        audience: &str,
    ) -> Result<ClientAuth, RemoteKeyError> {
        let invalid =
            |detail: String| RemoteKeyError::new(RemoteKeyErrorKind::InvalidConfig, detail);
        match self {
            Self::Secret { id, secret } => Ok(ClientAuth::Basic(basic(&id, &secret)?)),
            Self::PrivateKey { id, key, algorithm } => {
                if matches!(
                    algorithm,
                    Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
                ) {
                    return Err(invalid(format!(
                        "private_key_jwt signs with a private key, not {algorithm:?}"
                    )));
                }
                let mut signer = TokenIssuer::builder(key, algorithm)
                    // RFC 7523 §3: iss and sub are the client id; a fresh jti
                    // for each assertion, which servers refuse to see twice.
                    .issuer(&id)
                    .audience(settings.audience.as_deref().unwrap_or(audience))
                    .jti(true)
                    .ttl(ASSERTION_LIFETIME);
                if let Some(kid) = &settings.kid {
                    signer = signer.kid(kid);
                }
                let signer = signer.build().map_err(|e| {
                    invalid(format!("the private_key_jwt key cannot sign: {e}")).with_source(e)
                })?;
                Ok(ClientAuth::Assertion { id, signer })
            }
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret { id, .. } => f
                .debug_struct("client_secret_basic")
                .field("client_id", id)
                .field("client_secret", &"[redacted]")
                .finish(),
            Self::PrivateKey { id, algorithm, .. } => f
                .debug_struct("private_key_jwt")
                .field("client_id", id)
                .field("algorithm", algorithm)
                .field("key", &"[redacted]")
                .finish(),
        }
    }
}

/// What each introspection request carries to authenticate the resource
/// server.
pub(super) enum ClientAuth {
    /// The `Authorization` header (`Basic`, marked sensitive).
    Basic(HeaderValue),
    /// A fresh signed assertion in the form, per request.
    Assertion { id: String, signer: TokenIssuer },
}

impl ClientAuth {
    /// The `Authorization` header, if this method uses one.
    pub(super) fn header(&self) -> Option<&HeaderValue> {
        match self {
            Self::Basic(value) => Some(value),
            Self::Assertion { .. } => None,
        }
    }

    /// Adds this method's form fields to `form`: for `private_key_jwt`, a
    /// new assertion. Fails only if signing fails.
    pub(super) fn add_to(
        &self,
        form: &mut form_urlencoded::Serializer<'_, String>,
    ) -> Result<(), crate::IssueError> {
        if let Self::Assertion { id, signer } = self {
            let assertion = signer.issue(&serde_json::json!({ "sub": id }))?;
            form.append_pair("client_assertion_type", JWT_BEARER)
                .append_pair("client_assertion", &assertion);
        }
        Ok(())
    }
}

/// The `Authorization` value of `client_secret_basic`: each part
/// form-urlencoded first (RFC 6749 §2.3.1, Appendix B), marked sensitive.
fn basic(id: &str, secret: &str) -> Result<HeaderValue, RemoteKeyError> {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(id), encode(secret));
    let mut value = HeaderValue::try_from(format!("Basic {}", STANDARD.encode(credentials)))
        .map_err(|e| {
            RemoteKeyError::new(
                RemoteKeyErrorKind::InvalidConfig,
                "unusable client credentials",
            )
            .with_source(e)
        })?;
    value.set_sensitive(true);
    Ok(value)
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic(_) => f.write_str("client_secret_basic"),
            Self::Assertion { id, .. } => f
                .debug_struct("private_key_jwt")
                .field("client_id", id)
                .finish_non_exhaustive(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::Value;

    #[test]
    fn client_secret_basic_encodes_each_part_before_base64() {
        // RFC 6749 Appendix B: application/x-www-form-urlencoded, space as `+`.
        let value = basic("s6BhdRkqt3", "7Fjfp0ZBr1KtDRbnfVdmIw").unwrap();
        assert_eq!(value, "Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3");
        assert!(value.is_sensitive());
        let value = basic("a:b", "c d%é").unwrap();
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "a%3Ab:c+d%25%C3%A9");
    }

    /// The header and claims of a JWT, unverified.
    fn parts(jwt: &str) -> (Value, Value) {
        let mut segments = jwt.split('.');
        let mut next = || -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segments.next().unwrap()).unwrap())
                .unwrap()
        };
        (next(), next())
    }

    /// The `client_assertion` of one request's form.
    fn assertion(auth: &ClientAuth) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        auth.add_to(&mut form).unwrap();
        let form = form.finish();
        let fields: Vec<(String, String)> = form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            fields[0],
            ("client_assertion_type".into(), JWT_BEARER.into())
        );
        assert_eq!(fields[1].0, "client_assertion");
        fields[1].1.clone()
    }

    #[cfg(feature = "aws-lc-rs")]
    #[test]
    fn each_request_carries_a_fresh_assertion_by_rfc_7523() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let auth_with = |audience: Option<&str>| {
            let settings = AssertionSettings {
                kid: Some("rs-key-1".into()),
                audience: audience.map(str::to_owned),
                issuer: None,
            };
            Credentials::PrivateKey {
                id: "orders-api".into(),
                key: EncodingKey::from_ec_der(pkcs8.as_ref()),
                algorithm: Algorithm::ES256,
            }
            .into_auth(&settings, "https://as.example")
            .unwrap()
        };
        let auth = auth_with(None);
        assert!(auth.header().is_none());
        let (first, second) = (assertion(&auth), assertion(&auth));
        let (header, claims) = parts(&first);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "rs-key-1");
        assert_eq!(claims["iss"], "orders-api");
        assert_eq!(claims["sub"], "orders-api");
        assert_eq!(claims["aud"], "https://as.example");
        let (iat, exp) = (
            claims["iat"].as_u64().unwrap(),
            claims["exp"].as_u64().unwrap(),
        );
        assert_eq!(exp - iat, ASSERTION_LIFETIME.as_secs());
        let jti = claims["jti"].as_str().unwrap();
        assert!(jti.len() >= 32, "{jti}");
        assert_ne!(
            parts(&second).1["jti"],
            claims["jti"],
            "one jti per assertion"
        );
        assert_eq!(
            format!("{auth:?}"),
            r#"private_key_jwt { client_id: "orders-api", .. }"#
        );
        // An audience set replaces the default.
        let set = auth_with(Some("https://as.example/token"));
        assert_eq!(parts(&assertion(&set)).1["aud"], "https://as.example/token");
    }

    #[test]
    fn an_hmac_key_or_one_of_another_family_is_refused() {
        let refused = |key: EncodingKey, algorithm| {
            Credentials::PrivateKey {
                id: "rs".into(),
                key,
                algorithm,
            }
            .into_auth(&AssertionSettings::default(), "https://as.example")
            .unwrap_err()
        };
        let error = refused(EncodingKey::from_secret(&[7; 32]), Algorithm::HS256);
        assert_eq!(error.kind(), RemoteKeyErrorKind::InvalidConfig);
        assert!(error.to_string().contains("private key"), "{error}");
        let error = refused(EncodingKey::from_secret(&[7; 32]), Algorithm::ES256);
        assert_eq!(error.kind(), RemoteKeyErrorKind::InvalidConfig);
        assert!(error.to_string().contains("cannot sign"), "{error}");
    }
}
