//! `/api/v1/businesses/{id}/sites` and `/api/v1/sites`; lists and single sites are also served as
//! GeoJSON when asked for with `Accept: application/geo+json`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use symbiont_core::{Site, SiteDraft};
use symbiont_store::SiteFilter;

use super::{entity, geojson, wants_geojson};
use crate::error::ApiError;
use crate::extract::{Json, QueryParams, if_match, parse_id};
use crate::state::SharedState;

fn feature(site: &Site) -> Value {
    json!({
        "type": "Feature",
        "id": site.id,
        "geometry": { "type": "Point", "coordinates": [site.location.lon, site.location.lat] },
        "properties": {
            "business_id": site.business_id,
            "name": site.name,
            "address": site.address,
            "version": site.version,
        },
    })
}

async fn list_filtered(
    state: &SharedState,
    headers: &HeaderMap,
    mut query: QueryParams,
    business_id: Option<uuid::Uuid>,
) -> Result<Response, ApiError> {
    let page = query.take_page()?;
    let near = query.take_near()?;
    let business_id = match business_id {
        Some(id) => Some(id),
        None => query.take_uuid("business_id")?,
    };
    query.finish()?;
    let page = state
        .store
        .list_sites(&SiteFilter { business_id, near }, page)
        .await?;
    if wants_geojson(headers) {
        let features: Vec<Value> = page.items.iter().map(feature).collect();
        return Ok(geojson(json!({
            "type": "FeatureCollection",
            "features": features,
            "next_cursor": page.next_cursor,
        })));
    }
    Ok(axum::Json(page).into_response())
}

pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    list_filtered(&state, &headers, query, None).await
}

pub async fn list_of_business(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let business = state.business(parse_id(&id, "business")?).await?;
    list_filtered(&state, &headers, query, Some(business.id)).await
}

pub async fn create(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Json(draft): Json<SiteDraft>,
) -> Result<Response, ApiError> {
    let business = state.business(parse_id(&id, "business")?).await?;
    let site = state.create_site(business.id, draft).await?;
    let location = format!("/api/v1/sites/{}", site.id);
    Ok(entity(
        StatusCode::CREATED,
        &site,
        site.version,
        Some(location),
    ))
}

pub async fn get(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let site = state.site(parse_id(&id, "site")?).await?;
    if wants_geojson(&headers) {
        return Ok(geojson(feature(&site)));
    }
    Ok(entity(StatusCode::OK, &site, site.version, None))
}

pub async fn update(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<Value>,
) -> Result<Response, ApiError> {
    let site = state
        .update_site(parse_id(&id, "site")?, &patch, if_match(&headers)?)
        .await?;
    Ok(entity(StatusCode::OK, &site, site.version, None))
}

pub async fn delete(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.delete_site(parse_id(&id, "site")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
