//! The symbiosis network: its projection into the graph port (`symbiont_graph::NetworkGraph`) and
//! the network queries every transport serves — chains, clusters and anchors — as a viewer may see
//! them.
//!
//! **What the network is.** Each need is served by one exchange: its most advanced live match
//! (agreed, then negotiating, contacted, suggested; never a rejected one), then the best-scoring
//! (ranked by the score level at the grid-cell centres when a side is anonymous, as a stranger's list
//! is). The projection holds those exchanges.
//!
//! **Keeping it current.** The event consumer notes, for every event applied to the engine, the
//! needs it touched and the event's order ([`version_of`]); [`run_projection`] writes their serving
//! exchanges (or their absence) to the graph by need and version, so a replay or a late event
//! changes nothing, retries with backoff while the graph server is down, and reports its lag
//! ([`NetworkProjection::lag_seconds`], a Prometheus gauge). [`App::rebuild_network`] (platform
//! admins) replaces the projection with what the engine holds, which is rebuilt from the store.
//!
//! **Who sees what.** Every exchange of an answer is the match view `live_matches` serves the same
//! viewer, redacted the same way; a side hidden from the viewer is a party of its own in the
//! analyses (`symbiont_graph::analysis`), so no chain, cluster or anchor links an anonymous flow to
//! its business; totals that include a redacted exchange are bands of figures computed at the
//! grid-cell centres, never exact sums; and a region filter sees anonymous sites at their cell
//! centres.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use symbiont_graph::analysis::Network;
use symbiont_graph::{Exchange, NetworkFilter, NetworkGraph};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::App;
use crate::error::AppError;
use crate::identity::Caller;
use crate::visibility::{Viewer, band, band_key, signed_band};

/// The order of an event, from its UUIDv7 id (milliseconds since the epoch and a counter): the
/// version the projection writes its consequences under.
pub fn version_of(event_id: Uuid) -> i64 {
    (event_id.as_u128() >> 64) as i64 & i64::MAX
}

/// Needs waiting to be written, with the newest version noted for each, and when the oldest of
/// their events happened.
#[derive(Default)]
struct Pending {
    needs: HashMap<Uuid, i64>,
    oldest: Option<DateTime<Utc>>,
    /// The whole projection must be rewritten (start, or a failed rebuild).
    rebuild: bool,
}

/// The projection's state on this instance: the graph port, what is waiting to be written, and
/// the figures `/metrics` reports.
pub struct NetworkProjection {
    pub graph: Arc<dyn NetworkGraph>,
    pending: Mutex<Pending>,
    /// Wakes [`run_projection`] when needs are noted.
    wake: tokio::sync::Notify,
    /// Writes to the graph that failed (each is retried).
    pub failures: AtomicU64,
    /// Seconds between an event and its write to the graph, for the last write, in milliseconds.
    last_lag_ms: AtomicU64,
    /// The first projection after start ([`initial_projection`]): written off the start-up path,
    /// and awaited by the network queries so that none reads a graph not yet written.
    initial: tokio::sync::OnceCell<()>,
}

