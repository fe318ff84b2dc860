//! Where tokens come from: [`TokenSource`].
//!
//! Every configured source is read, in order. The first token found is the one
//! verified; a second, *different* token anywhere (another source, a second
//! `Authorization` header, a repeated cookie or query parameter) refuses the
//! request with `400 invalid_request` (RFC 6750 §2: a client must use one method
//! only). The same token twice is accepted.
//!
//! A layer with a WebSocket subprotocol source also takes the token entries
//! out of the request's `Sec-WebSocket-Protocol` list ([`Sources::remove_tokens`]).

mod cookie;
pub(crate) mod form;
mod header;
mod query;
mod websocket;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderName};
use http::request::Request;

use crate::checks::Carrier;
use crate::error::{AuthError, AuthErrorKind, ConfigError};

/// One place a token may be found.
///
/// ```
/// use tower_jwt_auth::TokenSource;
/// use http::HeaderName;
///
/// let sources = [
///     TokenSource::bearer(),                                      // Authorization: Bearer <jwt>
///     TokenSource::header(HeaderName::from_static("x-api-token")), // X-Api-Token: <jwt>
///     TokenSource::header_with_scheme(HeaderName::from_static("x-auth"), "JWT"), // X-Auth: JWT <jwt>
///     TokenSource::cookie("session"),
///     TokenSource::query("access_token"),
///     TokenSource::websocket_protocol(), // Sec-WebSocket-Protocol: base64url.bearer.authorization.k8s.io.<base64url(jwt)>
/// ];
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSource(Kind);

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    Header {
        name: HeaderName,
        scheme: Option<String>,
    },
    Cookie(String),
    Query(String),
    /// An entry of `Sec-WebSocket-Protocol`: this prefix, then the token in
    /// base64url.
    WebSocketProtocol(String),
    /// A field of a form body; only [`crate::JwtAuthBuilder::form_field`] adds one.
    Form(String),
}

