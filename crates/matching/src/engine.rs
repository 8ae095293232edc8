//! The engine: the flow table, the spatial index, each flow's best counterparts and the live
//! matches, kept up to date one change at a time (`upsert_flow`, `remove_flow(s)`, `move_site`,
//! `pin`) or recomputed whole in parallel (`rebuild`). Every change returns the `MatchDiff` it caused.
//!
//! **What is live** (`docs/matching.md`, "Proposals"): every pair that passes the hard constraints is
//! evaluated, but a flow proposes only its best K counterparts (score, then the counterpart's id;
//! K from the configuration or the flow's own `max_proposals`), and only pairs that save money unless
//! the need pays for CO2. A pair is live if it is in the best list of its offer or of its need, or if
//! it is pinned (someone decided on it) and holds.
//!
//! **Storage**: a live match is its two slots under its id; its figures, explanation and units are
//! computed again when it is read (`materialize`), and its allocation sits in its offer's links.
//!
//! Incremental algorithm (the same for every kind of change):
//! 1. Remember the touched flows' live matches (as they read now) and unlink them; note the flows
//!    whose best lists name a touched flow ("dirty": they lost an entry).
//! 2. Apply the change to the flow table and the R-trees.
//! 3. For each touched flow, evaluate its neighbourhood and take its best list; a pair that ranks
//!    into a clean counterpart's list enters it, evicting that list's last entry.
//! 4. Recompute the dirty flows' best lists from their neighbourhoods.
//! 5. Decide every pair named on the way: live or not; re-allocate the offers around them.
//! 6. Diff: added, changed (figures or allocation), removed (a hard constraint fails, with why),
//!    withdrawn (still holds, no longer proposed, with why).
//!
//! Nothing else is looked at, so the cost of a change is that of its neighbourhood. The engine does
//! no I/O and holds no locks; the service wraps it in its own lock.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

// Maps keyed by ids: foldhash rather than SipHash (a business's match list looks up hundreds of ids).
use foldhash::{HashMap, HashMapExt, HashSet};
use rayon::prelude::*;
use symbiont_core::{Direction, GeoPoint, Taxonomy};
use uuid::Uuid;

use crate::allocation::{OfferLink, Share, link_rank, rank, walk};
use crate::boundary::{FlowInput, Match, MatchDiff, RemovedMatch, match_id};
use crate::catalog::Catalog;
use crate::global_allocation::{AllocationProblem, Capacity, Demand, Edge};
use crate::match_table::{LivePair, MatchTable};
use crate::pair::{PairFigures, assess, build, evaluate};
use crate::record::{FlowRecord, ProfileInterner, Ranked, tree_of};
use crate::score_settings::{ConfigError, MatchingConfig};
use crate::spatial::{IndexedPoint, SpatialIndex};

/// Sizes of the engine's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct EngineStats {
    /// Flows held (active, paused and unmatchable).
    pub flows: usize,
    /// Flows in the spatial index: active and with usable figures.
    pub matchable_flows: usize,
    pub offers: usize,
    pub needs: usize,
    /// Live matches: proposed pairs and pinned pairs that hold.
    pub matches: usize,
    /// Pairs someone decided on, kept live while they hold.
    pub pinned: usize,
    /// Distinct weekly profiles (each stored once).
    pub distinct_profiles: usize,
    /// Estimated heap and inline bytes of the whole state (flows, indexes, matches).
    pub approx_memory_bytes: usize,
    /// Estimated bytes per live match (its map entry, its offer link, its need link).
    pub bytes_per_match: usize,
}

/// What rebuilding finds from one offer: its slot, its best list, and the pairs it may propose as
/// entries for its needs' lists (need slot, entry naming the offer).
type OfferAssessment = (u32, Vec<Ranked>, Vec<(u32, Ranked)>);

/// Offers assessed together by a rebuild: enough to keep every core busy, few enough that their
/// pairs stay a small fraction of the engine's size.
const REBUILD_CHUNK: usize = 2048;

/// What a list reads of a live match to filter and rank it by score, without its figures: the
/// pair's ids, sides and score as the engine keeps them (`score` equals the figures' score,
/// which `pair::assess` rounds to f32 precision).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchHead<'a> {
    pub id: Uuid,
    pub score: f64,
    pub offer_flow_id: Uuid,
    pub need_flow_id: Uuid,
    pub offer_business_id: Uuid,
    pub need_business_id: Uuid,
    pub offer_anonymous: bool,
    pub need_anonymous: bool,
    pub offer_category: &'a str,
    pub need_category: &'a str,
}

/// Flows converted for a rebuild ([`Engine::prepare`]), in the order given.
#[derive(Debug, Default)]
pub struct PreparedFlows {
    records: Vec<FlowRecord>,
    profiles: ProfileInterner,
}

impl PreparedFlows {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// The matching engine. See the module documentation for the incremental algorithm.
#[derive(Debug)]
pub struct Engine {
    catalog: Catalog,
    config: MatchingConfig,
    slots: Vec<Option<FlowRecord>>,
    free: Vec<u32>,
    by_id: HashMap<Uuid, u32>,
    by_site: HashMap<Uuid, Vec<u32>>,
    by_business: HashMap<Uuid, Vec<u32>>,
    profiles: ProfileInterner,
    index: SpatialIndex,
    /// Per tree, the largest distance limit of a flow in it (the category's, or a flow's own when
    /// larger): how far a counterpart must search. Only grows.
    tree_reach: Vec<f64>,
    matches: MatchTable,
    /// Pairs someone decided on, by match id: (offer flow, need flow).
    pinned: HashMap<Uuid, (Uuid, Uuid)>,
}

impl Engine {
    /// An empty engine for this taxonomy; fails if the configuration is unusable.
    pub fn new(taxonomy: Arc<Taxonomy>, config: MatchingConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let catalog = Catalog::new(taxonomy);
        let index = SpatialIndex::new(catalog.categories.len());
        let tree_reach = category_reach(&catalog);
        Ok(Self {
            catalog,
            config,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            by_site: HashMap::new(),
            by_business: HashMap::new(),
            profiles: ProfileInterner::default(),
            index,
            tree_reach,
            matches: MatchTable::default(),
            pinned: HashMap::new(),
        })
    }

