//! The backup of the last good document, so that a server can start while its
//! identity provider is down: written after a good fetch, read once, when the
//! first fetch fails.
//!
//! A backup is one JSON record: a format number, where the document came
//! from (so that a backup written for another URL is never used), when it was
//! fetched (wall-clock seconds since the Unix epoch: its age must survive a
//! restart, which `Instant` does not), and the document itself, verbatim:
//!
//! ```json
//! {"format":1,"origin":{"jwks_uri":"https://idp.example/jwks"},"fetched_at":1764988800,"document":{"keys":[...]}}
//! ```
//!
//! Where it is kept is a [`BackupStore`]: a file, or (feature `redis`) a
//! Redis key; each has the same two operations.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::key::KeySet;

use super::document;

/// The version of the record written; a record of another is refused.
const FORMAT: u32 = 1;

/// How many bytes a backup may hold beyond the document: the origin's URL
/// and the few fields around it.
pub(super) const ENVELOPE: usize = 16 * 1024;

/// How far in the future a backup's time may be and still be used (as if
/// fetched now): servers that share a volume do not share a clock exactly.
/// Further than this, the record is refused: its age cannot be known.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Where the backup is kept.
#[derive(Clone)]
pub(crate) enum BackupStore {
    /// A file, replaced atomically at each write.
    File(PathBuf),
    /// A Redis key, replaced by one `SET`.
    #[cfg(feature = "redis")]
    Redis {
        connection: crate::RedisConnection,
        key: String,
    },
}

impl std::fmt::Debug for BackupStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Which configuration a backup belongs to: the JWK Set's URL, or the
/// issuer whose metadata names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum BackupOrigin {
    JwksUri(String),
    Issuer(String),
}

impl BackupOrigin {
    pub(super) fn url(&self) -> &str {
        match self {
            Self::JwksUri(url) | Self::Issuer(url) => url,
        }
    }
}

/// The record as written.
#[derive(Serialize)]
struct Written<'a> {
    format: u32,
    origin: &'a BackupOrigin,
    fetched_at: u64,
    document: &'a RawValue,
}

/// The record as read.
#[derive(Deserialize)]
struct Read {
    format: u32,
    origin: BackupOrigin,
    fetched_at: u64,
    document: Box<RawValue>,
}

/// A usable backup.
#[derive(Debug)]
pub(super) struct Restored {
    pub(super) document: Bytes,
    pub(super) keys: KeySet,
    /// When the document was fetched.
    pub(super) fetched_at: SystemTime,
    /// How old it is (zero when its time is a little in the future).
    pub(super) age: Duration,
}

/// Why a backup is not used.
pub(super) type Refusal = Cow<'static, str>;

/// The record of `document`, fetched at `fetched_at` from `origin`.
pub(super) fn encode(
    origin: &BackupOrigin,
    document: &[u8],
    fetched_at: SystemTime,
) -> Result<Vec<u8>, Refusal> {
    let text = std::str::from_utf8(document).map_err(|_| "the document is not UTF-8")?;
    let document: &RawValue = serde_json::from_str(text).map_err(|_| "the document is not JSON")?;
    let fetched_at = fetched_at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the clock is before 1970")?
        .as_secs();
    let record = Written {
        format: FORMAT,
        origin,
        fetched_at,
        document,
    };
    serde_json::to_vec(&record).map_err(|e| Cow::Owned(format!("cannot encode it: {e}")))
}

