//! The target URI a DPoP proof names (`htu`, RFC 9449 §4.2), and the one a
//! request was sent to, in one normal form so that they compare as strings.
//!
//! RFC 9449 §4.3 compares `htu` with the request's target URI (RFC 9110
//! §7.1) "ignoring any query and fragment", after syntax-based and
//! scheme-based normalization (RFC 3986 §6.2.2, §6.2.3). [`normalize`] gives
//! that form: `scheme://host[:port]/path`, with
//!
//! - the scheme and host in lowercase, the default port (80 for `http`, 443
//!   for `https`) and an empty port left out, an IPv6 literal in its
//!   RFC 5952 text form;
//! - percent-encoded unreserved characters decoded, other percent-encodings
//!   in uppercase hexadecimal;
//! - dot segments removed (RFC 3986 §5.2.4), an empty path written `/`;
//! - no query and no fragment.
//!
//! Only absolute `http` and `https` URIs with a host and without userinfo
//! are accepted. Visible ASCII characters that RFC 3986 does not allow in a
//! path (`|`, `{`, `"`, ...) are percent-encoded rather than refused: the
//! `http` crate passes them in request paths, and a client that sent one raw
//! puts it raw in `htu` too. Control characters, spaces and non-ASCII bytes
//! are refused.
//!
//! The request's own target URI is built by [`of_request`] (from a
//! configured public [`Base`] URL, or the request's URI and `Host`), or by
//! [`of_forwarded`] from the values a trusted proxy put in [`forwarded`]
//! headers.

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv6Addr;

use http::HeaderMap;
use http::header::{FORWARDED, HOST};

use crate::checks::Head;
use crate::error::ConfigError;

/// The longest URI normalized: longer ones are refused, before any work.
pub(crate) const MAX_URI_LENGTH: usize = 8 * 1024;

/// `uri` in the normal form of the module docs, without its query and
/// fragment.
///
/// `None` when `uri` is longer than [`MAX_URI_LENGTH`], not an absolute
/// `http` or `https` URI, has no host, has userinfo, a port that is not a
/// number up to 65535, an invalid percent-encoding, or a character that is
/// not visible ASCII.
pub(crate) fn normalize(uri: &str) -> Option<String> {
    if uri.len() > MAX_URI_LENGTH {
        return None;
    }
    let (scheme, rest) = uri.split_once(':')?;
    let https = https_scheme(scheme)?;
    let rest = rest.strip_prefix("//")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let (path, query_and_fragment) = rest.split_at(path_end);
    // Dropped, but still a part of the URI: it must be valid.
    if !query_and_fragment
        .split(['?', '#'])
        .all(|part| check_segment(part).is_some())
    {
        return None;
    }
    normalize_parts(https, authority, "", path)
}

/// Whether `scheme` is `https` (`Some(true)`) or `http` (`Some(false)`), in
/// any case.
fn https_scheme(scheme: &str) -> Option<bool> {
    if scheme.eq_ignore_ascii_case("https") {
        Some(true)
    } else if scheme.eq_ignore_ascii_case("http") {
        Some(false)
    } else {
        None
    }
}

/// The normal form of `http[s]://authority` followed by `prefix` and `path`
/// (each empty or starting with `/`), dot segments removed over both.
fn normalize_parts(https: bool, authority: &str, prefix: &str, path: &str) -> Option<String> {
    if authority.len() + prefix.len() + path.len() > MAX_URI_LENGTH {
        return None;
    }
    let mut out = String::with_capacity(16 + authority.len() + prefix.len() + path.len());
    out.push_str(if https { "https://" } else { "http://" });
    push_authority(&mut out, authority, https)?;
    let path_start = out.len();
    let mut segments = [prefix, path]
        .into_iter()
        .filter_map(|part| part.strip_prefix('/'))
        .flat_map(|part| part.split('/'))
        .peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        let start = out.len();
        out.push('/');
        push_segment(&mut out, segment)?;
        // Judged once decoded: `%2E` is a dot (RFC 3986 §6.2.2.3).
        let dots = match out.get(start + 1..) {
            Some(".") => 1,
            Some("..") => 2,
            _ => continue,
        };
        out.truncate(start);
        if dots == 2 {
            let parent = out
                .get(path_start..)
                .and_then(|path| path.rfind('/'))
                .map_or(path_start, |i| path_start + i);
            out.truncate(parent);
        }
        // A final dot segment leaves its directory: `/a/b/..` is `/a/`.
        if last {
            out.push('/');
        }
    }
    if out.len() == path_start {
        out.push('/');
    }
    Some(out)
}

