//! The registered claims (RFC 7519 §4.1), read in one pass over the payload and
//! checked more strictly than jsonwebtoken does ([`ClaimRules`]): a configured
//! `iss`/`aud`/`sub` must be present and a string (or, for `aud`, an array of
//! strings), and a token is refused from the instant `exp` is reached.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::clock::SharedClock;
use crate::error::{AuthError, AuthErrorKind, ConfigError};

mod identity;
mod scan;

pub(crate) use identity::IdentitySpans;
#[cfg(feature = "revocation")]
pub(crate) use scan::members;
pub(super) use scan::scan;

/// The most claims beyond the registered ones that can be required.
const MAX_EXTRA_REQUIRED: usize = 64;

/// Which claims must be present.
#[derive(Debug, Default)]
pub(super) struct Required {
    exp: bool,
    nbf: bool,
    iat: bool,
    iss: bool,
    aud: bool,
    sub: bool,
    /// Other claim names, at most [`MAX_EXTRA_REQUIRED`].
    pub(super) extra: Vec<String>,
}

impl Required {
    /// The claims named, by their names; `sub` too when a subject is expected,
    /// since it can only be checked if present.
    fn new(names: Vec<String>, subject: bool) -> Result<Self, ConfigError> {
        let mut required = Self::default();
        for name in names {
            match name.as_str() {
                "exp" => required.exp = true,
                "nbf" => required.nbf = true,
                "iat" => required.iat = true,
                "iss" => required.iss = true,
                "aud" => required.aud = true,
                "sub" => required.sub = true,
                _ if !required.extra.contains(&name) => required.extra.push(name),
                _ => {}
            }
        }
        required.sub |= subject;
        if required.extra.len() > MAX_EXTRA_REQUIRED {
            return Err(ConfigError::TooMany {
                what: "required claims beyond the registered ones",
                max: MAX_EXTRA_REQUIRED,
            });
        }
        Ok(required)
    }
}

/// The validity period of a verified token.
#[derive(Clone, Copy, Default)]
pub(crate) struct Times {
    pub(crate) exp: Option<f64>,
    pub(crate) nbf: Option<f64>,
}

/// The rules for the registered claims that hold for every issuer; the issuer
/// and audience rules are each trusted issuer's, and given with the claims.
#[derive(Debug)]
pub(super) struct ClaimRules {
    pub(super) required: Required,
    subject: Option<String>,
    /// Whole seconds.
    leeway: u64,
    clock: SharedClock,
    /// Whether a present `exp` is compared with the clock (`false` only by
    /// `dangerous_skip_exp_check`); its type is checked either way.
    check_exp: bool,
    /// The same for `nbf`.
    check_nbf: bool,
}

/// Which time claims are compared with the clock.
#[derive(Debug, Clone, Copy)]
pub(super) struct TimeChecks {
    pub(super) exp: bool,
    pub(super) nbf: bool,
}

