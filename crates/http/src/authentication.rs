//! The gateway's authentication layer: reads the credential of a request (`Authorization: Bearer
//! …` or `X-API-Key: …`), resolves it to a [`Caller`] through the app's identity use case and puts
//! it in the request; [`Authenticated`] hands it to a handler. Writes without credentials that
//! allow writing are refused here, before their body is read.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use symbiont_app::AppError;
use symbiont_app::identity::{API_KEY_PREFIX, Caller, caller_of};

use crate::rate_limiting::client_ip;

use crate::error::ApiError;
use crate::state::SharedState;

/// The caller of the request, as the authentication layer resolved it (anonymous without one).
pub struct Authenticated(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Authenticated(caller_in(&parts.extensions)))
    }
}

fn caller_in(extensions: &axum::http::Extensions) -> Caller {
    extensions.get::<Caller>().cloned().unwrap_or_default()
}

/// The credential in the request, if any: `Authorization: Bearer …` or `X-API-Key: …`.
fn presented(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value
            .to_str()
            .map_err(|_| ApiError::Unauthorized("the Authorization header is unreadable".into()))?;
        let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::Unauthorized(
                "the Authorization header must be 'Bearer <token or API key>'".into(),
            ));
        }
        return Ok(Some(token.trim()));
    }
    if let Some(value) = headers.get("x-api-key") {
        let key = value
            .to_str()
            .map_err(|_| ApiError::Unauthorized("the X-API-Key header is unreadable".into()))?;
        return Ok(Some(key.trim()));
    }
    Ok(None)
}

/// Resolves the credential of a request, if it carries one. Invalid credentials are a 401 even on
/// public endpoints: a client that sends a token expects it to count. `cached`: a read may use an
/// account resolved in the last seconds.
///
/// An API key from an address whose failed lookups are past the login quota is refused with 429
/// before the store is asked; each unknown or revoked key counts against it
/// (`RateLimiter::credential_lookup_refused`).
pub async fn caller_of_request(
    state: &SharedState,
    headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
    cached: bool,
) -> Result<Caller, Response> {
    let credential = presented(headers).map_err(IntoResponse::into_response)?;
    let api_key = credential.filter(|c| c.starts_with(API_KEY_PREFIX));
    let client_ip = api_key.map(|_| client_ip(&state.limiter, headers, peer));
    if let Some(ip) = &client_ip
        && let Some(verdict) = state.limiter.credential_lookup_refused(ip)
    {
        let mut refused = ApiError::TooManyRequests {
            retry_after_secs: verdict.retry_after_secs.ceil().max(1.0) as u64,
        }
        .into_response();
        crate::rate_limiting::write_headers(&verdict, refused.headers_mut());
        return Err(refused);
    }
    match caller_of(state, credential, cached).await {
        Ok(caller) => Ok(caller),
        Err(error) => {
            if let (Some(ip), AppError::Unauthorized(_)) = (&client_ip, &error) {
                state.limiter.count_failed_lookup(ip).await;
            }
            Err(ApiError::from(error).into_response())
        }
    }
}

/// Writes anyone may make without credentials: signing in and registering; and `POST /graphql`,
/// which carries queries too (its mutations check for credentials that allow writing themselves).
fn open_write(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/auth/login"
            | "/api/v1/auth/refresh"
            | "/api/v1/auth/logout"
            | "/api/v1/auth/register"
            | "/graphql"
    )
}

/// Middleware: authenticates the request and stores the [`Caller`] in its extensions. A write
/// (any method but GET/HEAD/OPTIONS) needs credentials that allow writing, checked here before the
/// body is read; which data the caller may write is the use case's check.
pub async fn authenticate(
    State(state): State<SharedState>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method();
    let writes = !(method == Method::GET || method == Method::HEAD || method == Method::OPTIONS);
    let peer = crate::rate_limiting::peer(&request);
    let caller = match caller_of_request(&state, request.headers(), peer, !writes).await {
        Ok(caller) => caller,
        Err(refused) => return refused,
    };
    if writes
        && !open_write(request.uri().path())
        && let Err(error) = caller.writer()
    {
        let mut refused = ApiError::from(error).into_response();
        // The audit trail (outside this layer) names who was refused.
        refused.extensions_mut().insert(caller);
        return refused;
    }
    request.extensions_mut().insert(caller.clone());
    let mut response = next.run(request).await;
    if writes {
        // The audit trail sits outside this layer, so that writes refused here or by the rate
        // limiter are recorded too; it learns the caller from the response.
        response.extensions_mut().insert(caller);
    }
    response
}

/// Route middleware of `/api/v1/admin/*`: platform admins only.
pub async fn admin_only(request: Request, next: Next) -> Response {
    match caller_in(request.extensions()).require_admin() {
        Ok(_) => next.run(request).await,
        Err(error) => ApiError::from(error).into_response(),
    }
}
