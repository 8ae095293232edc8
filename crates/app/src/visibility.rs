//! What a caller may see of anonymous flows. An anonymous flow's owner stays hidden from other
//! businesses: its matches show the category, a quantity band, a distance band, the score and the
//! savings, but not the business, the flow, exact figures or anything that could locate it, until the
//! owner accepts contact (the match moves on from `contacted` to `negotiating`); from then on the two
//! businesses of the match see each other. Platform admins and the owner's members always see it.

use std::hash::{Hash, Hasher};

use serde_json::{Value, json};
use symbiont_core::{MatchDecision, MatchStatus};
use uuid::Uuid;

use crate::identity::Caller;

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
        if *self == Viewer::All || !(offer.0 || need.0) {
            return (false, false);
        }
        let status = decision.map_or(MatchStatus::Suggested, |d| {
            if d.status == MatchStatus::Expired {
                d.status_before_expiry.unwrap_or(MatchStatus::Expired)
            } else {
                d.status
            }
        });
        let accepted = matches!(status, MatchStatus::Negotiating | MatchStatus::Agreed);
        let hidden = |(anonymous, owner): (bool, Uuid), (_, other): (bool, Uuid)| {
            anonymous && !self.sees(owner) && !(accepted && self.sees(other))
        };
        (hidden(offer, need), hidden(need, offer))
    }
}

/// `a–b unit` on a 1–2.5–5 scale, so a band says the size without the figure.
pub fn band(value: f64, unit: &str) -> String {
    if !value.is_finite() || value <= 0.0 {
        return format!("0 {unit}");
    }
    let decade = 10f64.powf(value.log10().floor());
    let steps = [1.0, 2.5, 5.0, 10.0];
    let mut low = decade;
    let mut high = decade * 2.5;
    for pair in steps.windows(2) {
        if value < decade * pair[1] {
            low = decade * pair[0];
            high = decade * pair[1];
            break;
        }
    }
    format!("{}–{} {unit}", trim(low), trim(high))
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

/// Removes from a match (as served) what would identify or locate a hidden side.
pub fn redact(mut view: Value, offer_hidden: bool, need_hidden: bool) -> Value {
    let Some(object) = view.as_object_mut() else {
        return view;
    };
    let number = |o: &serde_json::Map<String, Value>, key: &str| {
        o.get(key).and_then(Value::as_f64).unwrap_or(0.0)
    };
    let distance = number(object, "distance_km");
    let quantity = number(object, "delivered_quantity");
    let unit = object
        .get("quantity_unit")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut hidden_sides = Vec::new();
    for (side, hidden) in [("offer", offer_hidden), ("need", need_hidden)] {
        if hidden {
            object.insert(format!("{side}_business_id"), Value::Null);
            object.insert(format!("{side}_flow_id"), Value::Null);
            hidden_sides.push(side);
        }
    }
    // Exact distance and amounts (and the components, which encode the distance) could locate or
    // size the hidden party; bands replace them.
    for key in [
        "distance_km",
        "delivered_annual_amount",
        "delivered_quantity",
        "allocatable_quantity",
        "covered_share",
        "components",
    ] {
        object.insert(key.to_string(), Value::Null);
    }
    object.insert("distance_band".into(), json!(distance_band(distance)));
    object.insert("quantity_band".into(), json!(band(quantity, &unit)));
    let category = object
        .get(if offer_hidden {
            "offer_category"
        } else {
            "need_category"
        })
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    object.insert(
        "explanation".into(),
        json!(format!(
            "An anonymous business's {} ({category}) is {} away, with {}; it is revealed when its owner accepts contact.",
            hidden_sides.join(" and "),
            distance_band(distance),
            band(quantity, &unit),
        )),
    );
    object.insert("redacted".into(), json!(hidden_sides));
    view
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
    fn a_hidden_side_loses_its_ids_and_exact_figures() {
        let view = json!({
            "offer_business_id": "a", "need_business_id": "b", "offer_flow_id": "f", "need_flow_id": "g",
            "offer_category": "heat.low_temp", "need_category": "heat.low_temp",
            "distance_km": 12.3, "delivered_quantity": 120.0, "quantity_unit": "kW",
            "score": 0.8, "savings_eur_per_year": 1000.0, "explanation": "12.3 km away"
        });
        let redacted = redact(view, true, false);
        assert_eq!(redacted["offer_business_id"], Value::Null);
        assert_eq!(redacted["offer_flow_id"], Value::Null);
        assert_eq!(redacted["need_business_id"], "b");
        assert_eq!(redacted["distance_km"], Value::Null);
        assert_eq!(redacted["distance_band"], "10–25 km");
        assert_eq!(redacted["score"], 0.8);
        assert!(
            !redacted["explanation"]
                .as_str()
                .unwrap_or("")
                .contains("12.3")
        );
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
