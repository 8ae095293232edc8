//! One offer–need pair: the hard constraints, the delivered amount, the figures (distance, savings,
//! CO2), the score and the explanation. Both the engine and the brute-force reference call
//! [`evaluate`], so they cannot disagree about a pair.
//!
//! The formulas, with units and sources, are written out in `docs/matching.md`.

use symbiont_core::profile::DAYS_PER_MONTH;
use symbiont_core::{Direction, FlowStatus, haversine_km};
use uuid::Uuid;

use crate::boundary::{Explanation, Match, ScoreComponents, match_id};
use crate::catalog::Catalog;
use crate::record::{FlowRecord, Profile};
use crate::score_settings::MatchingConfig;

/// Why a pair is not a match; its `Display` is the reason given when a match is removed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rejection {
    NotOfferAndNeed,
    Paused(Direction),
    Defective(Direction, &'static str),
    SameBusiness,
    NoRule {
        offer: String,
        need: String,
    },
    ValidityDisjoint,
    TooFar {
        distance_km: f64,
        allowed_km: f64,
        /// Measured from an anonymous site's grid cell centre.
        from_cell: bool,
    },
    Quality {
        constraint: String,
    },
    NothingDelivered,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::NotOfferAndNeed => write!(f, "the flows are no longer an offer and a need"),
            Rejection::Paused(side) => write!(f, "{} paused", side.as_str()),
            Rejection::Defective(side, why) => {
                write!(f, "{} cannot be matched: {why}", side.as_str())
            }
            Rejection::SameBusiness => write!(f, "offer and need belong to the same business"),
            Rejection::NoRule { offer, need } => {
                write!(f, "no rule lets {offer} offers serve {need} needs")
            }
            Rejection::ValidityDisjoint => write!(f, "validity periods no longer overlap"),
            Rejection::TooFar {
                distance_km,
                allowed_km,
                from_cell,
            } => {
                write!(
                    f,
                    "distance now {} km > {} km",
                    km(*distance_km),
                    km(*allowed_km)
                )?;
                if *from_cell {
                    write!(f, " (from the anonymous site's grid cell centre)")?;
                }
                Ok(())
            }
            Rejection::Quality { constraint } => write!(f, "quality no longer meets {constraint}"),
            Rejection::NothingDelivered => {
                write!(
                    f,
                    "the weekly profiles no longer overlap, so nothing can be delivered"
                )
            }
        }
    }
}

/// "14.2", "10", "0.35": enough digits to see why a distance fails.
fn km(x: f64) -> String {
    let s = if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    match s.strip_suffix(".0") {
        Some(whole) => whole.to_string(),
        None => s,
    }
}

/// The figures of a pair that holds: plain numbers, what ranking and allocation read. The rest of a
/// [`Match`] (ids, categories, units, the sentence) is put together by [`build`] when it is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PairFigures {
    pub score: f64,
    pub components: ScoreComponents,
    pub distance_km: f64,
    pub allowed_km: f64,
    /// Per year, in the need's amount unit.
    pub delivered: f64,
    pub delivered_quantity: f64,
    pub covered_share: f64,
    pub conversion: f64,
    pub temporal_overlap: f64,
    pub quality_margin: Option<f64>,
    pub savings_eur_per_year: f64,
    pub co2_t_per_year: f64,
}

impl PairFigures {
    /// Offer amount per year the need could take: what allocation hands out.
    pub fn wanted(&self) -> f64 {
        self.delivered / self.conversion
    }
}

/// Checks every hard constraint and, if the pair holds, computes its match (with
/// `allocatable_quantity` equal to the delivered quantity; allocation runs afterwards).
pub(crate) fn evaluate(
    catalog: &Catalog,
    config: &MatchingConfig,
    offer: &FlowRecord,
    need: &FlowRecord,
) -> Result<Match, Rejection> {
    let figures = assess(catalog, config, offer, need)?;
    Ok(build(
        catalog,
        match_id(offer.id, need.id),
        offer,
        need,
        &figures,
    ))
}

/// The whole match of a pair from its figures (`allocatable_quantity` = delivered quantity). `id` is
/// the pair's [`match_id`], passed in because the engine already holds it (deriving it is a SHA-1).
pub(crate) fn build(
    catalog: &Catalog,
    id: Uuid,
    offer: &FlowRecord,
    need: &FlowRecord,
    f: &PairFigures,
) -> Match {
    // `assess` succeeded, so both flows have a category.
    let (oc, nc) = (
        catalog.category(offer.category.unwrap_or_default()),
        catalog.category(need.category.unwrap_or_default()),
    );
    Match {
        id,
        offer_flow_id: offer.id,
        need_flow_id: need.id,
        offer_business_id: offer.business_id,
        need_business_id: need.business_id,
        offer_anonymous: offer.anonymous,
        need_anonymous: need.anonymous,
        offer_category: oc.code.clone(),
        need_category: nc.code.clone(),
        score: f.score,
        components: f.components,
        distance_km: f.distance_km,
        allowed_distance_km: f.allowed_km,
        delivered_annual_amount: f.delivered,
        amount_unit: nc.dimension.amount_unit(),
        delivered_quantity: f.delivered_quantity,
        quantity_unit: nc.dimension.canonical_unit(),
        covered_share: f.covered_share,
        allocatable_quantity: f.delivered_quantity,
        conversion: f.conversion,
        temporal_overlap: f.temporal_overlap,
        quality_margin: f.quality_margin,
        savings_eur_per_year: f.savings_eur_per_year,
        co2_t_per_year: f.co2_t_per_year,
        explanation: Explanation {
            noun: nc.noun.clone(),
        },
    }
}

