//! The names of revocation entries, shared by the stores: one encoding, so
//! that no claim value can forge another entry's name. A token is revoked by
//! itself under `jti:` (its `jti`) or `sha256:` (its digest, when it has no
//! `jti`), every token of a subject under `sub:`.
//!
//! Two layouts: [`Layout::Flat`], the names of a single Redis and of the
//! memory store (unchanged since before clusters, so that revocations
//! written by earlier versions are still found), and [`Layout::Tagged`] for
//! a Redis Cluster, where the issuer and subject of the token come first, in
//! braces, as the key's hash tag: the keys a check reads then live on one
//! slot. Both the check and the revocation know the token's issuer and
//! subject; a token without `sub` is tagged by its issuer alone.

use std::fmt::Write as _;

use super::TokenInfo;

/// The longest issuer, subject or `jti` that can be revoked, in bytes: 1 KiB.
///
/// Ample for UUIDs, URLs and e-mail addresses, and it keeps one Redis key
/// under about 2 KiB. A longer value cannot be revoked (the store answers with
/// an error), so it is never found revoked either.
pub const MAX_ID_LENGTH: usize = 1024;

/// The latest expiry a store writes: 9999-12-31T23:59:59Z. Redis refuses
/// expiry times whose milliseconds overflow an `i64`, and Lua reads numbers as
/// doubles; no token outlives this anyway.
pub(crate) const MAX_EXPIRY: u64 = 253_402_300_799;

/// How entry names are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// `{prefix}jti:{issuer}{jti}`, `{prefix}sha256:{digest}`,
    /// `{prefix}sub:{issuer}{subject}`.
    Flat,
    /// `{prefix}{{issuer}{subject}}jti:{jti}`,
    /// `{prefix}{{issuer}{subject}}sha256:{digest}`,
    /// `{prefix}{{issuer}{subject}}sub`, the subject being `-` for a token
    /// without one: one hash tag for every key of a token.
    #[cfg_attr(
        not(any(feature = "redis", test)),
        expect(dead_code, reason = "only the Redis store runs on a cluster")
    )]
    Tagged,
}

/// What an entry revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One token, by `jti`.
    Jti,
    /// Every token of a subject issued before a time.
    Subject,
}

/// The name of an entry: `{prefix}jti:{issuer}{jti}` or
/// `{prefix}sub:{issuer}{subject}`, where each value is written as its length
/// in bytes, a colon and its bytes (`-:` for a token without issuer). The
/// lengths make the name unambiguous whatever the values hold; a colon in a
/// value is just a byte. `None` when a value is longer than [`MAX_ID_LENGTH`].
///
/// `tower-jwt-auth:jti:22:https://id.example.com8:5f0c6d1e`
pub(crate) fn entry_name(
    prefix: &str,
    kind: Kind,
    issuer: Option<&str>,
    id: &str,
) -> Option<String> {
    if id.len() > MAX_ID_LENGTH || issuer.is_some_and(|i| i.len() > MAX_ID_LENGTH) {
        return None;
    }
    let tag = match kind {
        Kind::Jti => "jti:",
        Kind::Subject => "sub:",
    };
    let mut name = String::with_capacity(
        prefix.len() + tag.len() + issuer.map_or(2, |i| i.len() + 5) + id.len() + 5,
    );
    name.push_str(prefix);
    name.push_str(tag);
    match issuer {
        Some(issuer) => push_value(&mut name, issuer),
        None => name.push_str("-:"),
    }
    push_value(&mut name, id);
    Some(name)
}

fn push_value(name: &mut String, value: &str) {
    // Writing to a String cannot fail.
    let _ = write!(name, "{}:{value}", value.len());
}

/// The tag of an entry that revokes one token by its digest: `sha256:`, after
/// which the name holds the 43 base64url characters of the digest and nothing
/// else. No other tag starts so, and no digest holds a colon, so such a name
/// never equals a `jti` or subject entry's.
const DIGEST_TAG: &str = "sha256:";

