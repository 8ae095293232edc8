//! The NetworkGraph port: the symbiosis network as a graph of businesses linked by exchanges, and
//! its adapters — in-process (`embedded`, a petgraph graph, the default) and openCypher over a graph
//! server (`cypher`), spoken over Bolt (`bolt`, Neo4j) or over FalkorDB's own Redis protocol
//! (`falkordb`), chosen by URL scheme with [`connect`].
//!
//! The graph is a projection: it holds, for each need flow, the one exchange that serves it (the
//! need's most advanced, then best-scoring live match; see `symbiont_app::network`), written by id
//! (the need flow) and version, so a write older than what is stored is ignored and replays are
//! harmless. It never holds more than the matches a platform admin sees; what a viewer may see of
//! it is decided by the caller, which hands [`analysis`] the hidden sides of each exchange.
//!
//! [`analysis`] finds chains, clusters and anchors on the exchanges an adapter returns for a
//! filter; the adapters differ in where the projection lives, not in what the analyses answer (the
//! contract suite in `tests/contract.rs` runs the same network through each).
//! Every call to an outside server has a timeout. This crate must not know HTTP or the store.

pub mod analysis;
pub mod bolt;
pub mod cypher;
pub mod embedded;
pub mod falkordb;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use symbiont_core::{GeoPoint, MatchStatus};
use uuid::Uuid;

/// How long a call to a graph server may take before it is abandoned.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The exchange that serves one need: a live match between an offer and the need, as the
/// projection keeps it. Places of anonymous sides are their grid-cell centres, and `public_*`
/// figures are computed at the cell centres when a side is anonymous (equal to the exact ones
/// otherwise), so a filter or a total that a stranger sees never depends on a hidden site's place.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// The key: a need is served by at most one exchange.
    pub need_flow_id: Uuid,
    pub match_id: Uuid,
    /// Order of the change that produced this state; a write with a lower version is ignored.
    pub version: i64,
    pub offer_flow_id: Uuid,
    pub offer_business_id: Uuid,
    pub need_business_id: Uuid,
    pub offer_anonymous: bool,
    pub need_anonymous: bool,
    pub offer_category: String,
    pub need_category: String,
    pub status: MatchStatus,
    pub savings_eur_per_year: f64,
    pub co2_t_per_year: f64,
    pub public_savings_eur_per_year: f64,
    pub public_co2_t_per_year: f64,
    pub offer_location: GeoPoint,
    pub need_location: GeoPoint,
}

/// A rectangle of latitude and longitude (`west <= east`; no wrap over the antimeridian).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

impl BoundingBox {
    pub fn contains(&self, p: GeoPoint) -> bool {
        (self.south..=self.north).contains(&p.lat) && (self.west..=self.east).contains(&p.lon)
    }
}

/// Which exchanges a network query looks at. The Cypher adapters translate exactly this.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkFilter {
    /// Both ends of the exchange lie inside.
    pub region: Option<BoundingBox>,
    /// A category code or a family (`heat`) on either side.
    pub category: Option<String>,
    /// The exchange's status is one of these.
    pub statuses: Option<Vec<MatchStatus>>,
}

/// `code` is `filter` or in the family `filter` (`heat` holds `heat.low_temp`).
pub fn category_matches(filter: &str, code: &str) -> bool {
    code == filter || (code.starts_with(filter) && code.as_bytes().get(filter.len()) == Some(&b'.'))
}

impl NetworkFilter {
    /// Whether the filter lets `exchange` through: the reference the adapters must agree with.
    pub fn admits(&self, exchange: &Exchange) -> bool {
        let region_ok = self.region.is_none_or(|r| {
            r.contains(exchange.offer_location) && r.contains(exchange.need_location)
        });
        let category_ok = self.category.as_deref().is_none_or(|c| {
            category_matches(c, &exchange.offer_category)
                || category_matches(c, &exchange.need_category)
        });
        let status_ok = self
            .statuses
            .as_ref()
            .is_none_or(|s| s.contains(&exchange.status));
        region_ok && category_ok && status_ok
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error(
        "graph URL '{0}' is not supported; use memory://, bolt://host:7687, neo4j://host:7687 or falkordb://host:6379"
    )]
    UnsupportedUrl(String),
    #[error("graph server unavailable ({what})")]
    Unavailable {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the graph server refused a statement: {0}")]
    Refused(String),
    #[error("graph call timed out after {0:?}")]
    Timeout(Duration),
    #[error("graph server answered something unreadable: {0}")]
    Malformed(String),
}

impl GraphError {
    pub(crate) fn unavailable(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        GraphError::Unavailable {
            what: what.into(),
            source: Box::new(source),
        }
    }
}

/// Runs a call to a graph server with the standard timeout.
pub(crate) async fn timed<T>(
    call: impl std::future::Future<Output = Result<T, GraphError>>,
) -> Result<T, GraphError> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .unwrap_or(Err(GraphError::Timeout(CALL_TIMEOUT)))
}

#[async_trait]
pub trait NetworkGraph: Send + Sync + 'static {
    /// Writes each exchange unless its need holds a version at least as new (idempotent).
    async fn upsert(&self, exchanges: &[Exchange]) -> Result<(), GraphError>;
    /// Records that each need `(need_flow_id, version)` is served by nothing as of `version`; an
    /// older write for it stays ignored.
    async fn unserve(&self, needs: &[(Uuid, i64)]) -> Result<(), GraphError>;
    /// Replaces the whole projection with `exchanges` (a rebuild).
    async fn replace_all(&self, exchanges: &[Exchange]) -> Result<(), GraphError>;
    /// The served exchanges the filter lets through, in no particular order.
    async fn exchanges(&self, filter: &NetworkFilter) -> Result<Vec<Exchange>, GraphError>;
    /// What the adapter is, for logs and `symbiont doctor`: `embedded`, `bolt`, `falkordb`.
    fn kind(&self) -> &'static str;
}

/// `url` without user, password or token, for messages and logs.
pub fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Opens the graph named by `url`: `memory://` (in-process petgraph), `bolt://` or `neo4j://`
/// (Neo4j over Bolt; user and password in the URL), `falkordb://host:port` (FalkorDB over its Redis
/// protocol). `graph` names the graph (FalkorDB key) or database (Neo4j; empty for its default), so
/// deployments and tests sharing a server stay apart.
pub async fn connect(url: &str, graph: &str) -> Result<Arc<dyn NetworkGraph>, GraphError> {
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("memory") => Ok(Arc::new(embedded::EmbeddedGraph::default())),
        Some("bolt" | "neo4j" | "bolt+s" | "neo4j+s") => Ok(Arc::new(
            cypher::CypherGraph::new(bolt::BoltConnection::connect(url, graph).await?).await?,
        )),
        Some("falkordb") => Ok(Arc::new(
            cypher::CypherGraph::new(falkordb::FalkorConnection::connect(url, graph).await?)
                .await?,
        )),
        _ => Err(GraphError::UnsupportedUrl(without_credentials(url))),
    }
}
