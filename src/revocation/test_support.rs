//! What the tests of the revocation check share: a store that the test
//! switches between up, down and hanging, and a token. (The log capture is
//! the crate's, in `test_helpers`.)

use std::future::{pending, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::{RevocationFuture, RevocationStore, TokenInfo};

/// A store that is up (nothing is revoked), down (every check fails with
/// "connection refused") or hanging (no check ever answers), as the test
/// switches it. It counts the checks it was asked.
pub(super) struct Switch {
    down: AtomicBool,
    hang: bool,
    pub(super) calls: AtomicUsize,
}

impl Switch {
    fn new(hang: bool) -> Arc<Self> {
        Arc::new(Self {
            down: AtomicBool::new(true),
            hang,
            calls: AtomicUsize::new(0),
        })
    }

    pub(super) fn down() -> Arc<Self> {
        Self::new(false)
    }

    pub(super) fn hanging() -> Arc<Self> {
        Self::new(true)
    }

    pub(super) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

impl RevocationStore for Switch {
    fn is_revoked<'a>(&'a self, _: &'a TokenInfo) -> RevocationFuture<'a, bool> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            if !self.down.load(Ordering::SeqCst) {
                return Ok(false);
            }
            if self.hang {
                pending::<()>().await;
            }
            Err("connection refused".into())
        })
    }
    fn revoke<'a>(&'a self, _: &'a TokenInfo) -> RevocationFuture<'a, ()> {
        Box::pin(ready(Err("read-only".into())))
    }
    fn revoke_subject<'a>(
        &'a self,
        _: Option<&'a str>,
        _: &'a str,
        _: u64,
        _: u64,
    ) -> RevocationFuture<'a, ()> {
        Box::pin(ready(Err("read-only".into())))
    }
}

/// A live token whose `jti` and `sub` say "secret", which no log may show.
pub(super) fn token() -> TokenInfo {
    let now = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs();
    TokenInfo::new()
        .with_jti("secret-jti")
        .with_subject("secret-sub")
        .with_issued_at(now - 10)
        .with_expires_at(now + 600)
}