impl ClaimRules {
    /// # Errors
    ///
    /// More than 64 required claims beyond the registered ones.
    pub(super) fn new(
        required: Vec<String>,
        subject: Option<String>,
        leeway: Duration,
        clock: SharedClock,
        checks: TimeChecks,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            required: Required::new(required, subject.is_some())?,
            subject,
            leeway: leeway.as_secs(),
            clock,
            check_exp: checks.exp,
            check_nbf: checks.nbf,
        })
    }

    /// Now, by the clock, in whole seconds.
    pub(super) fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Now, and the leeway, as NumericDates (whole seconds from the clock).
    pub(super) fn now_and_leeway(&self) -> (f64, f64) {
        (self.clock.now() as f64, self.leeway as f64)
    }

    /// The `exp` of claims that passed [`check`](Self::check), when it was
    /// compared with the clock (so not with `dangerous_skip_exp_check`).
    pub(super) fn expiry(&self, exp: &str) -> Option<f64> {
        match self.check_exp {
            true => numeric_date(exp, "claim `exp` is not a number").ok(),
            false => None,
        }
    }

    /// Checks the registered claims of a token of an issuer that accepts
    /// `issuers` and `audiences` (empty: any issuer, no audience); returns the
    /// token's validity period.
    pub(super) fn check(
        &self,
        issuers: &[String],
        audiences: &[String],
        claims: Registered<'_>,
    ) -> Result<Times, AuthError> {
        let r = &self.required;
        // One bit per extra required claim, all of them set.
        let all_extra = match r.extra.len() {
            0 => 0,
            n => u64::MAX >> (64 - n),
        };
        for (needed, present, what) in [
            (r.exp, claims.exp.is_some(), "missing claim `exp`"),
            (r.nbf, claims.nbf.is_some(), "missing claim `nbf`"),
            (r.iat, claims.iat.is_some(), "missing claim `iat`"),
            // A configured issuer or audience can only be checked if present.
            (
                r.iss || !issuers.is_empty(),
                claims.iss.is_some(),
                "missing claim `iss`",
            ),
            (
                r.aud || !audiences.is_empty(),
                claims.aud.is_some(),
                "missing claim `aud`",
            ),
            (r.sub, claims.sub.is_some(), "missing claim `sub`"),
            (
                true,
                claims.extra_present == all_extra,
                "missing required claim",
            ),
        ] {
            if needed && !present {
                return Err(AuthError::new(AuthErrorKind::MissingClaim, what));
            }
        }

        // NumericDates may be fractional (RFC 7519 §2).
        let (now, leeway) = self.now_and_leeway();
        // RFC 7519 §4.1.4: `exp` is the first instant the token MUST NOT be accepted.
        // A time not compared here is not kept either, so that the token
        // cache does not compare it on a hit.
        let mut times = Times::default();
        if let Some(exp) = claims.exp {
            let exp = numeric_date(exp, "claim `exp` is not a number")?;
            if self.check_exp {
                if now >= exp + leeway {
                    return Err(AuthError::new(AuthErrorKind::Expired, "token expired"));
                }
                times.exp = Some(exp);
            }
        }
        if let Some(nbf) = claims.nbf {
            let nbf = numeric_date(nbf, "claim `nbf` is not a number")?;
            if self.check_nbf {
                if now + leeway < nbf {
                    return Err(AuthError::new(
                        AuthErrorKind::NotYetValid,
                        "token not yet valid",
                    ));
                }
                times.nbf = Some(nbf);
            }
        }
        if let Some(iat) = claims.iat {
            numeric_date(iat, "claim `iat` is not a number")?;
        }
        if let Some(iss) = claims.iss {
            let iss = string_claim(iss, "claim `iss` is not a string")?;
            if !issuers.is_empty() && !issuers.iter().any(|i| *i == iss) {
                return Err(AuthError::new(
                    AuthErrorKind::InvalidIssuer,
                    "issuer not accepted",
                ));
            }
        }
        if let Some(sub) = claims.sub {
            let sub = string_claim(sub, "claim `sub` is not a string")?;
            if self.subject.as_ref().is_some_and(|s| *s != sub) {
                return Err(AuthError::new(
                    AuthErrorKind::InvalidSubject,
                    "subject not accepted",
                ));
            }
        }
        if let Some(aud) = claims.aud {
            // RFC 7519 §4.1.3: a recipient that does not identify itself with a value
            // of a present `aud` MUST reject the token, so an `aud` is refused
            // when no audience is configured.
            if !audience_accepted(aud, audiences)? {
                return Err(AuthError::new(
                    AuthErrorKind::InvalidAudience,
                    "audience not accepted",
                ));
            }
        }
        Ok(times)
    }
}

/// What the payload says about the registered claims, as the JSON text of each
/// (`null` counts as absent), plus which of the extra required claims are
/// present (a bit each).
#[derive(Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct Registered<'a> {
    pub(crate) exp: Option<&'a str>,
    pub(crate) nbf: Option<&'a str>,
    pub(crate) iat: Option<&'a str>,
    pub(crate) iss: Option<&'a str>,
    pub(crate) aud: Option<&'a str>,
    pub(crate) sub: Option<&'a str>,
    pub(crate) extra_present: u64,
    /// Whether a top-level member is named `cnf`: when none is, the token is
    /// bound to nothing, and the binding check needs no search of its own
    /// (`crate::checks`).
    pub(crate) cnf: bool,
    /// The `jti`, for the revocation check (see [`IdentitySpans`]); the
    /// verifier does not read it.
    pub(crate) jti: Option<&'a str>,
    /// Which of the claims that identify a token were `null` (a bit each),
    /// and whether one was named twice, `null` or not: then the revocation
    /// check reads the claims itself, and refuses them.
    null_identity: u8,
    pub(crate) identity_twice: bool,
}

