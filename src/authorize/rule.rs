//! The requirements of a [`RequireLayer`](crate::RequireLayer): what the
//! builder collects ([`Spec`]), what it is checked into once ([`Rules`]), and
//! how a request's claims are held against it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::lookup::{self, MAX_PATHS, Path, Visit};
use super::step_up::{AuthTime, Presented, StepUp, StepUpSpec};
use crate::error::{AuthError, ConfigError, Requirement};

/// The claim of the default role rule.
pub(crate) const DEFAULT_ROLES_CLAIM: &str = "roles";

/// At most this many distinct scopes, and distinct role names, in one layer:
/// each is a bit of a `u64`.
const MAX_NAMES: usize = 64;

/// A synchronous predicate over the claims.
pub(crate) type Predicate<C> = Box<dyn Fn(&C) -> bool + Send + Sync>;

/// The future of an asynchronous predicate.
pub(crate) type Check = Pin<Box<dyn Future<Output = bool> + Send>>;

/// An asynchronous predicate over the claims.
pub(crate) type AsyncPredicate<C> = Box<dyn Fn(&C) -> Check + Send + Sync>;

/// Reads the path rules' claims out of `C`: [`lookup::lookup`] for the `C`
/// the builder was given, so that only layers with path rules need
/// `C: Serialize`.
pub(crate) type Lookup<C> = fn(&C, &[Path], &mut Found<'_>);

fn lookup_serialized<C: Serialize>(claims: &C, paths: &[Path], found: &mut Found<'_>) {
    lookup::lookup(claims, paths, found);
}

/// What the builder collects, unchecked.
pub(crate) struct Spec<C> {
    pub(crate) scopes: Vec<String>,
    /// Each group is met by any one of its roles.
    pub(crate) role_groups: Vec<Vec<String>>,
    pub(crate) roles_claim: String,
    pub(crate) claims: Vec<(String, Value)>,
    pub(crate) predicates: Vec<Predicate<C>>,
    pub(crate) async_predicates: Vec<AsyncPredicate<C>>,
    /// Step-up (RFC 9470): `acr` and `auth_time`.
    pub(crate) step_up: StepUpSpec,
    pub(crate) lookup: Option<Lookup<C>>,
}

impl<C> Spec<C> {
    pub(crate) fn new() -> Self {
        Self {
            scopes: Vec::new(),
            role_groups: Vec::new(),
            roles_claim: DEFAULT_ROLES_CLAIM.to_owned(),
            claims: Vec::new(),
            predicates: Vec::new(),
            async_predicates: Vec::new(),
            step_up: StepUpSpec::new(),
            lookup: None,
        }
    }

    /// Notes that a path rule was added: from now on the claims are looked up
    /// through `C`'s `Serialize`.
    pub(crate) fn reads_paths(&mut self)
    where
        C: Serialize,
    {
        self.lookup = Some(lookup_serialized::<C>);
    }

    /// Checks everything once, so that no request meets a bad rule.
    pub(crate) fn compile(self) -> Result<Rules<C>, ConfigError> {
        let mut scopes: Vec<Box<str>> = Vec::new();
        for scope in self.scopes {
            if !is_scope_token(&scope) {
                return Err(ConfigError::InvalidScope { scope });
            }
            if !scopes.iter().any(|s| **s == *scope) {
                scopes.push(scope.into());
            }
        }
        if scopes.len() > MAX_NAMES {
            return Err(too_many("distinct scopes", MAX_NAMES));
        }
        let required_scope = (!scopes.is_empty()).then(|| {
            Arc::new(Requirement {
                scope: Some(scopes.join(" ").into()),
                ..Requirement::default()
            })
        });

        let mut roles: Vec<Box<str>> = Vec::new();
        let mut role_groups = Vec::with_capacity(self.role_groups.len());
        for group in self.role_groups {
            if group.is_empty() {
                return Err(ConfigError::Empty {
                    setting: "any_role",
                });
            }
            let mut mask = 0u64;
            for role in group {
                if role.is_empty() {
                    return Err(ConfigError::Empty { setting: "role" });
                }
                let index = match roles.iter().position(|r| **r == *role) {
                    Some(index) => index,
                    None => {
                        if roles.len() == MAX_NAMES {
                            return Err(too_many("distinct roles", MAX_NAMES));
                        }
                        roles.push(role.into());
                        roles.len() - 1
                    }
                };
                mask |= 1 << index;
            }
            role_groups.push(mask);
        }

        let mut paths = Vec::new();
        let mut targets = Vec::new();
        if !scopes.is_empty() {
            paths.extend(
                [Path::parse("scope"), Path::parse("scp")]
                    .into_iter()
                    .flatten(),
            );
            targets.extend([Target::Scope, Target::Scp]);
        }
        if !role_groups.is_empty() {
            paths.push(parse_path(&self.roles_claim)?);
            targets.push(Target::Roles);
        }
        let mut expected = Vec::with_capacity(self.claims.len());
        for (index, (path, value)) in self.claims.into_iter().enumerate() {
            paths.push(parse_path(&path)?);
            targets.push(Target::Claim(index));
            expected.push(value);
        }
        let step_up = self.step_up.compile()?;
        if let Some(step_up) = &step_up {
            if step_up.reads_acr() {
                paths.extend(Path::parse("acr"));
                targets.push(Target::Acr);
            }
            if step_up.reads_auth_time() {
                paths.extend(Path::parse("auth_time"));
                targets.push(Target::AuthTime);
            }
        }
        if paths.len() > MAX_PATHS {
            return Err(too_many("claim rules", MAX_PATHS));
        }
        let lookup = if paths.is_empty() { None } else { self.lookup };

        Ok(Rules {
            scopes,
            required_scope,
            roles,
            role_groups,
            expected,
            paths,
            targets,
            lookup,
            step_up,
            predicates: self.predicates,
            async_predicates: self.async_predicates,
        })
    }
}

fn too_many(what: &'static str, max: usize) -> ConfigError {
    ConfigError::TooMany { what, max }
}

fn parse_path(text: &str) -> Result<Path, ConfigError> {
    Path::parse(text).ok_or_else(|| ConfigError::InvalidClaimPath {
        path: text.to_owned(),
        max_segments: lookup::MAX_SEGMENTS,
    })
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// What a path of [`Rules::paths`] is read for.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// `scope`: a space-separated string.
    Scope,
    /// `scp`: an array of scopes, or a space-separated string.
    Scp,
    /// The roles claim: an array of roles, or one role.
    Roles,
    /// The claim of `claim_eq` rule `n`.
    Claim(usize),
    /// `acr`: a string.
    Acr,
    /// `auth_time`: a NumericDate.
    AuthTime,
}

/// The checked requirements. All must be met, in this order: scopes, roles,
/// claim values, step-up (`acr`, then `auth_time`), predicates, asynchronous
/// predicates.
pub(crate) struct Rules<C> {
    /// Distinct, in the order given.
    scopes: Vec<Box<str>>,
    /// `scopes`, space-separated: the challenge's `scope`.
    required_scope: Option<Arc<Requirement>>,
    /// Distinct role names; a bit each in `role_groups`.
    roles: Vec<Box<str>>,
    /// Each mask is met by any one of its roles.
    role_groups: Vec<u64>,
    /// The value of each `claim_eq` rule.
    expected: Vec<Value>,
    /// The claims to read, and what for.
    paths: Vec<Path>,
    targets: Vec<Target>,
    /// `Some` exactly when `paths` is not empty.
    lookup: Option<Lookup<C>>,
    step_up: Option<StepUp>,
    predicates: Vec<Predicate<C>>,
    async_predicates: Vec<AsyncPredicate<C>>,
}

impl<C> Rules<C> {
    /// Checks every synchronous requirement against `claims`.
    pub(crate) fn check(&self, claims: &C) -> Result<(), AuthError> {
        if let Some(lookup) = self.lookup {
            let mut found = Found {
                rules: self.view(),
                by_scope: 0,
                by_scp: 0,
                roles: 0,
                claims: 0,
                presented: Presented::default(),
            };
            lookup(claims, &self.paths, &mut found);
            found.verdict()?;
        }
        if self.predicates.iter().all(|p| p(claims)) {
            Ok(())
        } else {
            Err(not_met())
        }
    }

    /// The future of asynchronous predicate `index`, if there is one.
    pub(crate) fn async_check(&self, index: usize, claims: &C) -> Option<Check> {
        self.async_predicates.get(index).map(|p| p(claims))
    }

    fn view(&self) -> View<'_> {
        View {
            scopes: &self.scopes,
            required_scope: self.required_scope.as_ref(),
            roles: &self.roles,
            role_groups: &self.role_groups,
            expected: &self.expected,
            targets: &self.targets,
            step_up: self.step_up.as_ref(),
        }
    }
}