/// Weeks of each month in a mean year.
fn weeks_of_months() -> [f64; 12] {
    DAYS_PER_MONTH.map(|d| d / 7.0)
}

/// `(temporal overlap, delivered per year)` of a supply and a demand whose weekly profiles vary
/// month by month (`None`: flat). Each side is `(weekly profile, monthly factors, annual amount in
/// the need's unit)`; its annual amount is spread over the months by factor × weeks. The overlap is
/// Σ min(supply shape, demand shape) / Σ demand shape over the year's hours, the delivered amount
/// Σ min(supply rate, demand rate) over them: the weekly sums of §2, month by month.
fn seasonal_sums(
    (supply, supply_season, supply_amount): (&Profile, Option<&[f32; 12]>, f64),
    (demand, demand_season, demand_amount): (&Profile, Option<&[f32; 12]>, f64),
) -> (f64, f64) {
    let weeks = weeks_of_months();
    let factor = |season: Option<&[f32; 12]>, m: usize| season.map_or(1.0, |s| f64::from(s[m]));
    let full_load_weeks =
        |season: Option<&[f32; 12]>| -> f64 { (0..12).map(|m| factor(season, m) * weeks[m]).sum() };
    let supply_units = supply.hours_per_week * full_load_weeks(supply_season);
    let demand_units = demand.hours_per_week * full_load_weeks(demand_season);
    if supply_units <= 0.0 || demand_units <= 0.0 {
        return (0.0, 0.0);
    }
    // Rate per unit of profile level, so that the year sums to the annual amount.
    let (supply_rate, demand_rate) = (supply_amount / supply_units, demand_amount / demand_units);
    let (mut overlap, mut delivered) = (0.0, 0.0);
    for (m, w) in weeks.iter().enumerate() {
        let (fs, fd) = (factor(supply_season, m), factor(demand_season, m));
        if fd <= 0.0 {
            continue;
        }
        let (_, shape) = supply.sums_with(demand, fs, fd);
        let (_, amount) = supply.sums_with(demand, supply_rate * fs, demand_rate * fd);
        overlap += w * shape;
        delivered += w * amount;
    }
    (overlap / demand_units, delivered)
}

