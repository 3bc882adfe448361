//! The store's one error type.
//!
//! Callers branch on the variant (`NotFound` and `Conflict` are expected outcomes the engine acts
//! on; `Database`, `Corrupt` and `Closed` are failures it reports). The error is `Clone` because
//! one failed group commit answers every request of its batch with the same error; sqlx's error
//! is shared behind an `Arc` for that.

use std::path::PathBuf;
use std::sync::Arc;

/// What went wrong in the store.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for (a conversation) is not stored.
    #[error("{what} `{id}` was not found")]
    NotFound {
        /// What kind of thing, e.g. `conversation`.
        what: &'static str,
        /// Its id.
        id: String,
    },

    /// The write contradicts what is stored (duplicate id, stale expected state).
    #[error("{what} conflict: {detail}")]
    Conflict {
        /// What kind of thing, e.g. `conversation`.
        what: &'static str,
        /// What was found instead of what was expected.
        detail: String,
    },

    /// A value the store cannot hold (e.g. an activity id with a NUL character, which
    /// PostgreSQL's text type refuses); refused the same way on every backend.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// What kind of thing, e.g. `activity`.
        what: &'static str,
        /// Which rule it broke.
        detail: String,
    },

    /// The database URL names no backend this store has. The message never repeats the URL,
    /// which may carry a password.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),

    /// The directory that should hold the SQLite file could not be created.
    #[error("cannot create the data directory `{}`: {source}", path.display())]
    DataDirectory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: Arc<std::io::Error>,
    },

    /// Running the backend's migrations failed (e.g. a migration already applied was edited).
    #[error("migrating the database failed: {0}")]
    Migrate(#[source] Arc<sqlx::migrate::MigrateError>),

    /// The database failed (connection lost, disk full, a constraint the store did not expect).
    #[error("database error: {0}")]
    Database(#[source] Arc<sqlx::Error>),

    /// A stored value did not parse back into its domain type.
    #[error("stored {what} `{id}` is corrupt: {detail}")]
    Corrupt {
        /// What kind of thing, e.g. `conversation`.
        what: &'static str,
        /// Its id.
        id: String,
        /// Which field, and why it did not parse.
        detail: String,
    },

    /// The store was closed.
    #[error("the store is closed")]
    Closed,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolClosed => StoreError::Closed,
            e => StoreError::Database(Arc::new(e)),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(e) => StoreError::from(e),
            e => StoreError::Migrate(Arc::new(e)),
        }
    }
}
