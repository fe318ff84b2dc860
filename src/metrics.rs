//! Metrics (feature `metrics`), through the [`metrics`](https://docs.rs/metrics)
//! facade: this crate records, the application chooses where the numbers go
//! by installing a recorder (`metrics-exporter-prometheus`,
//! `metrics-exporter-otel`, StatsD ...). Without a recorder each record is an
//! atomic load and an empty call.
//!
//! The metrics, their labels and the values of each label are listed in
//! the crate docs ("Metrics", in `lib.rs`): one place for users to read.
//!
//! Without the feature every function here is empty and inlined, and every
//! type is empty: call sites are one unconditional line, and cost nothing.

#[cfg(feature = "metrics")]
pub use self::on::describe_metrics;
#[cfg(feature = "metrics")]
pub(crate) use self::on::*;

#[cfg(not(feature = "metrics"))]
pub(crate) use self::off::*;

/// The result of an unknown-`kid` refetch.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code, reason = "unused without `remote-jwks`")]
pub(crate) enum Refetch {
    Started,
    Joined,
    Limited,
}

/// The result of a token cache lookup.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code, reason = "unused without `token-cache`")]
pub(crate) enum CacheLookup {
    Hit,
    Miss,
    Expired,
}

/// The result of a revocation check.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code, reason = "unused without `revocation`")]
pub(crate) enum RevocationResult {
    NotRevoked,
    Revoked,
    Failed,
    TimedOut,
    /// Not asked: the circuit breaker is open.
    CircuitOpen,
}

