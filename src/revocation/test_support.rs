//! What the tests of the revocation check share: a store that the test
//! switches between up, down and hanging, a token, and the captured logs.

use std::future::{pending, ready};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

use super::{RevocationFuture, RevocationStore, TokenInfo};

/// A store that is up (nothing is revoked), down (every check fails with
/// "connection refused") or hanging (no check ever answers), as the test
/// switches it; with a gate, a failing check first waits until that many
/// checks are failing at once. It counts the checks it was asked.
pub(super) struct Switch {
    down: AtomicBool,
    hang: bool,
    gate: Option<tokio::sync::Barrier>,
    pub(super) calls: AtomicUsize,
}

impl Switch {
    fn new(hang: bool, gate: Option<tokio::sync::Barrier>) -> Arc<Self> {
        Arc::new(Self {
            down: AtomicBool::new(true),
            hang,
            gate,
            calls: AtomicUsize::new(0),
        })
    }

    pub(super) fn down() -> Arc<Self> {
        Self::new(false, None)
    }

    pub(super) fn hanging() -> Arc<Self> {
        Self::new(true, None)
    }

    pub(super) fn down_together(checks: usize) -> Arc<Self> {
        Self::new(false, Some(tokio::sync::Barrier::new(checks)))
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
            if let Some(gate) = &self.gate {
                gate.wait().await;
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

/// Log lines written while the returned guard lives (this thread only).
#[derive(Clone, Default)]
pub(super) struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub(super) fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let (logs, _, guard) = Self::capture_with_dispatch();
        (logs, guard)
    }

    /// Also the subscriber, for futures that run on other threads
    /// (`WithSubscriber::with_subscriber`).
    pub(super) fn capture_with_dispatch()
    -> (Self, tracing::Dispatch, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        let dispatch = tracing::Dispatch::new(subscriber);
        // The default of this thread too: when it is the only subscriber
        // alive, tracing asks this thread's default alone which callsites
        // are wanted, even for events sent on other threads.
        let guard = tracing::dispatcher::set_default(&dispatch);
        // Another test of this binary may have met a callsite first, on a
        // thread without a subscriber, and cached "never" for it: ask again.
        tracing::callsite::rebuild_interest_cache();
        (logs, dispatch, guard)
    }

    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Everything captured so far, which is then forgotten.
    pub(super) fn take(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut *self.0.lock().unwrap())).into_owned()
    }
}

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
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