/// The error of a failed predicate (synchronous or not).
pub(crate) fn not_met() -> AuthError {
    AuthError::insufficient_scope("requirement not met", None)
}

impl<C> fmt::Debug for Rules<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let claims: Vec<_> = self
            .paths
            .iter()
            .zip(&self.targets)
            .filter(|(_, t)| matches!(t, Target::Claim(_)))
            .map(|(p, _)| p)
            .collect();
        let roles_claim = self
            .paths
            .iter()
            .zip(&self.targets)
            .find(|(_, t)| matches!(t, Target::Roles))
            .map(|(p, _)| p);
        f.debug_struct("Rules")
            .field("scopes", &self.scopes)
            .field("roles", &self.roles)
            .field("role_groups", &self.role_groups.len())
            .field("roles_claim", &roles_claim)
            .field("claims", &claims)
            .field("step_up", &self.step_up)
            .field("predicates", &self.predicates.len())
            .field("async_predicates", &self.async_predicates.len())
            .finish()
    }
}

/// The parts of [`Rules`] a lookup reads, without `C`.
#[derive(Clone, Copy)]
struct View<'r> {
    scopes: &'r [Box<str>],
    required_scope: Option<&'r Arc<Requirement>>,
    roles: &'r [Box<str>],
    role_groups: &'r [u64],
    expected: &'r [Value],
    targets: &'r [Target],
    step_up: Option<&'r StepUp>,
}

