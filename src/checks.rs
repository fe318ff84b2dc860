//! The checks after verification: the seam where a capability that judges a
//! verified token *against its request* plugs in.
//!
//! A check implements [`TokenCheck`] in its own module ([`CsrfPolicy`] in
//! `csrf.rs`, [`CertificateBinding`] in `mtls/`, `Revocation` in
//! `revocation/`), and the layer holds the configured ones in a [`Checks`]
//! list, in a fixed order:
//!
//! 0. the token's binding (its `cnf` claim, [`Confirmation`]): a token bound
//!    to a DPoP key or a client certificate is refused unless a configured
//!    check proves that binding; most tokens have none, found by one search;
//! 1. the CSRF policy, for a token taken from a cookie (only in a layer with a
//!    cookie source), because it needs nothing but the request;
//! 2. the certificate binding (RFC 8705), which needs only the request;
//! 3. the DPoP proof (RFC 9449), which may ask a shared replay store;
//! 4. the revocation check, last, because it asks shared state over the network.
//!
//! A check answers at once ([`Step::Pass`], [`Step::Refuse`]) or asks to wait
//! ([`Step::Wait`]); the checks after a waiting one run once it is done. The
//! first refusal decides. A layer without checks (a header source and no
//! revocation store) runs none, and pays nothing for this seam.
//!
//! A check that believes a header from trusted proxies only names it in
//! [`TokenCheck::untrusted_headers`]; the service removes it from a request
//! of any other peer before the request is read ([`Checks::scrub`]), so the
//! inner service never sees a forged one either.
//!
//! [`CsrfPolicy`]: crate::CsrfPolicy
//! [`CertificateBinding`]: crate::CertificateBinding

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::header::HeaderName;
use http::request::Parts;
use http::{Extensions, HeaderMap, Method, Request, Uri};

use crate::confirmation::Confirmation;
use crate::error::{AuthError, AuthErrorKind};
use crate::verify::IdentitySpans;

/// A check of a verified token against its request.
pub(crate) trait TokenCheck: fmt::Debug + Send + Sync + 'static {
    /// Judges `token`, which has verified, as sent with `request`.
    fn check(&self, token: &VerifiedToken<'_>, request: Head<'_>) -> Step;

    /// The headers the inner service must not see on a request with
    /// `extensions`: those a check believes from trusted proxies only (a
    /// forwarded client certificate), when the peer is not one. Removed from
    /// every request before anything else reads it, token or not, accepted
    /// or not ([`Checks::scrub`]). Most checks have none.
    fn untrusted_headers(&self, extensions: &Extensions) -> &[HeaderName] {
        let _ = extensions;
        &[]
    }
}

/// What a check decided.
pub(crate) enum Step {
    /// The token may pass (as far as this check is concerned).
    Pass,
    /// The token may pass, and an accepted request gains `Gain` (the
    /// revocation check's `TokenInfo`, answered without I/O).
    #[cfg_attr(
        not(feature = "revocation"),
        expect(dead_code, reason = "only the revocation check grants")
    )]
    Grant(Gain),
    /// The request is refused.
    Refuse(AuthError),
    /// The check needs I/O first; the future resolves to the extensions an
    /// accepted request gains from it (the revocation check's `TokenInfo`).
    Wait(Waiting),
}

/// A check's I/O: the extensions it adds, or the refusal.
pub(crate) type Waiting = BoxFuture<'static, Result<Extensions, AuthError>>;

/// What a check that answered at once adds to an accepted request: the
/// revocation check's `TokenInfo`, for a logout handler (one pointer, so the
/// verdict every request moves around grows by that only); a type that
/// cannot be made in a build without revocation.
#[cfg(feature = "revocation")]
pub(crate) type Gain = crate::TokenInfo;
/// See above: nothing, in a build without revocation.
#[cfg(not(feature = "revocation"))]
pub(crate) type Gain = std::convert::Infallible;

/// Puts a [`Gain`] into an accepted request's extensions.
pub(crate) trait AddTo {
    fn add_to(self, extensions: &mut Extensions);
}