/// Writes the normal form of `authority` (`host[:port]`, no userinfo).
fn push_authority(out: &mut String, authority: &str, https: bool) -> Option<()> {
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(literal) = authority.strip_prefix('[') {
        let (address, after) = literal.split_once(']')?;
        // Only IPv6: IPvFuture and zone identifiers are not target hosts.
        let address: Ipv6Addr = address.parse().ok()?;
        out.push('[');
        fmt::Write::write_fmt(out, format_args!("{address}")).ok()?;
        out.push(']');
        match after {
            "" => ("", None),
            _ => ("", Some(after.strip_prefix(':')?)),
        }
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if host.is_empty() {
            return None;
        }
        (host, port)
    };
    push_reg_name(out, host)?;
    let default = if https { 443 } else { 80 };
    match port.map(parse_port) {
        Some(None) => return None,
        Some(Some(Some(port))) if port != default => {
            fmt::Write::write_fmt(out, format_args!(":{port}")).ok()?;
        }
        _ => {}
    }
    Some(())
}

/// A port: `Some(None)` when empty (the same as none, RFC 3986 §6.2.3), the
/// number when it is one up to 65535, `None` otherwise.
fn parse_port(port: &str) -> Option<Option<u16>> {
    if port.is_empty() {
        return Some(None);
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Leading zeros do not change the number, however many there are.
    let significant = port.trim_start_matches('0');
    if significant.len() > 5 {
        return None;
    }
    if significant.is_empty() {
        return Some(Some(0));
    }
    significant.parse().ok().map(Some)
}

/// Writes a registered name (or IPv4 address) in lowercase.
fn push_reg_name(out: &mut String, host: &str) -> Option<()> {
    let bytes = host.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let decoded = percent_byte(bytes.get(i + 1..i + 3)?)?;
            push_decoded(out, decoded.to_ascii_lowercase());
            i += 3;
            continue;
        }
        if !(is_unreserved(b) || is_sub_delim(b)) {
            return None;
        }
        out.push(char::from(b.to_ascii_lowercase()));
        i += 1;
    }
    Some(())
}

/// Writes one path segment: percent-encodings normalized, other visible
/// ASCII that a segment may not hold percent-encoded.
fn push_segment(out: &mut String, segment: &str) -> Option<()> {
    let bytes = segment.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            push_decoded(out, percent_byte(bytes.get(i + 1..i + 3)?)?);
            i += 3;
            continue;
        }
        if is_pchar(b) {
            out.push(char::from(b));
        } else if b.is_ascii_graphic() {
            push_encoded(out, b);
        } else {
            return None;
        }
        i += 1;
    }
    Some(())
}

/// Checks a part that is dropped (the query, the fragment): visible ASCII,
/// and valid percent-encodings.
fn check_segment(part: &str) -> Option<()> {
    let bytes = part.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            percent_byte(bytes.get(i + 1..i + 3)?)?;
            i += 3;
        } else if b.is_ascii_graphic() {
            i += 1;
        } else {
            return None;
        }
    }
    Some(())
}

/// The byte of the two hexadecimal digits of a percent-encoding.
fn percent_byte(hex: &[u8]) -> Option<u8> {
    let digit = |b: u8| char::from(b).to_digit(16);
    match hex {
        [high, low] => Some((digit(*high)? * 16 + digit(*low)?) as u8),
        _ => None,
    }
}

