//! The gateway's outer layers, built into the service rather than run as a separate proxy: a global
//! concurrency limit that sheds load (503 + `Retry-After`) instead of queueing without end, CORS
//! from configuration, security headers on every answer, and `Deprecation`/`Sunset` headers on
//! routes that are being retired (so `/api/v1` can give way to `/api/v2` gracefully).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::state::SharedState;

/// A route prefix being retired.
#[derive(Debug, Clone, PartialEq)]
pub struct Deprecation {
    /// Requests whose path starts with this get the headers, e.g. `/api/v1/stats`.
    pub path_prefix: String,
    /// When it was deprecated (`Deprecation: @<unix seconds>`, RFC 9745).
    pub deprecated_at: DateTime<Utc>,
    /// When it stops working (`Sunset`, RFC 8594), if decided.
    pub sunset: Option<DateTime<Utc>>,
    /// Where to go instead (`Link: <…>; rel="successor-version"`).
    pub successor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Requests handled at once; more are refused with 503. 0 = no limit.
    pub max_concurrent_requests: usize,
    /// Origins allowed to call the API from a browser; `*` for any. Empty: no CORS headers.
    pub cors_allowed_origins: Vec<String>,
    pub deprecations: Vec<Deprecation>,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            max_concurrent_requests: 1024,
            cors_allowed_origins: Vec::new(),
            deprecations: Vec::new(),
        }
    }
}

/// The permits of the concurrency limit.
pub struct LoadShedder {
    permits: Option<Arc<Semaphore>>,
}

impl LoadShedder {
    pub fn new(max_concurrent_requests: usize) -> Self {
        Self {
            permits: (max_concurrent_requests > 0)
                .then(|| Arc::new(Semaphore::new(max_concurrent_requests))),
        }
    }
}

/// Paths that must answer even when the server is saturated (liveness and metrics).
fn exempt_from_shedding(path: &str) -> bool {
    path == "/healthz" || path == "/metrics"
}

/// Middleware: refuses a request at once when the concurrency limit is reached.
pub async fn shed_load(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let Some(permits) = &state.shedder.permits else {
        return next.run(request).await;
    };
    if exempt_from_shedding(request.uri().path()) {
        return next.run(request).await;
    }
    match permits.clone().try_acquire_owned() {
        Ok(permit) => {
            let response = next.run(request).await;
            drop(permit);
            response
        }
        Err(_) => {
            state
                .metrics
                .shed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ApiError::Overloaded.into_response()
        }
    }
}

const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("cross-origin-opener-policy", "same-origin"),
];

fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Middleware: security headers on every answer, and deprecation headers where configured.
pub async fn response_headers(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let deprecation = state
        .gateway
        .deprecations
        .iter()
        .find(|d| request.uri().path().starts_with(&d.path_prefix))
        .cloned();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    }
    if let Some(d) = deprecation {
        if let Ok(value) = HeaderValue::from_str(&format!("@{}", d.deprecated_at.timestamp())) {
            headers.insert("deprecation", value);
        }
        if let Some(sunset) = d.sunset
            && let Ok(value) = HeaderValue::from_str(&http_date(sunset))
        {
            headers.insert("sunset", value);
        }
        if let Some(successor) = &d.successor
            && let Ok(value) =
                HeaderValue::from_str(&format!("<{successor}>; rel=\"successor-version\""))
        {
            headers.append(header::LINK, value);
        }
    }
    response
}

/// CORS for the configured origins, or `None` when none are.
pub fn cors(settings: &GatewaySettings) -> Option<CorsLayer> {
    if settings.cors_allowed_origins.is_empty() {
        return None;
    }
    let origins = if settings.cors_allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            settings
                .cors_allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                HeaderName::from_static("x-api-key"),
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                header::ETAG,
                header::LOCATION,
                header::RETRY_AFTER,
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("ratelimit-limit"),
                HeaderName::from_static("ratelimit-remaining"),
                HeaderName::from_static("ratelimit-reset"),
                HeaderName::from_static("deprecation"),
                HeaderName::from_static("sunset"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}
