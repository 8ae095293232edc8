//! Global allocation (rule v2, beside the greedy per-offer rule of `allocation`): over each
//! connected component of the offer–need graph, the delivered amounts that maximise the value of
//! what is delivered, subject to every offer's capacity and every need's demand.
//!
//! The input is plain numbers ([`AllocationProblem`], indexed by `u32` slots) so the engine can
//! build it from its own state and this module knows nothing of flows, matches or ids. For each
//! live edge e (a match) it chooses `x_e ≥ 0` in the need's unit maximising `Σ value_e·x_e` with
//!
//! * `x_e ≤ max_e` (what the offer could deliver to that need alone, the match's delivered amount),
//! * `Σ_{e of offer o} x_e / conversion_e ≤ capacity_o` (offer units),
//! * `Σ_{e of need n} x_e ≤ demand_n` (need units).
//!
//! Conversions differ per edge, so this is a generalized flow (flow with gains), solved as a linear
//! programme per component with `microlp` (ADR 0017). CO2 is reported for the chosen amounts but not
//! optimised. An edge with non-positive value per unit gets nothing.
//!
//! [`GlobalAllocation`] keeps one solution per component and re-solves only the components a change
//! touches ([`GlobalAllocation::update`]). [`greedy_allocation`] computes what rule v1 gives on the
//! same problem, so the two can be compared.
//!
//! What it must not do: know about `Match`, `Engine` or any id type (the engine maps slots to ids);
//! fail a change because the solver failed on one component (that component falls back to the
//! greedy rule, and the report says so).

use std::cmp::Ordering;

use foldhash::{HashMap, HashMapExt};
use microlp::{ComparisonOp, OptimizationDirection, Problem};
use rayon::prelude::*;

/// Marks a node that belongs to no component (it has no live edge).
const NO_COMPONENT: u32 = u32::MAX;

/// What an offer can give in total, in the offer's unit (per year, or per hour for pipe-bound
/// resources once the engine allocates hour by hour).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    pub amount: f64,
}

/// What a need can take in total, in the need's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    pub amount: f64,
}

/// One possible delivery: a live match between an offer and a need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    /// Index into [`AllocationProblem::offers`].
    pub offer: u32,
    /// Index into [`AllocationProblem::needs`].
    pub need: u32,
    /// The most this edge can carry, in need units (the match's delivered amount).
    pub max: f64,
    /// Need units per offer unit (the taxonomy rule's conversion factor), > 0.
    pub conversion: f64,
    /// What a delivered need unit is worth, EUR (the match's savings per delivered unit; may be
    /// negative, then the global allocation gives the edge nothing).
    pub value_per_unit: f64,
    /// CO2 avoided per delivered need unit, t. Reported, not optimised.
    pub co2_per_unit: f64,
    /// The match's score, 0..1: the order in which the greedy rule serves an offer's needs.
    pub score: f64,
}

impl Edge {
    /// Whether the greedy rule hands this edge a share: valid indices, a positive finite bound and
    /// conversion. The rule v1 serves matches whatever their economics.
    fn is_servable(&self, problem: &AllocationProblem) -> bool {
        (self.offer as usize) < problem.offers.len()
            && (self.need as usize) < problem.needs.len()
            && self.max.is_finite()
            && self.max > 0.0
            && self.conversion.is_finite()
            && self.conversion > 0.0
    }

    /// Whether the edge takes part in the global allocation (and so joins its endpoints into one
    /// component): servable and worth something.
    fn is_live(&self, problem: &AllocationProblem) -> bool {
        self.is_servable(problem) && self.value_per_unit.is_finite() && self.value_per_unit > 0.0
    }
}

/// The whole allocation input. Indices are slots the caller keeps stable between
/// [`GlobalAllocation::update`] calls: vectors only grow, and an edge that no longer exists is made
/// dead (`max = 0`) and reported as touched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllocationProblem {
    pub offers: Vec<Capacity>,
    pub needs: Vec<Demand>,
    pub edges: Vec<Edge>,
}

/// Value and CO2 of a set of delivered amounts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// Σ value_per_unit · x, EUR.
    pub value_eur: f64,
    /// Σ co2_per_unit · x, t.
    pub co2_t: f64,
}