/// Writes a decoded byte: itself when unreserved, else percent-encoded.
fn push_decoded(out: &mut String, b: u8) {
    if is_unreserved(b) {
        out.push(char::from(b));
    } else {
        push_encoded(out, b);
    }
}

/// Writes `%XX`, in uppercase (RFC 3986 §6.2.2.1).
fn push_encoded(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0F)]));
}

/// RFC 3986 §2.3.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 §2.2.
fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// RFC 3986 §3.3, less the percent-encodings.
fn is_pchar(b: u8) -> bool {
    is_unreserved(b) || is_sub_delim(b) || matches!(b, b':' | b'@')
}

/// A public base URL of the service: the scheme, authority and path prefix
/// under which clients reach it (behind a proxy, say), checked once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Base {
    https: bool,
    /// The normalized `host[:port]`.
    authority: String,
    /// The normalized path, without a final `/`: empty, or `/api`.
    prefix: String,
}

impl Base {
    /// Reads a public base URL such as `https://api.example.com` or
    /// `https://example.com/api/`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidPublicUrl`] when `url` is not an absolute
    /// `http` or `https` URL (see [`normalize`]), or has a query or a
    /// fragment.
    pub(crate) fn parse(url: &str) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::InvalidPublicUrl {
            url: url.to_owned(),
        };
        if url.contains(['?', '#']) {
            return Err(invalid());
        }
        let normal = normalize(url).ok_or_else(invalid)?;
        let (https, rest) = match normal.strip_prefix("https://") {
            Some(rest) => (true, rest),
            None => (false, normal.strip_prefix("http://").ok_or_else(invalid)?),
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        Ok(Self {
            https,
            authority: authority.to_owned(),
            prefix: path.trim_end_matches('/').to_owned(),
        })
    }
}

/// The normalized target URI of the request of `head`, without query.
///
/// With a public `base`, that base followed by the request's path (the
/// request's own scheme and authority are those of the last hop, not the
/// client's). Without, the scheme of an absolute request URI (HTTP/2, or a
/// request to a proxy) else `http`, and its authority else the `Host`
/// header. A server that terminates TLS itself receives `https` requests in
/// origin form: it needs a `base` for their target to read `https`.
///
/// `None` when there is no authority, more than one `Host` header, a `Host`
/// that is not a `host[:port]`, a request path that is not absolute (`*`),
/// or any part [`normalize`] refuses.
pub(crate) fn of_request(head: &Head<'_>, base: Option<&Base>) -> Option<String> {
    let path = request_path(head)?;
    if let Some(base) = base {
        return normalize_parts(base.https, &base.authority, &base.prefix, path);
    }
    let https = match head.uri.scheme_str() {
        Some(scheme) => https_scheme(scheme)?,
        None => false,
    };
    let authority = match head.uri.authority() {
        Some(authority) => authority.as_str(),
        None => host_header(head.headers)?,
    };
    compose(https, authority, "", path)
}

/// The normalized target URI of the request of `head` as a trusted proxy
/// reports it: its protocol and host, else the request's own (as in
/// [`of_request`] without a base), and the path under its prefix.
///
/// `None` when the forwarding headers were malformed, or as for
/// [`of_request`].
pub(crate) fn of_forwarded(head: &Head<'_>, forwarded: &Forwarded) -> Option<String> {
    if forwarded.malformed {
        return None;
    }
    let path = request_path(head)?;
    let https = match (forwarded.proto.as_deref(), head.uri.scheme_str()) {
        (Some(proto), _) | (None, Some(proto)) => https_scheme(proto)?,
        (None, None) => false,
    };
    let authority = match (&forwarded.host, head.uri.authority()) {
        (Some(host), _) => host.as_str(),
        (None, Some(authority)) => authority.as_str(),
        (None, None) => host_header(head.headers)?,
    };
    compose(
        https,
        authority,
        forwarded.prefix.as_deref().unwrap_or(""),
        path,
    )
}

/// The path of the request's URI; `/` for an empty one, `None` for one that
/// is not absolute (the asterisk form of `OPTIONS *`).
fn request_path<'a>(head: &Head<'a>) -> Option<&'a str> {
    match head.uri.path() {
        "" => Some("/"),
        path if path.starts_with('/') => Some(path),
        _ => None,
    }
}

