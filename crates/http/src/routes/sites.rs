//! `/api/v1/businesses/{id}/sites` and `/api/v1/sites`; lists and single sites are also served as
//! GeoJSON when asked for with `Accept: application/geo+json`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;
use symbiont_core::{Site, SiteDraft};
use symbiont_store::SiteFilter;
use uuid::Uuid;

use super::pages::SitePage;
use super::{entity, geojson, wants_geojson};
use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::{Json, QueryParams, if_match, parse_id};
use crate::state::SharedState;

/// A site as a GeoJSON (RFC 7946) feature.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Feature {
    #[schema(inline)]
    pub r#type: FeatureType,
    pub id: Uuid,
    pub geometry: PointGeometry,
    pub properties: SiteProperties,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PointGeometry {
    #[schema(inline)]
    pub r#type: PointType,
    /// `[lon, lat]` in WGS84 degrees.
    #[schema(min_items = 2, max_items = 2)]
    pub coordinates: Vec<f64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SiteProperties {
    pub business_id: Uuid,
    pub name: String,
    pub address: String,
    pub version: i64,
}

/// Sites as a GeoJSON feature collection, with the cursor of the next page.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FeatureCollection {
    #[schema(inline)]
    pub r#type: FeatureCollectionType,
    pub features: Vec<Feature>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<Uuid>,
}

// GeoJSON's `type` members, each a single string.
#[derive(Serialize, utoipa::ToSchema)]
pub enum FeatureType {
    Feature,
}

#[derive(Serialize, utoipa::ToSchema)]
pub enum PointType {
    Point,
}

#[derive(Serialize, utoipa::ToSchema)]
pub enum FeatureCollectionType {
    FeatureCollection,
}

impl From<Site> for Feature {
    fn from(site: Site) -> Self {
        Feature {
            r#type: FeatureType::Feature,
            id: site.id,
            geometry: PointGeometry {
                r#type: PointType::Point,
                coordinates: vec![site.location.lon, site.location.lat],
            },
            properties: SiteProperties {
                business_id: site.business_id,
                name: site.name,
                address: site.address,
                version: site.version,
            },
        }
    }
}

impl From<symbiont_store::Page<Site>> for FeatureCollection {
    fn from(page: symbiont_store::Page<Site>) -> Self {
        FeatureCollection {
            r#type: FeatureCollectionType::FeatureCollection,
            features: page.items.into_iter().map(Feature::from).collect(),
            next_cursor: page.next_cursor,
        }
    }
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
    let page = state.sites(&SiteFilter { business_id, near }, page).await?;
    if wants_geojson(headers) {
        return Ok(geojson(FeatureCollection::from(page)));
    }
    Ok(crate::json::response(StatusCode::OK, &SitePage::from(page)))
}

#[utoipa::path(
    get,
    path = "/api/v1/sites",
    operation_id = "listSites",
    tag = "sites",
    summary = "List sites",
    params(
        crate::openapi::Paging,
        crate::openapi::BusinessFilter,
        crate::openapi::NearFilter,
        crate::openapi::AcceptGeoJson,
    ),
    responses(
        (status = 200, description = "OK", content((SitePage = "application/json"), (FeatureCollection = "application/geo+json"))),
        (status = 400, response = crate::openapi::BadRequest),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    list_filtered(&state, &headers, query, None).await
}

#[utoipa::path(
    get,
    path = "/api/v1/businesses/{id}/sites",
    operation_id = "listBusinessSites",
    tag = "sites",
    summary = "List a business's sites",
    params(
        ("id" = uuid::Uuid, Path, description = "The business's id."),
        crate::openapi::Paging,
        crate::openapi::NearFilter,
        crate::openapi::AcceptGeoJson,
    ),
    responses(
        (status = 200, description = "OK", content((SitePage = "application/json"), (FeatureCollection = "application/geo+json"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn list_of_business(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let business = state.business(parse_id(&id, "business")?).await?;
    list_filtered(&state, &headers, query, Some(business.id)).await
}

#[utoipa::path(
    post,
    path = "/api/v1/businesses/{id}/sites",
    operation_id = "createSite",
    tag = "sites",
    summary = "Add a site",
    description = "Members of the business and platform admins.",
    params(("id" = uuid::Uuid, Path, description = "The business's id.")),
    request_body(content = symbiont_core::SiteDraft, example = json!({"name": "Hall 1", "address": "Hafenstraße 10", "location": {"lat": 51.23, "lon": 6.78}})),
    responses(
        (status = 201, description = "Created", body = symbiont_core::Site, headers(("ETag" = String, description = "The version, quoted."), ("Location" = String, description = "The new resource's URL."))),
        crate::openapi::JsonBodyErrors,
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn create(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(draft): Json<SiteDraft>,
) -> Result<Response, ApiError> {
    let business = state.business(parse_id(&id, "business")?).await?;
    let site = state.create_site(&caller, business.id, draft).await?;
    let location = format!("/api/v1/sites/{}", site.id);
    Ok(entity(
        StatusCode::CREATED,
        &site,
        site.version,
        Some(location),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/sites/{id}",
    operation_id = "getSite",
    tag = "sites",
    summary = "Get a site",
    params(
        ("id" = uuid::Uuid, Path, description = "The site's id."),
        crate::openapi::AcceptGeoJson,
    ),
    responses(
        (status = 200, description = "OK", headers(("ETag" = String, description = "The version, quoted.")), content((symbiont_core::Site = "application/json"), (Feature = "application/geo+json"))),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn get(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let site = state.site(parse_id(&id, "site")?).await?;
    if wants_geojson(&headers) {
        return Ok(geojson(Feature::from(site)));
    }
    Ok(entity(StatusCode::OK, &site, site.version, None))
}

#[utoipa::path(
    patch,
    path = "/api/v1/sites/{id}",
    operation_id = "updateSite",
    tag = "sites",
    summary = "Update a site (merge patch); moving it updates its flows' matches",
    params(("id" = uuid::Uuid, Path, description = "The site's id."), crate::openapi::IfMatch),
    request_body(
        description = "JSON merge patch (RFC 7386) of the draft fields.",
        content(
            (crate::openapi::MergePatch = "application/json"),
            (crate::openapi::MergePatch = "application/merge-patch+json"),
        ),
    ),
    responses(
        (status = 200, description = "OK", body = symbiont_core::Site, headers(("ETag" = String, description = "The version, quoted."))),
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
    let site = state
        .update_site(&caller, parse_id(&id, "site")?, &patch, if_match(&headers)?)
        .await?;
    Ok(entity(StatusCode::OK, &site, site.version, None))
}

#[utoipa::path(
    delete,
    path = "/api/v1/sites/{id}",
    operation_id = "deleteSite",
    tag = "sites",
    summary = "Delete a site with its flows",
    params(("id" = uuid::Uuid, Path, description = "The site's id.")),
    responses(
        (status = 204, description = "Deleted; the matches of its flows expire."),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn delete(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.delete_site(&caller, parse_id(&id, "site")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
