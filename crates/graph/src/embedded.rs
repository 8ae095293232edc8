//! The in-process projection (`memory://`, the embedded default): a petgraph directed graph of
//! businesses (nodes) and the exchanges that serve needs (edges, offer → need), in this process's
//! memory, kept current by the same events as a server's. Operations are CPU-only and short, so a
//! std lock is right.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use uuid::Uuid;

use crate::{Exchange, GraphError, NetworkFilter, NetworkGraph};

/// What the projection holds for one need.
#[derive(Debug, Clone, Copy)]
enum Served {
    By(EdgeIndex),
    /// Served by nothing as of this version.
    Nothing(i64),
}

#[derive(Default)]
struct Projection {
    graph: StableDiGraph<Uuid, Exchange>,
    businesses: HashMap<Uuid, NodeIndex>,
    needs: HashMap<Uuid, Served>,
}

impl Projection {
    fn version_of(&self, need: Uuid) -> Option<i64> {
        match self.needs.get(&need)? {
            Served::By(edge) => self.graph.edge_weight(*edge).map(|e| e.version),
            Served::Nothing(version) => Some(*version),
        }
    }

    fn business(&mut self, id: Uuid) -> NodeIndex {
        *self
            .businesses
            .entry(id)
            .or_insert_with(|| self.graph.add_node(id))
    }

    /// Takes out the need's edge, and a business left without exchanges.
    fn detach(&mut self, need: Uuid) {
        if let Some(Served::By(edge)) = self.needs.remove(&need)
            && let Some((from, to)) = self.graph.edge_endpoints(edge)
        {
            self.graph.remove_edge(edge);
            for node in [from, to] {
                if self.graph.neighbors_undirected(node).next().is_none()
                    && let Some(id) = self.graph.remove_node(node)
                {
                    self.businesses.remove(&id);
                }
            }
        }
    }

    fn put(&mut self, exchange: &Exchange) {
        if self
            .version_of(exchange.need_flow_id)
            .is_some_and(|v| v >= exchange.version)
        {
            return;
        }
        self.detach(exchange.need_flow_id);
        let from = self.business(exchange.offer_business_id);
        let to = self.business(exchange.need_business_id);
        let edge = self.graph.add_edge(from, to, exchange.clone());
        self.needs.insert(exchange.need_flow_id, Served::By(edge));
    }

    fn unserve(&mut self, need: Uuid, version: i64) {
        if self.version_of(need).is_some_and(|v| v >= version) {
            return;
        }
        self.detach(need);
        self.needs.insert(need, Served::Nothing(version));
    }
}

/// The embedded adapter.
#[derive(Default)]
pub struct EmbeddedGraph {
    projection: RwLock<Projection>,
}

impl EmbeddedGraph {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Projection> {
        self.projection
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl NetworkGraph for EmbeddedGraph {
    async fn upsert(&self, exchanges: &[Exchange]) -> Result<(), GraphError> {
        let mut projection = self.write();
        for exchange in exchanges {
            projection.put(exchange);
        }
        Ok(())
    }

    async fn unserve(&self, needs: &[(Uuid, i64)]) -> Result<(), GraphError> {
        let mut projection = self.write();
        for &(need, version) in needs {
            projection.unserve(need, version);
        }
        Ok(())
    }

    async fn replace_all(&self, exchanges: &[Exchange]) -> Result<(), GraphError> {
        let mut fresh = Projection::default();
        for exchange in exchanges {
            fresh.put(exchange);
        }
        *self.write() = fresh;
        Ok(())
    }

    async fn exchanges(&self, filter: &NetworkFilter) -> Result<Vec<Exchange>, GraphError> {
        let projection = self
            .projection
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(projection
            .graph
            .edge_weights()
            .filter(|e| filter.admits(e))
            .cloned()
            .collect())
    }

    fn kind(&self) -> &'static str {
        "embedded"
    }
}