/// The document of `record` and its keys, if the record is for `origin`, of
/// this format, no older than `max_staleness`, not from the future (beyond
/// [`CLOCK_SKEW`]), and its document a JWK Set with a usable key and at most
/// `max_keys` keys.
pub(super) fn restore(
    record: &[u8],
    origin: &BackupOrigin,
    max_keys: usize,
    max_staleness: Duration,
    now: SystemTime,
) -> Result<Restored, Refusal> {
    let read: Read = serde_json::from_slice(record).map_err(|_| "not a backup record")?;
    if read.format != FORMAT {
        return Err(format!("format {} is not {FORMAT}", read.format).into());
    }
    if read.origin != *origin {
        return Err(format!("it was written for {}", read.origin.url()).into());
    }
    let fetched_at = UNIX_EPOCH
        .checked_add(Duration::from_secs(read.fetched_at))
        .ok_or("its time is out of range")?;
    let age = match now.duration_since(fetched_at) {
        Ok(age) => age,
        Err(ahead) if ahead.duration() <= CLOCK_SKEW => Duration::ZERO,
        Err(ahead) => {
            let ahead = ahead.duration().as_secs();
            return Err(format!("its time is {ahead} s in the future").into());
        }
    };
    if age > max_staleness {
        let (age, max) = (age.as_secs(), max_staleness.as_secs());
        return Err(format!("it is {age} s old, older than max_staleness ({max} s)").into());
    }
    let document = Bytes::copy_from_slice(read.document.get().as_bytes());
    let keys = document::key_set(&document, max_keys)
        .map_err(|e| Cow::Owned(format!("its document is refused: {}", e.cause())))?;
    Ok(Restored {
        document,
        keys,
        fetched_at,
        age,
    })
}

impl BackupStore {
    /// The stored record, or `None` when there is none; an error when it
    /// cannot be read or is larger than `limit` bytes. The caller bounds the
    /// time.
    pub(super) async fn load(&self, limit: usize) -> io::Result<Option<Vec<u8>>> {
        match self {
            Self::File(path) => {
                let path = path.clone();
                blocking(move || load_file(&path, limit)).await
            }
            #[cfg(feature = "redis")]
            Self::Redis { connection, key } => {
                // At most one byte over the limit, whatever Redis holds.
                let record: Vec<u8> = ::redis::cmd("GETRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(limit)
                    .query_async(&mut connection.clone())
                    .await
                    .map_err(io::Error::other)?;
                if record.len() > limit {
                    return Err(too_large(limit));
                }
                // A missing key reads as empty; an empty record is none.
                Ok(Some(record).filter(|r| !r.is_empty()))
            }
        }
    }

    /// Replaces the stored record with `record`, all or nothing. The caller
    /// bounds the time.
    pub(super) async fn save(&self, record: Vec<u8>) -> io::Result<()> {
        match self {
            Self::File(path) => {
                let path = path.clone();
                blocking(move || save_file(&path, &record)).await
            }
            #[cfg(feature = "redis")]
            Self::Redis { connection, key } => ::redis::cmd("SET")
                .arg(key)
                .arg(record)
                .query_async::<()>(&mut connection.clone())
                .await
                .map_err(io::Error::other),
        }
    }

    /// Where it is, for the logs.
    pub(super) fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            #[cfg(feature = "redis")]
            Self::Redis { key, .. } => format!("Redis key {key}"),
        }
    }
}

/// Runs file I/O on tokio's blocking threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)))
}

fn too_large(limit: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("larger than the limit of {limit} bytes"),
    )
}

fn load_file(path: &Path, limit: usize) -> io::Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // Read one byte more than allowed, to tell "at the limit" from "over it"
    // without trusting the file's metadata (a FIFO or /dev/zero has none).
    let mut record = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut record)?;
    if record.len() > limit {
        return Err(too_large(limit));
    }
    Ok(Some(record))
}

