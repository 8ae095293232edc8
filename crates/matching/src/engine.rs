//! The engine: the flow table, the spatial index and the current matches, kept up to date one change
//! at a time (`upsert_flow`, `remove_flow(s)`, `move_site`) or recomputed whole in parallel
//! (`rebuild`). Every change returns the `MatchDiff` it caused.
//!
//! Incremental algorithm (the same for every kind of change):
//! 1. *Detach* the current matches of the touched flows (remember them as `old`).
//! 2. Apply the change to the flow table and the R-trees.
//! 3. For each touched flow that can be matched, query the counterpart trees of the compatible
//!    categories within its allowed distance and evaluate each candidate pair; attach the pairs that
//!    hold.
//! 4. Re-allocate the offers on either side of an old or new match (allocation is per offer).
//! 5. Diff: new and not old → added; both but different → changed; old and not new → removed, with
//!    the reason the pair now fails; untouched matches whose allocation moved → changed.
//!
//! Nothing else is looked at, so the cost of a change is that of its neighbourhood. The engine does
//! no I/O and holds no locks; the service wraps it in its own lock.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

// Maps keyed by ids: foldhash rather than SipHash (a business's match list looks up hundreds of ids).
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use rayon::prelude::*;
use symbiont_core::{Direction, GeoPoint, Taxonomy};
use uuid::Uuid;

use crate::allocation::{OfferLink, Share, allocatable, allocate, link_rank, rank, walk};
use crate::boundary::{FlowInput, Match, MatchDiff, RemovedMatch};
use crate::catalog::Catalog;
use crate::pair::evaluate;
use crate::record::{FlowRecord, ProfileInterner, tree_of};
use crate::score_settings::{ConfigError, MatchingConfig};
use crate::spatial::{IndexedPoint, SpatialIndex};

/// One offer's slot, its links in rank order and its matches with the need's slot (rebuild).
type OfferMatches = (u32, Vec<OfferLink>, Vec<(u32, Arc<Match>)>);

/// Sizes of the engine's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct EngineStats {
    /// Flows held (active, paused and unmatchable).
    pub flows: usize,
    /// Flows in the spatial index: active and with usable figures.
    pub matchable_flows: usize,
    pub offers: usize,
    pub needs: usize,
    pub matches: usize,
    /// Distinct weekly profiles (each stored once).
    pub distinct_profiles: usize,
    /// Estimated heap and inline bytes of the whole state (flows, indexes, matches).
    pub approx_memory_bytes: usize,
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
    matches: HashMap<Uuid, Arc<Match>>,
}

