//! Liveness, readiness and the OpenAPI document.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::state::SharedState;

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "live",
    tag = "operations",
    summary = "Liveness: the process is up",
    responses((status = 200, description = "OK", body = crate::openapi::Health)),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn live() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

/// The process can serve: the store answers.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "ready",
    tag = "operations",
    summary = "Readiness: the store answers",
    responses(
        (status = 200, description = "OK", body = crate::openapi::Health),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn ready(State(state): State<SharedState>) -> Result<Response, ApiError> {
    state.check_ready().await?;
    Ok(axum::Json(json!({ "status": "ready" })).into_response())
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    summary = "This document (OpenAPI 3.1)",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn openapi() -> Response {
    let mut response = crate::openapi::json().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
