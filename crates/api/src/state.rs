//! Shared application state handed to every handler.

use std::sync::Arc;

use symbiont_core::Taxonomy;
use symbiont_store::Store;

/// Limits and knobs of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub body_limit_bytes: usize,
    pub request_timeout: std::time::Duration,
    /// How long a write waits for its own event to come back from the bus and reach the engine,
    /// so its answer reflects the new matches; past it the write still succeeds.
    pub read_your_writes: std::time::Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 1024 * 1024,
            request_timeout: std::time::Duration::from_secs(30),
            read_your_writes: std::time::Duration::from_secs(2),
        }
    }
}

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub taxonomy: Arc<Taxonomy>,
    /// Serialises decisions on matches (a read-modify-write of the match's status).
    pub write_lock: tokio::sync::Mutex<()>,
    pub matching: crate::matching::Matching,
    pub bus: Arc<dyn symbiont_bus::EventBus>,
    /// Wakes the outbox relay right after a commit.
    pub relay_wake: tokio::sync::Notify,
    /// Match lists and stats, keyed by the engine's generation.
    pub cache: crate::cache::ResponseCache,
    pub metrics: crate::metrics::Metrics,
    pub http: HttpSettings,
}

pub type SharedState = Arc<AppState>;
