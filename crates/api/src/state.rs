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
    /// Cached bodies being computed, so concurrent misses of one key compute it once.
    pub computing: crate::cache::SingleFlight,
    pub metrics: crate::metrics::Metrics,
    /// Recent spans and log events, dumped by the admin endpoint (off when its capacity is 0).
    pub flight_recorder: crate::flight_recorder::FlightRecorder,
    pub http: HttpSettings,
    /// Token lifetimes and the signing key.
    pub auth: crate::auth::AuthSettings,
    pub key_usage: crate::auth::KeyUsage,
    pub account_cache: crate::auth::AccountCache,
    pub limiter: crate::ratelimit::RateLimiter,
    pub gateway: crate::gateway::GatewaySettings,
    pub shedder: crate::gateway::LoadShedder,
    pub audit: crate::audit::AuditLog,
}

/// Security and gateway settings, as configured.
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    pub access_ttl: std::time::Duration,
    pub refresh_ttl: std::time::Duration,
    /// Signing secret of access tokens; when unset, one is generated and kept in the store (so
    /// restarts and instances sharing the database accept each other's tokens).
    pub signing_secret: Option<String>,
    /// Anyone may create an account; otherwise only admins create users.
    pub open_registration: bool,
    pub rate_limit: crate::ratelimit::RateLimitSettings,
    /// Redis to share rate limits through; in-process when unset.
    pub rate_limit_redis_url: Option<String>,
    pub gateway: crate::gateway::GatewaySettings,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            access_ttl: std::time::Duration::from_secs(15 * 60),
            refresh_ttl: std::time::Duration::from_secs(30 * 24 * 3600),
            signing_secret: None,
            open_registration: true,
            rate_limit: crate::ratelimit::RateLimitSettings::default(),
            rate_limit_redis_url: None,
            gateway: crate::gateway::GatewaySettings::default(),
        }
    }
}

pub type SharedState = Arc<AppState>;
