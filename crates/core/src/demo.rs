//! A deterministic (seeded) generator of a plausible industrial region: businesses of typical
//! industries placed in industrial parks, each with the flows such a business usually has (a data
//! centre offers 30-38 °C heat, a brewery spent grain, a greenhouse needs 45-60 °C heat and CO2 ...).
//!
//! Used by `symbiont serve --demo` and, at larger sizes, by benchmarks. The same seed and size always
//! give the same region. Pure: no I/O, no clock; flows carry `site_id = Uuid::nil()` for the loader
//! to fill in.

use serde_json::Value;
use uuid::Uuid;

use crate::geo::GeoPoint;
use crate::model::{
    BusinessDraft, Contact, Direction, FlowDraft, FlowStatus, Quality, Quantity, SiteDraft,
};

/// Size of the demo region `serve --demo` loads.
pub const DEMO_BUSINESSES: usize = 180;
pub const DEMO_SEED: u64 = 42;

/// Centre of the generated region (the Rhine-Ruhr area); parks lie within about ±40 km of it.
const CENTRE: GeoPoint = GeoPoint {
    lat: 51.35,
    lon: 7.0,
};

pub struct DemoBusiness {
    pub business: BusinessDraft,
    pub sites: Vec<DemoSite>,
}

pub struct DemoSite {
    pub site: SiteDraft,
    /// Each flow's `site_id` is nil; the loader sets it once the site has an id.
    pub flows: Vec<FlowDraft>,
}

/// splitmix64: small, fast and good enough for synthetic data (Steele, Lea & Flood 2014).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, (lo, hi): (f64, f64)) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn index(&mut self, len: usize) -> usize {
        (self.next() % len.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}

/// Rounds to two significant digits, as people state quantities.
fn round2(x: f64) -> f64 {
    if x <= 0.0 {
        return x;
    }
    let magnitude = 10f64.powf(x.log10().floor() - 1.0);
    (x / magnitude).round() * magnitude
}

#[derive(Clone, Copy)]
struct FlowSpec {
    direction: Direction,
    category: &'static str,
    quantity: (f64, f64),
    unit: &'static str,
    schedule: &'static str,
    temperature_c: Option<(f64, f64)>,
    pressure_bar: Option<(f64, f64)>,
    purity_pct: Option<(f64, f64)>,
    /// EUR per amount unit (negative: a gate fee the offerer pays).
    price: Option<(f64, f64)>,
    max_distance_km: Option<f64>,
    /// Share of businesses of the archetype that have this flow.
    probability: f64,
}

fn flow(
    direction: Direction,
    category: &'static str,
    quantity: (f64, f64),
    unit: &'static str,
    schedule: &'static str,
) -> FlowSpec {
    FlowSpec {
        direction,
        category,
        quantity,
        unit,
        schedule,
        temperature_c: None,
        pressure_bar: None,
        purity_pct: None,
        price: None,
        max_distance_km: None,
        probability: 1.0,
    }
}

fn offer(
    category: &'static str,
    quantity: (f64, f64),
    unit: &'static str,
    schedule: &'static str,
) -> FlowSpec {
    flow(Direction::Offer, category, quantity, unit, schedule)
}

fn need(
    category: &'static str,
    quantity: (f64, f64),
    unit: &'static str,
    schedule: &'static str,
) -> FlowSpec {
    flow(Direction::Need, category, quantity, unit, schedule)
}

impl FlowSpec {
    fn temp(self, lo: f64, hi: f64) -> Self {
        Self {
            temperature_c: Some((lo, hi)),
            ..self
        }
    }
    fn bar(self, lo: f64, hi: f64) -> Self {
        Self {
            pressure_bar: Some((lo, hi)),
            ..self
        }
    }
    fn purity(self, lo: f64, hi: f64) -> Self {
        Self {
            purity_pct: Some((lo, hi)),
            ..self
        }
    }
    fn price(self, lo: f64, hi: f64) -> Self {
        Self {
            price: Some((lo, hi)),
            ..self
        }
    }
    fn within(self, km: f64) -> Self {
        Self {
            max_distance_km: Some(km),
            ..self
        }
    }
    fn sometimes(self, probability: f64) -> Self {
        Self {
            probability,
            ..self
        }
    }
}

struct Archetype {
    nace: &'static str,
    kind: &'static str,
    description: &'static str,
    /// Relative frequency in a region.
    weight: u32,
    /// Placed in the countryside rather than in an industrial park.
    rural: bool,
    flows: Vec<FlowSpec>,
}

const WORKDAYS: &str = "Mon-Fri 06:00-22:00";
const ALWAYS: &str = "24/7";
const OFFICE: &str = "Mon-Fri 07:00-19:00";

