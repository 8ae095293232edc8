//! Liveness, readiness and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::SharedState;

// What a probe answers when all is well.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    #[schema(inline)]
    pub status: HealthStatus,
}

/// `ok` from the liveness probe, `ready` from the readiness probe.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    Ready,
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "live",
    tag = "operations",
    summary = "Liveness: the process is up",
    responses((status = 200, description = "OK", body = Health)),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn live() -> Json<Health> {
    Json(Health {
        status: HealthStatus::Ok,
    })
}

/// The process can serve: the store answers.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "ready",
    tag = "operations",
    summary = "Readiness: the store answers",
    responses(
        (status = 200, description = "OK", body = Health),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn ready(State(state): State<SharedState>) -> Result<Json<Health>, ApiError> {
    state.check_ready().await?;
    Ok(Json(Health {
        status: HealthStatus::Ready,
    }))
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