impl Totals {
    fn add(&mut self, edge: &Edge, amount: f64) {
        self.value_eur += edge.value_per_unit * amount;
        self.co2_t += edge.co2_per_unit * amount;
    }

    /// Totals of per-edge amounts (indexed like `problem.edges`).
    pub fn of(problem: &AllocationProblem, amounts: &[f64]) -> Self {
        let mut t = Totals::default();
        for (edge, &x) in problem.edges.iter().zip(amounts) {
            if x != 0.0 {
                t.add(edge, x);
            }
        }
        t
    }
}

/// Why a component's linear programme gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum AllocationError {
    #[error("the solver failed on the component of edge {first_edge} ({edges} edges)")]
    Solver {
        first_edge: u32,
        edges: usize,
        #[source]
        source: microlp::Error,
    },
    #[error(
        "the solver stopped before it found an allocation for the component of edge {first_edge}"
    )]
    Interrupted { first_edge: u32 },
}

/// How a component's amounts were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolvedBy {
    /// No capacity or demand binds: every edge gets its maximum (no solver call).
    Bounds,
    /// The linear programme.
    LinearProgramme,
    /// The solver failed; the greedy rule's amounts, capped by the needs' demands, stand in.
    GreedyFallback,
}

/// The allocation of one connected component.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSolution {
    /// Its live edges, ascending.
    pub edges: Vec<u32>,
    /// Delivered amount of each edge (need units), aligned with `edges`.
    pub amounts: Vec<f64>,
    /// Its offers and needs, ascending.
    pub offers: Vec<u32>,
    pub needs: Vec<u32>,
    pub totals: Totals,
    pub solved_by: SolvedBy,
}

/// The connected components of the graph of live edges (union–find): each is its edges,
/// ascending; components are ordered by their first edge. Nodes without a live edge belong to none.
pub fn components(problem: &AllocationProblem) -> Vec<Vec<u32>> {
    let offers = problem.offers.len();
    let mut parent: Vec<u32> = (0..(offers + problem.needs.len()) as u32).collect();
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            // Path halving.
            let grand = parent[parent[x as usize] as usize];
            parent[x as usize] = grand;
            x = grand;
        }
        x
    }
    for edge in problem.edges.iter().filter(|e| e.is_live(problem)) {
        let a = find(&mut parent, edge.offer);
        let b = find(&mut parent, offers as u32 + edge.need);
        if a != b {
            // Smaller root wins: any rule works, this one keeps the result independent of order.
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            parent[hi as usize] = lo;
        }
    }
    let mut slot_of_root: HashMap<u32, usize> = HashMap::new();
    let mut out: Vec<Vec<u32>> = Vec::new();
    for (i, edge) in problem.edges.iter().enumerate() {
        if !edge.is_live(problem) {
            continue;
        }
        let root = find(&mut parent, edge.offer);
        let slot = *slot_of_root.entry(root).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[slot].push(i as u32);
    }
    out
}

/// The optimal delivered amounts of a component's edges (aligned with `edges`, need units): the
/// linear programme of the module comment, over the given edges only. Dead edges get 0.
pub fn solve_component(
    problem: &AllocationProblem,
    edges: &[u32],
) -> Result<Vec<f64>, AllocationError> {
    solve_lp(problem, edges).map(|(amounts, _)| amounts)
}

/// Offers and needs of the given edges with their local index, in order of first appearance.
struct LocalNodes {
    offers: Vec<u32>,
    needs: Vec<u32>,
    /// Per edge of the component: (local offer, local need), or None for a dead edge.
    ends: Vec<Option<(usize, usize)>>,
}

fn local_nodes(problem: &AllocationProblem, edges: &[u32]) -> LocalNodes {
    let mut offer_index: HashMap<u32, usize> = HashMap::with_capacity(edges.len());
    let mut need_index: HashMap<u32, usize> = HashMap::with_capacity(edges.len());
    let mut offers = Vec::new();
    let mut needs = Vec::new();
    let ends = edges
        .iter()
        .map(|&e| {
            let edge = problem.edges.get(e as usize)?;
            if !edge.is_live(problem) {
                return None;
            }
            let o = *offer_index.entry(edge.offer).or_insert_with(|| {
                offers.push(edge.offer);
                offers.len() - 1
            });
            let n = *need_index.entry(edge.need).or_insert_with(|| {
                needs.push(edge.need);
                needs.len() - 1
            });
            Some((o, n))
        })
        .collect();
    LocalNodes {
        offers,
        needs,
        ends,
    }
}

