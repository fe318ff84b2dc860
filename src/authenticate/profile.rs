//! The JWT access token profile (RFC 9068) as a preset: what
//! [`JwtAuthBuilder::jwt_access_token_profile`](super::JwtAuthBuilder::jwt_access_token_profile)
//! adds to a layer's rules when it is built, and the settings it needs.

use crate::error::ConfigError;
use crate::verify::{IssuerConfig, Rules, same_media_type};

/// The `typ` of a JWT access token (RFC 9068 §2.1); `application/at+jwt`
/// and any case pass too (RFC 7515 §4.1.9).
const TYP: &str = "at+jwt";

/// The claims RFC 9068 §2.2 makes mandatory.
const REQUIRED_CLAIMS: [&str; 7] = ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"];

/// Adds the profile's `typ` and required claims to `rules`, whatever else
/// they require, once the layer's issuers are known to be validated: `single`
/// (a layer configured directly) or each of `trusted`.
///
/// # Errors
///
/// [`ConfigError::AccessTokenProfile`]: no issuer or no audience (RFC 9068
/// §4: the resource server MUST validate `iss` and `aud`); another `typ`.
pub(super) fn apply(
    rules: &mut Rules,
    single: &IssuerConfig,
    trusted: &[IssuerConfig],
) -> Result<(), ConfigError> {
    let missing = |setting, issuer: Option<&String>| ConfigError::AccessTokenProfile {
        setting,
        issuer: issuer.cloned(),
    };
    if trusted.is_empty() {
        if single.issuers.is_empty() {
            return Err(missing("issuer", None));
        }
        if single.audiences.is_empty() {
            return Err(missing("audience", None));
        }
    }
    // A trusted issuer always names its issuer (`TrustedIssuer::new`).
    if let Some(issuer) = trusted.iter().find(|t| t.audiences.is_empty()) {
        return Err(missing("audience", issuer.issuers.first()));
    }
    match &rules.typ {
        Some(typ) if !same_media_type(typ, TYP) => return Err(missing("typ", None)),
        Some(_) => {}
        None => rules.typ = Some(TYP.to_owned()),
    }
    for claim in REQUIRED_CLAIMS {
        if !rules.required_claims.iter().any(|c| c == claim) {
            rules.required_claims.push(claim.to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{REQUIRED_CLAIMS, apply};
    use crate::ConfigError;
    use crate::verify::{IssuerConfig, Rules};

    fn issuer(name: &str, audiences: &[&str]) -> IssuerConfig {
        IssuerConfig {
            issuers: vec![name.to_owned()],
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
            ..IssuerConfig::default()
        }
    }

    #[track_caller]
    fn refused(result: Result<(), ConfigError>, setting: &str, issuer: Option<&str>) {
        match result {
            Err(ConfigError::AccessTokenProfile {
                setting: s,
                issuer: i,
            }) => {
                assert_eq!(s, setting);
                assert_eq!(i.as_deref(), issuer);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_profile_adds_its_typ_and_claims_to_the_rules() {
        let mut rules = Rules::default();
        rules.required_claims.push("scope".to_owned());
        apply(&mut rules, &issuer("https://as", &["api"]), &[]).unwrap();
        assert_eq!(rules.typ.as_deref(), Some("at+jwt"));
        // Once each, after what was already required.
        assert_eq!(
            rules.required_claims,
            [
                "exp",
                "scope",
                "iss",
                "aud",
                "sub",
                "client_id",
                "iat",
                "jti"
            ]
        );
        for claim in REQUIRED_CLAIMS {
            assert!(rules.required_claims.iter().any(|c| c == claim));
        }
        // The same `typ`, spelled otherwise, stays as given.
        let mut rules = Rules {
            typ: Some("application/AT+JWT".to_owned()),
            ..Rules::default()
        };
        apply(&mut rules, &issuer("https://as", &["api"]), &[]).unwrap();
        assert_eq!(rules.typ.as_deref(), Some("application/AT+JWT"));
    }

    #[test]
    fn issuer_and_audience_are_needed() {
        let mut rules = Rules::default();
        refused(
            apply(&mut rules, &IssuerConfig::default(), &[]),
            "issuer",
            None,
        );
        refused(
            apply(&mut rules, &issuer("https://as", &[]), &[]),
            "audience",
            None,
        );
        let trusted = [issuer("https://a", &["api"]), issuer("https://b", &[])];
        refused(
            apply(&mut rules, &IssuerConfig::default(), &trusted),
            "audience",
            Some("https://b"),
        );
        assert!(apply(&mut rules, &IssuerConfig::default(), &trusted[..1]).is_ok());
    }

    #[test]
    fn another_typ_is_a_conflict() {
        let mut rules = Rules {
            typ: Some("JWT".to_owned()),
            ..Rules::default()
        };
        refused(
            apply(&mut rules, &issuer("https://as", &["api"]), &[]),
            "typ",
            None,
        );
    }
}