    pub fn config(&self) -> &MatchingConfig {
        &self.config
    }

    pub fn taxonomy(&self) -> &Arc<Taxonomy> {
        &self.catalog.taxonomy
    }

    // ----- full recompute -----

    /// Replaces the whole state with these flows and computes every best list and live match, in
    /// parallel (rayon). Pins stay. When an id appears twice, the later flow wins. Returns nothing:
    /// after a rebuild the service reconciles its stored decisions with [`Engine::iter`].
    pub fn rebuild(&mut self, flows: Vec<FlowInput>) {
        let mut prepared = PreparedFlows::default();
        self.prepare(flows, &mut prepared);
        self.rebuild_prepared(prepared);
    }

    /// Converts flows to the form the engine keeps, ahead of [`Engine::rebuild_prepared`]: a
    /// caller reading flows in batches need not hold them all at once (a flow as stored is several
    /// times the size of what the engine keeps of it).
    pub fn prepare(&self, flows: impl IntoIterator<Item = FlowInput>, into: &mut PreparedFlows) {
        for flow in flows {
            let record = FlowRecord::new(flow, &self.catalog, &mut into.profiles);
            into.records.push(record);
        }
    }

    /// [`Engine::rebuild`] from flows already prepared.
    pub fn rebuild_prepared(&mut self, prepared: PreparedFlows) {
        let PreparedFlows {
            records: prepared,
            profiles,
        } = prepared;
        let mut last: HashMap<Uuid, usize> = HashMap::with_capacity(prepared.len());
        for (i, r) in prepared.iter().enumerate() {
            last.insert(r.id, i);
        }
        let records: Vec<FlowRecord> = if last.len() == prepared.len() {
            prepared
        } else {
            prepared
                .into_iter()
                .enumerate()
                .filter(|(i, r)| last.get(&r.id) == Some(i))
                .map(|(_, r)| r)
                .collect()
        };
        drop(last);
        // Slots in the order of the spatial index's groups, and by place within each: the flows an
        // offer assesses are then near each other in memory, which keeps the rebuild in cache.
        // Ids break ties, so the layout does not depend on the order the flows came in.
        let mut records = records;
        records.sort_by_cached_key(|r| (r.tree(), z_order(r.gate_location), r.id));
        let categories = self.catalog.categories.len();
        let mut groups: Vec<Vec<IndexedPoint>> = vec![Vec::new(); categories * 2];
        let mut by_id = HashMap::with_capacity(records.len());
        let mut by_site: HashMap<Uuid, Vec<u32>> = HashMap::new();
        let mut by_business: HashMap<Uuid, Vec<u32>> = HashMap::new();
        let mut tree_reach = category_reach(&self.catalog);
        for (i, r) in records.iter().enumerate() {
            let slot = slot_number(i);
            by_id.insert(r.id, slot);
            by_site.entry(r.site_id).or_default().push(slot);
            by_business.entry(r.business_id).or_default().push(slot);
            if let (true, Some(tree)) = (r.matchable(), r.tree()) {
                groups[tree].push(IndexedPoint::new(r.point, slot));
                tree_reach[tree] = tree_reach[tree].max(self.limit_of(r));
            }
        }
        self.slots = records.into_iter().map(Some).collect();
        self.free.clear();
        self.by_id = by_id;
        self.by_site = by_site;
        self.by_business = by_business;
        self.profiles = profiles;
        self.index = SpatialIndex::bulk(categories, groups);
        self.tree_reach = tree_reach;
        self.matches = MatchTable::default();

        // Each offer assesses its neighbourhood once: its own best list, and entries for its needs'
        // lists. Offers go in chunks, so that only one chunk's pairs are held at a time (all of them
        // at once would be tens of times the engine's own size); each need keeps its best K as the
        // entries arrive, which gives the same list in any order since the ranking is total.
        let offers: Vec<u32> = (0..self.slots.len())
            .map(slot_number)
            .filter(|&slot| {
                self.record(slot)
                    .is_some_and(|r| r.direction == Direction::Offer && r.matchable())
            })
            .collect();
        let mut need_lists: Vec<Vec<Ranked>> = vec![Vec::new(); self.slots.len()];
        for chunk in offers.chunks(REBUILD_CHUNK) {
            let this = &*self;
            let assessed: Vec<OfferAssessment> = chunk
                .par_iter()
                .filter_map(|&slot| this.assess_offer(slot))
                .collect();
            for (slot, best, proposable) in assessed {
                for (need, entry) in proposable {
                    self.keep_best(&mut need_lists[need as usize], need, entry);
                }
                if let Some(offer) = self.record_mut(slot) {
                    // A copy made here: what the engine keeps is allocated on this thread, and
                    // the workers' heaps hold only what is freed again.
                    offer.best = best.as_slice().to_vec();
                }
            }
        }
        drop(offers);
        for (i, mut best) in need_lists.into_iter().enumerate() {
            if best.is_empty() {
                continue;
            }
            best.shrink_to_fit();
            if let Some(record) = self.record_mut(slot_number(i)) {
                record.best = best;
            }
        }
        self.link_all();
    }