#[cfg(feature = "metrics")]
mod on {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, OnceLock};
    use std::time::Instant;

    use futures_util::future::BoxFuture;
    use metrics::{Key, Label, Level, Metadata, SharedString, Unit};

    use super::{CacheLookup, Refetch, RevocationResult};
    use crate::error::AuthErrorKind;

    const DECISIONS: &str = "tower_jwt_auth_decisions_total";
    const VERIFICATION: &str = "tower_jwt_auth_verification_duration_seconds";
    const TOKEN_CACHE: &str = "tower_jwt_auth_token_cache_lookups_total";
    const JWKS_FETCHES: &str = "tower_jwt_auth_jwks_fetches_total";
    const JWKS_FAILURES: &str = "tower_jwt_auth_jwks_fetch_failures_total";
    const JWKS_AGE: &str = "tower_jwt_auth_jwks_age_seconds";
    const JWKS_REFETCHES: &str = "tower_jwt_auth_jwks_unknown_kid_refetches_total";
    const REVOCATION_CHECKS: &str = "tower_jwt_auth_revocation_checks_total";
    const REVOCATION_DURATION: &str = "tower_jwt_auth_revocation_check_duration_seconds";
    const OUTAGE: &str = "tower_jwt_auth_outage";

    /// The metadata of every record: this crate's target, `INFO`.
    static METADATA: Metadata<'static> =
        Metadata::new("tower_jwt_auth", Level::INFO, Some(module_path!()));

    /// Describes every metric of this crate (its unit and help text, the
    /// `# HELP` lines of Prometheus) to the installed recorder.
    ///
    /// Call it once after installing the recorder: a recorder installed after
    /// a description was made never hears of it. Building a `JwtAuthLayer`
    /// calls it too, so an application that installs its recorder first
    /// needs not. The list of metrics and their labels is in the crate docs,
    /// [Metrics](crate#metrics).
    ///
    /// ```
    /// // After `PrometheusBuilder::new().install_recorder()`, say.
    /// tower_jwt_auth::describe_metrics();
    /// ```
    pub fn describe_metrics() {
        use metrics::{describe_counter, describe_gauge, describe_histogram};
        describe_counter!(
            DECISIONS,
            "Requests decided by a JwtAuthLayer, by outcome, refusal kind and (trusted issuers) issuer"
        );
        describe_histogram!(
            VERIFICATION,
            Unit::Seconds,
            "Time from the token found to the layer's decision"
        );
        describe_counter!(TOKEN_CACHE, "Verified-token cache lookups, by result");
        describe_counter!(JWKS_FETCHES, "Remote JWK Set fetches started");
        describe_counter!(JWKS_FAILURES, "Remote JWK Set fetches that failed");
        describe_gauge!(
            JWKS_AGE,
            Unit::Seconds,
            "Time since the keys in use were fetched"
        );
        describe_counter!(
            JWKS_REFETCHES,
            "Fetches asked for by tokens with an unknown kid, by result"
        );
        describe_counter!(REVOCATION_CHECKS, "Revocation checks, by result");
        describe_histogram!(
            REVOCATION_DURATION,
            Unit::Seconds,
            "Time of one revocation check, timeouts included"
        );
        describe_gauge!(OUTAGE, "Shared stores in an outage, by check");
    }

    /// Describes the metrics when a layer is built.
    pub(crate) fn describe() {
        describe_metrics();
    }

    fn counter(key: &Key) {
        metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
    }

    fn seconds(key: &Key, started: Instant) {
        let elapsed = started.elapsed().as_secs_f64();
        metrics::with_recorder(|recorder| {
            recorder.register_histogram(key, &METADATA).record(elapsed)
        });
    }

    /// A key of `name` with these static labels, made once.
    macro_rules! static_key {
        ($name:expr, $($label:literal => $value:literal),*) => {{
            static LABELS: &[Label] = &[$(Label::from_static_parts($label, $value)),*];
            static KEY: Key = Key::from_static_parts($name, LABELS);
            &KEY
        }};
    }

    /// When verification started.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Started(Instant);

    /// The time now, for a duration.
    #[inline]
    pub(crate) fn start() -> Started {
        Started(Instant::now())
    }

    /// What `decide` returns, handed to `record` with the time it started.
    #[inline]
    pub(crate) fn timed<V>(decide: impl FnOnce() -> V, record: impl FnOnce(&mut V, Started)) -> V {
        let started = start();
        let mut decision = decide();
        record(&mut decision, started);
        decision
    }

    /// The issuers' label values of a layer with trusted issuers, by position;
    /// nothing for a layer configured with keys.
    #[derive(Debug)]
    pub(crate) struct IssuerLabels {
        accepted: Arc<[Key]>,
    }

    impl IssuerLabels {
        /// A layer configured with keys: no `issuer` label.
        pub(crate) fn none() -> Self {
            Self {
                accepted: Arc::new([]),
            }
        }

        /// The keys of the accepted decisions of each of `names` (the
        /// configured names, in the verifier's order).
        pub(crate) fn new<'a>(names: impl Iterator<Item = &'a str>) -> Self {
            let accepted = names
                .map(|name| {
                    let labels = vec![
                        Label::from_static_parts("outcome", "accepted"),
                        Label::new("issuer", SharedString::from_owned(name.to_owned())),
                    ];
                    Key::from_parts(DECISIONS, labels)
                })
                .collect();
            Self { accepted }
        }
    }

    /// Which issuer verified a token: its position among the layer's.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct IssuerIndex(usize);

    impl IssuerIndex {
        #[inline]
        pub(crate) fn new(position: usize) -> Self {
            Self(position)
        }
    }

    /// A request accepted, with the issuer that verified its token.
    #[inline]
    pub(crate) fn accepted(issuers: &IssuerLabels, issuer: IssuerIndex) {
        count_accepted(&issuers.accepted, issuer);
    }

    fn count_accepted(keys: &[Key], issuer: IssuerIndex) {
        let key = keys
            .get(issuer.0)
            .unwrap_or(static_key!(DECISIONS, "outcome" => "accepted"));
        counter(key);
    }

    /// An acceptance to record once a deferred check passed.
    #[derive(Debug)]
    pub(crate) struct Acceptance {
        issuers: Arc<[Key]>,
        issuer: IssuerIndex,
    }

    impl Acceptance {
        pub(crate) fn new(issuers: &IssuerLabels, issuer: IssuerIndex) -> Self {
            Self {
                issuers: Arc::clone(&issuers.accepted),
                issuer,
            }
        }

        pub(crate) fn record(&self) {
            count_accepted(&self.issuers, self.issuer);
        }
    }

    /// A request refused, by the kind of its error. Each kind's key is made
    /// once, at its first refusal: refusals allocate nothing for metrics.
    pub(crate) fn refused(kind: AuthErrorKind) {
        /// Room for every kind, by discriminant, and for kinds to come.
        static REFUSED: [OnceLock<Key>; 64] = [const { OnceLock::new() }; 64];
        let key = || {
            let labels = vec![
                Label::from_static_parts("outcome", "refused"),
                Label::from_static_parts("kind", kind.as_str()),
            ];
            Key::from_parts(DECISIONS, labels)
        };
        match REFUSED.get(kind as usize) {
            Some(slot) => counter(slot.get_or_init(key)),
            None => counter(&key()),
        }
    }

    /// A request without a token let through by an optional layer.
    pub(crate) fn anonymous() {
        counter(static_key!(DECISIONS, "outcome" => "anonymous"));
    }

    /// The time from `started` to a decision, accepted or not.
    #[inline]
    pub(crate) fn decided(started: Started, accepted: bool) {
        let key = if accepted {
            static_key!(VERIFICATION, "outcome" => "accepted")
        } else {
            static_key!(VERIFICATION, "outcome" => "refused")
        };
        seconds(key, started.0);
    }

    /// Makes `pending` record the time from `started` to its decision.
    pub(crate) fn decided_later<T: Send + 'static, E: Send + 'static>(
        started: Started,
        pending: &mut BoxFuture<'static, Result<T, E>>,
    ) {
        // A placeholder of no size: boxing it allocates nothing.
        let inner = std::mem::replace(pending, Box::pin(std::future::pending()));
        *pending = Box::pin(async move {
            let decision = inner.await;
            decided(started, decision.is_ok());
            decision
        });
    }

    /// A lookup in the verified-token cache.
    #[allow(dead_code, reason = "unused without `token-cache`")]
    pub(crate) fn token_cache(result: CacheLookup) {
        counter(match result {
            CacheLookup::Hit => static_key!(TOKEN_CACHE, "result" => "hit"),
            CacheLookup::Miss => static_key!(TOKEN_CACHE, "result" => "miss"),
            CacheLookup::Expired => static_key!(TOKEN_CACHE, "result" => "expired"),
        });
    }

    /// The metrics of one remote key set, labelled with its configured URL.
    #[derive(Debug)]
    #[allow(dead_code, reason = "unused without `remote-jwks`")]
    pub(crate) struct KeySetMetrics {
        fetches: Key,
        failures: Key,
        age: Key,
        refetches: [Key; 3],
        /// When the last good fetch stored its document, in milliseconds
        /// since `epoch`; `u64::MAX` before the first.
        fetched_at: AtomicU64,
        epoch: Instant,
    }

    #[allow(dead_code, reason = "unused without `remote-jwks`")]
    impl KeySetMetrics {
        pub(crate) fn new(url: &Arc<str>) -> Self {
            let url = || Label::new("url", SharedString::from_shared(Arc::clone(url)));
            let refetch = |result: &'static str| {
                Key::from_parts(
                    JWKS_REFETCHES,
                    vec![url(), Label::from_static_parts("result", result)],
                )
            };
            Self {
                fetches: Key::from_parts(JWKS_FETCHES, vec![url()]),
                failures: Key::from_parts(JWKS_FAILURES, vec![url()]),
                age: Key::from_parts(JWKS_AGE, vec![url()]),
                refetches: [refetch("started"), refetch("joined"), refetch("limited")],
                fetched_at: AtomicU64::new(u64::MAX),
                epoch: Instant::now(),
            }
        }

        /// A fetch started.
        pub(crate) fn fetch_started(&self) {
            counter(&self.fetches);
        }

        /// A fetch failed.
        pub(crate) fn fetch_failed(&self) {
            counter(&self.failures);
        }

        /// A fetch stored its document: the keys are new.
        pub(crate) fn stored(&self) {
            let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
            self.fetched_at.store(now, Ordering::Relaxed);
            self.used();
        }

        /// The keys are read: their age now.
        #[inline]
        pub(crate) fn used(&self) {
            let fetched_at = self.fetched_at.load(Ordering::Relaxed);
            if fetched_at == u64::MAX {
                return;
            }
            let now = self.epoch.elapsed().as_secs_f64();
            #[allow(clippy::cast_precision_loss, reason = "milliseconds, far below 2^52")]
            let age = (now - fetched_at as f64 / 1000.0).max(0.0);
            metrics::with_recorder(|recorder| {
                recorder.register_gauge(&self.age, &METADATA).set(age)
            });
        }

        /// A token with an unknown `kid` asked for a fetch.
        pub(crate) fn refetch(&self, result: Refetch) {
            counter(&self.refetches[result as usize]);
        }
    }

    /// A revocation check's result and duration.
    #[allow(dead_code, reason = "unused without `revocation`")]
    pub(crate) fn revocation_check(started: Started, result: RevocationResult) {
        seconds(static_key!(REVOCATION_DURATION,), started.0);
        counter(match result {
            RevocationResult::NotRevoked => {
                static_key!(REVOCATION_CHECKS, "result" => "not_revoked")
            }
            RevocationResult::Revoked => static_key!(REVOCATION_CHECKS, "result" => "revoked"),
            RevocationResult::Failed => static_key!(REVOCATION_CHECKS, "result" => "failed"),
            RevocationResult::TimedOut => static_key!(REVOCATION_CHECKS, "result" => "timed_out"),
            RevocationResult::CircuitOpen => {
                static_key!(REVOCATION_CHECKS, "result" => "circuit_open")
            }
        });
    }

    /// The gauge of the store that `check` (the outage events' word for it)
    /// asks.
    #[allow(dead_code, reason = "unused without a shared store")]
    fn outage_gauge(check: &str, change: f64) {
        let key = match check {
            "revocation" => static_key!(OUTAGE, "check" => "revocation"),
            "DPoP replay" => static_key!(OUTAGE, "check" => "dpop_replay"),
            "introspection" => static_key!(OUTAGE, "check" => "introspection"),
            "introspection cache" => static_key!(OUTAGE, "check" => "introspection_cache"),
            _ => static_key!(OUTAGE, "check" => "other"),
        };
        metrics::with_recorder(|recorder| {
            recorder.register_gauge(key, &METADATA).increment(change);
        });
    }

    /// An outage of the store that `check` asks started.
    #[allow(dead_code, reason = "unused without a shared store")]
    pub(crate) fn outage_started(check: &str) {
        outage_gauge(check, 1.0);
    }

    /// An outage of the store that `check` asks ended.
    #[allow(dead_code, reason = "unused without a shared store")]
    pub(crate) fn outage_ended(check: &str) {
        outage_gauge(check, -1.0);
    }
}