/// The one `Host` header's value (RFC 9112 §3.2: a second one is an error).
fn host_header(headers: &HeaderMap) -> Option<&str> {
    let mut hosts = headers.get_all(HOST).iter();
    let host = hosts.next()?;
    if hosts.next().is_some() {
        return None;
    }
    host.to_str().ok()
}

/// The normal form of the pieces, once `authority` is known to be only an
/// authority (a `/` in it would move the path).
fn compose(https: bool, authority: &str, prefix: &str, path: &str) -> Option<String> {
    if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return None;
    }
    normalize_parts(https, authority, prefix, path)
}

/// What a proxy reported of the request it forwarded: the client's protocol
/// and host, and the path prefix it removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Forwarded {
    /// `http` or `https`, as the client used.
    pub(crate) proto: Option<String>,
    /// The `host[:port]` the client sent to.
    pub(crate) host: Option<String>,
    /// A path prefix the proxy stripped (`X-Forwarded-Prefix`), without a
    /// final `/`.
    pub(crate) prefix: Option<String>,
    /// A forwarding header is present but malformed, or names another
    /// protocol, a host that is not `host[:port]`, a prefix not starting
    /// with `/`: the target cannot be known, and [`of_forwarded`] refuses.
    pub(crate) malformed: bool,
}

/// The forwarding headers of a request that came through a trusted proxy
/// (whether the peer is one is the caller's decision), or `None` when it has
/// none.
///
/// A `Forwarded` header (RFC 7239) wins: its `proto` and `host` are read,
/// and then `X-Forwarded-Proto` and `X-Forwarded-Host` are not. Without it,
/// those two are. `X-Forwarded-Prefix` is read in both cases (`Forwarded`
/// has no prefix).
///
/// Of a list of values (several elements, several header lines), the *last*
/// is used: each proxy appends its own, so the last was written by the proxy
/// closest to this server, the trusted one; any before it came from further
/// away, perhaps from the client itself, and could be forged.
pub(crate) fn forwarded(headers: &HeaderMap) -> Option<Forwarded> {
    let mut out = Forwarded::default();
    let mut present = false;
    let mut malformed = false;
    if headers.contains_key(FORWARDED) {
        present = true;
        match last_forwarded_element(headers) {
            Some(element) => {
                out.proto = element.proto.map(Cow::into_owned);
                out.host = element.host.map(Cow::into_owned);
            }
            None => malformed = true,
        }
    } else {
        for (name, slot) in [
            ("x-forwarded-proto", &mut out.proto),
            ("x-forwarded-host", &mut out.host),
        ] {
            if headers.contains_key(name) {
                present = true;
                match last_list_value(headers, name) {
                    Some(value) => *slot = Some(value.to_owned()),
                    None => malformed = true,
                }
            }
        }
    }
    if headers.contains_key("x-forwarded-prefix") {
        present = true;
        match last_list_value(headers, "x-forwarded-prefix") {
            Some(prefix) if prefix.starts_with('/') && !prefix.contains(['?', '#']) => {
                out.prefix = Some(prefix.trim_end_matches('/').to_owned());
            }
            _ => malformed = true,
        }
    }
    if !present {
        return None;
    }
    let proto_ok = out
        .proto
        .as_deref()
        .is_none_or(|p| https_scheme(p).is_some());
    let host_ok = out
        .host
        .as_deref()
        .is_none_or(|h| !h.is_empty() && !h.contains(['/', '?', '#', '@']));
    out.malformed = malformed || !proto_ok || !host_ok;
    Some(out)
}

/// The last non-empty element of a comma-separated header `name`, over all
/// its lines, trimmed; `None` when there is none or a line is not text.
fn last_list_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut last = None;
    for value in headers.get_all(name) {
        let value = value.to_str().ok()?;
        if let Some(item) = value.split(',').map(str::trim).rfind(|v| !v.is_empty()) {
            last = Some(item);
        }
    }
    last
}

