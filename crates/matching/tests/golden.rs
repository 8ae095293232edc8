//! Golden scenarios with hand-computed expectations (the worked example is the one in
//! `docs/matching.md`).

mod common;

use common::*;
use symbiont_matching::{Engine, FlowInput, MatchingConfig, match_id};

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-6 * expected.abs().max(1.0)
}

macro_rules! assert_close {
    ($actual:expr, $expected:expr) => {{
        let (a, e) = ($actual, $expected);
        assert!(close(a, e), "{} = {a}, expected {e}", stringify!($actual));
    }};
}

#[test]
fn ambient_heat_at_35_c_does_not_serve_a_60_c_low_temperature_need() {
    let mut engine = engine();
    // A data centre's 35 °C return water and a greenhouse that needs 60 °C, 1 km apart.
    engine.upsert_flow(offer(1, 10, "heat.ambient").temp(35.0).at(ORIGIN));
    let diff = engine.upsert_flow(
        need(2, 20, "heat.low_temp")
            .temp(60.0)
            .at(north_of(ORIGIN, 1.0)),
    );
    assert!(
        diff.is_empty(),
        "no rule joins ambient heat to a low-temperature need: {diff:?}"
    );
    // Neither does low-temperature heat too cold for the 10 K lift.
    let diff = engine.upsert_flow(offer(3, 30, "heat.low_temp").temp(65.0).at(ORIGIN));
    assert!(diff.is_empty(), "65 °C < 60 °C + 10 K: {diff:?}");
    assert_eq!(engine.match_count(), 0);
}

#[test]
fn ambient_heat_at_35_c_serves_a_heat_pump_source_need() {
    let mut engine = engine();
    engine.upsert_flow(offer(1, 10, "heat.ambient").temp(35.0).at(ORIGIN));
    let diff = engine.upsert_flow(
        need(2, 20, "heat.heat_pump_source")
            .temp(25.0)
            .at(north_of(ORIGIN, 1.0)),
    );
    assert_eq!(diff.added.len(), 1);
    let m = &diff.added[0];
    assert_eq!(m.id, match_id(id(1), id(2)));
    assert_eq!(m.quality_margin, Some(10.0));
    // A power offer serving an energy need: compared as annual amounts (1000 MWh each).
    assert_close!(m.covered_share, 1.0);
    assert_eq!(m.quantity_unit, "MWh/year");
    assert_close!(m.delivered_quantity, 1000.0);
}

#[test]
fn the_nearer_of_two_identical_offers_ranks_first() {
    let mut engine = engine();
    engine.upsert_flow(need(1, 10, "heat.low_temp").temp(60.0).at(ORIGIN));
    engine.upsert_flow(
        offer(2, 20, "heat.low_temp")
            .temp(80.0)
            .at(north_of(ORIGIN, 3.0)),
    );
    engine.upsert_flow(
        offer(3, 30, "heat.low_temp")
            .temp(80.0)
            .at(north_of(ORIGIN, 1.0)),
    );
    let ranked = engine.matches_of_flow(id(1));
    assert_eq!(ranked.len(), 2);
    assert_eq!(
        ranked[0].offer_flow_id,
        id(3),
        "the offer 1 km away comes first"
    );
    assert!(ranked[0].score > ranked[1].score);
    assert!(
        ranked[0].savings_eur_per_year > ranked[1].savings_eur_per_year,
        "less transport cost"
    );
}

