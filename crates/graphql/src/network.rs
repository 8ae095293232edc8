//! The symbiosis network's answers (chains, clusters, anchors) as GraphQL objects: what
//! `symbiont_app::network` computed for the viewer, with its exchanges as [`MatchNode`]s (the
//! same redacted views REST lists). Nothing is computed here.

use async_graphql::{ComplexObject, Context, InputObject, SimpleObject};
use symbiont_app::network::{self, AnchorView, ChainView, ClusterView};
use symbiont_core::MatchStatus as CoreStatus;
use symbiont_graph::{BoundingBox, NetworkFilter};
use uuid::Uuid;

use crate::error::bad_argument;
use crate::types::{BusinessNode, MatchNode, MatchStatus};

/// Filters of the network queries, as REST's `bbox`, `category` and `status` parameters.
#[derive(InputObject, Debug, Clone, Default)]
pub struct NetworkFilterInput {
    /// `[west, south, east, north]` in degrees: both ends of every exchange lie inside
    /// (anonymous sites at their grid-cell centres).
    pub bbox: Option<Vec<f64>>,
    /// A category code or a group such as `heat`, on either side of an exchange.
    pub category: Option<String>,
    /// Statuses of the exchanges (suggested, contacted, negotiating, agreed); all when not given.
    pub status: Option<Vec<MatchStatus>>,
}

impl NetworkFilterInput {
    pub fn into_filter(self) -> async_graphql::Result<NetworkFilter> {
        let region = self.bbox.map(|b| region(&b)).transpose()?;
        let statuses = self
            .status
            .map(|statuses| {
                statuses
                    .into_iter()
                    .map(|s| match CoreStatus::from(s) {
                        status @ (CoreStatus::Rejected | CoreStatus::Expired) => {
                            Err(bad_argument(
                                "filter.status",
                                format!(
                                    "'{}' matches serve no need: use suggested, contacted, negotiating or agreed",
                                    status.as_str()
                                ),
                            ))
                        }
                        status => Ok(status),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(NetworkFilter {
            region,
            category: self.category,
            statuses,
        })
    }
}

fn region(bounds: &[f64]) -> async_graphql::Result<BoundingBox> {
    let &[west, south, east, north] = bounds else {
        return Err(bad_argument(
            "filter.bbox",
            "expected four numbers: [west, south, east, north]",
        ));
    };
    let lon = -180.0..=180.0;
    let lat = -90.0..=90.0;
    if !(lon.contains(&west) && lon.contains(&east) && lat.contains(&south) && lat.contains(&north))
    {
        return Err(bad_argument(
            "filter.bbox",
            "longitudes must lie in -180..180 and latitudes in -90..90",
        ));
    }
    if west > east || south > north {
        return Err(bad_argument(
            "filter.bbox",
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
/// otherwise only bands (computed with anonymous sites at their grid-cell centres).
#[derive(SimpleObject, Debug, Clone)]
pub struct NetworkTotals {
    pub exchanges: usize,
    pub savings_eur_per_year: Option<f64>,
    pub co2_t_per_year: Option<f64>,
    pub savings_band: Option<String>,
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

fn exchanges(views: Vec<serde_json::Value>) -> async_graphql::Result<Vec<MatchNode>> {
    views.into_iter().map(MatchNode::from_view).collect()
}

/// A chain of 2–4 exchanges: each business's need is served by the previous one's output, and its
/// own output serves the next.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "Chain")]
pub struct ChainNode {
    pub id: Uuid,
    /// The businesses along the chain; null for a side hidden from the caller.
    pub businesses: Vec<Option<Uuid>>,
    /// The exchanges in order, each as `match(id:)` shows it to the caller.
    pub exchanges: Vec<MatchNode>,
    pub totals: NetworkTotals,
}

impl ChainNode {
    pub fn from_view(c: ChainView) -> async_graphql::Result<Self> {
        Ok(Self {
            id: c.id,
            businesses: c.businesses,
            exchanges: exchanges(c.exchanges)?,
            totals: c.totals.into(),
        })
    }
}

/// A connected group of at least two exchanges.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "Cluster")]
pub struct ClusterNode {
    pub id: Uuid,
    /// The businesses the caller may see, ascending.
    pub businesses: Vec<Uuid>,
    /// Anonymous sides hidden from the caller, each on its own.
    pub hidden_parties: usize,
    /// Its most valuable exchanges (at most 50; `totals` counts them all).
    pub exchanges: Vec<MatchNode>,
    pub totals: NetworkTotals,
}

impl ClusterNode {
    pub fn from_view(c: ClusterView) -> async_graphql::Result<Self> {
        Ok(Self {
            id: c.id,
            businesses: c.businesses,
            hidden_parties: c.hidden_parties,
            exchanges: exchanges(c.exchanges)?,
            totals: c.totals.into(),
        })
    }
}

/// A business and what the network would lose without it.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex, name = "Anchor")]
pub struct AnchorNode {
    pub business_id: Uuid,
    pub totals: NetworkTotals,
    /// Chains of 2–4 exchanges it is part of.
    pub chains: usize,
    /// Connected pieces the rest of its cluster falls into without it.
    pub splits_cluster_into: usize,
}

#[ComplexObject]
impl AnchorNode {
    /// The business (batched per request).
    async fn business(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<BusinessNode>> {
        crate::types::load_business(ctx, Some(self.business_id)).await
    }
}

impl From<AnchorView> for AnchorNode {
    fn from(a: AnchorView) -> Self {
        Self {
            business_id: a.business_id,
            totals: a.totals.into(),
            chains: a.chains,
            splits_cluster_into: a.splits_cluster_into,
        }
    }
}
