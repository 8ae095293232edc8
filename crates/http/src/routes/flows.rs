//! `/api/v1/flows` and `/api/v1/businesses/{id}/flows`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use symbiont_core::{Direction, FlowDraft, FlowStatus};
use symbiont_store::FlowFilter;
use uuid::Uuid;

use super::entity;
use super::pages::FlowPage;
use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::{Json, QueryParams, if_match, parse_id};
use crate::state::SharedState;
use symbiont_app::visibility::Viewer;

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
        hide_anonymous_except: None,
    })
}

async fn list_filtered(
    state: &SharedState,
    caller: &symbiont_app::identity::Caller,
    mut query: QueryParams,
    business_id: Option<Uuid>,
) -> Result<Response, ApiError> {
    let page = query.take_page()?;
    let filter = take_filter(&mut query, business_id)?;
    query.finish()?;
    state.check_category_filter(filter.category.as_deref())?;
    let page = state.flows(caller, filter, page).await?;
    Ok(crate::json::response(StatusCode::OK, &FlowPage::from(page)))
}

#[utoipa::path(
    get,
    path = "/api/v1/flows",
    operation_id = "listFlows",
    tag = "flows",
    summary = "List flows",
    description = "Anonymous flows of other businesses are left out.",
    params(
        crate::openapi::Paging,
        crate::openapi::BusinessFilter,
        crate::openapi::FlowFilters,
        crate::openapi::NearFilter,
    ),
    responses(
        (status = 200, description = "OK", body = FlowPage),
        (status = 400, response = crate::openapi::BadRequest),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn list(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    query: QueryParams,
) -> Result<Response, ApiError> {
    list_filtered(&state, &caller, query, None).await
}

#[utoipa::path(
    get,
    path = "/api/v1/businesses/{id}/flows",
    operation_id = "listBusinessFlows",
    tag = "flows",
    summary = "List a business's flows",
    description = "Anonymous flows are listed only to their business and platform admins.",
    params(
        ("id" = uuid::Uuid, Path, description = "The business's id."),
        crate::openapi::Paging,
        crate::openapi::FlowFilters,
        crate::openapi::NearFilter,
    ),
    responses(
        (status = 200, description = "OK", body = FlowPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn list_of_business(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let business = state.business(parse_id(&id, "business")?).await?;
    list_filtered(&state, &caller, query, Some(business.id)).await
}

#[utoipa::path(
    post,
    path = "/api/v1/flows",
    operation_id = "createFlow",
    tag = "flows",
    summary = "Register an offer or a need",
    description = "Members of the site's business and platform admins. Its matches are computed before the answer.",
    request_body(content = symbiont_core::FlowDraft, example = json!({"site_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "direction": "offer", "category": "heat.ambient", "description": "Server hall exhaust heat", "quality": {"temperature_c": 35}, "quantity": {"value": 1.2, "unit": "MW"}, "profile": "24/7", "max_distance_km": 3})),
    responses(
        (status = 201, description = "Created; matches are updated before the answer.", body = symbiont_core::Flow, headers(("ETag" = String, description = "The version, quoted."), ("Location" = String, description = "The new resource's URL."))),
        crate::openapi::JsonBodyErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn create(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Json(draft): Json<FlowDraft>,
) -> Result<Response, ApiError> {
    let flow = state.create_flow(&caller, draft).await?;
    let location = format!("/api/v1/flows/{}", flow.id);
    Ok(entity(
        StatusCode::CREATED,
        &flow,
        flow.version,
        Some(location),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/flows/{id}",
    operation_id = "getFlow",
    tag = "flows",
    summary = "Get a flow",
    description = "Another business's anonymous flow is a 404.",
    params(("id" = uuid::Uuid, Path, description = "The flow's id.")),
    responses(
        (status = 200, description = "OK", body = symbiont_core::Flow, headers(("ETag" = String, description = "The version, quoted."))),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn get(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let flow = state
        .visible_flow(parse_id(&id, "flow")?, &Viewer::of(&caller))
        .await?;
    Ok(entity(StatusCode::OK, &flow, flow.version, None))
}

#[utoipa::path(
    patch,
    path = "/api/v1/flows/{id}",
    operation_id = "updateFlow",
    tag = "flows",
    summary = "Update a flow (merge patch), e.g. {\"status\":\"paused\"}",
    params(("id" = uuid::Uuid, Path, description = "The flow's id."), crate::openapi::IfMatch),
    request_body(
        description = "JSON merge patch (RFC 7386) of the draft fields.",
        content(
            (crate::openapi::MergePatch = "application/json"),
            (crate::openapi::MergePatch = "application/merge-patch+json"),
        ),
    ),
    responses(
        (status = 200, description = "OK", body = symbiont_core::Flow, headers(("ETag" = String, description = "The version, quoted."))),
        crate::openapi::JsonBodyErrors,
        (status = 404, response = crate::openapi::NotFound),
        (status = 412, response = crate::openapi::PreconditionFailed),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn update(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let flow = state
        .update_flow(&caller, parse_id(&id, "flow")?, &patch, if_match(&headers)?)
        .await?;
    Ok(entity(StatusCode::OK, &flow, flow.version, None))
}

#[utoipa::path(
    delete,
    path = "/api/v1/flows/{id}",
    operation_id = "deleteFlow",
    tag = "flows",
    summary = "Delete a flow",
    params(("id" = uuid::Uuid, Path, description = "The flow's id.")),
    responses(
        (status = 204, description = "Deleted; its matches expire."),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn delete(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.delete_flow(&caller, parse_id(&id, "flow")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
