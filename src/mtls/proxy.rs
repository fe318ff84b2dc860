//! [`ProxyHeader`]: a client certificate forwarded in a header by the
//! TLS-terminating proxy, and the readers of its two formats, Envoy's
//! `X-Forwarded-Client-Cert` and a URL-encoded PEM (nginx's
//! `$ssl_client_escaped_cert`).
//!
//! Everything here reads a header that only a trusted proxy's word makes
//! true; the caller has already checked the peer. A header that is too long,
//! malformed, or names no certificate reads as no certificate at all: the
//! binding then refuses a bound token, never accepts one.

use std::borrow::Cow;

use http::HeaderMap;
use http::header::HeaderName;
use percent_encoding::percent_decode;

use crate::crypto;

/// The longest forwarded-certificate header read, all its lines together:
/// 16 KiB, room for a certificate of several kilobytes URL-encoded. A
/// longer one is not read, and reads as no certificate.
pub(crate) const MAX_HEADER_LENGTH: usize = 16 * 1024;

/// Envoy's header: `x-forwarded-client-cert`.
const XFCC: HeaderName = HeaderName::from_static("x-forwarded-client-cert");

/// Where and how a TLS-terminating proxy forwards the client certificate it
/// verified; see [`CertificateBinding::from_proxy_header`](crate::CertificateBinding::from_proxy_header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHeader {
    name: HeaderName,
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Xfcc,
    EscapedPem,
}

impl ProxyHeader {
    /// Envoy's `X-Forwarded-Client-Cert` (XFCC), read as
    /// [`CertificateBinding`](crate::CertificateBinding#envoy-x-forwarded-client-cert)
    /// says: the certificate of the *last* element, by its `Hash` or its
    /// `Cert`.
    pub fn xfcc() -> Self {
        Self::xfcc_named(XFCC)
    }

    /// The XFCC format under another header name.
    pub fn xfcc_named(name: HeaderName) -> Self {
        Self {
            name,
            format: Format::Xfcc,
        }
    }

    /// A URL-encoded PEM certificate in header `name`, as nginx forwards it
    /// with `proxy_set_header <name> $ssl_client_escaped_cert;` (an empty
    /// value: no certificate).
    pub fn escaped_pem(name: HeaderName) -> Self {
        Self {
            name,
            format: Format::EscapedPem,
        }
    }

    /// The header's name.
    pub fn name(&self) -> &HeaderName {
        &self.name
    }

    /// The SHA-256 of the DER certificate the header forwards, if it
    /// forwards one that can be read.
    pub(crate) fn digest(&self, headers: &HeaderMap) -> Option<[u8; 32]> {
        let mut length = 0;
        let mut lines = 0;
        let mut last = None;
        for value in headers.get_all(&self.name) {
            length += value.len();
            if length > MAX_HEADER_LENGTH {
                return None;
            }
            lines += 1;
            last = Some(value.as_bytes());
        }
        match self.format {
            // Lines of a list header are one list: the last element is on
            // the last line.
            Format::Xfcc => xfcc_digest(last?),
            // One certificate, one line.
            Format::EscapedPem if lines == 1 => escaped_pem_digest(last?),
            Format::EscapedPem => None,
        }
    }
}

/// The certificate of the last element of an XFCC value: its `Hash` (hex
/// SHA-256 of the DER), its `Cert` (URL-encoded PEM), or both when they
/// agree.
fn xfcc_digest(value: &[u8]) -> Option<[u8; 32]> {
    let elements = split_unquoted(value, b',')?;
    let last = trim_ows(elements.last()?);
    let (mut hash, mut cert) = (None, None);
    for pair in split_unquoted(last, b';')? {
        let pair = trim_ows(pair);
        let equals = pair.iter().position(|&b| b == b'=')?;
        let (key, value) = (trim_ows(&pair[..equals]), trim_ows(&pair[equals + 1..]));
        if key.is_empty() || key.contains(&b'"') {
            return None;
        }
        // Keys are case-insensitive; `Hash` and `Cert` may appear once each
        // (`DNS` may repeat, but is not read). Every value must be well
        // quoted, read or not.
        let value = unquote(value)?;
        let is_hash = key.eq_ignore_ascii_case(b"hash");
        if !is_hash && !key.eq_ignore_ascii_case(b"cert") {
            continue;
        }
        let slot = if is_hash { &mut hash } else { &mut cert };
        if slot.is_some() {
            return None;
        }
        *slot = Some(if is_hash {
            hex_digest(&value)?
        } else {
            escaped_pem_digest(&value)?
        });
    }
    match (hash, cert) {
        (Some(hash), Some(cert)) => (hash == cert).then_some(hash),
        (hash, cert) => hash.or(cert),
    }
}

