//! `/api/v1/businesses`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use symbiont_core::BusinessDraft;
use symbiont_store::BusinessFilter;

use super::entity;
use crate::error::ApiError;
use crate::extract::{Json, QueryParams, if_match, parse_id};
use crate::state::SharedState;

pub async fn list(
    State(state): State<SharedState>,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let page = query.take_page()?;
    let industry = query
        .take("industry")
        .map(|i| i.trim().to_ascii_uppercase());
    query.finish()?;
    let page = state
        .store
        .list_businesses(&BusinessFilter { industry }, page)
        .await?;
    Ok(axum::Json(page).into_response())
}

pub async fn create(
    State(state): State<SharedState>,
    Json(draft): Json<BusinessDraft>,
) -> Result<Response, ApiError> {
    let business = state.create_business(draft).await?;
    let location = format!("/api/v1/businesses/{}", business.id);
    Ok(entity(
        StatusCode::CREATED,
        &business,
        business.version,
        Some(location),
    ))
}

pub async fn get(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let business = state.business(parse_id(&id, "business")?).await?;
    Ok(entity(StatusCode::OK, &business, business.version, None))
}

pub async fn update(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let business = state
        .update_business(parse_id(&id, "business")?, &patch, if_match(&headers)?)
        .await?;
    Ok(entity(StatusCode::OK, &business, business.version, None))
}

pub async fn delete(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.delete_business(parse_id(&id, "business")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