/// The bits of [`Registered::null_identity`].
const JTI: u8 = 1;
const SUB: u8 = 2;
const ISS: u8 = 4;
const IAT: u8 = 8;
const EXP: u8 = 16;

impl<'a> Registered<'a> {
    /// Records claim `name` with the JSON text `value`; `Err` for a second
    /// registered claim of the same name.
    pub(super) fn record(
        &mut self,
        name: &[u8],
        value: &'a str,
        extra: &[String],
    ) -> Result<(), Duplicate> {
        // Byte patterns compile to a few comparisons, string patterns to calls.
        let (slot, twice, bit) = match name {
            b"exp" => (&mut self.exp, "claim `exp` given twice", EXP),
            b"nbf" => (&mut self.nbf, "claim `nbf` given twice", 0),
            b"iat" => (&mut self.iat, "claim `iat` given twice", IAT),
            b"iss" => (&mut self.iss, "claim `iss` given twice", ISS),
            b"aud" => (&mut self.aud, "claim `aud` given twice", 0),
            b"sub" => (&mut self.sub, "claim `sub` given twice", SUB),
            b"jti" => {
                // Not the verifier's: only noted, a second one included.
                self.identity_twice |= self.jti.is_some() || self.null_identity & JTI != 0;
                match value {
                    "null" => self.null_identity |= JTI,
                    _ => self.jti = Some(value),
                }
                // A required `jti` (RFC 9068's profile) is still an extra
                // required claim to the verifier.
                if let Some(i) = extra.iter().position(|n| n == "jti")
                    && value != "null"
                {
                    self.extra_present |= 1 << i;
                }
                return Ok(());
            }
            _ => {
                self.cnf |= name == b"cnf";
                if let Some(i) = extra.iter().position(|n| n.as_bytes() == name)
                    && value != "null"
                {
                    self.extra_present |= 1 << i;
                }
                return Ok(());
            }
        };
        if slot.is_some() {
            // RFC 7519 §4: a parser may reject duplicate names; for the claims
            // that decide validity it must, or two parsers could disagree.
            return Err(Duplicate(twice));
        }
        // A `null` before is no value, but a name all the same: the
        // revocation check's reader counts it.
        self.identity_twice |= self.null_identity & bit != 0;
        if value != "null" {
            *slot = Some(value);
        } else {
            self.null_identity |= bit;
        }
        Ok(())
    }
}

/// A registered claim given twice, with the description that says which.
pub(super) struct Duplicate(&'static str);

/// The registered claims of `payload`, read by serde_json whatever the text
/// holds; `extra` are the names of the other required claims.
///
/// # Errors
///
/// [`MalformedToken`](AuthErrorKind::MalformedToken): a registered claim
/// given twice (named in the description), or text that is not one JSON
/// object.
pub(super) fn read_registered<'p>(
    payload: &'p str,
    extra: &[String],
) -> Result<Registered<'p>, AuthError> {
    let duplicate = Cell::new(None);
    let mut json = serde_json::Deserializer::from_str(payload);
    RegisteredSeed {
        extra,
        duplicate: &duplicate,
    }
    .deserialize(&mut json)
    .and_then(|claims| json.end().map(|()| claims))
    .map_err(|e| {
        let description = duplicate.get().unwrap_or("claims are not a JSON object");
        AuthError::with_source(AuthErrorKind::MalformedToken, description, e)
    })
}

/// Reads [`Registered`] from a claims object; `extra` are the names of the other
/// required claims. A registered claim given twice fails the read, and its
/// description goes into `duplicate`.
struct RegisteredSeed<'r> {
    extra: &'r [String],
    duplicate: &'r Cell<Option<&'static str>>,
}

