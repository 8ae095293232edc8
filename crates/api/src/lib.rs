//! Symbiont's HTTP API: `/api/v1` over axum, with problem+json errors (RFC 9457), request ids,
//! tracing, body limits and timeouts. Handlers are thin; use cases live in [`service`].

pub mod audit;
pub mod auth;
pub mod cache;
pub mod error;
pub mod events;
pub mod extract;
pub mod flight_recorder;
pub mod gateway;
pub mod json;
pub mod matching;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
mod routes;
pub mod service;
pub mod state;
pub mod telemetry;
pub mod visibility;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use state::{AppState, HttpSettings, SecuritySettings, SharedState};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP application with its middleware.
pub fn app(state: SharedState) -> Router {
    use axum::middleware::from_fn_with_state;
    let http = state.http.clone();
    let cors = gateway::cors(&state.gateway);
    // Outermost last: shed load, authenticate, rate-limit, then (per route) metrics and audit.
    let router = routes::router()
        .route_layer(from_fn_with_state(state.clone(), audit::record))
        .route_layer(from_fn_with_state(state.clone(), metrics::track))
        .layer(from_fn_with_state(state.clone(), ratelimit::limit))
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(from_fn_with_state(state.clone(), gateway::shed_load))
        .with_state(state.clone())
        .layer(axum::middleware::map_response(
            error::problem_for_bare_errors,
        ))
        .layer(from_fn_with_state(state, gateway::response_headers));
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router
        .layer(DefaultBodyLimit::max(http.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, http.request_timeout))
        .layer(CatchPanicLayer::custom(|_panic| {
            tracing::error!("a handler panicked");
            error::ApiError::Internal("handler panicked".into()).into_response_boxed()
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            if !telemetry::enabled() {
                return tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id);
            }
            // Exported: a server span that continues the caller's trace; `metrics::track` renames it
            // after the matched route and records the status.
            let span = tracing::info_span!(
                "http",
                method = %request.method(),
                path = %request.uri().path(),
                request_id,
                trace_id = tracing::field::Empty,
                otel.kind = "server",
                otel.name = %request.method(),
                otel.status_code = tracing::field::Empty,
                http.route = tracing::field::Empty,
                http.response.status_code = tracing::field::Empty,
            );
            telemetry::continue_trace(&span, request.headers());
            span
        })
        // One line per request at info: status and latency, inside the span with the request id.
        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

impl error::ApiError {
    fn into_response_boxed(self) -> axum::response::Response {
        axum::response::IntoResponse::into_response(self)
    }
}

/// Builds the shared state: subscribes this instance to the bus, rebuilds the matching engine from
/// the store and reconciles decisions. Returns the state and the subscription for [`events::start`].
pub async fn state(
    store: Arc<dyn symbiont_store::Store>,
    taxonomy: Arc<symbiont_core::Taxonomy>,
    matching: symbiont_matching::MatchingConfig,
    bus: Arc<dyn symbiont_bus::EventBus>,
    cache: cache::ResponseCache,
    http: HttpSettings,
    security: SecuritySettings,
) -> Result<(SharedState, Box<dyn symbiont_bus::Subscription>), error::ApiError> {
    let engine = symbiont_matching::Engine::new(taxonomy.clone(), matching)
        .map_err(|e| error::ApiError::Internal(format!("matching configuration: {e}")))?;
    // Every instance is its own consumer group, so each engine sees every event. Subscribing before
    // the rebuild means no event can fall between the two; events already in the rebuild are skipped.
    let group = format!("symbiont-{}", uuid::Uuid::now_v7().simple());
    let subscription = bus
        .subscribe(&group)
        .await
        .map_err(|e| error::ApiError::Unavailable(format!("event bus: {e}")))?;
    let started = std::time::Instant::now();
    let matching = matching::Matching::start(store.as_ref(), engine).await?;
    let metrics_registry = metrics::Metrics::default();
    *metrics_registry
        .rebuild_seconds
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = started.elapsed().as_secs_f64();
    let signing_secret = match security.signing_secret {
        Some(secret) => secret,
        None => {
            store
                .accounts()
                .signing_secret(&auth::random_secret())
                .await?
        }
    };
    let limiter = match &security.rate_limit_redis_url {
        Some(url) => {
            match ratelimit::RateLimiter::redis(security.rate_limit.clone(), url, "symbiont").await
            {
                Ok(limiter) => limiter,
                Err(error) => {
                    tracing::warn!(%error, "Redis unavailable at start; rate limits are per instance");
                    ratelimit::RateLimiter::in_process(security.rate_limit.clone())
                }
            }
        }
        None => ratelimit::RateLimiter::in_process(security.rate_limit.clone()),
    };
    let state = Arc::new(AppState {
        auth: auth::AuthSettings {
            access_ttl: security.access_ttl,
            refresh_ttl: security.refresh_ttl,
            signing_key: signing_secret.into_bytes(),
            open_registration: security.open_registration,
        },
        key_usage: auth::KeyUsage::default(),
        account_cache: auth::AccountCache::default(),
        limiter,
        shedder: gateway::LoadShedder::new(security.gateway.max_concurrent_requests),
        gateway: security.gateway,
        audit: audit::AuditLog::start(store.clone()),
        store,
        taxonomy,
        write_lock: tokio::sync::Mutex::new(()),
        matching,
        bus,
        relay_wake: tokio::sync::Notify::new(),
        cache,
        computing: cache::SingleFlight::default(),
        metrics: metrics_registry,
        flight_recorder: flight_recorder::FlightRecorder::installed(),
        http,
    });
    Ok((state, subscription))
}
