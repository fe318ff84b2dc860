//! What the response futures of both middlewares share: [`Answer`], the inner
//! service's future or a ready rejection, where every one of them ends; and
//! [`take_ready`], for those that wait first.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::Response;
use pin_project_lite::pin_project;

use crate::body::ResponseBody;

pin_project! {
    /// The inner service's future, or a rejection ready at once: the last
    /// state of every response future here, whatever came before it (a body to
    /// read, a check to await).
    #[project = AnswerProj]
    pub(crate) enum Answer<F> {
        Inner { #[pin] future: F },
        Rejected { response: Option<Response<Bytes>> },
    }
}

impl<F> Answer<F> {
    pub(crate) fn inner(future: F) -> Self {
        Self::Inner { future }
    }

    pub(crate) fn rejected(response: Response<Bytes>) -> Self {
        Self::Rejected {
            response: Some(response),
        }
    }
}

impl<F, B, E> Future for Answer<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AnswerProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(ResponseBody::inner)))
            }
            AnswerProj::Rejected { response } => {
                let response = response
                    .take()
                    .expect("response future polled after completion");
                Poll::Ready(Ok(response.map(ResponseBody::rejection)))
            }
        }
    }
}

/// Moves the ready service out of `slot`, leaving a clone in its place
/// (tower-service's "be careful when cloning inner services").
pub(crate) fn take_ready<S: Clone>(slot: &mut S) -> S {
    let clone = slot.clone();
    std::mem::replace(slot, clone)
}
