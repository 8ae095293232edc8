//! What goes into the engine (`FlowInput`) and what comes out of it (`Match`, `MatchDiff`), plus the
//! stable id of an offer–need pair. These types cross into the service and, serialised, onto the
//! wire; they carry no behaviour beyond that.

use std::sync::Arc;

use serde::Serialize;
use symbiont_core::{Flow, GeoPoint};
use uuid::Uuid;

/// A flow with the location of its site: all the engine needs to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowInput {
    pub flow: Flow,
    pub location: GeoPoint,
}

impl FlowInput {
    pub fn new(flow: Flow, location: GeoPoint) -> Self {
        Self { flow, location }
    }
}

/// Namespace of match ids (UUIDv5): a constant, so every process, every version and any other
/// implementation derives the same id from the same pair.
pub const MATCH_ID_NAMESPACE: Uuid = Uuid::from_u128(0x8c3e_5a71_2f4b_4d0e_9a61_7b2c_d5e8_f013);

/// The stable id of the match between an offer and a need: UUIDv5 in [`MATCH_ID_NAMESPACE`] of the
/// 32 bytes `offer_id ‖ need_id`. People's decisions are stored under this id, so it must never change.
pub fn match_id(offer_flow_id: Uuid, need_flow_id: Uuid) -> Uuid {
    let mut name = [0u8; 32];
    name[..16].copy_from_slice(offer_flow_id.as_bytes());
    name[16..].copy_from_slice(need_flow_id.as_bytes());
    Uuid::new_v5(&MATCH_ID_NAMESPACE, &name)
}

/// The score components, each in 0..1 (see `docs/matching.md` for each formula).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoreComponents {
    /// Share of the need's annual amount the offer delivers (`covered_share`).
    pub coverage: f64,
    /// Σ min(supply, demand) / Σ demand over the 168 hours of the week.
    pub temporal: f64,
    /// `1 - distance / allowed distance`.
    pub distance: f64,
    /// `margin / (margin + half)`, or the configured value when the rule compares nothing.
    pub quality: f64,
    /// `savings / (savings + half)` for positive savings, else 0.
    pub economics: f64,
    /// `co2 / (co2 + half)`.
    pub co2: f64,
}

impl ScoreComponents {
    /// The components in weight order: coverage, temporal, distance, quality, economics, co2.
    pub fn as_array(&self) -> [f64; 6] {
        [
            self.coverage,
            self.temporal,
            self.distance,
            self.quality,
            self.economics,
            self.co2,
        ]
    }
}

/// Who holds a flow the engine knows, and where: what a subscriber's filters (business, category,
/// map area) are checked against, and what redaction needs to know of it.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowPlace {
    pub flow_id: Uuid,
    pub business_id: Uuid,
    pub anonymous: bool,
    /// The category code, or `None` when the taxonomy does not know it.
    pub category: Option<Arc<str>>,
    /// The site's exact location.
    pub location: GeoPoint,
}

/// An offer paired with a need that satisfies every hard constraint, with its score, the figures
/// behind it and a sentence explaining it. Serialised with the sentence written out (below).
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// [`match_id`] of the pair.
    pub id: Uuid,
    pub offer_flow_id: Uuid,
    pub need_flow_id: Uuid,
    pub offer_business_id: Uuid,
    pub need_business_id: Uuid,
    /// Whether the offer's owner is hidden from other businesses (see `Flow::anonymous`).
    pub offer_anonymous: bool,
    pub need_anonymous: bool,
    pub offer_category: Arc<str>,
    pub need_category: Arc<str>,
    /// Weighted mean of the components, 0..1.
    pub score: f64,
    pub components: ScoreComponents,
    /// Great-circle distance between the two sites.
    pub distance_km: f64,
    /// The smallest of the offer's, the need's and both categories' maximum distances.
    pub allowed_distance_km: f64,
    /// Delivered amount per year in the need's amount unit (`amount_unit`).
    pub delivered_annual_amount: f64,
    /// MWh, t or m3.
    pub amount_unit: &'static str,
    /// Delivered amount in the need's canonical unit (`quantity_unit`): kW for power, else per year.
    pub delivered_quantity: f64,
    pub quantity_unit: &'static str,
    /// `delivered_annual_amount / need annual amount`, 0..1.
    pub covered_share: f64,
    /// What this need could get of the offer when the offer serves its needs greedily by score
    /// (rule v1, see `allocation`), in `quantity_unit`. At most `delivered_quantity`.
    pub allocatable_quantity: f64,
    /// Need units delivered per offer unit (the taxonomy rule's conversion factor).
    pub conversion: f64,
    /// Temporal overlap of the weekly profiles, 0..1 (the same figure as `components.temporal`).
    pub temporal_overlap: f64,
    /// Smallest slack of the rule's quality comparisons (K, bar or percentage points), if it has any.
    pub quality_margin: Option<f64>,
    /// Value of the substituted resource − transport − offer price, EUR per year (may be negative).
    pub savings_eur_per_year: f64,
    /// CO2 of the substituted virgin resource avoided, t per year.
    pub co2_t_per_year: f64,
    /// What the sentence explaining the match needs besides the match's own figures
    /// ([`Match::explanation_text`] writes it).
    pub explanation: Explanation,
}

