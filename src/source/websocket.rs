//! Tokens in the `Sec-WebSocket-Protocol` header: the one request header the
//! browser WebSocket API lets a page set (`new WebSocket(url, protocols)`).
//!
//! The header is a comma-separated list of subprotocols (RFC 6455 §4.1 and
//! §11.3.4, list syntax of RFC 9110 §5.6.1: optional whitespace around the
//! commas, empty entries ignored; the header may be repeated, which is the
//! same as one list). One entry is `<prefix><base64url(token)>`, the
//! Kubernetes convention: base64url without padding (RFC 4648 §5), because a
//! subprotocol must be an RFC 9110 `token` and an opaque token need not be one.
//!
//! Once the token is read, [`remove_tokens`] takes its entry out of the list
//! the inner service sees, so that no handler can choose it as the accepted
//! subprotocol and echo the token in the `101` response.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::SEC_WEBSOCKET_PROTOCOL;
use http::{HeaderMap, HeaderValue};

use crate::error::{AuthError, AuthErrorKind};

/// The prefix of the Kubernetes API server's WebSocket token entry.
pub(super) const DEFAULT_PREFIX: &str = "base64url.bearer.authorization.k8s.io.";

fn malformed(what: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::MalformedRequest, what)
}

/// Whether `prefix` can start a subprotocol: a non-empty RFC 9110 §5.6.2
/// `token` (RFC 6455 §4.1 asks that of every subprotocol). Anything else could
/// never match an entry a conforming client sends, or would match every one.
pub(super) fn is_valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty() && prefix.bytes().all(is_tchar)
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The entries of every `Sec-WebSocket-Protocol` value, in order, trimmed,
/// without the empty ones.
fn entries(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .into_iter()
        .flat_map(|value| value.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|entry| !entry.is_empty())
}

/// Feeds the token of every entry that starts with `prefix` to `found`.
///
/// # Errors
///
/// An entry that is the prefix alone, or whose rest is not base64url without
/// padding of visible ASCII without commas (what every other source accepts
/// as a token): `400 invalid_request`, as a malformed `Authorization` header.
pub(super) fn each<'r>(
    headers: &'r HeaderMap,
    prefix: &str,
    found: &mut impl FnMut(Cow<'r, str>) -> Result<(), AuthError>,
) -> Result<(), AuthError> {
    for entry in entries(headers) {
        let Some(encoded) = entry.strip_prefix(prefix.as_bytes()) else {
            continue;
        };
        if encoded.is_empty() {
            return Err(malformed("subprotocol token entry without a token"));
        }
        let token = URL_SAFE_NO_PAD.decode(encoded).map_err(|error| {
            AuthError::with_source(
                AuthErrorKind::MalformedRequest,
                "subprotocol token is not base64url",
                error,
            )
        })?;
        let usable = token
            .iter()
            .fold(true, |ok, b| ok & b.is_ascii_graphic() & (*b != b','));
        if !usable {
            return Err(malformed("the subprotocol token holds more than a token"));
        }
        let token = String::from_utf8(token)
            .map_err(|_| malformed("the subprotocol token is not ASCII"))?;
        found(Cow::Owned(token))?;
    }
    Ok(())
}