/// The parameters of one `Forwarded` element this module reads.
#[derive(Debug, Default, PartialEq, Eq)]
struct Element<'a> {
    proto: Option<Cow<'a, str>>,
    host: Option<Cow<'a, str>>,
}

/// The last non-empty element of all `Forwarded` lines; `None` when a line
/// does not parse (RFC 7239 §4), or there is no element.
fn last_forwarded_element(headers: &HeaderMap) -> Option<Element<'_>> {
    let mut last = None;
    for value in headers.get_all(FORWARDED) {
        if let Some(element) = parse_forwarded(value.to_str().ok()?)? {
            last = Some(element);
        }
    }
    last
}

/// The last non-empty element of one `Forwarded` line: `Some(None)` when it
/// has none, `None` when it does not parse. A parameter given twice in an
/// element is an error (RFC 7239 §4: "MUST NOT occur more than once").
fn parse_forwarded(line: &str) -> Option<Option<Element<'_>>> {
    let mut parser = Parser { rest: line };
    let mut last = None;
    loop {
        // One element: pairs separated by `;`, perhaps none.
        let mut element = Element::default();
        let mut seen = 0u8;
        let mut pairs = 0;
        loop {
            parser.skip_whitespace();
            if parser.rest.is_empty() || parser.rest.starts_with(',') {
                break;
            }
            if !parser.eat(';') {
                let name = parser.token()?;
                if !parser.eat('=') {
                    return None;
                }
                let value = parser.value()?;
                pairs += 1;
                // Parameter names are case-insensitive (RFC 7239 §4).
                let is = |known: &str| name.eq_ignore_ascii_case(known);
                let (bit, slot) = if is("for") {
                    (1, None)
                } else if is("by") {
                    (2, None)
                } else if is("proto") {
                    (4, Some(&mut element.proto))
                } else if is("host") {
                    (8, Some(&mut element.host))
                } else {
                    (0, None)
                };
                if seen & bit != 0 {
                    return None;
                }
                seen |= bit;
                if let Some(slot) = slot {
                    *slot = Some(value);
                }
                parser.skip_whitespace();
                if !(parser.rest.is_empty() || parser.rest.starts_with([';', ','])) {
                    return None;
                }
            }
        }
        if pairs > 0 {
            last = Some(element);
        }
        if !parser.eat(',') {
            return Some(last);
        }
    }
}

/// A cursor over a `Forwarded` line.
struct Parser<'a> {
    rest: &'a str,
}

impl<'a> Parser<'a> {
    fn skip_whitespace(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }

    fn eat(&mut self, c: char) -> bool {
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// An RFC 9110 §5.6.2 token.
    fn token(&mut self) -> Option<&'a str> {
        let end = self
            .rest
            .find(|c: char| !is_tchar(c))
            .unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(token)
    }

    /// A token or a quoted string (RFC 9110 §5.6.4), unescaped.
    fn value(&mut self) -> Option<Cow<'a, str>> {
        let Some(quoted) = self.rest.strip_prefix('"') else {
            return self.token().map(Cow::Borrowed);
        };
        let mut owned: Option<String> = None;
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = quoted.get(i + 1..)?;
                    let text = quoted.get(..i)?;
                    return Some(owned.map_or(Cow::Borrowed(text), Cow::Owned));
                }
                '\\' => {
                    let (_, escaped) = chars.next()?;
                    let text =
                        owned.get_or_insert_with(|| quoted.get(..i).unwrap_or("").to_owned());
                    text.push(escaped);
                }
                c if c == '\t' || c == ' ' || c.is_ascii_graphic() => {
                    if let Some(text) = &mut owned {
                        text.push(c);
                    }
                }
                _ => return None,
            }
        }
        None
    }
}