/// The part of a match's sentence that is not among its figures: a stored sentence cost about 150
/// bytes per match, a copy of its figures 48, this 16.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// What the need's category is called in a sentence, e.g. "low-temperature heat".
    pub noun: Arc<str>,
}

impl Match {
    /// One sentence a person reads, e.g. "Covers 75 % of your low-temperature heat demand from
    /// 2.0 km away; saves about EUR 57,000 and 300 t CO2 a year."
    pub fn explanation_text(&self) -> String {
        crate::explain::sentence(
            &self.explanation.noun,
            self.covered_share,
            self.distance_km,
            self.savings_eur_per_year,
            self.co2_t_per_year,
        )
    }
}

impl Serialize for Match {
    /// Every field in declaration order, `explanation` as its sentence.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Match", 25)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("offer_flow_id", &self.offer_flow_id)?;
        s.serialize_field("need_flow_id", &self.need_flow_id)?;
        s.serialize_field("offer_business_id", &self.offer_business_id)?;
        s.serialize_field("need_business_id", &self.need_business_id)?;
        s.serialize_field("offer_anonymous", &self.offer_anonymous)?;
        s.serialize_field("need_anonymous", &self.need_anonymous)?;
        s.serialize_field("offer_category", &self.offer_category)?;
        s.serialize_field("need_category", &self.need_category)?;
        s.serialize_field("score", &self.score)?;
        s.serialize_field("components", &self.components)?;
        s.serialize_field("distance_km", &self.distance_km)?;
        s.serialize_field("allowed_distance_km", &self.allowed_distance_km)?;
        s.serialize_field("delivered_annual_amount", &self.delivered_annual_amount)?;
        s.serialize_field("amount_unit", &self.amount_unit)?;
        s.serialize_field("delivered_quantity", &self.delivered_quantity)?;
        s.serialize_field("quantity_unit", &self.quantity_unit)?;
        s.serialize_field("covered_share", &self.covered_share)?;
        s.serialize_field("allocatable_quantity", &self.allocatable_quantity)?;
        s.serialize_field("conversion", &self.conversion)?;
        s.serialize_field("temporal_overlap", &self.temporal_overlap)?;
        s.serialize_field("quality_margin", &self.quality_margin)?;
        s.serialize_field("savings_eur_per_year", &self.savings_eur_per_year)?;
        s.serialize_field("co2_t_per_year", &self.co2_t_per_year)?;
        s.serialize_field("explanation", &self.explanation_text())?;
        s.end()
    }
}

/// A match that no longer holds, with why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemovedMatch {
    pub id: Uuid,
    pub offer_flow_id: Uuid,
    pub need_flow_id: Uuid,
    pub offer_business_id: Uuid,
    pub need_business_id: Uuid,
    /// In words, e.g. "offer paused", "distance now 14.2 km > 10 km", "need deleted".
    pub reason: String,
    /// The match as it was before it was removed (to keep with an expired decision).
    pub last: Arc<Match>,
}

/// What one change did to the matches. Each list is sorted by match id; a match appears at most once.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MatchDiff {
    /// Pairs proposed now that were not before.
    pub added: Vec<Arc<Match>>,
    /// Matches that still hold but whose figures, score or allocation changed (new version).
    pub changed: Vec<Arc<Match>>,
    /// Pairs that stopped holding: a hard constraint fails now (a decision on them expires).
    pub removed: Vec<RemovedMatch>,
    /// Pairs that still hold but are no longer proposed: better ones ranked above them, or they
    /// cost more than they save. Nobody decided on them (decided pairs stay proposed).
    pub withdrawn: Vec<RemovedMatch>,
}

impl MatchDiff {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of matches touched.
    pub fn len(&self) -> usize {
        self.added.len() + self.changed.len() + self.removed.len() + self.withdrawn.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_ids_are_stable_and_ordered_by_role() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(match_id(a, b), match_id(a, b));
        assert_ne!(
            match_id(a, b),
            match_id(b, a),
            "offer and need are not interchangeable"
        );
        assert_eq!(match_id(a, b).get_version_num(), 5);
        // Pinned: decisions are stored under these ids, so the derivation must never change.
        assert_eq!(match_id(a, b).to_string(), PINNED_ID);
    }

    const PINNED_ID: &str = "827643a1-5f52-5bac-9544-3cae4db0cc10";
}
