//! Symbiont's HTTP transport: `/api/v1` over axum. Handlers are thin (read the request, call one use
//! case of `symbiont_app`, write the answer); [`error`] is the one place an error becomes an RFC 9457
//! problem document; the gateway's layers (request ids, tracing, limits, CORS, load shedding,
//! [`authentication`], [`rate_limiting`], [`metrics`], the [`audit_trail`]) wrap the router; the
//! OpenAPI document is generated from the handlers and their typed bodies ([`openapi`]).
//!
//! This is the only crate that knows HTTP; it imports no store or bus adapter.

pub mod audit_trail;
pub mod authentication;
pub mod error;
pub mod extract;
pub mod gateway;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod rate_limiting;
mod routes;
pub mod state;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use symbiont_app::App;
use symbiont_app::trace_context;

pub use state::{HttpSettings, HttpState, SharedState};
pub use symbiont_graphql::GraphqlSettings;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP application with its middleware.
pub fn app(state: SharedState) -> Router {
    with_gateway(routes::router(), state)
}

/// `routes` inside the gateway's layers: the API's routes in [`app`]; tests pass their own (a
/// handler that panics or never finishes) to check what the layers answer.
pub fn with_gateway(routes: Router<SharedState>, state: SharedState) -> Router {
    use axum::middleware::from_fn_with_state;
    let http = state.http.clone();
    let cors = gateway::cors(&state.gateway);
    // Outermost last: shed load, audit, authenticate, rate-limit, then (per route) metrics. The
    // audit trail sits outside authentication and rate limiting so that the writes they refuse
    // (401, 403, 429) are in the log too; shed load (503) is not, since recording it would add
    // load exactly when there is too much.
    let router = routes
        .route_layer(from_fn_with_state(state.clone(), metrics::track))
        .layer(from_fn_with_state(state.clone(), rate_limiting::limit))
        .layer(from_fn_with_state(
            state.clone(),
            authentication::authenticate,
        ))
        .layer(from_fn_with_state(state.clone(), audit_trail::record))
        .layer(from_fn_with_state(state.clone(), gateway::shed_load))
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(http.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            http.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(|_panic| {
            tracing::error!("a handler panicked");
            error::ApiError::Internal("handler panicked".into()).into_response_boxed()
        }))
        // Outside the timeout and the panic catcher, so that their answers (a bare 408, a 500)
        // are problem documents with the security headers like every other answer.
        .layer(axum::middleware::map_response(
            error::problem_for_bare_errors,
        ))
        .layer(from_fn_with_state(state, gateway::response_headers));
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            if !trace_context::enabled() {
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
            trace_context::continue_trace(&span, &RequestHeaders(request.headers()));
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

/// The HTTP state over a started app.
pub fn state(app: Arc<App>, http: HttpSettings, gateway: gateway::GatewaySettings) -> SharedState {
    Arc::new(HttpState::new(app, http, gateway))
}

/// A request's headers as the carrier of an incoming trace context.
struct RequestHeaders<'a>(&'a axum::http::HeaderMap);

impl opentelemetry::propagation::Extractor for RequestHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}
