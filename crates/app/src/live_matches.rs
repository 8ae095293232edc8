//! Matches as every transport serves them: the engine's live matches joined with people's
//! decisions, the lifecycle applied to a live pair (the rule itself is `symbiont_core::decision`),
//! expiry and revival driven by the engine's diffs, and the summary figures.
//!
//! The engine's state is derived and rebuilt at start; decisions are stored. Every removed match
//! becomes an `expired` decision that keeps the last figures and the reason; if the pair holds again
//! it returns to the status it had.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use symbiont_core::decision::{self, Pair, StatusChange};
use symbiont_core::events::DomainEvent;
use symbiont_core::{GeoPoint, MatchDecision, MatchStatus};
use symbiont_matching::{Engine, FlowInput, FlowPlace, Match, MatchDiff, MatchHead, PreparedFlows};
use symbiont_store::Store;
use uuid::Uuid;

use crate::error::AppError;
use crate::live_feed::{FeedEvent, FeedSettings, FlowNotice, LiveFeed, MatchNotice, Side, Subject};
use crate::visibility::{CoarseFigures, Viewer, coarse_reason, coarsen, redact};

/// Flows read from the store per batch at start-up: enough to parse on every core, few enough
/// that a batch's rows and documents stay a few megabytes.
const LOAD_BATCH: usize = 4096;

/// The engine plus the decisions, each behind its own lock. Engine operations are CPU-only and short
/// (under a millisecond per change), so a std lock is right; rebuilds happen before serving starts.
pub struct LiveMatches {
    engine: RwLock<Engine>,
    decisions: RwLock<HashMap<Uuid, MatchDecision>>,
    applied: RwLock<Applied>,
    /// Flows registered with a hazardous EWC code, with that code marked (`16 08 02*`), so their
    /// matches carry the hazardous-waste note. A lock of its own, never held while taking another:
    /// readers take it inside the engine's read lock.
    hazardous_flows: RwLock<HashMap<Uuid, String>>,
    /// Bumped after every applied event, so writers can wait for their own change to arrive.
    progress: tokio::sync::watch::Sender<u64>,
    /// Random per start: generations count from 0 in every process, so cache keys carry this too.
    epoch: u64,
    /// How long each applied event took (`symbiont_engine_update_duration_seconds`).
    pub update_durations: crate::engine_metrics::EngineUpdateHistogram,
    /// The live feed the applied events are published on (`live_feed`).
    pub feed: LiveFeed,
    /// A digest of the redacted renderings last published of each live match with an anonymous
    /// side, so a change that alters none of them is not announced to viewers who see them (the
    /// event's timing would tell them what its contents do not). Touched only by the bus consumer.
    redacted_digests: std::sync::Mutex<HashMap<Uuid, u64>>,
}

/// What applying one event tells the feed besides the engine's diff.
#[derive(Default)]
struct FeedFacts {
    /// A flow created or changed: `flow.created` or `flow.updated`, with the flow as served.
    flow: Option<(&'static str, Side, Value)>,
    /// Flows removed, as the engine knew them just before.
    removed_flows: Vec<FlowPlace>,
    /// A match whose decision this event brought (not an older version than the one held).
    decided: Option<Uuid>,
}

/// What the engine has applied, to make event handling idempotent and ordered per flow.
#[derive(Default)]
pub struct Applied {
    /// Version of each flow the engine holds; `i64::MAX` once deleted (ids are never reused).
    flow_versions: HashMap<Uuid, i64>,
    site_locations: HashMap<Uuid, GeoPoint>,
    /// Version of each site whose move the engine applied (sites unmoved since the rebuild are
    /// absent).
    site_versions: HashMap<Uuid, i64>,
}

impl Applied {
    pub fn has_flow_version(&self, flow_id: Uuid, version: i64) -> bool {
        self.flow_versions
            .get(&flow_id)
            .is_some_and(|v| *v >= version)
    }

    pub fn has_removed(&self, flow_id: Uuid) -> bool {
        self.flow_versions
            .get(&flow_id)
            .is_none_or(|v| *v == i64::MAX)
    }

    pub fn site_is_at(&self, site_id: Uuid, location: GeoPoint) -> bool {
        self.site_locations
            .get(&site_id)
            .is_none_or(|l| *l == location)
    }
}

/// One match as served: the engine's figures plus its lifecycle state.
#[derive(Serialize)]
pub struct MatchView<'a> {
    #[serde(flatten)]
    pub figures: Figures<'a>,
    pub status: MatchStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    /// Present when the offer's or the need's flow carries a hazardous EWC code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hazardous_waste: Option<HazardousWaste>,
    /// Version of the decision (0 while nobody acted on the match); the ETag for `If-Match`.
    pub decision_version: i64,
}

/// The note a match between flows of hazardous waste carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HazardousWaste {
    /// The hazardous code, marked: `16 08 02*`.
    pub ewc_code: String,
    pub note: &'static str,
}

/// The hazardous code of a flow, marked, if it has one.
fn hazardous_code(flow: &symbiont_core::Flow) -> Option<String> {
    flow.ewc_code
        .as_ref()
        .filter(|_| flow.hazardous)
        .map(|code| format!("{code}*"))
}

/// A live match, or the last figures kept with an expired decision.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Figures<'a> {
    Live(Arc<Match>),
    Kept(&'a Value),
}

/// How a list of matches is ordered (always descending, ties by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchSort {
    #[default]
    Score,
    Savings,
    Co2,
}

#[derive(Debug, Clone, Default)]
pub struct MatchFilter {
    pub business_id: Option<Uuid>,
    pub flow_id: Option<Uuid>,
    /// A category code or family prefix (`heat`), on either side.
    pub category: Option<String>,
    pub min_score: Option<f64>,
    pub status: Option<MatchStatus>,
}

/// Position in a sorted list: the sort key's bits and the id of the last item served.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchCursor {
    key: f64,
    id: Uuid,
}

impl MatchCursor {
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

/// A match as one viewer may see it: whole, or with anonymous parties redacted.
#[derive(Serialize)]
#[serde(untagged)]
pub enum MatchEntry<'a> {
    Whole(MatchView<'a>),
    Redacted(Value),
}

/// Which sides of a match `viewer` may not see, and the entry to serve. `coarse` gives the pair's
/// figures at coarsened places; it is only asked for when a side is hidden.
fn entry_for<'a>(
    viewer: &Viewer,
    mut view: MatchView<'a>,
    offer: (bool, Uuid),
    need: (bool, Uuid),
    decision: Option<&MatchDecision>,
    coarse: impl FnOnce() -> Option<CoarseFigures>,
) -> ((bool, bool), MatchEntry<'a>) {
    let hidden = viewer.hidden_sides(offer, need, decision);
    if hidden == (false, false) {
        // A note is written by one party for the other: nobody else reads it.
        if *viewer != Viewer::All && !(viewer.sees(offer.1) || viewer.sees(need.1)) {
            view.note = None;
        }
        return (hidden, MatchEntry::Whole(view));
    }
    let value = serde_json::to_value(&view).unwrap_or(Value::Null);
    (
        hidden,
        MatchEntry::Redacted(redact(&value, coarse().as_ref(), hidden.0, hidden.1)),
    )
}

/// The pair's figures with both sites at their cell centres.
fn coarse_figures(engine: &Engine, m: &Match) -> Option<CoarseFigures> {
    engine
        .evaluate_relocated(m.offer_flow_id, m.need_flow_id, coarsen)
        .as_ref()
        .map(CoarseFigures::of)
}

