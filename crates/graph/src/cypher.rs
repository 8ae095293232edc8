//! The projection on a graph server, in portable openCypher: every statement here runs unchanged
//! on Neo4j (over Bolt, [`crate::bolt`]) and on FalkorDB (over its Redis protocol,
//! [`crate::falkordb`]); only the transport differs ([`CypherConnection`]).
//!
//! The model: `(:Business {id})-[:SUPPLIES]->(:Exchange {need_flow, version, ...})-[:SERVES]->
//! (:Business {id})`. The exchange is a node keyed by its need flow, so a write is one `MERGE` by id
//! that applies only when its version is newer (`WHERE x.version < row.version`), and a need served
//! by nothing keeps its node with `live = false` as a tombstone, so an older write arriving late is
//! still ignored. No vendor procedure (GDS, `algo.*`, APOC) is used: analyses run on the exchanges a
//! filtered `MATCH` returns ([`crate::analysis`]).

use async_trait::async_trait;
use symbiont_core::{GeoPoint, MatchStatus};
use uuid::Uuid;

use crate::{Exchange, GraphError, NetworkFilter, NetworkGraph};

/// A query parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<Param>),
    Map(Vec<(&'static str, Param)>),
}

/// A value in an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Cell {
    fn text(&self, column: &str) -> Result<&str, GraphError> {
        match self {
            Cell::Text(t) => Ok(t),
            other => Err(GraphError::Malformed(format!(
                "{column}: expected text, got {other:?}"
            ))),
        }
    }

    fn uuid(&self, column: &str) -> Result<Uuid, GraphError> {
        Uuid::parse_str(self.text(column)?)
            .map_err(|_| GraphError::Malformed(format!("{column}: not a UUID")))
    }

    fn int(&self, column: &str) -> Result<i64, GraphError> {
        match self {
            Cell::Int(i) => Ok(*i),
            Cell::Text(t) => t
                .parse()
                .map_err(|_| GraphError::Malformed(format!("{column}: not an integer"))),
            other => Err(GraphError::Malformed(format!(
                "{column}: expected an integer, got {other:?}"
            ))),
        }
    }

    fn float(&self, column: &str) -> Result<f64, GraphError> {
        match self {
            Cell::Float(f) => Ok(*f),
            Cell::Int(i) => Ok(*i as f64),
            // FalkorDB's RESP2 answers carry doubles as text.
            Cell::Text(t) => t
                .parse()
                .map_err(|_| GraphError::Malformed(format!("{column}: not a number"))),
            other => Err(GraphError::Malformed(format!(
                "{column}: expected a number, got {other:?}"
            ))),
        }
    }

    fn boolean(&self, column: &str) -> Result<bool, GraphError> {
        match self {
            Cell::Bool(b) => Ok(*b),
            Cell::Text(t) if t == "true" => Ok(true),
            Cell::Text(t) if t == "false" => Ok(false),
            other => Err(GraphError::Malformed(format!(
                "{column}: expected a boolean, got {other:?}"
            ))),
        }
    }
}

/// A connection that runs one openCypher statement with parameters and returns its rows, each
/// with the cells of `columns` (the names the `RETURN` clause gives them), in that order.
#[async_trait]
pub trait CypherConnection: Send + Sync + 'static {
    async fn run(
        &self,
        statement: &str,
        params: Vec<(&'static str, Param)>,
        columns: &[&str],
    ) -> Result<Vec<Vec<Cell>>, GraphError>;
    /// Removes every node and relationship of the graph this connection writes.
    async fn clear(&self) -> Result<(), GraphError> {
        self.run("MATCH (x:Exchange) DETACH DELETE x", Vec::new(), &[])
            .await?;
        self.run("MATCH (b:Business) DETACH DELETE b", Vec::new(), &[])
            .await?;
        Ok(())
    }
    fn kind(&self) -> &'static str;
}

/// Rows per statement when writing many exchanges.
const BATCH: usize = 500;

/// Indexes by id; creating one that exists fails on both servers, and is ignored.
pub(crate) const INDEXES: [&str; 2] = [
    "CREATE INDEX FOR (x:Exchange) ON (x.need_flow)",
    "CREATE INDEX FOR (b:Business) ON (b.id)",
];