/// Checks every hard constraint and, if the pair holds, computes its figures.
pub(crate) fn assess(
    catalog: &Catalog,
    config: &MatchingConfig,
    offer: &FlowRecord,
    need: &FlowRecord,
) -> Result<PairFigures, Rejection> {
    if offer.direction != Direction::Offer || need.direction != Direction::Need {
        return Err(Rejection::NotOfferAndNeed);
    }
    for (flow, side) in [(offer, Direction::Offer), (need, Direction::Need)] {
        if let Some(why) = flow.defect {
            return Err(Rejection::Defective(side, why));
        }
        if flow.status == FlowStatus::Paused {
            return Err(Rejection::Paused(side));
        }
    }
    if offer.business_id == need.business_id {
        return Err(Rejection::SameBusiness);
    }
    // Defect-free flows have a category.
    let (Some(offer_cat), Some(need_cat)) = (offer.category, need.category) else {
        return Err(Rejection::Defective(
            Direction::Offer,
            "its category is not in the taxonomy",
        ));
    };
    let (oc, nc) = (catalog.category(offer_cat), catalog.category(need_cat));
    let Some(rule) = catalog.rule(offer_cat, need_cat) else {
        return Err(Rejection::NoRule {
            offer: oc.code.to_string(),
            need: nc.code.to_string(),
        });
    };
    let start = offer.valid_from.max(need.valid_from);
    let end = match (offer.valid_until, need.valid_until) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let (Some(start), Some(end)) = (start, end)
        && start > end
    {
        return Err(Rejection::ValidityDisjoint);
    }
    // Each side's own limit, or its category's typical one; transport cost carries the economics.
    let allowed_km = offer
        .max_distance_km
        .unwrap_or(oc.max_distance_km)
        .min(need.max_distance_km.unwrap_or(nc.max_distance_km));
    // The limit is checked between the gates (an anonymous site's cell centre), the figures are
    // measured between the sites.
    let gate_km = haversine_km(offer.gate_location, need.gate_location);
    if gate_km.is_nan() || gate_km > allowed_km {
        return Err(Rejection::TooFar {
            distance_km: gate_km,
            allowed_km,
            from_cell: offer.anonymous || need.anonymous,
        });
    }
    let distance_km =
        if offer.gate_location == offer.location && need.gate_location == need.location {
            gate_km // the gates are the sites
        } else {
            haversine_km(offer.location, need.location)
        };
    if !rule.parsed.holds(&offer.quality, &need.quality) {
        return Err(Rejection::Quality {
            constraint: rule.constraint.clone(),
        });
    }

    // Delivered amount, in the need's amount unit per year (MWh, t, m3).
    let conversion = rule.conversion;
    let (supply, demand) = (&offer.profile, &need.profile);
    let (covered_share_of_demand, delivered_per_year) = match (&offer.season, &need.season) {
        (None, None) => {
            // Hourly rates at full profile level, per year: amount / full-load hours per week.
            let supply_rate = conversion * offer.annual_amount / supply.hours_per_week;
            let demand_rate = need.annual_amount / demand.hours_per_week;
            let (covered_hours, delivered) = supply.sums_with(demand, supply_rate, demand_rate);
            let overlap = if demand.hours_per_week > 0.0 {
                covered_hours / demand.hours_per_week
            } else {
                0.0
            };
            (overlap, delivered)
        }
        (offer_season, need_season) => seasonal_sums(
            (
                supply,
                offer_season.as_deref(),
                conversion * offer.annual_amount,
            ),
            (demand, need_season.as_deref(), need.annual_amount),
        ),
    };
    let temporal_overlap = covered_share_of_demand.clamp(0.0, 1.0);
    let delivered = if oc.continuous || nc.continuous {
        // Through a pipe or grid: only what flows in the same hour counts.
        if supply.hours_per_week > 0.0 && demand.hours_per_week > 0.0 {
            delivered_per_year
        } else {
            0.0
        }
    } else {
        // Trucked, shipped or stored: annual amounts compare; timing only enters the score.
        conversion * offer.annual_amount
    }
    .min(need.annual_amount);
    if delivered.is_nan() || delivered <= 0.0 {
        return Err(Rejection::NothingDelivered);
    }
    // Within rounding of the whole need is the whole need (24/7 against 24/7 sums 168 terms).
    let (delivered, covered_share) = if delivered >= need.annual_amount * (1.0 - 1e-9) {
        (need.annual_amount, 1.0)
    } else {
        (delivered, (delivered / need.annual_amount).clamp(0.0, 1.0))
    };
    let delivered_quantity = need.canonical_quantity * covered_share;

    // Money (EUR/year): the need's avoided cost − transport of the offer resource − the offer's price.
    let offer_amount = delivered / conversion;
    let value_per_unit = need
        .price_eur_per_unit
        .unwrap_or(nc.substitute_value_eur_per_unit);
    let transport = oc.transport_cost_eur_per_unit_km * distance_km * offer_amount;
    let price = offer.price_eur_per_unit.unwrap_or(0.0) * offer_amount;
    let savings_eur_per_year = delivered * value_per_unit - transport - price;
    let co2_t_per_year = delivered * nc.co2_factor_t_per_unit;
    let quality_margin = rule
        .parsed
        .margin(&offer.quality, &need.quality)
        .map(|m| m.max(0.0));

    let scales = &config.scales;
    let saturate = |x: f64, half: f64| if x > 0.0 { x / (x + half) } else { 0.0 };
    let components = ScoreComponents {
        coverage: covered_share,
        temporal: temporal_overlap,
        distance: if allowed_km > 0.0 {
            (1.0 - distance_km / allowed_km).clamp(0.0, 1.0)
        } else {
            1.0
        },
        quality: match quality_margin {
            Some(m) => saturate(m, scales.quality_margin_half),
            None => scales.quality_unconstrained,
        },
        economics: saturate(savings_eur_per_year, scales.savings_half_eur_per_year),
        co2: saturate(co2_t_per_year, scales.co2_half_t_per_year),
    };
    let weights = config.weights.as_array();
    let weighted: f64 = weights
        .iter()
        .zip(components.as_array())
        .map(|(w, c)| w * c)
        .sum();
    // At f32 precision (7 digits): the engine keeps scores as f32 in its lists, and every ranking,
    // the engine's and the reference's, must compare the same values.
    let score = f64::from((weighted / config.weights.sum()).clamp(0.0, 1.0) as f32);

    Ok(PairFigures {
        score,
        components,
        distance_km,
        allowed_km,
        delivered,
        delivered_quantity,
        covered_share,
        conversion,
        temporal_overlap,
        quality_margin,
        savings_eur_per_year,
        co2_t_per_year,
    })
}

#[cfg(test)]
mod tests {
    use super::km;

    #[test]
    fn distances_in_reasons_keep_a_useful_precision() {
        assert_eq!(km(14.2345), "14.2");
        assert_eq!(km(10.0), "10");
        assert_eq!(km(250.4), "250");
        assert_eq!(km(0.347), "0.35");
    }
}