impl TokenSource {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1), the default source. The
    /// scheme is matched case-insensitively (RFC 7235 §2.1).
    pub fn bearer() -> Self {
        Self::header_with_scheme(AUTHORIZATION, "Bearer")
    }

    /// The whole value of a header is the token.
    pub fn header(name: HeaderName) -> Self {
        Self(Kind::Header { name, scheme: None })
    }

    /// A header whose value is `<scheme> <token>`, like `Authorization: Bearer`.
    /// The scheme is matched case-insensitively and followed by one or more
    /// spaces; a value with another scheme is not a token of this source.
    pub fn header_with_scheme(name: HeaderName, scheme: impl Into<String>) -> Self {
        Self(Kind::Header {
            name,
            scheme: Some(scheme.into()),
        })
    }

    /// The value of the cookie with this name.
    pub fn cookie(name: impl Into<String>) -> Self {
        Self(Kind::Cookie(name.into()))
    }

    /// The (percent-decoded) value of the query parameter with this name, such
    /// as `access_token` (RFC 6750 §2.3). Tokens in URLs end up in logs and
    /// `Referer` headers: prefer a header where the client can send one.
    pub fn query(name: impl Into<String>) -> Self {
        Self(Kind::Query(name.into()))
    }

    /// An entry of the `Sec-WebSocket-Protocol` list that is
    /// `base64url.bearer.authorization.k8s.io.` followed by the token in
    /// base64url without padding: the convention of the Kubernetes API server,
    /// for clients that can set no other header (the browser WebSocket API:
    /// `new WebSocket(url, ["chat", "base64url.bearer.authorization.k8s.io." + b64url(token)])`).
    /// See [`websocket_protocol_with_prefix`](Self::websocket_protocol_with_prefix)
    /// for the rules.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use bytes::Bytes;
    /// # use http::{Request, Response, StatusCode};
    /// # use http_body_util::Full;
    /// # use tower::{Layer, ServiceExt, service_fn};
    /// use base64::Engine as _;
    /// use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    /// use serde_json::json;
    /// use tower_jwt_auth::{JwtAuthLayer, Key, TokenIssuer, TokenSource};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = b"a secret of at least 32 bytes....";
    /// let layer = JwtAuthLayer::<serde_json::Value>::builder()
    ///     .key(Key::hmac(secret))
    ///     .source(TokenSource::websocket_protocol())
    ///     .source(TokenSource::query("access_token")) // for clients without subprotocols
    ///     .build()?;
    /// // The inner service sees `chat` only.
    /// let inner = service_fn(|request: Request<Full<Bytes>>| async move {
    ///     assert_eq!(request.headers()["sec-websocket-protocol"], "chat");
    ///     Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    /// });
    /// let token = TokenIssuer::hmac(secret).build()?.issue(&json!({}))?;
    /// let protocols = format!(
    ///     "chat, base64url.bearer.authorization.k8s.io.{}",
    ///     URL_SAFE_NO_PAD.encode(&token)
    /// );
    /// let request = Request::get("/ws")
    ///     .header("sec-websocket-protocol", protocols)
    ///     .body(Full::default())?;
    /// let response = layer.layer(inner).oneshot(request).await?;
    /// assert_eq!(response.status(), StatusCode::OK);
    /// # Ok(())
    /// # }
    /// ```
    pub fn websocket_protocol() -> Self {
        Self::websocket_protocol_with_prefix(websocket::DEFAULT_PREFIX)
    }

    /// An entry of the `Sec-WebSocket-Protocol` list that is `prefix`
    /// followed by the token in base64url without padding (RFC 4648 §5), as
    /// [`websocket_protocol`](Self::websocket_protocol) with another prefix.
    ///
    /// - Every `Sec-WebSocket-Protocol` header is read, each a list split at
    ///   commas with optional whitespace, empty entries ignored (RFC 6455
    ///   §4.1, RFC 9110 §5.6.1). An entry is the token's when it starts with
    ///   `prefix` (case-sensitively, as subprotocols are compared).
    /// - The token is base64url-encoded because a subprotocol must be an
    ///   RFC 9110 `token`, which an opaque token (or a JWT with padding) need
    ///   not be; Kubernetes encodes it the same way. The prefix alone,
    ///   anything but base64url without padding, or a decoded token that is
    ///   not visible ASCII without commas is `400 invalid_request`; two
    ///   different token entries (or a token entry and another source's
    ///   different token) are `400` too, as for every source.
    /// - **The layer removes the token entries from the list the inner
    ///   service sees**, keeping the others (`chat`) in order in one header,
    ///   or no header when none is left: a handler that picks its protocol
    ///   from the request (axum's `WebSocketUpgrade::protocols`) can then
    ///   never echo the token in the `101` response. That is a deliberate
    ///   change to the request, made only by layers with this source. A
    ///   browser fails the handshake when it offered subprotocols and the
    ///   server chose none: such a client offers a real protocol beside the
    ///   token entry, and the handler selects it.
    /// - It is a bearer token like any other (no RFC 6750 method names it, so
    ///   [resource metadata](crate::ResourceMetadata) does not list it), and
    ///   the connection outlives nothing the layer checks: see
    ///   [`JwtAuthBuilder::token_expiry`](crate::JwtAuthBuilder::token_expiry)
    ///   to close the socket when the token expires.
    ///
    /// `prefix` must be a non-empty RFC 9110 `token` (letters, digits and
    /// ``!#$%&'*+-.^_`|~``), which [`build`](crate::JwtAuthBuilder::build)
    /// checks ([`ConfigError::InvalidSourceName`]).
    pub fn websocket_protocol_with_prefix(prefix: impl Into<String>) -> Self {
        Self(Kind::WebSocketProtocol(prefix.into()))
    }

    /// A field of a form body: [`crate::JwtAuthBuilder::form_field`].
    pub(crate) fn form_field(name: String) -> Self {
        Self(Kind::Form(name))
    }

    /// `Authorization: DPoP <token>` (RFC 9449 §7.1): added by
    /// [`JwtAuthBuilder::dpop`](crate::JwtAuthBuilder::dpop), never alone.
    pub(crate) fn dpop() -> Self {
        Self::header_with_scheme(AUTHORIZATION, "DPoP")
    }

    /// Whether the token is taken from a cookie (and so needs the CSRF policy).
    pub(crate) fn is_cookie(&self) -> bool {
        matches!(self.0, Kind::Cookie(_))
    }

    /// The RFC 6750 §2 method of this source, as RFC 9728's
    /// `bearer_methods_supported` names it: `header` for `Authorization:
    /// Bearer`, `body` and `query` for the parameter `access_token` that
    /// RFC 6750 names; `None` for any other (a client could not find it).
    fn bearer_method(&self) -> Option<&'static str> {
        const ACCESS_TOKEN: &str = "access_token";
        match &self.0 {
            Kind::Header {
                name,
                scheme: Some(scheme),
            } if name == AUTHORIZATION && scheme.eq_ignore_ascii_case("Bearer") => Some("header"),
            Kind::Form(field) if field == ACCESS_TOKEN => Some("body"),
            Kind::Query(name) if name == ACCESS_TOKEN => Some("query"),
            _ => None,
        }
    }

    /// How this source carries its token, as the checks after verification
    /// need to know it.
    pub(crate) fn carrier(&self) -> Carrier {
        match &self.0 {
            Kind::Cookie(_) => Carrier::Cookie,
            Kind::Header {
                name,
                scheme: Some(scheme),
            } if name == AUTHORIZATION && scheme.eq_ignore_ascii_case("DPoP") => Carrier::Dpop,
            _ => Carrier::Bearer,
        }
    }

    /// Checks the names once, when the layer is built.
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |s: &str| ConfigError::InvalidSourceName(s.to_owned());
        match &self.0 {
            Kind::Header {
                scheme: Some(s), ..
            } if s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()) => Err(bad(s)),
            Kind::Cookie(n) if !cookie::is_valid_name(n) => Err(bad(n)),
            Kind::Query(n) | Kind::Form(n) if n.is_empty() => Err(bad(n)),
            Kind::WebSocketProtocol(p) if !websocket::is_valid_prefix(p) => Err(bad(p)),
            _ => Ok(()),
        }
    }

    /// Feeds every token of this source in `request` to `found`.
    fn each<'r, B>(
        &self,
        request: &'r Request<B>,
        found: &mut impl FnMut(Cow<'r, str>) -> Result<(), AuthError>,
    ) -> Result<(), AuthError> {
        match &self.0 {
            Kind::Header { name, scheme } => {
                header::each(request.headers(), name, scheme.as_deref(), found)
            }
            Kind::Cookie(name) => cookie::each(request.headers(), name, found),
            Kind::Query(name) => query::each(request.uri(), name, found),
            Kind::WebSocketProtocol(prefix) => websocket::each(request.headers(), prefix, found),
            // Read from the body by the form path, never here.
            Kind::Form(_) => Ok(()),
        }
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Header { name, scheme: None } => write!(f, "Header({name})"),
            Kind::Header {
                name,
                scheme: Some(s),
            } => write!(f, "Header({name}: {s} <token>)"),
            Kind::Cookie(n) => write!(f, "Cookie({n})"),
            Kind::Query(n) => write!(f, "Query({n})"),
            Kind::WebSocketProtocol(p) => write!(f, "WebSocketProtocol({p}<token>)"),
            Kind::Form(n) => write!(f, "Form({n})"),
        }
    }
}

