//! The hub's channel signing keys on disk, and their rotation.
//!
//! A directory (`[channel] signing_keys`, default `data/channel-keys`) holds one PKCS#8 PEM file
//! per key, named `<kid>.pem`, where the kid carries its creation time
//! (`sb-20261201T211500Z-1a2b3c4d`). Every key in the directory is published in the JWKS. The key
//! that signs is the newest one that has been published for at least [`PUBLISH_AHEAD`] — the
//! Bot Framework SDK refetches a JWKS on an unknown `kid` at most once an hour, so signing with a
//! brand-new key at once would make bots that fetched recently refuse the hub's tokens. When no
//! key is that old (a fresh install), the oldest signs.
//!
//! Rotation without downtime is therefore: `switchboard keys rotate` adds a key (the running hub
//! publishes it within [`RELOAD_INTERVAL`] and starts signing with it an hour later), and once
//! tokens signed by the old key have expired, `switchboard keys retire KID` moves the old file
//! to `retired/`, which unpublishes it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use botframework::auth::{KeyRing, SigningKey};
use time::OffsetDateTime;
use time::macros::format_description;

/// How long a new key is published before it signs.
pub const PUBLISH_AHEAD: Duration = Duration::from_secs(3600);
/// How often the running hub rereads the directory.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(30);
/// The directory used when the configuration names none.
pub const DEFAULT_DIR: &str = "data/channel-keys";

