//! Prometheus metrics, exposed in the text format at `GET /metrics`: HTTP requests by route, method
//! and status with a latency histogram, requests in flight, engine figures (with a histogram of
//! incremental updates), store connection pools, and build info. Names
//! follow Prometheus conventions (`_total`, `_seconds`). Hand-written to stay small: a handful of
//! counters and histograms behind one short-held lock.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::SharedState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Default)]
pub struct Metrics {
    /// (method, route, status) → request latency.
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    in_flight: AtomicI64,
    /// Requests refused by the rate limiter (429).
    pub rate_limited: std::sync::atomic::AtomicU64,
    /// Requests shed at the concurrency limit (503).
    pub shed: std::sync::atomic::AtomicU64,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut requests = self
            .requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default()
            .observe(seconds);
    }

    fn render(&self, state: &SharedState) -> String {
        let mut out = String::new();
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let _ = writeln!(
            out,
            "# HELP symbiont_http_requests_total HTTP requests answered, by method, route and status."
        );
        let _ = writeln!(out, "# TYPE symbiont_http_requests_total counter");
        for ((method, route, status), h) in &requests {
            let _ = writeln!(
                out,
                "symbiont_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                h.count
            );
        }
        // Latency per method and route (statuses merged), as a cumulative histogram.
        let mut by_route: BTreeMap<(&str, &str), Histogram> = BTreeMap::new();
        for ((method, route, _), h) in &requests {
            let merged = by_route.entry((method, route)).or_default();
            for (i, c) in h.counts.iter().enumerate() {
                merged.counts[i] += c;
            }
            merged.count += h.count;
            merged.sum += h.sum;
        }
        let _ = writeln!(
            out,
            "# HELP symbiont_http_request_duration_seconds Time to answer an HTTP request."
        );
        let _ = writeln!(
            out,
            "# TYPE symbiont_http_request_duration_seconds histogram"
        );
        for ((method, route), h) in &by_route {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "symbiont_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "symbiont_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "symbiont_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "symbiont_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        let engine = state.live_matches.engine_stats();
        let gauges = [
            (
                "symbiont_http_requests_in_flight",
                "HTTP requests being answered.",
                self.in_flight.load(Ordering::Relaxed) as f64,
            ),
            (
                "symbiont_engine_flows",
                "Flows held by the matching engine.",
                engine.flows as f64,
            ),
            (
                "symbiont_engine_matches",
                "Live matches in the engine.",
                engine.matches as f64,
            ),
            (
                "symbiont_engine_memory_bytes",
                "Approximate memory of the engine.",
                engine.approx_memory_bytes as f64,
            ),
            (
                "symbiont_engine_last_rebuild_seconds",
                "Duration of the last full rebuild.",
                state.rebuild_seconds,
            ),
            (
                "symbiont_graph_projection_lag_seconds",
                "How far the network graph projection is behind the engine: age of the oldest event not yet written, else the delay of the last write.",
                state.network.lag_seconds(),
            ),
            (
                "symbiont_graph_projection_pending_needs",
                "Needs whose serving exchange waits to be written to the graph.",
                state.network.pending_needs() as f64,
            ),
            (
                "symbiont_feed_connections",
                "Live feed connections (WebSocket and SSE) open on this instance.",
                state.live_feed().connections() as f64,
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP symbiont_graph_projection_failures_total Writes to the network graph that failed (each is retried).\n# TYPE symbiont_graph_projection_failures_total counter\nsymbiont_graph_projection_failures_total {}",
            state.network.failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP symbiont_engine_events_applied_total Domain events applied to the engine."
        );
        let _ = writeln!(out, "# TYPE symbiont_engine_events_applied_total counter");
        let _ = writeln!(
            out,
            "symbiont_engine_events_applied_total {}",
            state.live_matches.generation()
        );
        let _ = writeln!(
            out,
            "# HELP symbiont_feed_events_total Live feed events published by this instance since it started.\n# TYPE symbiont_feed_events_total counter\nsymbiont_feed_events_total {}",
            state.live_feed().head()
        );
        state.live_matches.update_durations.render(&mut out);
        let pools = state.store.pool_status();
        let _ = writeln!(
            out,
            "# HELP symbiont_store_pool_connections Database connections by pool and state (in_use, idle).\n# TYPE symbiont_store_pool_connections gauge"
        );
        for p in &pools {
            let _ = writeln!(
                out,
                "symbiont_store_pool_connections{{pool=\"{}\",state=\"in_use\"}} {}\nsymbiont_store_pool_connections{{pool=\"{}\",state=\"idle\"}} {}",
                p.pool, p.in_use, p.pool, p.idle
            );
        }
        let _ = writeln!(
            out,
            "# HELP symbiont_store_pool_max_connections Most connections a pool may open.\n# TYPE symbiont_store_pool_max_connections gauge"
        );
        for p in &pools {
            let _ = writeln!(
                out,
                "symbiont_store_pool_max_connections{{pool=\"{}\"}} {}",
                p.pool, p.max
            );
        }
        for (name, help, value) in [
            (
                "symbiont_http_rate_limited_total",
                "Requests refused by the rate limiter (429).",
                self.rate_limited.load(Ordering::Relaxed),
            ),
            (
                "symbiont_http_shed_total",
                "Requests shed at the concurrency limit (503).",
                self.shed.load(Ordering::Relaxed),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP symbiont_build_info Build information.\n# TYPE symbiont_build_info gauge"
        );
        let _ = writeln!(
            out,
            "symbiont_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out
    }
}

/// Counts and times every request to a known route; the label is the matched pattern
/// (`/api/v1/flows/{id}`), so label values stay few. Requests to unknown paths are not counted.
pub async fn track(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str)
        .to_string();
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let span = symbiont_app::trace_context::enabled().then(|| {
        let span = tracing::Span::current();
        symbiont_app::trace_context::rename(&span, format!("{method} {route}"));
        span.record("http.route", route.as_str());
        span
    });
    state.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let response = next.run(request).await;
    state.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    if let Some(span) = span {
        span.record("http.response.status_code", response.status().as_u16());
        if response.status().is_server_error() {
            span.record("otel.status_code", "error");
        }
    }
    state.metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "Prometheus metrics (text exposition format)",
    description = "symbiont_http_requests_total{method,route,status}, symbiont_http_request_duration_seconds (histogram by method and route), symbiont_http_requests_in_flight, symbiont_engine_flows, symbiont_engine_matches, symbiont_engine_memory_bytes, symbiont_engine_last_rebuild_seconds, symbiont_engine_events_applied_total, symbiont_engine_update_duration_seconds (histogram of incremental engine updates), symbiont_feed_connections, symbiont_feed_events_total, symbiont_graph_projection_lag_seconds, symbiont_graph_projection_pending_needs, symbiont_graph_projection_failures_total, symbiont_store_pool_connections{pool,state} (state in_use or idle), symbiont_store_pool_max_connections{pool}, symbiont_build_info.",
    responses(
        (status = 200, description = "Metrics", body = String, content_type = "text/plain"),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn render(State(state): State<SharedState>) -> Response {
    let mut response = state.metrics.render(&state).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
