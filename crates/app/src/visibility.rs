//! What a caller may see of anonymous flows. An anonymous flow's owner stays hidden from other
//! businesses until the owner accepts contact (the match moves on from `contacted` to
//! `negotiating`); from then on the two businesses of the match see each other. Platform admins and
//! the owner's members always see it.
//!
//! Until then a match with a hidden side is served as [`redact`] builds it: categories, bands and a
//! score level, all computed from the pair as it would be with both sites snapped to the centres of
//! their [`GRID_KM`] cells ([`coarsen`]). No field is a function of where in its cell either site
//! is, so a stranger who moves a probe site learns the hidden site's cell and nothing finer, and a
//! stranger's list is ordered by those same levels and bands (ADR 0013). Whether such a match exists
//! at all is decided by the engine with the anonymous site at its cell centre, so the edge where a
//! match appears or disappears says no more than the cell either.

use std::hash::{Hash, Hasher};

use serde_json::{Value, json};
pub use symbiont_core::geo::{GRID_KM, coarsen};
use symbiont_core::{MatchDecision, MatchStatus};
use uuid::Uuid;

use crate::identity::Caller;
use crate::live_matches::MatchSort;

/// Whose eyes a response is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    /// Sees everything (platform admin).
    All,
    /// Sees anonymous flows of these businesses (the viewer's own); none for the public.
    Businesses(Vec<Uuid>),
}

impl Viewer {
    pub fn of(caller: &Caller) -> Self {
        match caller.visible_businesses() {
            None => Viewer::All,
            Some(mut own) => {
                own.sort_unstable();
                Viewer::Businesses(own)
            }
        }
    }

    pub fn sees(&self, business: Uuid) -> bool {
        match self {
            Viewer::All => true,
            Viewer::Businesses(own) => own.binary_search(&business).is_ok(),
        }
    }

    /// Part of a response cache key: callers with the same key get the same bodies.
    pub fn cache_key(&self) -> String {
        match self {
            Viewer::All => "all".into(),
            Viewer::Businesses(own) if own.is_empty() => "public".into(),
            Viewer::Businesses(own) => {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                own.hash(&mut hasher);
                format!("b{:016x}", hasher.finish())
            }
        }
    }

    /// Which sides of a match are hidden from this viewer: (offer, need).
    pub fn hidden_sides(
        &self,
        offer: (bool, Uuid),
        need: (bool, Uuid),
        decision: Option<&MatchDecision>,
    ) -> (bool, bool) {
        let status = decision.map_or(MatchStatus::Suggested, |d| {
            if d.status == MatchStatus::Expired {
                d.status_before_expiry.unwrap_or(MatchStatus::Expired)
            } else {
                d.status
            }
        });
        self.hidden_sides_at(offer, need, status)
    }

    /// [`Viewer::hidden_sides`] of a match in lifecycle status `status` (for an expired match, the
    /// status it had before).
    pub fn hidden_sides_at(
        &self,
        offer: (bool, Uuid),
        need: (bool, Uuid),
        status: MatchStatus,
    ) -> (bool, bool) {
        if *self == Viewer::All || !(offer.0 || need.0) {
            return (false, false);
        }
        let accepted = matches!(status, MatchStatus::Negotiating | MatchStatus::Agreed);
        let hidden = |(anonymous, owner): (bool, Uuid), (_, other): (bool, Uuid)| {
            anonymous && !self.sees(owner) && !(accepted && self.sees(other))
        };
        (hidden(offer, need), hidden(need, offer))
    }
}

/// `(low, high)` of the 1–2.5–5 band holding `value` (`(0, 0)` for zero or less).
fn band_bounds(value: f64) -> (f64, f64) {
    if !value.is_finite() || value <= 0.0 {
        return (0.0, 0.0);
    }
    let decade = 10f64.powf(value.log10().floor());
    let steps = [1.0, 2.5, 5.0, 10.0];
    for pair in steps.windows(2) {
        if value < decade * pair[1] {
            return (decade * pair[0], decade * pair[1]);
        }
    }
    (decade, decade * 2.5)
}

/// `a–b unit` on a 1–2.5–5 scale, so a band says the size without the figure.
pub fn band(value: f64, unit: &str) -> String {
    match band_bounds(value) {
        (low, high) if high > 0.0 => format!("{}–{} {unit}", trim(low), trim(high)),
        _ => format!("0 {unit}"),
    }
}

/// Like [`band`], for figures that may be negative (savings).
pub fn signed_band(value: f64, unit: &str) -> String {
    if value < 0.0 {
        format!("a loss of {}", band(-value, unit))
    } else {
        band(value, unit)
    }
}

/// The sort key a banded figure gives: its band's lower bound (negative for losses).
pub fn band_key(value: f64) -> f64 {
    if value < 0.0 {
        -band_bounds(-value).1
    } else {
        band_bounds(value).0
    }
}

