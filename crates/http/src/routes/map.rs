//! `/api/v1/map/…`: what a map draws, prepared on the server so that a region of any size is
//! drawn from two small answers. `GET /map/sites` clusters the sites per zoom level;
//! `GET /map/matches` gives the best matches as lines with both ends, each end placed as the viewer
//! may see it (ADR 0028). Both are GeoJSON.

#![allow(dead_code)] // the schema types document the JSON the use cases write

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use symbiont_app::live_matches::MatchFilter;
use symbiont_app::map_layers::{BoundingBox, MAX_ZOOM};
use symbiont_app::match_queries::{MatchQuery, MatchScope};
use symbiont_app::visibility::Viewer;
use symbiont_core::MatchStatus;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::state::SharedState;

/// Match lines a map asks for when it does not say: a region's best, enough to see its shape.
const DEFAULT_LINES: usize = 2000;
/// The most lines one answer holds; more come page by page with `cursor`.
const MAX_LINES: usize = 5000;
/// The zoom level when none is given (a region of some tens of kilometres).
const DEFAULT_ZOOM: u8 = 9;

/// The query of `GET /api/v1/map/sites`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SiteLayerQuery {
    /// The map's zoom level (0–22): sites are clustered on a grid of 64 screen pixels up to 11.
    #[param(minimum = 0, maximum = 22, default = 9)]
    pub zoom: Option<u8>,
    /// `west,south,east,north` in degrees: only the sites in this view (and a cell around it).
    /// West may exceed east across the antimeridian. The whole world when not given.
    #[param(example = "6.5,51.2,7.5,51.7")]
    pub bbox: Option<String>,
}

/// The query of `GET /api/v1/map/matches`: the filters of match lists; the order is always by
/// score, best first.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatchLinesQuery {
    /// Lines per answer.
    #[param(minimum = 1, maximum = 5000, default = 2000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous answer.
    pub cursor: Option<String>,
    /// Only the matches of this business (on either side).
    pub business_id: Option<Uuid>,
    /// Only the matches of this flow.
    pub flow_id: Option<Uuid>,
    /// A category code or a group such as `heat`, on either side.
    pub category: Option<String>,
    #[param(minimum = 0, maximum = 1)]
    pub min_score: Option<f64>,
    #[param(inline)]
    pub status: Option<MatchStatus>,
}

/// The site layer: a GeoJSON feature collection of points, each a lone site or a cluster.
#[derive(Serialize, ToSchema)]
pub struct SiteLayer {
    /// `FeatureCollection`.
    pub r#type: String,
    /// The zoom level the layer is clustered for.
    pub zoom: u8,
    /// `[west, south, east, north]` of every site of the region (not only the view's), to frame
    /// it; null when there is no site.
    #[schema(required = true)]
    pub region: Option<Vec<f64>>,
    /// How many sites the features stand for.
    pub sites: u64,
    pub features: Vec<SiteLayerFeature>,
}

/// A lone site or a cluster of sites.
#[derive(Serialize, ToSchema)]
pub struct SiteLayerFeature {
    /// `Feature`.
    pub r#type: String,
    pub geometry: super::sites::PointGeometry,
    pub properties: SiteLayerProperties,
}

/// A lone site's ids and industry, or a cluster's size (`cluster: true`).
#[derive(Serialize, ToSchema)]
pub struct SiteLayerProperties {
    pub site_id: Option<Uuid>,
    pub business_id: Option<Uuid>,
    /// The business's NACE code.
    pub industry: Option<String>,
    pub cluster: Option<bool>,
    /// Sites in the cluster (at its sites' centroid).
    pub count: Option<u64>,
    /// The zoom level at which the cluster parts.
    pub expansion_zoom: Option<u8>,
}