/// A capacity or demand as the programme uses it: negative or not-a-number counts as 0.
fn limit(amount: f64) -> f64 {
    if amount.is_nan() {
        0.0
    } else {
        amount.max(0.0)
    }
}

fn solve_lp(
    problem: &AllocationProblem,
    edges: &[u32],
) -> Result<(Vec<f64>, SolvedBy), AllocationError> {
    let nodes = local_nodes(problem, edges);
    let edge = |i: usize| &problem.edges[edges[i] as usize];
    // Load of each node if every edge carried its maximum: a node that cannot bind gets no row.
    let mut offer_load = vec![0.0; nodes.offers.len()];
    let mut need_load = vec![0.0; nodes.needs.len()];
    for (i, ends) in nodes.ends.iter().enumerate() {
        if let Some((o, n)) = *ends {
            offer_load[o] += edge(i).max / edge(i).conversion;
            need_load[n] += edge(i).max;
        }
    }
    let offer_cap: Vec<f64> = nodes
        .offers
        .iter()
        .map(|&o| limit(problem.offers[o as usize].amount))
        .collect();
    let need_cap: Vec<f64> = nodes
        .needs
        .iter()
        .map(|&n| limit(problem.needs[n as usize].amount))
        .collect();
    let offer_binds: Vec<bool> = offer_load
        .iter()
        .zip(&offer_cap)
        .map(|(l, c)| l > c)
        .collect();
    let need_binds: Vec<bool> = need_load
        .iter()
        .zip(&need_cap)
        .map(|(l, c)| l > c)
        .collect();
    let mut amounts: Vec<f64> = nodes
        .ends
        .iter()
        .enumerate()
        .map(|(i, ends)| if ends.is_some() { edge(i).max } else { 0.0 })
        .collect();
    if !offer_binds.iter().any(|&b| b) && !need_binds.iter().any(|&b| b) {
        return Ok((amounts, SolvedBy::Bounds));
    }

    // Scale amounts by the largest bound and values by the largest value, so the programme's
    // numbers are at most 1 whatever the units (the solver's tolerances are absolute, 1e-7).
    let amount_scale = amounts.iter().copied().fold(0.0_f64, f64::max);
    let value_scale = nodes
        .ends
        .iter()
        .enumerate()
        .filter(|(_, ends)| ends.is_some())
        .map(|(i, _)| edge(i).value_per_unit)
        .fold(0.0_f64, f64::max);
    let mut lp = Problem::new(OptimizationDirection::Maximize);
    let vars: Vec<Option<microlp::Variable>> = nodes
        .ends
        .iter()
        .enumerate()
        .map(|(i, ends)| {
            ends.map(|_| {
                lp.add_var(
                    edge(i).value_per_unit / value_scale,
                    (0.0, edge(i).max / amount_scale),
                )
            })
        })
        .collect();
    let mut offer_rows: Vec<Vec<(microlp::Variable, f64)>> = vec![Vec::new(); nodes.offers.len()];
    let mut need_rows: Vec<Vec<(microlp::Variable, f64)>> = vec![Vec::new(); nodes.needs.len()];
    for (i, ends) in nodes.ends.iter().enumerate() {
        if let (Some((o, n)), Some(var)) = (*ends, vars[i]) {
            if offer_binds[o] {
                offer_rows[o].push((var, 1.0 / edge(i).conversion));
            }
            if need_binds[n] {
                need_rows[n].push((var, 1.0));
            }
        }
    }
    for (o, row) in offer_rows
        .iter()
        .enumerate()
        .filter(|(o, _)| offer_binds[*o])
    {
        lp.add_constraint(
            row.as_slice(),
            ComparisonOp::Le,
            offer_cap[o] / amount_scale,
        );
    }
    for (n, row) in need_rows.iter().enumerate().filter(|(n, _)| need_binds[*n]) {
        lp.add_constraint(row.as_slice(), ComparisonOp::Le, need_cap[n] / amount_scale);
    }
    let first_edge = edges.first().copied().unwrap_or(0);
    let solution = lp
        .solve()
        .map_err(|source| AllocationError::Solver {
            first_edge,
            edges: edges.len(),
            source,
        })?
        .into_solution()
        .map_err(|_| AllocationError::Interrupted { first_edge })?;
    for (i, var) in vars.iter().enumerate() {
        amounts[i] = match var {
            Some(v) => (solution.var_value(*v) * amount_scale).clamp(0.0, edge(i).max),
            None => 0.0,
        };
    }
    repair(problem, edges, &nodes, &offer_cap, &need_cap, &mut amounts);
    Ok((amounts, SolvedBy::LinearProgramme))
}