#[test]
fn an_offer_beyond_the_needs_max_distance_never_appears() {
    let mut engine = engine();
    engine.upsert_flow(
        need(1, 10, "heat.low_temp")
            .temp(60.0)
            .max_km(2.0)
            .at(ORIGIN),
    );
    let diff = engine.upsert_flow(
        offer(2, 20, "heat.low_temp")
            .temp(80.0)
            .at(north_of(ORIGIN, 3.0)),
    );
    assert!(diff.is_empty(), "3 km > the need's 2 km");
    assert!(engine.matches_of_flow(id(2)).is_empty());

    // The offer's site moves to 1.5 km: the match appears; back to 3 km: it goes, with why.
    let diff = engine.move_site(id(1_020), north_of(ORIGIN, 1.5));
    assert_eq!(diff.added.len(), 1);
    let diff = engine.move_site(id(1_020), north_of(ORIGIN, 3.0));
    assert_eq!(diff.removed.len(), 1);
    assert_eq!(diff.removed[0].reason, "distance now 3 km > 2 km");
    assert_eq!(engine.match_count(), 0);
}

#[test]
fn hand_computed_pair_matches_the_worked_example() {
    let mut engine = engine();
    // Offer: 80 °C heat, 1,500 MWh a year round the clock, asking EUR 10/MWh.
    engine.upsert_flow(
        offer(1, 10, "heat.low_temp")
            .temp(80.0)
            .annual(1500.0)
            .price(10.0)
            .at(ORIGIN),
    );
    // Need: 60 °C heat, 2,000 MWh a year round the clock, 2 km north, no stated price.
    let diff = engine.upsert_flow(
        need(2, 20, "heat.low_temp")
            .temp(60.0)
            .annual(2000.0)
            .at(north_of(ORIGIN, 2.0)),
    );
    assert_eq!(diff.added.len(), 1);
    let m = &diff.added[0];
    assert_close!(m.distance_km, 2.0);
    assert_close!(m.allowed_distance_km, 10.0);
    assert_close!(m.delivered_annual_amount, 1500.0);
    assert_eq!(m.amount_unit, "MWh");
    assert_close!(m.covered_share, 0.75);
    assert_eq!(m.quantity_unit, "kW");
    // 2,000 MWh over 8,765.82 full-load hours = 228.16 kW; three quarters of it.
    assert_close!(
        m.delivered_quantity,
        0.75 * 2000.0 * 1000.0 / (168.0 * 52.1775)
    );
    assert_close!(m.allocatable_quantity, m.delivered_quantity);
    assert_close!(m.temporal_overlap, 1.0);
    assert_eq!(m.quality_margin, Some(10.0));
    // 1,500 × 50 (substitute) − 1,500 × 2 km × 1.0 (transport) − 1,500 × 10 (price).
    assert_close!(m.savings_eur_per_year, 57_000.0);
    // 1,500 MWh × 0.2 t/MWh.
    assert_close!(m.co2_t_per_year, 300.0);
    let c = m.components;
    assert_close!(c.coverage, 0.75);
    assert_close!(c.temporal, 1.0);
    assert_close!(c.distance, 0.8);
    assert_close!(c.quality, 0.5);
    assert_close!(c.economics, 57_000.0 / 107_000.0);
    assert_close!(c.co2, 0.75);
    // 0.30·0.75 + 0.15·1 + 0.15·0.8 + 0.10·0.5 + 0.20·0.53271 + 0.10·0.75
    assert_close!(m.score, 0.726_542_056_074_766);
    assert_eq!(
        m.explanation_text(),
        "Covers 75 % of your low-temperature heat demand from 2.0 km away; saves about EUR 57,000 and 300 t CO2 a year."
    );
}

#[test]
fn explanations_read_well_for_other_resources() {
    let mut engine = engine();
    engine.upsert_flow(
        offer(1, 10, "material.fly_ash")
            .annual(400.0)
            .price(-5.0)
            .at(ORIGIN),
    );
    let diff = engine.upsert_flow(
        need(2, 20, "material.fly_ash")
            .annual(1000.0)
            .at(north_of(ORIGIN, 42.0)),
    );
    // 400 t × 30 − 400 t × 42 km × 0.1 + 400 t × 5 (a gate fee paid to the user) = 12,320 EUR.
    assert_eq!(
        diff.added[0].explanation_text(),
        "Covers 40 % of your fly ash demand from 42 km away; saves about EUR 12,000 and 320 t CO2 a year."
    );
    engine.upsert_flow(
        offer(3, 30, "gas.co2")
            .purity(99.9)
            .annual(50.0)
            .at(north_of(ORIGIN, 0.4)),
    );
    let diff = engine.upsert_flow(need(4, 20, "gas.co2").purity(99.5).annual(40.0).at(ORIGIN));
    assert_eq!(
        diff.added[0].explanation_text(),
        "Covers all of your CO2 demand from 400 m away; saves about EUR 4,000 and 40 t CO2 a year."
    );
}

