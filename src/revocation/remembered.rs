//! [`RememberedTokens`]: the identities (`TokenInfo`) of the tokens the
//! revocation check read last, by the token as sent.
//!
//! A token's identity follows from its text alone, so a remembered one is
//! never stale: a token sent again is looked up by its text instead of read
//! from its claims again, which (with the `TokenInfo` it allocates) cost a
//! check that the store answers in memory more than the rest of it. The
//! store is still asked every time; only the reading is saved.

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use super::TokenInfo;
use super::quick_hash::Quick;

/// Up to a number of tokens' identities, by the token as sent.
pub(super) struct RememberedTokens {
    table: RwLock<HashMap<Box<str>, TokenInfo, Quick>>,
    max_entries: usize,
}

impl RememberedTokens {
    /// At most `max_entries` (none at all for `0`).
    pub(super) fn new(max_entries: usize) -> Self {
        Self {
            table: RwLock::default(),
            max_entries,
        }
    }

    pub(super) fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The identity of `token`, when remembered.
    pub(super) fn get(&self, token: &str) -> Option<TokenInfo> {
        if self.max_entries == 0 {
            return None;
        }
        // No code panics while holding the lock; should one ever, the table
        // is still whole (every change is one insert or retain).
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        table.get(token).cloned()
    }

    /// Remembers `info` as the identity of `token`. A full table forgets
    /// every other entry first: amortized, one step per insert, and the
    /// tokens in use come back at their next request.
    pub(super) fn put(&self, token: &str, info: &TokenInfo) {
        if self.max_entries == 0 {
            return;
        }
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        if table.len() >= self.max_entries {
            let mut keep = false;
            table.retain(|_, _| {
                keep = !keep;
                keep
            });
        }
        table.insert(token.into(), info.clone());
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.read().unwrap().len()
    }
}

impl fmt::Debug for RememberedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are credentials: never printed.
        f.debug_struct("RememberedTokens")
            .field("tokens", &"[redacted]")
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(jti: &str) -> TokenInfo {
        TokenInfo::new().with_jti(jti)
    }

    #[test]
    fn a_token_is_remembered_by_its_text() {
        let remembered = RememberedTokens::new(10);
        assert_eq!(remembered.get("a.b.c"), None);
        remembered.put("a.b.c", &info("1"));
        assert_eq!(remembered.get("a.b.c"), Some(info("1")));
        assert_eq!(remembered.get("a.b.d"), None);
        assert_eq!(remembered.get("a.b."), None);
    }

    #[test]
    fn the_table_keeps_to_its_bound_and_the_newest_token() {
        let remembered = RememberedTokens::new(100);
        for i in 0..1_000 {
            let token = format!("token-{i}");
            remembered.put(&token, &info(&i.to_string()));
            assert!(remembered.len() <= 100);
            assert_eq!(remembered.get(&token), Some(info(&i.to_string())));
        }
        // A full table forgets half, not all.
        assert!(remembered.len() > 50, "{}", remembered.len());
    }

    #[test]
    fn debug_shows_no_token() {
        let remembered = RememberedTokens::new(10);
        remembered.put("eyJ.secret.sig", &info("1"));
        let debug = format!("{remembered:?}");
        assert!(
            !debug.contains("secret") && debug.contains("[redacted]"),
            "{debug}"
        );
    }

    #[test]
    fn zero_remembers_nothing() {
        let remembered = RememberedTokens::new(0);
        remembered.put("a.b.c", &info("1"));
        assert_eq!(remembered.get("a.b.c"), None);
        assert_eq!(remembered.len(), 0);
    }
}
