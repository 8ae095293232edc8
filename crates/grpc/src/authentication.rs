//! Who is calling: the credential in a call's metadata (`authorization: Bearer <access token or
//! API key>`, or `x-api-key: <key>`), resolved by the app's identity use case exactly as the REST
//! gateway resolves its headers, with the same rate limits per API key, user or client address.
//! Writes need credentials that allow writing, checked before the request is used.
//!
//! It decides only who the caller is; which data the caller may touch is the use cases' check.

use std::net::SocketAddr;

use symbiont_app::identity::{API_KEY_PREFIX, Caller, Credential, caller_of};
use symbiont_app::{App, AppError};
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::error::status_of;

/// Whether a call reads or writes (writes resolve accounts afresh and need a writing credential).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// The credential a call presents, if any. A malformed `authorization` value is refused, as REST
/// refuses the header: a client that sends credentials expects them to count.
pub fn presented(metadata: &MetadataMap) -> Result<Option<String>, Status> {
    if let Some(value) = metadata.get("authorization") {
        let text = value
            .to_str()
            .map_err(|_| Status::unauthenticated("the authorization metadata is unreadable"))?;
        let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(Status::unauthenticated(
                "the authorization metadata must be 'Bearer <token or API key>'",
            ));
        }
        return Ok(Some(token.trim().to_string()));
    }
    if let Some(value) = metadata.get("x-api-key") {
        let key = value
            .to_str()
            .map_err(|_| Status::unauthenticated("the x-api-key metadata is unreadable"))?;
        return Ok(Some(key.trim().to_string()));
    }
    Ok(None)
}

/// Resolves `credential` for a call from `peer`, counts the call against the caller's rate limit
/// and, for writes, checks that the credential may write.
pub async fn authenticate(
    app: &App,
    credential: Option<&str>,
    peer: Option<SocketAddr>,
    access: Access,
) -> Result<Caller, Status> {
    let client_ip = peer.map_or_else(|| "unknown".to_string(), |p| p.ip().to_string());
    let api_key = credential.filter(|c| c.starts_with(API_KEY_PREFIX));
    // Guessing API keys costs a failed lookup each; past the login quota an address is refused
    // before the store is asked, as on the REST gateway.
    if api_key.is_some()
        && let Some(verdict) = app.limiter.credential_lookup_refused(&client_ip)
    {
        return Err(too_many_requests(verdict.retry_after_secs));
    }
    let caller = match caller_of(app, credential, access == Access::Read).await {
        Ok(caller) => caller,
        Err(error) => {
            if api_key.is_some() && matches!(error, AppError::Unauthorized(_)) {
                app.limiter.count_failed_lookup(&client_ip).await;
            }
            return Err(status_of(error));
        }
    };
    if app.limiter.settings.enabled {
        let (key, quota) = match caller.account() {
            Some(account) => match account.credential {
                Credential::ApiKey { id, .. } => {
                    (format!("key:{id}"), app.limiter.settings.api_key)
                }
                Credential::AccessToken => (
                    format!("user:{}", account.user_id),
                    app.limiter.settings.user,
                ),
            },
            None => (format!("ip:{client_ip}"), app.limiter.settings.anonymous),
        };
        let verdict = app.limiter.check(&key, quota).await;
        if !verdict.allowed {
            return Err(too_many_requests(verdict.retry_after_secs));
        }
    }
    if access == Access::Write {
        caller.writer().map_err(status_of)?;
    }
    Ok(caller)
}

fn too_many_requests(retry_after_secs: f64) -> Status {
    let seconds = retry_after_secs.ceil().max(1.0);
    let mut status =
        Status::resource_exhausted(format!("too many requests; retry after {seconds} s"));
    if let Ok(value) = seconds.to_string().parse() {
        status.metadata_mut().insert("retry-after", value);
    }
    status
}
