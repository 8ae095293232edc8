//! `/api/v1/categories`: the taxonomy, read-only.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::state::SharedState;

pub async fn list(
    State(state): State<SharedState>,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let group = query.take("group");
    query.finish()?;
    let items: Vec<_> = state
        .taxonomy
        .categories()
        .iter()
        .filter(|c| group.as_ref().is_none_or(|g| c.group == *g))
        .collect();
    Ok(axum::Json(json!({ "version": state.taxonomy.version, "items": items })).into_response())
}

/// One category with the rules that connect it: what it can serve (as an offer) and what can serve it.
pub async fn get(
    State(state): State<SharedState>,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let category = state
        .taxonomy
        .category(&code)
        .ok_or_else(|| ApiError::NotFound(format!("no category '{code}'")))?;
    let serves: Vec<_> = state.taxonomy.rules_for_offer(&code).collect();
    let served_by: Vec<_> = state.taxonomy.rules_for_need(&code).collect();
    let mut body = serde_json::to_value(category).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["serves"] = json!(serves);
    body["served_by"] = json!(served_by);
    Ok(axum::Json(body).into_response())
}