    /// Links every pair proposed by a best list or pinned and holding, then allocates each offer.
    fn link_all(&mut self) {
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (i, record) in self.slots.iter().enumerate() {
            let Some(record) = record else { continue };
            let slot = slot_number(i);
            for entry in &record.best {
                pairs.push(orient(record, slot, entry.other));
            }
        }
        for (offer, need) in self.pinned.values() {
            if let (Some(&o), Some(&n)) = (self.by_id.get(offer), self.by_id.get(need)) {
                pairs.push((o, n));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        let this = &*self;
        let live: Vec<(u32, u32, Uuid, f64, f64)> = pairs
            .par_iter()
            .filter_map(|&(o, n)| {
                let (offer, need) = (this.record(o)?, this.record(n)?);
                let f = assess(&this.catalog, &this.config, offer, need).ok()?;
                Some((o, n, match_id(offer.id, need.id), f.score, f.wanted()))
            })
            .collect();
        drop(pairs);
        // Every list gets its exact size at once: grown one push at a time, each would leave the
        // smaller blocks it outgrew behind as holes in the heap.
        let mut counts = vec![0u32; self.slots.len()];
        for (o, n, ..) in &live {
            counts[*o as usize] += 1;
            counts[*n as usize] += 1;
        }
        for (record, count) in self.slots.iter_mut().zip(counts) {
            let Some(record) = record else { continue };
            match record.direction {
                Direction::Offer => record.offer_links = Vec::with_capacity(count as usize),
                Direction::Need => record.need_links = Vec::with_capacity(count as usize),
            }
        }
        self.matches = MatchTable::with_capacity(live.len());
        for (o, n, id, score, wanted) in live {
            self.matches.insert(
                id,
                LivePair {
                    offer: o,
                    need: n,
                    score: score as f32,
                },
            );
            if let Some(offer) = self.record_mut(o) {
                offer.offer_links.push(OfferLink::new(id, score, wanted));
            }
            if let Some(need) = self.record_mut(n) {
                need.need_links.push(id);
            }
        }
        self.slots.par_iter_mut().flatten().for_each(|record| {
            if record.offer_links.is_empty() {
                return;
            }
            record.offer_links.sort_by(link_rank);
            walk(
                record.annual_amount,
                &mut record.offer_links,
                |_, link, share, taken| {
                    link.share = share;
                    link.taken = taken;
                },
            );
        });
    }

    // ----- incremental changes -----

    /// Adds a flow or replaces the flow with the same id (a changed quantity, location, status ...).
    /// Pausing a flow is an upsert with `status: paused`.
    pub fn upsert_flow(&mut self, input: FlowInput) -> MatchDiff {
        let existing = self.by_id.get(&input.flow.id).copied();
        let before: Vec<u32> = existing.into_iter().collect();
        self.change(&before, move |engine| {
            // Build the new record before releasing the old one, so a shared profile stays interned.
            let record = FlowRecord::new(input, &engine.catalog, &mut engine.profiles);
            if let Some(slot) = existing {
                engine.unplace(slot);
            }
            vec![engine.place(record)]
        })
    }

    /// Removes a flow (deleted, or its site or business deleted). Unknown ids change nothing.
    pub fn remove_flow(&mut self, flow_id: Uuid) -> MatchDiff {
        self.remove_flows(&[flow_id])
    }

    /// Removes several flows at once (a cascade), with one diff.
    pub fn remove_flows(&mut self, flow_ids: &[Uuid]) -> MatchDiff {
        let slots: Vec<u32> = flow_ids
            .iter()
            .filter_map(|id| self.by_id.get(id).copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if slots.is_empty() {
            return MatchDiff::default();
        }
        self.change(&slots.clone(), move |engine| {
            for &slot in &slots {
                engine.unplace(slot);
            }
            Vec::new()
        })
    }

    /// Moves every flow of a site to a new location.
    pub fn move_site(&mut self, site_id: Uuid, location: GeoPoint) -> MatchDiff {
        let slots = self.by_site.get(&site_id).cloned().unwrap_or_default();
        if slots.is_empty() {
            return MatchDiff::default();
        }
        self.change(&slots.clone(), move |engine| {
            for &slot in &slots {
                engine.index_remove(slot);
                if let Some(r) = engine.record_mut(slot) {
                    r.relocate(location);
                }
                engine.index_insert(slot);
            }
            slots
        })
    }

    /// Pins the pair of an offer and a need because someone decided on it: from now on it is live
    /// whenever it holds, whatever its rank. Pinning a pinned pair changes nothing.
    pub fn pin(&mut self, offer_flow_id: Uuid, need_flow_id: Uuid) -> MatchDiff {
        let id = match_id(offer_flow_id, need_flow_id);
        if self
            .pinned
            .insert(id, (offer_flow_id, need_flow_id))
            .is_some()
            || self.matches.contains_key(&id)
        {
            return MatchDiff::default();
        }
        let (Some(&o), Some(&n)) = (
            self.by_id.get(&offer_flow_id),
            self.by_id.get(&need_flow_id),
        ) else {
            return MatchDiff::default();
        };
        let mut check = BTreeSet::new();
        check.insert((o, n));
        self.settle(HashMap::new(), check)
    }

    /// Pins pairs without computing anything: for the pairs known before a [`Engine::rebuild`].
    pub fn pin_all(&mut self, pairs: impl IntoIterator<Item = (Uuid, Uuid)>) {
        for (offer, need) in pairs {
            self.pinned.insert(match_id(offer, need), (offer, need));
        }
    }

    pub fn is_pinned(&self, match_id: Uuid) -> bool {
        self.pinned.contains_key(&match_id)
    }

    /// Steps 1 to 6 of the algorithm around `apply`, which changes the flows in the slots `before`
    /// and returns the slots of the flows it placed or moved.
    fn change(&mut self, before: &[u32], apply: impl FnOnce(&mut Self) -> Vec<u32>) -> MatchDiff {
        // 1. What the touched flows had, and who ranked them.
        let mut old: HashMap<Uuid, Arc<Match>> = HashMap::new();
        let mut dirty: BTreeSet<Uuid> = BTreeSet::new();
        for &t in before {
            let Some(record) = self.record(t) else {
                continue;
            };
            for id in record.match_ids().collect::<Vec<_>>() {
                if !old.contains_key(&id)
                    && let Some(m) = self.materialize(id)
                {
                    old.insert(id, Arc::new(m));
                }
            }
            for g in self.neighbours(t) {
                if self
                    .record(g)
                    .is_some_and(|r| r.best.iter().any(|e| e.other == t))
                {
                    dirty.insert(self.id_of(g));
                }
            }
        }
        for id in old.keys() {
            self.unlink(*id);
        }

        // 2. The change itself.
        let touched = apply(self);
        let touched_ids: HashSet<Uuid> = touched.iter().map(|&t| self.id_of(t)).collect();

        // 3. The touched flows' own lists, and the clean lists they rank into.
        let mut check: BTreeSet<(u32, u32)> = BTreeSet::new();
        for &t in &touched {
            let Some(record) = self.record(t) else {
                continue;
            };
            let candidates = if record.matchable() {
                self.candidates(t)
            } else {
                Vec::new()
            };
            let best = self.best_of(t, &candidates);
            if let Some(record) = self.record_mut(t) {
                record.best = best;
            }
            for (g, figures) in &candidates {
                let (o, n) = self.orient_slots(t, *g);
                check.insert((o, n));
                let other = self.id_of(*g);
                if touched_ids.contains(&other) || dirty.contains(&other) {
                    continue;
                }
                if self.record(n).is_some_and(|need| eligible(need, figures))
                    && let Some(evicted) = self.rank_into(*g, t, figures.score)
                {
                    check.insert(self.orient_slots(*g, evicted));
                }
            }
        }

        // 4. The lists that lost an entry, recomputed.
        for id in &dirty {
            if touched_ids.contains(id) {
                continue;
            }
            let Some(&g) = self.by_id.get(id) else {
                continue;
            };
            let candidates = if self.record(g).is_some_and(FlowRecord::matchable) {
                self.candidates(g)
            } else {
                Vec::new()
            };
            let best = self.best_of(g, &candidates);
            let previous = self
                .record_mut(g)
                .map(|r| std::mem::replace(&mut r.best, best))
                .unwrap_or_default();
            let named: Vec<u32> = previous
                .iter()
                .chain(self.record(g).map_or(&[][..], |r| &r.best[..]))
                .map(|e| e.other)
                .collect();
            for other in named {
                if self.record(other).is_some() {
                    check.insert(self.orient_slots(g, other));
                }
            }
        }
        self.settle(old, check)
    }

    /// Step 5 and 6: decides each pair in `check`, re-allocates around them and writes the diff
    /// against `old` (the touched flows' matches before the change, already unlinked).
    fn settle(&mut self, old: HashMap<Uuid, Arc<Match>>, check: BTreeSet<(u32, u32)>) -> MatchDiff {
        let mut linked: Vec<Uuid> = Vec::new();
        let mut withdrawn: Vec<RemovedMatch> = Vec::new();
        let mut offers: BTreeSet<u32> = BTreeSet::new();
        for (o, n) in check {
            let (Some(offer), Some(need)) = (self.record(o), self.record(n)) else {
                continue;
            };
            if offer.direction != Direction::Offer || need.direction != Direction::Need {
                continue;
            }
            let id = match_id(offer.id, need.id);
            let figures = assess(&self.catalog, &self.config, offer, need).ok();
            let proposed = figures.is_some()
                && (self.pinned.contains_key(&id)
                    || offer.best.iter().any(|e| e.other == n)
                    || need.best.iter().any(|e| e.other == o));
            match (proposed, self.matches.contains_key(&id), figures) {
                (true, false, Some(figures)) => {
                    self.link(id, o, n, &figures);
                    linked.push(id);
                    offers.insert(o);
                }
                (false, true, Some(figures)) => {
                    if let Some(last) = self.materialize(id) {
                        let reason = self.withdrawal_reason(o, n, &figures);
                        withdrawn.push(removed_match(Arc::new(last), reason));
                    }
                    self.unlink(id);
                    offers.insert(o);
                }
                _ => {}
            }
        }
        for m in old.values() {
            if let Some(&slot) = self.by_id.get(&m.offer_flow_id) {
                offers.insert(slot);
            }
        }
        let mut moved: Vec<OfferLink> = Vec::new();
        for offer in offers {
            self.reallocate(offer, &mut moved);
        }

        let linked_set: HashSet<Uuid> = linked.iter().copied().collect();
        let mut diff = MatchDiff {
            withdrawn,
            ..MatchDiff::default()
        };
        for id in &linked {
            let Some(current) = self.materialize(*id) else {
                continue;
            };
            match old.get(id) {
                None => diff.added.push(Arc::new(current)),
                Some(previous) if **previous != current => diff.changed.push(Arc::new(current)),
                Some(_) => {}
            }
        }
        for before in moved {
            let id = before.id;
            // Its figures did not change (neither flow was touched): it changed if what the need
            // gets reads differently (a last share moving by a rounding step may not).
            if !linked_set.contains(&id)
                && !old.contains_key(&id)
                && let Some(current) = self.materialize(id)
                && before.allocatable(current.delivered_quantity) != current.allocatable_quantity
            {
                diff.changed.push(Arc::new(current));
            }
        }
        for (id, previous) in old {
            if linked_set.contains(&id) {
                continue;
            }
            let slots = (
                self.by_id.get(&previous.offer_flow_id).copied(),
                self.by_id.get(&previous.need_flow_id).copied(),
            );
            let still_holds = match slots {
                (Some(o), Some(n)) => self.pair_figures(o, n).map(|f| (o, n, f)),
                _ => None,
            };
            match still_holds {
                Some((o, n, figures)) => {
                    let reason = self.withdrawal_reason(o, n, &figures);
                    diff.withdrawn.push(removed_match(previous, reason));
                }
                None => {
                    let reason = self.removal_reason(&previous);
                    diff.removed.push(removed_match(previous, reason));
                }
            }
        }
        diff.added.sort_by_key(|m| m.id);
        diff.changed.sort_by_key(|m| m.id);
        diff.changed.dedup_by_key(|m| m.id);
        diff.removed.sort_by_key(|m| m.id);
        diff.withdrawn.sort_by_key(|m| m.id);
        diff
    }

    // ----- queries -----

    /// The figures a pair would have if each site stood where `place` puts it, or `None` if the
    /// flows are unknown or would not match there. The redacted view of an anonymous side is
    /// computed from coarsened places, so it cannot depend on where exactly the site is.
    pub fn evaluate_relocated(
        &self,
        offer_flow_id: Uuid,
        need_flow_id: Uuid,
        place: impl Fn(GeoPoint) -> GeoPoint,
    ) -> Option<Match> {
        let record = |id: &Uuid| self.by_id.get(id).and_then(|&s| self.record(s));
        let (offer, need) = (record(&offer_flow_id)?, record(&need_flow_id)?);
        let offer = offer.relocated(place(offer.location));
        let need = need.relocated(place(need.location));
        evaluate(&self.catalog, &self.config, &offer, &need).ok()
    }

    /// Who holds the flow and where its site is, if the engine knows the flow.
    pub fn flow_place(&self, flow_id: Uuid) -> Option<crate::FlowPlace> {
        let record = self.by_id.get(&flow_id).and_then(|&s| self.record(s))?;
        Some(crate::FlowPlace {
            flow_id,
            business_id: record.business_id,
            anonymous: record.anonymous,
            category: record
                .category
                .map(|c| Arc::clone(&self.catalog.category(c).code)),
            location: record.location,
        })
    }

    /// The live match with this id, as it reads now.
    pub fn get(&self, match_id: Uuid) -> Option<Arc<Match>> {
        self.materialize(match_id).map(Arc::new)
    }

    /// Where the site of a flow the engine holds is.
    pub fn flow_location(&self, flow_id: Uuid) -> Option<GeoPoint> {
        self.by_id
            .get(&flow_id)
            .and_then(|&s| self.record(s))
            .map(|r| r.location)
    }

    /// Whether the pair with this id is live (cheaper than [`Engine::get`]).
    pub fn contains_match(&self, match_id: Uuid) -> bool {
        self.matches.contains_key(&match_id)
    }

    /// Matches of a flow (as offer or as need), best first (score descending, then id).
    pub fn matches_of_flow(&self, flow_id: Uuid) -> Vec<Arc<Match>> {
        ranked(self.flow_matches(flow_id))
    }

    /// Matches in which the business is on either side, best first.
    pub fn matches_of_business(&self, business_id: Uuid) -> Vec<Arc<Match>> {
        ranked(self.business_matches(business_id))
    }

    /// Matches of a flow, in no particular order (for callers that pick a page).
    pub fn flow_matches(&self, flow_id: Uuid) -> impl Iterator<Item = Arc<Match>> + '_ {
        self.by_id
            .get(&flow_id)
            .into_iter()
            .flat_map(|&s| self.matches_of_slot(s))
    }

    /// Matches in which the business is on either side, in no particular order. A business never
    /// matches itself, so each match appears once.
    pub fn business_matches(&self, business_id: Uuid) -> impl Iterator<Item = Arc<Match>> + '_ {
        self.by_business
            .get(&business_id)
            .into_iter()
            .flatten()
            .flat_map(|&s| self.matches_of_slot(s))
    }

    fn matches_of_slot(&self, slot: u32) -> impl Iterator<Item = Arc<Match>> + '_ {
        self.record(slot)
            .into_iter()
            .flat_map(|r| r.match_ids().filter_map(|id| self.get(id)))
    }