/// What one request's claims hold, as bit sets over the rules' names.
pub(crate) struct Found<'r> {
    rules: View<'r>,
    /// Required scopes granted by `scope`.
    by_scope: u64,
    /// Required scopes granted by `scp`.
    by_scp: u64,
    /// Role names held.
    roles: u64,
    /// `claim_eq` rules met.
    claims: u64,
    /// What `acr` and `auth_time` say.
    presented: Presented,
}

impl Found<'_> {
    fn verdict(&self) -> Result<(), AuthError> {
        let rules = &self.rules;
        if (self.by_scope | self.by_scp) != all(rules.scopes.len()) {
            return Err(AuthError::insufficient_scope(
                "insufficient scope",
                rules.required_scope.cloned(),
            ));
        }
        if rules
            .role_groups
            .iter()
            .any(|group| group & self.roles == 0)
        {
            return Err(AuthError::insufficient_scope("missing role", None));
        }
        if self.claims != all(rules.expected.len()) {
            return Err(AuthError::insufficient_scope(
                "claim requirement not met",
                None,
            ));
        }
        // After the rules of authorization: a token short of a scope would
        // stay short after the user authenticated again.
        if let Some(step_up) = rules.step_up {
            step_up.check(self.presented)?;
        }
        Ok(())
    }
}

/// The mask of the first `n` bits (`n` ≤ 64).
fn all(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1 << n) - 1 }
}

/// The bit of the name in `names` that equals `s`, or 0.
fn bit_of(names: &[Box<str>], s: &str) -> u64 {
    names
        .iter()
        .position(|name| **name == *s)
        .map_or(0, |i| 1 << i)
}