#[cfg(feature = "revocation")]
impl AddTo for crate::TokenInfo {
    #[inline]
    fn add_to(self, extensions: &mut Extensions) {
        extensions.insert(self);
    }
}

#[cfg(not(feature = "revocation"))]
impl AddTo for std::convert::Infallible {
    fn add_to(self, _: &mut Extensions) {
        match self {}
    }
}

/// A verified token, as the checks see it.
#[derive(Clone, Copy)]
pub(crate) struct VerifiedToken<'a> {
    /// The token as sent (compact serialization).
    pub(crate) text: &'a str,
    /// Its claims, as verified JSON text.
    pub(crate) payload: &'a str,
    /// How the request carried it.
    pub(crate) carrier: Carrier,
    /// What it is bound to (its `cnf` claim), when it is bound: set by
    /// [`Checks::run`], `None` before.
    pub(crate) confirmation: Option<&'a Confirmation>,
    /// `false` when the verifier found no top-level `cnf` claim: then
    /// [`Checks::run`] knows the token is not bound without a search.
    pub(crate) may_be_bound: bool,
    /// Where the claims that identify it are in `payload`, when the verifier
    /// read them (the revocation check's `TokenInfo`).
    pub(crate) identity: Option<IdentitySpans>,
}

/// How a request carried its token: what the CSRF policy (cookies) and the
/// DPoP check (the `DPoP` scheme, RFC 9449 §7.1) need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carrier {
    /// `Authorization: DPoP <token>`.
    Dpop,
    /// A cookie.
    Cookie,
    /// Anything else: `Authorization: Bearer`, another header, the query, a
    /// form field. All of them are bearer tokens to the DPoP check.
    Bearer,
}

/// What the checks read of a request.
#[derive(Clone, Copy)]
pub(crate) struct Head<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    /// What the server put there: the peer's address, a TLS client
    /// certificate.
    pub(crate) extensions: &'a Extensions,
}

impl<'a, B> From<&'a Request<B>> for Head<'a> {
    fn from(request: &'a Request<B>) -> Self {
        Self {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            extensions: request.extensions(),
        }
    }
}

impl<'a> From<&'a Parts> for Head<'a> {
    fn from(parts: &'a Parts) -> Self {
        Self {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            extensions: &parts.extensions,
        }
    }
}

/// A copy of a request's head, for work that runs after `call` returned.
pub(crate) struct OwnedHead {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    extensions: Extensions,
}

impl From<Head<'_>> for OwnedHead {
    fn from(head: Head<'_>) -> Self {
        Self {
            method: head.method.clone(),
            uri: head.uri.clone(),
            headers: head.headers.clone(),
            extensions: head.extensions.clone(),
        }
    }
}

impl OwnedHead {
    pub(crate) fn as_head(&self) -> Head<'_> {
        Head {
            method: &self.method,
            uri: &self.uri,
            headers: &self.headers,
            extensions: &self.extensions,
        }
    }
}

/// A copy of a verified token and of its request's head, for the checks that
/// run after a waiting one.
struct Owned {
    text: String,
    payload: String,
    carrier: Carrier,
    confirmation: Option<Confirmation>,
    may_be_bound: bool,
    identity: Option<IdentitySpans>,
    head: OwnedHead,
}

impl Owned {
    fn new(token: &VerifiedToken<'_>, head: Head<'_>) -> Self {
        Self {
            text: token.text.to_owned(),
            payload: token.payload.to_owned(),
            carrier: token.carrier,
            confirmation: token.confirmation.cloned(),
            may_be_bound: token.may_be_bound,
            // Offsets into the payload: as true of its copy.
            identity: token.identity,
            head: head.into(),
        }
    }

    fn token(&self) -> VerifiedToken<'_> {
        VerifiedToken {
            text: &self.text,
            payload: &self.payload,
            carrier: self.carrier,
            confirmation: self.confirmation.as_ref(),
            may_be_bound: self.may_be_bound,
            identity: self.identity,
        }
    }
}

