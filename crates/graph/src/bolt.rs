//! The openCypher statements of [`crate::cypher`] over Bolt, for Neo4j (`bolt://`, `neo4j://`, with
//! `+s` for TLS; user and password in the URL, `graph` naming the database), through the `neo4rs`
//! driver (0.8.0, its last stable release).
//!
//! Limit: neo4rs 0.8.0 proposes Bolt 4.1 and 4.0 in its handshake, which Neo4j 4.x and 5.x accept,
//! but FalkorDB's Bolt listener agrees only to Bolt 5.x and closes the connection: against FalkorDB
//! use `falkordb://` ([`crate::falkordb`]) with the same statements (ADR 0022).

use async_trait::async_trait;
use neo4rs::{BoltList, BoltMap, BoltNull, BoltString, BoltType, ConfigBuilder, Graph, query};

use crate::cypher::{Cell, CypherConnection, Param};
use crate::{GraphError, timed, without_credentials};

pub struct BoltConnection {
    graph: Graph,
}

impl BoltConnection {
    /// Connects to `url` (`bolt://user:password@host:7687`); `database` may be empty for the
    /// server's default.
    pub async fn connect(url: &str, database: &str) -> Result<Self, GraphError> {
        let shown = without_credentials(url);
        let (scheme, rest) = url.split_once("://").unwrap_or(("bolt", url));
        // The credentials travel in the URL like every other service's; the driver wants them apart.
        let (user, password, host) = match rest.rsplit_once('@') {
            Some((credentials, host)) => {
                let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
                (user.to_string(), password.to_string(), host)
            }
            None => (String::new(), String::new(), rest),
        };
        if !scheme.ends_with("+s") {
            handshake(host, &shown).await?;
        }
        let mut config = ConfigBuilder::default()
            .uri(format!("{scheme}://{host}"))
            .user(user)
            .password(password)
            .max_connections(8);
        if !database.is_empty() {
            config = config.db(database);
        }
        let config = config
            .build()
            .map_err(|e| GraphError::unavailable(format!("Bolt configuration for {shown}"), e))?;
        let graph = timed(async {
            Graph::connect(config)
                .await
                .map_err(|e| GraphError::unavailable(format!("Bolt server at {shown}"), e))
        })
        .await?;
        let connection = Self { graph };
        // The pool connects lazily: one statement now says whether the server speaks our Bolt.
        connection
            .run("RETURN 1 AS one", Vec::new(), &["one"])
            .await?;
        Ok(connection)
    }
}

/// The versions neo4rs 0.8.0 proposes, in its handshake's encoding: 4.1, then 4.0.
const DRIVER_VERSIONS: [[u8; 4]; 2] = [[0, 0, 1, 4], [0, 0, 0, 4]];

/// Asks the server which of the driver's Bolt versions it agrees to, before the driver's pool
/// does: the pool retries a failed handshake with backoff for about 35 s and then reports only an
/// "early eof", where this names the cause at once.
async fn handshake(host: &str, shown: &str) -> Result<(), GraphError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:7687")
    };
    timed(async {
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .map_err(|e| GraphError::unavailable(format!("Bolt server at {shown}"), e))?;
        let mut hello = vec![0x60, 0x60, 0xB0, 0x17];
        for version in DRIVER_VERSIONS {
            hello.extend_from_slice(&version);
        }
        hello.extend_from_slice(&[0; 8]);
        stream
            .write_all(&hello)
            .await
            .map_err(|e| GraphError::unavailable(format!("Bolt server at {shown}"), e))?;
        let mut agreed = [0u8; 4];
        match stream.read_exact(&mut agreed).await {
            Ok(_) if DRIVER_VERSIONS.contains(&agreed) => Ok(()),
            Ok(_) => Err(GraphError::unavailable(
                format!("Bolt server at {shown}"),
                std::io::Error::other(format!(
                    "the server agreed to no Bolt version neo4rs 0.8.0 speaks (it proposes 4.1 and 4.0; the server answered {agreed:?})"
                )),
            )),
            Err(e) => Err(GraphError::unavailable(
                format!("Bolt server at {shown}"),
                std::io::Error::other(format!(
                    "the server agreed to no Bolt version neo4rs 0.8.0 speaks (it proposes 4.1 and 4.0) and closed the connection ({e}); FalkorDB, for one, accepts only Bolt 5.x"
                )),
            )),
        }
    })
    .await
}

fn bolt(param: Param) -> BoltType {
    match param {
        Param::Null => BoltType::Null(BoltNull),
        Param::Bool(b) => BoltType::from(b),
        Param::Int(i) => BoltType::from(i),
        Param::Float(f) => BoltType::from(f),
        Param::Text(t) => BoltType::from(t),
        Param::List(items) => BoltType::List(BoltList {
            value: items.into_iter().map(bolt).collect(),
        }),
        Param::Map(entries) => BoltType::Map(
            entries
                .into_iter()
                .map(|(key, value)| (BoltString::from(key), bolt(value)))
                .collect::<BoltMap>(),
        ),
    }
}

fn cell(value: BoltType) -> Result<Cell, GraphError> {
    Ok(match value {
        BoltType::Null(_) => Cell::Null,
        BoltType::Boolean(b) => Cell::Bool(b.value),
        BoltType::Integer(i) => Cell::Int(i.value),
        BoltType::Float(f) => Cell::Float(f.value),
        BoltType::String(s) => Cell::Text(s.value),
        other => {
            return Err(GraphError::Malformed(format!(
                "unexpected value {other:?} in a row"
            )));
        }
    })
}

#[async_trait]
impl CypherConnection for BoltConnection {
    async fn run(
        &self,
        statement: &str,
        params: Vec<(&'static str, Param)>,
        columns: &[&str],
    ) -> Result<Vec<Vec<Cell>>, GraphError> {
        let mut q = query(statement);
        for (name, value) in params {
            q = q.param(name, bolt(value));
        }
        timed(async {
            let refused = |e: neo4rs::Error| match e {
                neo4rs::Error::Neo4j(_) => GraphError::Refused(e.to_string()),
                other => GraphError::unavailable("Bolt statement", other),
            };
            let mut stream = self.graph.execute(q).await.map_err(refused)?;
            let mut rows = Vec::new();
            while let Some(row) = stream.next().await.map_err(refused)? {
                let cells = columns
                    .iter()
                    .map(|column| {
                        row.get::<BoltType>(column)
                            .map_err(|e| GraphError::Malformed(format!("{column}: {e}")))
                            .and_then(cell)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                rows.push(cells);
            }
            Ok(rows)
        })
        .await
    }

    fn kind(&self) -> &'static str {
        "bolt"
    }
}
