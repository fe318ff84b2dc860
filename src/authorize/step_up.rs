//! Step-up authentication (RFC 9470): what a route requires of the user's
//! authentication behind a token, read from its `acr` and `auth_time` claims,
//! and the `401 insufficient_user_authentication` refusal when it falls short.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::rule::is_scope_token;
use crate::clock::{DEFAULT_LEEWAY, SharedClock};
use crate::error::{AuthError, ConfigError, Requirement};

/// At most this many accepted `acr` values.
const MAX_ACR_VALUES: usize = 64;

/// The refusal of a token whose `acr` is absent, not a string, or not one of
/// the accepted values (RFC 9470 §3's example description).
const WEAK_ACR: &str = "a different authentication level is required";
/// The refusal of a token whose `auth_time` is absent, not a number, or too old.
const OLD_AUTHENTICATION: &str = "more recent authentication is required";
/// The refusal of a token whose `auth_time` is later than now and the leeway.
const FUTURE_AUTHENTICATION: &str = "authentication time is in the future";

/// The step-up settings of a [`RequireBuilder`](crate::RequireBuilder), as
/// given.
pub(crate) struct StepUpSpec {
    /// `None`: no `acr` rule.
    pub(crate) acr_values: Option<Vec<String>>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) clock: SharedClock,
    pub(crate) leeway: Duration,
}

impl StepUpSpec {
    pub(crate) fn new() -> Self {
        Self {
            acr_values: None,
            max_age: None,
            clock: SharedClock::default(),
            leeway: DEFAULT_LEEWAY,
        }
    }

    /// Checks the settings once; `None` when there is no step-up rule.
    ///
    /// # Errors
    ///
    /// An empty list of `acr` values, a value that cannot go into the
    /// challenge, more than 64 distinct values.
    pub(crate) fn compile(self) -> Result<Option<StepUp>, ConfigError> {
        if self.acr_values.is_none() && self.max_age.is_none() {
            return Ok(None);
        }
        let mut acr_values: Vec<Box<str>> = Vec::new();
        if let Some(values) = self.acr_values {
            if values.is_empty() {
                return Err(ConfigError::Empty {
                    setting: "acr_values",
                });
            }
            for value in values {
                // The challenge lists them space-separated in a quoted string.
                if !is_scope_token(&value) {
                    return Err(ConfigError::InvalidAcrValue { value });
                }
                if !acr_values.iter().any(|v| **v == *value) {
                    acr_values.push(value.into());
                }
            }
            if acr_values.len() > MAX_ACR_VALUES {
                return Err(ConfigError::TooMany {
                    what: "acr values",
                    max: MAX_ACR_VALUES,
                });
            }
        }
        let max_age = self.max_age.map(|age| age.as_secs());
        let challenge = Arc::new(Requirement {
            acr_values: (!acr_values.is_empty()).then(|| acr_values.join(" ").into()),
            max_age,
            ..Requirement::default()
        });
        Ok(Some(StepUp {
            acr_values,
            max_age,
            clock: self.clock,
            leeway: self.leeway.as_secs(),
            challenge,
        }))
    }
}

/// The checked step-up requirement of a layer.
#[derive(Debug)]
pub(crate) struct StepUp {
    /// Distinct, in order of preference; empty: any `acr`, or none.
    acr_values: Vec<Box<str>>,
    /// In seconds; `None`: any `auth_time`, or none.
    max_age: Option<u64>,
    clock: SharedClock,
    /// In seconds.
    leeway: u64,
    /// The whole requirement, for the challenge of every refusal.
    challenge: Arc<Requirement>,
}

/// What a token's claims say of the user's authentication, as far as the
/// step-up rules read them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Presented {
    /// Its `acr` is a string, one of the accepted values.
    pub(crate) acr_accepted: bool,
    pub(crate) auth_time: AuthTime,
}

/// The token's `auth_time` claim.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum AuthTime {
    /// Absent, or `null`.
    #[default]
    Missing,
    /// Not a number.
    Invalid,
    /// A NumericDate, in whole seconds (a fraction dropped).
    At(i64),
}