/// The name of the entry that revokes one token by its digest:
/// `{prefix}sha256:{digest}`. The digest covers the whole token, its issuer
/// included, so the issuer is not part of the name.
///
/// `tower-jwt-auth:sha256:hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg`
fn digest_entry_name(prefix: &str, digest: &str) -> String {
    let mut name = String::with_capacity(prefix.len() + DIGEST_TAG.len() + digest.len());
    name.push_str(prefix);
    name.push_str(DIGEST_TAG);
    name.push_str(digest);
    name
}

/// `{prefix}{{issuer}{subject}}`: the prefix and the hash tag of every
/// tagged key of a token, each value length-prefixed (`-:` for no issuer,
/// `-` for no subject, which no length starts with). `None` when a value is
/// longer than [`MAX_ID_LENGTH`]. A `}` in a value ends the hash tag early,
/// but at the same byte in every key of the token: they still share a slot.
fn tagged_prefix(prefix: &str, issuer: Option<&str>, subject: Option<&str>) -> Option<String> {
    if [issuer, subject]
        .iter()
        .flatten()
        .any(|value| value.len() > MAX_ID_LENGTH)
    {
        return None;
    }
    let mut name = String::with_capacity(
        prefix.len() + issuer.map_or(2, |i| i.len() + 5) + subject.map_or(1, |s| s.len() + 5) + 2,
    );
    name.push_str(prefix);
    name.push('{');
    match issuer {
        Some(issuer) => push_value(&mut name, issuer),
        None => name.push_str("-:"),
    }
    match subject {
        Some(subject) => push_value(&mut name, subject),
        None => name.push('-'),
    }
    name.push('}');
    Some(name)
}

/// The name of a tagged entry: the token's tagged prefix, then
/// `jti:{jti}`, `sha256:{digest}` or `sub`.
fn tagged_name(
    prefix: &str,
    issuer: Option<&str>,
    subject: Option<&str>,
    rest: TaggedRest<'_>,
) -> Option<String> {
    let mut name = tagged_prefix(prefix, issuer, subject)?;
    match rest {
        TaggedRest::Jti(jti) => {
            if jti.len() > MAX_ID_LENGTH {
                return None;
            }
            name.push_str("jti:");
            push_value(&mut name, jti);
        }
        TaggedRest::Digest(digest) => {
            name.push_str(DIGEST_TAG);
            name.push_str(digest);
        }
        TaggedRest::Subject => name.push_str("sub"),
    }
    Some(name)
}

