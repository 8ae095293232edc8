//! `/api/v1/network/{chains,clusters,anchors}`: the symbiosis network as a graph, filtered by
//! region, category and status and paged like every list; and `POST /api/v1/admin/network/rebuild`.
//! The exchanges in each answer are the match views `/matches/{id}` serves the same caller,
//! redacted the same way (`symbiont_app::network`).

use axum::extract::State;
use serde::Serialize;
use symbiont_app::network::{self, NetworkCursor, NetworkQuery};
use symbiont_app::visibility::Viewer;
use symbiont_core::MatchStatus;
use symbiont_graph::{BoundingBox, NetworkFilter};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, QueryParams};
use crate::state::SharedState;

/// Filters of the network queries.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct NetworkFilters {
    /// `west,south,east,north` in degrees (west ≤ east, south ≤ north): both ends of every exchange
    /// lie inside. Anonymous sites count at their ~5 km grid-cell centres.
    #[param(example = "6.8,50.8,7.1,51.0")]
    pub bbox: Option<String>,
    /// A category code or a group such as `heat`, on either side of an exchange.
    pub category: Option<String>,
    /// Statuses of the exchanges, comma-separated (`agreed,negotiating`): suggested, contacted,
    /// negotiating, agreed. Every one when not given.
    #[param(example = "agreed,negotiating")]
    pub status: Option<String>,
}