fn trim(x: f64) -> String {
    if x >= 1.0 {
        format!("{}", x.round() as i64)
    } else {
        let text = format!("{x:.6}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Distance in fixed bands.
pub fn distance_band(km: f64) -> &'static str {
    match km {
        d if d < 5.0 => "under 5 km",
        d if d < 10.0 => "5–10 km",
        d if d < 25.0 => "10–25 km",
        d if d < 50.0 => "25–50 km",
        d if d < 100.0 => "50–100 km",
        d if d < 250.0 => "100–250 km",
        d if d < 500.0 => "250–500 km",
        _ => "over 500 km",
    }
}

/// Steps of the score a stranger sees: four levels say how good a match is, not how far.
pub const SCORE_STEP: f64 = 0.25;

fn score_level(score: f64) -> f64 {
    ((score / SCORE_STEP).floor() * SCORE_STEP).clamp(0.0, 1.0)
}

/// The figures of a match as it would be with both sites at their cell centres ([`coarsen`]):
/// what a redacted view and a stranger's ranking are computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoarseFigures {
    pub distance_km: f64,
    pub score: f64,
    pub savings_eur_per_year: f64,
    pub co2_t_per_year: f64,
}

impl CoarseFigures {
    pub fn of(coarse: &symbiont_matching::Match) -> Self {
        Self {
            distance_km: coarse.distance_km,
            score: coarse.score,
            savings_eur_per_year: coarse.savings_eur_per_year,
            co2_t_per_year: coarse.co2_t_per_year,
        }
    }

    /// The key a stranger's list is ordered by for `sort` (score, savings, co2): the level or the
    /// band's lower bound, so the order says no more than the bands do (ties go by match id).
    pub fn sort_key(figures: Option<&Self>, sort: MatchSort) -> f64 {
        let Some(f) = figures else {
            return f64::NEG_INFINITY;
        };
        match sort {
            MatchSort::Score => score_level(f.score),
            MatchSort::Savings => band_key(f.savings_eur_per_year),
            MatchSort::Co2 => band_key(f.co2_t_per_year),
        }
    }

    pub fn score_level(&self) -> f64 {
        score_level(self.score)
    }
}

/// Why a match expired, as a stranger may read it: reasons that carry figures (a distance, a
/// quality threshold) name only what failed.
pub fn coarse_reason(reason: &str) -> String {
    if !reason.bytes().any(|b| b.is_ascii_digit()) {
        return reason.to_string();
    }
    if reason.starts_with("distance") {
        "the sites are now too far apart".into()
    } else if reason.starts_with("quality") {
        "quality no longer meets the rule".into()
    } else {
        "no longer a match".into()
    }
}

/// What a caller sees of a match with a hidden side. Built from an allowlist, not by blanking the
/// whole view: a field added to the match later stays out until it is added here. Every figure
/// comes from `coarse` (both sites at their cell centres) except the delivered quantity's band,
/// which depends on the two flows' amounts and weekly profiles and not on any place; so no field
/// changes while the viewer's own site moves inside its cell.
pub fn redact(
    exact: &Value,
    coarse: Option<&CoarseFigures>,
    offer_hidden: bool,
    need_hidden: bool,
) -> Value {
    let get = |key: &str| exact.get(key).cloned().unwrap_or(Value::Null);
    let text = |key: &str| {
        exact
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let quantity = exact
        .get("delivered_quantity")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let unit = text("quantity_unit");
    let mut hidden_sides = Vec::new();
    let mut object = serde_json::Map::new();
    object.insert("id".into(), get("id"));
    for (side, hidden) in [("offer", offer_hidden), ("need", need_hidden)] {
        for field in ["business_id", "flow_id"] {
            let key = format!("{side}_{field}");
            let value = if hidden { Value::Null } else { get(&key) };
            object.insert(key, value);
        }
        if hidden {
            hidden_sides.push(side);
        }
    }
    for key in [
        "offer_anonymous",
        "need_anonymous",
        "offer_category",
        "need_category",
        "amount_unit",
        "quantity_unit",
        "conversion",
        "status",
        "decision_version",
    ] {
        object.insert(key.into(), get(key));
    }
    // The waste's hazard depends on the material, not on who or where: a hidden side keeps it.
    if let Some(hazard) = exact.get("hazardous_waste") {
        object.insert("hazardous_waste".into(), hazard.clone());
    }
    // Exact figures of the pair: each is a function of the hidden site's place or of the hidden
    // flow's own figures (temperature, price, limits), so none is served.
    for key in [
        "components",
        "distance_km",
        "allowed_distance_km",
        "delivered_annual_amount",
        "delivered_quantity",
        "covered_share",
        "allocatable_quantity",
        "temporal_overlap",
        "quality_margin",
        "savings_eur_per_year",
        "co2_t_per_year",
    ] {
        object.insert(key.into(), Value::Null);
    }
    if let Some(reason) = exact.get("expired_reason").and_then(Value::as_str) {
        object.insert("expired_reason".into(), json!(coarse_reason(reason)));
    }
    let quantity_band = band(quantity, &unit);
    object.insert("quantity_band".into(), json!(quantity_band));
    let category = text(if offer_hidden {
        "offer_category"
    } else {
        "need_category"
    });
    let who = format!(
        "An anonymous business's {} ({category})",
        hidden_sides.join(" and ")
    );
    let reveal = "it is revealed when its owner accepts contact.";
    match coarse {
        Some(c) => {
            let distance = distance_band(c.distance_km);
            let savings = signed_band(c.savings_eur_per_year, "EUR/year");
            let co2 = band(c.co2_t_per_year, "t CO2/year");
            object.insert("score".into(), json!(c.score_level()));
            object.insert("distance_band".into(), json!(distance));
            object.insert("savings_band".into(), json!(savings));
            object.insert("co2_band".into(), json!(co2));
            object.insert(
                "explanation".into(),
                json!(format!(
                    "{who} is {distance} away, with {quantity_band}; savings {savings}, {co2} avoided; {reveal}"
                )),
            );
        }
        None => {
            for key in ["score", "distance_band", "savings_band", "co2_band"] {
                object.insert(key.into(), Value::Null);
            }
            object.insert(
                "explanation".into(),
                json!(format!("{who} offered {quantity_band}; {reveal}")),
            );
        }
    }
    object.insert("redacted".into(), json!(hidden_sides));
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_bracket_the_value() {
        assert_eq!(band(120.0, "kW"), "100–250 kW");
        assert_eq!(band(2_600.0, "t"), "2500–5000 t");
        assert_eq!(band(7.0, "MWh"), "5–10 MWh");
        assert_eq!(band(0.3, "t"), "0.25–0.5 t");
        assert_eq!(distance_band(12.0), "10–25 km");
    }

    #[test]
    fn a_hidden_side_loses_its_ids_and_every_exact_figure() {
        let view = json!({
            "id": "m", "offer_business_id": "a", "need_business_id": "b", "offer_flow_id": "f",
            "need_flow_id": "g", "offer_category": "heat.low_temp", "need_category": "heat.low_temp",
            "distance_km": 12.3, "delivered_quantity": 120.0, "quantity_unit": "kW",
            "score": 0.8123, "savings_eur_per_year": 1000.0, "temporal_overlap": 0.7,
            "quality_margin": 25.0, "note": "call me", "explanation": "12.3 km away",
            "expired_reason": "distance now 14.2 km > 10 km", "some_future_field": 1
        });
        let coarse = CoarseFigures {
            distance_km: 12.9,
            score: 0.79,
            savings_eur_per_year: 1100.0,
            co2_t_per_year: 30.0,
        };
        let redacted = redact(&view, Some(&coarse), true, false);
        assert_eq!(redacted["offer_business_id"], Value::Null);
        assert_eq!(redacted["offer_flow_id"], Value::Null);
        assert_eq!(redacted["need_business_id"], "b");
        assert_eq!(redacted["distance_band"], "10–25 km");
        assert_eq!(redacted["score"], 0.75);
        assert_eq!(redacted["savings_band"], "1000–2500 EUR/year");
        assert_eq!(
            redacted["expired_reason"],
            "the sites are now too far apart"
        );
        for gone in ["note", "some_future_field"] {
            assert!(redacted.get(gone).is_none(), "{gone}");
        }
        for null in [
            "distance_km",
            "savings_eur_per_year",
            "temporal_overlap",
            "quality_margin",
        ] {
            assert_eq!(redacted[null], Value::Null, "{null}");
        }
        let text = redacted.to_string();
        for figure in ["12.3", "12.9", "14.2", "0.8123", "1100"] {
            assert!(!text.contains(figure), "{figure} in {text}");
        }
    }

    #[test]
    fn a_cell_centre_stays_within_half_a_diagonal_of_every_point_in_it() {
        for (lat, lon) in [(50.94, 6.95), (-33.9, 151.2), (0.0, 0.0), (64.1, -21.9)] {
            let point = symbiont_core::GeoPoint { lat, lon };
            let centre = coarsen(point);
            assert_eq!(coarsen(centre), centre);
            let km = symbiont_core::geo::haversine_km(point, centre);
            assert!(km <= GRID_KM / std::f64::consts::SQRT_2 + 0.05, "{km}");
        }
    }

    #[test]
    fn contact_accepted_reveals_the_parties_to_each_other_only() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut decision = MatchDecision {
            match_id: Uuid::now_v7(),
            offer_flow_id: Uuid::now_v7(),
            need_flow_id: Uuid::now_v7(),
            offer_business_id: a,
            need_business_id: b,
            status: MatchStatus::Contacted,
            status_before_expiry: None,
            expired_reason: None,
            last_match: None,
            note: None,
            contacted_by: Some(b),
            version: 1,
            updated_at: chrono::Utc::now(),
        };
        let counterpart = Viewer::Businesses(vec![b]);
        let stranger = Viewer::Businesses(vec![c]);
        assert_eq!(
            counterpart.hidden_sides((true, a), (false, b), Some(&decision)),
            (true, false)
        );
        decision.status = MatchStatus::Negotiating;
        assert_eq!(
            counterpart.hidden_sides((true, a), (false, b), Some(&decision)),
            (false, false)
        );
        assert_eq!(
            stranger.hidden_sides((true, a), (false, b), Some(&decision)),
            (true, false)
        );
        assert_eq!(
            Viewer::Businesses(vec![a]).hidden_sides((true, a), (false, b), None),
            (false, false)
        );
    }
}