/// Takes every entry that starts with one of `prefixes` out of the
/// `Sec-WebSocket-Protocol` list; the other entries stay, in order, in one
/// header (`a, b`), and the header goes when none is left. A request without
/// such an entry is left as it is, without an allocation.
pub(super) fn remove_tokens(headers: &mut HeaderMap, prefixes: &[Box<str>]) {
    let is_token = |entry: &[u8]| {
        prefixes
            .iter()
            .any(|prefix| entry.starts_with(prefix.as_bytes()))
    };
    if !entries(headers).any(is_token) {
        return;
    }
    let mut kept = Vec::new();
    for entry in entries(headers).filter(|entry| !is_token(entry)) {
        if !kept.is_empty() {
            kept.extend_from_slice(b", ");
        }
        kept.extend_from_slice(entry);
    }
    headers.remove(SEC_WEBSOCKET_PROTOCOL);
    // The entries came from valid header values, and `, ` joins them: the
    // value is valid; if it were not, no subprotocol would be offered.
    if let Ok(value) = HeaderValue::from_bytes(&kept)
        && !kept.is_empty()
    {
        headers.insert(SEC_WEBSOCKET_PROTOCOL, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        headers
    }

    fn entry(token: &str) -> String {
        format!("{DEFAULT_PREFIX}{}", URL_SAFE_NO_PAD.encode(token))
    }

    fn tokens(values: &[&[u8]]) -> Result<Vec<String>, (AuthErrorKind, String)> {
        let headers = headers(values);
        let mut seen = Vec::new();
        each(&headers, DEFAULT_PREFIX, &mut |token| {
            seen.push(token.into_owned());
            Ok(())
        })
        .map_err(|e| (e.kind(), e.to_string()))?;
        Ok(seen)
    }

    #[test]
    fn finds_the_entry_among_the_others_in_every_list_form() {
        let token = entry("a.b.c");
        for value in [
            token.clone(),
            format!("chat, {token}"),
            format!("chat,{token} ,superchat"),
            format!(" ,\t{token},,"),
        ] {
            assert_eq!(
                tokens(&[value.as_bytes()]),
                Ok(vec!["a.b.c".to_owned()]),
                "{value:?}"
            );
        }
        assert_eq!(
            tokens(&[b"chat", token.as_bytes()]),
            Ok(vec!["a.b.c".to_owned()])
        );
        // Other entries, another prefix, the prefix's case: not ours.
        for value in [
            &b"chat"[..],
            b"",
            b" , ,",
            b"base64url.bearer.authorization.k8s.ioX",
            b"BASE64URL.BEARER.AUTHORIZATION.K8S.IO.YS5iLmM",
            b"\xff\xfe, chat",
        ] {
            assert_eq!(tokens(&[value]), Ok(vec![]), "{value:?}");
        }
    }

    #[test]
    fn hostile_entries_are_malformed_requests() {
        for value in [
            DEFAULT_PREFIX.to_owned(),
            format!("chat, {DEFAULT_PREFIX} , x"),
            // Not base64url: the standard alphabet, padding, a raw JWT.
            format!("{DEFAULT_PREFIX}YS5i+y/j"),
            format!("{DEFAULT_PREFIX}YS5iLmM="),
            format!("{DEFAULT_PREFIX}a.b.c"),
            // Non-canonical trailing bits.
            format!("{DEFAULT_PREFIX}YR"),
            // Decodes to bytes that are no token.
            entry("a b"),
            entry("a,b"),
            entry("é"),
            format!("{DEFAULT_PREFIX}_w"),
        ] {
            let (kind, _) = tokens(&[value.as_bytes()]).unwrap_err();
            assert_eq!(kind, AuthErrorKind::MalformedRequest, "{value:?}");
        }
        let mut obs_text = DEFAULT_PREFIX.as_bytes().to_vec();
        obs_text.extend_from_slice(b"\xff\xff");
        assert_eq!(
            tokens(&[&obs_text]).unwrap_err().0,
            AuthErrorKind::MalformedRequest
        );
        // A large list is read once, linearly.
        let many = vec!["chat"; 20_000].join(",") + "," + &entry("a.b.c");
        assert_eq!(tokens(&[many.as_bytes()]), Ok(vec!["a.b.c".to_owned()]));
    }

    #[test]
    fn prefixes_must_be_subprotocol_tokens() {
        assert!(is_valid_prefix(DEFAULT_PREFIX));
        assert!(is_valid_prefix("access_token~"));
        for prefix in ["", "a b", "a,b", "a/b", "a=", "é", "a\"", "a;"] {
            assert!(!is_valid_prefix(prefix), "{prefix:?}");
        }
    }

    #[test]
    fn the_token_entries_are_removed_and_the_others_kept() {
        let prefixes: &[Box<str>] = &[DEFAULT_PREFIX.into(), "jwt.".into()];
        let token = entry("a.b.c");
        let strip = |values: &[&[u8]]| {
            let mut headers = headers(values);
            remove_tokens(&mut headers, prefixes);
            headers
                .get_all(SEC_WEBSOCKET_PROTOCOL)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strip(&[format!("chat, {token}, superchat").as_bytes()]),
            ["chat, superchat"]
        );
        assert_eq!(strip(&[b"chat", token.as_bytes(), b"jwt.x"]), ["chat"]);
        assert_eq!(strip(&[token.as_bytes()]), Vec::<String>::new());
        assert_eq!(
            strip(&[format!(" , {DEFAULT_PREFIX}, ").as_bytes()]),
            Vec::<String>::new()
        );
        // Without a token entry, untouched (the empty entries included).
        assert_eq!(strip(&[b"chat, ,x", b"y"]), ["chat, ,x", "y"]);
        assert_eq!(strip(&[]), Vec::<String>::new());
    }
}