impl<'de> DeserializeSeed<'de> for RegisteredSeed<'_> {
    type Value = Registered<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RegisteredSeed<'_> {
    type Value = Registered<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Registered::default();
        while let Some(CowStr(name)) = map.next_key::<CowStr<'de>>()? {
            out.cnf |= name == "cnf";
            let wanted = matches!(
                &*name,
                "exp" | "nbf" | "iat" | "iss" | "aud" | "sub" | "jti"
            ) || self.extra.iter().any(|n| *n == name);
            if !wanted {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let value: &RawValue = map.next_value()?;
            out.record(name.as_bytes(), value.get(), self.extra)
                .map_err(|Duplicate(twice)| {
                    self.duplicate.set(Some(twice));
                    A::Error::custom(twice)
                })?;
        }
        Ok(out)
    }
}

/// A string that borrows from the JSON text when it has no escapes; serde's own
/// `Cow<str>` always allocates outside derived structs.
pub(crate) struct CowStr<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

fn wrong_type(claim: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidClaimType, claim)
}

/// A NumericDate (RFC 7519 §2): any JSON number, fractional or negative included.
///
/// Inlined: the plain integer is every request's case, and since a second
/// caller (`TokenExpiry`) appeared, the compiler stopped inlining it into
/// the claim check by itself (+65 instructions a request, BENCHMARKS.md).
#[inline]
pub(crate) fn numeric_date(raw: &str, what: &'static str) -> Result<f64, AuthError> {
    match plain_integer(raw) {
        Some(n) => Ok(n as f64),
        None => any_numeric_date(raw, what),
    }
}

/// [`numeric_date`] for any other JSON number, through serde_json.
#[cold]
fn any_numeric_date(raw: &str, what: &'static str) -> Result<f64, AuthError> {
    serde_json::from_str::<serde_json::Number>(raw)
        .ok()
        .and_then(|n| n.as_f64())
        .ok_or_else(|| wrong_type(what))
}

/// The common NumericDate, a JSON integer of at most 15 digits (exact as an
/// `f64`), read without a JSON parser; `None` for anything else.
fn plain_integer(raw: &str) -> Option<u64> {
    let digits = raw.as_bytes();
    if !matches!(digits, [b'1'..=b'9', ..] | [b'0']) || digits.len() > 15 {
        return None;
    }
    digits.iter().try_fold(0, |n: u64, &d| {
        d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
    })
}

/// The text of a JSON string without escapes, borrowed; `None` for anything else.
fn plain_string(raw: &str) -> Option<&str> {
    let text = raw.strip_prefix('"')?.strip_suffix('"')?;
    (!text.contains('\\')).then_some(text)
}

/// A JSON string claim.
pub(crate) fn string_claim<'a>(
    raw: &'a str,
    what: &'static str,
) -> Result<Cow<'a, str>, AuthError> {
    if let Some(text) = plain_string(raw) {
        return Ok(Cow::Borrowed(text));
    }
    serde_json::from_str::<CowStr<'a>>(raw)
        .map(|s| s.0)
        .map_err(|_| wrong_type(what))
}