/// The SHA-256 of the certificate in a URL-encoded PEM value.
fn escaped_pem_digest(value: &[u8]) -> Option<[u8; 32]> {
    let pem: Cow<'_, [u8]> = percent_decode(value).into();
    pem_digest(&pem)
}

/// The SHA-256 of the DER of the one `CERTIFICATE` block of `pem`; the
/// text must be that block, nothing before it and only whitespace after.
fn pem_digest(pem: &[u8]) -> Option<[u8; 32]> {
    let text = pem.trim_ascii();
    if !text.starts_with(b"-----BEGIN CERTIFICATE-----")
        || !text.ends_with(b"-----END CERTIFICATE-----")
    {
        return None;
    }
    let mut blocks = pem::parse_many(pem).ok()?;
    let block = blocks.pop()?;
    if !blocks.is_empty() || block.tag() != "CERTIFICATE" || block.contents().is_empty() {
        return None;
    }
    crypto::sha256(block.contents())
}

/// 32 bytes from 64 hexadecimal digits, in either case.
fn hex_digest(hex: &[u8]) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        let digit = |b: u8| char::from(b).to_digit(16);
        *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(digest)
}

/// The parts of `input` between the `separator`s outside double quotes
/// (inside them, a backslash escapes the next byte); `None` when a quote is
/// left open.
fn split_unquoted(input: &[u8], separator: u8) -> Option<Vec<&[u8]>> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, &b) in input.iter().enumerate() {
        if quoted {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                quoted = false;
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == separator {
            parts.push(&input[start..i]);
            start = i + 1;
        }
    }
    if quoted {
        return None;
    }
    parts.push(&input[start..]);
    Some(parts)
}

/// A value as it is, or the content of a quoted one with its escapes
/// undone (`\"` is `"`); `None` for a quote anywhere else.
fn unquote(value: &[u8]) -> Option<Cow<'_, [u8]>> {
    let Some(inner) = value.strip_prefix(b"\"") else {
        return (!value.contains(&b'"')).then_some(Cow::Borrowed(value));
    };
    let inner = inner.strip_suffix(b"\"")?;
    if !inner.contains(&b'\\') {
        return (!inner.contains(&b'"')).then_some(Cow::Borrowed(inner));
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => out.push(*bytes.next()?),
            b'"' => return None,
            _ => out.push(b),
        }
    }
    Some(Cow::Owned(out))
}