/// Distinguishes the temporary files of concurrent writers in one process.
static TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// Writes `record` to a temporary file beside `path`, flushes it to disk,
/// and renames it over `path`: a reader (another server starting now, or
/// this one after a crash) sees the old record or the new one, never half.
fn save_file(path: &Path, record: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        TEMPORARY.fetch_add(1, Ordering::Relaxed)
    ));
    let temporary = path.with_file_name(temporary_name);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)?;
        file.write_all(record)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written?;
    // The rename itself is durable once the directory is flushed; where a
    // directory cannot be opened as a file (Windows), the rename stands.
    #[cfg(unix)]
    if let Some(directory) = path.parent() {
        let directory = if directory.as_os_str().is_empty() {
            Path::new(".")
        } else {
            directory
        };
        if let Ok(directory) = File::open(directory) {
            let _ = directory.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"ckrClkEXyQGlvNDU5x6jA5O-R7gy9EYmVnM3Tpafpw8","kid":"ed"}]}"#;
    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    fn origin() -> BackupOrigin {
        BackupOrigin::JwksUri("https://idp.example/jwks".into())
    }

    fn record_at(fetched_at: SystemTime) -> Vec<u8> {
        encode(&origin(), DOCUMENT.as_bytes(), fetched_at).unwrap()
    }

    #[test]
    fn a_record_comes_back_with_its_document_and_age() {
        let now = SystemTime::now();
        let record = record_at(now - Duration::from_secs(90));
        let restored = restore(&record, &origin(), 64, DAY, now).unwrap();
        assert_eq!(restored.document, DOCUMENT.as_bytes());
        assert_eq!(restored.keys.keys().len(), 1);
        // Whole seconds: the age is at least the real one, never less.
        assert!(
            restored.age >= Duration::from_secs(90),
            "{:?}",
            restored.age
        );
        assert!(
            restored.age <= Duration::from_secs(91),
            "{:?}",
            restored.age
        );
    }

    #[test]
    fn wrong_origin_format_age_or_document_is_refused() {
        let now = SystemTime::now();
        let good = record_at(now);
        let other = BackupOrigin::JwksUri("https://other.example/jwks".into());
        let issuer = BackupOrigin::Issuer("https://idp.example/jwks".into());
        for wrong in [&other, &issuer] {
            let why = restore(&good, wrong, 64, DAY, now).unwrap_err();
            assert!(why.contains("written for"), "{why}");
        }
        let old = record_at(now - DAY - Duration::from_secs(2));
        let why = restore(&old, &origin(), 64, DAY, now).unwrap_err();
        assert!(why.contains("older than max_staleness"), "{why}");
        let future = record_at(now + Duration::from_secs(3600));
        let why = restore(&future, &origin(), 64, DAY, now).unwrap_err();
        assert!(why.contains("future"), "{why}");
        // A little in the future is a clock's skew: used, as if fetched now.
        let skewed = record_at(now + Duration::from_secs(30));
        assert_eq!(
            restore(&skewed, &origin(), 64, DAY, now).unwrap().age,
            Duration::ZERO
        );
        let too_many = restore(&good, &origin(), 0, DAY, now).unwrap_err();
        assert!(too_many.contains("refused"), "{too_many}");

        let text = String::from_utf8(good).unwrap();
        for broken in [
            String::new(),
            "garbage".into(),
            "[]".into(),
            text.replace("\"format\":1", "\"format\":2"),
            text.replace(DOCUMENT, r#"{"keys":[]}"#),
            text.replace(DOCUMENT, "\"a string\""),
            text.replace(
                &format!("{}", now.duration_since(UNIX_EPOCH).unwrap().as_secs()),
                "18446744073709551615",
            ),
            text.replace(
                &format!("{}", now.duration_since(UNIX_EPOCH).unwrap().as_secs()),
                "-1",
            ),
        ] {
            assert!(
                restore(broken.as_bytes(), &origin(), 64, DAY, now).is_err(),
                "{broken}"
            );
        }
    }

    #[test]
    fn a_document_that_is_not_json_is_not_written() {
        assert!(encode(&origin(), b"\xff", SystemTime::now()).is_err());
        assert!(encode(&origin(), b"{", SystemTime::now()).is_err());
    }

    #[test]
    fn a_file_is_replaced_whole_and_read_within_its_limit() {
        let directory =
            std::env::temp_dir().join(format!("tower-jwt-auth-backup-unit-{}", std::process::id()));
        fs::create_dir_all(&directory).unwrap();
        let file = directory.join("jwks.json");
        assert!(load_file(&file, 100).unwrap().is_none(), "none yet");
        save_file(&file, b"first").unwrap();
        save_file(&file, b"second").unwrap();
        assert_eq!(load_file(&file, 100).unwrap().unwrap(), b"second");
        assert_eq!(load_file(&file, 6).unwrap().unwrap(), b"second");
        let error = load_file(&file, 5).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(&directory)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["jwks.json"]);
        assert!(save_file(&directory.join("no/such/dir/jwks.json"), b"x").is_err());
        fs::remove_dir_all(&directory).unwrap();
    }
}