#[test]
fn stored_resources_match_across_schedules_but_piped_heat_does_not() {
    let mut engine = engine();
    engine.upsert_flow(
        offer(1, 10, "material.fly_ash")
            .schedule("weekdays")
            .at(ORIGIN),
    );
    let diff = engine.upsert_flow(
        need(2, 20, "material.fly_ash")
            .schedule("weekends")
            .at(ORIGIN),
    );
    let m = &diff.added[0];
    assert_eq!(m.temporal_overlap, 0.0);
    assert_close!(m.covered_share, 1.0);

    engine.upsert_flow(
        offer(3, 10, "heat.low_temp")
            .temp(80.0)
            .schedule("weekdays")
            .at(ORIGIN),
    );
    let diff = engine.upsert_flow(
        need(4, 20, "heat.low_temp")
            .temp(60.0)
            .schedule("weekends")
            .at(ORIGIN),
    );
    assert!(
        diff.is_empty(),
        "heat made on weekdays cannot warm anyone at the weekend"
    );

    // Weekday heat for a round-the-clock need covers the weekday hours only: 5/7 of the demand.
    let diff = engine.upsert_flow(need(5, 30, "heat.low_temp").temp(60.0).at(ORIGIN));
    let m = diff
        .added
        .iter()
        .find(|m| m.offer_flow_id == id(3))
        .expect("weekday heat serves a 24/7 need");
    assert_close!(m.temporal_overlap, 5.0 / 7.0);
    assert_close!(m.covered_share, 5.0 / 7.0);
}

#[test]
fn same_business_paused_and_disjoint_validity_never_match() {
    let mut engine = engine();
    engine.upsert_flow(offer(1, 10, "water.process").at(ORIGIN));
    assert!(
        engine
            .upsert_flow(need(2, 10, "water.process").at(ORIGIN))
            .is_empty(),
        "same business"
    );
    assert!(
        engine
            .upsert_flow(need(3, 20, "water.process").paused().at(ORIGIN))
            .is_empty(),
        "paused"
    );
    let need_later = need(4, 30, "water.process").valid(Some(date(2026, 1, 1)), None);
    engine.upsert_flow(
        offer(5, 40, "water.process")
            .valid(None, Some(date(2025, 12, 31)))
            .at(ORIGIN),
    );
    let diff = engine.upsert_flow(need_later.at(ORIGIN));
    assert_eq!(
        diff.added.len(),
        1,
        "only the offer without an end date serves the 2026 need"
    );
    assert_eq!(diff.added[0].offer_flow_id, id(1));
}