/// The bits of the names in `names` among the space-separated words of `s`.
fn words(names: &[Box<str>], s: &str) -> u64 {
    let all = all(names.len());
    let mut mask = 0;
    for word in s.split(' ') {
        mask |= bit_of(names, word);
        if mask == all {
            break;
        }
    }
    mask
}

impl Visit for Found<'_> {
    fn reset(&mut self, index: usize) {
        match self.rules.targets.get(index) {
            Some(Target::Scope) => self.by_scope = 0,
            Some(Target::Scp) => self.by_scp = 0,
            Some(Target::Roles) => self.roles = 0,
            Some(Target::Claim(n)) => self.claims &= !(1 << n),
            Some(Target::Acr) => self.presented.acr_accepted = false,
            Some(Target::AuthTime) => self.presented.auth_time = AuthTime::Missing,
            None => {}
        }
    }

    fn found<T: Serialize + ?Sized>(&mut self, index: usize, value: &T) {
        let rules = self.rules;
        match rules.targets.get(index) {
            Some(Target::Scope) => {
                let mut mask = 0;
                lookup::each_str(value, false, &mut |s, _| mask |= words(rules.scopes, s));
                self.by_scope = mask;
            }
            Some(Target::Scp) => {
                // A string is space-separated; an array holds one scope each.
                let mut mask = 0;
                lookup::each_str(value, true, &mut |s, element| {
                    mask |= if element {
                        bit_of(rules.scopes, s)
                    } else {
                        words(rules.scopes, s)
                    }
                });
                self.by_scp = mask;
            }
            Some(Target::Roles) => {
                let mut mask = 0;
                lookup::each_str(value, true, &mut |s, _| mask |= bit_of(rules.roles, s));
                self.roles = mask;
            }
            Some(&Target::Claim(n)) => {
                let met = rules.expected.get(n).is_some_and(|expected| {
                    serde_json::to_value(value).is_ok_and(|v| v == *expected)
                });
                if met {
                    self.claims |= 1 << n;
                }
            }
            Some(Target::Acr) => {
                let mut accepted = false;
                if let Some(step_up) = rules.step_up {
                    lookup::each_str(value, false, &mut |s, _| accepted = step_up.accepts_acr(s));
                }
                self.presented.acr_accepted = accepted;
            }
            Some(Target::AuthTime) => self.presented.auth_time = AuthTime::of(value),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{Rules, Spec, is_scope_token};
    use crate::{AuthError, AuthErrorKind, ConfigError};

    fn spec() -> Spec<Value> {
        let mut spec = Spec::new();
        spec.reads_paths();
        spec
    }

    fn scopes(required: &[&str]) -> Rules<Value> {
        let mut spec = spec();
        spec.scopes = required.iter().map(|s| s.to_string()).collect();
        spec.compile().unwrap()
    }

    fn roles(groups: &[&[&str]], claim: Option<&str>) -> Rules<Value> {
        let mut spec = spec();
        spec.role_groups = groups
            .iter()
            .map(|g| g.iter().map(|r| r.to_string()).collect())
            .collect();
        if let Some(claim) = claim {
            spec.roles_claim = claim.to_owned();
        }
        spec.compile().unwrap()
    }

    #[track_caller]
    fn refused(result: Result<(), AuthError>, description: &str) -> AuthError {
        let error = result.expect_err("refused");
        assert_eq!(error.kind(), AuthErrorKind::InsufficientScope);
        assert_eq!(error.description(), description);
        error
    }

    #[test]
    fn scope_tokens_are_rfc_6749_characters() {
        for good in ["orders:read", "a", "https://api.example/x", "!#[]~"] {
            assert!(is_scope_token(good), "{good:?}");
        }
        for bad in ["", "a b", "a\"b", "a\\b", "é", "a\tb", "a\u{7f}"] {
            assert!(!is_scope_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn granted_scopes_are_the_union_of_scope_and_scp() {
        let rules = scopes(&["a", "b"]);
        for granted in [
            json!({ "scope": "a b" }),
            json!({ "scope": "b  x a" }),
            json!({ "scp": ["a", "b"] }),
            json!({ "scp": "a b" }),
            json!({ "scope": "a", "scp": ["b"] }),
            json!({ "scope": "b", "scp": "a" }),
        ] {
            assert!(rules.check(&granted).is_ok(), "{granted}");
        }
        for short in [
            json!({}),
            json!({ "scope": "a" }),
            json!({ "scope": "A B" }),
            json!({ "scope": "ab" }),
            json!({ "scope": ["a", "b"] }),
            json!({ "scp": ["a b"] }),
            json!({ "scp": [["a"], ["b"]] }),
            json!({ "scope": 1, "scp": { "a": "b" } }),
        ] {
            let error = refused(rules.check(&short), "insufficient scope");
            assert_eq!(error.required_scope(), Some("a b"), "{short}");
        }
    }

    #[test]
    fn a_huge_scope_string_is_read_without_trouble() {
        let rules = scopes(&["a"]);
        let spaces = " ".repeat(100_000);
        refused(
            rules.check(&json!({ "scope": spaces })),
            "insufficient scope",
        );
        let many = "x ".repeat(50_000) + "a";
        assert!(rules.check(&json!({ "scope": many })).is_ok());
    }

    #[test]
    fn role_groups_all_need_one_of_their_roles() {
        let rules = roles(&[&["admin", "owner"], &["staff"]], None);
        assert!(rules.check(&json!({ "roles": ["staff", "owner"] })).is_ok());
        assert!(
            rules
                .check(&json!({ "roles": ["admin", "x", 1, "staff"] }))
                .is_ok()
        );
        for short in [
            json!({ "roles": ["admin"] }),
            json!({ "roles": "staff" }),
            json!({ "roles": "admin staff" }),
            json!({ "roles": [["admin", "staff"]] }),
            json!({ "roles": { "admin": true, "staff": true } }),
            json!({ "realm_access": { "roles": ["admin", "staff"] } }),
        ] {
            let error = refused(rules.check(&short), "missing role");
            assert_eq!(error.required_scope(), None);
        }
        let one = roles(&[&["admin"]], None);
        assert!(one.check(&json!({ "roles": "admin" })).is_ok());
    }

    #[test]
    fn the_roles_claim_can_be_nested() {
        let rules = roles(&[&["admin"]], Some("realm_access.roles"));
        assert!(
            rules
                .check(&json!({ "realm_access": { "roles": ["admin"] } }))
                .is_ok()
        );
        for short in [
            json!({ "roles": ["admin"] }),
            json!({ "realm_access": ["admin"] }),
            json!({ "realm_access": { "roles": { "roles": ["admin"] } } }),
        ] {
            refused(rules.check(&short), "missing role");
        }
    }

    #[test]
    fn claim_values_compare_as_json() {
        let mut spec = spec();
        spec.claims = vec![
            ("tenant.id".to_owned(), json!(42)),
            ("email_verified".to_owned(), json!(true)),
        ];
        let rules = spec.compile().unwrap();
        assert!(
            rules
                .check(&json!({ "tenant": { "id": 42 }, "email_verified": true }))
                .is_ok()
        );
        for short in [
            json!({ "tenant": { "id": 42 } }),
            json!({ "tenant": { "id": "42" }, "email_verified": true }),
            json!({ "tenant": { "id": 42.0 }, "email_verified": true }),
            json!({ "tenant": { "id": 42 }, "email_verified": "true" }),
        ] {
            refused(rules.check(&short), "claim requirement not met");
        }
    }

    #[test]
    fn rules_are_checked_in_order_and_predicates_last() {
        let mut spec = spec();
        spec.scopes = vec!["a".into()];
        spec.role_groups = vec![vec!["r".into()]];
        spec.claims = vec![("c".into(), json!(1))];
        spec.predicates = vec![Box::new(|c: &Value| c["p"] == true)];
        let rules = spec.compile().unwrap();
        let all = json!({ "scope": "a", "roles": ["r"], "c": 1, "p": true });
        assert!(rules.check(&all).is_ok());
        let without = |key: &str| {
            let mut claims = all.clone();
            claims.as_object_mut().unwrap().remove(key);
            claims
        };
        let mut none = without("scope");
        none.as_object_mut().unwrap().clear();
        refused(rules.check(&none), "insufficient scope");
        refused(rules.check(&without("roles")), "missing role");
        refused(rules.check(&without("c")), "claim requirement not met");
        let error = refused(rules.check(&without("p")), "requirement not met");
        assert_eq!(error.required_scope(), None);
    }

    #[test]
    fn predicates_alone_never_look_claims_up() {
        let mut spec: Spec<Value> = Spec::new();
        spec.predicates = vec![Box::new(|_: &Value| true)];
        let rules = spec.compile().unwrap();
        assert!(rules.lookup.is_none());
        assert!(rules.check(&json!(null)).is_ok());
        // Nor does a layer that asked for the lookup but has no path rule.
        assert!(self::spec().compile().unwrap().lookup.is_none());
    }

    #[test]
    fn scopes_and_roles_are_deduplicated() {
        let rules = scopes(&["a", "b", "a"]);
        assert_eq!(&*rules.scopes, [Box::<str>::from("a"), Box::from("b")]);
        let scope = rules
            .required_scope
            .as_ref()
            .and_then(|r| r.scope.as_deref());
        assert_eq!(scope, Some("a b"));
        let rules = roles(&[&["x", "y"], &["y"]], None);
        assert_eq!(rules.roles.len(), 2);
        assert_eq!(rules.role_groups, [0b11, 0b10]);
    }

    #[track_caller]
    fn invalid(spec: Spec<Value>, needle: &str) {
        match spec.compile() {
            Err(
                error @ (ConfigError::InvalidScope { .. }
                | ConfigError::Empty { .. }
                | ConfigError::InvalidClaimPath { .. }
                | ConfigError::TooMany { .. }),
            ) => {
                let message = error.to_string();
                assert!(message.contains(needle), "{message}")
            }
            Err(other) => panic!("{other:?}"),
            Ok(rules) => panic!("built: {rules:?}"),
        }
    }

    #[test]
    fn impossible_rules_are_refused_at_build_time() {
        for bad in ["", "a b", "a\"", "a\\"] {
            let mut s = spec();
            s.scopes = vec!["ok".into(), bad.into()];
            invalid(s, "scope-token");
        }
        let mut s = spec();
        s.role_groups = vec![vec![]];
        invalid(s, "`any_role` is empty");
        let mut s = spec();
        s.role_groups = vec![vec!["".into()]];
        invalid(s, "`role` is empty");
        for bad in ["", "a..b", ".a", "a."] {
            let mut s = spec();
            s.role_groups = vec![vec!["r".into()]];
            s.roles_claim = bad.into();
            invalid(s, "claim path");
            let mut s = spec();
            s.claims = vec![(bad.into(), json!(1))];
            invalid(s, "claim path");
        }
        let mut s = spec();
        s.scopes = (0..65).map(|i| format!("s{i}")).collect();
        invalid(s, "distinct scopes");
        let mut s = spec();
        s.role_groups = vec![(0..65).map(|i| format!("r{i}")).collect()];
        invalid(s, "distinct roles");
        let mut s = spec();
        s.claims = (0..65).map(|i| (format!("c{i}"), json!(i))).collect();
        invalid(s, "claim rules");
        // The largest of each is fine.
        let mut s = spec();
        s.scopes = (0..62).map(|i| format!("s{i}")).collect();
        s.claims = (0..62).map(|i| (format!("c{i}"), json!(i))).collect();
        assert!(s.compile().is_ok());
    }
}