/// The same functions, empty, and the same types, empty.
#[cfg(not(feature = "metrics"))]
#[allow(
    clippy::unused_self,
    clippy::needless_pass_by_value,
    reason = "the signatures of the recording functions"
)]
mod off {
    use futures_util::future::BoxFuture;

    use super::{CacheLookup, Refetch, RevocationResult};
    use crate::error::AuthErrorKind;

    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Started;

    #[inline(always)]
    #[allow(dead_code, reason = "unused without `revocation`")]
    pub(crate) fn start() -> Started {
        Started
    }

    #[inline(always)]
    pub(crate) fn describe() {}

    #[inline(always)]
    pub(crate) fn timed<V>(decide: impl FnOnce() -> V, _: impl FnOnce(&mut V, Started)) -> V {
        decide()
    }

    #[derive(Debug)]
    pub(crate) struct IssuerLabels;

    impl IssuerLabels {
        #[inline(always)]
        pub(crate) fn none() -> Self {
            Self
        }

        #[inline(always)]
        pub(crate) fn new<'a>(_: impl Iterator<Item = &'a str>) -> Self {
            Self
        }
    }

    #[derive(Debug, Clone, Copy)]
    pub(crate) struct IssuerIndex;

    impl IssuerIndex {
        #[inline(always)]
        pub(crate) fn new(_: usize) -> Self {
            Self
        }
    }

    #[inline(always)]
    pub(crate) fn accepted(_: &IssuerLabels, _: IssuerIndex) {}

    #[derive(Debug)]
    pub(crate) struct Acceptance;

    impl Acceptance {
        #[inline(always)]
        pub(crate) fn new(_: &IssuerLabels, _: IssuerIndex) -> Self {
            Self
        }

        #[inline(always)]
        pub(crate) fn record(&self) {}
    }

    #[inline(always)]
    pub(crate) fn refused(_: AuthErrorKind) {}

    #[inline(always)]
    pub(crate) fn anonymous() {}

    #[inline(always)]
    pub(crate) fn decided(_: Started, _: bool) {}

    #[inline(always)]
    pub(crate) fn decided_later<T, E>(_: Started, _: &mut BoxFuture<'static, Result<T, E>>) {}

    #[inline(always)]
    #[allow(dead_code, reason = "unused without `token-cache`")]
    pub(crate) fn token_cache(_: CacheLookup) {}

    #[derive(Debug)]
    #[allow(dead_code, reason = "unused without `remote-jwks`")]
    pub(crate) struct KeySetMetrics;

    #[allow(dead_code, reason = "unused without `remote-jwks`")]
    impl KeySetMetrics {
        #[inline(always)]
        pub(crate) fn new(_: &std::sync::Arc<str>) -> Self {
            Self
        }

        #[inline(always)]
        pub(crate) fn fetch_started(&self) {}

        #[inline(always)]
        pub(crate) fn fetch_failed(&self) {}

        #[inline(always)]
        pub(crate) fn stored(&self) {}

        #[inline(always)]
        pub(crate) fn used(&self) {}

        #[inline(always)]
        pub(crate) fn refetch(&self, _: Refetch) {}
    }

    #[inline(always)]
    #[allow(dead_code, reason = "unused without `revocation`")]
    pub(crate) fn revocation_check(_: Started, _: RevocationResult) {}

    #[inline(always)]
    #[allow(dead_code, reason = "unused without a shared store")]
    pub(crate) fn outage_started(_: &str) {}

    #[inline(always)]
    #[allow(dead_code, reason = "unused without a shared store")]
    pub(crate) fn outage_ended(_: &str) {}
}