impl NetworkProjection {
    pub fn new(graph: Arc<dyn NetworkGraph>) -> Self {
        Self {
            graph,
            pending: Mutex::new(Pending {
                rebuild: true,
                ..Pending::default()
            }),
            wake: tokio::sync::Notify::new(),
            failures: AtomicU64::new(0),
            last_lag_ms: AtomicU64::new(0),
            initial: tokio::sync::OnceCell::new(),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Notes that an event of order `version`, which happened at `occurred_at`, touched `needs`.
    pub fn note(&self, needs: &[Uuid], version: i64, occurred_at: DateTime<Utc>) {
        if needs.is_empty() {
            return;
        }
        let mut pending = self.pending();
        for &need in needs {
            let held = pending.needs.entry(need).or_insert(version);
            *held = (*held).max(version);
        }
        pending.oldest = Some(pending.oldest.map_or(occurred_at, |o| o.min(occurred_at)));
        drop(pending);
        self.wake.notify_one();
    }

    /// How far the graph is behind the engine: the age of the oldest event not yet written, or
    /// else the delay of the last write.
    pub fn lag_seconds(&self) -> f64 {
        let oldest = self.pending().oldest;
        match oldest {
            Some(at) => (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0,
            None => self.last_lag_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }

    /// Needs waiting to be written.
    pub fn pending_needs(&self) -> usize {
        self.pending().needs.len()
    }
}

/// How many needs one write takes at most.
const WRITE_BATCH: usize = 2_000;
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The projection task also looks for work this often without being woken.
const POLL: Duration = Duration::from_secs(1);

/// Writes what is pending; on failure puts it back. Returns how many needs were written.
pub async fn project_once(app: &App) -> Result<usize, symbiont_graph::GraphError> {
    let projection = &app.network;
    let (rebuild, needs, oldest) = {
        let mut pending = projection.pending();
        if pending.rebuild {
            pending.rebuild = false;
            (true, Vec::new(), pending.oldest)
        } else {
            let mut needs: Vec<(Uuid, i64)> = pending.needs.iter().map(|(n, v)| (*n, *v)).collect();
            needs.sort_unstable();
            needs.truncate(WRITE_BATCH);
            for (need, _) in &needs {
                pending.needs.remove(need);
            }
            let oldest = pending.oldest;
            if pending.needs.is_empty() {
                pending.oldest = None;
            }
            (false, needs, oldest)
        }
    };
    if rebuild {
        if let Err(error) = rebuild_projection(app).await {
            projection.pending().rebuild = true;
            return Err(error);
        }
        return Ok(0);
    }
    if needs.is_empty() {
        return Ok(0);
    }
    let result = write_needs(app, &needs).await;
    match &result {
        Ok(_) => {
            if let Some(at) = oldest {
                let lag = (Utc::now() - at).num_milliseconds().max(0) as u64;
                projection.last_lag_ms.store(lag, Ordering::Relaxed);
            }
        }
        Err(_) => {
            // Put them back (a newer version noted meanwhile wins) for the retry.
            let mut pending = projection.pending();
            for (need, version) in &needs {
                let held = pending.needs.entry(*need).or_insert(*version);
                *held = (*held).max(*version);
            }
            pending.oldest = match (pending.oldest, oldest) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    result.map(|()| needs.len())
}

async fn write_needs(app: &App, needs: &[(Uuid, i64)]) -> Result<(), symbiont_graph::GraphError> {
    let versions: HashMap<Uuid, i64> = needs.iter().copied().collect();
    let ids: Vec<Uuid> = needs.iter().map(|(n, _)| *n).collect();
    let mut upserts = Vec::new();
    let mut unserved = Vec::new();
    for (need, exchange) in app.live_matches.served_exchanges(&ids, 0) {
        let version = versions.get(&need).copied().unwrap_or(0);
        match exchange {
            Some(mut exchange) => {
                exchange.version = version;
                upserts.push(exchange);
            }
            None => unserved.push((need, version)),
        }
    }
    app.network.graph.upsert(&upserts).await?;
    app.network.graph.unserve(&unserved).await
}

async fn rebuild_projection(app: &App) -> Result<usize, symbiont_graph::GraphError> {
    let exchanges = app
        .live_matches
        .all_served_exchanges(version_of(Uuid::now_v7()));
    app.network.graph.replace_all(&exchanges).await?;
    Ok(exchanges.len())
}

/// Writes the projection of what the engine holds once after start, by whichever comes first: the
/// projection task or a network query (the others wait for it). A graph server that fails now is
/// retried by [`run_projection`]; the queries then answer what the graph holds.
pub async fn initial_projection(app: &App) {
    app.network
        .initial
        .get_or_init(|| async {
            if let Err(error) = project_once(app).await {
                app.network.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %crate::error::chain(&error), "network projection not written at start; retrying in the background");
            }
        })
        .await;
}

/// Keeps the projection current until cancelled (tracked like the relay and the consumer).
pub async fn run_projection(app: Arc<App>, cancel: CancellationToken) {
    initial_projection(&app).await;
    let mut backoff = Duration::from_millis(100);
    loop {
        let wait = match project_once(&app).await {
            Ok(_) => {
                backoff = Duration::from_millis(100);
                if app.network.pending_needs() > 0 {
                    Duration::ZERO
                } else {
                    POLL
                }
            }
            Err(error) => {
                app.network.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %crate::error::chain(&error), retry_in_ms = backoff.as_millis() as u64, "network projection not written; retrying");
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = app.network.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// What a rebuild did.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    /// `embedded`, `bolt` or `falkordb`.
    pub graph: &'static str,
    /// Exchanges written (one per served need).
    pub exchanges: usize,
    pub elapsed_ms: u64,
}

/// Which sides (offer, need) of an exchange a viewer may not see.
type HiddenSides = Box<dyn Fn(&Exchange) -> (bool, bool) + Send + Sync>;

/// A page of a network query's answers.
#[derive(Debug, Clone, Default)]
pub struct NetworkQuery {
    pub filter: NetworkFilter,
    pub limit: usize,
    pub cursor: Option<NetworkCursor>,
}

/// Position in a list ordered by value (descending), ties by id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkCursor {
    key: f64,
    id: Uuid,
}

impl NetworkCursor {
    pub fn encode(&self) -> String {
        format!("{:016x}.{}", self.key.to_bits(), self.id.simple())
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (bits, id) = text.split_once('.')?;
        Some(Self {
            key: f64::from_bits(u64::from_str_radix(bits, 16).ok()?),
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// Savings and CO2 of a group of exchanges, as a viewer may see them: exact sums when every
/// exchange is whole to the viewer; otherwise bands of the sums computed with anonymous sides at
/// their grid-cell centres.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkTotals {
    pub exchanges: usize,
    pub savings_eur_per_year: Option<f64>,
    pub co2_t_per_year: Option<f64>,
    pub savings_band: Option<String>,
    pub co2_band: Option<String>,
    /// True when an exchange has a side hidden from the viewer (then only bands are given).
    pub redacted: bool,
}

impl NetworkTotals {
    fn of(exchanges: &[&Exchange], hidden: &dyn Fn(&Exchange) -> (bool, bool)) -> (Self, f64) {
        let redacted = exchanges.iter().any(|e| hidden(e) != (false, false));
        if redacted {
            let savings: f64 = exchanges
                .iter()
                .map(|e| e.public_savings_eur_per_year)
                .sum();
            let co2: f64 = exchanges.iter().map(|e| e.public_co2_t_per_year).sum();
            (
                Self {
                    exchanges: exchanges.len(),
                    savings_eur_per_year: None,
                    co2_t_per_year: None,
                    savings_band: Some(signed_band(savings, "EUR/year")),
                    co2_band: Some(band(co2, "t CO2/year")),
                    redacted: true,
                },
                band_key(savings),
            )
        } else {
            let savings: f64 = exchanges.iter().map(|e| e.savings_eur_per_year).sum();
            let co2: f64 = exchanges.iter().map(|e| e.co2_t_per_year).sum();
            (
                Self {
                    exchanges: exchanges.len(),
                    savings_eur_per_year: Some(savings),
                    co2_t_per_year: Some(co2),
                    savings_band: None,
                    co2_band: None,
                    redacted: false,
                },
                savings,
            )
        }
    }
}

/// A chain of 2–4 exchanges, each one's need business being the next one's offer business.
#[derive(Debug, Clone, Serialize)]
pub struct ChainView {
    /// Stable: derived from its exchanges' match ids.
    pub id: Uuid,
    /// The parties in order along the chain; null for a side hidden from the viewer (only the
    /// first or the last can be).
    pub businesses: Vec<Option<Uuid>>,
    /// The exchanges in order, each as the match view the viewer gets from `/matches/{id}`.
    pub exchanges: Vec<Value>,
    pub totals: NetworkTotals,
}

/// A connected group of at least two exchanges.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    pub id: Uuid,
    /// The businesses of the cluster the viewer may see, ascending.
    pub businesses: Vec<Uuid>,
    /// Sides of its exchanges hidden from the viewer (each counted once per exchange).
    pub hidden_parties: usize,
    /// Its most valuable exchanges, at most [`CLUSTER_EXCHANGES_LISTED`] (`totals` counts them
    /// all), each as the match view the viewer gets.
    pub exchanges: Vec<Value>,
    pub totals: NetworkTotals,
}

/// How many exchanges a cluster lists: a region's largest cluster holds thousands (about 20 MB of
/// match views at 10,000 businesses), and the totals already count them all.
pub const CLUSTER_EXCHANGES_LISTED: usize = 50;

/// A business and what its removal would lose.
#[derive(Debug, Clone, Serialize)]
pub struct AnchorView {
    pub business_id: Uuid,
    /// Its exchanges' figures (the value lost with it).
    pub totals: NetworkTotals,
    /// Chains of 2–4 exchanges it takes part in.
    pub chains: usize,
    /// How many connected pieces the rest of its cluster falls into without it (1: none lost
    /// their connection).
    pub splits_cluster_into: usize,
}

/// A page of network answers.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkPage<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Namespace of chain and cluster ids (UUIDv5 of their exchanges' match ids).
const GROUP_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5d1c_7e0a_93b2_4c6f_8e14_2a7b_c0d9_e351);

fn group_id(kind: &str, matches: impl Iterator<Item = Uuid>) -> Uuid {
    let mut name = kind.as_bytes().to_vec();
    for id in matches {
        name.extend_from_slice(id.as_bytes());
    }
    Uuid::new_v5(&GROUP_ID_NAMESPACE, &name)
}

/// The first `limit` items after `cursor`, by key descending then id, and the next cursor.
fn page_of<T>(
    mut items: Vec<(f64, Uuid, T)>,
    limit: usize,
    cursor: Option<NetworkCursor>,
) -> NetworkPage<T> {
    items.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let after = |key: f64, id: Uuid| {
        cursor.is_none_or(|c| key.total_cmp(&c.key).is_lt() || (key == c.key && id > c.id))
    };
    let mut kept: Vec<(f64, Uuid, T)> = items
        .into_iter()
        .filter(|(key, id, _)| after(*key, *id))
        .take(limit.saturating_add(1))
        .collect();
    let next_cursor = if kept.len() > limit {
        kept.truncate(limit);
        kept.last()
            .map(|(key, id, _)| NetworkCursor { key: *key, id: *id }.encode())
    } else {
        None
    };
    NetworkPage {
        items: kept.into_iter().map(|(_, _, item)| item).collect(),
        next_cursor,
    }
}

impl App {
    /// Replaces the graph projection with the exchanges the engine serves now (platform admins).
    pub async fn rebuild_network(&self, caller: &Caller) -> Result<RebuildReport, AppError> {
        caller.require_admin()?;
        let started = std::time::Instant::now();
        let exchanges = rebuild_projection(self)
            .await
            .map_err(|e| AppError::unavailable("graph", e))?;
        Ok(RebuildReport {
            graph: self.network.graph.kind(),
            exchanges,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// The network the filter selects, as `viewer` sees it, and which sides each exchange hides.
    async fn network_for(
        &self,
        viewer: &Viewer,
        filter: &NetworkFilter,
    ) -> Result<(Network, HiddenSides), AppError> {
        self.check_category_filter(filter.category.as_deref())?;
        initial_projection(self).await;
        let exchanges = self
            .network
            .graph
            .exchanges(filter)
            .await
            .map_err(|e| AppError::unavailable("graph", e))?;
        // Hidden sides follow the decisions this instance holds now (the projection may lag).
        let statuses: HashMap<Uuid, symbiont_core::MatchStatus> = exchanges
            .iter()
            .map(|e| (e.match_id, self.live_matches.status_of(e.match_id)))
            .collect();
        let viewer = viewer.clone();
        let hidden: HiddenSides = Box::new(move |e: &Exchange| {
            viewer.hidden_sides_at(
                (e.offer_anonymous, e.offer_business_id),
                (e.need_anonymous, e.need_business_id),
                statuses.get(&e.match_id).copied().unwrap_or(e.status),
            )
        });
        let network = Network::new(exchanges, &hidden);
        Ok((network, hidden))
    }

    /// Each exchange as the match view `viewer` gets for it.
    fn exchange_views(&self, exchanges: &[&Exchange], viewer: &Viewer) -> Vec<Value> {
        exchanges
            .iter()
            .filter_map(|e| self.live_matches.one(e.match_id, viewer))
            .collect()
    }

    /// Chains of 2–4 exchanges, by total savings (bands for redacted ones), paged.
    pub async fn network_chains(
        &self,
        viewer: &Viewer,
        query: NetworkQuery,
    ) -> Result<NetworkPage<ChainView>, AppError> {
        let (network, hidden) = self.network_for(viewer, &query.filter).await?;
        let all = network.exchanges();
        let items = network
            .chains()
            .into_iter()
            .map(|chain| {
                let exchanges: Vec<&Exchange> = chain.exchanges.iter().map(|&i| &all[i]).collect();
                let (totals, key) = NetworkTotals::of(&exchanges, &*hidden);
                let id = group_id("chain", exchanges.iter().map(|e| e.match_id));
                (key, id, (id, chain, exchanges, totals))
            })
            .collect();
        let page = page_of(items, query.limit, query.cursor);
        Ok(NetworkPage {
            items: page
                .items
                .into_iter()
                .map(|(id, chain, exchanges, totals)| ChainView {
                    id,
                    businesses: chain.parties.iter().map(|p| p.business()).collect(),
                    exchanges: self.exchange_views(&exchanges, viewer),
                    totals,
                })
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// Connected groups of at least two exchanges, by total savings, paged.
    pub async fn network_clusters(
        &self,
        viewer: &Viewer,
        query: NetworkQuery,
    ) -> Result<NetworkPage<ClusterView>, AppError> {
        let (network, hidden) = self.network_for(viewer, &query.filter).await?;
        let all = network.exchanges();
        let items = network
            .clusters()
            .into_iter()
            .map(|cluster| {
                let exchanges: Vec<&Exchange> =
                    cluster.exchanges.iter().map(|&i| &all[i]).collect();
                let (totals, key) = NetworkTotals::of(&exchanges, &*hidden);
                let mut ids: Vec<Uuid> = exchanges.iter().map(|e| e.match_id).collect();
                ids.sort_unstable();
                let id = group_id("cluster", ids.into_iter());
                (key, id, (id, cluster, exchanges, totals))
            })
            .collect();
        let page = page_of(items, query.limit, query.cursor);
        Ok(NetworkPage {
            items: page
                .items
                .into_iter()
                .map(|(id, cluster, mut exchanges, totals)| ClusterView {
                    exchanges: {
                        // The most valuable first, by what the viewer may see of each.
                        let value = |e: &Exchange| {
                            if hidden(e) == (false, false) {
                                e.savings_eur_per_year
                            } else {
                                band_key(e.public_savings_eur_per_year)
                            }
                        };
                        exchanges.sort_by(|a, b| {
                            value(b)
                                .total_cmp(&value(a))
                                .then(a.match_id.cmp(&b.match_id))
                        });
                        exchanges.truncate(CLUSTER_EXCHANGES_LISTED);
                        self.exchange_views(&exchanges, viewer)
                    },
                    id,
                    businesses: cluster
                        .parties
                        .iter()
                        .filter_map(|p| p.business())
                        .collect(),
                    hidden_parties: cluster
                        .parties
                        .iter()
                        .filter(|p| p.business().is_none())
                        .count(),
                    totals,
                })
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// Businesses by the value their removal would lose (their exchanges' savings), paged.
    pub async fn network_anchors(
        &self,
        viewer: &Viewer,
        query: NetworkQuery,
    ) -> Result<NetworkPage<AnchorView>, AppError> {
        let (network, hidden) = self.network_for(viewer, &query.filter).await?;
        let all = network.exchanges();
        let chains = network.chains();
        let items = network
            .anchors(&chains)
            .into_iter()
            .map(|anchor| {
                let exchanges: Vec<&Exchange> = anchor.exchanges.iter().map(|&i| &all[i]).collect();
                let (totals, key) = NetworkTotals::of(&exchanges, &*hidden);
                (
                    key,
                    anchor.business,
                    AnchorView {
                        business_id: anchor.business,
                        totals,
                        chains: anchor.chains,
                        splits_cluster_into: anchor.splits_into,
                    },
                )
            })
            .collect();
        Ok(page_of(items, query.limit, query.cursor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_order_is_kept_by_versions() {
        let earlier = Uuid::now_v7();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = Uuid::now_v7();
        assert!(version_of(earlier) < version_of(later));
        assert!(version_of(later) > 0);
    }

    #[test]
    fn pages_follow_the_cursor_without_gaps_or_repeats() {
        let items: Vec<(f64, Uuid, usize)> = (0..25u128)
            .map(|i| ((i % 4) as f64, Uuid::from_u128(i), i as usize))
            .collect();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = page_of(items.clone(), 7, cursor);
            seen.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = NetworkCursor::decode(&next),
                None => break,
            }
        }
        let mut expected = items.clone();
        expected.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        assert_eq!(seen, expected.into_iter().map(|i| i.2).collect::<Vec<_>>());
    }
}