/// Which confirmation methods (`cnf` members) the configured checks prove.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Proves {
    /// `cnf.jkt`: a DPoP check.
    pub(crate) jkt: bool,
    /// `cnf["x5t#S256"]`: a certificate-binding check.
    pub(crate) x5t_s256: bool,
}

/// The configured checks, in the order of the module docs.
#[derive(Debug, Default)]
pub(crate) struct Checks {
    list: Vec<Arc<dyn TokenCheck>>,
    /// The bindings some check proves; a token bound otherwise is refused.
    proves: Proves,
}

/// What the checks decided together.
pub(crate) enum Outcome {
    /// Passed, with what a check that answered at once adds.
    Pass(Option<Gain>),
    Refuse(AuthError),
    Wait(Waiting),
}

impl Checks {
    /// The checks given, in order, leaving out those not configured; among
    /// them, those that prove a binding say so in `proves`.
    pub(crate) fn new(
        in_order: impl IntoIterator<Item = Option<Arc<dyn TokenCheck>>>,
        proves: Proves,
    ) -> Self {
        Self {
            list: in_order.into_iter().flatten().collect(),
            proves,
        }
    }

    /// Removes from `request` the headers a check says its peer may not
    /// send (see [`TokenCheck::untrusted_headers`]), before the request is
    /// read: one of the two changes the layer makes to a request's head
    /// (the other is a WebSocket source's, `Sources::remove_tokens`). A layer
    /// without checks runs an empty loop.
    pub(crate) fn scrub<B>(&self, request: &mut Request<B>) {
        for check in &self.list {
            for name in check.untrusted_headers(request.extensions()) {
                request.headers_mut().remove(name);
            }
        }
    }

    /// Reads the token's binding, refuses a binding no check proves, then
    /// runs the checks in order until one refuses or waits; the ones after a
    /// waiting check run once it is done, on a copy of the token and head.
    pub(crate) fn run(&self, token: &VerifiedToken<'_>, head: Head<'_>) -> Outcome {
        let confirmation = match token.may_be_bound {
            false => None,
            true => match Confirmation::of(token.payload) {
                Ok(confirmation) => confirmation,
                Err(error) => return Outcome::Refuse(error),
            },
        };
        if let Some(binding) = &confirmation {
            if binding.jkt.is_some() && !self.proves.jkt {
                return Outcome::Refuse(unproven("token is DPoP-bound; this server takes no DPoP"));
            }
            if binding.x5t_s256.is_some() && !self.proves.x5t_s256 {
                return Outcome::Refuse(unproven(
                    "token is certificate-bound; this server checks no client certificate",
                ));
            }
        }
        let token = &VerifiedToken {
            confirmation: confirmation.as_ref(),
            ..*token
        };
        let mut gain = None;
        for (position, check) in self.list.iter().enumerate() {
            match check.check(token, head) {
                Step::Pass => {}
                Step::Grant(granted) => gain = Some(granted),
                Step::Refuse(error) => return Outcome::Refuse(error),
                Step::Wait(waiting) => {
                    let rest = &self.list[position + 1..];
                    if rest.is_empty() && gain.is_none() {
                        return Outcome::Wait(waiting);
                    }
                    let owned = Owned::new(token, head);
                    return Outcome::Wait(then(waiting, gain, rest.to_vec(), owned));
                }
            }
        }
        Outcome::Pass(gain)
    }
}

/// A bound token whose binding no configured check proves (RFC 9449 §7.2,
/// RFC 8705 §3: a resource server that cannot check it must not accept it).
fn unproven(description: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::TokenBindingMismatch, description)
}

