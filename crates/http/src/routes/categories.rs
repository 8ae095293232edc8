//! `/api/v1/categories`: the taxonomy, read-only.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::state::SharedState;

#[utoipa::path(
    get,
    path = "/api/v1/categories",
    operation_id = "listCategories",
    tag = "categories",
    summary = "The resource taxonomy",
    params(
        ("group" = Option<String>, Query, description = "heat, steam, cooling, water, gas or material."),
    ),
    responses(
        (status = 200, description = "OK", body = crate::openapi::CategoryList),
        (status = 400, response = crate::openapi::BadRequest),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn list(
    State(state): State<SharedState>,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let group = query.take("group");
    query.finish()?;
    let listing = state.categories(group.as_deref());
    Ok(axum::Json(json!({ "version": listing.version, "items": listing.items })).into_response())
}

/// One category with the rules that connect it: what it can serve (as an offer) and what can serve it.
#[utoipa::path(
    get,
    path = "/api/v1/categories/{code}",
    operation_id = "getCategory",
    tag = "categories",
    summary = "One category with the rules that connect it",
    params(("code" = String, Path, description = "A category code.", example = "heat.low_temp")),
    responses(
        (status = 200, description = "OK", body = crate::openapi::CategoryDetail),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn get(
    State(state): State<SharedState>,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let rules = state.category_rules(&code)?;
    let mut body =
        serde_json::to_value(rules.category).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["serves"] = json!(rules.serves);
    body["served_by"] = json!(rules.served_by);
    Ok(axum::Json(body).into_response())
}