/// Why the key directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("{0} holds no signing key; run `switchboard keys rotate` to make one")]
    Empty(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One key file.
#[derive(Debug)]
struct KeyFile {
    kid: String,
    created: Option<OffsetDateTime>,
    key: SigningKey,
}

/// The creation time a kid made by [`new_kid`] carries.
fn created_at(kid: &str) -> Option<OffsetDateTime> {
    let stamp = kid.strip_prefix("sb-")?.get(..16)?;
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(stamp, &format)
        .ok()
        .map(|t| t.assume_utc())
}

fn new_kid(now: OffsetDateTime) -> String {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    let stamp = now.format(&format).expect("the format has only numeric components");
    format!("sb-{stamp}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

fn read_dir(dir: &Path) -> Result<Vec<KeyFile>, KeyError> {
    let mut keys = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().is_none_or(|e| e != "pem") {
            continue;
        }
        let Some(kid) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        let pem = std::fs::read_to_string(&path).map_err(io(&path))?;
        let key = SigningKey::from_pkcs8_pem(kid.clone(), &pem).map_err(|e| KeyError::Key {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        keys.push(KeyFile {
            created: created_at(&kid),
            kid,
            key,
        });
    }
    keys.sort_by(|a, b| (a.created, &a.kid).cmp(&(b.created, &b.kid)));
    Ok(keys)
}

/// The key ring the directory describes at `now`: every key published, the newest key that has
/// been published for [`PUBLISH_AHEAD`] signing (the oldest, if none has).
pub fn load(dir: &Path, now: OffsetDateTime) -> Result<KeyRing, KeyError> {
    let mut keys = read_dir(dir)?;
    if keys.is_empty() {
        return Err(KeyError::Empty(dir.to_owned()));
    }
    let ready = keys
        .iter()
        .rposition(|k| k.created.is_some_and(|c| c + PUBLISH_AHEAD <= now))
        .unwrap_or(0);
    let current = keys.remove(ready);
    let mut others = keys.into_iter();
    let mut ring = match others.next() {
        Some(first) => {
            let mut ring = KeyRing::new(first.key);
            for k in others {
                ring.rotate(k.key).map_err(|e| KeyError::Key {
                    path: dir.join(format!("{}.pem", k.kid)),
                    reason: e.to_string(),
                })?;
            }
            ring
        }
        None => return Ok(KeyRing::new(current.key)),
    };
    ring.rotate(current.key).map_err(|e| KeyError::Key {
        path: dir.join(format!("{}.pem", current.kid)),
        reason: e.to_string(),
    })?;
    Ok(ring)
}

/// [`load`], first making a key when the directory has none (a first start).
pub fn load_or_create(dir: &Path, now: OffsetDateTime) -> Result<KeyRing, KeyError> {
    if read_dir(dir)?.is_empty() {
        let kid = add_key(dir, now)?;
        tracing::info!(dir = %dir.display(), kid, "created the hub's first channel signing key");
    }
    load(dir, now)
}

/// Makes a new key in `dir` and returns its kid. Running hubs publish it at their next reload
/// and sign with it [`PUBLISH_AHEAD`] later.
pub fn add_key(dir: &Path, now: OffsetDateTime) -> Result<String, KeyError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let kid = new_kid(now);
    let key = SigningKey::generate(kid.clone()).map_err(|e| KeyError::Key {
        path: dir.to_owned(),
        reason: e.to_string(),
    })?;
    let pem = key.to_pkcs8_pem().map_err(|e| KeyError::Key {
        path: dir.to_owned(),
        reason: e.to_string(),
    })?;
    let path = dir.join(format!("{kid}.pem"));
    write_private(&path, &pem).map_err(io(&path))?;
    Ok(kid)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// Moves key `kid` to `dir/retired/`, so running hubs stop publishing it at their next reload.
/// Refuses the key that signs now (rotate first, and wait).
pub fn retire(dir: &Path, kid: &str, now: OffsetDateTime) -> Result<(), String> {
    let ring = load(dir, now).map_err(|e| e.to_string())?;
    if ring.current().kid() == kid {
        return Err(format!(
            "`{kid}` is the key that signs now; run `switchboard keys rotate` and retire it once the new key signs (an hour later)"
        ));
    }
    let from = dir.join(format!("{kid}.pem"));
    if !from.exists() {
        return Err(format!("{} does not exist", from.display()));
    }
    let retired = dir.join("retired");
    std::fs::create_dir_all(&retired).map_err(|e| format!("{}: {e}", retired.display()))?;
    std::fs::rename(&from, retired.join(format!("{kid}.pem"))).map_err(|e| format!("{}: {e}", from.display()))
}

/// One line per key: kid, creation time, and whether it signs or is only published.
pub fn describe(dir: &Path, now: OffsetDateTime) -> Result<Vec<String>, KeyError> {
    let ring = load(dir, now)?;
    let signing = ring.current().kid().to_owned();
    Ok(read_dir(dir)?
        .into_iter()
        .map(|k| {
            let role = if k.kid == signing {
                "signs".to_owned()
            } else if k.created.is_some_and(|c| c > now - PUBLISH_AHEAD) {
                "published; signs once it is an hour old".to_owned()
            } else {
                "published (retire it when tokens it signed have expired)".to_owned()
            };
            format!("{}  {role}", k.kid)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("switchboard-keys-{tag}-{}", uuid::Uuid::new_v4().simple()))
    }

    #[test]
    fn a_new_key_is_published_at_once_but_signs_only_an_hour_later() {
        let dir = dir("rotate");
        let t0 = OffsetDateTime::now_utc();
        let first = load_or_create(&dir, t0).unwrap().current().kid().to_owned();
        let second = add_key(&dir, t0 + Duration::from_secs(7200)).unwrap();

        let soon = load(&dir, t0 + Duration::from_secs(7200 + 60)).unwrap();
        assert_eq!(soon.current().kid(), first, "the new key is not an hour old yet");
        assert_eq!(soon.published_kids(), [first.as_str(), second.as_str()]);

        let later = load(&dir, t0 + Duration::from_secs(7200 + 3601)).unwrap();
        assert_eq!(later.current().kid(), second);
        assert!(
            later.published_kids().contains(&first.as_str()),
            "the old key stays published"
        );

        assert!(
            retire(&dir, &second, t0 + Duration::from_secs(7200 + 3601)).is_err(),
            "the signing key cannot be retired"
        );
        retire(&dir, &first, t0 + Duration::from_secs(7200 + 3601)).unwrap();
        let after = load(&dir, t0 + Duration::from_secs(7200 + 3601)).unwrap();
        assert_eq!(after.published_kids(), [second.as_str()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn kids_carry_their_creation_time() {
        let t = OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap();
        let kid = new_kid(t);
        assert_eq!(created_at(&kid), Some(t));
        assert_eq!(created_at("hand-made"), None);
    }

    #[test]
    fn an_empty_directory_is_a_clear_error() {
        let dir = dir("empty");
        let err = load(&dir, OffsetDateTime::now_utc()).unwrap_err();
        assert!(err.to_string().contains("switchboard keys rotate"), "{err}");
    }
}