    /// Every live match, in no particular order (the caller filters and sorts).
    pub fn iter(&self) -> impl Iterator<Item = Arc<Match>> + '_ {
        self.matches.keys().filter_map(|&id| self.get(id))
    }

    /// Whether the engine holds a flow of this business (so the business existed when that flow
    /// was applied).
    pub fn knows_business(&self, business_id: Uuid) -> bool {
        self.by_business
            .get(&business_id)
            .is_some_and(|slots| !slots.is_empty())
    }

    /// The heads of a flow's live matches, in no particular order: what a list filters and ranks
    /// by score without computing any figures ([`Engine::get`] computes them for the few it keeps).
    pub fn flow_heads(&self, flow_id: Uuid) -> impl Iterator<Item = MatchHead<'_>> + '_ {
        self.by_id
            .get(&flow_id)
            .into_iter()
            .flat_map(|&s| self.heads_of_slot(s))
    }

    /// The heads of the live matches in which the business is on either side, in no particular
    /// order.
    pub fn business_heads(&self, business_id: Uuid) -> impl Iterator<Item = MatchHead<'_>> + '_ {
        self.by_business
            .get(&business_id)
            .into_iter()
            .flatten()
            .flat_map(|&s| self.heads_of_slot(s))
    }

    /// The heads of every live match, in no particular order.
    pub fn heads(&self) -> impl Iterator<Item = MatchHead<'_>> + '_ {
        self.matches
            .iter()
            .filter_map(|(&id, pair)| self.head(id, pair))
    }

