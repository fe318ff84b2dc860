//! [`MetadataBody`]: the body of the metadata service's answers.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// The response body of [`ResourceMetadataService`](crate::ResourceMetadataService)
/// and [`JwkSetService`](crate::JwkSetService):
/// the whole document in one frame, or nothing (for `HEAD` and `405`).
///
/// A type of this crate, as [`ResponseBody`](crate::ResponseBody) is, so
/// that the crate needs no body utility crate and its shape can change
/// without a breaking change.
#[derive(Debug, Clone, Default)]
pub struct MetadataBody {
    data: Option<Bytes>,
}

impl MetadataBody {
    /// A body of `data`; none when it is empty.
    pub(crate) fn new(data: Bytes) -> Self {
        Self {
            data: (!data.is_empty()).then_some(data),
        }
    }
}

impl Body for MetadataBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.data.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}
