//! Shared test fixtures: a small taxonomy mirroring the real one's semantics, and a flow builder.

#![allow(dead_code)]

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, NaiveDate, Utc};
use symbiont_core::geo::EARTH_RADIUS_KM;
use symbiont_core::{
    Dimension, Direction, Flow, FlowStatus, GeoPoint, Quality, Quantity, Taxonomy, WeeklyProfile,
};
use symbiont_matching::{Engine, FlowInput, MatchingConfig};
use uuid::Uuid;

/// Categories and rules with the real taxonomy's meaning: ambient heat (< 40 °C) cannot heat a
/// 60 °C low-temperature need but can feed a heat pump; heat needs a 10 K lift; bulk materials go
/// by truck and can be stored.
pub const TAXONOMY: &str = r#"
version = "test"

[[category]]
code = "heat.ambient"
name = "Ambient heat (below 40 °C)"
group = "heat"
dimension = "power"
transport_mode = "pipe"
transport_cost_eur_per_unit_km = 1.0
substitute_value_eur_per_unit = 20
co2_factor_t_per_unit = 0.1
max_distance_km = 5
temperature_max_c = 40
required_quality = ["temperature_c"]
source = "test"

[[category]]
code = "heat.low_temp"
name = "Low-temperature heat (40-90 °C)"
group = "heat"
dimension = "power"
transport_mode = "pipe"
transport_cost_eur_per_unit_km = 1.0
substitute_value_eur_per_unit = 50
co2_factor_t_per_unit = 0.2
max_distance_km = 10
temperature_min_c = 40
temperature_max_c = 90
required_quality = ["temperature_c"]
source = "test"

[[category]]
code = "heat.medium_temp"
name = "Medium-temperature heat (90-200 °C)"
group = "heat"
dimension = "power"
transport_mode = "pipe"
transport_cost_eur_per_unit_km = 1.5
substitute_value_eur_per_unit = 55
co2_factor_t_per_unit = 0.22
max_distance_km = 15
temperature_min_c = 90
temperature_max_c = 200
required_quality = ["temperature_c"]
source = "test"

[[category]]
code = "heat.heat_pump_source"
name = "Heat-pump source heat (5-40 °C)"
group = "heat"
dimension = "energy"
transport_mode = "pipe"
transport_cost_eur_per_unit_km = 1.0
substitute_value_eur_per_unit = 20
co2_factor_t_per_unit = 0.1
max_distance_km = 5
temperature_max_c = 40
required_quality = ["temperature_c"]
source = "test"

[[category]]
code = "water.process"
name = "Process water"
group = "water"
dimension = "volume"
transport_mode = "pipe"
transport_cost_eur_per_unit_km = 0.05
substitute_value_eur_per_unit = 2.0
co2_factor_t_per_unit = 0.0003
max_distance_km = 20
source = "test"

[[category]]
code = "material.fly_ash"
name = "Fly ash"
group = "material"
dimension = "mass"
transport_mode = "truck"
transport_cost_eur_per_unit_km = 0.1
substitute_value_eur_per_unit = 30
co2_factor_t_per_unit = 0.8
max_distance_km = 150
source = "test"

[[category]]
code = "gas.co2"
name = "CO2 (food grade)"
group = "gas"
dimension = "mass"
transport_mode = "truck"
transport_cost_eur_per_unit_km = 0.15
substitute_value_eur_per_unit = 100
co2_factor_t_per_unit = 1.0
max_distance_km = 200
source = "test"

[[rule]]
offer = "heat.low_temp"
need = "heat.low_temp"
constraint = "offer.temperature_c >= need.temperature_c + 10"
source = "test"

[[rule]]
offer = "heat.medium_temp"
need = "heat.low_temp"
constraint = "offer.temperature_c >= need.temperature_c + 10"
conversion = 0.95
source = "test"

[[rule]]
offer = "heat.medium_temp"
need = "heat.medium_temp"
constraint = "offer.temperature_c >= need.temperature_c + 10"
source = "test"

[[rule]]
offer = "heat.ambient"
need = "heat.heat_pump_source"
constraint = "offer.temperature_c >= need.temperature_c"
source = "test"

[[rule]]
offer = "heat.low_temp"
need = "heat.heat_pump_source"
constraint = "offer.temperature_c >= need.temperature_c"
source = "test"

[[rule]]
offer = "water.process"
need = "water.process"
source = "test"

[[rule]]
offer = "material.fly_ash"
need = "material.fly_ash"
source = "test"

[[rule]]
offer = "gas.co2"
need = "gas.co2"
constraint = "offer.purity_pct >= need.purity_pct"
source = "test"
"#;