/// RFC 9110 §5.6.2.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use http::{HeaderValue, Request};
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn uris_are_normalized() {
        for (input, expected) in [
            (
                "https://server.example.com/token",
                "https://server.example.com/token",
            ),
            (
                "HTTPS://Server.EXAMPLE.com:443/Token",
                "https://server.example.com/Token",
            ),
            ("http://example.com:80", "http://example.com/"),
            ("http://example.com:", "http://example.com/"),
            ("http://example.com:0080/", "http://example.com/"),
            ("https://example.com:80/", "https://example.com:80/"),
            ("http://example.com:8080/a", "http://example.com:8080/a"),
            ("https://example.com/a?b=c#d", "https://example.com/a"),
            ("https://example.com?b", "https://example.com/"),
            ("https://example.com#f", "https://example.com/"),
            (
                "https://example.com/%7euser/%2fx%2F",
                "https://example.com/~user/%2Fx%2F",
            ),
            ("https://example.com/%41%42%63", "https://example.com/ABc"),
            ("https://ex%41mple.com/", "https://example.com/"),
            ("https://ex%c3%a9.com/", "https://ex%C3%A9.com/"),
            ("https://example.com/a/./b/../c", "https://example.com/a/c"),
            ("https://example.com/a/b/..", "https://example.com/a/"),
            ("https://example.com/a/.", "https://example.com/a/"),
            ("https://example.com/../../a", "https://example.com/a"),
            ("https://example.com/a/%2E%2e/b", "https://example.com/b"),
            ("https://example.com/a//b/", "https://example.com/a//b/"),
            ("https://example.com/a/..%2F", "https://example.com/a/..%2F"),
            (
                "https://example.com/a|b{c}",
                "https://example.com/a%7Cb%7Bc%7D",
            ),
            (
                "https://example.com/a;b=c,d:e@f",
                "https://example.com/a;b=c,d:e@f",
            ),
            (
                "http://[2001:DB8:0:0:0:0:0:1]:8080/",
                "http://[2001:db8::1]:8080/",
            ),
            ("http://[::1]", "http://[::1]/"),
            ("http://192.0.2.1:443/", "http://192.0.2.1:443/"),
        ] {
            assert_eq!(normalize(input).as_deref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn invalid_uris_are_refused() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URI_LENGTH));
        for input in [
            "",
            "example.com/a",
            "/a",
            "ftp://example.com/",
            "javascript:alert(1)",
            "https:/example.com/",
            "https:example.com",
            "https://",
            "https:///a",
            "https://:443/",
            "https://user@example.com/",
            "https://user:pass@example.com/",
            "https://example.com:65536/",
            "https://example.com:8a/",
            "https://example.com:1:2/",
            "https://exa mple.com/",
            "https://exa_mple.com:443:/",
            "https://example.com/a b",
            "https://example.com/a\tb",
            "https://example.com/é",
            "https://example.com/%zz",
            "https://example.com/%4",
            "https://example.com/a?%",
            "https://example.com/a#\u{7f}",
            "https://[v1.x]/",
            "https://[fe80::1%25eth0]/",
            "https://[::1/",
            "https://[::1]x/",
            "https://exa<mple.com/",
            long.as_str(),
        ] {
            assert_eq!(normalize(input), None, "{input:?}");
        }
    }

    fn head<'a>(request: &'a Request<()>) -> Head<'a> {
        Head::from(request)
    }

    #[test]
    fn the_target_of_a_request() {
        let request = Request::get("/a/../b?q=1")
            .header("host", "API.example.com:80")
            .body(())
            .unwrap();
        assert_eq!(
            of_request(&head(&request), None).as_deref(),
            Some("http://api.example.com/b")
        );

        let absolute = Request::get("https://api.example.com:443/x")
            .header("host", "other.example")
            .body(())
            .unwrap();
        assert_eq!(
            of_request(&head(&absolute), None).as_deref(),
            Some("https://api.example.com/x")
        );

        let base = Base::parse("https://Public.example/api/").unwrap();
        assert_eq!(
            of_request(&head(&request), Some(&base)).as_deref(),
            Some("https://public.example/api/b")
        );
        let root = Base::parse("https://public.example").unwrap();
        assert_eq!(
            of_request(&head(&absolute), Some(&root)).as_deref(),
            Some("https://public.example/x")
        );
    }

    #[test]
    fn requests_without_a_usable_authority_have_no_target() {
        let none = Request::get("/a").body(()).unwrap();
        assert_eq!(of_request(&head(&none), None), None);
        for host in ["a.example/evil", "user@a.example", "a.example?x", ""] {
            let request = Request::get("/a").header("host", host).body(()).unwrap();
            assert_eq!(of_request(&head(&request), None), None, "{host}");
        }
        let twice = Request::get("/a")
            .header("host", "a.example")
            .header("host", "b.example")
            .body(())
            .unwrap();
        assert_eq!(of_request(&head(&twice), None), None);
        let star = Request::options("*")
            .header("host", "a.example")
            .body(())
            .unwrap();
        assert_eq!(of_request(&head(&star), None), None);
    }

    #[test]
    fn public_base_urls_are_checked_once() {
        assert_eq!(
            Base::parse("HTTPS://Example.com:443/a/./b/").unwrap(),
            Base {
                https: true,
                authority: "example.com".into(),
                prefix: "/a/b".into()
            }
        );
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://example.com/?q",
            "https://example.com/#f",
            "https://u@example.com",
            "https://example.com/a b",
        ] {
            let error = Base::parse(bad).unwrap_err();
            assert!(
                matches!(&error, ConfigError::InvalidPublicUrl { url } if url == bad),
                "{error:?}"
            );
            assert!(error.to_string().contains(bad));
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn forwarded_uses_the_last_element() {
        let f = forwarded(&headers(&[
            ("forwarded", r#"for=1.2.3.4;host=evil.example;proto=http"#),
            (
                "forwarded",
                r#"for="[2001:db8::1]:80";host=bad.example, For=5.6.7.8 ; Host="api.example.com:8443";PROTO=https"#,
            ),
        ]))
        .unwrap();
        assert_eq!(
            f,
            Forwarded {
                proto: Some("https".into()),
                host: Some("api.example.com:8443".into()),
                prefix: None,
                malformed: false
            }
        );
        // The X- headers are not read beside `Forwarded`.
        let f = forwarded(&headers(&[
            ("forwarded", "for=1.2.3.4"),
            ("x-forwarded-host", "evil.example"),
        ]))
        .unwrap();
        assert_eq!((f.host, f.proto, f.malformed), (None, None, false));
        // Empty list elements do not count (RFC 9110 §5.6.1).
        let f = forwarded(&headers(&[("forwarded", "host=a.example, ,")])).unwrap();
        assert_eq!(f.host.as_deref(), Some("a.example"));
        let f = forwarded(&headers(&[("forwarded", r#"host="a\"b""#)])).unwrap();
        assert_eq!(f.host.as_deref(), Some("a\"b"));
    }

    #[test]
    fn malformed_forwarded_headers_are_marked() {
        for line in [
            r#"for="1.2.3.4, host=a.example"#,
            "host=a.example;host=b.example",
            "host",
            "host=",
            "=a",
            "host=a b",
            "host=a.example;;proto=ftp",
            "proto=ftp",
            r#"host="a.example/evil""#,
            r#"host="u@a.example""#,
        ] {
            let f = forwarded(&headers(&[("forwarded", line)])).unwrap();
            assert!(f.malformed, "{line}");
        }
        // A lone `;` between pairs is allowed by the grammar.
        let f = forwarded(&headers(&[("forwarded", "for=a;;host=b")])).unwrap();
        assert!(!f.malformed);
    }

    #[test]
    fn x_forwarded_headers() {
        assert_eq!(forwarded(&HeaderMap::new()), None);
        let f = forwarded(&headers(&[
            ("x-forwarded-proto", "http, https"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-host", "api.example.com"),
            ("x-forwarded-prefix", "/api/"),
        ]))
        .unwrap();
        assert_eq!(
            f,
            Forwarded {
                proto: Some("https".into()),
                host: Some("api.example.com".into()),
                prefix: Some("/api".into()),
                malformed: false
            }
        );
        for pairs in [
            &[("x-forwarded-proto", "gopher")][..],
            &[("x-forwarded-host", "a.example/x")],
            &[("x-forwarded-host", " , ")],
            &[("x-forwarded-prefix", "api")],
            &[("x-forwarded-prefix", "/api?x")],
        ] {
            assert!(forwarded(&headers(pairs)).unwrap().malformed, "{pairs:?}");
        }
    }

    #[test]
    fn the_target_of_a_forwarded_request() {
        let request = Request::get("/orders?x")
            .header("host", "backend:8080")
            .body(())
            .unwrap();
        let f = forwarded(&headers(&[
            ("forwarded", r#"proto=https;host="API.example.com:443""#),
            ("x-forwarded-prefix", "/v1"),
        ]))
        .unwrap();
        assert_eq!(
            of_forwarded(&head(&request), &f).as_deref(),
            Some("https://api.example.com/v1/orders")
        );
        // What the proxy did not say comes from the request.
        let f = forwarded(&headers(&[("x-forwarded-proto", "https")])).unwrap();
        assert_eq!(
            of_forwarded(&head(&request), &f).as_deref(),
            Some("https://backend:8080/orders")
        );
        let malformed = Forwarded {
            malformed: true,
            ..Forwarded::default()
        };
        assert_eq!(of_forwarded(&head(&request), &malformed), None);
    }

    /// A URI from parts that need no normalization, and spellings of it
    /// that normalize to the same.
    fn uri_and_variant() -> impl Strategy<Value = (String, String)> {
        let label = "[a-z0-9]{1,8}";
        let segment = "[a-zA-Z0-9._~!$&'()*+,;=:@-]{0,6}";
        (
            any::<bool>(),
            prop::collection::vec(label, 1..4),
            prop::option::of(1u16..),
            prop::collection::vec(segment, 0..5),
            any::<[bool; 6]>(),
        )
            .prop_map(|(https, labels, port, segments, variant)| {
                let scheme = if https { "https" } else { "http" };
                let host = labels.join(".");
                let port = port.map_or(String::new(), |p| format!(":{p}"));
                let path: String = segments.iter().map(|s| format!("/{s}")).collect();
                let plain = format!("{scheme}://{host}{port}{path}");

                let [upper, default_port, encode, dots, query, zeros] = variant;
                let scheme = if upper {
                    scheme.to_uppercase()
                } else {
                    scheme.into()
                };
                let host = if upper { host.to_uppercase() } else { host };
                let port = match (port.as_str(), default_port) {
                    ("", true) => if https { ":443" } else { ":80" }.to_owned(),
                    (p, true) if zeros && !p.is_empty() => format!(":00{}", &p[1..]),
                    (p, _) => p.to_owned(),
                };
                let mut variant_path = String::new();
                for s in &segments {
                    variant_path.push('/');
                    if dots {
                        variant_path.push_str("./x/%2e%2E/");
                    }
                    for b in s.bytes() {
                        if encode && b.is_ascii_alphanumeric() {
                            variant_path.push_str(&format!("%{b:02x}"));
                        } else {
                            variant_path.push(char::from(b));
                        }
                    }
                }
                let tail = if query { "?a=b#c" } else { "" };
                let variant = format!("{scheme}://{host}{port}{variant_path}{tail}");
                (plain, variant)
            })
    }

    proptest! {
        #[test]
        fn normalizing_is_idempotent(uri in "[hH][tT][tT][pP][sS]?://[a-zA-Z0-9.%:\\[\\]-]{1,12}(/[a-zA-Z0-9.%~|:@!$&'()*+,;=-]{0,8}){0,5}([?#][ -~]{0,8})?") {
            if let Some(once) = normalize(&uri) {
                prop_assert_eq!(normalize(&once), Some(once));
            }
        }

        #[test]
        fn equivalent_spellings_compare_equal((plain, variant) in uri_and_variant()) {
            let normal = normalize(&plain);
            prop_assert!(normal.is_some(), "{}", plain);
            prop_assert_eq!(normalize(&variant), normal, "{} vs {}", plain, variant);
        }
    }
}
