//! The openCypher statements of [`crate::cypher`] over FalkorDB's own protocol: `GRAPH.QUERY` on
//! its Redis port (`falkordb://host:port`), with parameters sent as FalkorDB's `CYPHER name=value`
//! prefix. This transport exists because FalkorDB's Bolt listener speaks only Bolt 5.x, which the
//! Rust Bolt driver does not (ADR 0022); the statements are the same as over Bolt.

use std::fmt::Write as _;

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use crate::cypher::{Cell, CypherConnection, Param};
use crate::{CALL_TIMEOUT, GraphError, timed, without_credentials};

pub struct FalkorConnection {
    connection: ConnectionManager,
    /// The graph's key on the server.
    graph: String,
}

impl FalkorConnection {
    /// Connects to `falkordb://[user:password@]host:port`; `graph` is the graph's key (it must
    /// not be empty).
    pub async fn connect(url: &str, graph: &str) -> Result<Self, GraphError> {
        if graph.is_empty()
            || !graph
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ':')
        {
            return Err(GraphError::UnsupportedUrl(format!(
                "{} with graph '{graph}' (use letters, digits, -, _ and :)",
                without_credentials(url)
            )));
        }
        let redis_url = url.replacen("falkordb://", "redis://", 1);
        let shown = without_credentials(url);
        let client = redis::Client::open(redis_url)
            .map_err(|e| GraphError::unavailable(format!("FalkorDB at {shown}"), e))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(std::time::Duration::from_secs(2))
            .set_response_timeout(CALL_TIMEOUT)
            .set_number_of_retries(1);
        let connection = timed(async {
            ConnectionManager::new_with_config(client, config)
                .await
                .map_err(|e| GraphError::unavailable(format!("FalkorDB at {shown}"), e))
        })
        .await?;
        Ok(Self {
            connection,
            graph: graph.to_string(),
        })
    }

    /// Deletes the whole graph key (tests and `replace_all` on an empty graph).
    pub async fn delete_graph(&self) -> Result<(), GraphError> {
        let mut connection = self.connection.clone();
        let deleted: Result<redis::Value, _> = redis::cmd("GRAPH.DELETE")
            .arg(&self.graph)
            .query_async(&mut connection)
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // Deleting a graph that does not exist is not a failure.
            Err(e) if e.kind() == redis::ErrorKind::ResponseError => Ok(()),
            Err(e) => Err(GraphError::unavailable("GRAPH.DELETE", e)),
        }
    }
}

/// Writes `param` as a Cypher literal.
fn literal(out: &mut String, param: &Param) {
    match param {
        Param::Null => out.push_str("null"),
        Param::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Param::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Param::Float(f) if f.is_finite() => {
            // `{:?}` keeps a decimal point or exponent, so the server reads a float, and prints the
            // shortest text that reads back as the same double.
            let _ = write!(out, "{f:?}");
        }
        Param::Float(_) => out.push_str("null"),
        Param::Text(text) => {
            out.push('\'');
            for c in text.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\'' => out.push_str("\\'"),
                    c => out.push(c),
                }
            }
            out.push('\'');
        }
        Param::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                literal(out, item);
            }
            out.push(']');
        }
        Param::Map(entries) => {
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(key);
                out.push(':');
                literal(out, value);
            }
            out.push('}');
        }
    }
}

/// The statement with its parameters as FalkorDB's `CYPHER a=1 b='x' ...` prefix.
pub fn with_parameters(statement: &str, params: &[(&'static str, Param)]) -> String {
    if params.is_empty() {
        return statement.to_string();
    }
    let mut out = String::from("CYPHER");
    for (name, value) in params {
        out.push(' ');
        out.push_str(name);
        out.push('=');
        literal(&mut out, value);
    }
    out.push(' ');
    out.push_str(statement);
    out
}

fn cell(value: &redis::Value) -> Result<Cell, GraphError> {
    Ok(match value {
        redis::Value::Nil => Cell::Null,
        redis::Value::Int(i) => Cell::Int(*i),
        redis::Value::Double(f) => Cell::Float(*f),
        redis::Value::Boolean(b) => Cell::Bool(*b),
        redis::Value::BulkString(bytes) => Cell::Text(
            String::from_utf8(bytes.clone())
                .map_err(|_| GraphError::Malformed("a value is not UTF-8".into()))?,
        ),
        redis::Value::SimpleString(text) => Cell::Text(text.clone()),
        other => {
            return Err(GraphError::Malformed(format!(
                "unexpected value {other:?} in a row"
            )));
        }
    })
}

#[async_trait]
impl CypherConnection for FalkorConnection {
    async fn run(
        &self,
        statement: &str,
        params: Vec<(&'static str, Param)>,
        _columns: &[&str],
    ) -> Result<Vec<Vec<Cell>>, GraphError> {
        // Rows come back in the `RETURN` clause's order, which is the columns' order.
        let query = with_parameters(statement, &params);
        let mut connection = self.connection.clone();
        let answer: redis::Value = timed(async {
            redis::cmd("GRAPH.QUERY")
                .arg(&self.graph)
                .arg(&query)
                .query_async(&mut connection)
                .await
                .map_err(|e| match e.kind() {
                    redis::ErrorKind::ResponseError | redis::ErrorKind::ExtensionError => {
                        GraphError::Refused(e.to_string())
                    }
                    _ => GraphError::unavailable("GRAPH.QUERY", e),
                })
        })
        .await?;
        // `[header, rows, statistics]` for a statement that returns rows, `[statistics]` otherwise.
        let redis::Value::Array(parts) = answer else {
            return Err(GraphError::Malformed(
                "GRAPH.QUERY answer is not a list".into(),
            ));
        };
        if parts.len() < 3 {
            return Ok(Vec::new());
        }
        let redis::Value::Array(rows) = &parts[1] else {
            return Err(GraphError::Malformed(
                "GRAPH.QUERY rows are not a list".into(),
            ));
        };
        rows.iter()
            .map(|row| match row {
                redis::Value::Array(cells) => cells.iter().map(cell).collect(),
                _ => Err(GraphError::Malformed("a row is not a list".into())),
            })
            .collect()
    }

    async fn clear(&self) -> Result<(), GraphError> {
        self.delete_graph().await?;
        // The indexes went with the graph.
        for index in crate::cypher::INDEXES {
            match self.run(index, Vec::new(), &[]).await {
                Ok(_) | Err(GraphError::Refused(_)) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "falkordb"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_literals_the_server_reads_back() {
        let text = with_parameters(
            "RETURN $rows",
            &[(
                "rows",
                Param::List(vec![Param::Map(vec![
                    ("a", Param::Text("it's \\ here".into())),
                    ("b", Param::Float(100000.0)),
                    ("c", Param::Float(1e-7)),
                    ("d", Param::Int(-3)),
                    ("e", Param::Bool(true)),
                    ("f", Param::Float(f64::NAN)),
                ])]),
            )],
        );
        assert_eq!(
            text,
            "CYPHER rows=[{a:'it\\'s \\\\ here',b:100000.0,c:1e-7,d:-3,e:true,f:null}] RETURN $rows"
        );
    }
}