impl AuthTime {
    /// Reads a claim's value: a JSON number (RFC 7519 §2 NumericDate, which
    /// may have a fraction), or [`Invalid`](Self::Invalid).
    pub(crate) fn of<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_value(value) {
            Ok(Value::Null) => Self::Missing,
            Ok(Value::Number(n)) => {
                if let Some(seconds) = n.as_i64() {
                    Self::At(seconds)
                } else if n.as_u64().is_some() {
                    // Beyond i64: far in the future.
                    Self::At(i64::MAX)
                } else {
                    // A float; `as` saturates, and JSON has no NaN.
                    n.as_f64()
                        .map_or(Self::Invalid, |f| Self::At(f.floor() as i64))
                }
            }
            _ => Self::Invalid,
        }
    }
}

impl StepUp {
    /// Whether the layer reads `acr`.
    pub(crate) fn reads_acr(&self) -> bool {
        !self.acr_values.is_empty()
    }

    /// Whether the layer reads `auth_time`.
    pub(crate) fn reads_auth_time(&self) -> bool {
        self.max_age.is_some()
    }

    /// Whether `acr` is one of the accepted values (exactly, case-sensitively).
    pub(crate) fn accepts_acr(&self, acr: &str) -> bool {
        self.acr_values.iter().any(|value| **value == *acr)
    }

    /// Checks what the token presented: its `acr` first, then its
    /// `auth_time`.
    pub(crate) fn check(&self, presented: Presented) -> Result<(), AuthError> {
        if self.reads_acr() && !presented.acr_accepted {
            return Err(self.refuse(WEAK_ACR));
        }
        let Some(max_age) = self.max_age else {
            return Ok(());
        };
        let AuthTime::At(at) = presented.auth_time else {
            return Err(self.refuse(OLD_AUTHENTICATION));
        };
        // In i128, nothing overflows: every operand fits in 64 bits.
        let (now, at) = (i128::from(self.clock.now()), i128::from(at));
        let leeway = i128::from(self.leeway);
        if at > now + leeway {
            return Err(self.refuse(FUTURE_AUTHENTICATION));
        }
        if now - at > i128::from(max_age) + leeway {
            return Err(self.refuse(OLD_AUTHENTICATION));
        }
        Ok(())
    }