/// Whether `aud`, one string or an array of strings (RFC 7519 §4.1.3), names
/// one of the `accepted` audiences.
pub(crate) fn audience_accepted(text: &str, accepted: &[String]) -> Result<bool, AuthError> {
    if let Some(one) = plain_string(text) {
        return Ok(accepted.iter().any(|x| x == one));
    }
    let found = if text.starts_with('[') {
        serde_json::from_str::<Vec<CowStr<'_>>>(text)
            .map(|all| all.iter().any(|a| accepted.iter().any(|x| *x == a.0)))
    } else {
        serde_json::from_str::<CowStr<'_>>(text).map(|one| accepted.iter().any(|x| *x == one.0))
    };
    found.map_err(|_| wrong_type("claim `aud` is not a string or an array of strings"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str, extra: &[String]) -> Result<(), &'static str> {
        read_registered(json, extra)
            .map(|_| ())
            .map_err(|e| e.description())
    }

    #[test]
    fn duplicate_registered_claims_are_refused_by_name() {
        assert_eq!(
            read(r#"{"exp":1,"exp":2}"#, &[]),
            Err("claim `exp` given twice")
        );
        assert_eq!(
            read(r#"{"iss":"a","sub":"b","iss":"c"}"#, &[]),
            Err("claim `iss` given twice")
        );
        assert_eq!(
            read(r#"{"sub":"a","\u0073ub":"b"}"#, &[]),
            Err("claim `sub` given twice")
        );
        assert_eq!(read(r#"{"exp":1,"other":2,"other":3}"#, &[]), Ok(()));
        assert_eq!(read(r#"[1]"#, &[]), Err("claims are not a JSON object"));
        assert_eq!(
            read(r#"{"exp":1} x"#, &[]),
            Err("claims are not a JSON object")
        );
    }

    /// What spares the binding check its search: a top-level `cnf`, however
    /// spelt, and only a top-level one.
    #[test]
    fn a_top_level_cnf_is_noticed_by_both_readers() {
        let extra = ["cnf".to_owned()];
        for (json, cnf) in [
            (r#"{"sub":"a","cnf":{"jkt":"J"}}"#, true),
            (r#"{"c\u006ef":{"jkt":"J"}}"#, true),
            (r#"{"cnf":null,"cnf":1}"#, true),
            (
                r#"{"sub":"a","x":{"cnf":{"jkt":"J"}},"y":"\"cnf\""}"#,
                false,
            ),
            (r#"{"cnfx":1,"Cnf":2}"#, false),
        ] {
            for extra in [&[][..], &extra[..]] {
                let full = read_registered(json, extra).unwrap();
                assert_eq!(full.cnf, cnf, "{json}");
                if let Some(scanned) = scan::scan(json, extra) {
                    assert_eq!(scanned.cnf, cnf, "{json}");
                }
            }
        }
    }

    #[test]
    fn extra_required_claims_are_found() {
        let extra = vec!["role".to_owned(), "tenant".to_owned()];
        let Ok(r) = read_registered(r#"{"tenant":{"id":1},"role":null}"#, &extra) else {
            panic!("not read");
        };
        assert_eq!(r.extra_present, 0b10);
    }

    #[test]
    fn numeric_dates_accept_json_numbers_only() {
        let n = |s: &str| numeric_date(s, "exp");
        assert_eq!(n("1700000000").unwrap(), 1_700_000_000.0);
        assert_eq!(n("1.5").unwrap(), 1.5);
        assert_eq!(n("-1").unwrap(), -1.0);
        assert!(n("\"1700000000\"").is_err());
        assert!(n("[1]").is_err());
        assert!(n("true").is_err());
    }

    #[test]
    fn plain_numbers_and_strings_read_like_serde_json() {
        for raw in [
            "0",
            "1",
            "1700000000",
            "999999999999999",
            "1000000000000000",
            "01",
            "-1",
            "1.5",
            "1e3",
            "\"1\"",
            "",
        ] {
            let serde = serde_json::from_str::<serde_json::Number>(raw)
                .ok()
                .and_then(|n| n.as_f64());
            if let Some(n) = plain_integer(raw) {
                assert_eq!(Some(n as f64), serde, "{raw}");
            }
            assert_eq!(numeric_date(raw, "x").ok(), serde, "{raw}");
        }
        for raw in [
            r#""""#,
            r#""abc""#,
            r#""a\"b""#,
            r#""\u00e9""#,
            "\"",
            "1",
            "null",
        ] {
            let serde = serde_json::from_str::<CowStr<'_>>(raw).ok().map(|s| s.0);
            if let Some(text) = plain_string(raw) {
                assert_eq!(Some(Cow::Borrowed(text)), serde, "{raw}");
            }
            assert_eq!(string_claim(raw, "x").ok(), serde, "{raw}");
        }
        assert!(audience_accepted(r#""api""#, &["api".to_owned()]).unwrap());
        assert!(!audience_accepted(r#""api""#, &["other".to_owned()]).unwrap());
        assert!(audience_accepted(r#"["x","api"]"#, &["api".to_owned()]).unwrap());
        assert!(audience_accepted(r#""\u0061pi""#, &["api".to_owned()]).unwrap());
        assert!(audience_accepted("1", &["api".to_owned()]).is_err());
    }
}