fn take_query(query: &mut QueryParams) -> Result<NetworkQuery, ApiError> {
    let limit = query
        .take_parsed::<u32>("limit", "a whole number")?
        .unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::bad_request(
            "limit",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    let cursor = query
        .take("cursor")
        .map(|c| {
            NetworkCursor::decode(&c).ok_or_else(|| {
                ApiError::bad_request("cursor", "is not a cursor from a previous page")
            })
        })
        .transpose()?;
    let region = query.take("bbox").map(|b| parse_bbox(&b)).transpose()?;
    let category = query.take("category");
    let statuses = query
        .take("status")
        .map(|text| {
            text.split(',')
                .map(|s| match MatchStatus::parse(s.trim()) {
                    Some(status @ (MatchStatus::Rejected | MatchStatus::Expired)) => {
                        Err(ApiError::bad_request(
                            "status",
                            format!(
                                "'{}' matches serve no need: use suggested, contacted, negotiating or agreed",
                                status.as_str()
                            ),
                        ))
                    }
                    Some(status) => Ok(status),
                    None => Err(ApiError::bad_request(
                        "status",
                        format!("'{s}' is not a match status"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    Ok(NetworkQuery {
        filter: NetworkFilter {
            region,
            category,
            statuses,
        },
        limit: limit as usize,
        cursor,
    })
}

fn parse_bbox(text: &str) -> Result<BoundingBox, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "bbox",
            format!("'{text}' is not west,south,east,north in degrees"),
        )
    };
    let numbers: Vec<f64> = text
        .split(',')
        .map(|n| n.trim().parse::<f64>().map_err(|_| invalid()))
        .collect::<Result<_, _>>()?;
    let [west, south, east, north] = numbers[..] else {
        return Err(invalid());
    };
    let lon = -180.0..=180.0;
    let lat = -90.0..=90.0;
    if !(lon.contains(&west) && lon.contains(&east) && lat.contains(&south) && lat.contains(&north))
    {
        return Err(ApiError::bad_request(
            "bbox",
            "longitudes must lie in -180..180 and latitudes in -90..90",
        ));
    }
    if west > east || south > north {
        return Err(ApiError::bad_request(
            "bbox",
            "west must not exceed east, nor south north (no box across the antimeridian)",
        ));
    }
    Ok(BoundingBox {
        south,
        west,
        north,
        east,
    })
}

/// Savings and CO2 of a group of exchanges: exact sums when the caller sees every exchange whole,
/// otherwise (`redacted`) only bands of the sums computed with anonymous sites at their grid-cell
/// centres.
#[derive(Serialize, ToSchema)]
pub struct NetworkTotals {
    pub exchanges: usize,
    /// Null when redacted.
    #[schema(required = true)]
    pub savings_eur_per_year: Option<f64>,
    /// Null when redacted.
    #[schema(required = true)]
    pub co2_t_per_year: Option<f64>,
    /// Only when redacted, e.g. "10000–25000 EUR/year".
    #[schema(required = true)]
    pub savings_band: Option<String>,
    /// Only when redacted, e.g. "100–250 t CO2/year".
    #[schema(required = true)]
    pub co2_band: Option<String>,
    pub redacted: bool,
}

impl From<network::NetworkTotals> for NetworkTotals {
    fn from(t: network::NetworkTotals) -> Self {
        Self {
            exchanges: t.exchanges,
            savings_eur_per_year: t.savings_eur_per_year,
            co2_t_per_year: t.co2_t_per_year,
            savings_band: t.savings_band,
            co2_band: t.co2_band,
            redacted: t.redacted,
        }
    }
}

/// A chain of 2–4 exchanges: each business's need is served by the previous one's output, and its
/// own output serves the next.
#[derive(Serialize, ToSchema)]
pub struct Chain {
    /// Stable: derived from its exchanges.
    pub id: Uuid,
    /// The businesses along the chain; null for an anonymous side hidden from the caller (only
    /// the first or the last: a chain never passes through a hidden business).
    pub businesses: Vec<Option<Uuid>>,
    /// The exchanges in order, each as `GET /matches/{id}` shows it to the caller.
    #[schema(value_type = Vec<super::match_views::MatchView>)]
    pub exchanges: Vec<serde_json::Value>,
    pub totals: NetworkTotals,
}

/// A connected group of at least two exchanges.
#[derive(Serialize, ToSchema)]
pub struct Cluster {
    /// Stable: derived from its exchanges.
    pub id: Uuid,
    /// The businesses the caller may see, ascending.
    pub businesses: Vec<Uuid>,
    /// Anonymous sides of its exchanges hidden from the caller, each on its own (never joined to
    /// a business or to each other).
    pub hidden_parties: usize,
    /// Its 50 most valuable exchanges (by what the caller may see of each; `totals` counts them
    /// all), each as `GET /matches/{id}` shows it to the caller.
    #[schema(value_type = Vec<super::match_views::MatchView>, max_items = 50)]
    pub exchanges: Vec<serde_json::Value>,
    pub totals: NetworkTotals,
}

/// A business and what the network would lose without it.
#[derive(Serialize, ToSchema)]
pub struct Anchor {
    pub business_id: Uuid,
    /// Its exchanges (those the caller may link to it) and their figures.
    pub totals: NetworkTotals,
    /// Chains of 2–4 exchanges it is part of.
    pub chains: usize,
    /// Connected pieces the rest of its cluster falls into without it (1: nobody else loses a
    /// connection).
    pub splits_cluster_into: usize,
}

macro_rules! network_page {
    ($($(#[$doc:meta])* $name:ident of $item:ident;)*) => {
        $(
            $(#[$doc])*
            #[derive(Serialize, ToSchema)]
            pub struct $name {
                pub items: Vec<$item>,
                /// Pass as `cursor` to get the next page; null on the last page.
                #[schema(required = true)]
                pub next_cursor: Option<String>,
            }
        )*
    };
}

network_page! {
    /// Chains by total savings, descending (redacted ones by their band), ties by id.
    ChainPage of Chain;
    /// Clusters by total savings, descending (redacted ones by their band), ties by id.
    ClusterPage of Cluster;
    /// Businesses by the savings of their exchanges, descending, ties by id.
    AnchorPage of Anchor;
}

#[utoipa::path(
    get,
    path = "/api/v1/network/chains",
    operation_id = "listNetworkChains",
    tag = "network",
    summary = "Chains of 2–4 exchanges",
    description = "Paths where a business's need is served and its output serves another, over the exchange that serves each need (its most advanced, then best match), with the chain's total EUR and t CO2 a year.",
    params(crate::openapi::Paging, NetworkFilters),
    responses(
        (status = 200, description = "OK", body = ChainPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn chains(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    mut query: QueryParams,
) -> Result<axum::Json<ChainPage>, ApiError> {
    let network_query = take_query(&mut query)?;
    query.finish()?;
    let page = state
        .network_chains(&Viewer::of(&caller), network_query)
        .await?;
    Ok(axum::Json(ChainPage {
        items: page
            .items
            .into_iter()
            .map(|c| Chain {
                id: c.id,
                businesses: c.businesses,
                exchanges: c.exchanges,
                totals: c.totals.into(),
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/network/clusters",
    operation_id = "listNetworkClusters",
    tag = "network",
    summary = "Connected groups of exchanges",
    description = "Groups of at least two exchanges linked through shared businesses, with their totals; filter by status for the live or agreed ones.",
    params(crate::openapi::Paging, NetworkFilters),
    responses(
        (status = 200, description = "OK", body = ClusterPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn clusters(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    mut query: QueryParams,
) -> Result<axum::Json<ClusterPage>, ApiError> {
    let network_query = take_query(&mut query)?;
    query.finish()?;
    let page = state
        .network_clusters(&Viewer::of(&caller), network_query)
        .await?;
    Ok(axum::Json(ClusterPage {
        items: page
            .items
            .into_iter()
            .map(|c| Cluster {
                id: c.id,
                businesses: c.businesses,
                hidden_parties: c.hidden_parties,
                exchanges: c.exchanges,
                totals: c.totals.into(),
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/network/anchors",
    operation_id = "listNetworkAnchors",
    tag = "network",
    summary = "Businesses whose removal would lose the most value",
    description = "Each business with the savings and CO2 of its exchanges, the chains through it and how many pieces its cluster would fall into without it.",
    params(crate::openapi::Paging, NetworkFilters),
    responses(
        (status = 200, description = "OK", body = AnchorPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn anchors(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    mut query: QueryParams,
) -> Result<axum::Json<AnchorPage>, ApiError> {
    let network_query = take_query(&mut query)?;
    query.finish()?;
    let page = state
        .network_anchors(&Viewer::of(&caller), network_query)
        .await?;
    Ok(axum::Json(AnchorPage {
        items: page
            .items
            .into_iter()
            .map(|a| Anchor {
                business_id: a.business_id,
                totals: a.totals.into(),
                chains: a.chains,
                splits_cluster_into: a.splits_cluster_into,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// What a rebuild of the network projection did.
#[derive(Serialize, ToSchema)]
pub struct NetworkRebuild {
    /// The graph adapter: `embedded`, `bolt` or `falkordb`.
    pub graph: String,
    /// Exchanges written, one per served need.
    pub exchanges: usize,
    pub elapsed_ms: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/admin/network/rebuild",
    operation_id = "rebuildNetwork",
    tag = "admin",
    summary = "Rebuild the network projection",
    description = "Platform admins only. Replaces the graph projection with the exchanges the engine serves now (the engine is rebuilt from the store at start and kept current by events).",
    responses(
        (status = 200, description = "OK", body = NetworkRebuild),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn rebuild(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
) -> Result<axum::Json<NetworkRebuild>, ApiError> {
    let report = state.rebuild_network(&caller).await?;
    Ok(axum::Json(NetworkRebuild {
        graph: report.graph.to_string(),
        exchanges: report.exchanges,
        elapsed_ms: report.elapsed_ms,
    }))
}
