//! [`Revocation`] as the last check after verification (`crate::checks`):
//! the token's identity, read from its verified claims (its `jti`, or the
//! digest of its text when it has none), is asked of the store.

use http::Extensions;

use super::{Revocation, TokenInfo};
use crate::checks::{Head, Step, TokenCheck, VerifiedToken};
use crate::error::{AuthError, AuthErrorKind};

impl TokenCheck for Revocation {
    fn check(&self, token: &VerifiedToken<'_>, _: Head<'_>) -> Step {
        // The verifier refused every other registered claim given twice; a
        // duplicate `jti` is left: two readers could disagree on which token
        // this is.
        let Some(info) = TokenInfo::from_verified(token.text, token.payload) else {
            return Step::Refuse(AuthError::new(
                AuthErrorKind::MalformedToken,
                "claim `jti` given twice",
            ));
        };
        let answer = Revocation::check(self, info.clone());
        Step::Wait(Box::pin(async move {
            answer.await?;
            // For a logout handler to revoke.
            let mut extensions = Extensions::new();
            extensions.insert(info);
            Ok(extensions)
        }))
    }
}