/// The configured sources of a layer, in order, checked.
#[derive(Debug)]
pub(crate) struct Sources {
    list: Vec<TokenSource>,
    form: Option<FormSource>,
    /// The prefixes of the WebSocket subprotocol sources; empty in most
    /// layers, which then never look at `Sec-WebSocket-Protocol`.
    websocket: Vec<Box<str>>,
}

/// Where the form source sits among the sources, and how it reads.
#[derive(Debug)]
pub(crate) struct FormSource {
    pub(crate) position: usize,
    pub(crate) field: Arc<str>,
    /// The largest body read.
    pub(crate) limit: usize,
    /// How long the body may take to arrive whole; `None`: for ever.
    pub(crate) timeout: Option<Duration>,
}

impl Sources {
    /// The sources given, or the default (`Authorization: Bearer`) when none
    /// is; a form source reads bodies up to `form_limit` bytes, within
    /// `form_timeout`.
    ///
    /// # Errors
    ///
    /// An empty or invalid name ([`ConfigError::InvalidSourceName`]); a form
    /// timeout of 0, which no body could meet
    /// ([`ConfigError::Empty`] `{ setting: "form_read_timeout" }`).
    pub(crate) fn new(
        mut list: Vec<TokenSource>,
        form_limit: usize,
        form_timeout: Option<Duration>,
    ) -> Result<Self, ConfigError> {
        if list.is_empty() {
            list.push(TokenSource::bearer());
        }
        for source in &list {
            source.validate()?;
        }
        if form_timeout == Some(Duration::ZERO) {
            return Err(ConfigError::Empty {
                setting: "form_read_timeout",
            });
        }
        let form = list
            .iter()
            .enumerate()
            .find_map(|(position, source)| match &source.0 {
                Kind::Form(field) => Some(FormSource {
                    position,
                    field: field.as_str().into(),
                    limit: form_limit,
                    timeout: form_timeout,
                }),
                _ => None,
            });
        let websocket = list
            .iter()
            .filter_map(|source| match &source.0 {
                Kind::WebSocketProtocol(prefix) => Some(prefix.as_str().into()),
                _ => None,
            })
            .collect();
        Ok(Self {
            list,
            form,
            websocket,
        })
    }