/// Removes the solver's tolerance (1e-7 of the largest bound) from the answer: a node over its
/// limit has its edges scaled down to it, so every returned allocation is feasible as written.
fn repair(
    problem: &AllocationProblem,
    edges: &[u32],
    nodes: &LocalNodes,
    offer_cap: &[f64],
    need_cap: &[f64],
    amounts: &mut [f64],
) {
    let edge = |i: usize| &problem.edges[edges[i] as usize];
    let mut offer_used = vec![0.0; nodes.offers.len()];
    for (i, ends) in nodes.ends.iter().enumerate() {
        if let Some((o, _)) = *ends {
            offer_used[o] += amounts[i] / edge(i).conversion;
        }
    }
    for (i, ends) in nodes.ends.iter().enumerate() {
        if let Some((o, _)) = *ends
            && offer_used[o] > offer_cap[o]
        {
            amounts[i] *= offer_cap[o] / offer_used[o];
        }
    }
    let mut need_used = vec![0.0; nodes.needs.len()];
    for (i, ends) in nodes.ends.iter().enumerate() {
        if let Some((_, n)) = *ends {
            need_used[n] += amounts[i];
        }
    }
    for (i, ends) in nodes.ends.iter().enumerate() {
        if let Some((_, n)) = *ends
            && need_used[n] > need_cap[n]
        {
            amounts[i] *= need_cap[n] / need_used[n];
        }
    }
}

/// Solves one component, falling back to the greedy rule (with need caps) if the solver fails.
fn solve_or_fallback(
    problem: &AllocationProblem,
    edges: Vec<u32>,
) -> (ComponentSolution, Option<AllocationError>) {
    let (amounts, solved_by, error) = match solve_lp(problem, &edges) {
        Ok((amounts, by)) => (amounts, by, None),
        Err(error) => {
            let live: Vec<u32> = edges
                .iter()
                .copied()
                .filter(|&e| problem.edges[e as usize].is_live(problem))
                .collect();
            let (_, delivered) = greedy_over(problem, &live);
            let mut amounts = vec![0.0; edges.len()];
            let mut at = 0;
            for (i, &e) in edges.iter().enumerate() {
                if at < live.len() && live[at] == e {
                    amounts[i] = delivered[at];
                    at += 1;
                }
            }
            (amounts, SolvedBy::GreedyFallback, Some(error))
        }
    };
    let mut totals = Totals::default();
    let mut offers = Vec::new();
    let mut needs = Vec::new();
    for (&e, &x) in edges.iter().zip(&amounts) {
        let edge = &problem.edges[e as usize];
        totals.add(edge, x);
        offers.push(edge.offer);
        needs.push(edge.need);
    }
    offers.sort_unstable();
    offers.dedup();
    needs.sort_unstable();
    needs.dedup();
    (
        ComponentSolution {
            edges,
            amounts,
            offers,
            needs,
            totals,
            solved_by,
        },
        error,
    )
}

/// What the greedy rule v1 (`allocation`: each offer serves its needs by score, highest first, ties
/// to the lower edge index, each taking `max / conversion` offer units until the capacity runs out)
/// gives on the same problem.
#[derive(Debug, Clone, PartialEq)]
pub struct GreedyAllocation {
    /// What each edge is allocated by its offer (need units, indexed like `problem.edges`). Each
    /// offer allocates alone, so a need matched by several offers can be allocated more than its
    /// demand in total.
    pub allocated: Vec<f64>,
    /// What can actually be delivered: each need accepts its allocations by score, highest first,
    /// until its demand is met; the rest is not re-offered elsewhere. A feasible allocation.
    pub delivered: Vec<f64>,
    pub allocated_totals: Totals,
    pub delivered_totals: Totals,
}

