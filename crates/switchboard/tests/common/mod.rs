//! Shared by the integration tests: a hub over a fresh SQLite store in a temporary directory of
//! its own, removed when the test finishes.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use engine::Hub;
use switchboard::config;

/// A directory under the system's temporary directory that no other test uses.
pub fn unique_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("switchboard-{tag}-{}-{nanos}", std::process::id()))
}

/// A hub on its own SQLite file.
pub struct TestHub {
    pub hub: Arc<Hub>,
    pub dir: PathBuf,
}

impl TestHub {
    /// A hub with the configuration in `text`.
    pub async fn new(tag: &str, text: &str) -> Self {
        let config = config::load("test.toml", text).unwrap_or_else(|e| panic!("{e}"));
        let dir = unique_dir(tag);
        let store = store::open(&format!("sqlite://{}/hub.db", dir.display()))
            .await
            .unwrap();
        Self {
            hub: Arc::new(Hub::new(config.tenant, store)),
            dir,
        }
    }

    /// A hub with the built-in sample configuration.
    pub async fn sample(tag: &str) -> Self {
        Self::new(tag, config::SAMPLE).await
    }

    /// Closes the store and removes the directory.
    pub async fn finish(self) {
        self.hub.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
