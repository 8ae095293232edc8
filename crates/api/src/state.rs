//! Shared application state handed to every handler.

use std::sync::Arc;

use symbiont_core::Taxonomy;
use symbiont_store::Store;

/// Limits and knobs of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub body_limit_bytes: usize,
    pub request_timeout: std::time::Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 1024 * 1024,
            request_timeout: std::time::Duration::from_secs(30),
        }
    }
}

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub taxonomy: Arc<Taxonomy>,
    /// Serialises writes that change matching inputs, so the engine sees them in commit order.
    pub write_lock: tokio::sync::Mutex<()>,
    pub matching: crate::matching::Matching,
    pub http: HttpSettings,
}

pub type SharedState = Arc<AppState>;