/// The greedy rule's allocation of the whole problem (every servable edge, whatever its value).
pub fn greedy_allocation(problem: &AllocationProblem) -> GreedyAllocation {
    let servable: Vec<u32> = (0..problem.edges.len() as u32)
        .filter(|&e| problem.edges[e as usize].is_servable(problem))
        .collect();
    let (allocated_some, delivered_some) = greedy_over(problem, &servable);
    let mut allocated = vec![0.0; problem.edges.len()];
    let mut delivered = vec![0.0; problem.edges.len()];
    for (k, &e) in servable.iter().enumerate() {
        allocated[e as usize] = allocated_some[k];
        delivered[e as usize] = delivered_some[k];
    }
    GreedyAllocation {
        allocated_totals: Totals::of(problem, &allocated),
        delivered_totals: Totals::of(problem, &delivered),
        allocated,
        delivered,
    }
}

fn score_rank(problem: &AllocationProblem, a: u32, b: u32) -> Ordering {
    let (ea, eb) = (&problem.edges[a as usize], &problem.edges[b as usize]);
    eb.score.total_cmp(&ea.score).then_with(|| a.cmp(&b))
}

/// The greedy rule over the given servable edges: (allocated by the offers, delivered after the
/// needs' caps), aligned with `edges`.
fn greedy_over(problem: &AllocationProblem, edges: &[u32]) -> (Vec<f64>, Vec<f64>) {
    let mut position: HashMap<u32, usize> = HashMap::with_capacity(edges.len());
    for (k, &e) in edges.iter().enumerate() {
        position.insert(e, k);
    }
    let mut by_offer: HashMap<u32, Vec<u32>> = HashMap::new();
    for &e in edges {
        by_offer
            .entry(problem.edges[e as usize].offer)
            .or_default()
            .push(e);
    }
    let mut allocated = vec![0.0; edges.len()];
    for (offer, mut list) in by_offer {
        list.sort_by(|&a, &b| score_rank(problem, a, b));
        // The same walk as `allocation::walk`: compare in offer units, hand out what is left.
        let mut remaining = limit(problem.offers[offer as usize].amount);
        for e in list {
            let edge = &problem.edges[e as usize];
            let wanted = edge.max / edge.conversion;
            let taken = wanted.min(remaining);
            allocated[position[&e]] = if taken >= wanted {
                edge.max
            } else {
                edge.max * (taken / wanted)
            };
            remaining = (remaining - taken).max(0.0);
        }
    }
    let mut by_need: HashMap<u32, Vec<u32>> = HashMap::new();
    for &e in edges {
        if allocated[position[&e]] > 0.0 {
            by_need
                .entry(problem.edges[e as usize].need)
                .or_default()
                .push(e);
        }
    }
    let mut delivered = vec![0.0; edges.len()];
    for (need, mut list) in by_need {
        list.sort_by(|&a, &b| score_rank(problem, a, b));
        let mut remaining = limit(problem.needs[need as usize].amount);
        for e in list {
            let k = position[&e];
            let taken = allocated[k].min(remaining);
            delivered[k] = taken;
            remaining = (remaining - taken).max(0.0);
        }
    }
    (allocated, delivered)
}

/// What changed since the last solve or update, by slot. An edge whose figures, endpoints or
/// liveness changed, or that is new, must be listed; an offer or need whose capacity or demand
/// changed must be listed. Nodes and edges appended without being listed are fine only if they are
/// dead or isolated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub offers: Vec<u32>,
    pub needs: Vec<u32>,
    pub edges: Vec<u32>,
}

/// What one solve or update did.
#[derive(Debug, Default)]
pub struct UpdateReport {
    /// Components solved (all of them for a full solve).
    pub components_solved: usize,
    /// Live edges in those components.
    pub edges_solved: usize,
    /// Components whose programme failed and which got the greedy fallback, with why.
    pub fallbacks: Vec<AllocationError>,
}