    fn heads_of_slot(&self, slot: u32) -> impl Iterator<Item = MatchHead<'_>> + '_ {
        let record = self.record(slot);
        let as_offer = record.into_iter().flat_map(move |r| {
            r.offer_links
                .iter()
                .filter_map(move |link| self.head(link.id, self.matches.get(&link.id)?))
        });
        let as_need = record.into_iter().flat_map(move |r| {
            r.need_links
                .iter()
                .filter_map(move |&id| self.head(id, self.matches.get(&id)?))
        });
        as_offer.chain(as_need)
    }

    /// The head of the live pair `id`.
    fn head(&self, id: Uuid, pair: &LivePair) -> Option<MatchHead<'_>> {
        let (o, n) = (self.record(pair.offer)?, self.record(pair.need)?);
        Some(MatchHead {
            id,
            score: f64::from(pair.score),
            offer_flow_id: o.id,
            need_flow_id: n.id,
            offer_business_id: o.business_id,
            need_business_id: n.business_id,
            offer_anonymous: o.anonymous,
            need_anonymous: n.anonymous,
            offer_category: &self.catalog.category(o.category?).code,
            need_category: &self.catalog.category(n.category?).code,
        })
    }

    /// The live matches as a global allocation problem (`global_allocation`): offers and needs by
    /// slot, annual amounts, one edge per live match. What the greedy rule and the global
    /// allocation are compared on.
    pub fn allocation_problem(&self) -> AllocationProblem {
        let amount = |slot: u32| self.record(slot).map_or(0.0, |r| r.annual_amount);
        let slots = self.slots.len();
        let mut problem = AllocationProblem {
            offers: (0..slots)
                .map(|i| Capacity {
                    amount: amount(slot_number(i)),
                })
                .collect(),
            needs: (0..slots)
                .map(|i| Demand {
                    amount: amount(slot_number(i)),
                })
                .collect(),
            edges: Vec::with_capacity(self.matches.len()),
        };
        let mut pairs: Vec<&LivePair> = self.matches.values().collect();
        pairs.sort_unstable_by_key(|p| (p.offer, p.need));
        for pair in pairs {
            let Some(f) = self.pair_figures(pair.offer, pair.need) else {
                continue;
            };
            problem.edges.push(Edge {
                offer: pair.offer,
                need: pair.need,
                max: f.delivered,
                conversion: f.conversion,
                value_per_unit: f.savings_eur_per_year / f.delivered,
                co2_per_unit: f.co2_t_per_year / f.delivered,
                score: f.score,
            });
        }
        problem
    }

    pub fn match_count(&self) -> usize {
        self.matches.len()
    }

    pub fn flow_count(&self) -> usize {
        self.by_id.len()
    }

    pub fn contains_flow(&self, flow_id: Uuid) -> bool {
        self.by_id.contains_key(&flow_id)
    }

    pub fn stats(&self) -> EngineStats {
        let records = || self.slots.iter().flatten();
        let mut stats = EngineStats {
            flows: self.by_id.len(),
            matchable_flows: records().filter(|r| r.matchable()).count(),
            offers: records()
                .filter(|r| r.direction == Direction::Offer)
                .count(),
            needs: records().filter(|r| r.direction == Direction::Need).count(),
            matches: self.matches.len(),
            pinned: self.pinned.len(),
            distinct_profiles: self.profiles.len(),
            approx_memory_bytes: 0,
            bytes_per_match: 0,
        };
        let size = std::mem::size_of::<Option<FlowRecord>>;
        let flows =
            self.slots.capacity() * size() + records().map(FlowRecord::heap_bytes).sum::<usize>();
        let lists = |m: &HashMap<Uuid, Vec<u32>>| {
            map_bytes(m) + m.values().map(|v| v.capacity() * 4).sum::<usize>()
        };
        let links: usize = records()
            .map(|r| {
                r.offer_links.capacity() * std::mem::size_of::<OfferLink>()
                    + r.need_links.capacity() * std::mem::size_of::<Uuid>()
            })
            .sum();
        let matches = self.matches.memory_bytes() + links;
        stats.bytes_per_match = matches.checked_div(self.matches.len()).unwrap_or(0);
        stats.approx_memory_bytes = std::mem::size_of::<Self>()
            + self.catalog.memory_bytes()
            + flows
            + self.free.capacity() * 4
            + map_bytes(&self.by_id)
            + lists(&self.by_site)
            + lists(&self.by_business)
            + self.profiles.memory_bytes()
            + self.index.memory_bytes()
            + self.matches.memory_bytes()
            + map_bytes(&self.pinned);
        stats
    }

    // ----- internals -----

    fn record(&self, slot: u32) -> Option<&FlowRecord> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn record_mut(&mut self, slot: u32) -> Option<&mut FlowRecord> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    fn id_of(&self, slot: u32) -> Uuid {
        self.record(slot).map_or(Uuid::nil(), |r| r.id)
    }

    /// (offer slot, need slot) of the pair of the flow in `slot` and `other`.
    fn orient_slots(&self, slot: u32, other: u32) -> (u32, u32) {
        match self.record(slot) {
            Some(record) => orient(record, slot, other),
            None => (slot, other),
        }
    }

    /// The figures of the pair in these slots, if it holds.
    fn pair_figures(&self, offer: u32, need: u32) -> Option<PairFigures> {
        assess(
            &self.catalog,
            &self.config,
            self.record(offer)?,
            self.record(need)?,
        )
        .ok()
    }

    /// A live match as it reads now: its figures computed again, its allocation from its offer link.
    fn materialize(&self, id: Uuid) -> Option<Match> {
        let pair = self.matches.get(&id)?;
        let (offer, need) = (self.record(pair.offer)?, self.record(pair.need)?);
        let figures = assess(&self.catalog, &self.config, offer, need).ok()?;
        let mut m = build(&self.catalog, id, offer, need, &figures);
        if let Some(link) = offer.offer_links.iter().find(|l| l.id == id) {
            m.allocatable_quantity = link.allocatable(m.delivered_quantity);
        }
        Some(m)
    }

    /// How many counterparts the flow proposes.
    fn proposals_of(&self, record: &FlowRecord) -> usize {
        let configured = match record.direction {
            Direction::Offer => self.config.proposals.per_offer,
            Direction::Need => self.config.proposals.per_need,
        };
        record.max_proposals.unwrap_or(configured) as usize
    }

    /// The flow's own distance limit: its `max_distance_km`, or its category's.
    fn limit_of(&self, record: &FlowRecord) -> f64 {
        let category = record
            .category
            .map_or(0.0, |c| self.catalog.category(c).max_distance_km);
        record.max_distance_km.unwrap_or(category)
    }

    /// Higher score first, then the counterpart with the lower id.
    fn rank_entries(&self, a: &Ranked, b: &Ranked) -> Ordering {
        b.score
            .total_cmp(&a.score)
            .then_with(|| self.id_of(a.other).cmp(&self.id_of(b.other)))
    }

    /// The flow's best list from its candidates: eligible pairs, best first, at most its K.
    fn best_of(&self, slot: u32, candidates: &[(u32, PairFigures)]) -> Vec<Ranked> {
        let Some(record) = self.record(slot) else {
            return Vec::new();
        };
        let entries: Vec<Ranked> = candidates
            .iter()
            .filter(|(other, figures)| {
                let need = if record.direction == Direction::Need {
                    Some(record)
                } else {
                    self.record(*other)
                };
                need.is_some_and(|need| eligible(need, figures))
            })
            .map(|(other, figures)| Ranked {
                score: figures.score as f32,
                other: *other,
            })
            .collect();
        self.ranked_list(record, entries)
    }

    /// `entries` in rank order, cut to the flow's K.
    fn ranked_list(&self, record: &FlowRecord, mut entries: Vec<Ranked>) -> Vec<Ranked> {
        entries.sort_by(|a, b| self.rank_entries(a, b));
        entries.truncate(self.proposals_of(record));
        entries.shrink_to_fit();
        entries
    }

    /// What rebuilding finds from one offer: its best list, and the pairs it may propose as
    /// entries for its needs' lists. `None` unless the slot holds a matchable offer.
    fn assess_offer(&self, slot: u32) -> Option<OfferAssessment> {
        let offer = self
            .record(slot)
            .filter(|r| r.direction == Direction::Offer && r.matchable())?;
        // Straight from the neighbourhood: only the entries are kept, not each pair's figures.
        let proposable: Vec<(u32, Ranked)> = self
            .neighbours(slot)
            .into_iter()
            .filter_map(|need_slot| {
                let need = self.record(need_slot)?;
                let figures = assess(&self.catalog, &self.config, offer, need).ok()?;
                let entry = Ranked {
                    score: figures.score as f32,
                    other: slot,
                };
                eligible(need, &figures).then_some((need_slot, entry))
            })
            .collect();
        let own = proposable
            .iter()
            .map(|(need, entry)| Ranked {
                score: entry.score,
                other: *need,
            })
            .collect();
        Some((slot, self.ranked_list(offer, own), proposable))
    }

    /// Adds `entry` to `list`, the best list being built for the flow in `slot`, if it ranks
    /// within that flow's K; the list stays sorted and at most K long.
    fn keep_best(&self, list: &mut Vec<Ranked>, slot: u32, entry: Ranked) {
        let k = self.record(slot).map_or(0, |r| self.proposals_of(r));
        if list.len() >= k {
            match list.last() {
                Some(last) if self.rank_entries(&entry, last) == Ordering::Less => {
                    list.truncate(k - 1)
                }
                _ => return,
            }
        }
        if list.capacity() == 0 {
            list.reserve_exact(k);
        }
        let at = list.partition_point(|e| self.rank_entries(e, &entry) == Ordering::Less);
        list.insert(at, entry);
    }

    /// Puts `other` into the best list of `slot` if it ranks there; returns the counterpart it
    /// pushed out, if any.
    fn rank_into(&mut self, slot: u32, other: u32, score: f64) -> Option<u32> {
        let record = self.record(slot)?;
        let k = self.proposals_of(record);
        let entry = Ranked {
            score: score as f32,
            other,
        };
        let at = record
            .best
            .partition_point(|e| self.rank_entries(e, &entry) == Ordering::Less);
        if at >= k {
            return None;
        }
        let record = self.record_mut(slot)?;
        record.best.insert(at, entry);
        if record.best.len() > k {
            record.best.pop().map(|e| e.other)
        } else {
            None
        }
    }

    /// Puts a record into the table, the id/site/business maps and (if matchable) the index.
    fn place(&mut self, record: FlowRecord) -> u32 {
        let (id, site, business) = (record.id, record.site_id, record.business_id);
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(record);
                slot
            }
            None => {
                self.slots.push(Some(record));
                slot_number(self.slots.len() - 1)
            }
        };
        self.by_id.insert(id, slot);
        self.by_site.entry(site).or_default().push(slot);
        self.by_business.entry(business).or_default().push(slot);
        self.index_insert(slot);
        slot
    }

    /// Takes a record out of everything `place` put it in. Its matches must be unlinked already.
    fn unplace(&mut self, slot: u32) {
        self.index_remove(slot);
        let Some(record) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        self.free.push(slot);
        self.by_id.remove(&record.id);
        for (map, key) in [
            (&mut self.by_site, record.site_id),
            (&mut self.by_business, record.business_id),
        ] {
            if let Some(list) = map.get_mut(&key) {
                list.retain(|&s| s != slot);
                if list.is_empty() {
                    map.remove(&key);
                }
            }
        }
        self.profiles.release(record.profile);
    }

    fn index_insert(&mut self, slot: u32) {
        let Some(record) = self.record(slot).filter(|r| r.matchable()) else {
            return;
        };
        let Some(tree) = record.tree() else {
            return;
        };
        let (point, limit) = (record.point, self.limit_of(record));
        self.tree_reach[tree] = self.tree_reach[tree].max(limit);
        self.index.insert(tree, IndexedPoint::new(point, slot));
    }

    fn index_remove(&mut self, slot: u32) {
        if let Some((tree, point)) = self
            .record(slot)
            .and_then(|r| Some((r.tree()?, r.point)).filter(|_| r.matchable()))
        {
            self.index.remove(tree, &IndexedPoint::new(point, slot));
        }
    }

    /// Counterpart flows of compatible categories within reach of the flow in `slot` (from the
    /// index alone; nothing is evaluated).
    fn neighbours(&self, slot: u32) -> Vec<u32> {
        let Some(flow) = self.record(slot).filter(|r| r.matchable()) else {
            return Vec::new();
        };
        let Some(category) = flow.category else {
            return Vec::new();
        };
        let (counterparts, other_direction) = match flow.direction {
            Direction::Offer => (
                &self.catalog.offer_rules[category as usize],
                Direction::Need,
            ),
            Direction::Need => (
                &self.catalog.need_rules[category as usize],
                Direction::Offer,
            ),
        };
        let own = self.limit_of(flow);
        let mut found = Vec::new();
        for &other_category in counterparts {
            let tree = tree_of(other_category, other_direction);
            let radius = own.min(self.tree_reach[tree]);
            found.extend(self.index.within(tree, flow.point, radius));
        }
        found
    }

    /// Every pair the flow in `slot` forms now, with the other flow's slot and the pair's figures.
    fn candidates(&self, slot: u32) -> Vec<(u32, PairFigures)> {
        let Some(flow) = self.record(slot) else {
            return Vec::new();
        };
        self.neighbours(slot)
            .into_iter()
            .filter_map(|other_slot| {
                let other = self.record(other_slot)?;
                let (offer, need) = if flow.direction == Direction::Offer {
                    (flow, other)
                } else {
                    (other, flow)
                };
                let figures = assess(&self.catalog, &self.config, offer, need).ok()?;
                Some((other_slot, figures))
            })
            .collect()
    }

    /// Makes the pair live: its id, its offer link (in rank order) and its need link.
    fn link(&mut self, id: Uuid, offer_slot: u32, need_slot: u32, figures: &PairFigures) {
        if let Some(offer) = self.record_mut(offer_slot) {
            let link = OfferLink::new(id, figures.score, figures.wanted());
            let at = offer
                .offer_links
                .partition_point(|l| link_rank(l, &link) == Ordering::Less);
            offer.offer_links.insert(at, link);
        }
        if let Some(need) = self.record_mut(need_slot) {
            need.need_links.push(id);
        }
        self.matches.insert(
            id,
            LivePair {
                offer: offer_slot,
                need: need_slot,
                score: figures.score as f32,
            },
        );
    }

    /// Takes a live pair out of the id map and both flows' links.
    fn unlink(&mut self, id: Uuid) {
        let Some(pair) = self.matches.remove(&id) else {
            return;
        };
        if let Some(offer) = self.record_mut(pair.offer) {
            offer.offer_links.retain(|l| l.id != id);
        }
        if let Some(need) = self.record_mut(pair.need)
            && let Some(at) = need.need_links.iter().position(|x| *x == id)
        {
            need.need_links.swap_remove(at);
        }
    }

    /// Re-runs the allocation of one offer over its links (already in rank order); records the
    /// links whose share moved, as they were before.
    fn reallocate(&mut self, offer_slot: u32, moved: &mut Vec<OfferLink>) {
        // The slot may now hold a need (a flow can change direction); only offers allocate.
        let Some(offer) = self
            .slots
            .get_mut(offer_slot as usize)
            .and_then(Option::as_mut)
            .filter(|r| r.direction == Direction::Offer)
        else {
            return;
        };
        walk(
            offer.annual_amount,
            &mut offer.offer_links,
            |_, link, share, taken| {
                let same = share == link.share
                    && (share != Share::Partial || taken.to_bits() == link.taken.to_bits());
                if !same {
                    moved.push(*link);
                }
                link.share = share;
                link.taken = taken;
            },
        );
    }

    /// Why a pair that holds is not proposed (any more).
    fn withdrawal_reason(&self, offer: u32, need: u32, figures: &PairFigures) -> String {
        let (Some(o), Some(n)) = (self.record(offer), self.record(need)) else {
            return "no longer proposed".to_string();
        };
        if !eligible(n, figures) {
            return "no longer proposed: it costs more than it saves, and the need does not pay \
                    for CO2"
                .to_string();
        }
        format!(
            "no longer proposed: the offer has {} better-ranked needs and the need {} \
             better-ranked offers",
            o.best.len(),
            n.best.len()
        )
    }

    /// Why a pair that was a match does not hold any more.
    fn removal_reason(&self, previous: &Match) -> String {
        let offer = self
            .by_id
            .get(&previous.offer_flow_id)
            .and_then(|&s| self.record(s));
        let need = self
            .by_id
            .get(&previous.need_flow_id)
            .and_then(|&s| self.record(s));
        match (offer, need) {
            (None, _) => "offer deleted".to_string(),
            (_, None) => "need deleted".to_string(),
            (Some(offer), Some(need)) => match evaluate(&self.catalog, &self.config, offer, need) {
                Err(rejection) => rejection.to_string(),
                // Unreachable: only pairs that fail are removed; say something true rather than panic.
                Ok(_) => "no longer a match".to_string(),
            },
        }
    }
}

