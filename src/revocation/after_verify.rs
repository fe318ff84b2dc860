//! [`Revocation`] as the last check after verification (`crate::checks`):
//! the token's identity, read from its verified claims (its `jti`, or the
//! digest of its text when it has none), is asked of the store: at once
//! when the store can answer without I/O, else after a wait.

use http::Extensions;

use super::{Revocation, TokenInfo};
use crate::checks::{Head, Step, TokenCheck, VerifiedToken};
use crate::error::{AuthError, AuthErrorKind};

impl TokenCheck for Revocation {
    fn check(&self, token: &VerifiedToken<'_>, _: Head<'_>) -> Step {
        // The verifier refused every other registered claim given twice; a
        // duplicate `jti` is left: two readers could disagree on which token
        // this is.
        let info = match self.remembered(token.text) {
            Some(info) => info,
            None => {
                let info = match &token.identity {
                    // As the verifier found the claims: no second walk.
                    Some(spans) => Some(TokenInfo::from_identity(token.text, token.payload, spans)),
                    None => TokenInfo::from_verified(token.text, token.payload),
                };
                let Some(info) = info else {
                    return Step::Refuse(AuthError::new(
                        AuthErrorKind::MalformedToken,
                        "claim `jti` given twice",
                    ));
                };
                self.remember(token.text, &info);
                info
            }
        };
        // Most checks end here: a store that answers without I/O (memory, a
        // local mirror) costs no future and no wait.
        if let Some(answer) = self.check_now(&info) {
            return match answer {
                Ok(()) => Step::Grant(info),
                Err(error) => Step::Refuse(error),
            };
        }
        let answer = self.check_later(info.clone());
        Step::Wait(Box::pin(async move {
            answer.await?;
            // For a logout handler to revoke.
            let mut extensions = Extensions::new();
            extensions.insert(info);
            Ok(extensions)
        }))
    }
}