/// Per-component global allocation of a problem, kept up to date change by change.
///
/// Invariant: `amounts[e]` is the delivered amount of edge e in the solution of e's component (0
/// for a dead edge); each node with a live edge is in exactly one stored component, and that
/// component is what solving its edges afresh would give (`update` equals a full solve).
#[derive(Debug, Clone, Default)]
pub struct GlobalAllocation {
    amounts: Vec<f64>,
    /// Live edges' endpoints as last seen: what to unlink when an edge changes.
    edge_ends: Vec<Option<(u32, u32)>>,
    /// Live edges at each offer and need.
    offer_edges: Vec<Vec<u32>>,
    need_edges: Vec<Vec<u32>>,
    offer_component: Vec<u32>,
    need_component: Vec<u32>,
    /// Component slots; a freed slot is `None` and reused.
    components: Vec<Option<ComponentSolution>>,
    free: Vec<u32>,
}

impl GlobalAllocation {
    /// Solves every component (in parallel) of a problem from scratch.
    pub fn solve(problem: &AllocationProblem) -> (Self, UpdateReport) {
        let mut this = Self::default();
        this.grow(problem);
        for (e, edge) in problem.edges.iter().enumerate() {
            if edge.is_live(problem) {
                this.link(e as u32, edge);
            }
        }
        let solved: Vec<(ComponentSolution, Option<AllocationError>)> = components(problem)
            .into_par_iter()
            .map(|edges| solve_or_fallback(problem, edges))
            .collect();
        let report = this.insert_all(solved);
        (this, report)
    }

    /// Applies a change: re-solves exactly the components that contain a touched node or edge
    /// (as they are after the change) and drops the ones they replace. A problem whose vectors
    /// shrank is solved from scratch.
    pub fn update(&mut self, problem: &AllocationProblem, touched: &Touched) -> UpdateReport {
        if problem.edges.len() < self.amounts.len()
            || problem.offers.len() < self.offer_edges.len()
            || problem.needs.len() < self.need_edges.len()
        {
            let (fresh, report) = Self::solve(problem);
            *self = fresh;
            return report;
        }
        self.grow(problem);
        let mut dirty_offers: Vec<u32> = touched
            .offers
            .iter()
            .copied()
            .filter(|&o| (o as usize) < problem.offers.len())
            .collect();
        let mut dirty_needs: Vec<u32> = touched
            .needs
            .iter()
            .copied()
            .filter(|&n| (n as usize) < problem.needs.len())
            .collect();
        for &e in &touched.edges {
            let Some(edge) = problem.edges.get(e as usize) else {
                continue;
            };
            if let Some((o, n)) = self.edge_ends[e as usize] {
                self.unlink(e, o, n);
                dirty_offers.push(o);
                dirty_needs.push(n);
            }
            if edge.is_live(problem) {
                self.link(e, edge);
                dirty_offers.push(edge.offer);
                dirty_needs.push(edge.need);
            }
        }

        // The components after the change that contain a dirty node. Every old component with a
        // dirty node lies inside them: its other nodes still reach a dirty node over untouched
        // edges, which are unchanged.
        let mut seen_offers = vec![false; problem.offers.len()];
        let mut seen_needs = vec![false; problem.needs.len()];
        let mut groups: Vec<Vec<u32>> = Vec::new();
        let mut old: Vec<u32> = Vec::new();
        let starts = dirty_offers
            .iter()
            .map(|&o| (true, o))
            .chain(dirty_needs.iter().map(|&n| (false, n)));
        for (is_offer, start) in starts {
            let seen = if is_offer {
                &mut seen_offers[start as usize]
            } else {
                &mut seen_needs[start as usize]
            };
            if *seen {
                continue;
            }
            *seen = true;
            let mut stack = vec![(is_offer, start)];
            let mut edges = Vec::new();
            while let Some((is_offer, node)) = stack.pop() {
                let (component, incident) = if is_offer {
                    (
                        self.offer_component[node as usize],
                        &self.offer_edges[node as usize],
                    )
                } else {
                    (
                        self.need_component[node as usize],
                        &self.need_edges[node as usize],
                    )
                };
                if component != NO_COMPONENT {
                    old.push(component);
                }
                for &e in incident {
                    let Some((o, n)) = self.edge_ends[e as usize] else {
                        continue;
                    };
                    if is_offer {
                        edges.push(e);
                        if !seen_needs[n as usize] {
                            seen_needs[n as usize] = true;
                            stack.push((false, n));
                        }
                    } else if !seen_offers[o as usize] {
                        seen_offers[o as usize] = true;
                        stack.push((true, o));
                    }
                }
            }
            if !edges.is_empty() {
                edges.sort_unstable();
                groups.push(edges);
            }
        }
        old.sort_unstable();
        old.dedup();
        for slot in old {
            self.drop_component(slot);
        }
        let solved: Vec<(ComponentSolution, Option<AllocationError>)> = if groups.len() > 1 {
            groups
                .into_par_iter()
                .map(|edges| solve_or_fallback(problem, edges))
                .collect()
        } else {
            groups
                .into_iter()
                .map(|edges| solve_or_fallback(problem, edges))
                .collect()
        };
        self.insert_all(solved)
    }