#[test]
fn a_scarce_offer_is_allocated_greedily_by_score_and_pausing_frees_it() {
    let mut engine = engine();
    engine.upsert_flow(
        offer(1, 10, "heat.low_temp")
            .temp(80.0)
            .annual(1000.0)
            .at(ORIGIN),
    );
    // Two needs of 600 MWh each; the nearer one scores higher and is served first.
    engine.upsert_flow(
        need(2, 20, "heat.low_temp")
            .temp(60.0)
            .annual(600.0)
            .at(north_of(ORIGIN, 1.0)),
    );
    let diff = engine.upsert_flow(
        need(3, 30, "heat.low_temp")
            .temp(60.0)
            .annual(600.0)
            .at(north_of(ORIGIN, 4.0)),
    );
    assert_eq!(diff.added.len(), 1);
    let near = engine
        .get(match_id(id(1), id(2)))
        .expect("near match")
        .clone();
    let far = engine
        .get(match_id(id(1), id(3)))
        .expect("far match")
        .clone();
    assert!(near.score > far.score);
    assert_close!(near.allocatable_quantity, near.delivered_quantity);
    // 400 of the far need's 600 MWh are left for it.
    assert_close!(
        far.allocatable_quantity,
        far.delivered_quantity * 400.0 / 600.0
    );

    // The near greenhouse pauses its need: its match goes, the far one may now take 600 MWh.
    let diff = engine.upsert_flow(
        need(2, 20, "heat.low_temp")
            .temp(60.0)
            .annual(600.0)
            .paused()
            .at(north_of(ORIGIN, 1.0)),
    );
    assert_eq!(diff.removed.len(), 1);
    assert_eq!(diff.removed[0].reason, "need paused");
    assert_eq!(diff.removed[0].last.as_ref(), near.as_ref());
    assert_eq!(
        diff.changed.len(),
        1,
        "only the far match's allocation moved"
    );
    assert_close!(diff.changed[0].allocatable_quantity, far.delivered_quantity);
    assert!(diff.added.is_empty());
}

#[test]
fn removal_reasons_say_what_happened() {
    let mut engine = engine();
    engine.upsert_flow(offer(1, 10, "heat.low_temp").temp(80.0).at(ORIGIN));
    engine.upsert_flow(need(2, 20, "heat.low_temp").temp(60.0).at(ORIGIN));
    engine.upsert_flow(need(3, 30, "heat.low_temp").temp(60.0).at(ORIGIN));

    let diff = engine.upsert_flow(need(3, 30, "heat.low_temp").temp(75.0).at(ORIGIN));
    assert_eq!(
        diff.removed[0].reason,
        "quality no longer meets offer.temperature_c >= need.temperature_c + 10"
    );
    let diff = engine.upsert_flow(offer(1, 10, "heat.low_temp").temp(80.0).paused().at(ORIGIN));
    assert_eq!(diff.removed[0].reason, "offer paused");
    let diff = engine.upsert_flow(offer(1, 10, "heat.low_temp").temp(80.0).at(ORIGIN));
    assert_eq!(
        diff.added.len(),
        1,
        "resuming brings the match back with the same id"
    );
    assert_eq!(diff.added[0].id, match_id(id(1), id(2)));
    let diff = engine.remove_flow(id(2));
    assert_eq!(diff.removed[0].reason, "need deleted");
    assert!(
        engine.remove_flow(id(2)).is_empty(),
        "removing twice changes nothing"
    );
}

#[test]
fn an_unchanged_upsert_touches_nothing_and_queries_agree() {
    let mut engine = engine();
    let o = offer(1, 10, "heat.low_temp").temp(80.0);
    engine.upsert_flow(o.clone().at(ORIGIN));
    engine.upsert_flow(need(2, 20, "heat.low_temp").temp(60.0).at(ORIGIN));
    assert!(engine.upsert_flow(o.at(ORIGIN)).is_empty());
    let by_business = engine.matches_of_business(id(20));
    assert_eq!(by_business.len(), 1);
    assert_eq!(engine.matches_of_business(id(10)), by_business);
    assert_eq!(engine.iter().count(), 1);
    let stats = engine.stats();
    assert_eq!(
        (stats.flows, stats.matches, stats.offers, stats.needs),
        (2, 1, 1, 1)
    );
    assert!(stats.approx_memory_bytes > 0);
}

#[test]
fn a_match_serialises_with_its_units_and_explanation() {
    let mut engine = engine();
    engine.upsert_flow(offer(1, 10, "heat.low_temp").temp(80.0).at(ORIGIN));
    let diff = engine.upsert_flow(need(2, 20, "heat.low_temp").temp(60.0).at(ORIGIN));
    let json = serde_json::to_value(&*diff.added[0]).expect("serialisable");
    for key in [
        "id",
        "offer_flow_id",
        "need_flow_id",
        "offer_business_id",
        "need_business_id",
        "offer_category",
        "need_category",
        "score",
        "components",
        "distance_km",
        "delivered_quantity",
        "quantity_unit",
        "allocatable_quantity",
        "temporal_overlap",
        "savings_eur_per_year",
        "co2_t_per_year",
        "explanation",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["need_category"], "heat.low_temp");
    assert_eq!(json["components"]["coverage"], 1.0);
}

