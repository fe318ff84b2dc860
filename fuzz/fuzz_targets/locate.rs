//! Token location from arbitrary request heads: method, URI, up to 8 headers,
//! through a layer with every head source. The harness and the properties are
//! in `src/locate.rs`.
//!
//! An input is either structured (pieces of bytes, tokens and separators) or,
//! after `text:`, a request head as text, as the seeds are written:
//! `METHOD URI` then `name: value` lines, with `{valid}`-style placeholders
//! for the tokens.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use http::Method;
use http::header::HeaderName;
use libfuzzer_sys::fuzz_target;
use tower_jwt_auth_fuzz::{Piece, join, locate};

#[derive(Arbitrary, Debug)]
struct Input {
    method: MethodChoice,
    uri: Vec<Piece>,
    headers: Vec<(Name, Vec<Piece>)>,
}

#[derive(Arbitrary, Debug)]
enum MethodChoice {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Other(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Name {
    Authorization,
    Cookie,
    XToken,
    XAuth,
    ContentType,
    Origin,
    SecFetchSite,
    Host,
    Other(Vec<u8>),
}

impl MethodChoice {
    fn method(&self) -> Option<Method> {
        Some(match self {
            Self::Get => Method::GET,
            Self::Head => Method::HEAD,
            Self::Post => Method::POST,
            Self::Put => Method::PUT,
            Self::Delete => Method::DELETE,
            Self::Patch => Method::PATCH,
            Self::Other(bytes) => Method::from_bytes(bytes).ok()?,
        })
    }
}

impl Name {
    fn header_name(&self) -> Option<HeaderName> {
        Some(match self {
            Self::Authorization => http::header::AUTHORIZATION,
            Self::Cookie => http::header::COOKIE,
            Self::XToken => HeaderName::from_static("x-token"),
            Self::XAuth => HeaderName::from_static("x-auth"),
            Self::ContentType => http::header::CONTENT_TYPE,
            Self::Origin => http::header::ORIGIN,
            Self::SecFetchSite => HeaderName::from_static("sec-fetch-site"),
            Self::Host => http::header::HOST,
            Self::Other(bytes) => HeaderName::from_bytes(bytes).ok()?,
        })
    }
}

fuzz_target!(|data: &[u8]| {
    if locate::replay(data) {
        return;
    }
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let tokens = locate::tokens();
    let headers =
        (input.headers.iter()).map(|(name, value)| (name.header_name(), join(value, tokens)));
    if let Some(request) = locate::head(input.method.method(), join(&input.uri, tokens), headers) {
        locate::check(request);
    }
});
