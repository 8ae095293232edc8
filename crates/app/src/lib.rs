//! Symbiont's use cases, the one place they live: every transport (REST today; the CLI's import;
//! later GraphQL, gRPC and the live feeds) calls these functions and shows their results and
//! [`AppError`]s its own way. Nothing here depends on HTTP: no router, no status code, no header
//! type (a few messages name the REST route or the `If-Match` a person would use next).
//!
//! - [`registry`]: businesses, sites and flows (validate, one store transaction with its outbox
//!   event, then wait for this instance's engine), and decisions on matches; [`bulk_registry`]:
//!   many at once in one transaction (`symbiont import`);
//! - [`live_matches`]: the engine's live matches joined with people's decisions, expiry and
//!   revival, pages and the summary; [`match_queries`]: pages and single matches as a viewer may
//!   see them, through the response cache; [`visibility`]: what a viewer may see of an anonymous flow;
//! - [`stats`]: the platform's figures; [`categories`]: the taxonomy and its rules, read-only;
//!   [`waste_codes`]: the European Waste Catalogue and the category each code maps to, read-only;
//!   [`industry_templates`]: the typical flows of NACE classes, suggested to new businesses;
//! - [`identity`]: passwords, access tokens, API keys and the [`identity::Caller`] every use case
//!   checks; [`sessions`]: login, token refresh, logout, who am I, the caller's API keys;
//!   [`users`]: creating and listing accounts; [`memberships`]: who belongs to a business;
//!   [`invitations`]: how people join one (invited by e-mail, accepted by the invitee);
//!   [`audit`]: the audit log, written and read;
//! - [`event_pipeline`]: the outbox relay and the bus consumer that feeds the engine;
//! - [`network`]: the symbiosis network (each need's serving exchange) projected into the graph
//!   port, and its chains, clusters and anchors as a viewer may see them; [`bus_choice`]: which
//!   event bus the reference architecture recommends for the number of businesses;
//!   [`live_feed`]: the events derived from what the engine applied (matches proposed, changed,
//!   withdrawn, decided; flows created, updated, removed), filtered and redacted per subscriber,
//!   resumable from a bounded history, for the WebSocket and SSE transports and those to come;
//! - ports of outside services beside the store and the bus: [`response_cache`] and
//!   [`rate_limit`], each with an in-process and a Redis adapter.
//!
//! [`App`] holds the ports and the derived state; [`App::start`] builds it.

pub mod audit;
pub mod bulk_registry;
pub mod bus_choice;
pub mod categories;
pub mod engine_metrics;
pub mod error;
pub mod event_pipeline;
pub mod flight_recorder;
pub mod identity;
pub mod industry_templates;
pub mod invitations;
pub mod json_body;
pub mod live_feed;
pub mod live_matches;
pub mod map_layers;
pub mod match_queries;
pub mod memberships;
pub mod merge_patch;
pub mod network;
pub mod rate_limit;
pub mod redis_connection;
pub mod registry;
pub mod response_cache;
pub mod retention;
pub mod sessions;
pub mod stats;
pub mod trace_context;
pub mod users;
pub mod visibility;
pub mod waste_codes;

use std::sync::Arc;
use std::time::Duration;

use symbiont_bus::{EventBus, Subscription};
use symbiont_core::Taxonomy;
use symbiont_matching::{Engine, MatchingConfig};
use symbiont_store::Store;

pub use error::AppError;

/// The use cases' context: the ports (store, bus, cache, rate-limit state), the derived state (live
/// matches) and the settings. One per process, shared by every transport behind an `Arc`.
pub struct App {
    pub store: Arc<dyn Store>,
    pub taxonomy: Arc<Taxonomy>,
    /// Serialises decisions on matches (a read-modify-write of the match's status).
    pub write_lock: tokio::sync::Mutex<()>,
    pub live_matches: live_matches::LiveMatches,
    /// The network's projection into the graph port, kept current from the engine's changes.
    pub network: network::NetworkProjection,
    pub bus: Arc<dyn EventBus>,
    /// Wakes the outbox relay right after a commit.
    pub relay_wake: tokio::sync::Notify,
    /// Match lists and stats, keyed by the engine's generation.
    pub cache: response_cache::ResponseCache,
    /// Cached bodies being computed, so concurrent misses of one key compute it once.
    pub computing: response_cache::SingleFlight,
    /// How long a write waits for its own event to come back from the bus and reach the engine,
    /// so its answer reflects the new matches; past it the write still succeeds.
    pub read_your_writes: Duration,
    /// Seconds the start-up rebuild of the engine took.
    pub rebuild_seconds: f64,
    /// Recent spans and log events, dumped for admins (off when its capacity is 0).
    pub flight_recorder: flight_recorder::FlightRecorder,
    /// Token lifetimes and the signing key.
    pub auth: identity::AuthSettings,
    pub key_usage: identity::KeyUsage,
    pub account_cache: identity::AccountCache,
    /// Bounds concurrent argon2 work (registrations, logins, password changes).
    pub password_hashing: identity::PasswordHashing,
    pub limiter: rate_limit::RateLimiter,
    pub audit: audit::AuditLog,
    /// Uncached match lists over all matches running at once (`match_queries`): each walks every
    /// match, so their number, not the request rate, bounds the CPU they take.
    pub full_scans: tokio::sync::Semaphore,
}