impl Engine {
    /// An empty engine for this taxonomy; fails if the configuration is unusable.
    pub fn new(taxonomy: Arc<Taxonomy>, config: MatchingConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let catalog = Catalog::new(taxonomy);
        let index = SpatialIndex::new(catalog.categories.len());
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
            matches: HashMap::new(),
        })
    }

    pub fn config(&self) -> &MatchingConfig {
        &self.config
    }

    pub fn taxonomy(&self) -> &Arc<Taxonomy> {
        &self.catalog.taxonomy
    }

    // ----- full recompute -----

    /// Replaces the whole state with these flows and computes every match, in parallel (rayon).
    /// When an id appears twice, the later flow wins. Returns nothing: after a rebuild the service
    /// reconciles its stored decisions with [`Engine::iter`].
    pub fn rebuild(&mut self, flows: Vec<FlowInput>) {
        let mut last: HashMap<Uuid, usize> = HashMap::with_capacity(flows.len());
        for (i, f) in flows.iter().enumerate() {
            last.insert(f.flow.id, i);
        }
        let mut profiles = ProfileInterner::default();
        let records: Vec<FlowRecord> = flows
            .into_iter()
            .enumerate()
            .filter(|(i, f)| last.get(&f.flow.id) == Some(i))
            .map(|(_, f)| FlowRecord::new(f, &self.catalog, &mut profiles))
            .collect();
        let categories = self.catalog.categories.len();
        let mut groups: Vec<Vec<IndexedPoint>> = vec![Vec::new(); categories * 2];
        let mut by_id = HashMap::with_capacity(records.len());
        let mut by_site: HashMap<Uuid, Vec<u32>> = HashMap::new();
        let mut by_business: HashMap<Uuid, Vec<u32>> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            let slot = slot_number(i);
            by_id.insert(r.id, slot);
            by_site.entry(r.site_id).or_default().push(slot);
            by_business.entry(r.business_id).or_default().push(slot);
            if let (true, Some(tree)) = (r.matchable(), r.tree()) {
                groups[tree].push(IndexedPoint::new(r.point, slot));
            }
        }
        self.slots = records.into_iter().map(Some).collect();
        self.free.clear();
        self.by_id = by_id;
        self.by_site = by_site;
        self.by_business = by_business;
        self.profiles = profiles;
        self.index = SpatialIndex::bulk(categories, groups);
        self.matches = HashMap::new();

        // Every pair is found once, from its offer; each offer allocates its own matches.
        let this = &*self;
        let per_offer: Vec<OfferMatches> = (0..this.slots.len())
            .into_par_iter()
            .map(slot_number)
            .filter_map(|s| {
                let offer = this
                    .record(s)
                    .filter(|r| r.direction == Direction::Offer && r.matchable())?;
                let mut found = this.candidates(s);
                if found.is_empty() {
                    return None;
                }
                let links = allocate(offer.annual_amount, &mut found, |(_, m)| m, |(_, m)| m);
                Some((
                    s,
                    links,
                    found
                        .into_iter()
                        .map(|(need, m)| (need, Arc::new(m)))
                        .collect(),
                ))
            })
            .collect();
        let total: usize = per_offer.iter().map(|(_, links, _)| links.len()).sum();
        self.matches.reserve(total);
        for (offer_slot, links, found) in per_offer {
            for (need_slot, m) in found {
                if let Some(need) = self.record_mut(need_slot) {
                    need.need_links.push(m.id);
                }
                self.matches.insert(m.id, m);
            }
            if let Some(offer) = self.record_mut(offer_slot) {
                offer.offer_links = links;
            }
        }
    }

    // ----- incremental changes -----

    /// Adds a flow or replaces the flow with the same id (a changed quantity, location, status ...).
    /// Pausing a flow is an upsert with `status: paused`.
    pub fn upsert_flow(&mut self, input: FlowInput) -> MatchDiff {
        let existing = self.by_id.get(&input.flow.id).copied();
        let touched: Vec<u32> = existing.into_iter().collect();
        let old = self.detach(&touched);
        // Build the new record before releasing the old one, so a shared profile stays interned.
        let record = FlowRecord::new(input, &self.catalog, &mut self.profiles);
        if let Some(slot) = existing {
            self.unplace(slot);
        }
        let slot = self.place(record);
        self.finish(old, &[slot])
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
        let old = self.detach(&slots);
        for &slot in &slots {
            self.unplace(slot);
        }
        self.finish(old, &[])
    }

    /// Moves every flow of a site to a new location.
    pub fn move_site(&mut self, site_id: Uuid, location: GeoPoint) -> MatchDiff {
        let slots = self.by_site.get(&site_id).cloned().unwrap_or_default();
        if slots.is_empty() {
            return MatchDiff::default();
        }
        let old = self.detach(&slots);
        for &slot in &slots {
            self.index_remove(slot);
            if let Some(r) = self.record_mut(slot) {
                r.relocate(location);
            }
            self.index_insert(slot);
        }
        self.finish(old, &slots)
    }

    // ----- queries -----

    /// The match with this id, if the pair currently holds.
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

    pub fn get(&self, match_id: Uuid) -> Option<&Arc<Match>> {
        self.matches.get(&match_id)
    }

    /// Matches of a flow (as offer or as need), best first (score descending, then id).
    pub fn matches_of_flow(&self, flow_id: Uuid) -> Vec<Arc<Match>> {
        ranked(self.flow_matches(flow_id))
    }

    /// Matches in which the business is on either side, best first.
    pub fn matches_of_business(&self, business_id: Uuid) -> Vec<Arc<Match>> {
        ranked(self.business_matches(business_id))
    }

    /// Matches of a flow, in no particular order, borrowed (for callers that pick a page).
    pub fn flow_matches(&self, flow_id: Uuid) -> impl Iterator<Item = &Arc<Match>> + '_ {
        self.by_id
            .get(&flow_id)
            .into_iter()
            .flat_map(|&s| self.matches_of_slot(s))
    }

    /// Matches in which the business is on either side, in no particular order, borrowed. A
    /// business never matches itself, so each match appears once.
    pub fn business_matches(&self, business_id: Uuid) -> impl Iterator<Item = &Arc<Match>> + '_ {
        self.by_business
            .get(&business_id)
            .into_iter()
            .flatten()
            .flat_map(|&s| self.matches_of_slot(s))
    }

    fn matches_of_slot(&self, slot: u32) -> impl Iterator<Item = &Arc<Match>> + '_ {
        self.record(slot)
            .into_iter()
            .flat_map(|r| r.match_ids().filter_map(|id| self.matches.get(&id)))
    }

    /// Every current match, in no particular order (the caller filters and sorts).
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Match>> + '_ {
        self.matches.values()
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
            distinct_profiles: self.profiles.len(),
            approx_memory_bytes: 0,
        };
        let size = std::mem::size_of::<Option<FlowRecord>>;
        let flows =
            self.slots.capacity() * size() + records().map(FlowRecord::heap_bytes).sum::<usize>();
        let lists = |m: &HashMap<Uuid, Vec<u32>>| {
            map_bytes(m) + m.values().map(|v| v.capacity() * 4).sum::<usize>()
        };
        // A match has no heap parts of its own (categories and nouns are shared): each costs its
        // size plus the `Arc` counts, so the figure needs no walk over millions of matches.
        let matches =
            map_bytes(&self.matches) + self.matches.len() * (std::mem::size_of::<Match>() + 16);
        stats.approx_memory_bytes = std::mem::size_of::<Self>()
            + self.catalog.memory_bytes()
            + flows
            + self.free.capacity() * 4
            + map_bytes(&self.by_id)
            + lists(&self.by_site)
            + lists(&self.by_business)
            + self.profiles.memory_bytes()
            + self.index.memory_bytes()
            + matches;
        stats
    }

    // ----- internals -----

    fn record(&self, slot: u32) -> Option<&FlowRecord> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn record_mut(&mut self, slot: u32) -> Option<&mut FlowRecord> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
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

    /// Takes a record out of everything `place` put it in. Its matches must be detached already.
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
        if let Some((tree, point)) = self
            .record(slot)
            .and_then(|r| Some((r.tree()?, r.point)).filter(|_| r.matchable()))
        {
            self.index.insert(tree, IndexedPoint::new(point, slot));
        }
    }

    fn index_remove(&mut self, slot: u32) {
        if let Some((tree, point)) = self
            .record(slot)
            .and_then(|r| Some((r.tree()?, r.point)).filter(|_| r.matchable()))
        {
            self.index.remove(tree, &IndexedPoint::new(point, slot));
        }
    }

    /// Every pair the flow in `slot` forms now, found through the index, with the other flow's slot.
    fn candidates(&self, slot: u32) -> Vec<(u32, Match)> {
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
        let own_max = flow
            .max_distance_km
            .unwrap_or(f64::INFINITY)
            .min(self.catalog.category(category).max_distance_km);
        let mut found = Vec::new();
        for &other_category in counterparts {
            let radius = own_max.min(self.catalog.category(other_category).max_distance_km);
            for other_slot in
                self.index
                    .within(tree_of(other_category, other_direction), flow.point, radius)
            {
                let Some(other) = self.record(other_slot) else {
                    continue;
                };
                let (offer, need) = if flow.direction == Direction::Offer {
                    (flow, other)
                } else {
                    (other, flow)
                };
                if let Ok(m) = evaluate(&self.catalog, &self.config, offer, need) {
                    found.push((other_slot, m));
                }
            }
        }
        found
    }

    /// Adds a match between the flows in two slots (offer first).
    fn attach(&mut self, offer_slot: u32, need_slot: u32, m: Match) {
        if let Some(offer) = self.record_mut(offer_slot) {
            let link = OfferLink::of(&m);
            let at = offer
                .offer_links
                .partition_point(|l| link_rank(l, &link) == Ordering::Less);
            offer.offer_links.insert(at, link);
        }
        if let Some(need) = self.record_mut(need_slot) {
            need.need_links.push(m.id);
        }
        self.matches.insert(m.id, Arc::new(m));
    }

    /// Takes the matches of the given flows out of the state and returns them.
    /// Their entries stay in the id map until `finish` knows which pairs still hold, so a pair that
    /// holds is overwritten in place rather than removed and re-inserted.
    fn detach(&mut self, slots: &[u32]) -> HashMap<Uuid, Arc<Match>> {
        let mut old = HashMap::new();
        for &slot in slots {
            let Some(record) = self.record_mut(slot) else {
                continue;
            };
            let ids: Vec<Uuid> = std::mem::take(&mut record.offer_links)
                .into_iter()
                .map(|l| l.id)
                .collect();
            let ids = ids
                .into_iter()
                .chain(std::mem::take(&mut record.need_links));
            for id in ids.collect::<Vec<_>>() {
                if old.contains_key(&id) {
                    continue; // both flows were touched; detached from the other side already
                }
                let Some(m) = self.matches.get(&id).cloned() else {
                    continue;
                };
                let (offer_slot, need_slot) = (
                    self.by_id.get(&m.offer_flow_id).copied(),
                    self.by_id.get(&m.need_flow_id).copied(),
                );
                if let Some(r) = offer_slot
                    .filter(|&s| s != slot)
                    .and_then(|s| self.record_mut(s))
                {
                    let probe = OfferLink::of(&m);
                    let at = r
                        .offer_links
                        .partition_point(|l| link_rank(l, &probe) == Ordering::Less);
                    match r.offer_links.get(at) {
                        Some(l) if l.id == id => {
                            r.offer_links.remove(at);
                        }
                        _ => r.offer_links.retain(|l| l.id != id),
                    }
                }
                if let Some(r) = need_slot
                    .filter(|&s| s != slot)
                    .and_then(|s| self.record_mut(s))
                    && let Some(pos) = r.need_links.iter().position(|x| *x == id)
                {
                    r.need_links.swap_remove(pos);
                }
                old.insert(id, m);
            }
        }
        old
    }

    /// Steps 3 to 5 of the algorithm: find the touched flows' pairs, re-allocate, diff against `old`.
    fn finish(&mut self, old: HashMap<Uuid, Arc<Match>>, touched: &[u32]) -> MatchDiff {
        let mut fresh: Vec<Uuid> = Vec::new();
        let mut fresh_set: HashSet<Uuid> = HashSet::new();
        for &slot in touched {
            let is_offer = self
                .record(slot)
                .is_some_and(|r| r.direction == Direction::Offer);
            for (other, m) in self.candidates(slot) {
                if !fresh_set.insert(m.id) {
                    continue; // both flows were touched; found from the other side already
                }
                fresh.push(m.id);
                let (offer, need) = if is_offer {
                    (slot, other)
                } else {
                    (other, slot)
                };
                self.attach(offer, need, m);
            }
        }
        for id in old.keys() {
            if !fresh_set.contains(id) {
                self.matches.remove(id);
            }
        }

        let offers: BTreeSet<Uuid> = old
            .values()
            .map(|m| m.offer_flow_id)
            .chain(
                fresh
                    .iter()
                    .filter_map(|id| self.matches.get(id))
                    .map(|m| m.offer_flow_id),
            )
            .collect();
        let mut reallocated: Vec<Uuid> = Vec::new();
        for offer in offers {
            if let Some(&slot) = self.by_id.get(&offer) {
                self.reallocate(slot, &mut reallocated);
            }
        }

        let mut diff = MatchDiff::default();
        for id in &fresh {
            let Some(current) = self.matches.get(id) else {
                continue;
            };
            match old.get(id) {
                None => diff.added.push(Arc::clone(current)),
                Some(previous) if previous != current => diff.changed.push(Arc::clone(current)),
                Some(_) => {}
            }
        }
        for id in reallocated {
            if !fresh_set.contains(&id)
                && !old.contains_key(&id)
                && let Some(current) = self.matches.get(&id)
            {
                diff.changed.push(Arc::clone(current));
            }
        }
        for (id, previous) in old {
            if !fresh_set.contains(&id) {
                diff.removed.push(RemovedMatch {
                    id,
                    offer_flow_id: previous.offer_flow_id,
                    need_flow_id: previous.need_flow_id,
                    offer_business_id: previous.offer_business_id,
                    need_business_id: previous.need_business_id,
                    reason: self.removal_reason(&previous),
                    last: previous,
                });
            }
        }
        diff.added.sort_by_key(|m| m.id);
        diff.changed.sort_by_key(|m| m.id);
        diff.changed.dedup_by_key(|m| m.id);
        diff.removed.sort_by_key(|m| m.id);
        diff
    }

    /// Re-runs the allocation of one offer over its links (already in rank order); updates and records
    /// the matches whose allocatable quantity moved.
    fn reallocate(&mut self, offer_slot: u32, moved: &mut Vec<Uuid>) {
        // The id may now name a need (a flow can change direction); only offers allocate.
        let Some(offer) = self
            .slots
            .get_mut(offer_slot as usize)
            .and_then(Option::as_mut)
        else {
            return;
        };
        if offer.direction != Direction::Offer {
            return;
        }
        let matches = &mut self.matches;
        walk(
            offer.annual_amount,
            &mut offer.offer_links,
            |_, link, share, taken| {
                if share == link.share && share != Share::Partial {
                    return; // Full stays the delivered quantity, Zero stays zero
                }
                link.share = share;
                if let Some(m) = matches.get_mut(&link.id) {
                    let value = allocatable(m, share, taken);
                    if m.allocatable_quantity.to_bits() != value.to_bits() {
                        Arc::make_mut(m).allocatable_quantity = value;
                        moved.push(link.id);
                    }
                }
            },
        );
    }

    /// Why a pair that was a match is not one any more.
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
                // Unreachable while the index is consistent; say something true rather than panic.
                Ok(_) => "no longer a match".to_string(),
            },
        }
    }
}

/// The matches in rank order (best first), as owned handles.
fn ranked<'a>(matches: impl Iterator<Item = &'a Arc<Match>>) -> Vec<Arc<Match>> {
    let mut out: Vec<Arc<Match>> = matches.cloned().collect();
    out.sort_by(|a, b| rank(a, b));
    out
}

fn slot_number(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 flows fit in memory")
}

/// Approximate bytes of a hashbrown map: buckets (capacity / load factor 7/8) × (entry + control byte).
fn map_bytes<K, V>(map: &HashMap<K, V>) -> usize {
    map.capacity() * 8 / 7 * (std::mem::size_of::<(K, V)>() + 1)
}