/// Whether a pair that holds may be proposed: it saves money, or the need pays for CO2.
fn eligible(need: &FlowRecord, figures: &PairFigures) -> bool {
    figures.savings_eur_per_year >= 0.0 || need.pays_for_co2
}

/// (offer slot, need slot) of the pair of `record` (in `slot`) and the flow in `other`.
fn orient(record: &FlowRecord, slot: u32, other: u32) -> (u32, u32) {
    if record.direction == Direction::Offer {
        (slot, other)
    } else {
        (other, slot)
    }
}

fn removed_match(last: Arc<Match>, reason: String) -> RemovedMatch {
    RemovedMatch {
        id: last.id,
        offer_flow_id: last.offer_flow_id,
        need_flow_id: last.need_flow_id,
        offer_business_id: last.offer_business_id,
        need_business_id: last.need_business_id,
        reason,
        last,
    }
}

/// Each tree's reach before any flow raises it: its category's typical maximum distance.
fn category_reach(catalog: &Catalog) -> Vec<f64> {
    (0..catalog.categories.len())
        .flat_map(|c| {
            let km = catalog.category(slot_number(c)).max_distance_km;
            [km, km]
        })
        .collect()
}

/// The matches in rank order (best first).
fn ranked(matches: impl Iterator<Item = Arc<Match>>) -> Vec<Arc<Match>> {
    let mut out: Vec<Arc<Match>> = matches.collect();
    out.sort_by(|a, b| rank(a, b));
    out
}

