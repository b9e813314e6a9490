//! The configuration the gateway serves to filters: built from one snapshot of the store
//! when the token change log has moved past it, and otherwise served as it is, so that a
//! fleet polling every few seconds costs one indexed query per poll.
//!
//! The log is read on every poll rather than trusting this instance's index, so a change
//! made by the CLI or another instance is served at once.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

use crate::export::{FilterSettings, proxy_wasm_config};
use crate::store::{Store, StoreError};

/// One version of the configuration, serialised.
#[derive(Debug)]
pub struct Served {
    /// The token change version it reflects.
    pub version: i64,
    /// `"<version>-<16 hex of its SHA-256>"`: the same on every instance that serves the
    /// same bytes.
    pub etag: String,
    /// The JSON.
    pub body: Bytes,
}

/// The configuration last served, and the settings it is built with.
#[derive(Debug)]
pub struct ServedConfig {
    settings: FilterSettings,
    current: Mutex<Option<Arc<Served>>>,
    /// One rebuild at a time: a change seen by many polls at once is built once.
    rebuilding: tokio::sync::Mutex<()>,
}

impl ServedConfig {
    /// Nothing built yet.
    pub fn new(settings: FilterSettings) -> Self {
        Self {
            settings,
            current: Mutex::new(None),
            rebuilding: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self) -> Option<Arc<Served>> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The cached configuration if no token changed since it was built.
    async fn still_current(&self, store: &Store) -> Result<Option<Arc<Served>>, StoreError> {
        let Some(served) = self.cached() else {
            return Ok(None);
        };
        let (changed, _) = store.backend().changes_since(served.version).await?;
        Ok(changed.is_empty().then_some(served))
    }

    /// The current configuration.
    pub async fn current(&self, store: &Store) -> Result<Arc<Served>, StoreError> {
        if let Some(served) = self.still_current(store).await? {
            return Ok(served);
        }
        let _one_at_a_time = self.rebuilding.lock().await;
        if let Some(served) = self.still_current(store).await? {
            return Ok(served);
        }
        let export = proxy_wasm_config(store, &self.settings).await?;
        let body = serde_json::to_vec(&export).unwrap_or_default();
        let hash = Sha256::digest(&body);
        let served = Arc::new(Served {
            version: export.version,
            etag: format!("\"{}-{}\"", export.version, hex::encode(&hash[..8])),
            body: Bytes::from(body),
        });
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&served));
        Ok(served)
    }
}