/// `waiting`, then the checks of `rest` in order, on `owned`; an accepted
/// request gains `gain` too, from a check before `waiting`.
fn then(
    waiting: Waiting,
    gain: Option<Gain>,
    rest: Vec<Arc<dyn TokenCheck>>,
    owned: Owned,
) -> Waiting {
    Box::pin(async move {
        let mut extensions = waiting.await?;
        if let Some(gain) = gain {
            gain.add_to(&mut extensions);
        }
        for check in rest {
            match check.check(&owned.token(), owned.head.as_head()) {
                Step::Pass => {}
                Step::Grant(gain) => gain.add_to(&mut extensions),
                Step::Refuse(error) => return Err(error),
                Step::Wait(waiting) => extensions.extend(waiting.await?),
            }
        }
        Ok(extensions)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::error::AuthErrorKind;

    /// Records its name when it runs, and answers as told.
    #[derive(Debug)]
    struct Named {
        name: &'static str,
        answer: &'static str,
        seen: Arc<Mutex<Vec<&'static str>>>,
    }

    impl TokenCheck for Named {
        fn check(&self, token: &VerifiedToken<'_>, head: Head<'_>) -> Step {
            assert_eq!((token.text, head.method), ("a.b.c", &Method::POST));
            self.seen.lock().unwrap().push(self.name);
            let refused = || AuthError::new(AuthErrorKind::Revoked, "refused");
            match self.answer {
                "pass" => Step::Pass,
                "refuse" => Step::Refuse(refused()),
                "wait" => Step::Wait(Box::pin(async {
                    tokio::task::yield_now().await;
                    let mut extensions = Extensions::new();
                    extensions.insert(7u8);
                    Ok(extensions)
                })),
                _ => Step::Wait(Box::pin(async move { Err(refused()) })),
            }
        }
    }

    fn checks(answers: &[(&'static str, &'static str)]) -> (Checks, Arc<Mutex<Vec<&'static str>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let list = answers.iter().map(|&(name, answer)| {
            Some(Arc::new(Named {
                name,
                answer,
                seen: seen.clone(),
            }) as Arc<dyn TokenCheck>)
        });
        (Checks::new(list.chain([None]), Proves::default()), seen)
    }

    async fn run(checks: &Checks) -> Result<Option<Extensions>, AuthErrorKind> {
        let request = Request::post("/").body(()).unwrap();
        let token = VerifiedToken {
            text: "a.b.c",
            payload: "{}",
            carrier: Carrier::Bearer,
            confirmation: None,
            may_be_bound: true,
            identity: None,
        };
        match checks.run(&token, Head::from(&request)) {
            Outcome::Pass(_) => Ok(None),
            Outcome::Refuse(error) => Err(error.kind()),
            Outcome::Wait(waiting) => waiting.await.map(Some).map_err(|e| e.kind()),
        }
    }

    #[tokio::test]
    async fn checks_run_in_order_and_the_first_refusal_decides() {
        let (none, _) = checks(&[]);
        assert!(none.list.is_empty() && run(&none).await.unwrap().is_none());

        let (list, seen) = checks(&[("a", "pass"), ("b", "refuse"), ("c", "pass")]);
        assert_eq!(run(&list).await.unwrap_err(), AuthErrorKind::Revoked);
        assert_eq!(*seen.lock().unwrap(), ["a", "b"]);
    }

    #[tokio::test]
    async fn the_checks_after_a_waiting_one_run_when_it_is_done() {
        let (list, seen) = checks(&[("a", "wait"), ("b", "pass"), ("c", "wait")]);
        let extensions = run(&list).await.unwrap().unwrap();
        assert_eq!(extensions.get::<u8>(), Some(&7));
        assert_eq!(*seen.lock().unwrap(), ["a", "b", "c"]);

        let (list, seen) = checks(&[("a", "wait"), ("b", "refuse"), ("c", "pass")]);
        assert_eq!(run(&list).await.unwrap_err(), AuthErrorKind::Revoked);
        assert_eq!(*seen.lock().unwrap(), ["a", "b"]);

        let (list, seen) = checks(&[("a", "fail"), ("b", "pass")]);
        assert_eq!(run(&list).await.unwrap_err(), AuthErrorKind::Revoked);
        assert_eq!(*seen.lock().unwrap(), ["a"]);
    }
}