/// What follows the hash tag of a tagged name.
enum TaggedRest<'a> {
    Jti(&'a str),
    Digest(&'a str),
    Subject,
}

/// The name of the entry that revokes `token` by itself: by its `jti` (and
/// issuer) when it has one, else by its digest; `None` when it has neither, or
/// a value is too long to have been revoked.
fn identity_name(prefix: &str, layout: Layout, token: &TokenInfo) -> Option<String> {
    match (layout, token.jti(), token.token_digest()) {
        (_, None, None) => None,
        (Layout::Flat, Some(jti), _) => entry_name(prefix, Kind::Jti, token.issuer(), jti),
        (Layout::Flat, None, Some(digest)) => Some(digest_entry_name(prefix, digest)),
        (Layout::Tagged, Some(jti), _) => tagged_name(
            prefix,
            token.issuer(),
            token.subject(),
            TaggedRest::Jti(jti),
        ),
        (Layout::Tagged, None, Some(digest)) => tagged_name(
            prefix,
            token.issuer(),
            token.subject(),
            TaggedRest::Digest(digest),
        ),
    }
}

/// The name of the entry that revokes every token of `subject`.
fn subject_name(
    prefix: &str,
    layout: Layout,
    issuer: Option<&str>,
    subject: &str,
) -> Option<String> {
    match layout {
        Layout::Flat => entry_name(prefix, Kind::Subject, issuer, subject),
        Layout::Tagged => tagged_name(prefix, issuer, Some(subject), TaggedRest::Subject),
    }
}

/// The names of the entries that could revoke `token`: its identity entry
/// (`jti`, else digest) and its subject entry, each `None` when the token
/// lacks what it needs or a value is too long to have been revoked.
pub(crate) fn entry_names(
    prefix: &str,
    layout: Layout,
    token: &TokenInfo,
) -> (Option<String>, Option<String>) {
    let subject = token
        .subject()
        .and_then(|sub| subject_name(prefix, layout, token.issuer(), sub));
    (identity_name(prefix, layout, token), subject)
}

/// Whether a subject revocation with this `before` covers a token issued at
/// `iat`: issued strictly before it, or of unknown issue time (fail safe).
pub(crate) fn subject_covers(before: u64, iat: Option<u64>) -> bool {
    iat.is_none_or(|iat| iat < before)
}

/// The entry that revokes `token` by itself (its `jti`, else its digest):
/// its name and its expiry (`exp` plus `leeway`); `Err` says why the token
/// cannot be revoked this way.
pub(crate) fn identity_entry(
    prefix: &str,
    layout: Layout,
    token: &TokenInfo,
    leeway: u64,
) -> Result<(String, u64), Refused> {
    if token.jti().is_none() && token.token_digest().is_none() {
        return Err(Refused(
            "a token without `jti` and without a digest (`TokenInfo::with_digest_of`, \
             which needs a crypto backend feature) cannot be revoked by itself: revoke \
             its subject",
        ));
    }
    let Some(exp) = token.expires_at() else {
        return Err(Refused(
            "a token without `exp` cannot be revoked by itself: the entry would never \
             expire; revoke its subject",
        ));
    };
    let name = identity_name(prefix, layout, token).ok_or(Refused(
        "the token's `jti`, `iss` or `sub` is longer than MAX_ID_LENGTH (1024 bytes)",
    ))?;
    Ok((name, expiry(exp, leeway)))
}

/// The entry that revokes `subject`: its name and its expiry (`until` plus
/// `leeway`); `Err` when a value is too long.
pub(crate) fn subject_entry(
    prefix: &str,
    layout: Layout,
    issuer: Option<&str>,
    subject: &str,
    until: u64,
    leeway: u64,
) -> Result<(String, u64), Refused> {
    let name = subject_name(prefix, layout, issuer, subject).ok_or(Refused(
        "the subject or issuer is longer than MAX_ID_LENGTH (1024 bytes)",
    ))?;
    Ok((name, expiry(until, leeway)))
}

/// `time` plus `leeway`, no later than [`MAX_EXPIRY`].
pub(crate) fn expiry(time: u64, leeway: u64) -> u64 {
    time.saturating_add(leeway).min(MAX_EXPIRY)
}

/// A refusal as an error a store returns.
#[derive(Debug)]
pub(crate) struct Refused(pub(crate) &'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Refused {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_length_prefixed() {
        assert_eq!(
            entry_name("p:", Kind::Jti, Some("https://id.example.com"), "5f0c6d1e").unwrap(),
            "p:jti:22:https://id.example.com8:5f0c6d1e"
        );
        assert_eq!(
            entry_name("p:", Kind::Subject, None, "ada").unwrap(),
            "p:sub:-:3:ada"
        );
        assert_eq!(entry_name("", Kind::Jti, Some(""), "").unwrap(), "jti:0:0:");
    }

    #[test]
    fn no_value_forges_another_name() {
        // Each of these would collide under a plain `iss:jti` join.
        let pairs: &[(Option<&str>, &str)] = &[
            (Some("a:b"), "c"),
            (Some("a"), "b:c"),
            (Some("a:"), "b:c"),
            (None, "a:b:c"),
            (Some(""), "a:b:c"),
            (Some("-"), ""),
            (None, "-"),
            (Some("1:a"), "1:b"),
            (Some("3:a:b"), ""),
            (None, "3:a:b"),
        ];
        let mut names = std::collections::HashSet::new();
        for kind in [Kind::Jti, Kind::Subject] {
            for &(issuer, id) in pairs {
                assert!(
                    names.insert(entry_name("", kind, issuer, id).unwrap()),
                    "{issuer:?} {id:?}"
                );
            }
        }
    }

    #[test]
    fn lengths_are_bounded() {
        let long = "x".repeat(MAX_ID_LENGTH + 1);
        let max = "x".repeat(MAX_ID_LENGTH);
        assert!(entry_name("", Kind::Jti, None, &max).is_some());
        assert!(entry_name("", Kind::Jti, Some(&max), &max).is_some());
        assert!(entry_name("", Kind::Jti, None, &long).is_none());
        assert!(entry_name("", Kind::Subject, Some(&long), "a").is_none());
        let token = TokenInfo::new().with_jti(&*long).with_expires_at(1);
        assert!(identity_entry("", Layout::Flat, &token, 0).is_err());
        let token = TokenInfo::new()
            .with_jti("a")
            .with_issuer(&*long)
            .with_expires_at(1);
        assert!(identity_entry("", Layout::Flat, &token, 0).is_err());
        assert!(subject_entry("", Layout::Flat, None, &long, 1, 0).is_err());
        assert!(subject_entry("", Layout::Flat, Some(&long), "a", 1, 0).is_err());
        assert!(subject_entry("", Layout::Flat, Some(&max), &max, 1, 0).is_ok());
    }

    #[test]
    #[cfg(any(feature = "aws-lc-rs", feature = "rust-crypto"))]
    fn a_token_without_jti_is_named_by_its_digest_apart_from_any_jti() {
        let digest = "hF4wRIgJ4ryJWOsCW_x5UjXROwd6U9DDq70jhRcNybg";
        let token = TokenInfo::new()
            .with_issuer("https://id.example.com")
            .with_subject("ada")
            .with_expires_at(100)
            .with_digest_of("a.b.c");
        let (name, expires) = identity_entry("p:", Layout::Flat, &token, 60).unwrap();
        assert_eq!(name, format!("p:sha256:{digest}"));
        assert_eq!(expires, 160);
        assert!(!name.contains("a.b.c"));
        let (identity, subject) = entry_names("p:", Layout::Flat, &token);
        assert_eq!(identity.as_deref(), Some(&*name));
        assert_eq!(
            subject.as_deref(),
            Some("p:sub:22:https://id.example.com3:ada")
        );

        // A `jti` wins over a digest, and no `jti` (even one that spells the
        // digest's name) reaches the digest's entry.
        let both = token.clone().with_jti("x");
        assert_eq!(
            identity_entry("p:", Layout::Flat, &both, 0).unwrap().0,
            "p:jti:22:https://id.example.com1:x"
        );
        for jti in [digest, &*format!("sha256:{digest}"), &*name] {
            for issuer in [None, Some(""), Some("sha256")] {
                let mut forged = TokenInfo::new().with_jti(jti).with_expires_at(100);
                if let Some(issuer) = issuer {
                    forged = forged.with_issuer(issuer);
                }
                assert_ne!(
                    identity_entry("p:", Layout::Flat, &forged, 0).unwrap().0,
                    name,
                    "{jti} {issuer:?}"
                );
            }
        }
        // Without `exp`, a digest entry would never expire: refused, as for a `jti`.
        let eternal = TokenInfo::new().with_digest_of("a.b.c");
        let error = identity_entry("p:", Layout::Flat, &eternal, 0).unwrap_err();
        assert!(error.0.contains("without `exp`"), "{error}");
    }

    #[test]
    fn a_token_without_jti_or_digest_cannot_be_revoked_by_itself() {
        let token = TokenInfo::new().with_subject("ada").with_expires_at(100);
        let error = identity_entry("p:", Layout::Flat, &token, 0).unwrap_err();
        assert!(error.0.contains("without `jti`"), "{error}");
        assert_eq!(entry_names("p:", Layout::Flat, &token).0, None);
    }

    #[test]
    fn tagged_names_put_a_tokens_keys_under_one_hash_tag() {
        let token = TokenInfo::new()
            .with_issuer("https://id.example.com")
            .with_subject("ada")
            .with_jti("5f0c6d1e")
            .with_expires_at(100);
        let (identity, subject) = entry_names("p:", Layout::Tagged, &token);
        assert_eq!(
            identity.as_deref(),
            Some("p:{22:https://id.example.com3:ada}jti:8:5f0c6d1e")
        );
        assert_eq!(
            subject.as_deref(),
            Some("p:{22:https://id.example.com3:ada}sub")
        );
        // The revocations write the names the check reads.
        assert_eq!(
            identity_entry("p:", Layout::Tagged, &token, 0).unwrap().0,
            identity.unwrap()
        );
        assert_eq!(
            subject_entry(
                "p:",
                Layout::Tagged,
                Some("https://id.example.com"),
                "ada",
                1,
                0
            )
            .unwrap()
            .0,
            subject.unwrap()
        );
        // No issuer, no subject.
        let bare = TokenInfo::new().with_jti("x").with_expires_at(1);
        assert_eq!(
            entry_names("p:", Layout::Tagged, &bare),
            (Some("p:{-:-}jti:1:x".to_owned()), None)
        );
        // Braces in values: the tag ends early, at the same byte in both.
        let braces = TokenInfo::new()
            .with_issuer("}")
            .with_subject("{a}")
            .with_jti("{b}");
        let (identity, subject) = entry_names("p:", Layout::Tagged, &braces);
        let (identity, subject) = (identity.unwrap(), subject.unwrap());
        assert_eq!(hash_tag(&identity), hash_tag(&subject));
        assert_eq!(hash_tag(&identity), "1:");
    }

    /// What Redis Cluster hashes: between the first `{` and the first `}`
    /// after it, when not empty; else the whole key.
    fn hash_tag(key: &str) -> &str {
        key.find('{')
            .and_then(|open| {
                let rest = &key[open + 1..];
                rest.find('}').map(|close| &rest[..close])
            })
            .filter(|tag| !tag.is_empty())
            .unwrap_or(key)
    }

    #[test]
    fn tagged_names_are_unforgeable_and_bounded() {
        let pairs: &[(Option<&str>, Option<&str>, &str)] = &[
            (Some("a:b"), Some("c"), "d"),
            (Some("a"), Some("b:c"), "d"),
            (Some("a"), None, "b"),
            (None, Some("a"), "b"),
            (Some("-"), None, ""),
            (None, Some("-"), ""),
            (Some("1:a"), Some("1:b"), "1:c"),
            (Some("a}"), Some("b"), "c"),
            (Some("a"), Some("}b"), "c"),
            (Some("a"), Some("b"), "}jti:1:c"),
        ];
        let mut names = std::collections::HashSet::new();
        for &(issuer, subject, jti) in pairs {
            let mut token = TokenInfo::new().with_jti(jti);
            if let Some(issuer) = issuer {
                token = token.with_issuer(issuer);
            }
            if let Some(subject) = subject {
                token = token.with_subject(subject);
            }
            let (identity, sub) = entry_names("", Layout::Tagged, &token);
            assert!(
                names.insert(identity.unwrap()),
                "{issuer:?} {subject:?} {jti:?}"
            );
            if let Some(sub) = sub {
                names.insert(sub);
            }
        }
        let long = "x".repeat(MAX_ID_LENGTH + 1);
        let token = TokenInfo::new()
            .with_jti("a")
            .with_subject(&*long)
            .with_expires_at(1);
        assert_eq!(entry_names("", Layout::Tagged, &token), (None, None));
        assert!(identity_entry("", Layout::Tagged, &token, 0).is_err());
        assert!(subject_entry("", Layout::Tagged, None, &long, 1, 0).is_err());
    }

    #[test]
    fn subject_revocations_cover_earlier_and_unknown_issue_times() {
        assert!(subject_covers(100, Some(99)));
        assert!(!subject_covers(100, Some(100)));
        assert!(!subject_covers(100, Some(101)));
        assert!(subject_covers(100, None));
        assert!(subject_covers(1, Some(0)));
        assert!(!subject_covers(0, Some(0)));
    }

    #[test]
    fn expiries_saturate() {
        assert_eq!(expiry(100, 60), 160);
        assert_eq!(expiry(u64::MAX, 60), MAX_EXPIRY);
        assert_eq!(expiry(MAX_EXPIRY, 1), MAX_EXPIRY);
    }
}
