//! `/api/v1/businesses`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;
use symbiont_core::{Business, BusinessDraft, SuggestedFlow};
use symbiont_store::BusinessFilter;
use utoipa::ToSchema;

use super::entity;
use super::pages::BusinessPage;
use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::{Json, QueryParams, if_match, parse_id};
use crate::state::SharedState;

#[utoipa::path(
    get,
    path = "/api/v1/businesses",
    operation_id = "listBusinesses",
    tag = "businesses",
    summary = "List businesses",
    params(
        crate::openapi::Paging,
        ("industry" = Option<String>, Query, description = "NACE code or prefix, e.g. `C11`."),
    ),
    responses(
        (status = 200, description = "OK", body = BusinessPage),
        (status = 400, response = crate::openapi::BadRequest),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn list(
    State(state): State<SharedState>,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let page = query.take_page()?;
    let industry = query
        .take("industry")
        .map(|i| i.trim().to_ascii_uppercase());
    query.finish()?;
    let page = state.businesses(&BusinessFilter { industry }, page).await?;
    Ok(crate::json::response(
        StatusCode::OK,
        &BusinessPage::from(page),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/businesses",
    operation_id = "createBusiness",
    tag = "businesses",
    summary = "Register a business",
    description = "The caller becomes its owner. The answer suggests the flows businesses of its NACE class typically have.",
    request_body(content = symbiont_core::BusinessDraft, example = json!({"name": "Rhein Data Centre", "industry": "J63.11", "contact": {"email": "energy@example.com"}})),
    responses(
        (status = 201, description = "Created", body = BusinessCreated, headers(("ETag" = String, description = "The version, quoted."), ("Location" = String, description = "The new resource's URL."))),
        crate::openapi::JsonBodyErrors,
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn create(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Json(draft): Json<BusinessDraft>,
) -> Result<Response, ApiError> {
    let business = state.create_business(&caller, draft).await?;
    let location = format!("/api/v1/businesses/{}", business.id);
    let created = BusinessCreated {
        suggested_flows: state.suggested_flows(&business.industry),
        business,
    };
    Ok(entity(
        StatusCode::CREATED,
        &created,
        created.business.version,
        Some(location),
    ))
}

/// A business just registered, with the flows businesses of its NACE class typically have, as
/// drafts to check, edit and post with a `site_id` (none when the class has no template; see
/// `GET /api/v1/templates/{nace}`).
#[derive(Serialize, ToSchema)]
pub struct BusinessCreated {
    #[serde(flatten)]
    pub business: Business,
    pub suggested_flows: Vec<SuggestedFlow>,
}

#[utoipa::path(
    get,
    path = "/api/v1/businesses/{id}",
    operation_id = "getBusiness",
    tag = "businesses",
    summary = "Get a business",
    params(("id" = uuid::Uuid, Path, description = "The business's id.")),
    responses(
        (status = 200, description = "OK", body = symbiont_core::Business, headers(("ETag" = String, description = "The version, quoted."))),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn get(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let business = state.business(parse_id(&id, "business")?).await?;
    Ok(entity(StatusCode::OK, &business, business.version, None))
}

#[utoipa::path(
    patch,
    path = "/api/v1/businesses/{id}",
    operation_id = "updateBusiness",
    tag = "businesses",
    summary = "Update a business (merge patch)",
    params(
        ("id" = uuid::Uuid, Path, description = "The business's id."),
        crate::openapi::IfMatch,
    ),
    request_body(
        description = "JSON merge patch (RFC 7386) of the draft fields.",
        content(
            (crate::openapi::MergePatch = "application/json"),
            (crate::openapi::MergePatch = "application/merge-patch+json"),
        ),
    ),
    responses(
        (status = 200, description = "OK", body = symbiont_core::Business, headers(("ETag" = String, description = "The version, quoted."))),
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
    let business = state
        .update_business(
            &caller,
            parse_id(&id, "business")?,
            &patch,
            if_match(&headers)?,
        )
        .await?;
    Ok(entity(StatusCode::OK, &business, business.version, None))
}

#[utoipa::path(
    delete,
    path = "/api/v1/businesses/{id}",
    operation_id = "deleteBusiness",
    tag = "businesses",
    summary = "Delete a business with its sites and flows",
    description = "Owners and platform admins.",
    params(("id" = uuid::Uuid, Path, description = "The business's id.")),
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
    state
        .delete_business(&caller, parse_id(&id, "business")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
