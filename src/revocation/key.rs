//! The names of revocation entries, shared by the stores: one encoding, so
//! that no claim value can forge another entry's name.

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

/// The names of the entries that could revoke `token`: its `jti` entry and
/// its subject entry, each `None` when the token lacks the claim or a value is
/// too long to have been revoked.
pub(crate) fn entry_names(prefix: &str, token: &TokenInfo) -> (Option<String>, Option<String>) {
    let issuer = token.issuer();
    let jti = token
        .jti()
        .and_then(|jti| entry_name(prefix, Kind::Jti, issuer, jti));
    let subject = token
        .subject()
        .and_then(|sub| entry_name(prefix, Kind::Subject, issuer, sub));
    (jti, subject)
}

/// Whether a subject revocation with this `before` covers a token issued at
/// `iat`: issued strictly before it, or of unknown issue time (fail safe).
pub(crate) fn subject_covers(before: u64, iat: Option<u64>) -> bool {
    iat.is_none_or(|iat| iat < before)
}

/// The entry that revokes `token` by `jti`: its name and its expiry (`exp`
/// plus `leeway`); `Err` says why the token cannot be revoked this way.
pub(crate) fn jti_entry(
    prefix: &str,
    token: &TokenInfo,
    leeway: u64,
) -> Result<(String, u64), Refused> {
    let Some(jti) = token.jti() else {
        return Err(Refused(
            "a token without `jti` cannot be revoked by itself: revoke its subject",
        ));
    };
    let Some(exp) = token.expires_at() else {
        return Err(Refused(
            "a token without `exp` cannot be revoked by `jti`: the entry would never \
             expire; revoke its subject",
        ));
    };
    let name = entry_name(prefix, Kind::Jti, token.issuer(), jti).ok_or(Refused(
        "the token's `jti` or `iss` is longer than MAX_ID_LENGTH (1024 bytes)",
    ))?;
    Ok((name, expiry(exp, leeway)))
}

/// The entry that revokes `subject`: its name and its expiry (`until` plus
/// `leeway`); `Err` when a value is too long.
pub(crate) fn subject_entry(
    prefix: &str,
    issuer: Option<&str>,
    subject: &str,
    until: u64,
    leeway: u64,
) -> Result<(String, u64), Refused> {
    let name = entry_name(prefix, Kind::Subject, issuer, subject).ok_or(Refused(
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
        assert!(jti_entry("", &token, 0).is_err());
        let token = TokenInfo::new()
            .with_jti("a")
            .with_issuer(&*long)
            .with_expires_at(1);
        assert!(jti_entry("", &token, 0).is_err());
        assert!(subject_entry("", None, &long, 1, 0).is_err());
        assert!(subject_entry("", Some(&long), "a", 1, 0).is_err());
        assert!(subject_entry("", Some(&max), &max, 1, 0).is_ok());
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
