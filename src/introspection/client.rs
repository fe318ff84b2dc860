//! [`Client`]: one introspection request (RFC 7662 §2.1) over `remote`'s HTTP
//! client, bounded in time and size, and what its answer means ([`Answer`],
//! RFC 7662 §2.2). Its failures go to the outage log (`crate::outage`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::client_auth::ClientAuth;
use crate::error::{AuthError, AuthErrorKind};
use crate::outage::{Health, Words};
use crate::remote::{Fetcher, RemoteKeyError, Target};

/// How the outage log names the check.
const WORDS: Words = Words {
    check: "introspection",
    asks: "endpoint",
    item: "token",
    fallback: None,
};

/// What the authorization server said about a token.
pub(super) enum Answer {
    /// Active: the response, as JSON text, is the token's claims; its `exp`,
    /// when it is a number.
    Active { payload: Arc<str>, exp: Option<f64> },
    /// Not active (`active` is not the JSON boolean `true`).
    Inactive,
    /// No answer that can be trusted: the authorization server's failure.
    Unavailable(AuthError),
}

/// The introspection endpoint, our credentials, and the outage record.
pub(super) struct Client {
    fetcher: Fetcher,
    endpoint: Target,
    /// How each request authenticates the resource server.
    auth: ClientAuth,
    timeout: Duration,
    health: Health,
}

impl Client {
    pub(super) fn new(
        fetcher: Fetcher,
        endpoint: Target,
        auth: ClientAuth,
        timeout: Duration,
    ) -> Self {
        Self {
            fetcher,
            endpoint,
            auth,
            timeout,
            health: Health::new(WORDS),
        }
    }

    pub(super) fn endpoint(&self) -> &str {
        &self.endpoint.text
    }

    /// Asks whether `token` is active, within the timeout.
    pub(super) async fn introspect(&self, token: &str) -> Answer {
        // The serializer is not `Send`: dropped before any await.
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("token", token)
                .append_pair("token_type_hint", "access_token");
            self.auth.add_to(&mut form).map(|()| form.finish())
        };
        let form = match form {
            Ok(form) => form,
            Err(error) => {
                let error = AuthError::with_source(
                    AuthErrorKind::IntrospectionUnavailable,
                    "cannot sign the introspection client's assertion",
                    error,
                );
                self.health.failed(&error, self.timeout, false);
                return Answer::Unavailable(error);
            }
        };
        let exchange = self
            .fetcher
            .post_form(&self.endpoint, self.auth.header(), form);
        let answer = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(answer)) => read(&answer.body),
            Ok(Err(error)) => Answer::Unavailable(failed(error)),
            Err(elapsed) => Answer::Unavailable(AuthError::with_source(
                AuthErrorKind::IntrospectionUnavailable,
                "the introspection endpoint did not answer in time",
                elapsed,
            )),
        };
        match &answer {
            Answer::Unavailable(error) => self.health.failed(error, self.timeout, false),
            Answer::Active { .. } | Answer::Inactive => self.health.answered(false),
        }
        answer
    }
}

/// The refusal for a failed exchange: `401`/`403` refuse our credentials, a
/// configuration error the log says so of.
fn failed(error: RemoteKeyError) -> AuthError {
    let description = match error.status() {
        Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
            "the authorization server refused the introspection client's credentials \
             (a configuration error)"
        }
        Some(_) => "the introspection endpoint answered an error status",
        None => "the introspection request failed",
    };
    AuthError::with_source(AuthErrorKind::IntrospectionUnavailable, description, error)
}

/// The members of a response that decide: `active`, and `exp` for the cache.
/// A name given twice fails the read (serde's derive refuses it), so that
/// `{"active":false,"active":true}` cannot mean two things.
#[derive(Deserialize)]
struct Status<'a> {
    #[serde(borrow, default)]
    active: Option<&'a RawValue>,
    #[serde(borrow, default)]
    exp: Option<&'a RawValue>,
}

/// Reads a `200 OK` body (or an answer read back from a shared cache): a JSON
/// object, active only when `active` is `true`.
pub(super) fn read(body: &[u8]) -> Answer {
    let not_an_object = |source: Option<serde_json::Error>| {
        let description = "the introspection response is not a JSON object";
        Answer::Unavailable(match source {
            Some(e) => {
                AuthError::with_source(AuthErrorKind::IntrospectionUnavailable, description, e)
            }
            None => AuthError::new(AuthErrorKind::IntrospectionUnavailable, description),
        })
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return not_an_object(None);
    };
    // serde's derive would also take an array for the struct.
    if !text.trim_start().starts_with('{') {
        return not_an_object(None);
    }
    let status = match serde_json::from_str::<Status<'_>>(text) {
        Ok(status) => status,
        Err(e) => return not_an_object(Some(e)),
    };
    // RFC 7662 §2.2: a boolean; the string "true" is not active.
    if status.active.map(RawValue::get) != Some("true") {
        return Answer::Inactive;
    }
    let exp = status
        .exp
        .and_then(|raw| serde_json::from_str::<f64>(raw.get()).ok())
        .filter(|exp| exp.is_finite());
    Answer::Active {
        payload: Arc::from(text),
        exp,
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint.text)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(body: &str) -> String {
        match read(body.as_bytes()) {
            Answer::Active { exp, .. } => format!("active {exp:?}"),
            Answer::Inactive => "inactive".into(),
            Answer::Unavailable(error) => {
                assert_eq!(error.kind(), AuthErrorKind::IntrospectionUnavailable);
                "unavailable".into()
            }
        }
    }

    #[test]
    fn only_the_json_boolean_true_is_active() {
        for (body, expected) in [
            (
                r#"{"active":true,"exp":1700000000}"#,
                "active Some(1700000000.0)",
            ),
            (r#" {"exp":1.5,"active":true,"x":[1]}"#, "active Some(1.5)"),
            (r#"{"active":true,"exp":"1700000000"}"#, "active None"),
            (r#"{"active":true}"#, "active None"),
            (r#"{"active":false}"#, "inactive"),
            (r#"{"active":"true"}"#, "inactive"),
            (r#"{"active":1}"#, "inactive"),
            (r#"{"active":null}"#, "inactive"),
            (r#"{}"#, "inactive"),
            (r#"{"active":false,"active":true}"#, "unavailable"),
            (r#"[true]"#, "unavailable"),
            (r#"true"#, "unavailable"),
            (r#"{"active":true"#, "unavailable"),
            (r#"{"active":true} x"#, "unavailable"),
            ("<html>", "unavailable"),
            ("", "unavailable"),
        ] {
            assert_eq!(verdict(body), expected, "{body}");
        }
        assert_eq!(
            verdict(&String::from_utf8_lossy(b"{\"a\":\"\xff\"}")),
            "inactive"
        );
        assert!(matches!(
            read(b"{\"active\":true,\"a\":\"\xff\"}"),
            Answer::Unavailable(_)
        ));
    }
}
