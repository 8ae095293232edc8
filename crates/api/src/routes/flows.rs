//! `/api/v1/flows` and `/api/v1/businesses/{id}/flows`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use symbiont_core::{Direction, FlowDraft, FlowStatus};
use symbiont_store::FlowFilter;
use uuid::Uuid;

use super::check_category_filter;
use super::entity;
use crate::error::ApiError;
use crate::extract::{Json, QueryParams, if_match, parse_id};
use crate::state::SharedState;

fn take_filter(query: &mut QueryParams, business_id: Option<Uuid>) -> Result<FlowFilter, ApiError> {
    let direction = match query.take("direction").as_deref() {
        None => None,
        Some("offer") => Some(Direction::Offer),
        Some("need") => Some(Direction::Need),
        Some(other) => {
            return Err(ApiError::bad_request(
                "direction",
                format!("'{other}' is neither offer nor need"),
            ));
        }
    };
    let status = match query.take("status").as_deref() {
        None => None,
        Some("active") => Some(FlowStatus::Active),
        Some("paused") => Some(FlowStatus::Paused),
        Some(other) => {
            return Err(ApiError::bad_request(
                "status",
                format!("'{other}' is neither active nor paused"),
            ));
        }
    };
    let business_id = match business_id {
        Some(id) => Some(id),
        None => query.take_uuid("business_id")?,
    };
    Ok(FlowFilter {
        direction,
        category: query.take("category"),
        business_id,
        site_id: query.take_uuid("site_id")?,
        status,
        near: query.take_near()?,
    })
}

async fn list_filtered(
    state: &SharedState,
    mut query: QueryParams,
    business_id: Option<Uuid>,
) -> Result<Response, ApiError> {
    let page = query.take_page()?;
    let filter = take_filter(&mut query, business_id)?;
    query.finish()?;
    check_category_filter(state, filter.category.as_deref())?;
    let page = state.store.list_flows(&filter, page).await?;
    Ok(axum::Json(page).into_response())
}

pub async fn list(
    State(state): State<SharedState>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    list_filtered(&state, query, None).await
}

pub async fn list_of_business(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let business = state.business(parse_id(&id, "business")?).await?;
    list_filtered(&state, query, Some(business.id)).await
}

pub async fn create(
    State(state): State<SharedState>,
    Json(draft): Json<FlowDraft>,
) -> Result<Response, ApiError> {
    let flow = state.create_flow(draft).await?;
    let location = format!("/api/v1/flows/{}", flow.id);
    Ok(entity(
        StatusCode::CREATED,
        &flow,
        flow.version,
        Some(location),
    ))
}

pub async fn get(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let flow = state.flow(parse_id(&id, "flow")?).await?;
    Ok(entity(StatusCode::OK, &flow, flow.version, None))
}

pub async fn update(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let flow = state
        .update_flow(parse_id(&id, "flow")?, &patch, if_match(&headers)?)
        .await?;
    Ok(entity(StatusCode::OK, &flow, flow.version, None))
}

pub async fn delete(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.delete_flow(parse_id(&id, "flow")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