/// Security settings of the use cases, as configured.
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// The absolute lifetime of a login, however often it is refreshed.
    pub session_max_age: Duration,
    /// Signing secret of access tokens; when unset, one is generated and kept in the store (so
    /// restarts and instances sharing the database accept each other's tokens).
    pub signing_secret: Option<String>,
    /// Anyone may create an account; otherwise only admins create users.
    pub open_registration: bool,
    pub rate_limit: rate_limit::RateLimitSettings,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            session_max_age: Duration::from_secs(90 * 24 * 3600),
            signing_secret: None,
            open_registration: true,
            rate_limit: rate_limit::RateLimitSettings::default(),
        }
    }
}

/// What [`App::start`] needs: the ports and the settings.
pub struct AppParts {
    pub store: Arc<dyn Store>,
    pub taxonomy: Arc<Taxonomy>,
    pub matching: MatchingConfig,
    pub bus: Arc<dyn EventBus>,
    /// The graph the network is projected into (in-process by default).
    pub graph: Arc<dyn symbiont_graph::NetworkGraph>,
    pub cache: response_cache::ResponseCache,
    /// Rate-limit state shared by the instances (Redis); this process's own when `None`.
    pub shared_rate_limits: Option<Box<dyn rate_limit::RateLimitState>>,
    pub read_your_writes: Duration,
    pub security: SecuritySettings,
    /// Limits of the live feed.
    pub feed: live_feed::FeedSettings,
}

impl App {
    /// The flight recorder's records, for platform administrators (they hold paths and ids).
    pub fn flight_recording(
        &self,
        caller: &identity::Caller,
    ) -> Result<flight_recorder::FlightRecording, AppError> {
        caller.require_admin()?;
        Ok(self.flight_recorder.dump())
    }

    /// Subscribes this instance to the bus, rebuilds the matching engine from the store and
    /// reconciles decisions. Returns the app and the subscription for [`event_pipeline::start`].
    pub async fn start(parts: AppParts) -> Result<(Arc<App>, Box<dyn Subscription>), AppError> {
        let AppParts {
            store,
            taxonomy,
            matching,
            bus,
            graph,
            cache,
            shared_rate_limits,
            read_your_writes,
            security,
            feed,
        } = parts;
        let engine = Engine::new(taxonomy.clone(), matching)
            .map_err(|e| AppError::internal("matching configuration", e))?;
        // Every instance is its own consumer group, so each engine sees every event. Subscribing
        // before the rebuild means no event can fall between the two; events already in the
        // rebuild are skipped.
        let group = format!("symbiont-{}", uuid::Uuid::now_v7().simple());
        let subscription = bus
            .subscribe(&group)
            .await
            .map_err(|e| AppError::unavailable("event bus", e))?;
        let started = std::time::Instant::now();
        let live_matches = live_matches::LiveMatches::start(store.as_ref(), engine)
            .await?
            .with_feed(feed);
        let rebuild_seconds = started.elapsed().as_secs_f64();
        let signing_secret = match security.signing_secret {
            Some(secret) => secret,
            None => {
                store
                    .accounts()
                    .signing_secret(&identity::random_secret())
                    .await?
            }
        };
        let limiter = match shared_rate_limits {
            Some(state) => rate_limit::RateLimiter::shared(security.rate_limit, state),
            None => rate_limit::RateLimiter::in_process(security.rate_limit),
        };
        let app = Arc::new(App {
            auth: identity::AuthSettings {
                access_ttl: security.access_ttl,
                refresh_ttl: security.refresh_ttl,
                session_max_age: security.session_max_age,
                signing_key: signing_secret.into_bytes(),
                open_registration: security.open_registration,
            },
            key_usage: identity::KeyUsage::default(),
            account_cache: identity::AccountCache::default(),
            password_hashing: identity::PasswordHashing::per_core(),
            limiter,
            audit: audit::AuditLog::start(store.clone()),
            full_scans: tokio::sync::Semaphore::new(match_queries::full_scan_permits()),
            store,
            taxonomy,
            write_lock: tokio::sync::Mutex::new(()),
            live_matches,
            network: network::NetworkProjection::new(graph),
            bus,
            relay_wake: tokio::sync::Notify::new(),
            cache,
            computing: response_cache::SingleFlight::default(),
            read_your_writes,
            rebuild_seconds,
            flight_recorder: flight_recorder::FlightRecorder::installed(),
        });
        // The network projection is written off the start-up path (`network::initial_projection`):
        // by the projection task, or by the first network query, which waits for it.
        Ok((app, subscription))
    }

    /// Whether this instance can serve: its store answers.
    pub async fn check_ready(&self) -> Result<(), AppError> {
        self.store
            .ping()
            .await
            .map_err(|e| AppError::unavailable("store ping", e))
    }
}
