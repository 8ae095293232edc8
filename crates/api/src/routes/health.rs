//! Liveness, readiness and the OpenAPI document.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::state::SharedState;

/// The committed OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("../../../../api/openapi.json");

/// The process is up.
pub async fn live() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

/// The process can serve: the store answers.
pub async fn ready(State(state): State<SharedState>) -> Result<Response, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(axum::Json(json!({ "status": "ready" })).into_response())
}

pub async fn openapi() -> Response {
    let mut response = OPENAPI.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
