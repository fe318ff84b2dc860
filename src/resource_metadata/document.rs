//! The metadata document, checked ([`CheckedMetadata`]) and then written
//! once from the configuration and the layer's own facts ([`Published`]).

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderValue;
use serde_json::Value;

use super::ResourceMetadata;
use super::url::{self, WellKnown};
use crate::authorize::is_scope_token;
use crate::error::ConfigError;

/// The fields the layer computes, which [`ResourceMetadata::field`] may not
/// set.
const COMPUTED: [&str; 7] = [
    "resource",
    "authorization_servers",
    "scopes_supported",
    "bearer_methods_supported",
    "dpop_signing_alg_values_supported",
    "dpop_bound_access_tokens_required",
    "tls_client_certificate_bound_access_tokens",
];

/// What the layer itself says about how it takes tokens, for the fields it
/// computes.
#[derive(Debug, Default)]
pub(crate) struct LayerFacts {
    /// The issuers it accepts: its own and its trusted issuers'.
    pub(crate) issuers: Vec<String>,
    /// Its RFC 6750 methods (`header`, `body`, `query`), empty where no
    /// bearer token is accepted.
    pub(crate) bearer_methods: Vec<&'static str>,
    /// Its DPoP proof algorithms, space-separated, when it takes DPoP.
    pub(crate) dpop_algorithms: Option<Arc<str>>,
    /// Whether every token must come with DPoP.
    pub(crate) dpop_required: bool,
    /// Whether it checks certificate-bound tokens (RFC 8705).
    pub(crate) certificate_bound: bool,
}

/// A [`ResourceMetadata`] whose own settings have been checked, and whose
/// URL is known: what the layer needs before it has its own facts.
#[derive(Debug)]
pub(crate) struct CheckedMetadata {
    metadata: ResourceMetadata,
    well_known: WellKnown,
    url: Arc<str>,
}

impl ResourceMetadata {
    /// Checks the resource identifier, the scopes, the given authorization
    /// servers and the names of the extra fields.
    pub(crate) fn check(self) -> Result<CheckedMetadata, ConfigError> {
        let resource = url::check("resource", &self.resource)?;
        for scope in &self.scopes_supported {
            if !is_scope_token(scope) {
                return Err(ConfigError::InvalidScope {
                    scope: scope.clone(),
                });
            }
        }
        if let Some(issuers) = &self.authorization_servers {
            if issuers.is_empty() {
                return Err(ConfigError::Empty {
                    setting: "authorization_servers",
                });
            }
            for issuer in issuers {
                url::check("authorization_servers", issuer)?;
            }
        }
        for name in self.fields.keys() {
            if name.is_empty() {
                return Err(ConfigError::Empty { setting: "field" });
            }
            if COMPUTED.contains(&name.as_str()) {
                return Err(ConfigError::ReservedMetadataField { name: name.clone() });
            }
        }
        let well_known = WellKnown::of(&resource);
        Ok(CheckedMetadata {
            url: Arc::from(well_known.url.as_str()),
            well_known,
            metadata: self,
        })
    }
}

impl CheckedMetadata {
    /// The URL the document is published at, for the challenges.
    pub(crate) fn url(&self) -> &Arc<str> {
        &self.url
    }

    /// The document, written once from the settings and `facts`.
    ///
    /// # Errors
    ///
    /// An issuer of the layer that is no `https://` URL, when the
    /// authorization servers are not given.
    pub(crate) fn publish(self, facts: LayerFacts) -> Result<Published, ConfigError> {
        let Self {
            metadata,
            well_known,
            url,
        } = self;
        let issuers = match metadata.authorization_servers {
            Some(given) => given,
            None => {
                for issuer in &facts.issuers {
                    url::check("authorization_servers", issuer)?;
                }
                facts.issuers
            }
        };
        let mut document = metadata.fields;
        let mut put = |name: &str, value: Value| {
            document.insert(name.to_owned(), value);
        };
        put("resource", metadata.resource.into());
        if !issuers.is_empty() {
            put("authorization_servers", unique(issuers));
        }
        if !metadata.scopes_supported.is_empty() {
            put("scopes_supported", unique(metadata.scopes_supported));
        }
        put("bearer_methods_supported", facts.bearer_methods.into());
        if let Some(algorithms) = &facts.dpop_algorithms {
            put(
                "dpop_signing_alg_values_supported",
                algorithms.split(' ').collect::<Vec<_>>().into(),
            );
        }
        // Both booleans default to false (RFC 9728 §2): written when true.
        if facts.dpop_required {
            put("dpop_bound_access_tokens_required", true.into());
        }
        if facts.certificate_bound {
            put("tls_client_certificate_bound_access_tokens", true.into());
        }
        let json = serde_json::to_vec(&Value::Object(document))
            .map(Bytes::from)
            .unwrap_or_default();
        let cache_control = format!("public, max-age={}", metadata.max_age.as_secs());
        Ok(Published {
            url,
            path: well_known.path,
            json,
            cache_control: HeaderValue::try_from(cache_control)
                .unwrap_or_else(|_| HeaderValue::from_static("no-cache")),
        })
    }
}

/// `values` without repetitions, in their first order, as a JSON array.
fn unique(values: Vec<String>) -> Value {
    let mut seen = Vec::with_capacity(values.len());
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen.into()
}