static PARSED: LazyLock<Arc<Taxonomy>> =
    LazyLock::new(|| Arc::new(Taxonomy::from_toml(TAXONOMY).expect("the test taxonomy is valid")));

pub fn taxonomy() -> Arc<Taxonomy> {
    Arc::clone(&PARSED)
}

pub fn engine() -> Engine {
    Engine::new(taxonomy(), MatchingConfig::default()).expect("default configuration is valid")
}

/// An id from a small number, readable in failures.
pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub const ORIGIN: GeoPoint = GeoPoint {
    lat: 51.0,
    lon: 7.0,
};

/// A point exactly `km` north of `from` (along a meridian, so the haversine distance is exact).
pub fn north_of(from: GeoPoint, km: f64) -> GeoPoint {
    GeoPoint {
        lat: from.lat + (km / EARTH_RADIUS_KM).to_degrees(),
        lon: from.lon,
    }
}

/// A flow with sensible defaults, changed with the builder methods below.
#[derive(Debug, Clone)]
pub struct FlowBuilder {
    pub flow: Flow,
}

pub fn offer(flow: u128, business: u128, category: &str) -> FlowBuilder {
    FlowBuilder::new(flow, business, Direction::Offer, category)
}

pub fn need(flow: u128, business: u128, category: &str) -> FlowBuilder {
    FlowBuilder::new(flow, business, Direction::Need, category)
}

impl FlowBuilder {
    pub fn new(flow: u128, business: u128, direction: Direction, category: &str) -> Self {
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        let mut b = Self {
            flow: Flow {
                id: id(flow),
                site_id: id(1_000 + business),
                business_id: id(business),
                direction,
                category: category.to_string(),
                ewc_code: None,
                hazardous: false,
                description: String::new(),
                quality: Quality::default(),
                quantity: Quantity {
                    value: 1000.0,
                    unit: "MWh/year".into(),
                },
                canonical_quantity: 0.0,
                canonical_unit: String::new(),
                annual_amount: 0.0,
                schedule: None,
                profile: WeeklyProfile::default(),
                monthly_factors: None,
                price_eur_per_unit: None,
                max_distance_km: None,
                valid_from: None,
                valid_until: None,
                status: FlowStatus::Active,
                anonymous: false,
                max_proposals: None,
                pays_for_co2: false,
                version: 1,
                created_at: epoch,
                updated_at: epoch,
            },
        };
        b = b.annual(1000.0);
        b
    }

    /// Annual amount in the category's amount unit; the canonical quantity follows (kW for power).
    pub fn annual(mut self, amount: f64) -> Self {
        let dimension = taxonomy()
            .category(&self.flow.category)
            .map(|c| c.dimension);
        self.flow.annual_amount = amount;
        self.flow.canonical_quantity = match dimension {
            Some(Dimension::Power) => amount * 1000.0 / self.flow.profile.hours_per_year(),
            _ => amount,
        };
        self.flow.canonical_unit = dimension
            .map(|d| d.canonical_unit().to_string())
            .unwrap_or_default();
        self.flow.quantity = Quantity {
            value: amount,
            unit: "per year".into(),
        };
        self
    }

    pub fn temp(mut self, celsius: f64) -> Self {
        self.flow.quality.temperature_c = Some(celsius);
        self
    }

    pub fn purity(mut self, pct: f64) -> Self {
        self.flow.quality.purity_pct = Some(pct);
        self
    }

    pub fn site(mut self, site: u128) -> Self {
        self.flow.site_id = id(site);
        self
    }

    pub fn price(mut self, eur_per_unit: f64) -> Self {
        self.flow.price_eur_per_unit = Some(eur_per_unit);
        self
    }

    pub fn max_km(mut self, km: f64) -> Self {
        self.flow.max_distance_km = Some(km);
        self
    }

    pub fn paused(mut self) -> Self {
        self.flow.status = FlowStatus::Paused;
        self
    }

    pub fn valid(mut self, from: Option<NaiveDate>, until: Option<NaiveDate>) -> Self {
        self.flow.valid_from = from;
        self.flow.valid_until = until;
        self
    }

    /// Sets the schedule and keeps the annual amount (the canonical power follows the new hours).
    pub fn schedule(mut self, schedule: &str) -> Self {
        self.flow.profile = WeeklyProfile::parse_schedule(schedule).expect("valid schedule");
        self.flow.schedule = Some(schedule.to_string());
        let annual = self.flow.annual_amount;
        self.annual(annual)
    }

    pub fn at(self, location: GeoPoint) -> FlowInput {
        FlowInput {
            flow: self.flow,
            location,
        }
    }
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}