/// A point's place on a Z-order curve over latitude and longitude (16 bits each): points close on
/// the curve are close on the map.
fn z_order(point: GeoPoint) -> u32 {
    fn spread(v: u32) -> u32 {
        let mut v = v & 0xffff;
        v = (v | (v << 8)) & 0x00ff_00ff;
        v = (v | (v << 4)) & 0x0f0f_0f0f;
        v = (v | (v << 2)) & 0x3333_3333;
        (v | (v << 1)) & 0x5555_5555
    }
    // `as` saturates, and a NaN coordinate (a defective flow's) becomes 0.
    let lat = ((point.lat + 90.0) / 180.0 * 65535.0) as u32;
    let lon = ((point.lon + 180.0) / 360.0 * 65535.0) as u32;
    spread(lat) << 1 | spread(lon)
}

fn slot_number(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 flows fit in memory")
}

/// Approximate bytes of a hashbrown map: buckets (capacity / load factor 7/8) × (entry + control byte).
fn map_bytes<K, V>(map: &HashMap<K, V>) -> usize {
    map.capacity() * 8 / 7 * (std::mem::size_of::<(K, V)>() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lat: f64, lon: f64) -> GeoPoint {
        GeoPoint { lat, lon }
    }

    #[test]
    fn z_order_keeps_a_region_together_and_tolerates_bad_points() {
        // Two points of one city fall between a point of another city and the corner of the map.
        let (essen, bochum, munich) = (at(51.45, 7.01), at(51.48, 7.22), at(48.14, 11.58));
        let gap = |a: GeoPoint, b: GeoPoint| z_order(a).abs_diff(z_order(b));
        assert!(gap(essen, bochum) < gap(essen, munich));
        assert_eq!(z_order(at(-90.0, -180.0)), 0);
        assert_eq!(z_order(at(90.0, 180.0)), u32::MAX);
        assert_eq!(z_order(at(f64::NAN, f64::NAN)), 0);
        assert_eq!(z_order(at(1e9, -1e9)), z_order(at(90.0, -180.0)));
    }
}