/// The document of a layer, as served: written once, when the layer was
/// built.
#[derive(Debug)]
pub(crate) struct Published {
    /// Where it is published (the challenges' `resource_metadata`).
    pub(super) url: Arc<str>,
    /// The path of that URL, to route the service at.
    pub(super) path: String,
    /// The document.
    pub(super) json: Bytes,
    /// `public, max-age=…`.
    pub(super) cache_control: HeaderValue,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn document(metadata: ResourceMetadata, facts: LayerFacts) -> Value {
        let published = metadata.check().unwrap().publish(facts).unwrap();
        serde_json::from_slice(&published.json).unwrap()
    }

    fn error(metadata: ResourceMetadata, facts: LayerFacts) -> String {
        metadata
            .check()
            .and_then(|checked| checked.publish(facts))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_document_holds_the_settings_and_the_layers_facts() {
        let facts = LayerFacts {
            issuers: vec![
                "https://a.example".into(),
                "https://b.example/tenant".into(),
                "https://a.example".into(),
            ],
            bearer_methods: vec!["header", "query"],
            dpop_algorithms: Some("ES256 EdDSA Ed25519".into()),
            dpop_required: false,
            certificate_bound: true,
        };
        let metadata = ResourceMetadata::new("https://api.example/v1")
            .scopes_supported(["read", "write", "read"])
            .field("resource_name", "Orders")
            .field("resource_documentation", "https://api.example/docs")
            .field("resource_name", "The orders API");
        assert_eq!(
            document(metadata, facts),
            json!({
                "resource": "https://api.example/v1",
                "authorization_servers": ["https://a.example", "https://b.example/tenant"],
                "scopes_supported": ["read", "write"],
                "bearer_methods_supported": ["header", "query"],
                "dpop_signing_alg_values_supported": ["ES256", "EdDSA", "Ed25519"],
                "tls_client_certificate_bound_access_tokens": true,
                "resource_name": "The orders API",
                "resource_documentation": "https://api.example/docs",
            })
        );
    }

    #[test]
    fn a_minimal_document_and_one_where_dpop_is_required() {
        assert_eq!(
            document(
                ResourceMetadata::new("https://api.example"),
                LayerFacts::default()
            ),
            json!({ "resource": "https://api.example", "bearer_methods_supported": [] })
        );
        let facts = LayerFacts {
            dpop_algorithms: Some("ES256".into()),
            dpop_required: true,
            ..LayerFacts::default()
        };
        assert_eq!(
            document(ResourceMetadata::new("https://api.example"), facts),
            json!({
                "resource": "https://api.example",
                "bearer_methods_supported": [],
                "dpop_signing_alg_values_supported": ["ES256"],
                "dpop_bound_access_tokens_required": true,
            })
        );
    }

    #[test]
    fn given_authorization_servers_replace_the_layers_issuers() {
        let facts = || LayerFacts {
            // Not a URL: fine for `iss`, not for the metadata.
            issuers: vec!["my-app".into()],
            ..LayerFacts::default()
        };
        assert_eq!(
            error(ResourceMetadata::new("https://api.example"), facts()),
            "the resource metadata's `authorization_servers` URL \"my-app\" cannot be used: \
             not an absolute URL"
        );
        let metadata = ResourceMetadata::new("https://api.example")
            .authorization_servers(["https://login.example"]);
        assert_eq!(
            document(metadata, facts())["authorization_servers"],
            json!(["https://login.example"])
        );
        let none: [&str; 0] = [];
        assert_eq!(
            error(
                ResourceMetadata::new("https://api.example").authorization_servers(none),
                facts()
            ),
            "`authorization_servers` is empty"
        );
        assert!(
            error(
                ResourceMetadata::new("https://api.example")
                    .authorization_servers(["https://login.example/?x"]),
                facts()
            )
            .contains("it has a query"),
        );
    }

    #[test]
    fn computed_fields_bad_scopes_and_empty_names_are_refused() {
        for name in COMPUTED {
            let metadata = ResourceMetadata::new("https://api.example").field(name, true);
            assert_eq!(
                error(metadata, LayerFacts::default()),
                format!(
                    "the resource metadata field {name:?} is computed by the layer: it cannot \
                     be set with `ResourceMetadata::field`"
                )
            );
        }
        for scope in ["", "two words", "quote\"", "back\\slash"] {
            let metadata = ResourceMetadata::new("https://api.example").scopes_supported([scope]);
            assert!(
                error(metadata, LayerFacts::default()).starts_with("scope "),
                "{scope:?}"
            );
        }
        let metadata = ResourceMetadata::new("https://api.example").field("", 1);
        assert_eq!(error(metadata, LayerFacts::default()), "`field` is empty");
        assert!(
            error(
                ResourceMetadata::new("http://api.example"),
                LayerFacts::default()
            )
            .starts_with("the resource metadata's `resource` URL")
        );
    }

    #[test]
    fn the_document_is_written_once_with_its_cache_lifetime() {
        let checked = ResourceMetadata::new("https://api.example/v1")
            .max_age(Duration::from_secs(300))
            .check()
            .unwrap();
        assert_eq!(
            &**checked.url(),
            "https://api.example/.well-known/oauth-protected-resource/v1"
        );
        let published = checked.publish(LayerFacts::default()).unwrap();
        assert_eq!(published.cache_control, "public, max-age=300");
        assert_eq!(published.path, "/.well-known/oauth-protected-resource/v1");
        let default = ResourceMetadata::new("https://api.example")
            .check()
            .unwrap()
            .publish(LayerFacts::default())
            .unwrap();
        assert_eq!(default.cache_control, "public, max-age=3600");
    }
}
