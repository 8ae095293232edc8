//! Brute force over every offer × need pair, with the same pair evaluation and allocation as the
//! engine. O(offers × needs): a test oracle and a benchmark baseline, never for production use.

use std::collections::HashMap;
use std::sync::Arc;

use symbiont_core::{Direction, Taxonomy};
use uuid::Uuid;

use crate::allocation::allocate;
use crate::boundary::{FlowInput, Match};
use crate::catalog::Catalog;
use crate::pair::evaluate;
use crate::record::{FlowRecord, ProfileInterner};
use crate::score_settings::MatchingConfig;

/// Every match among `flows`, sorted by match id, computed by trying all pairs. When an id appears
/// twice, the later flow wins (as in `Engine::rebuild`). Configuration problems are not checked here.
pub fn all_pairs(
    taxonomy: Arc<Taxonomy>,
    config: &MatchingConfig,
    flows: Vec<FlowInput>,
) -> Vec<Match> {
    let catalog = Catalog::new(taxonomy);
    let mut profiles = ProfileInterner::default();
    let mut latest: HashMap<Uuid, FlowRecord> = HashMap::new();
    for f in flows {
        latest.insert(f.flow.id, FlowRecord::new(f, &catalog, &mut profiles));
    }
    let mut records: Vec<FlowRecord> = latest.into_values().collect();
    records.sort_by_key(|r| r.id);
    let (offers, needs): (Vec<&FlowRecord>, Vec<&FlowRecord>) = records
        .iter()
        .partition(|r| r.direction == Direction::Offer);
    let mut out = Vec::new();
    for offer in offers {
        let mut found: Vec<Match> = needs
            .iter()
            .filter_map(|need| evaluate(&catalog, config, offer, need).ok())
            .collect();
        allocate(offer.annual_amount, &mut found, |m| m, |m| m);
        out.extend(found);
    }
    out.sort_by_key(|m| m.id);
    out
}