/// The anonymity flags and owners of a kept (expired) match.
fn kept_sides(last: &Value, d: &MatchDecision) -> ((bool, Uuid), (bool, Uuid)) {
    let flag = |key: &str| last.get(key).and_then(Value::as_bool).unwrap_or(false);
    (
        (flag("offer_anonymous"), d.offer_business_id),
        (flag("need_anonymous"), d.need_business_id),
    )
}

/// The fields of a list item a map line carries: enough to colour, weigh, filter and name it;
/// the rest is one `GET /matches/{id}` away. Absent fields (a redacted view's) stay absent.
pub const LINE_FIELDS: &[&str] = &[
    "id",
    "status",
    "score",
    "offer_category",
    "need_category",
    "offer_business_id",
    "need_business_id",
    "offer_flow_id",
    "need_flow_id",
    "offer_anonymous",
    "need_anonymous",
    "savings_eur_per_year",
    "savings_band",
    "co2_t_per_year",
    "co2_band",
    "distance_km",
    "distance_band",
    "redacted",
];

/// A page of matches, serialized while the locks are held.
#[derive(Serialize)]
pub struct MatchPage<'a> {
    pub items: Vec<MatchEntry<'a>>,
    pub next_cursor: Option<String>,
}

pub(crate) fn category_matches(filter: &str, code: &str) -> bool {
    code == filter || (code.starts_with(filter) && code.as_bytes().get(filter.len()) == Some(&b'.'))
}

fn sort_key(sort: MatchSort, score: f64, savings: f64, co2: f64) -> f64 {
    match sort {
        MatchSort::Score => score,
        MatchSort::Savings => savings,
        MatchSort::Co2 => co2,
    }
}

fn kept_number(value: &Value, field: &str) -> f64 {
    value.get(field).and_then(Value::as_f64).unwrap_or(0.0)
}

fn kept_str<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or("")
}

/// What applying one event did.
#[derive(Debug, Default)]
pub struct AppliedEvent {
    /// Expiries and revivals to store.
    pub decisions: Vec<MatchDecision>,
    /// Needs whose matches or decisions changed, ascending.
    pub needs: Vec<Uuid>,
}

/// A match that may serve its need, with its rank among the need's matches.
struct Served {
    m: Arc<Match>,
    status: MatchStatus,
    /// Status first (agreed, negotiating, contacted, suggested), then the score a stranger's list
    /// would rank it by (the level at the grid-cell centres when a side is anonymous, so which
    /// exchange serves a need says nothing finer than a redacted view), ties by the lower id.
    rank: (u8, f64, std::cmp::Reverse<Uuid>),
    public: (f64, f64),
}

trait TotalCmp {
    fn total_cmp(&self, other: &Self) -> std::cmp::Ordering;
}

impl TotalCmp for (u8, f64, std::cmp::Reverse<Uuid>) {
    fn total_cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0
            .cmp(&other.0)
            .then(self.1.total_cmp(&other.1))
            .then(self.2.cmp(&other.2))
    }
}

fn served_candidate(
    engine: &Engine,
    decisions: &HashMap<Uuid, MatchDecision>,
    m: Arc<Match>,
) -> Option<Served> {
    let status = decisions
        .get(&m.id)
        .map_or(MatchStatus::Suggested, |d| d.status);
    let order = match status {
        MatchStatus::Agreed => 4,
        MatchStatus::Negotiating => 3,
        MatchStatus::Contacted => 2,
        MatchStatus::Suggested => 1,
        // A rejected pair serves nothing; an expired one is not live.
        MatchStatus::Rejected | MatchStatus::Expired => return None,
    };
    let (score, public) = if m.offer_anonymous || m.need_anonymous {
        match coarse_figures(engine, &m) {
            Some(c) => (c.score_level(), (c.savings_eur_per_year, c.co2_t_per_year)),
            None => (f64::NEG_INFINITY, (0.0, 0.0)),
        }
    } else {
        (m.score, (m.savings_eur_per_year, m.co2_t_per_year))
    };
    Some(Served {
        rank: (order, score, std::cmp::Reverse(m.id)),
        status,
        public,
        m,
    })
}

fn round_to(value: f64, per_unit: f64) -> f64 {
    (value * per_unit).round() / per_unit
}

fn exchange_of(engine: &Engine, c: &Served, version: i64) -> Option<symbiont_graph::Exchange> {
    let m = &c.m;
    // Places of anonymous sides are their cell centres, so a region filter cannot find them finer.
    let place = |flow: Uuid, anonymous: bool| {
        engine
            .flow_location(flow)
            .map(|p| if anonymous { coarsen(p) } else { p })
    };
    Some(symbiont_graph::Exchange {
        need_flow_id: m.need_flow_id,
        match_id: m.id,
        version,
        offer_flow_id: m.offer_flow_id,
        offer_business_id: m.offer_business_id,
        need_business_id: m.need_business_id,
        offer_anonymous: m.offer_anonymous,
        need_anonymous: m.need_anonymous,
        offer_category: m.offer_category.to_string(),
        need_category: m.need_category.to_string(),
        status: c.status,
        // Cents and kilograms: what every graph server keeps exactly (FalkorDB answers doubles
        // with 15 significant digits), so every adapter gives the same totals.
        savings_eur_per_year: round_to(m.savings_eur_per_year, 100.0),
        co2_t_per_year: round_to(m.co2_t_per_year, 1000.0),
        public_savings_eur_per_year: round_to(c.public.0, 100.0),
        public_co2_t_per_year: round_to(c.public.1, 1000.0),
        offer_location: place(m.offer_flow_id, m.offer_anonymous)?,
        need_location: place(m.need_flow_id, m.need_anonymous)?,
    })
}

/// Figures summed over matches.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Totals {
    pub matches: usize,
    pub savings_eur_per_year: f64,
    pub co2_t_per_year: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatchSummary {
    pub by_status: HashMap<MatchStatus, usize>,
    /// Each need's best-scoring live match, scaled to what allocation leaves it.
    pub potential: Totals,
    /// Live matches people agreed on.
    pub agreed: Totals,
}

/// A candidate while a page is chosen: a live match's figures are computed only once it is kept
/// (`None` until then), unless its order or hidden side needed them already.
enum Pick<'a> {
    Live(
        Option<Arc<Match>>,
        Option<&'a MatchDecision>,
        Option<CoarseFigures>,
    ),
    Kept(&'a MatchDecision, &'a Value),
}

/// A match that passed a list's filters, before its view is built.
enum Candidate<'a> {
    /// With the coarse figures when a side is hidden from the viewer (computed once, for the key).
    Live(Arc<Match>, Option<&'a MatchDecision>, Option<CoarseFigures>),
    Kept(&'a MatchDecision, &'a Value),
}

/// An item with its place in a list: by sort key descending, then id ascending.
struct Ranked<T> {
    key: f64,
    id: Uuid,
    item: T,
}

impl<T> Ranked<T> {
    /// Later in the list is greater.
    fn order(&self, other_key: f64, other_id: Uuid) -> std::cmp::Ordering {
        other_key.total_cmp(&self.key).then(self.id.cmp(&other_id))
    }
}

impl<T> PartialEq for Ranked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.order(other.key, other.id).is_eq()
    }
}

impl<T> Eq for Ranked<T> {}

impl<T> PartialOrd for Ranked<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Ranked<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order(other.key, other.id)
    }
}

/// The first `capacity` items after a cursor, in list order, from items offered in any order.
struct TopPage<T> {
    heap: std::collections::BinaryHeap<Ranked<T>>,
    capacity: usize,
    after: Option<MatchCursor>,
}