fn archetypes() -> Vec<Archetype> {
    let a = |nace, kind, description, weight, rural, flows| Archetype {
        nace,
        kind,
        description,
        weight,
        rural,
        flows,
    };
    vec![
        a(
            "J63.11",
            "Data Centre",
            "Colocation data centre; server cooling rejects 30-38 °C heat all year.",
            8,
            false,
            vec![
                offer("heat.ambient", (800.0, 4000.0), "kW", ALWAYS).temp(30.0, 38.0),
                need("water.cooling", (20.0, 120.0), "m3/h", ALWAYS).sometimes(0.5),
            ],
        ),
        a(
            "C11.05",
            "Brauerei",
            "Brewery; spent grain from mashing, warm wort-cooling water, fermentation CO2.",
            8,
            false,
            vec![
                offer("material.spent_grain", (8.0, 40.0), "t/day", "Mon-Fri").price(-5.0, 15.0),
                offer("heat.low_temp", (150.0, 700.0), "kW", WORKDAYS).temp(60.0, 80.0),
                offer("gas.co2", (300.0, 2000.0), "t/year", WORKDAYS)
                    .purity(99.5, 99.9)
                    .sometimes(0.6),
                need("water.process", (10.0, 40.0), "m3/h", WORKDAYS),
            ],
        ),
        a(
            "A01.13",
            "Gewächshaus",
            "Vegetable greenhouse; heating demand peaks at night, CO2 dosing by day.",
            9,
            true,
            vec![
                need(
                    "heat.low_temp",
                    (600.0, 4000.0),
                    "kW",
                    "daily @0.6; daily 17:00-08:00",
                )
                .temp(45.0, 60.0)
                .within(12.0),
                need("gas.co2", (150.0, 900.0), "t/year", "daily 08:00-18:00").purity(97.0, 99.5),
                need("heat.ambient", (200.0, 800.0), "kW", ALWAYS)
                    .temp(25.0, 30.0)
                    .sometimes(0.4),
                need("water.grey", (3.0, 15.0), "m3/h", "daily 06:00-20:00").sometimes(0.5),
            ],
        ),
        a(
            "D35.30",
            "Fernwärme",
            "District heating network operator with a large heat pump.",
            4,
            false,
            vec![
                need("heat.low_temp", (3000.0, 12000.0), "kW", ALWAYS)
                    .temp(70.0, 80.0)
                    .within(15.0),
                need("heat.heat_pump_source", (1000.0, 6000.0), "kW", ALWAYS).temp(12.0, 25.0),
                offer("cooling.chilled_water", (1000.0, 5000.0), "kW", ALWAYS)
                    .temp(5.0, 7.0)
                    .sometimes(0.6),
            ],
        ),
        a(
            "D35.11",
            "Kraftwerk",
            "Coal and gas power station with combined heat.",
            3,
            false,
            vec![
                offer("material.fly_ash", (20_000.0, 150_000.0), "t/year", ALWAYS)
                    .price(-10.0, 10.0),
                offer(
                    "material.fgd_gypsum",
                    (10_000.0, 60_000.0),
                    "t/year",
                    ALWAYS,
                ),
                offer("material.bottom_ash", (5_000.0, 30_000.0), "t/year", ALWAYS),
                offer("heat.medium_temp", (5000.0, 20_000.0), "kW", ALWAYS).temp(110.0, 140.0),
                offer("steam.high_pressure", (2000.0, 8000.0), "kW", ALWAYS)
                    .temp(250.0, 400.0)
                    .bar(30.0, 60.0),
            ],
        ),
        a(
            "D35.21",
            "Biogas",
            "Anaerobic digestion plant with biogas upgrading.",
            6,
            true,
            vec![
                need("material.manure", (10_000.0, 50_000.0), "t/year", ALWAYS)
                    .price(-5.0, 0.0)
                    .within(30.0),
                need("material.food_waste", (5_000.0, 30_000.0), "t/year", ALWAYS)
                    .price(-40.0, -10.0),
                need("material.spent_grain", (1_000.0, 8_000.0), "t/year", ALWAYS).sometimes(0.6),
                need("material.whey", (1_000.0, 6_000.0), "t/year", ALWAYS).sometimes(0.5),
                need("material.green_waste", (1_000.0, 6_000.0), "t/year", ALWAYS).sometimes(0.5),
                offer("material.digestate", (10_000.0, 60_000.0), "t/year", ALWAYS)
                    .price(-3.0, 2.0),
                offer("gas.biogas", (150.0, 600.0), "Nm3/h", ALWAYS).sometimes(0.7),
                offer("gas.co2", (1000.0, 5000.0), "t/year", ALWAYS)
                    .purity(99.0, 99.9)
                    .sometimes(0.6),
                offer("heat.low_temp", (300.0, 1200.0), "kW", ALWAYS).temp(80.0, 90.0),
            ],
        ),
        a(
            "C23.51",
            "Zementwerk",
            "Cement works; clinker substitution and alternative fuels.",
            3,
            false,
            vec![
                need("material.fly_ash", (20_000.0, 100_000.0), "t/year", ALWAYS)
                    .price(20.0, 40.0)
                    .within(250.0),
                need("material.slag", (20_000.0, 100_000.0), "t/year", ALWAYS).price(30.0, 50.0),
                need("material.fgd_gypsum", (3_000.0, 15_000.0), "t/year", ALWAYS),
                need(
                    "material.sewage_sludge",
                    (5_000.0, 30_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(-30.0, -10.0)
                .sometimes(0.6),
                offer("heat.high_temp", (2000.0, 8000.0), "kW", ALWAYS).temp(250.0, 350.0),
            ],
        ),
        a(
            "C23.62",
            "Gipswerk",
            "Plasterboard plant.",
            2,
            false,
            vec![
                need(
                    "material.fgd_gypsum",
                    (20_000.0, 100_000.0),
                    "t/year",
                    WORKDAYS,
                ),
                need("heat.medium_temp", (1000.0, 4000.0), "kW", WORKDAYS).temp(110.0, 130.0),
            ],
        ),
        a(
            "C20.14",
            "Chemie",
            "Organic chemicals site.",
            5,
            false,
            vec![
                offer("steam.low_pressure", (1000.0, 5000.0), "kW", ALWAYS)
                    .temp(150.0, 180.0)
                    .bar(4.0, 8.0),
                offer("gas.hydrogen", (300.0, 3000.0), "t/year", ALWAYS)
                    .purity(99.9, 99.99)
                    .sometimes(0.5),
                need("gas.hydrogen", (200.0, 1500.0), "t/year", ALWAYS)
                    .purity(99.0, 99.5)
                    .sometimes(0.4),
                offer("material.solvents", (200.0, 2000.0), "t/year", WORKDAYS),
                need("water.cooling", (100.0, 800.0), "m3/h", ALWAYS),
                offer("gas.co2", (2000.0, 20_000.0), "t/year", ALWAYS)
                    .purity(98.0, 99.5)
                    .sometimes(0.5),
                offer("heat.medium_temp", (1000.0, 6000.0), "kW", ALWAYS)
                    .temp(95.0, 130.0)
                    .sometimes(0.6),
            ],
        ),
        a(
            "C17.12",
            "Papierfabrik",
            "Paper mill using recovered fibre.",
            3,
            false,
            vec![
                need("steam.low_pressure", (5000.0, 20_000.0), "kW", ALWAYS)
                    .temp(140.0, 160.0)
                    .bar(3.0, 6.0),
                need(
                    "material.paper_cardboard",
                    (30_000.0, 200_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(80.0, 120.0),
                offer(
                    "material.sewage_sludge",
                    (5_000.0, 20_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(-40.0, -20.0),
                offer("heat.low_temp", (2000.0, 6000.0), "kW", ALWAYS).temp(45.0, 60.0),
                need("water.process", (200.0, 800.0), "m3/h", ALWAYS),
            ],
        ),
        a(
            "C10.51",
            "Molkerei",
            "Dairy and cheese plant.",
            5,
            false,
            vec![
                offer("material.whey", (20.0, 200.0), "t/day", "Mon-Sat").price(-5.0, 10.0),
                need("steam.low_pressure", (1000.0, 4000.0), "kW", WORKDAYS)
                    .temp(140.0, 170.0)
                    .bar(3.0, 7.0),
                offer("heat.low_temp", (200.0, 900.0), "kW", WORKDAYS).temp(40.0, 55.0),
                need("water.process", (20.0, 100.0), "m3/h", WORKDAYS),
            ],
        ),
        a(
            "C16.10",
            "Sägewerk",
            "Sawmill with drying kilns.",
            5,
            true,
            vec![
                offer("material.sawdust", (5_000.0, 30_000.0), "t/year", WORKDAYS)
                    .price(20.0, 50.0),
                offer(
                    "material.wood_chips",
                    (10_000.0, 40_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .price(50.0, 80.0),
                need("heat.medium_temp", (1000.0, 4000.0), "kW", ALWAYS).temp(95.0, 120.0),
            ],
        ),
        a(
            "D35.30",
            "Biomasse-Heizwerk",
            "Biomass heating plant.",
            3,
            false,
            vec![
                need(
                    "material.wood_chips",
                    (10_000.0, 60_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(70.0, 100.0),
                offer(
                    "heat.low_temp",
                    (3000.0, 10_000.0),
                    "kW",
                    "daily @0.7; Mon-Fri 06:00-20:00",
                )
                .temp(80.0, 90.0),
            ],
        ),
        a(
            "E37.00",
            "Klärwerk",
            "Municipal waste-water treatment plant.",
            4,
            false,
            vec![
                offer("water.treated_wastewater", (500.0, 5000.0), "m3/h", ALWAYS).price(0.1, 0.4),
                offer(
                    "material.sewage_sludge",
                    (5_000.0, 40_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(-60.0, -30.0),
                offer("heat.ambient", (1000.0, 5000.0), "kW", ALWAYS).temp(12.0, 20.0),
            ],
        ),
        a(
            "C24.10",
            "Stahlwerk",
            "Integrated steelworks.",
            2,
            false,
            vec![
                offer("material.slag", (100_000.0, 500_000.0), "t/year", ALWAYS).price(5.0, 20.0),
                offer("heat.high_temp", (10_000.0, 40_000.0), "kW", ALWAYS).temp(300.0, 600.0),
                need(
                    "material.metal_ferrous",
                    (100_000.0, 500_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(250.0, 350.0),
                offer("steam.high_pressure", (5000.0, 15_000.0), "kW", ALWAYS)
                    .temp(220.0, 300.0)
                    .bar(15.0, 40.0),
                need("water.cooling", (500.0, 3000.0), "m3/h", ALWAYS),
            ],
        ),
        a(
            "A01.41",
            "Milchviehbetrieb",
            "Dairy cattle farm.",
            9,
            true,
            vec![
                offer("material.manure", (2_000.0, 20_000.0), "t/year", ALWAYS).price(-5.0, 0.0),
                need(
                    "material.digestate",
                    (1_000.0, 10_000.0),
                    "t/year",
                    "Mon-Sat",
                )
                .price(0.0, 8.0),
                need("material.spent_grain", (300.0, 3_000.0), "t/year", ALWAYS)
                    .price(20.0, 40.0)
                    .sometimes(0.7),
                need("material.whey", (300.0, 2_000.0), "t/year", ALWAYS).sometimes(0.4),
            ],
        ),
        a(
            "A01.11",
            "Ackerbau",
            "Arable farm.",
            6,
            true,
            vec![
                need(
                    "material.digestate",
                    (1_000.0, 8_000.0),
                    "t/year",
                    "Mon-Sat",
                )
                .price(0.0, 6.0),
                offer(
                    "material.green_waste",
                    (200.0, 2_000.0),
                    "t/year",
                    "Mon-Sat",
                ),
            ],
        ),
        a(
            "E38.32",
            "Kunststoffrecycling",
            "Plastics recycling plant.",
            4,
            false,
            vec![
                need(
                    "material.plastic_pet",
                    (2_000.0, 20_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .price(250.0, 400.0),
                need(
                    "material.plastic_hdpe",
                    (2_000.0, 15_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .price(300.0, 450.0),
                need(
                    "material.plastic_ldpe",
                    (1_000.0, 10_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .sometimes(0.7),
                need(
                    "material.plastic_pp",
                    (1_000.0, 10_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .sometimes(0.7),
                offer("heat.ambient", (200.0, 600.0), "kW", WORKDAYS)
                    .temp(30.0, 35.0)
                    .sometimes(0.5),
            ],
        ),
        a(
            "C22.22",
            "Kunststoffverarbeitung",
            "Plastic packaging converter.",
            6,
            false,
            vec![
                offer("material.plastic_pp", (200.0, 2_000.0), "t/year", WORKDAYS)
                    .price(150.0, 300.0),
                offer(
                    "material.plastic_ldpe",
                    (200.0, 1_500.0),
                    "t/year",
                    WORKDAYS,
                ),
                offer(
                    "material.plastic_hdpe",
                    (100.0, 1_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .sometimes(0.5),
                offer("gas.compressed_air", (300.0, 1500.0), "Nm3/h", WORKDAYS)
                    .bar(7.0, 10.0)
                    .sometimes(0.4),
            ],
        ),
        a(
            "C23.13",
            "Glashütte",
            "Container glass works.",
            2,
            false,
            vec![
                need(
                    "material.glass_cullet",
                    (20_000.0, 100_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(50.0, 80.0),
                offer("heat.high_temp", (3000.0, 10_000.0), "kW", ALWAYS).temp(400.0, 500.0),
            ],
        ),
        a(
            "F41.20",
            "Bau",
            "Building contractor.",
            8,
            false,
            vec![
                offer(
                    "material.construction_demolition",
                    (5_000.0, 50_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .price(-15.0, 0.0),
                offer(
                    "material.excavated_soil",
                    (10_000.0, 100_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .price(-10.0, 0.0),
                need(
                    "material.excavated_soil",
                    (5_000.0, 50_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .sometimes(0.5),
                need(
                    "material.construction_demolition",
                    (5_000.0, 30_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .sometimes(0.5),
                offer("material.wood_waste", (300.0, 3_000.0), "t/year", WORKDAYS).sometimes(0.6),
            ],
        ),
        a(
            "C10.71",
            "Bäckerei",
            "Industrial bakery.",
            6,
            false,
            vec![
                offer(
                    "material.food_waste",
                    (100.0, 800.0),
                    "t/year",
                    "Mon-Sat 02:00-12:00",
                )
                .price(-60.0, -20.0),
                offer("heat.low_temp", (50.0, 300.0), "kW", "Mon-Sat 02:00-12:00").temp(45.0, 70.0),
                need("water.process", (2.0, 10.0), "m3/h", "Mon-Sat 02:00-12:00").sometimes(0.5),
            ],
        ),
        a(
            "C10.39",
            "Gemüseverarbeitung",
            "Vegetable processing plant.",
            4,
            false,
            vec![
                offer(
                    "material.food_waste",
                    (2_000.0, 12_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .price(-40.0, -10.0),
                need("heat.medium_temp", (500.0, 3000.0), "kW", WORKDAYS).temp(95.0, 120.0),
                need("water.process", (20.0, 120.0), "m3/h", WORKDAYS),
            ],
        ),
        a(
            "C25.11",
            "Metallbau",
            "Steel structures and metal fabrication.",
            7,
            false,
            vec![
                offer(
                    "material.metal_ferrous",
                    (500.0, 5_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .price(200.0, 300.0),
                offer(
                    "material.metal_non_ferrous",
                    (50.0, 600.0),
                    "t/year",
                    WORKDAYS,
                )
                .sometimes(0.6),
                offer("material.waste_oil", (10.0, 150.0), "t/year", WORKDAYS).sometimes(0.6),
                need("gas.compressed_air", (200.0, 1000.0), "Nm3/h", WORKDAYS)
                    .bar(6.0, 7.0)
                    .sometimes(0.5),
            ],
        ),
        a(
            "C24.53",
            "Aluminiumgießerei",
            "Aluminium foundry.",
            2,
            false,
            vec![
                need(
                    "material.metal_non_ferrous",
                    (5_000.0, 30_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(1000.0, 1400.0),
                offer("heat.high_temp", (1000.0, 5000.0), "kW", ALWAYS).temp(200.0, 400.0),
            ],
        ),
        a(
            "C13.30",
            "Textilveredelung",
            "Textile finishing and dyeing.",
            3,
            false,
            vec![
                offer("material.textiles", (100.0, 2_000.0), "t/year", WORKDAYS),
                need("steam.low_pressure", (500.0, 3000.0), "kW", WORKDAYS)
                    .temp(130.0, 160.0)
                    .bar(3.0, 6.0),
                need("water.process", (20.0, 150.0), "m3/h", WORKDAYS),
                offer("heat.low_temp", (200.0, 1000.0), "kW", WORKDAYS).temp(40.0, 60.0),
            ],
        ),
        a(
            "E38.11",
            "Entsorgung",
            "Waste collection and sorting.",
            5,
            false,
            vec![
                offer(
                    "material.paper_cardboard",
                    (5_000.0, 40_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .price(60.0, 110.0),
                offer(
                    "material.plastic_pet",
                    (1_000.0, 6_000.0),
                    "t/year",
                    WORKDAYS,
                ),
                offer(
                    "material.glass_cullet",
                    (2_000.0, 15_000.0),
                    "t/year",
                    WORKDAYS,
                ),
                offer(
                    "material.wood_waste",
                    (1_000.0, 8_000.0),
                    "t/year",
                    WORKDAYS,
                ),
                offer("material.textiles", (200.0, 1_500.0), "t/year", WORKDAYS).sometimes(0.5),
            ],
        ),
        a(
            "E38.22",
            "Sonderabfall",
            "Hazardous waste treatment: solvent distillation, oil re-refining.",
            2,
            false,
            vec![
                need("material.solvents", (1_000.0, 10_000.0), "t/year", WORKDAYS)
                    .price(-150.0, -50.0),
                need(
                    "material.waste_oil",
                    (1_000.0, 20_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .price(-50.0, 50.0),
            ],
        ),
        a(
            "E36.00",
            "Wasserversorgung",
            "Water utility supplying industrial process and cooling water.",
            4,
            false,
            vec![
                offer("water.process", (200.0, 2000.0), "m3/h", ALWAYS).price(1.2, 2.0),
                offer("water.cooling", (500.0, 4000.0), "m3/h", ALWAYS).price(0.3, 0.7),
            ],
        ),
        a(
            "H52.10",
            "Kühlhaus",
            "Cold store.",
            4,
            false,
            vec![
                need("cooling.chilled_water", (500.0, 3000.0), "kW", ALWAYS).temp(6.0, 10.0),
                offer("heat.ambient", (300.0, 1500.0), "kW", ALWAYS).temp(28.0, 35.0),
            ],
        ),
        a(
            "C20.11",
            "Industriegase",
            "Air separation and industrial gases.",
            4,
            false,
            vec![
                offer("cooling.chilled_water", (500.0, 2500.0), "kW", ALWAYS).temp(3.0, 6.0),
                need("gas.co2", (5_000.0, 30_000.0), "t/year", ALWAYS).purity(95.0, 98.0),
            ],
        ),
        a(
            "R93.11",
            "Sportbad",
            "Indoor pool and ice rink.",
            4,
            false,
            vec![
                need("heat.low_temp", (200.0, 900.0), "kW", "daily 06:00-23:00")
                    .temp(40.0, 50.0)
                    .within(5.0),
                offer("heat.ambient", (100.0, 400.0), "kW", "daily 06:00-23:00")
                    .temp(25.0, 32.0)
                    .sometimes(0.5),
            ],
        ),
        a(
            "A03.22",
            "Aquakultur",
            "Recirculating fish farm, sited next to a source of warm water.",
            3,
            false,
            vec![
                need("heat.ambient", (200.0, 1000.0), "kW", ALWAYS).temp(20.0, 26.0),
                need("water.process", (5.0, 30.0), "m3/h", ALWAYS),
            ],
        ),
        a(
            "Q86.10",
            "Klinikum",
            "Hospital.",
            3,
            false,
            vec![
                need("heat.low_temp", (800.0, 3000.0), "kW", ALWAYS).temp(60.0, 70.0),
                need("steam.low_pressure", (300.0, 1000.0), "kW", ALWAYS)
                    .temp(130.0, 150.0)
                    .bar(3.0, 4.0)
                    .sometimes(0.5),
            ],
        ),
        a(
            "S96.01",
            "Großwäscherei",
            "Industrial laundry.",
            3,
            false,
            vec![
                need("water.grey", (5.0, 25.0), "m3/h", WORKDAYS),
                need("heat.low_temp", (300.0, 1500.0), "kW", WORKDAYS).temp(55.0, 70.0),
                offer("heat.ambient", (100.0, 500.0), "kW", WORKDAYS).temp(30.0, 38.0),
            ],
        ),
        a(
            "L68.20",
            "Büropark",
            "Office and business park.",
            4,
            false,
            vec![
                need("heat.low_temp", (500.0, 2500.0), "kW", OFFICE).temp(45.0, 55.0),
                need("cooling.chilled_water", (300.0, 1500.0), "kW", OFFICE)
                    .temp(8.0, 12.0)
                    .sometimes(0.6),
            ],
        ),
        a(
            "N81.30",
            "Landschaftsbau",
            "Landscaping and parks maintenance.",
            3,
            true,
            vec![
                offer(
                    "material.green_waste",
                    (1_000.0, 5_000.0),
                    "t/year",
                    "Mon-Sat",
                ),
                need(
                    "material.excavated_soil",
                    (1_000.0, 10_000.0),
                    "t/year",
                    "Mon-Sat",
                )
                .sometimes(0.6),
            ],
        ),
        a(
            "C19.20",
            "Raffinerie",
            "Refinery with a re-refining unit.",
            1,
            false,
            vec![
                need("material.waste_oil", (5_000.0, 30_000.0), "t/year", ALWAYS)
                    .price(50.0, 150.0),
                offer("gas.hydrogen", (2000.0, 8000.0), "t/year", ALWAYS).purity(99.5, 99.9),
                offer("steam.high_pressure", (5000.0, 20_000.0), "kW", ALWAYS)
                    .temp(250.0, 350.0)
                    .bar(20.0, 40.0),
            ],
        ),
        a(
            "C29.10",
            "Fahrzeugwerk",
            "Vehicle assembly plant.",
            2,
            false,
            vec![
                offer(
                    "material.metal_ferrous",
                    (5_000.0, 30_000.0),
                    "t/year",
                    WORKDAYS,
                )
                .price(250.0, 320.0),
                offer(
                    "material.metal_non_ferrous",
                    (500.0, 4_000.0),
                    "t/year",
                    WORKDAYS,
                ),
                offer("material.solvents", (100.0, 800.0), "t/year", WORKDAYS),
                need("heat.low_temp", (1000.0, 5000.0), "kW", WORKDAYS).temp(50.0, 70.0),
                offer(
                    "material.paper_cardboard",
                    (500.0, 3_000.0),
                    "t/year",
                    WORKDAYS,
                ),
            ],
        ),
    ]
}

const PLACES: [&str; 24] = [
    "Rhein", "Ruhr", "Emscher", "Lippe", "Hafen", "Nord", "Süd", "West", "Ost", "Berg", "Wupper",
    "Niers", "Erft", "Anger", "Düssel", "Volme", "Lenne", "Haard", "Kamp", "Hellweg", "Vest",
    "Linde", "Eiche", "Mark",
];
const FORMS: [&str; 5] = ["GmbH", "AG", "GmbH & Co. KG", "KG", "eG"];
const STREETS: [&str; 12] = [
    "Industriestraße",
    "Hafenstraße",
    "Am Kanal",
    "Werkstraße",
    "Gewerbering",
    "Zechenweg",
    "Hüttenstraße",
    "Mühlenweg",
    "Feldstraße",
    "Landstraße",
    "Kraftwerkstraße",
    "Im Gewerbepark",
];
const TOWNS: [(&str, &str); 12] = [
    ("45127", "Essen"),
    ("47051", "Duisburg"),
    ("44135", "Dortmund"),
    ("44787", "Bochum"),
    ("45879", "Gelsenkirchen"),
    ("42103", "Wuppertal"),
    ("40213", "Düsseldorf"),
    ("46045", "Oberhausen"),
    ("45468", "Mülheim an der Ruhr"),
    ("47798", "Krefeld"),
    ("41061", "Mönchengladbach"),
    ("58095", "Hagen"),
];

/// The demo region: `business_count` businesses in industrial parks (about one park per 22
/// businesses) and the countryside around them, with about four flows each.
pub fn region(seed: u64, business_count: usize) -> Vec<DemoBusiness> {
    let mut rng = Rng(seed);
    let types = archetypes();
    let total_weight: u32 = types.iter().map(|t| t.weight).sum();
    // Regions grow outwards with their size, so density stays plausible at benchmark scale.
    let spread = (business_count as f64 / DEMO_BUSINESSES as f64)
        .sqrt()
        .max(1.0);
    let park_count = (business_count / 22).max(6);
    let parks: Vec<GeoPoint> = (0..park_count)
        .map(|_| GeoPoint {
            lat: CENTRE.lat + rng.range((-0.35, 0.35)) * spread,
            lon: CENTRE.lon + rng.range((-0.55, 0.55)) * spread,
        })
        .collect();
    let mut used_names = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(business_count);
    for i in 0..business_count {
        // The first businesses cycle through every archetype, so even a small region has them all.
        let archetype = if i < types.len() {
            &types[i]
        } else {
            let mut ticket = (rng.next() % u64::from(total_weight)) as u32;
            let mut chosen = &types[0];
            for t in &types {
                if ticket < t.weight {
                    chosen = t;
                    break;
                }
                ticket -= t.weight;
            }
            chosen
        };
        let mut name = format!(
            "{} {} {}",
            rng.pick(&PLACES),
            archetype.kind,
            rng.pick(&FORMS)
        );
        if !used_names.insert(name.clone()) {
            name = format!(
                "{} {} {} {}",
                rng.pick(&PLACES),
                archetype.kind,
                i + 1,
                rng.pick(&FORMS)
            );
            used_names.insert(name.clone());
        }
        let slug: String = name
            .to_lowercase()
            .chars()
            .map(|c| match c {
                'ä' => 'a',
                'ö' => 'o',
                'ü' => 'u',
                'ß' => 's',
                c if c.is_ascii_alphanumeric() => c,
                _ => '-',
            })
            .collect::<String>()
            .split('-')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let business = BusinessDraft {
            name,
            industry: archetype.nace.to_string(),
            description: archetype.description.to_string(),
            contact: Contact {
                name: Some("Energie- und Umweltmanagement".into()),
                email: Some(format!("symbiosis@{slug}.example")),
                phone: Some(format!(
                    "+49 {} {:06}",
                    200 + rng.index(700),
                    rng.index(1_000_000)
                )),
            },
            website: Some(format!("https://{slug}.example")),
        };
        let home = if archetype.rural {
            GeoPoint {
                lat: CENTRE.lat + rng.range((-0.4, 0.4)) * spread,
                lon: CENTRE.lon + rng.range((-0.6, 0.6)) * spread,
            }
        } else {
            let park = parks[rng.index(parks.len())];
            // Within about 1.5 km of the park centre.
            GeoPoint {
                lat: park.lat + rng.range((-0.013, 0.013)),
                lon: park.lon + rng.range((-0.02, 0.02)),
            }
        };
        let site_count = if rng.unit() < 0.12 { 2 } else { 1 };
        let mut sites = Vec::with_capacity(site_count);
        for s in 0..site_count {
            let location = if s == 0 {
                home
            } else {
                let park = parks[rng.index(parks.len())];
                GeoPoint {
                    lat: park.lat + rng.range((-0.013, 0.013)),
                    lon: park.lon + rng.range((-0.02, 0.02)),
                }
            };
            let (postcode, town) = *rng.pick(&TOWNS);
            let site = SiteDraft {
                name: if s == 0 {
                    "Hauptwerk".to_string()
                } else {
                    format!("Werk {}", s + 1)
                },
                address: format!(
                    "{} {}, {postcode} {town}",
                    rng.pick(&STREETS),
                    1 + rng.index(180)
                ),
                location: GeoPoint {
                    lat: (location.lat * 1e5).round() / 1e5,
                    lon: (location.lon * 1e5).round() / 1e5,
                },
            };
            sites.push(DemoSite {
                site,
                flows: Vec::new(),
            });
        }
        for spec in &archetype.flows {
            if rng.unit() >= spec.probability {
                continue;
            }
            let site = rng.index(sites.len());
            let draft = flow_draft(&mut rng, spec);
            sites[site].flows.push(draft);
        }
        out.push(DemoBusiness { business, sites });
    }
    out
}

fn flow_draft(rng: &mut Rng, spec: &FlowSpec) -> FlowDraft {
    let round1 = |x: f64| (x * 10.0).round() / 10.0;
    let quality = Quality {
        temperature_c: spec.temperature_c.map(|r| round1(rng.range(r)).round()),
        pressure_bar: spec.pressure_bar.map(|r| round1(rng.range(r))),
        purity_pct: spec.purity_pct.map(|r| round1(rng.range(r))),
        ..Quality::default()
    };
    FlowDraft {
        site_id: Uuid::nil(),
        direction: spec.direction,
        category: spec.category.to_string(),
        description: String::new(),
        quality,
        quantity: Quantity {
            value: round2(rng.range(spec.quantity)),
            unit: spec.unit.to_string(),
        },
        profile: Some(Value::String(spec.schedule.to_string())),
        price_eur_per_unit: spec.price.map(|r| round1(rng.range(r))),
        max_distance_km: spec.max_distance_km,
        valid_from: None,
        valid_until: None,
        status: FlowStatus::Active,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use chrono::Utc;

    use super::*;
    use crate::model::FlowIdentity;
    use crate::taxonomy::Taxonomy;

    #[test]
    fn the_same_seed_gives_the_same_region() {
        let names = |r: Vec<DemoBusiness>| {
            r.into_iter()
                .map(|b| (b.business, b.sites.len()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(region(7, 50)), names(region(7, 50)));
        assert_ne!(names(region(7, 50)), names(region(8, 50)));
    }

    #[test]
    fn every_demo_draft_validates_and_the_region_is_diverse() {
        let taxonomy = Taxonomy::builtin().expect("taxonomy");
        let demo = region(DEMO_SEED, DEMO_BUSINESSES);
        assert!(demo.len() >= 150);
        let mut divisions = BTreeSet::new();
        let mut directions: HashMap<String, BTreeSet<&str>> = HashMap::new();
        let mut flows = 0;
        let now = Utc::now();
        for b in &demo {
            let business = b.business.clone().validate().expect("business validates");
            divisions.insert(business.industry[..3].to_string());
            for s in &b.sites {
                s.site.clone().validate().expect("site validates");
                for f in &s.flows {
                    let identity = FlowIdentity {
                        id: Uuid::nil(),
                        business_id: Uuid::nil(),
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    };
                    if let Err(e) = f.clone().validate(&taxonomy, identity) {
                        panic!("{} {}: {e}", business.name, f.category);
                    }
                    directions
                        .entry(f.category.clone())
                        .or_default()
                        .insert(f.direction.as_str());
                    flows += 1;
                }
            }
        }
        assert!(divisions.len() >= 15, "{divisions:?}");
        assert!(flows >= 500, "{flows} flows");
        let both = directions.values().filter(|d| d.len() == 2).count();
        assert!(
            both * 2 >= directions.len(),
            "most categories appear on both sides: {directions:?}"
        );
    }

    #[test]
    fn a_large_region_keeps_about_four_flows_per_business() {
        let big = region(1, 10_000);
        let flows: usize = big
            .iter()
            .flat_map(|b| &b.sites)
            .map(|s| s.flows.len())
            .sum();
        assert_eq!(big.len(), 10_000);
        assert!((30_000..60_000).contains(&flows), "{flows}");
    }
}
