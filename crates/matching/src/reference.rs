//! Brute force over every offer × need pair, with the same pair evaluation, proposal rule and
//! allocation as the engine. O(offers × needs): a test oracle and a benchmark baseline, never for
//! production use.
//!
//! The proposal rule is written out again here, the plain way: every flow ranks every pair it forms
//! that may be proposed (saves money, or the need pays for CO2) by score, then the counterpart's id,
//! and keeps its best K; a pair is live if either side keeps it, or if it is pinned and holds.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use symbiont_core::{Direction, Taxonomy};
use uuid::Uuid;

use crate::allocation::allocate;
use crate::boundary::{FlowInput, Match, match_id};
use crate::catalog::Catalog;
use crate::pair::{PairFigures, assess, build};
use crate::record::{FlowRecord, ProfileInterner};
use crate::score_settings::MatchingConfig;

/// Every live match among `flows` with no pinned pair, sorted by match id.
pub fn all_pairs(
    taxonomy: Arc<Taxonomy>,
    config: &MatchingConfig,
    flows: Vec<FlowInput>,
) -> Vec<Match> {
    proposed_pairs(taxonomy, config, flows, &[])
}

/// Every live match among `flows`, sorted by match id, computed by trying all pairs; `pinned` are
/// (offer flow, need flow) pairs someone decided on. When an id appears twice, the later flow wins
/// (as in `Engine::rebuild`). Configuration problems are not checked here.
pub fn proposed_pairs(
    taxonomy: Arc<Taxonomy>,
    config: &MatchingConfig,
    flows: Vec<FlowInput>,
    pinned: &[(Uuid, Uuid)],
) -> Vec<Match> {
    let catalog = Catalog::new(taxonomy);
    let mut profiles = ProfileInterner::default();
    let mut latest: HashMap<Uuid, FlowRecord> = HashMap::new();
    for f in flows {
        latest.insert(f.flow.id, FlowRecord::new(f, &catalog, &mut profiles));
    }
    let mut records: Vec<FlowRecord> = latest.into_values().collect();
    records.sort_by_key(|r| r.id);

    // Every pair that holds, by (offer index, need index).
    let mut holds: HashMap<(usize, usize), PairFigures> = HashMap::new();
    for (o, offer) in records.iter().enumerate() {
        for (n, need) in records.iter().enumerate() {
            if let Ok(figures) = assess(&catalog, config, offer, need) {
                holds.insert((o, n), figures);
            }
        }
    }
    let mut live: BTreeSet<(usize, usize)> = BTreeSet::new();
    for (i, record) in records.iter().enumerate() {
        let mut mine: Vec<(f64, Uuid, (usize, usize))> = holds
            .iter()
            .filter(|((o, n), _)| *o == i || *n == i)
            .filter(|((_, n), f)| f.savings_eur_per_year >= 0.0 || records[*n].pays_for_co2)
            .map(|(&(o, n), f)| {
                let other = if o == i { n } else { o };
                (f.score, records[other].id, (o, n))
            })
            .collect();
        mine.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let k = record.max_proposals.unwrap_or(match record.direction {
            Direction::Offer => config.proposals.per_offer,
            Direction::Need => config.proposals.per_need,
        }) as usize;
        live.extend(mine.into_iter().take(k).map(|(_, _, pair)| pair));
    }
    let index: HashMap<Uuid, usize> = records.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    for (offer, need) in pinned {
        if let (Some(&o), Some(&n)) = (index.get(offer), index.get(need))
            && holds.contains_key(&(o, n))
        {
            live.insert((o, n));
        }
    }

    let mut out = Vec::new();
    for (o, offer) in records.iter().enumerate() {
        let mut found: Vec<Match> = live
            .iter()
            .filter(|(lo, _)| *lo == o)
            .map(|&(_, n)| {
                let need = &records[n];
                build(
                    &catalog,
                    match_id(offer.id, need.id),
                    offer,
                    need,
                    &holds[&(o, n)],
                )
            })
            .collect();
        allocate(offer.annual_amount, &mut found, |m| m, |m| m);
        out.extend(found);
    }
    out.sort_by_key(|m| m.id);
    out
}
