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
///
/// The last entry across *all* header lines, because a client may send its own `X-Forwarded-For`
/// lines (one per entry, or several comma-separated); only what the trusted proxy appended, the
/// very last entry, is not the client's choice. Reading the first line would let each request
/// pick a fresh IP and escape every per-IP limit. An unparseable last entry falls back to the peer.
pub fn client_ip(limiter: &RateLimiter, headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    if limiter.settings.trust_forwarded_for
        && let Some(forwarded) = last_forwarded_for(headers)
    {
        return forwarded.to_string();
    }
    peer.map_or_else(|| "unknown".to_string(), |p| p.ip().to_string())
}

/// The last non-empty `X-Forwarded-For` entry over every line of the header, if it is an IP.
fn last_forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last_line = headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .find(|line| !line.as_bytes().iter().all(u8::is_ascii_whitespace))?;
    let entry = last_line
        .to_str()
        .ok()?
        .rsplit(',')
        .map(str::trim)
        .find(|entry| !entry.is_empty())?;
    entry.parse::<IpAddr>().ok()
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

#[cfg(test)]
mod tests {
    use super::*;
    use symbiont_app::rate_limit::RateLimitSettings;

    fn limiter(trust_forwarded_for: bool) -> RateLimiter {
        RateLimiter::in_process(RateLimitSettings {
            trust_forwarded_for,
            ..RateLimitSettings::default()
        })
    }

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(
                "x-forwarded-for",
                HeaderValue::from_str(line).expect("test header"),
            );
        }
        headers
    }

    const PEER: &str = "10.0.0.9:4000";

    fn peer() -> Option<SocketAddr> {
        PEER.parse().ok()
    }

    #[test]
    fn a_spoofed_first_forwarded_for_line_does_not_choose_the_client_ip() {
        // The attacker sends its own line; the proxy appends the real address as another line.
        let h = headers(&["203.0.113.66", "198.51.100.7"]);
        assert_eq!(client_ip(&limiter(true), &h, peer()), "198.51.100.7");
    }

    #[test]
    fn the_last_entry_of_the_last_line_is_the_client_ip() {
        let h = headers(&["1.1.1.1, 2.2.2.2", "3.3.3.3, 198.51.100.7 "]);
        assert_eq!(client_ip(&limiter(true), &h, peer()), "198.51.100.7");
    }

    #[test]
    fn forwarded_for_is_ignored_unless_trusted() {
        let h = headers(&["198.51.100.7"]);
        assert_eq!(client_ip(&limiter(false), &h, peer()), "10.0.0.9");
    }

    #[test]
    fn an_unparseable_last_entry_falls_back_to_the_peer() {
        let h = headers(&["198.51.100.7", "not-an-ip"]);
        assert_eq!(client_ip(&limiter(true), &h, peer()), "10.0.0.9");
    }
}
