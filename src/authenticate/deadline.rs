//! The deadline of a form read ([`Deadline`]): a tokio timer with the
//! `form-timeout` feature (on by default), nothing without it. The only place
//! the feature is named besides its setter and its constant.
//!
//! A form read waits for the client; without a deadline a client that sends
//! its body a byte at a time holds a connection and the buffer for as long as
//! it likes. The deadline is fixed when the request arrives; the timer, a
//! `tokio::time::Sleep` in the form future (no task, no box), is made only
//! when the body first keeps the read waiting.

#[cfg(feature = "form-timeout")]
use std::time::Duration;

#[cfg(feature = "form-timeout")]
pub(super) use on::{DEFAULT, Deadline};

#[cfg(not(feature = "form-timeout"))]
pub(super) use off::{DEFAULT, Deadline};

/// The default time a form body has to arrive, whole: 10 seconds.
///
/// Counted from the moment the middleware receives the request (its head has
/// arrived) to the last byte of the body. With the default
/// [form limit](crate::DEFAULT_FORM_LIMIT) of 64 KiB, that still lets a client
/// as slow as 6.5 KB/s (about 52 kbit/s, a poor 2G link) send the largest form
/// the layer reads; a login form with a token is a few hundred bytes. A client
/// that dribbles its body holds its connection for 10 s at most instead of
/// for ever.
#[cfg(feature = "form-timeout")]
pub const DEFAULT_FORM_READ_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(feature = "form-timeout")]
mod on {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::Context;
    use std::time::Duration;

    use pin_project_lite::pin_project;
    use tokio::time::{Instant, Sleep};

    /// The deadline when none is set.
    pub(crate) const DEFAULT: Option<Duration> = Some(super::DEFAULT_FORM_READ_TIMEOUT);

    pin_project! {
        /// When a form read gives up, if it ever does.
        pub(crate) struct Deadline {
            at: Option<Instant>,
            // Made when the body first keeps the read waiting: a body that
            // is there at once (most forms) costs no timer.
            #[pin]
            sleep: Option<Sleep>,
        }
    }

    impl Deadline {
        /// A deadline `timeout` from now; none without a timeout, or outside
        /// a tokio runtime (whose timer it would need).
        pub(crate) fn after(timeout: Option<Duration>) -> Self {
            let at = timeout
                .filter(|_| tokio::runtime::Handle::try_current().is_ok())
                .and_then(|timeout| Instant::now().checked_add(timeout));
            Self { at, sleep: None }
        }

        /// Whether the deadline has passed; if not, `cx` is woken when it does.
        ///
        /// # Panics
        ///
        /// In a tokio runtime without its time driver (tokio's timer panics).
        pub(crate) fn poll_passed(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
            let mut this = self.project();
            if this.sleep.is_none() {
                // Polled outside a runtime after all: no timer to wait on.
                let Some(at) = this
                    .at
                    .filter(|_| tokio::runtime::Handle::try_current().is_ok())
                else {
                    return false;
                };
                this.sleep.set(Some(tokio::time::sleep_until(at)));
            }
            this.sleep
                .as_pin_mut()
                .is_some_and(|sleep| sleep.poll(cx).is_ready())
        }
    }
}

#[cfg(not(feature = "form-timeout"))]
mod off {
    use std::pin::Pin;
    use std::task::Context;
    use std::time::Duration;

    /// Without the feature there is no timer, and so no default deadline.
    pub(crate) const DEFAULT: Option<Duration> = None;

    /// No deadline: without the `form-timeout` feature a form read waits for
    /// the body as long as the server lets it.
    pub(crate) struct Deadline;

    impl Deadline {
        pub(crate) fn after(_timeout: Option<Duration>) -> Self {
            Self
        }

        pub(crate) fn poll_passed(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> bool {
            false
        }
    }
}

#[cfg(all(test, feature = "form-timeout"))]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Waker};
    use std::time::Duration;

    use super::Deadline;

    fn passed(deadline: Deadline) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        pin!(deadline).poll_passed(&mut cx)
    }

    #[test]
    fn outside_a_tokio_runtime_there_is_no_deadline() {
        assert!(!passed(Deadline::after(Some(Duration::ZERO))));
    }

    #[test]
    fn a_runtime_without_timers_pays_nothing_until_a_body_waits() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _inside = runtime.enter();
        // Made, and dropped, without touching the (missing) time driver.
        drop(Deadline::after(Some(Duration::from_secs(10))));
    }

    #[tokio::test(start_paused = true)]
    async fn inside_one_the_deadline_passes_after_its_time() {
        assert!(!passed(Deadline::after(None)));
        let mut deadline = pin!(Deadline::after(Some(Duration::from_secs(10))));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(!deadline.as_mut().poll_passed(&mut cx));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(deadline.as_mut().poll_passed(&mut cx));
    }
}