#[test]
fn flows_the_taxonomy_does_not_know_are_kept_but_never_matched() {
    let mut engine = engine();
    engine.upsert_flow(offer(1, 10, "heat.unknown").temp(80.0).at(ORIGIN));
    let diff = engine.upsert_flow(need(2, 20, "heat.low_temp").temp(60.0).at(ORIGIN));
    assert!(diff.is_empty());
    assert!(engine.contains_flow(id(1)));
    // A bad location is not a panic either.
    let diff = engine.upsert_flow(offer(3, 10, "heat.low_temp").temp(80.0).at(
        symbiont_core::GeoPoint {
            lat: f64::NAN,
            lon: 7.0,
        },
    ));
    assert!(diff.is_empty());
    assert_eq!(engine.stats().matchable_flows, 1);
}

#[test]
fn rebuild_equals_the_incremental_result_for_the_golden_scenarios() {
    let flows = vec![
        offer(1, 10, "heat.low_temp")
            .temp(80.0)
            .annual(1000.0)
            .at(ORIGIN),
        need(2, 20, "heat.low_temp")
            .temp(60.0)
            .annual(600.0)
            .at(north_of(ORIGIN, 1.0)),
        need(3, 30, "heat.low_temp")
            .temp(60.0)
            .annual(600.0)
            .at(north_of(ORIGIN, 4.0)),
        offer(4, 40, "heat.ambient").temp(35.0).at(ORIGIN),
        need(5, 50, "heat.heat_pump_source").temp(20.0).at(ORIGIN),
    ];
    let mut incremental = engine();
    for f in flows.clone() {
        incremental.upsert_flow(f);
    }
    let mut rebuilt = Engine::new(taxonomy(), MatchingConfig::default()).expect("valid");
    rebuilt.rebuild(flows);
    let sorted = |e: &Engine| {
        let mut v: Vec<_> = e.iter().map(|m| (*m).clone()).collect();
        v.sort_by_key(|m| m.id);
        v
    };
    assert_eq!(sorted(&incremental), sorted(&rebuilt));
    assert_eq!(rebuilt.match_count(), 4);
}