/// `bytes` without the spaces and tabs around it (HTTP's optional
/// whitespace; a header value holds no other ASCII whitespace).
fn trim_ows(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

#[cfg(all(test, any(feature = "aws-lc-rs", feature = "rust-crypto")))]
mod tests {
    use http::HeaderValue;
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

    use super::*;

    const CLIENT: &str = include_str!("../../tests/fixtures/mtls/client.pem");
    const OTHER: &str = include_str!("../../tests/fixtures/mtls/other.pem");

    /// The SHA-256 of the DER of a PEM certificate.
    fn digest_of(pem: &str) -> [u8; 32] {
        crypto::sha256(pem::parse(pem).unwrap().contents()).unwrap()
    }

    fn hex(digest: [u8; 32]) -> String {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// URL-encoded, as Envoy and nginx forward a PEM.
    fn escaped(pem: &str) -> String {
        utf8_percent_encode(pem, NON_ALPHANUMERIC).to_string()
    }

    /// What `header` reads from these lines of its header.
    fn read(header: &ProxyHeader, lines: &[&str]) -> Option<[u8; 32]> {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(header.name().clone(), HeaderValue::from_str(line).unwrap());
        }
        header.digest(&headers)
    }

    fn xfcc(lines: &[&str]) -> Option<[u8; 32]> {
        read(&ProxyHeader::xfcc(), lines)
    }

    #[test]
    fn xfcc_hash_only_and_cert_only() {
        let (client, hash) = (digest_of(CLIENT), hex(digest_of(CLIENT)));
        assert_eq!(xfcc(&[&format!("Hash={hash}")]), Some(client));
        // Keys are case-insensitive, and so are hex digits.
        let upper = hash.to_ascii_uppercase();
        assert_eq!(xfcc(&[&format!("hASH={upper}")]), Some(client));
        // Envoy's usual element: By, Hash, a quoted Subject, URI and DNS.
        let envoy = format!(
            "By=spiffe://cluster.local/ns/default/sa/api;Hash={hash};\
             Subject=\"/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client\";\
             URI=spiffe://client;DNS=a.example;DNS=b.example"
        );
        assert_eq!(xfcc(&[&envoy]), Some(client));
        // A Cert, quoted or not, is parsed and digested here.
        let cert = escaped(CLIENT);
        assert_eq!(xfcc(&[&format!("Cert=\"{cert}\"")]), Some(client));
        assert_eq!(xfcc(&[&format!("By=x;CERT={cert};URI=y")]), Some(client));
    }

    #[test]
    fn xfcc_hash_and_cert_must_agree() {
        let (client, hash, cert) = (digest_of(CLIENT), hex(digest_of(CLIENT)), escaped(CLIENT));
        assert_eq!(
            xfcc(&[&format!("Hash={hash};Cert=\"{cert}\"")]),
            Some(client)
        );
        let other = hex(digest_of(OTHER));
        assert_eq!(xfcc(&[&format!("Hash={other};Cert=\"{cert}\"")]), None);
    }

    #[test]
    fn xfcc_the_last_element_is_the_one_read() {
        let (client, hash) = (digest_of(CLIENT), hex(digest_of(CLIENT)));
        let other = hex(digest_of(OTHER));
        // Two proxies appended an element each; the last is the nearest's.
        let two = format!("By=http://frontend;Hash={other};URI=x,By=http://backend;Hash={hash}");
        assert_eq!(xfcc(&[&two]), Some(client));
        // Spaces around elements, as a list header may have them.
        assert_eq!(
            xfcc(&[&format!("Hash={other} ,  Hash={hash} ")]),
            Some(client)
        );
        // Quoted values may hold the separators; they split nothing.
        let quoted =
            format!("Hash={other};Subject=\"CN=a,b;c=d\",Subject=\"O=x, CN=y\";Hash={hash}");
        assert_eq!(xfcc(&[&quoted]), Some(client));
        // Several header lines are one list.
        assert_eq!(
            xfcc(&[&format!("Hash={other}"), &format!("Hash={hash}")]),
            Some(client)
        );
        // An earlier element with a certificate does not stand in for a
        // last one without.
        assert_eq!(xfcc(&[&format!("Hash={hash},By=spiffe://x;URI=y")]), None);
        assert_eq!(xfcc(&[&format!("Hash={hash},")]), None);
    }

    #[test]
    fn xfcc_escaped_quotes_stay_inside_their_value() {
        let (client, hash) = (digest_of(CLIENT), hex(digest_of(CLIENT)));
        let escaped_quotes = format!(r#"Subject="CN=\"ada\", O=\"x;y\"";Hash={hash}"#);
        assert_eq!(xfcc(&[&escaped_quotes]), Some(client));
        // A value that is a quoted string is read without its quotes.
        assert_eq!(xfcc(&[&format!("Hash=\"{hash}\"")]), Some(client));
        // An escape in the read value itself is undone.
        let escaped_digit = format!("Hash=\"\\{hash}\"");
        assert_eq!(xfcc(&[&escaped_digit]), Some(client));
        assert_eq!(unquote(br#""a\"b\\c""#).as_deref(), Some(&br#"a"b\c"#[..]));
    }

    #[test]
    fn xfcc_garbage_reads_as_no_certificate() {
        let hash = hex(digest_of(CLIENT));
        for garbage in [
            String::new(),
            "garbage".into(),
            "Hash".into(),
            "Hash=".into(),
            "=abc".into(),
            format!("Hash={}", &hash[..63]),
            format!("Hash={hash}0"),
            format!("Hash={}zz", &hash[..62]),
            format!("Hash={hash};Hash={hash}"),
            format!("Hash={hash};Subject=\"unclosed"),
            format!("Hash={hash};Subject=\"CN=a\\\""),
            format!("Hash={hash};Subject=a\"b"),
            format!("Hash={hash};Subject=\"a\"b"),
            format!("Hash={hash};\"Key\"=a"),
            format!("Hash={hash};;"),
            "Cert=\"not%20a%20certificate\"".into(),
            format!(
                "Cert=\"{}\"",
                escaped(&CLIENT.replace("CERTIFICATE", "PRIVATE KEY"))
            ),
            format!("Cert=\"{}\"", escaped(&format!("{CLIENT}{OTHER}"))),
            format!("Cert=\"{}\"", escaped(&format!("junk{CLIENT}"))),
            format!("Cert=\"{}\"", escaped(&format!("{CLIENT}junk"))),
            format!("Cert=\"{}\"", escaped(&CLIENT.replace("MII", "M!I"))),
        ] {
            assert_eq!(xfcc(&[&garbage]), None, "{garbage:?}");
        }
        assert_eq!(xfcc(&[]), None);
    }

    #[test]
    fn oversized_headers_are_not_read() {
        let (client, hash) = (digest_of(CLIENT), hex(digest_of(CLIENT)));
        let fits = format!(
            "Subject=\"{}\";Hash={hash}",
            "a".repeat(MAX_HEADER_LENGTH - 100)
        );
        assert_eq!(xfcc(&[&fits]), Some(client));
        let long = format!("Subject=\"{}\";Hash={hash}", "a".repeat(MAX_HEADER_LENGTH));
        assert_eq!(xfcc(&[&long]), None);
        // The limit is on all the lines together.
        let half = format!("Subject=\"{}\"", "a".repeat(MAX_HEADER_LENGTH / 2));
        assert_eq!(xfcc(&[&half, &half, &format!("Hash={hash}")]), None);
        let nginx = ProxyHeader::escaped_pem(HeaderName::from_static("x-ssl-client-cert"));
        let padded = format!("{}{}", escaped(CLIENT), "%20".repeat(MAX_HEADER_LENGTH / 3));
        assert_eq!(read(&nginx, &[&padded]), None);
    }

    #[test]
    fn nginx_escaped_pem() {
        let nginx = ProxyHeader::escaped_pem(HeaderName::from_static("x-ssl-client-cert"));
        assert_eq!(nginx.name(), "x-ssl-client-cert");
        let client = digest_of(CLIENT);
        assert_eq!(read(&nginx, &[&escaped(CLIENT)]), Some(client));
        // nginx escapes less than everything: newlines and spaces at least.
        let light = CLIENT.replace('\n', "%0A").replace(' ', "%20");
        assert_eq!(read(&nginx, &[&light]), Some(client));
        for garbage in [
            "",
            "-",
            "not%20a%20certificate",
            &escaped(&CLIENT.replace("CERTIFICATE", "PUBLIC KEY")),
            &escaped(&format!("{CLIENT}{OTHER}")),
        ] {
            assert_eq!(read(&nginx, &[garbage]), None, "{garbage:?}");
        }
        // One certificate, one line.
        assert_eq!(read(&nginx, &[&escaped(CLIENT), &escaped(CLIENT)]), None);
        assert_eq!(read(&nginx, &[]), None);
    }

    #[test]
    fn split_unquoted_keeps_quoted_separators() {
        let parts = split_unquoted(br#"a,"b,c",d\,e"#, b',').unwrap();
        assert_eq!(parts, [&b"a"[..], br#""b,c""#, br"d\", b"e"]);
        assert_eq!(split_unquoted(br#"a,"b\",c"#, b','), None);
        assert_eq!(split_unquoted(b"", b',').unwrap(), [&b""[..]]);
    }
}
