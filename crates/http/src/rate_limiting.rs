//! The gateway's rate-limiting layer: counts each request against its caller's quota (API key,
//! else user, else client IP) with the app's [`RateLimiter`], refuses with 429 past it, and writes
//! the `RateLimit-*` headers on every answer.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use symbiont_app::identity::{Caller, Credential};
use symbiont_app::rate_limit::{RateLimiter, Verdict};

use crate::error::ApiError;
use crate::state::SharedState;

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (and `Retry-After` when refused).
pub fn write_headers(verdict: &Verdict, headers: &mut HeaderMap) {
    if verdict.limit == 0 {
        return;
    }
    headers.insert("ratelimit-limit", HeaderValue::from(verdict.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(verdict.remaining));
    headers.insert(
        "ratelimit-reset",
        HeaderValue::from(verdict.reset_secs.ceil() as u64),
    );
}

/// The client address of a request: the peer, or the last `X-Forwarded-For` entry when the
/// configuration trusts a proxy.
pub fn client_ip(limiter: &RateLimiter, headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    if limiter.settings.trust_forwarded_for
        && let Some(forwarded) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
    {
        return forwarded.to_string();
    }
    peer.map_or_else(|| "unknown".to_string(), |p| p.ip().to_string())
}

/// Extractor of the connection's peer address (none when the server was not started with it).
pub struct Peer(pub Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0),
        ))
    }
}

/// The peer address axum recorded for the connection, if the server was started with it.
pub fn peer(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
}

/// Middleware (after authentication): counts the request against its caller's quota; refuses with
/// 429 past it. Every answer carries the `RateLimit-*` headers.
pub async fn limit(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let limiter = &state.limiter;
    if !limiter.settings.enabled {
        return next.run(request).await;
    }
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_default();
    let (key, quota) = match caller.account() {
        Some(account) => match account.credential {
            Credential::ApiKey { id, .. } => (format!("key:{id}"), limiter.settings.api_key),
            Credential::AccessToken => (format!("user:{}", account.user_id), limiter.settings.user),
        },
        None => (
            format!(
                "ip:{}",
                client_ip(limiter, request.headers(), peer(&request))
            ),
            limiter.settings.anonymous,
        ),
    };
    let verdict = limiter.check(&key, quota).await;
    let mut response = if verdict.allowed {
        next.run(request).await
    } else {
        state
            .metrics
            .rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ApiError::TooManyRequests {
            retry_after_secs: verdict.retry_after_secs.ceil().max(1.0) as u64,
        }
        .into_response()
    };
    // A handler's own, stricter limit (logins) speaks for itself.
    if !response.headers().contains_key("ratelimit-limit") {
        write_headers(&verdict, response.headers_mut());
    }
    response
}