/// Writes rows of exchanges, each only over an older version of its need.
const UPSERT: &str = "UNWIND $rows AS row \
MERGE (x:Exchange {need_flow: row.need_flow}) \
ON CREATE SET x.version = -1 \
WITH x, row WHERE x.version < row.version \
OPTIONAL MATCH (x)-[r]-() DELETE r \
WITH DISTINCT x, row \
SET x += row, x.live = true \
MERGE (o:Business {id: row.offer_business}) \
MERGE (n:Business {id: row.need_business}) \
CREATE (o)-[:SUPPLIES]->(x) \
CREATE (x)-[:SERVES]->(n)";

/// Marks needs as served by nothing, each only over an older version.
const UNSERVE: &str = "UNWIND $rows AS row \
MERGE (x:Exchange {need_flow: row.need_flow}) \
ON CREATE SET x.version = -1 \
WITH x, row WHERE x.version < row.version \
OPTIONAL MATCH (x)-[r]-() DELETE r \
WITH DISTINCT x, row \
SET x.version = row.version, x.live = false";

/// The properties every read returns, in this order, each under its own name (see [`exchange_of`]).
const COLUMNS: [&str; 19] = [
    "need_flow",
    "match_id",
    "version",
    "offer_flow",
    "offer_business",
    "need_business",
    "offer_anonymous",
    "need_anonymous",
    "offer_category",
    "need_category",
    "status",
    "savings",
    "co2",
    "public_savings",
    "public_co2",
    "offer_lat",
    "offer_lon",
    "need_lat",
    "need_lon",
];

fn row_of(e: &Exchange) -> Param {
    let id = |u: Uuid| Param::Text(u.to_string());
    Param::Map(vec![
        ("need_flow", id(e.need_flow_id)),
        ("match_id", id(e.match_id)),
        ("version", Param::Int(e.version)),
        ("offer_flow", id(e.offer_flow_id)),
        ("offer_business", id(e.offer_business_id)),
        ("need_business", id(e.need_business_id)),
        ("offer_anonymous", Param::Bool(e.offer_anonymous)),
        ("need_anonymous", Param::Bool(e.need_anonymous)),
        ("offer_category", Param::Text(e.offer_category.clone())),
        ("need_category", Param::Text(e.need_category.clone())),
        ("status", Param::Text(e.status.as_str().into())),
        ("savings", Param::Float(e.savings_eur_per_year)),
        ("co2", Param::Float(e.co2_t_per_year)),
        (
            "public_savings",
            Param::Float(e.public_savings_eur_per_year),
        ),
        ("public_co2", Param::Float(e.public_co2_t_per_year)),
        ("offer_lat", Param::Float(e.offer_location.lat)),
        ("offer_lon", Param::Float(e.offer_location.lon)),
        ("need_lat", Param::Float(e.need_location.lat)),
        ("need_lon", Param::Float(e.need_location.lon)),
    ])
}

fn exchange_of(row: &[Cell]) -> Result<Exchange, GraphError> {
    if row.len() != 19 {
        return Err(GraphError::Malformed(format!(
            "expected 19 columns, got {}",
            row.len()
        )));
    }
    let status = row[10].text("status")?;
    Ok(Exchange {
        need_flow_id: row[0].uuid("need_flow")?,
        match_id: row[1].uuid("match_id")?,
        version: row[2].int("version")?,
        offer_flow_id: row[3].uuid("offer_flow")?,
        offer_business_id: row[4].uuid("offer_business")?,
        need_business_id: row[5].uuid("need_business")?,
        offer_anonymous: row[6].boolean("offer_anonymous")?,
        need_anonymous: row[7].boolean("need_anonymous")?,
        offer_category: row[8].text("offer_category")?.to_string(),
        need_category: row[9].text("need_category")?.to_string(),
        status: MatchStatus::parse(status)
            .ok_or_else(|| GraphError::Malformed(format!("status: '{status}'")))?,
        savings_eur_per_year: row[11].float("savings")?,
        co2_t_per_year: row[12].float("co2")?,
        public_savings_eur_per_year: row[13].float("public_savings")?,
        public_co2_t_per_year: row[14].float("public_co2")?,
        offer_location: GeoPoint {
            lat: row[15].float("offer_lat")?,
            lon: row[16].float("offer_lon")?,
        },
        need_location: GeoPoint {
            lat: row[17].float("need_lat")?,
            lon: row[18].float("need_lon")?,
        },
    })
}