impl<T> TopPage<T> {
    fn new(capacity: usize, after: Option<MatchCursor>) -> Self {
        Self {
            heap: std::collections::BinaryHeap::with_capacity(capacity + 1),
            capacity,
            after,
        }
    }

    /// Whether an item at this place would be kept (it is after the cursor and, if the page is
    /// full, before its last item): lets callers skip work for the rest.
    fn would_keep(&self, key: f64, id: Uuid) -> bool {
        let after_cursor = self
            .after
            .is_none_or(|c| key.total_cmp(&c.key).is_lt() || (key == c.key && id > c.id));
        let fits = self.heap.len() < self.capacity
            || self
                .heap
                .peek()
                .is_some_and(|last| last.order(key, id).is_gt());
        after_cursor && fits
    }

    fn offer(&mut self, key: f64, id: Uuid, item: T) {
        if !self.would_keep(key, id) {
            return;
        }
        self.heap.push(Ranked { key, id, item });
        if self.heap.len() > self.capacity {
            self.heap.pop();
        }
    }

    /// The kept items in list order.
    fn into_list(self) -> Vec<Ranked<T>> {
        self.heap.into_sorted_vec()
    }
}

impl LiveMatches {
    /// Rebuilds the engine from the store and reconciles stored decisions with it: a decided pair that
    /// no longer holds is expired, an expired pair that holds again is revived.
    pub async fn start(store: &dyn Store, mut engine: Engine) -> Result<Self, AppError> {
        let loading = std::time::Instant::now();
        // Each batch is kept only in the engine's compact form: the stored flows are several
        // times its size, and holding them all at once would set the process's peak memory.
        let mut applied = Applied::default();
        let mut hazardous_flows: HashMap<Uuid, String> = HashMap::new();
        let mut inputs = PreparedFlows::default();
        store
            .located_flows_in_batches(LOAD_BATCH, &mut |batch| {
                for f in &batch {
                    applied.flow_versions.insert(f.flow.id, f.flow.version);
                    applied.site_locations.insert(f.flow.site_id, f.location);
                    if let Some(code) = hazardous_code(&f.flow) {
                        hazardous_flows.insert(f.flow.id, code);
                    }
                }
                engine.prepare(
                    batch
                        .into_iter()
                        .map(|f| FlowInput::new(f.flow, f.location)),
                    &mut inputs,
                );
            })
            .await?;
        tracing::info!(
            flows = inputs.len(),
            elapsed_ms = loading.elapsed().as_millis() as u64,
            "flows loaded from the store"
        );
        let mut decisions: HashMap<Uuid, MatchDecision> = store
            .all_decisions()
            .await?
            .into_iter()
            .map(|d| (d.match_id, d))
            .collect();
        // Pairs people acted on stay proposed whatever their rank.
        engine.pin_all(
            decisions
                .values()
                .filter(|d| d.pins_pair())
                .map(|d| (d.offer_flow_id, d.need_flow_id)),
        );
        let started = std::time::Instant::now();
        let flow_count = inputs.len();
        let engine = tokio::task::spawn_blocking(move || {
            engine.rebuild_prepared(inputs);
            engine
        })
        .await
        .map_err(|e| AppError::internal("engine rebuild failed", e))?;
        tracing::info!(
            flows = flow_count,
            matches = engine.match_count(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "matching engine rebuilt"
        );
        let mut changed = Vec::new();
        for decision in decisions.values_mut() {
            let live = engine.get(decision.match_id);
            let update = match (decision.status, live) {
                (MatchStatus::Expired, Some(m)) => Some(revived(decision, &m)),
                (status, None) if status != MatchStatus::Expired => Some(expired(
                    decision,
                    "no longer satisfies the hard constraints (found at start-up)",
                    None,
                )),
                _ => None,
            };
            if let Some(update) = update {
                *decision = update.clone();
                changed.push(update);
            }
        }
        if !changed.is_empty() {
            // A conflict means another instance reconciled that decision first: its version is
            // the stored one, and its event brings it here.
            let conflicts = store.save_decisions(&changed).await?;
            for conflict in &conflicts {
                tracing::debug!(%conflict, "decision reconciled by another instance first");
            }
            tracing::info!(
                decisions = changed.len(),
                "decisions reconciled with the rebuilt engine"
            );
        }
        Ok(Self {
            engine: RwLock::new(engine),
            decisions: RwLock::new(decisions),
            applied: RwLock::new(applied),
            hazardous_flows: RwLock::new(hazardous_flows),
            progress: tokio::sync::watch::Sender::new(0),
            // The low half of a UUIDv7: random bits (and a randomly seeded counter).
            epoch: Uuid::now_v7().as_u64_pair().1,
            update_durations: crate::engine_metrics::EngineUpdateHistogram::default(),
            feed: LiveFeed::new(FeedSettings::default()),
            redacted_digests: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the live feed with one under `settings` (before serving starts).
    pub fn with_feed(mut self, settings: FeedSettings) -> Self {
        self.feed = LiveFeed::new(settings);
        self
    }

    fn engine(&self) -> RwLockReadGuard<'_, Engine> {
        self.engine
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn decisions(&self) -> RwLockReadGuard<'_, HashMap<Uuid, MatchDecision>> {
        self.decisions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies one domain event from the bus to the engine, unless it is older than what the engine
    /// already holds (events may arrive twice or, across instances, late). Returns the decisions
    /// (expiries, revivals) the change implies, already visible to readers (the caller stores
    /// them), and the needs whose matches or decisions it touched (for the network projection).
    /// `traceparent`, the trace context of the write that caused the event, parents the span.
    pub fn apply_event(&self, event: DomainEvent, traceparent: Option<&str>) -> AppliedEvent {
        let started = std::time::Instant::now();
        // Events come from the bus, outside any request: the write's trace goes on, if it has one.
        let span = tracing::info_span!(
            "engine.apply",
            event = event.kind(),
            added = tracing::field::Empty,
            changed = tracing::field::Empty,
            removed = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        if crate::trace_context::enabled() {
            if let Some(traceparent) = traceparent {
                crate::trace_context::continue_from(&span, traceparent);
            }
            crate::trace_context::record_trace_id(&span);
        }
        let _entered = span.enter();
        let mut decided_need = None;
        let mut facts = FeedFacts::default();
        let diff = {
            let mut applied = self
                .applied
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut engine = self
                .engine
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match event {
                DomainEvent::FlowUpserted { flow, location } => {
                    if applied.has_flow_version(flow.id, flow.version) {
                        MatchDiff::default()
                    } else {
                        let kind = if applied.flow_versions.contains_key(&flow.id) {
                            "flow.updated"
                        } else {
                            "flow.created"
                        };
                        let side = Side {
                            business_id: flow.business_id,
                            flow_id: flow.id,
                            anonymous: flow.anonymous,
                            category: Arc::from(flow.category.as_str()),
                            location: Some(location),
                        };
                        facts.flow = Some((
                            kind,
                            side,
                            serde_json::to_value(&*flow).unwrap_or(Value::Null),
                        ));
                        applied.flow_versions.insert(flow.id, flow.version);
                        applied.site_locations.insert(flow.site_id, location);
                        self.note_hazard(flow.id, hazardous_code(&flow));
                        engine.upsert_flow(FlowInput::new(*flow, location))
                    }
                }
                DomainEvent::FlowsRemoved { flow_ids } => {
                    facts.removed_flows = flow_ids
                        .iter()
                        .filter_map(|id| engine.flow_place(*id))
                        .collect();
                    for id in &flow_ids {
                        applied.flow_versions.insert(*id, i64::MAX);
                        self.note_hazard(*id, None);
                    }
                    engine.remove_flows(&flow_ids)
                }
                DomainEvent::SiteMoved {
                    site_id,
                    location,
                    version,
                } => {
                    let known = applied.site_versions.get(&site_id).copied().unwrap_or(0);
                    if version != 0 && version <= known {
                        // A duplicate, or an earlier move delivered after a later one.
                        MatchDiff::default()
                    } else {
                        applied.site_versions.insert(site_id, version.max(known));
                        applied.site_locations.insert(site_id, location);
                        engine.move_site(site_id, location)
                    }
                }
                DomainEvent::MatchDecided { decision } => {
                    decided_need = Some(decision.need_flow_id);
                    let mut decisions = self
                        .decisions
                        .write()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    let (offer, need, pins) = (
                        decision.offer_flow_id,
                        decision.need_flow_id,
                        decision.pins_pair(),
                    );
                    let held = decisions.get(&decision.match_id).map(|d| d.version);
                    // This instance may hold the version already (its own write remembered it,
                    // or its engine derived the same expiry): announced all the same, once per
                    // bus event, so every instance announces each decision.
                    if held.is_none_or(|v| v <= decision.version) {
                        facts.decided = Some(decision.match_id);
                    }
                    if held.is_none_or(|v| v < decision.version) {
                        decisions.insert(decision.match_id, *decision);
                    }
                    drop(decisions);
                    if pins {
                        engine.pin(offer, need)
                    } else {
                        MatchDiff::default()
                    }
                }
            }
        };
        span.record("added", diff.added.len());
        span.record("changed", diff.changed.len());
        span.record("removed", diff.removed.len());
        // Decisions first, then progress: a writer woken by this event reads the final state.
        let decisions = self.decisions_for(&diff);
        let events = self.feed_events(&diff, facts);
        self.feed.publish(events);
        self.update_durations.observe(started.elapsed());
        self.progress.send_modify(|n| *n += 1);
        let mut needs: Vec<Uuid> = diff
            .added
            .iter()
            .chain(&diff.changed)
            .map(|m| m.need_flow_id)
            .chain(
                diff.removed
                    .iter()
                    .chain(&diff.withdrawn)
                    .map(|r| r.need_flow_id),
            )
            .chain(decided_need)
            .collect();
        needs.sort_unstable();
        needs.dedup();
        AppliedEvent { decisions, needs }
    }

    /// The exchange that serves each need now (`None`: nothing does), for the network projection;
    /// `version` orders the write.
    pub fn served_exchanges(
        &self,
        needs: &[Uuid],
        version: i64,
    ) -> Vec<(Uuid, Option<symbiont_graph::Exchange>)> {
        let engine = self.engine();
        let decisions = self.decisions();
        needs
            .iter()
            .map(|&need| {
                let best = engine
                    .flow_matches(need)
                    .filter(|m| m.need_flow_id == need)
                    .filter_map(|m| served_candidate(&engine, &decisions, m))
                    .max_by(|a, b| a.rank.total_cmp(&b.rank));
                (need, best.and_then(|c| exchange_of(&engine, &c, version)))
            })
            .collect()
    }

    /// Every need's serving exchange, for a rebuild of the projection.
    pub fn all_served_exchanges(&self, version: i64) -> Vec<symbiont_graph::Exchange> {
        let engine = self.engine();
        let decisions = self.decisions();
        let mut best: HashMap<Uuid, Served> = HashMap::new();
        for m in engine.iter() {
            let Some(candidate) = served_candidate(&engine, &decisions, m) else {
                continue;
            };
            match best.entry(candidate.m.need_flow_id) {
                std::collections::hash_map::Entry::Occupied(mut held) => {
                    if candidate.rank.total_cmp(&held.get().rank).is_gt() {
                        held.insert(candidate);
                    }
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(candidate);
                }
            }
        }
        best.values()
            .filter_map(|c| exchange_of(&engine, c, version))
            .collect()
    }

    /// A live match's lifecycle status (suggested when nobody acted on it).
    pub fn status_of(&self, match_id: Uuid) -> MatchStatus {
        self.decisions()
            .get(&match_id)
            .map_or(MatchStatus::Suggested, |d| d.status)
    }

    /// The feed events of one applied event: its diff's matches (proposed, changed, withdrawn),
    /// the decision it brought, the flow it created, changed or removed. Each match is rendered
    /// in every way a viewer may see it, from the state just applied.
    fn feed_events(&self, diff: &MatchDiff, facts: FeedFacts) -> Vec<FeedEvent> {
        let engine = self.engine();
        let decisions = self.decisions();
        let mut digests = self
            .redacted_digests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let place = |flow: Uuid| {
            engine
                .flow_place(flow)
                .or_else(|| {
                    facts
                        .removed_flows
                        .iter()
                        .find(|p| p.flow_id == flow)
                        .cloned()
                })
                .map(|p| p.location)
        };
        let side = |business_id, flow_id, anonymous, category: &Arc<str>| Side {
            business_id,
            flow_id,
            anonymous,
            category: Arc::clone(category),
            location: place(flow_id),
        };
        let live_sides = |m: &Match| {
            (
                side(
                    m.offer_business_id,
                    m.offer_flow_id,
                    m.offer_anonymous,
                    &m.offer_category,
                ),
                side(
                    m.need_business_id,
                    m.need_flow_id,
                    m.need_anonymous,
                    &m.need_category,
                ),
            )
        };
        let mut events = Vec::new();
        // A flow's own event first, then what it did to matches.
        if let Some((kind, flow, data)) = facts.flow {
            let data = crate::live_feed::text(&data);
            events.push(FeedEvent::new(
                kind,
                Subject::Flow(FlowNotice { flow, data }),
            ));
        }
        for (kind, list) in [
            ("match.proposed", &diff.added),
            ("match.changed", &diff.changed),
        ] {
            for m in list {
                let decision = decisions.get(&m.id);
                let coarse = (m.offer_anonymous || m.need_anonymous)
                    .then(|| coarse_figures(&engine, m))
                    .flatten();
                let figures = view(Figures::Live(Arc::clone(m)), decision, self.hazard_of(m));
                let (offer, need) = live_sides(m.as_ref());
                let mut notice = match_notice(figures, offer, need, decision, coarse, None);
                if m.offer_anonymous || m.need_anonymous {
                    let digest = notice.redacted_digest();
                    let before = digests.insert(m.id, digest);
                    notice.quiet_when_redacted = kind == "match.changed" && before == Some(digest);
                }
                events.push(FeedEvent::new(kind, Subject::Match(Box::new(notice))));
            }
        }
        for removed in diff.removed.iter().chain(&diff.withdrawn) {
            digests.remove(&removed.id);
            let decision = decisions.get(&removed.id);
            let last = &removed.last;
            let (offer, need) = live_sides(last.as_ref());
            let notice = match decision.and_then(|d| d.last_match.as_ref().map(|kept| (d, kept))) {
                // It expired: served as the kept match (`GET /matches/{id}` shows it so).
                Some((d, kept)) if d.status == MatchStatus::Expired => match_notice(
                    view(Figures::Kept(kept), Some(d), None),
                    offer,
                    need,
                    Some(d),
                    None,
                    Some(removed.reason.as_str()),
                ),
                _ => match_notice(
                    view(Figures::Live(Arc::clone(last)), decision, None),
                    offer,
                    need,
                    decision,
                    None,
                    Some(removed.reason.as_str()),
                ),
            };
            events.push(FeedEvent::new(
                "match.withdrawn",
                Subject::Match(Box::new(notice)),
            ));
        }
        if let Some(id) = facts.decided
            && let Some(d) = decisions.get(&id)
        {
            let notice = match engine.get(id) {
                Some(live) => {
                    let coarse = (live.offer_anonymous || live.need_anonymous)
                        .then(|| coarse_figures(&engine, &live))
                        .flatten();
                    let (offer, need) = live_sides(live.as_ref());
                    let figures = view(
                        Figures::Live(Arc::clone(&live)),
                        Some(d),
                        self.hazard_of(&live),
                    );
                    Some(match_notice(figures, offer, need, Some(d), coarse, None))
                }
                None => d.last_match.as_ref().map(|kept| {
                    let ((offer_anonymous, _), (need_anonymous, _)) = kept_sides(kept, d);
                    let category = |key: &str| -> Arc<str> { Arc::from(kept_str(kept, key)) };
                    let offer = side(
                        d.offer_business_id,
                        d.offer_flow_id,
                        offer_anonymous,
                        &category("offer_category"),
                    );
                    let need = side(
                        d.need_business_id,
                        d.need_flow_id,
                        need_anonymous,
                        &category("need_category"),
                    );
                    match_notice(
                        view(Figures::Kept(kept), Some(d), None),
                        offer,
                        need,
                        Some(d),
                        None,
                        None,
                    )
                }),
            };
            if let Some(notice) = notice {
                events.push(FeedEvent::new(
                    "match.decided",
                    Subject::Match(Box::new(notice)),
                ));
            }
        }
        for place in facts.removed_flows {
            let data = crate::live_feed::text(&serde_json::json!({
                "id": place.flow_id,
                "business_id": place.business_id,
            }));
            let flow = Side {
                business_id: place.business_id,
                flow_id: place.flow_id,
                anonymous: place.anonymous,
                category: place.category.unwrap_or_else(|| Arc::from("")),
                location: Some(place.location),
            };
            events.push(FeedEvent::new(
                "flow.removed",
                Subject::Flow(FlowNotice { flow, data }),
            ));
        }
        events
    }

    /// Keeps `hazardous_flows` in step with the flows the engine holds. Called with the engine's
    /// write lock held, in the same order readers take the two locks (engine, then this).
    fn note_hazard(&self, flow_id: Uuid, code: Option<String>) {
        let mut hazardous = self
            .hazardous_flows
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match code {
            Some(code) => hazardous.insert(flow_id, code),
            None => hazardous.remove(&flow_id),
        };
    }

    /// The hazardous-waste note of a live match: its offer's code, else its need's.
    fn hazard_of(&self, m: &Match) -> Option<HazardousWaste> {
        let hazardous = self
            .hazardous_flows
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        hazardous
            .get(&m.offer_flow_id)
            .or_else(|| hazardous.get(&m.need_flow_id))
            .map(|code| HazardousWaste {
                ewc_code: code.clone(),
                note: symbiont_core::HAZARDOUS_WASTE_NOTE,
            })
    }

    /// Number of events applied so far; any change to matches or decisions changes it.
    pub fn generation(&self) -> u64 {
        *self.progress.borrow()
    }

    /// Names the state of matches and decisions this instance holds now, for response cache keys:
    /// the generation, and this start's epoch, because another instance (sharing a Redis cache) or
    /// this one before a restart reaches the same generation with other contents.
    pub fn state_key(&self) -> String {
        format!("{:016x}.{}", self.epoch, self.generation())
    }

    /// Waits until `done` holds for what the engine has applied, or `limit` passes; true if it held.
    pub async fn wait_until(
        &self,
        limit: std::time::Duration,
        done: impl Fn(&Applied) -> bool,
    ) -> bool {
        let mut progress = self.progress.subscribe();
        let check = || {
            done(
                &self
                    .applied
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            )
        };
        let arrived = tokio::time::timeout(limit, async {
            while !check() {
                if progress.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        arrived.is_ok() && check()
    }

    /// The decisions a diff implies (expiries and revivals), already applied to the in-memory map;
    /// the caller stores them.
    pub fn decisions_for(&self, diff: &MatchDiff) -> Vec<MatchDecision> {
        let mut decisions = self
            .decisions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = Vec::new();
        for removed in &diff.removed {
            let last = serde_json::to_value(removed.last.as_ref()).ok();
            let update = match decisions.get(&removed.id) {
                Some(d) if d.status == MatchStatus::Expired => continue,
                Some(d) => expired(d, &removed.reason, last),
                None => {
                    let fresh = MatchDecision {
                        match_id: removed.id,
                        offer_flow_id: removed.offer_flow_id,
                        need_flow_id: removed.need_flow_id,
                        offer_business_id: removed.offer_business_id,
                        need_business_id: removed.need_business_id,
                        status: MatchStatus::Suggested,
                        status_before_expiry: None,
                        expired_reason: None,
                        last_match: None,
                        note: None,
                        contacted_by: None,
                        version: 0,
                        updated_at: Utc::now(),
                    };
                    expired(&fresh, &removed.reason, last)
                }
            };
            decisions.insert(update.match_id, update.clone());
            out.push(update);
        }
        for live in diff.added.iter().chain(&diff.changed) {
            if let Some(d) = decisions
                .get(&live.id)
                .filter(|d| d.status == MatchStatus::Expired)
            {
                let update = revived(d, live);
                decisions.insert(update.match_id, update.clone());
                out.push(update);
            }
        }
        out
    }

    /// Records a person's status change on a live match (the rule is [`decision::decide`]).
    pub fn decide(
        &self,
        id: Uuid,
        change: StatusChange,
        caller: &crate::identity::Caller,
    ) -> Result<MatchDecision, AppError> {
        let engine = self.engine();
        let decisions = self.decisions();
        let current = decisions.get(&id);
        let account = caller.writer()?;
        let Some(live) = engine.get(id) else {
            // Only the two parties learn that a match expired, and why, and then only in the words
            // a stranger's view would use if the other side is still hidden from them; anyone else
            // gets the answer an unknown id gets.
            return Err(match current {
                Some(d)
                    if d.status == MatchStatus::Expired
                        && (Viewer::of(caller) == Viewer::All
                            || account.businesses.contains_key(&d.offer_business_id)
                            || account.businesses.contains_key(&d.need_business_id)) =>
                {
                    let reason = d.expired_reason.as_deref().unwrap_or("no longer valid");
                    let hidden = d.last_match.as_ref().map_or((true, true), |last| {
                        let (offer, need) = kept_sides(last, d);
                        Viewer::of(caller).hidden_sides(offer, need, Some(d))
                    });
                    let reason = if hidden == (false, false) {
                        reason.to_string()
                    } else {
                        crate::visibility::coarse_reason(reason)
                    };
                    AppError::Conflict(format!(
                        "match {id} has expired ({reason}); it cannot change status"
                    ))
                }
                _ => AppError::NotFound(format!("match {id} not found")),
            });
        };
        let pair = Pair {
            match_id: id,
            offer_flow_id: live.offer_flow_id,
            need_flow_id: live.need_flow_id,
            offer_business_id: live.offer_business_id,
            need_business_id: live.need_business_id,
        };
        let member_of = |business| account.businesses.contains_key(&business);
        Ok(decision::decide(
            &pair,
            current,
            member_of,
            change,
            Utc::now(),
        )?)
    }

    /// Makes a stored decision visible to readers.
    pub fn remember(&self, decision: MatchDecision) {
        let mut decisions = self
            .decisions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A newer version may already be here (another instance's decision arrived through the
        // bus between the store write and this call); an older one never replaces it.
        if decisions
            .get(&decision.match_id)
            .is_none_or(|d| d.version < decision.version)
        {
            decisions.insert(decision.match_id, decision);
        }
        drop(decisions);
        self.progress.send_modify(|n| *n += 1);
    }

    /// One match as JSON (live, or expired with its last figures), if it exists.
    pub fn one(&self, id: Uuid, viewer: &Viewer) -> Option<Value> {
        let engine = self.engine();
        let decisions = self.decisions();
        let decision = decisions.get(&id);
        let (_, entry) = match (engine.get(id), decision) {
            (Some(live), d) => entry_for(
                viewer,
                view(Figures::Live(live.clone()), d, self.hazard_of(&live)),
                (live.offer_anonymous, live.offer_business_id),
                (live.need_anonymous, live.need_business_id),
                d,
                || coarse_figures(&engine, &live),
            ),
            (None, Some(d)) => {
                let last = d.last_match.as_ref()?;
                let (offer, need) = kept_sides(last, d);
                // The flows may be gone or changed: no coarse figures, only the bands that
                // depend on no place.
                entry_for(
                    viewer,
                    view(Figures::Kept(last), Some(d), None),
                    offer,
                    need,
                    Some(d),
                    || None,
                )
            }
            (None, None) => return None,
        };
        serde_json::to_value(entry).ok()
    }

    /// A filtered, sorted page as JSON bytes.
    pub fn page(
        &self,
        filter: &MatchFilter,
        sort: MatchSort,
        limit: usize,
        after: Option<MatchCursor>,
        viewer: &Viewer,
    ) -> Result<Vec<u8>, AppError> {
        let engine = self.engine();
        let decisions = self.decisions();
        let (items, next_cursor) = select(&engine, &decisions, filter, sort, limit, after, viewer);
        let page = MatchPage {
            items: items
                .into_iter()
                .map(|ranked| self.entry(ranked.item, viewer).1)
                .collect(),
            next_cursor,
        };
        crate::json_body::to_vec(&page)
    }

    /// The same page as [`LiveMatches::page`] drawn as lines for a map: a GeoJSON feature
    /// collection of `LineString`s from the offer's place to the need's, each with the list item's
    /// fields the map shows ([`LINE_FIELDS`], as redacted as the list). A side the viewer may see is
    /// at its site; a hidden side is at the centre of its grid cell, the place its coarse figures
    /// were computed from (ADR 0013), and says so in `offer_place` / `need_place`. A kept (expired)
    /// match whose flow is gone has no place and is left out.
    pub fn lines(
        &self,
        filter: &MatchFilter,
        limit: usize,
        after: Option<MatchCursor>,
        viewer: &Viewer,
    ) -> Result<Vec<u8>, AppError> {
        let engine = self.engine();
        let decisions = self.decisions();
        let (items, next_cursor) = select(
            &engine,
            &decisions,
            filter,
            MatchSort::Score,
            limit,
            after,
            viewer,
        );
        let mut features = Vec::with_capacity(items.len());
        for ranked in items {
            let (offer_flow, need_flow) = match &ranked.item {
                Candidate::Live(m, ..) => (m.offer_flow_id, m.need_flow_id),
                Candidate::Kept(d, _) => (d.offer_flow_id, d.need_flow_id),
            };
            let (hidden, entry) = self.entry(ranked.item, viewer);
            let place = |flow: Uuid, hidden: bool| {
                engine.flow_location(flow).map(|at| {
                    if hidden {
                        (coarsen(at), "cell")
                    } else {
                        (at, "site")
                    }
                })
            };
            let (Some((offer_at, offer_place)), Some((need_at, need_place))) =
                (place(offer_flow, hidden.0), place(need_flow, hidden.1))
            else {
                continue;
            };
            let Value::Object(mut item) = serde_json::to_value(&entry).unwrap_or(Value::Null)
            else {
                continue;
            };
            let mut properties = serde_json::Map::with_capacity(LINE_FIELDS.len() + 2);
            for field in LINE_FIELDS {
                if let Some(value) = item.remove(*field) {
                    properties.insert((*field).into(), value);
                }
            }
            properties.insert("offer_place".into(), offer_place.into());
            properties.insert("need_place".into(), need_place.into());
            features.push(json!({
                "type": "Feature",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[offer_at.lon, offer_at.lat], [need_at.lon, need_at.lat]],
                },
                "properties": properties,
            }));
        }
        crate::json_body::to_vec(&json!({
            "type": "FeatureCollection",
            "features": features,
            "next_cursor": next_cursor,
        }))
    }

    /// The entry `viewer` sees of a selected candidate, with which sides are hidden from them.
    fn entry<'a>(
        &self,
        candidate: Candidate<'a>,
        viewer: &Viewer,
    ) -> ((bool, bool), MatchEntry<'a>) {
        match candidate {
            Candidate::Live(m, decision, coarse) => entry_for(
                viewer,
                view(Figures::Live(m.clone()), decision, self.hazard_of(&m)),
                (m.offer_anonymous, m.offer_business_id),
                (m.need_anonymous, m.need_business_id),
                decision,
                || coarse,
            ),
            Candidate::Kept(d, last) => {
                let (offer, need) = kept_sides(last, d);
                entry_for(
                    viewer,
                    view(Figures::Kept(last), Some(d), None),
                    offer,
                    need,
                    Some(d),
                    || None,
                )
            }
        }
    }

    pub fn summary(&self) -> MatchSummary {
        let engine = self.engine();
        let decisions = self.decisions();
        let mut by_status: HashMap<MatchStatus, usize> =
            MatchStatus::ALL.into_iter().map(|s| (s, 0)).collect();
        let mut best_per_need: HashMap<Uuid, Arc<Match>> = HashMap::new();
        let mut agreed = Totals::default();
        for m in engine.iter() {
            let status = decisions
                .get(&m.id)
                .map_or(MatchStatus::Suggested, |d| d.status);
            *by_status.entry(status).or_default() += 1;
            if status == MatchStatus::Agreed {
                agreed.matches += 1;
                agreed.savings_eur_per_year += m.savings_eur_per_year;
                agreed.co2_t_per_year += m.co2_t_per_year;
            }
            let best = best_per_need
                .entry(m.need_flow_id)
                .or_insert_with(|| Arc::clone(&m));
            if (m.score, std::cmp::Reverse(m.id)) > (best.score, std::cmp::Reverse(best.id)) {
                *best = m;
            }
        }
        *by_status.entry(MatchStatus::Expired).or_default() += decisions
            .values()
            .filter(|d| d.status == MatchStatus::Expired)
            .count();
        let mut potential = Totals::default();
        for m in best_per_need.values() {
            let share = if m.delivered_quantity > 0.0 {
                (m.allocatable_quantity / m.delivered_quantity).clamp(0.0, 1.0)
            } else {
                0.0
            };
            // The totals are public: a match with an anonymous side adds its figures at the
            // grid-cell centres, or a stranger could read the change of its exact savings in the
            // total while moving its own site (ADR 0013).
            let (savings, co2) = if m.offer_anonymous || m.need_anonymous {
                coarse_figures(&engine, m)
                    .map_or((0.0, 0.0), |c| (c.savings_eur_per_year, c.co2_t_per_year))
            } else {
                (m.savings_eur_per_year, m.co2_t_per_year)
            };
            potential.matches += 1;
            potential.savings_eur_per_year += savings * share;
            potential.co2_t_per_year += co2 * share;
        }
        MatchSummary {
            by_status,
            potential,
            agreed,
        }
    }

    /// Whether the engine holds a flow of this business: it existed when that flow was applied,
    /// which is the state its matches are read from.
    pub fn knows_business(&self, business_id: Uuid) -> bool {
        self.engine().knows_business(business_id)
    }

    pub fn engine_stats(&self) -> symbiont_matching::EngineStats {
        self.engine().stats()
    }
}

/// The matches of a page, in list order, with the cursor of the next page: candidates are filtered
/// on their figures, and a bounded heap keeps the first `limit + 1` after the cursor, so a large
/// result costs one pass.
fn select<'d>(
    engine: &Engine,
    decisions: &'d HashMap<Uuid, MatchDecision>,
    filter: &MatchFilter,
    sort: MatchSort,
    limit: usize,
    after: Option<MatchCursor>,
    viewer: &Viewer,
) -> (Vec<Ranked<Candidate<'d>>>, Option<String>) {
    let mut page = TopPage::new(limit.saturating_add(1), after);
    // A hidden side must not be found through the business or flow it belongs to.
    let listed_through_hidden = |hidden: (bool, bool), offer: (Uuid, Uuid), need: (Uuid, Uuid)| {
        let through = |(business, flow): (Uuid, Uuid)| {
            filter.business_id == Some(business) || filter.flow_id == Some(flow)
        };
        (hidden.0 && through(offer)) || (hidden.1 && through(need))
    };
    let through_owner = filter.business_id.is_some() || filter.flow_id.is_some();
    let category_ok = |offer: &str, need: &str| {
        filter
            .category
            .as_deref()
            .is_none_or(|c| category_matches(c, offer) || category_matches(c, need))
    };
    let min_score = filter.min_score.unwrap_or(f64::NEG_INFINITY);
    if filter.status == Some(MatchStatus::Expired) {
        for d in decisions
            .values()
            .filter(|d| d.status == MatchStatus::Expired)
        {
            let Some(last) = d.last_match.as_ref() else {
                continue;
            };
            let business_ok = filter
                .business_id
                .is_none_or(|b| d.offer_business_id == b || d.need_business_id == b);
            let flow_ok = filter
                .flow_id
                .is_none_or(|f| d.offer_flow_id == f || d.need_flow_id == f);
            let (offer, need) = kept_sides(last, d);
            let hidden = viewer.hidden_sides(offer, need, Some(d));
            // A stranger's filter and order must not use figures the view withholds: a kept
            // match with a hidden side has no coarse figures, so it ranks last and fails any
            // minimum score.
            let redacted = hidden != (false, false);
            let score = if redacted {
                f64::NEG_INFINITY
            } else {
                kept_number(last, "score")
            };
            if !(business_ok
                && flow_ok
                && score >= min_score
                && category_ok(
                    kept_str(last, "offer_category"),
                    kept_str(last, "need_category"),
                ))
            {
                continue;
            }
            if through_owner
                && listed_through_hidden(
                    hidden,
                    (d.offer_business_id, d.offer_flow_id),
                    (d.need_business_id, d.need_flow_id),
                )
            {
                continue;
            }
            let key = if redacted {
                CoarseFigures::sort_key(None, sort)
            } else {
                sort_key(
                    sort,
                    score,
                    kept_number(last, "savings_eur_per_year"),
                    kept_number(last, "co2_t_per_year"),
                )
            };
            page.offer(key, d.match_id, Pick::Kept(d, last));
        }
    } else {
        // Heads carry what the filters and the score order read; a match's figures are computed
        // only when the order or a hidden side needs them, or when it makes the page.
        let heads: Box<dyn Iterator<Item = MatchHead<'_>>> =
            match (filter.flow_id, filter.business_id) {
                (Some(flow), _) => Box::new(engine.flow_heads(flow)),
                (None, Some(business)) => Box::new(engine.business_heads(business)),
                (None, None) => Box::new(engine.heads()),
            };
        for m in heads {
            let business_ok = filter
                .business_id
                .is_none_or(|b| m.offer_business_id == b || m.need_business_id == b);
            if !(business_ok && category_ok(m.offer_category, m.need_category)) {
                continue;
            }
            let decision = decisions.get(&m.id);
            let hidden = if m.offer_anonymous || m.need_anonymous {
                viewer.hidden_sides(
                    (m.offer_anonymous, m.offer_business_id),
                    (m.need_anonymous, m.need_business_id),
                    decision,
                )
            } else {
                (false, false)
            };
            // With a side hidden, the minimum score and the order use the coarse figures the
            // view shows (score level, band bounds; ties by id), never the exact ones, which
            // would rank by the hidden distance (ADR 0013).
            let (score, key, whole, coarse) = if hidden != (false, false) {
                let Some(whole) = engine.get(m.id) else {
                    continue;
                };
                let coarse = coarse_figures(engine, &whole);
                let level = coarse
                    .as_ref()
                    .map_or(f64::NEG_INFINITY, |c| c.score_level());
                let key = CoarseFigures::sort_key(coarse.as_ref(), sort);
                (level, key, Some(whole), coarse)
            } else if sort == MatchSort::Score {
                (m.score, m.score, None, None)
            } else {
                let Some(whole) = engine.get(m.id) else {
                    continue;
                };
                let key = sort_key(
                    sort,
                    whole.score,
                    whole.savings_eur_per_year,
                    whole.co2_t_per_year,
                );
                (whole.score, key, Some(whole), None)
            };
            if score < min_score || !page.would_keep(key, m.id) {
                continue;
            }
            if let Some(wanted) = filter.status
                && decision.map_or(MatchStatus::Suggested, |d| d.status) != wanted
            {
                continue;
            }
            if through_owner
                && listed_through_hidden(
                    hidden,
                    (m.offer_business_id, m.offer_flow_id),
                    (m.need_business_id, m.need_flow_id),
                )
            {
                continue;
            }
            page.offer(key, m.id, Pick::Live(whole, decision, coarse));
        }
    }
    // The kept heads' figures, computed now (under the same read lock, so every one is live).
    let mut items: Vec<Ranked<Candidate<'d>>> = page
        .into_list()
        .into_iter()
        .filter_map(|ranked| {
            let item = match ranked.item {
                Pick::Live(whole, decision, coarse) => {
                    let whole = match whole {
                        Some(whole) => whole,
                        None => engine.get(ranked.id)?,
                    };
                    Candidate::Live(whole, decision, coarse)
                }
                Pick::Kept(d, last) => Candidate::Kept(d, last),
            };
            Some(Ranked {
                key: ranked.key,
                id: ranked.id,
                item,
            })
        })
        .collect();
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|ranked| {
            MatchCursor {
                key: ranked.key,
                id: ranked.id,
            }
            .encode()
        })
    } else {
        None
    };
    (items, next_cursor)
}

/// Renders a match for the feed in every way a viewer can see it: whole, whole without the
/// parties' note, and with each side that may be hidden redacted exactly as `redact` builds the
/// REST view. `reason`: why it was withdrawn (coarsened for redacted renderings).
fn match_notice(
    figures: MatchView<'_>,
    offer: Side,
    need: Side,
    decision: Option<&MatchDecision>,
    coarse: Option<CoarseFigures>,
    reason: Option<&str>,
) -> MatchNotice {
    use crate::live_feed::text;
    let mut whole = serde_json::to_value(&figures).unwrap_or(Value::Null);
    if let (Some(reason), Some(object)) = (reason, whole.as_object_mut()) {
        object.insert("withdrawn_reason".into(), Value::from(reason));
    }
    let whole_without_note = whole.get("note").is_some().then(|| {
        let mut public = whole.clone();
        if let Some(object) = public.as_object_mut() {
            object.remove("note");
        }
        text(&public)
    });
    let redacted =
        [(true, false), (false, true), (true, true)].map(|(offer_hidden, need_hidden)| {
            let possible = (!offer_hidden || offer.anonymous) && (!need_hidden || need.anonymous);
            possible.then(|| {
                let mut value = redact(&whole, coarse.as_ref(), offer_hidden, need_hidden);
                if let (Some(reason), Some(object)) = (reason, value.as_object_mut()) {
                    object.insert(
                        "withdrawn_reason".into(),
                        Value::from(coarse_reason(reason)),
                    );
                }
                text(&value)
            })
        });
    MatchNotice {
        offer,
        need,
        decision: decision.cloned(),
        whole: text(&whole),
        whole_without_note,
        redacted,
        quiet_when_redacted: false,
    }
}

fn view<'a>(
    figures: Figures<'a>,
    decision: Option<&'a MatchDecision>,
    hazardous_waste: Option<HazardousWaste>,
) -> MatchView<'a> {
    MatchView {
        figures,
        status: decision.map_or(MatchStatus::Suggested, |d| d.status),
        expired_reason: decision.and_then(|d| d.expired_reason.as_deref()),
        note: decision.and_then(|d| d.note.as_deref()),
        hazardous_waste,
        decision_version: decision.map_or(0, |d| d.version),
    }
}

fn expired(decision: &MatchDecision, reason: &str, last: Option<Value>) -> MatchDecision {
    MatchDecision {
        status: MatchStatus::Expired,
        status_before_expiry: Some(decision.status),
        expired_reason: Some(reason.to_string()),
        last_match: last.or_else(|| decision.last_match.clone()),
        version: decision.version + 1,
        updated_at: Utc::now(),
        ..decision.clone()
    }
}

fn revived(decision: &MatchDecision, live: &Match) -> MatchDecision {
    MatchDecision {
        status: decision
            .status_before_expiry
            .unwrap_or(MatchStatus::Suggested),
        status_before_expiry: None,
        expired_reason: None,
        last_match: None,
        offer_business_id: live.offer_business_id,
        need_business_id: live.need_business_id,
        version: decision.version + 1,
        updated_at: Utc::now(),
        ..decision.clone()
    }
}

#[cfg(test)]
mod state_key_tests {
    use super::*;

