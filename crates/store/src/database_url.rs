//! Reading a database URL: which backend it names and, for SQLite, which file.
//!
//! sqlx parses the URL again when it connects; this module only answers the questions sqlx does
//! not: is the scheme one we support (with an error that names the accepted ones), where does the
//! SQLite file live (so its directory can be created first), and how to ask sqlx to create the file
//! (`mode=rwc`) when the URL does not say otherwise.

use std::path::PathBuf;

use crate::{Backend, StoreError};

const ACCEPTED: &str = "expected `sqlite:PATH`, `postgres://…` or `postgresql://…`";

/// The backend `url`'s scheme names.
pub(crate) fn backend_of(url: &str) -> Result<Backend, StoreError> {
    let Some((scheme, _)) = url.split_once(':') else {
        return Err(StoreError::InvalidUrl(format!(
            "the database URL has no scheme; {ACCEPTED}"
        )));
    };
    let valid_scheme = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return Err(StoreError::InvalidUrl(format!(
            "the database URL has no scheme; {ACCEPTED}"
        )));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        other => Err(StoreError::InvalidUrl(format!(
            "unsupported database URL scheme `{other}`; {ACCEPTED}"
        ))),
    }
}

/// A SQLite URL made ready for sqlx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SqliteTarget {
    /// The URL to give sqlx, with `mode=rwc` added when the URL chose no mode, so a missing
    /// file is created.
    pub url: String,
    /// The database file; `None` for an in-memory database.
    pub file: Option<PathBuf>,
}

/// Where a `sqlite:` URL points, and the URL sqlx should open.
pub(crate) fn sqlite_target(url: &str) -> Result<SqliteTarget, StoreError> {
    let rest = strip_prefix_ignore_case(url, "sqlite://")
        .or_else(|| strip_prefix_ignore_case(url, "sqlite:"))
        .ok_or_else(|| StoreError::InvalidUrl(format!("not a SQLite URL; {ACCEPTED}")))?;
    let (path, params) = match rest.split_once('?') {
        Some((path, params)) => (path, Some(params)),
        None => (rest, None),
    };
    let param = |key: &str| {
        params
            .into_iter()
            .flat_map(|p| p.split('&'))
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    };
    let in_memory = path == ":memory:" || param("mode") == Some("memory");
    if in_memory {
        return Ok(SqliteTarget {
            url: url.to_owned(),
            file: None,
        });
    }
    if path.is_empty() {
        return Err(StoreError::InvalidUrl(
            "the SQLite URL names no file; write e.g. `sqlite:data/switchboard.db`".into(),
        ));
    }
    let file = PathBuf::from(
        percent_decode(path)
            .ok_or_else(|| StoreError::InvalidUrl("the SQLite file name is not valid percent-encoded UTF-8".into()))?,
    );
    let url = match (params, param("mode")) {
        (_, Some(_)) => url.to_owned(),
        (Some(_), None) => format!("{url}&mode=rwc"),
        (None, None) => format!("{url}?mode=rwc"),
    };
    Ok(SqliteTarget { url, file: Some(file) })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// Decodes `%XX` escapes as sqlx does for SQLite file names.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_chooses_the_backend() {
        assert_eq!(backend_of("sqlite:data/switchboard.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("sqlite:///var/lib/switchboard.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("SQLite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("postgres://u:p@localhost/db").unwrap(), Backend::Postgres);
        assert_eq!(backend_of("postgresql://localhost/db").unwrap(), Backend::Postgres);
    }

    #[test]
    fn other_schemes_are_refused_naming_the_accepted_ones_without_echoing_the_url() {
        let err = backend_of("mysql://root:secret@localhost/db").unwrap_err().to_string();
        assert!(
            err.contains("`mysql`") && err.contains("sqlite:") && err.contains("postgres://"),
            "{err}"
        );
        assert!(!err.contains("secret"), "{err}");
        for nonsense in ["nonsense", "", "/var/lib/db.sqlite", ":memory:"] {
            let err = backend_of(nonsense).unwrap_err().to_string();
            assert!(err.contains("no scheme"), "{nonsense}: {err}");
        }
    }

    #[test]
    fn a_sqlite_file_is_created_unless_the_url_chose_a_mode() {
        let t = sqlite_target("sqlite:data/switchboard.db").unwrap();
        assert_eq!(t.url, "sqlite:data/switchboard.db?mode=rwc");
        assert_eq!(t.file, Some(PathBuf::from("data/switchboard.db")));

        let t = sqlite_target("sqlite:///tmp/a%20b/x.db").unwrap();
        assert_eq!(t.url, "sqlite:///tmp/a%20b/x.db?mode=rwc");
        assert_eq!(t.file, Some(PathBuf::from("/tmp/a b/x.db")));

        let t = sqlite_target("sqlite://x.db?cache=private").unwrap();
        assert_eq!(t.url, "sqlite://x.db?cache=private&mode=rwc");

        let t = sqlite_target("sqlite:x.db?mode=ro").unwrap();
        assert_eq!(t.url, "sqlite:x.db?mode=ro");
    }

    #[test]
    fn in_memory_sqlite_has_no_file() {
        assert_eq!(sqlite_target("sqlite::memory:").unwrap().file, None);
        assert_eq!(sqlite_target("sqlite://?mode=memory").unwrap().file, None);
    }

    #[test]
    fn a_sqlite_url_without_a_file_is_refused() {
        assert!(matches!(sqlite_target("sqlite:"), Err(StoreError::InvalidUrl(_))));
        assert!(matches!(
            sqlite_target("sqlite://?cache=shared"),
            Err(StoreError::InvalidUrl(_))
        ));
        assert!(matches!(
            sqlite_target("sqlite:bad%zz.db"),
            Err(StoreError::InvalidUrl(_))
        ));
    }
}