    /// Delivered amount of an edge (need units); 0 for a dead or unknown edge.
    pub fn amount(&self, edge: u32) -> f64 {
        self.amounts.get(edge as usize).copied().unwrap_or(0.0)
    }

    /// Delivered amount of every edge, indexed like `problem.edges`.
    pub fn amounts(&self) -> &[f64] {
        &self.amounts
    }

    /// The components with their solutions, in no particular order.
    pub fn components(&self) -> impl Iterator<Item = &ComponentSolution> {
        self.components.iter().flatten()
    }

    /// The component an edge belongs to, if it is live.
    pub fn component_of_edge(&self, edge: u32) -> Option<&ComponentSolution> {
        let (o, _) = (*self.edge_ends.get(edge as usize)?)?;
        let slot = *self.offer_component.get(o as usize)?;
        self.components.get(slot as usize)?.as_ref()
    }

    /// Value and CO2 of the whole allocation.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for c in self.components() {
            t.value_eur += c.totals.value_eur;
            t.co2_t += c.totals.co2_t;
        }
        t
    }

    fn grow(&mut self, problem: &AllocationProblem) {
        self.amounts.resize(problem.edges.len(), 0.0);
        self.edge_ends.resize(problem.edges.len(), None);
        self.offer_edges.resize(problem.offers.len(), Vec::new());
        self.need_edges.resize(problem.needs.len(), Vec::new());
        self.offer_component
            .resize(problem.offers.len(), NO_COMPONENT);
        self.need_component
            .resize(problem.needs.len(), NO_COMPONENT);
    }

    fn link(&mut self, e: u32, edge: &Edge) {
        self.edge_ends[e as usize] = Some((edge.offer, edge.need));
        self.offer_edges[edge.offer as usize].push(e);
        self.need_edges[edge.need as usize].push(e);
    }

    fn unlink(&mut self, e: u32, o: u32, n: u32) {
        self.edge_ends[e as usize] = None;
        for list in [
            &mut self.offer_edges[o as usize],
            &mut self.need_edges[n as usize],
        ] {
            if let Some(at) = list.iter().position(|&x| x == e) {
                list.swap_remove(at);
            }
        }
    }

    fn drop_component(&mut self, slot: u32) {
        let Some(c) = self
            .components
            .get_mut(slot as usize)
            .and_then(Option::take)
        else {
            return;
        };
        for &e in &c.edges {
            self.amounts[e as usize] = 0.0;
        }
        for &o in &c.offers {
            if self.offer_component[o as usize] == slot {
                self.offer_component[o as usize] = NO_COMPONENT;
            }
        }
        for &n in &c.needs {
            if self.need_component[n as usize] == slot {
                self.need_component[n as usize] = NO_COMPONENT;
            }
        }
        self.free.push(slot);
    }

    fn insert_all(
        &mut self,
        solved: Vec<(ComponentSolution, Option<AllocationError>)>,
    ) -> UpdateReport {
        let mut report = UpdateReport::default();
        for (c, error) in solved {
            report.components_solved += 1;
            report.edges_solved += c.edges.len();
            report.fallbacks.extend(error);
            let slot = match self.free.pop() {
                Some(slot) => slot,
                None => {
                    self.components.push(None);
                    (self.components.len() - 1) as u32
                }
            };
            for (&e, &x) in c.edges.iter().zip(&c.amounts) {
                self.amounts[e as usize] = x;
            }
            for &o in &c.offers {
                self.offer_component[o as usize] = slot;
            }
            for &n in &c.needs {
                self.need_component[n as usize] = slot;
            }
            self.components[slot as usize] = Some(c);
        }
        report
    }
}
