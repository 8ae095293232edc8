//! Chains, clusters and anchors of the network as one viewer may see it, found with petgraph on the
//! exchanges an adapter returned for a filter. Pure computation: no I/O, deterministic (exchanges
//! are ordered by need flow first, so every adapter's answer gives the same result).
//!
//! Who is who is the caller's to say: for each exchange, which of its sides are hidden from the
//! viewer. A hidden side is not its business but a party of its own ([`Party::Hidden`], one per
//! exchange side), so it never joins two exchanges: a chain never passes through it, a cluster
//! never grows through it, and its exchanges count for no anchor. Nothing an analysis answers can
//! then link an anonymous flow to its business or to that business's other exchanges.
//!
//! - A **chain** is a path of 2 to 4 exchanges through distinct parties, each one's need business
//!   being the next one's offer business (a business whose need is served and whose output serves
//!   another); every sub-path of 2 or more exchanges is a chain of its own.
//! - A **cluster** is a connected group of at least two exchanges (offer and need side alike).
//! - An **anchor** is a business, with what its removal would lose: its exchanges, the chains
//!   through it and the number of pieces its cluster would fall into.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::unionfind::UnionFind;
use petgraph::visit::EdgeRef;
use uuid::Uuid;

use crate::Exchange;

/// One side of an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    Offer,
    Need,
}

/// A node of the network as a viewer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Party {
    Business(Uuid),
    /// The hidden side of one exchange: known to be someone, not who.
    Hidden {
        match_id: Uuid,
        side: Side,
    },
}

impl Party {
    pub fn business(&self) -> Option<Uuid> {
        match self {
            Party::Business(id) => Some(*id),
            Party::Hidden { .. } => None,
        }
    }
}

/// A chain: `exchanges[i]` goes from `parties[i]` to `parties[i + 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    /// Indexes into [`Network::exchanges`].
    pub exchanges: Vec<usize>,
    pub parties: Vec<Party>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Indexes into [`Network::exchanges`], ascending.
    pub exchanges: Vec<usize>,
    /// Sorted.
    pub parties: Vec<Party>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    pub business: Uuid,
    /// The exchanges it takes part in (indexes into [`Network::exchanges`], ascending).
    pub exchanges: Vec<usize>,
    /// Chains (of [`Network::chains`]) it is a party of.
    pub chains: usize,
    /// How many connected pieces the rest of its cluster falls into without it (1: none lost
    /// their connection; more: it is the only link between them).
    pub splits_into: usize,
}

/// Shortest and longest chains, in exchanges.
pub const CHAIN_EXCHANGES: std::ops::RangeInclusive<usize> = 2..=4;

/// The network of a set of exchanges as one viewer sees it.
pub struct Network {
    exchanges: Vec<Exchange>,
    graph: DiGraph<Party, usize>,
}

impl Network {
    /// `hidden(exchange)` says which sides (offer, need) the viewer may not see.
    pub fn new(mut exchanges: Vec<Exchange>, hidden: impl Fn(&Exchange) -> (bool, bool)) -> Self {
        exchanges.sort_by_key(|e| e.need_flow_id);
        let mut graph = DiGraph::new();
        let mut nodes: HashMap<Party, NodeIndex> = HashMap::new();
        for (i, e) in exchanges.iter().enumerate() {
            let (offer_hidden, need_hidden) = hidden(e);
            let offer = if offer_hidden {
                Party::Hidden {
                    match_id: e.match_id,
                    side: Side::Offer,
                }
            } else {
                Party::Business(e.offer_business_id)
            };
            let need = if need_hidden {
                Party::Hidden {
                    match_id: e.match_id,
                    side: Side::Need,
                }
            } else {
                Party::Business(e.need_business_id)
            };
            let mut node = |party| *nodes.entry(party).or_insert_with(|| graph.add_node(party));
            let (from, to) = (node(offer), node(need));
            graph.add_edge(from, to, i);
        }
        Self { exchanges, graph }
    }

    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// Every chain, in a fixed order (by first exchange, then depth first).
    pub fn chains(&self) -> Vec<Chain> {
        let mut out = Vec::new();
        let mut starts: Vec<NodeIndex> = self.graph.node_indices().collect();
        starts.sort_by_key(|n| self.graph[*n]);
        for start in starts {
            let mut path_nodes = vec![start];
            let mut path_edges = Vec::new();
            self.extend(start, &mut path_nodes, &mut path_edges, &mut out);
        }
        out
    }

    fn extend(
        &self,
        at: NodeIndex,
        nodes: &mut Vec<NodeIndex>,
        edges: &mut Vec<usize>,
        out: &mut Vec<Chain>,
    ) {
        if edges.len() >= *CHAIN_EXCHANGES.end() {
            return;
        }
        // Only a business seen by the viewer links two exchanges.
        if !edges.is_empty() && !matches!(self.graph[at], Party::Business(_)) {
            return;
        }
        let mut next: Vec<(usize, NodeIndex)> = self
            .graph
            .edges(at)
            .map(|edge| (*edge.weight(), edge.target()))
            .collect();
        next.sort_unstable();
        for (exchange, target) in next {
            if nodes.contains(&target) {
                continue;
            }
            nodes.push(target);
            edges.push(exchange);
            if CHAIN_EXCHANGES.contains(&edges.len()) {
                out.push(Chain {
                    exchanges: edges.clone(),
                    parties: nodes.iter().map(|n| self.graph[*n]).collect(),
                });
            }
            self.extend(target, nodes, edges, out);
            nodes.pop();
            edges.pop();
        }
    }