    fn refuse(&self, description: &'static str) -> AuthError {
        AuthError::insufficient_user_authentication(description, Arc::clone(&self.challenge))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::{AuthTime, Presented, StepUp, StepUpSpec};
    use crate::clock::SharedClock;
    use crate::{AuthError, AuthErrorKind, ConfigError};

    const NOW: u64 = 1_700_000_000;

    fn step_up(acr: Option<&[&str]>, max_age: Option<u64>) -> StepUp {
        let spec = StepUpSpec {
            acr_values: acr.map(|values| values.iter().map(|v| v.to_string()).collect()),
            max_age: max_age.map(Duration::from_secs),
            clock: SharedClock::new(|| NOW),
            leeway: Duration::from_secs(60),
        };
        spec.compile().unwrap().expect("a step-up rule")
    }

    fn at(seconds: i64) -> Presented {
        Presented {
            acr_accepted: true,
            auth_time: AuthTime::At(seconds),
        }
    }

    #[track_caller]
    fn refused(result: Result<(), AuthError>, description: &str) -> AuthError {
        let error = result.expect_err("refused");
        assert_eq!(error.kind(), AuthErrorKind::InsufficientUserAuthentication);
        assert_eq!(error.description(), description);
        error
    }

    #[test]
    fn no_settings_no_rule() {
        assert!(StepUpSpec::new().compile().unwrap().is_none());
    }

    #[test]
    fn acr_must_be_one_of_the_values() {
        let rule = step_up(Some(&["gold", "silver", "gold"]), None);
        assert!(rule.accepts_acr("silver") && rule.accepts_acr("gold"));
        assert!(!rule.accepts_acr("Silver") && !rule.accepts_acr("bronze"));
        assert!(!rule.accepts_acr("gold silver"));
        let accepted = Presented {
            acr_accepted: true,
            auth_time: AuthTime::Missing,
        };
        assert!(rule.check(accepted).is_ok());
        let error = refused(
            rule.check(Presented::default()),
            "a different authentication level is required",
        );
        // Deduplicated, in the order given.
        assert_eq!(error.acr_values(), Some("gold silver"));
        assert_eq!(error.max_age(), None);
    }

    #[test]
    fn auth_time_must_be_within_max_age_and_the_leeway() {
        let rule = step_up(None, Some(300));
        let now = NOW as i64;
        for ok in [now, now - 300, now - 360, now + 60, now - 1] {
            assert!(rule.check(at(ok)).is_ok(), "{ok}");
        }
        for (presented, description) in [
            (at(now - 361), "more recent authentication is required"),
            (at(i64::MIN), "more recent authentication is required"),
            (at(now + 61), "authentication time is in the future"),
            (at(i64::MAX), "authentication time is in the future"),
            (
                Presented::default(),
                "more recent authentication is required",
            ),
            (
                Presented {
                    acr_accepted: false,
                    auth_time: AuthTime::Invalid,
                },
                "more recent authentication is required",
            ),
        ] {
            let error = refused(rule.check(presented), description);
            assert_eq!(error.max_age(), Some(Duration::from_secs(300)));
            assert_eq!(error.acr_values(), None);
        }
    }

    #[test]
    fn acr_is_checked_before_auth_time_and_the_challenge_names_both() {
        let rule = step_up(Some(&["mfa"]), Some(0));
        let now = NOW as i64;
        assert!(rule.check(at(now)).is_ok());
        let weak = Presented {
            acr_accepted: false,
            auth_time: AuthTime::At(now - 3600),
        };
        let error = refused(
            rule.check(weak),
            "a different authentication level is required",
        );
        assert_eq!(error.acr_values(), Some("mfa"));
        assert_eq!(error.max_age(), Some(Duration::ZERO));
        let error = refused(
            rule.check(at(now - 3600)),
            "more recent authentication is required",
        );
        assert_eq!(error.acr_values(), Some("mfa"));
    }

    #[test]
    fn a_huge_max_age_and_leeway_do_not_overflow() {
        let spec = StepUpSpec {
            acr_values: None,
            max_age: Some(Duration::MAX),
            clock: SharedClock::new(|| u64::MAX),
            leeway: Duration::MAX,
        };
        let rule = spec.compile().unwrap().unwrap();
        assert!(rule.check(at(i64::MIN)).is_ok());
        assert!(rule.check(at(i64::MAX)).is_ok());
    }

    #[test]
    fn auth_time_is_a_numeric_date() {
        for (value, expected) in [
            (json!(1_700_000_000), AuthTime::At(1_700_000_000)),
            (json!(-5), AuthTime::At(-5)),
            (json!(1_700_000_000.9), AuthTime::At(1_700_000_000)),
            (json!(-0.5), AuthTime::At(-1)),
            (json!(1e300), AuthTime::At(i64::MAX)),
            (json!(u64::MAX), AuthTime::At(i64::MAX)),
            (json!(null), AuthTime::Missing),
            (json!("1700000000"), AuthTime::Invalid),
            (json!(true), AuthTime::Invalid),
            (json!([1_700_000_000]), AuthTime::Invalid),
            (json!({ "at": 1 }), AuthTime::Invalid),
        ] {
            assert_eq!(AuthTime::of(&value), expected, "{value}");
        }
        assert_eq!(AuthTime::of(&Some(7u32)), AuthTime::At(7));
        assert_eq!(AuthTime::of(&None::<u32>), AuthTime::Missing);
    }

    #[test]
    fn impossible_acr_values_are_refused_at_build_time() {
        let build = |values: Vec<String>| {
            StepUpSpec {
                acr_values: Some(values),
                ..StepUpSpec::new()
            }
            .compile()
        };
        assert!(matches!(
            build(vec![]),
            Err(ConfigError::Empty {
                setting: "acr_values"
            })
        ));
        for bad in ["", "a b", "a\"b", "a\\b", "é", "a\tb"] {
            match build(vec!["ok".into(), bad.into()]) {
                Err(ConfigError::InvalidAcrValue { value }) => assert_eq!(value, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let many = (0..65).map(|i| format!("urn:acr:{i}")).collect();
        assert!(matches!(
            build(many),
            Err(ConfigError::TooMany {
                what: "acr values",
                max: 64
            })
        ));
        assert!(build((0..64).map(|i| format!("urn:acr:{i}")).collect()).is_ok());
    }
}