    /// Two starts over the same data reach the same generation; their cache keys must still differ
    /// (a shared Redis cache, or a restart, would otherwise hand out the other's bodies).
    #[tokio::test]
    async fn two_starts_over_the_same_data_name_their_states_apart() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = symbiont_store::sqlite::SqliteStore::open(dir.path())
            .await
            .expect("store");
        let engine = || {
            let taxonomy = symbiont_core::Taxonomy::builtin().expect("shipped taxonomy");
            Engine::new(
                Arc::new(taxonomy),
                symbiont_matching::MatchingConfig::default(),
            )
            .expect("default configuration")
        };
        let first = LiveMatches::start(&store, engine()).await.expect("start");
        let second = LiveMatches::start(&store, engine()).await.expect("start");
        assert_eq!(first.generation(), second.generation());
        assert_ne!(first.state_key(), second.state_key());
        assert!(first.state_key().ends_with(".0"), "{}", first.state_key());
    }
}

#[cfg(test)]
mod page_tests {
    use super::*;

    /// Pages read through cursors give the same list as sorting everything.
    #[test]
    fn the_bounded_page_equals_a_full_sort_page_by_page() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Few distinct keys, so ties (ordered by id) are common.
        let items: Vec<(f64, Uuid)> = (0..500)
            .map(|_| {
                (
                    (next() % 20) as f64 / 4.0,
                    Uuid::from_u128(u128::from(next())),
                )
            })
            .collect();
        let mut expected = items.clone();
        expected.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for limit in [1, 7, 50, 600] {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let mut page = TopPage::new(limit + 1, after);
                for (key, id) in &items {
                    page.offer(*key, *id, ());
                }
                let mut list = page.into_list();
                let more = list.len() > limit;
                list.truncate(limit);
                seen.extend(list.iter().map(|r| (r.key, r.id)));
                match (more, list.last()) {
                    (true, Some(last)) => {
                        after = Some(MatchCursor {
                            key: last.key,
                            id: last.id,
                        })
                    }
                    _ => break,
                }
            }
            assert_eq!(seen, expected, "limit {limit}");
        }
    }
}