/// The same data-centre scenario on the taxonomy Symbiont ships, with flows validated by core as the
/// API would (units converted, temperature bands checked).
#[test]
fn shipped_taxonomy_data_centre_heat_serves_a_heat_pump_but_not_a_60_c_need() {
    use chrono::{DateTime, Utc};
    use symbiont_core::model::FlowIdentity;
    use symbiont_core::{Direction, FlowDraft, FlowStatus, Quality, Quantity, Taxonomy};

    let taxonomy = std::sync::Arc::new(Taxonomy::builtin().expect("the shipped taxonomy is valid"));
    let validated =
        |flow: u128, business: u128, direction, category: &str, celsius: f64, kw: f64| {
            let draft = FlowDraft {
                site_id: id(1_000 + business),
                direction,
                category: category.to_string(),
                ewc_code: None,
                description: String::new(),
                quality: Quality {
                    temperature_c: Some(celsius),
                    ..Quality::default()
                },
                quantity: Quantity {
                    value: kw,
                    unit: "kW".into(),
                },
                profile: None,
                monthly_factors: None,
                price_eur_per_unit: None,
                max_distance_km: None,
                valid_from: None,
                valid_until: None,
                status: FlowStatus::Active,
                anonymous: false,
                max_proposals: None,
                pays_for_co2: false,
            };
            let now = DateTime::<Utc>::UNIX_EPOCH;
            let identity = FlowIdentity {
                id: id(flow),
                business_id: id(business),
                version: 1,
                created_at: now,
                updated_at: now,
            };
            draft.validate(&taxonomy, identity).expect("a valid flow")
        };
    let mut engine = Engine::new(taxonomy.clone(), MatchingConfig::default()).expect("valid");
    let data_centre = validated(1, 10, Direction::Offer, "heat.ambient", 35.0, 500.0);
    let greenhouse = validated(2, 20, Direction::Need, "heat.low_temp", 60.0, 400.0);
    let heat_pump = validated(3, 30, Direction::Need, "heat.heat_pump_source", 25.0, 300.0);
    engine.upsert_flow(symbiont_matching::FlowInput::new(data_centre, ORIGIN));
    let diff = engine.upsert_flow(symbiont_matching::FlowInput::new(
        greenhouse,
        north_of(ORIGIN, 1.0),
    ));
    assert!(diff.is_empty(), "35 °C cannot heat a 60 °C greenhouse");
    let diff = engine.upsert_flow(symbiont_matching::FlowInput::new(
        heat_pump,
        north_of(ORIGIN, 1.0),
    ));
    assert_eq!(diff.added.len(), 1, "but it can feed a heat pump 1 km away");
    let m = &diff.added[0];
    assert_eq!((m.offer_flow_id, m.need_flow_id), (id(1), id(3)));
    assert_close!(m.covered_share, 1.0);
    assert_eq!(m.quantity_unit, "kW");
    assert_close!(m.delivered_quantity, 300.0);
    assert!(
        m.explanation_text()
            .starts_with("Covers all of your heat-pump source heat demand from 1.0 km away"),
        "{}",
        m.explanation_text()
    );
}

/// Seasons: a heat offer that runs only from May to September covers little of a district-heating
/// need that peaks in winter, though the two are equal in annual amount and weekly schedule; the
/// same offer all year covers all of it.
#[test]
fn a_summer_only_heat_offer_covers_little_of_a_winter_peaking_district_heating_need() {
    const SUMMER: [f64; 12] = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0];
    const WINTER_PEAK: [f64; 12] = [
        1.0, 0.95, 0.8, 0.55, 0.3, 0.15, 0.1, 0.1, 0.25, 0.5, 0.8, 1.0,
    ];
    let with_season = |mut input: FlowInput, factors: Option<[f64; 12]>| {
        input.flow.monthly_factors = factors;
        input
    };
    let pair = |offer_season: Option<[f64; 12]>| {
        let mut engine = engine();
        engine.upsert_flow(with_season(
            offer(1, 10, "heat.low_temp")
                .temp(80.0)
                .annual(5000.0)
                .at(ORIGIN),
            offer_season,
        ));
        engine.upsert_flow(with_season(
            need(2, 20, "heat.low_temp")
                .temp(60.0)
                .annual(5000.0)
                .at(north_of(ORIGIN, 1.0)),
            Some(WINTER_PEAK),
        ));
        engine.get(match_id(id(1), id(2))).expect("the pair holds")
    };
    let all_year = pair(None);
    let summer = pair(Some(SUMMER));
    // All year, the offer runs at one level every month with the need's annual amount: it covers
    // every month up to that level, and the winter months above it are short (0.714 covered; the
    // shapes overlap fully, temporal 1).
    assert!(all_year.covered_share > 0.65, "{}", all_year.covered_share);
    assert!(
        all_year.temporal_overlap > 0.99,
        "{}",
        all_year.temporal_overlap
    );
    // In summer the need asks for 10-30 % of its peak, which the offer's summer level covers, and
    // nothing is there in winter: May-September hold 14 % of the need's year (0.140 covered).
    assert!(summer.covered_share < 0.2, "{}", summer.covered_share);
    assert!(summer.covered_share < all_year.covered_share / 4.0);
    assert!(summer.temporal_overlap < 0.2, "{}", summer.temporal_overlap);
    assert!(summer.score < all_year.score);
}
