//! The `Service` impl of [`JwtAuth`] in form mode.

use std::borrow::Cow;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Request, Response};
use http_body::Body;
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::WithForm;
use super::body::RequestBody;
use super::future::{Buffer, FormResponseFuture, Read, too_large};
use super::parse::form_kind;
use crate::body::ResponseBody;
use crate::deferred::{Deferred, Verdict, take_ready};
use crate::error::BoxError;
use crate::future::Answer;
use crate::response::ErrorResponder;
use crate::service::JwtAuth;
use crate::source;

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuth<S, C, R, WithForm>
where
    S: Service<Request<RequestBody<ReqBody>>, Response = Response<ResBody>> + Clone,
    ReqBody: Body<Data = Bytes>,
    ReqBody::Error: Into<BoxError>,
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    R: ErrorResponder,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = FormResponseFuture<S::Future, S, ReqBody, C, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let authenticator = &self.authenticator;
        let located = match source::locate(&authenticator.sources, &request) {
            Ok(located) => located,
            Err(error) => {
                return FormResponseFuture::answer(Answer::rejected(authenticator.reject(error)));
            }
        };
        // The body is read only when no source before the form source found a
        // token and the request is a form.
        let read_form = authenticator.form.as_ref().and_then(|form| {
            (located.position > form.position)
                .then(|| form_kind(request.headers()))
                .flatten()
                .map(|kind| (form, kind))
        });
        let Some((form, kind)) = read_form else {
            let from_cookie = authenticator.is_cookie(located.position);
            let claims =
                authenticator.claims::<C>(located.token.as_deref(), from_cookie, (&request).into());
            return match claims {
                Verdict::Ready(Ok(claims)) => {
                    let mut request = request.map(RequestBody::untouched);
                    if let Some(claims) = claims {
                        request.extensions_mut().insert(claims);
                    }
                    FormResponseFuture::answer(Answer::inner(self.inner.call(request)))
                }
                Verdict::Ready(Err(error)) => {
                    FormResponseFuture::answer(Answer::rejected(authenticator.reject(error)))
                }
                Verdict::Pending(check) => FormResponseFuture::deferred(Deferred::new(
                    check,
                    take_ready(&mut self.inner),
                    request.map(RequestBody::untouched),
                    authenticator.clone(),
                )),
            };
        };
        let declared = declared_length(request.headers());
        if declared.is_some_and(|length| length > form.limit as u64) {
            return FormResponseFuture::answer(Answer::rejected(authenticator.reject(too_large())));
        }
        let head_from_cookie = authenticator.is_cookie(located.position);
        let head_token = located.token.map(Cow::into_owned);
        let capacity = declared.map_or(0, |length| length as usize);
        let (field, limit) = (form.field.clone(), form.limit);
        // The ready service goes into the future; a fresh clone stays here.
        let service = take_ready(&mut self.inner);
        let (parts, body) = request.into_parts();
        FormResponseFuture::reading(
            body,
            Read {
                parts,
                service,
                authenticator: authenticator.clone(),
                kind,
                field,
                limit,
                head_token,
                head_from_cookie,
                buffer: Buffer::new(capacity),
                trailers: None,
            },
        )
    }
}

/// The `Content-Length`, when there is a valid one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http::{Request, Response, StatusCode};
    use http_body_util::{BodyExt, Full};
    use tower::{ServiceExt, service_fn};

    use crate::{
        AuthError, AuthErrorKind, Claims, JwtAuthLayer, Key, RequestBody, TokenIssuer, TokenSource,
    };

    const SECRET: &[u8] = b"unit-test secret, 32 bytes long!";

    fn token() -> String {
        TokenIssuer::hmac(SECRET)
            .build()
            .unwrap()
            .issue(&serde_json::json!({ "sub": "ada" }))
            .unwrap()
    }

    /// Echoes the body it received, prefixed with the claims' `sub`.
    async fn call(
        body: String,
        content_type: &str,
        limit: usize,
    ) -> (StatusCode, Bytes, Option<AuthErrorKind>) {
        let layer = JwtAuthLayer::<serde_json::Value>::builder()
            .key(Key::hmac(SECRET))
            .source(TokenSource::bearer())
            .form_field("token")
            .form_limit(limit)
            .build()
            .unwrap();
        let echo = service_fn(|req: Request<RequestBody<Full<Bytes>>>| async move {
            let sub = req
                .extensions()
                .get::<Claims<serde_json::Value>>()
                .unwrap()
                .0["sub"]
                .clone();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!(
                "{sub}|{}",
                String::from_utf8_lossy(&body)
            )))))
        });
        let req = Request::post("/")
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let res = tower::Layer::layer(&layer, echo)
            .oneshot(req)
            .await
            .unwrap();
        let kind = res.extensions().get::<AuthError>().map(AuthError::kind);
        let status = res.status();
        (
            status,
            res.into_body().collect().await.unwrap().to_bytes(),
            kind,
        )
    }

    #[tokio::test]
    async fn the_form_token_is_verified_and_the_body_passed_on_unchanged() {
        let body = format!("a=1&token={}&b=%20x", token());
        let (status, echoed, _) =
            call(body.clone(), "application/x-www-form-urlencoded", 1024).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(echoed, format!("\"ada\"|{body}"));
    }

    #[tokio::test]
    async fn over_the_limit_is_413_and_a_bad_token_field_is_400() {
        let body = format!("token={}&pad={}", token(), "x".repeat(2048));
        let (status, _, kind) = call(body, "application/x-www-form-urlencoded", 1024).await;
        assert_eq!(
            (status, kind),
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                Some(AuthErrorKind::FormTooLarge)
            )
        );
        let (status, _, kind) = call(
            "token=%zz".into(),
            "application/x-www-form-urlencoded",
            1024,
        )
        .await;
        assert_eq!(
            (status, kind),
            (StatusCode::BAD_REQUEST, Some(AuthErrorKind::MalformedForm))
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_a_form_is_not_read() {
        let (status, _, kind) = call(format!("token={}", token()), "text/plain", 1024).await;
        assert_eq!(
            (status, kind),
            (StatusCode::UNAUTHORIZED, Some(AuthErrorKind::MissingToken))
        );
    }
}