#[cfg(test)]
mod remember_tests {
    use std::sync::Arc;

    use chrono::Utc;
    use symbiont_core::{MatchDecision, MatchStatus, Taxonomy};
    use symbiont_matching::Engine;
    use symbiont_store::sqlite::SqliteStore;
    use uuid::Uuid;

    use super::LiveMatches;

    fn decision(match_id: Uuid, version: i64, status: MatchStatus) -> MatchDecision {
        MatchDecision {
            match_id,
            offer_flow_id: Uuid::now_v7(),
            need_flow_id: Uuid::now_v7(),
            offer_business_id: Uuid::now_v7(),
            need_business_id: Uuid::now_v7(),
            status,
            status_before_expiry: None,
            expired_reason: None,
            last_match: None,
            note: None,
            contacted_by: None,
            version,
            updated_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn an_earlier_site_move_delivered_late_is_skipped() {
        use symbiont_core::GeoPoint;
        use symbiont_core::events::DomainEvent;
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path()).await.expect("store");
        let taxonomy = Arc::new(Taxonomy::builtin().expect("taxonomy"));
        let engine = Engine::new(taxonomy, Default::default()).expect("engine");
        let live = LiveMatches::start(&store, engine).await.expect("start");
        let site_id = Uuid::now_v7();
        let later = GeoPoint {
            lat: 51.0,
            lon: 7.0,
        };
        let earlier = GeoPoint {
            lat: 50.0,
            lon: 6.0,
        };
        let moved = |location, version| DomainEvent::SiteMoved {
            site_id,
            location,
            version,
        };
        live.apply_event(moved(later, 3), None);
        live.apply_event(moved(earlier, 2), None);
        let applied = live.applied.read().expect("not poisoned");
        assert!(applied.site_is_at(site_id, later));
    }

    #[tokio::test]
    async fn an_older_decision_never_replaces_a_newer_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path()).await.expect("store");
        let taxonomy = Arc::new(Taxonomy::builtin().expect("taxonomy"));
        let engine = Engine::new(taxonomy, Default::default()).expect("engine");
        let live = LiveMatches::start(&store, engine).await.expect("start");
        let id = Uuid::now_v7();
        // Version 3 arrived through the bus before this instance remembers its own version 2.
        live.remember(decision(id, 3, MatchStatus::Negotiating));
        live.remember(decision(id, 2, MatchStatus::Contacted));
        let kept = live.decisions().get(&id).map(|d| (d.version, d.status));
        assert_eq!(kept, Some((3, MatchStatus::Negotiating)));
        live.remember(decision(id, 4, MatchStatus::Agreed));
        assert_eq!(live.decisions().get(&id).map(|d| d.version), Some(4));
    }
}
