//! The fuzz targets' shared code. `common` and the per-target modules hold the
//! harness and the properties, and read the `text:` inputs of the seeds and
//! kept crashes; they do not use `arbitrary`, so that
//! tests/fuzz_regressions.rs can include them and replay those inputs under
//! `cargo test`. The structured inputs, built with `arbitrary`, are here and in
//! `fuzz_targets/`.

pub mod common;
pub mod dpop;
pub mod form;
pub mod locate;
pub mod verify;

use arbitrary::Arbitrary;

use crate::common::Tokens;

/// A piece of fuzzed text: raw bytes, a token, or a fragment the parsers care
/// about, so that the fuzzer reaches deep paths without guessing them.
#[derive(Arbitrary, Debug, Clone)]
pub enum Piece {
    Bytes(Vec<u8>),
    Valid,
    Other,
    Expired,
    Forged,
    Fragment(Fragment),
}

/// Separators and names the token sources look for.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Fragment {
    Bearer,
    Jwt,
    Space,
    Comma,
    Semicolon,
    Ampersand,
    Equals,
    Question,
    Percent,
    Plus,
    Dot,
    CookieName,
    QueryName,
    FormName,
    CrLf,
    MultipartToken,
    MultipartEnd,
}

impl Fragment {
    fn bytes(self) -> &'static [u8] {
        match self {
            Self::Bearer => b"Bearer ",
            Self::Jwt => b"JWT ",
            Self::Space => b" ",
            Self::Comma => b",",
            Self::Semicolon => b"; ",
            Self::Ampersand => b"&",
            Self::Equals => b"=",
            Self::Question => b"?",
            Self::Percent => b"%",
            Self::Plus => b"+",
            Self::Dot => b".",
            Self::CookieName => b"jwt=",
            Self::QueryName => b"access_token=",
            Self::FormName => b"token=",
            Self::CrLf => b"\r\n",
            Self::MultipartToken => {
                b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n"
            }
            Self::MultipartEnd => b"\r\n--BOUNDARY--\r\n",
        }
    }
}

/// The bytes of `pieces`, concatenated.
pub fn join(pieces: &[Piece], tokens: &Tokens) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in pieces {
        out.extend_from_slice(match piece {
            Piece::Bytes(bytes) => bytes,
            Piece::Valid => tokens.valid.as_bytes(),
            Piece::Other => tokens.other.as_bytes(),
            Piece::Expired => tokens.expired.as_bytes(),
            Piece::Forged => tokens.forged.as_bytes(),
            Piece::Fragment(fragment) => fragment.bytes(),
        });
    }
    out
}