/// Matches as lines: a GeoJSON feature collection of `LineString`s, best score first.
#[derive(Serialize, ToSchema)]
pub struct MatchLines {
    /// `FeatureCollection`.
    pub r#type: String,
    pub features: Vec<MatchLine>,
    /// Pass as `cursor` for the next lines; null after the last.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// One match from the offer's place to the need's.
#[derive(Serialize, ToSchema)]
pub struct MatchLine {
    /// `Feature`.
    pub r#type: String,
    pub geometry: LineGeometry,
    pub properties: MatchLineProperties,
}

#[derive(Serialize, ToSchema)]
pub struct LineGeometry {
    /// `LineString`.
    pub r#type: String,
    /// `[[lon, lat] of the offer, [lon, lat] of the need]`.
    pub coordinates: Vec<Vec<f64>>,
}

/// The list item's fields a map needs, as redacted as in `GET /matches` (absent when withheld).
#[derive(Serialize, ToSchema)]
pub struct MatchLineProperties {
    pub id: Uuid,
    #[schema(inline)]
    pub status: MatchStatus,
    /// Exact, or the score level (floor to 0.25) when a side is hidden.
    pub score: Option<f64>,
    pub offer_category: String,
    pub need_category: String,
    pub offer_business_id: Option<Uuid>,
    pub need_business_id: Option<Uuid>,
    pub offer_flow_id: Option<Uuid>,
    pub need_flow_id: Option<Uuid>,
    pub offer_anonymous: bool,
    pub need_anonymous: bool,
    pub savings_eur_per_year: Option<f64>,
    pub savings_band: Option<String>,
    pub co2_t_per_year: Option<f64>,
    pub co2_band: Option<String>,
    pub distance_km: Option<f64>,
    pub distance_band: Option<String>,
    /// The sides withheld from the caller (`offer`, `need`), when any.
    pub redacted: Option<Vec<String>>,
    /// `site`: the end is the offer's site. `cell`: the offer is hidden from the caller and the
    /// end is the centre of its 5 km grid cell, the place its figures were computed from.
    pub offer_place: String,
    /// As `offer_place`, for the need.
    pub need_place: String,
}

fn geojson(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    response
}

#[utoipa::path(
    get,
    path = "/api/v1/map/sites",
    operation_id = "siteLayer",
    tag = "map",
    summary = "Sites clustered for a map view",
    description = "Every site in the view, clustered on a grid of 64 screen pixels at the zoom \
        level (up to zoom 11; from 12 on each site stands alone). A lone site carries its id, its \
        business and the business's industry; a cluster its count and the zoom level at which it \
        parts. `region` frames every site of the platform.",
    params(SiteLayerQuery),
    responses(
        (status = 200, description = "OK", content((SiteLayer = "application/geo+json"))),
        (status = 400, response = crate::openapi::BadRequest),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn sites(
    State(state): State<SharedState>,
    Authenticated(_caller): Authenticated,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let zoom = query
        .take_parsed::<u8>("zoom", "a zoom level from 0 to 22")?
        .unwrap_or(DEFAULT_ZOOM);
    if zoom > MAX_ZOOM {
        return Err(ApiError::bad_request(
            "zoom",
            format!("must be between 0 and {MAX_ZOOM}"),
        ));
    }
    let bbox = query
        .take("bbox")
        .map(|text| BoundingBox::parse(&text).map_err(|e| ApiError::bad_request("bbox", e)))
        .transpose()?;
    query.finish()?;
    Ok(geojson(state.app.site_layer(zoom, bbox).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/map/matches",
    operation_id = "matchLines",
    tag = "map",
    summary = "Matches as lines for a map",
    description = "The matches `GET /matches` lists for the caller, best score first, each a line \
        from the offer's place to the need's. A side hidden from the caller is drawn at the \
        centre of its 5 km grid cell (`offer_place`/`need_place` = `cell`), the place its redacted \
        figures come from; its business and flow stay out, as in the list.",
    params(MatchLinesQuery),
    responses(
        (status = 200, description = "OK", content((MatchLines = "application/geo+json"))),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn matches(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let limit = match query.take("limit") {
        None => DEFAULT_LINES,
        Some(v) => v
            .parse()
            .ok()
            .filter(|l| (1..=MAX_LINES).contains(l))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "limit",
                    format!("must be a whole number between 1 and {MAX_LINES}"),
                )
            })?,
    };
    if query.take("sort").is_some() {
        return Err(ApiError::bad_request(
            "sort",
            "map lines are always ordered by score",
        ));
    }
    let viewer = Viewer::of(&caller);
    let visible = state.match_scope(&viewer, MatchScope::All).await?;
    let mut filter = MatchFilter::default();
    let (sort, _, cursor) = super::matches::take_filter(&mut query, &mut filter)?;
    query.finish()?;
    let query = MatchQuery {
        filter,
        sort,
        limit,
        cursor,
    };
    Ok(geojson(
        state.app.match_lines(&viewer, visible, query).await?,
    ))
}
