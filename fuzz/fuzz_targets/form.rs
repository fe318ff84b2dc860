//! Form bodies: arbitrary bytes (with tokens and form syntax spliced in), cut
//! into arbitrary frames, under several content types, with or without a bearer
//! token. The harness and the properties are in `src/form.rs`.
//!
//! An input is either structured, or after `text:` three parts as the seeds
//! are written: the `Content-Type` line, the `Authorization` line (empty for
//! none), and the body, with `{valid}`-style placeholders for the tokens.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tower_jwt_auth_fuzz::form::{self, Case, Length};
use tower_jwt_auth_fuzz::{Piece, join};

#[derive(Arbitrary, Debug)]
struct Input {
    body: Vec<Piece>,
    chunks: Vec<u16>,
    content_type: ContentType,
    length: LengthChoice,
    bearer: Option<Vec<Piece>>,
    trailers: bool,
    fail: bool,
}

#[derive(Arbitrary, Debug)]
enum ContentType {
    UrlEncoded,
    UrlEncodedCharset,
    Multipart,
    MultipartBoundary(Vec<u8>),
    TextPlain,
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum LengthChoice {
    Absent,
    Exact,
    Any(u32),
}

impl ContentType {
    fn value(&self) -> Vec<u8> {
        match self {
            Self::UrlEncoded => b"application/x-www-form-urlencoded".to_vec(),
            Self::UrlEncodedCharset => b"application/x-www-form-urlencoded; charset=UTF-8".to_vec(),
            Self::Multipart => b"multipart/form-data; boundary=BOUNDARY".to_vec(),
            Self::MultipartBoundary(boundary) => {
                [&b"multipart/form-data; boundary="[..], boundary].concat()
            }
            Self::TextPlain => b"text/plain".to_vec(),
            Self::Raw(bytes) => bytes.clone(),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if form::replay(data) {
        return;
    }
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let tokens = form::tokens();
    form::check(&Case {
        content_type: input.content_type.value(),
        length: match input.length {
            LengthChoice::Absent => Length::Absent,
            LengthChoice::Exact => Length::Exact,
            LengthChoice::Any(n) => Length::Any(n),
        },
        bearer: input.bearer.map(|pieces| join(&pieces, tokens)),
        body: Bytes::from(join(&input.body, tokens)),
        chunks: input.chunks,
        trailers: input.trailers,
        fail: input.fail,
    });
});