    /// Finds the one token of a request's head, or none; see [`locate`].
    pub(crate) fn locate<'r, B>(&self, request: &'r Request<B>) -> Result<Located<'r>, AuthError> {
        locate(&self.list, request)
    }

    /// Takes the token entries of the WebSocket subprotocol sources out of
    /// `headers`' `Sec-WebSocket-Protocol` list, once the token is read (see
    /// [`TokenSource::websocket_protocol_with_prefix`]); a layer without such
    /// a source does nothing.
    #[inline]
    pub(crate) fn remove_tokens(&self, headers: &mut HeaderMap) {
        if !self.websocket.is_empty() {
            websocket::remove_tokens(headers, &self.websocket);
        }
    }

    /// How the source at `position` carries its token.
    pub(crate) fn carrier(&self, position: usize) -> Carrier {
        self.list
            .get(position)
            .map_or(Carrier::Bearer, TokenSource::carrier)
    }

    /// The headers a token is read from.
    pub(crate) fn header_names(&self) -> impl Iterator<Item = &HeaderName> + Clone {
        self.list.iter().filter_map(|source| match &source.0 {
            Kind::Header { name, .. } => Some(name),
            _ => None,
        })
    }

    /// Whether any source is a cookie.
    pub(crate) fn has_cookie(&self) -> bool {
        self.list.iter().any(TokenSource::is_cookie)
    }

    /// The RFC 6750 methods of these sources, in RFC 9728's order
    /// (`header`, `body`, `query`), each once.
    pub(crate) fn bearer_methods(&self) -> Vec<&'static str> {
        ["header", "body", "query"]
            .into_iter()
            .filter(|method| {
                self.list
                    .iter()
                    .any(|source| source.bearer_method() == Some(*method))
            })
            .collect()
    }

    /// The form source, in layers that have one.
    pub(crate) fn form(&self) -> Option<&FormSource> {
        self.form.as_ref()
    }
}

/// The token of a request's head (headers and URI), and which source gave it.
pub(crate) struct Located<'r> {
    pub(crate) token: Option<Cow<'r, str>>,
    /// The index of the source that gave the token; the number of sources when
    /// none did.
    pub(crate) position: usize,
}