/// The `MATCH` of the exchanges a filter lets through, with its parameters: the translation of
/// [`NetworkFilter::admits`].
pub fn select(filter: &NetworkFilter) -> (String, Vec<(&'static str, Param)>) {
    let mut conditions = vec!["x.live = true".to_string()];
    let mut params = Vec::new();
    if let Some(r) = filter.region {
        for side in ["offer", "need"] {
            conditions.push(format!(
                "x.{side}_lat >= $south AND x.{side}_lat <= $north AND x.{side}_lon >= $west AND x.{side}_lon <= $east"
            ));
        }
        params.extend([
            ("south", Param::Float(r.south)),
            ("north", Param::Float(r.north)),
            ("west", Param::Float(r.west)),
            ("east", Param::Float(r.east)),
        ]);
    }
    if let Some(category) = &filter.category {
        conditions.push(
            "(x.offer_category = $category OR x.offer_category STARTS WITH $family \
             OR x.need_category = $category OR x.need_category STARTS WITH $family)"
                .into(),
        );
        params.push(("category", Param::Text(category.clone())));
        params.push(("family", Param::Text(format!("{category}."))));
    }
    if let Some(statuses) = &filter.statuses {
        conditions.push("x.status IN $statuses".into());
        params.push((
            "statuses",
            Param::List(
                statuses
                    .iter()
                    .map(|s| Param::Text(s.as_str().into()))
                    .collect(),
            ),
        ));
    }
    let columns: Vec<String> = COLUMNS.iter().map(|c| format!("x.{c} AS {c}")).collect();
    (
        format!(
            "MATCH (x:Exchange) WHERE {} RETURN {}",
            conditions.join(" AND "),
            columns.join(", ")
        ),
        params,
    )
}

/// The projection on a Cypher server, over any transport.
pub struct CypherGraph<C> {
    connection: C,
}

impl<C: CypherConnection> CypherGraph<C> {
    /// Creates the indexes (once per graph; an existing one is not an error).
    pub async fn new(connection: C) -> Result<Self, GraphError> {
        for index in INDEXES {
            if let Err(error) = connection.run(index, Vec::new(), &[]).await {
                match error {
                    // Both servers refuse an index that exists; anything else is a real failure.
                    GraphError::Refused(_) => {
                        tracing::debug!(%error, index, "graph index not created (it exists)")
                    }
                    other => return Err(other),
                }
            }
        }
        Ok(Self { connection })
    }

    pub fn connection(&self) -> &C {
        &self.connection
    }

    async fn write(&self, statement: &str, rows: Vec<Param>) -> Result<(), GraphError> {
        for chunk in rows.chunks(BATCH) {
            self.connection
                .run(statement, vec![("rows", Param::List(chunk.to_vec()))], &[])
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<C: CypherConnection> NetworkGraph for CypherGraph<C> {
    async fn upsert(&self, exchanges: &[Exchange]) -> Result<(), GraphError> {
        self.write(UPSERT, exchanges.iter().map(row_of).collect())
            .await
    }

    async fn unserve(&self, needs: &[(Uuid, i64)]) -> Result<(), GraphError> {
        let rows = needs
            .iter()
            .map(|(need, version)| {
                Param::Map(vec![
                    ("need_flow", Param::Text(need.to_string())),
                    ("version", Param::Int(*version)),
                ])
            })
            .collect();
        self.write(UNSERVE, rows).await
    }

    async fn replace_all(&self, exchanges: &[Exchange]) -> Result<(), GraphError> {
        self.connection.clear().await?;
        self.upsert(exchanges).await
    }

    async fn exchanges(&self, filter: &NetworkFilter) -> Result<Vec<Exchange>, GraphError> {
        let (statement, params) = select(filter);
        self.connection
            .run(&statement, params, &COLUMNS)
            .await?
            .iter()
            .map(|row| exchange_of(row))
            .collect()
    }

    fn kind(&self) -> &'static str {
        self.connection.kind()
    }
}