    /// Connected groups of at least two exchanges, in a fixed order (by first exchange).
    pub fn clusters(&self) -> Vec<Cluster> {
        let mut sets = UnionFind::new(self.graph.node_count());
        for edge in self.graph.edge_references() {
            sets.union(edge.source().index(), edge.target().index());
        }
        let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
        for edge in self.graph.edge_references() {
            groups
                .entry(sets.find(edge.source().index()))
                .or_default()
                .push(*edge.weight());
        }
        let mut clusters: Vec<Cluster> = groups
            .into_values()
            .filter(|exchanges| exchanges.len() >= 2)
            .map(|mut exchanges| {
                exchanges.sort_unstable();
                let mut parties: Vec<Party> = self
                    .graph
                    .edge_references()
                    .filter(|e| exchanges.binary_search(e.weight()).is_ok())
                    .flat_map(|e| [self.graph[e.source()], self.graph[e.target()]])
                    .collect();
                parties.sort_unstable();
                parties.dedup();
                Cluster { exchanges, parties }
            })
            .collect();
        clusters.sort_by_key(|c| c.exchanges[0]);
        clusters
    }

    /// Every business the viewer sees, with what its removal would lose, in a fixed order (by
    /// business id). `chains` are this network's [`Network::chains`].
    pub fn anchors(&self, chains: &[Chain]) -> Vec<Anchor> {
        let pieces = self.pieces_without_each_node();
        let mut chains_of: HashMap<Uuid, usize> = HashMap::new();
        for chain in chains {
            for party in &chain.parties {
                if let Some(business) = party.business() {
                    *chains_of.entry(business).or_default() += 1;
                }
            }
        }
        let mut anchors: Vec<Anchor> = self
            .graph
            .node_indices()
            .filter_map(|node| {
                let business = self.graph[node].business()?;
                let mut exchanges: Vec<usize> = self
                    .graph
                    .edges_directed(node, petgraph::Direction::Outgoing)
                    .chain(
                        self.graph
                            .edges_directed(node, petgraph::Direction::Incoming),
                    )
                    .map(|e| *e.weight())
                    .collect();
                exchanges.sort_unstable();
                Some(Anchor {
                    business,
                    exchanges,
                    chains: chains_of.get(&business).copied().unwrap_or(0),
                    splits_into: pieces[node.index()],
                })
            })
            .collect();
        anchors.sort_by_key(|a| a.business);
        anchors
    }

    /// For each node, how many connected pieces its component falls into without it (articulation
    /// points by one iterative depth-first search over the undirected multigraph, O(V + E)).
    fn pieces_without_each_node(&self) -> Vec<usize> {
        let n = self.graph.node_count();
        let mut adjacency: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
        for (id, edge) in self.graph.edge_references().enumerate() {
            let (a, b) = (edge.source().index(), edge.target().index());
            adjacency[a].push((b, id));
            adjacency[b].push((a, id));
        }
        const UNSEEN: usize = usize::MAX;
        let mut discovered = vec![UNSEEN; n];
        let mut low = vec![0; n];
        let mut separated_children = vec![0usize; n];
        let mut is_root = vec![false; n];
        let mut clock = 0;
        for root in 0..n {
            if discovered[root] != UNSEEN {
                continue;
            }
            is_root[root] = true;
            discovered[root] = clock;
            low[root] = clock;
            clock += 1;
            // (node, edge it was reached by, next neighbour to look at)
            let mut stack = vec![(root, usize::MAX, 0usize)];
            while let Some(top) = stack.last_mut() {
                let (v, via, next) = *top;
                if let Some(&(w, edge)) = adjacency[v].get(next) {
                    top.2 += 1;
                    if edge == via {
                        continue;
                    }
                    if discovered[w] == UNSEEN {
                        discovered[w] = clock;
                        low[w] = clock;
                        clock += 1;
                        stack.push((w, edge, 0));
                    } else {
                        low[v] = low[v].min(discovered[w]);
                    }
                } else {
                    stack.pop();
                    if let Some(&(parent, _, _)) = stack.last() {
                        low[parent] = low[parent].min(low[v]);
                        if low[v] >= discovered[parent] {
                            separated_children[parent] += 1;
                        }
                    }
                }
            }
        }
        (0..n)
            .map(|v| {
                if adjacency[v].is_empty() {
                    0
                } else if is_root[v] {
                    separated_children[v]
                } else {
                    separated_children[v] + 1
                }
            })
            .collect()
    }
}