/// Finds the one token of a request's head, or none. Form sources are skipped:
/// the form path reads them.
fn locate<'r, B>(
    sources: &[TokenSource],
    request: &'r Request<B>,
) -> Result<Located<'r>, AuthError> {
    let mut token: Option<Cow<'r, str>> = None;
    let mut position = sources.len();
    for (index, source) in sources.iter().enumerate() {
        source.each(request, &mut |candidate| match &token {
            Some(first) if *first != candidate => Err(AuthError::new(
                AuthErrorKind::MultipleTokens,
                "more than one token in the request",
            )),
            Some(_) => Ok(()),
            None => {
                token = Some(candidate);
                position = index;
                Ok(())
            }
        })?;
    }
    Ok(Located { token, position })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)], uri: &str) -> Request<()> {
        let mut b = Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    fn all() -> Vec<TokenSource> {
        vec![
            TokenSource::bearer(),
            TokenSource::header(HeaderName::from_static("x-token")),
            TokenSource::cookie("jwt"),
            TokenSource::query("access_token"),
            TokenSource::websocket_protocol(),
        ]
    }

    fn find(headers: &[(&str, &str)], uri: &str) -> Result<Option<String>, AuthErrorKind> {
        let req = request(headers, uri);
        locate(&all(), &req)
            .map(|found| found.token.map(Cow::into_owned))
            .map_err(|e| e.kind())
    }

    #[test]
    fn each_source_finds_its_token() {
        assert_eq!(
            find(&[("authorization", "Bearer a.b.c")], "/"),
            Ok(Some("a.b.c".into()))
        );
        assert_eq!(
            find(&[("authorization", "bEaReR   a.b.c ")], "/"),
            Ok(Some("a.b.c".into()))
        );
        assert_eq!(find(&[("x-token", "a.b.c")], "/"), Ok(Some("a.b.c".into())));
        assert_eq!(
            find(&[("cookie", "x=1; jwt=a.b.c; y=2")], "/"),
            Ok(Some("a.b.c".into()))
        );
        assert_eq!(
            find(&[], "/p?x=1&access_token=a%2Eb.c"),
            Ok(Some("a.b.c".into()))
        );
        assert_eq!(
            find(
                &[(
                    "sec-websocket-protocol",
                    "chat, base64url.bearer.authorization.k8s.io.YS5iLmM"
                )],
                "/"
            ),
            Ok(Some("a.b.c".into()))
        );
        assert_eq!(find(&[], "/"), Ok(None));
    }

    #[test]
    fn other_schemes_and_empty_values_are_no_token() {
        assert_eq!(
            find(&[("authorization", "Basic dXNlcjpwYXNz")], "/"),
            Ok(None)
        );
        assert_eq!(find(&[("authorization", "Bearera.b.c")], "/"), Ok(None));
        assert_eq!(find(&[("x-token", "")], "/"), Ok(None));
        assert_eq!(find(&[("cookie", "jwt=")], "/"), Ok(None));
        assert_eq!(find(&[], "/?access_token="), Ok(None));
    }

    #[test]
    fn a_scheme_without_a_usable_credential_is_a_malformed_request() {
        for value in ["Bearer", "Bearer ", "Bearer a b", "Bearer a,b"] {
            assert_eq!(
                find(&[("authorization", value)], "/"),
                Err(AuthErrorKind::MalformedRequest),
                "{value:?}"
            );
        }
    }

    #[test]
    fn two_different_tokens_are_refused_and_the_same_token_twice_is_not() {
        assert_eq!(
            find(&[("authorization", "Bearer a.b.c")], "/?access_token=x.y.z"),
            Err(AuthErrorKind::MultipleTokens)
        );
        assert_eq!(
            find(
                &[
                    ("authorization", "Bearer a.b.c"),
                    ("authorization", "Bearer x.y.z")
                ],
                "/"
            ),
            Err(AuthErrorKind::MultipleTokens)
        );
        assert_eq!(
            find(&[("cookie", "jwt=a.b.c"), ("cookie", "jwt=x.y.z")], "/"),
            Err(AuthErrorKind::MultipleTokens)
        );
        assert_eq!(
            find(
                &[("authorization", "Bearer a.b.c"), ("x-token", "a.b.c")],
                "/?access_token=a.b.c"
            ),
            Ok(Some("a.b.c".into()))
        );
        // `a.b.c` and `x.y.z` in base64url: in one list, two lists, or
        // beside the query.
        let (abc, xyz) = (
            "base64url.bearer.authorization.k8s.io.YS5iLmM",
            "base64url.bearer.authorization.k8s.io.eC55Lno",
        );
        let one_list = format!("{abc}, chat, {xyz}");
        for headers in [
            &[("sec-websocket-protocol", one_list.as_str())][..],
            &[
                ("sec-websocket-protocol", abc),
                ("sec-websocket-protocol", xyz),
            ],
        ] {
            assert_eq!(find(headers, "/"), Err(AuthErrorKind::MultipleTokens));
        }
        assert_eq!(
            find(&[("sec-websocket-protocol", xyz)], "/?access_token=a.b.c"),
            Err(AuthErrorKind::MultipleTokens)
        );
        let twice = format!("{abc},{abc}");
        assert_eq!(
            find(
                &[("sec-websocket-protocol", &twice)],
                "/?access_token=a.b.c"
            ),
            Ok(Some("a.b.c".into()))
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(TokenSource::cookie("").validate().is_err());
        assert!(TokenSource::cookie("a b").validate().is_err());
        assert!(TokenSource::query("").validate().is_err());
        assert!(
            TokenSource::header_with_scheme(AUTHORIZATION, "")
                .validate()
                .is_err()
        );
        assert!(TokenSource::bearer().validate().is_ok());
        assert!(TokenSource::websocket_protocol().validate().is_ok());
        for prefix in ["", "bearer ", "a,b", "token="] {
            assert!(
                TokenSource::websocket_protocol_with_prefix(prefix)
                    .validate()
                    .is_err(),
                "{prefix:?}"
            );
        }
    }
}
