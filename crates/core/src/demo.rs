//! A deterministic (seeded) generator of a plausible industrial region: businesses of some fifty
//! typical industries (NACE Rev.2) placed in industrial parks around real Rhine-Ruhr towns, on their
//! fringes (greenhouses, digesters) and in the countryside (farms, sawmills), each with the flows such
//! a business usually has — a data centre offers 30-38 °C heat all year, a brewery spent grain and
//! fermentation CO2, a greenhouse needs 45-60 °C heat at night and CO2 by day, a cement works takes
//! fly ash, slag and gypsum, a biogas plant takes manure and food waste and offers digestate.
//!
//! Quantities are stated the way people state them (kW, MW, MWh/year, GJ/year, t/day, t/week,
//! kg/h, m3/h, l/s, Nm3/h ...), with weekly schedules, prices in EUR per MWh, t or m3 (negative for
//! a gate fee) and, on some flows, a maximum transport distance.
//!
//! Used by `symbiont serve --demo` ([`DEMO_BUSINESSES`] with [`DEMO_SEED`]) and, at larger sizes, by
//! benchmarks: the region grows with the count (about one park per 22 businesses, same density) and
//! 10,000 businesses take well under a second. The same seed and size always give the same
//! region. Pure: no I/O and no clock; every flow has `site_id = Uuid::nil()` for the loader to fill.

use std::collections::HashSet;

use serde_json::Value;
use uuid::Uuid;

use crate::geo::GeoPoint;
use crate::model::{
    BusinessDraft, Contact, Direction, FlowDraft, FlowStatus, Quality, Quantity, SiteDraft,
};

/// Size of the demo region `serve --demo` loads.
pub const DEMO_BUSINESSES: usize = 180;
/// Seed of the demo region.
pub const DEMO_SEED: u64 = 42;

/// A generated business with its sites.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoBusiness {
    pub business: BusinessDraft,
    pub sites: Vec<DemoSite>,
}

/// A generated site with its flows.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSite {
    pub site: SiteDraft,
    /// Each flow's `site_id` is nil; the loader sets it once the site has an id.
    pub flows: Vec<FlowDraft>,
}

/// The demo region: `business_count` businesses (the demo uses [`DEMO_BUSINESSES`]) in industrial
/// parks (about one per 22 businesses, at least six), on their fringes and in the countryside, with
/// about five flows each.
pub fn region(seed: u64, business_count: usize) -> Vec<DemoBusiness> {
    let mut rng = Rng::new(seed);
    let types = archetypes();
    let total_weight: u32 = types.iter().map(|t| t.weight).sum();
    // Larger regions grow outwards, so the density of businesses stays plausible.
    let spread = (business_count as f64 / DEMO_BUSINESSES as f64)
        .sqrt()
        .max(1.0);
    let parks = parks(&mut rng, (business_count / 22).max(6), spread);
    let mut used_names = HashSet::with_capacity(business_count);
    let mut out = Vec::with_capacity(business_count);
    for i in 0..business_count {
        // The first businesses cycle through every archetype, so even a small region has them all.
        let archetype = if i < types.len() {
            &types[i]
        } else {
            let mut ticket = (rng.next() % u64::from(total_weight)) as u32;
            types
                .iter()
                .find(|t| {
                    let hit = ticket < t.weight;
                    ticket = ticket.saturating_sub(t.weight);
                    hit
                })
                .unwrap_or(&types[0])
        };
        let name = unique_name(&mut rng, archetype.kind, i, &mut used_names);
        let slug = slug(&name);
        let (first, last) = (*rng.pick(&FIRST_NAMES), *rng.pick(&SURNAMES));

        let home = match archetype.placement {
            Placement::Park => {
                let p = rng.index(parks.len());
                (offset(&mut rng, parks[p].centre, 0.0, 2.5), p)
            }
            Placement::Fringe => {
                let p = rng.index(parks.len());
                (offset(&mut rng, parks[p].centre, 2.5, 6.0), p)
            }
            Placement::Rural => {
                let point = GeoPoint {
                    lat: CENTRE.lat + rng.range((-0.27, 0.27)) * spread,
                    lon: CENTRE.lon + rng.range((-0.45, 0.45)) * spread,
                };
                (point, nearest_park(&parks, point))
            }
        };
        let site_count = if archetype.placement == Placement::Park && rng.unit() < 0.12 {
            2
        } else {
            1
        };
        let mut sites: Vec<DemoSite> = Vec::with_capacity(site_count);
        for s in 0..site_count {
            let (location, p) = if s == 0 {
                home
            } else {
                let p = rng.index(parks.len());
                (offset(&mut rng, parks[p].centre, 0.0, 2.5), p)
            };
            let park = &parks[p];
            let name = match (s, archetype.placement) {
                (0, Placement::Rural) if archetype.nace.starts_with('A') => format!("Hof {last}"),
                (0, _) => format!("Hauptwerk {}", park.town.name),
                _ => format!("Werk {} {}", park.town.name, park.district),
            };
            let street = if archetype.placement == Placement::Park || s > 0 {
                *rng.pick(&PARK_STREETS)
            } else {
                *rng.pick(&RURAL_STREETS)
            };
            let address = format!(
                "{street} {}, {} {}",
                1 + rng.index(160),
                park.town.postcode,
                park.town.name
            );
            sites.push(DemoSite {
                site: SiteDraft {
                    name,
                    address,
                    location: GeoPoint {
                        lat: (location.lat * 1e5).round() / 1e5,
                        lon: (location.lon * 1e5).round() / 1e5,
                    },
                },
                flows: Vec::new(),
            });
        }
        // A second site is another plant of the same kind, with flows of its own.
        for site in &mut sites {
            for spec in &archetype.flows {
                if rng.unit() < spec.probability {
                    site.flows.push(flow_draft(&mut rng, spec));
                }
            }
            if site.flows.is_empty() {
                // Every site takes part: the archetype's first flow is never missing.
                site.flows.push(flow_draft(&mut rng, &archetype.flows[0]));
            }
        }
        let phone_area = parks[home.1].town.phone_area;
        out.push(DemoBusiness {
            business: BusinessDraft {
                name,
                industry: archetype.nace.to_string(),
                description: archetype.description.to_string(),
                contact: Contact {
                    name: Some(format!("{first} {last}")),
                    email: Some(format!("{}.{}@{slug}.example", ascii(first), ascii(last))),
                    phone: Some(format!("+49 {phone_area} {:07}", rng.index(10_000_000))),
                },
                website: Some(format!("https://www.{slug}.example")),
            },
            sites,
        });
    }
    out
}

/// splitmix64 (Steele, Lea & Flood 2014): tiny, fast and good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed ^ 0x5EED_5EED_5EED_5EED)
    }

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

// ---------------------------------------------------------------------------------------------
// Geography
// ---------------------------------------------------------------------------------------------

/// Centre of the region (between Essen, Duisburg and Düsseldorf); larger regions grow around it.
const CENTRE: GeoPoint = GeoPoint {
    lat: 51.42,
    lon: 7.0,
};
const KM_PER_DEGREE_LAT: f64 = 111.2;

struct Town {
    name: &'static str,
    postcode: &'static str,
    phone_area: &'static str,
    lat: f64,
    lon: f64,
}

const fn town(
    name: &'static str,
    postcode: &'static str,
    phone_area: &'static str,
    lat: f64,
    lon: f64,
) -> Town {
    Town {
        name,
        postcode,
        phone_area,
        lat,
        lon,
    }
}

/// Rhine-Ruhr towns whose industrial areas host the parks (all within about 60 km).
const TOWNS: [Town; 17] = [
    town("Duisburg", "47138", "203", 51.4344, 6.7623),
    town("Essen", "45356", "201", 51.4556, 7.0116),
    town("Bochum", "44793", "234", 51.4818, 7.2162),
    town("Gelsenkirchen", "45881", "209", 51.5177, 7.0857),
    town("Oberhausen", "46049", "208", 51.4963, 6.8638),
    town("Mülheim an der Ruhr", "45478", "208", 51.4275, 6.8825),
    town("Düsseldorf", "40231", "211", 51.2277, 6.7735),
    town("Krefeld", "47809", "2151", 51.3388, 6.5853),
    town("Wuppertal", "42327", "202", 51.2562, 7.1508),
    town("Dortmund", "44147", "231", 51.5136, 7.4653),
    town("Hagen", "58089", "2331", 51.3671, 7.4633),
    town("Neuss", "41460", "2131", 51.2042, 6.6879),
    town("Bottrop", "46238", "2041", 51.5247, 6.9228),
    town("Marl", "45772", "2365", 51.6567, 7.0900),
    town("Moers", "47441", "2841", 51.4516, 6.6262),
    town("Herne", "44628", "2323", 51.5369, 7.2009),
    town("Ratingen", "40880", "2102", 51.2973, 6.8493),
];

const DISTRICTS: [&str; 10] = [
    "Hafen",
    "Nord",
    "Süd",
    "West",
    "Ost",
    "Chemiepark",
    "Gewerbegebiet",
    "Industriepark",
    "Zeche",
    "Kanal",
];

struct Park {
    centre: GeoPoint,
    town: &'static Town,
    district: &'static str,
}

/// The first parks lie at the edge of real towns (in a seeded order); beyond those, parks are spread
/// over the (grown) region and named after the towns in turn.
fn parks(rng: &mut Rng, count: usize, spread: f64) -> Vec<Park> {
    let mut order: Vec<usize> = (0..TOWNS.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.index(i + 1));
    }
    (0..count)
        .map(|i| {
            let town = &TOWNS[order[i % order.len()]];
            let centre = if i < TOWNS.len() {
                offset(
                    rng,
                    GeoPoint {
                        lat: town.lat,
                        lon: town.lon,
                    },
                    1.5,
                    4.0,
                )
            } else {
                GeoPoint {
                    lat: CENTRE.lat + rng.range((-0.25, 0.25)) * spread,
                    lon: CENTRE.lon + rng.range((-0.42, 0.42)) * spread,
                }
            };
            let district = *rng.pick(&DISTRICTS);
            Park {
                centre,
                town,
                district,
            }
        })
        .collect()
}

/// A point between `min_km` and `max_km` from `from`, uniform over that ring's area.
fn offset(rng: &mut Rng, from: GeoPoint, min_km: f64, max_km: f64) -> GeoPoint {
    let r = (min_km * min_km + rng.unit() * (max_km * max_km - min_km * min_km)).sqrt();
    let angle = rng.unit() * std::f64::consts::TAU;
    let km_per_degree_lon = KM_PER_DEGREE_LAT * from.lat.to_radians().cos();
    GeoPoint {
        lat: from.lat + r * angle.sin() / KM_PER_DEGREE_LAT,
        lon: from.lon + r * angle.cos() / km_per_degree_lon,
    }
}

fn nearest_park(parks: &[Park], point: GeoPoint) -> usize {
    let d2 = |p: &Park| {
        let dlat = p.centre.lat - point.lat;
        let dlon = (p.centre.lon - point.lon) * point.lat.to_radians().cos();
        dlat * dlat + dlon * dlon
    };
    (0..parks.len())
        .min_by(|a, b| d2(&parks[*a]).total_cmp(&d2(&parks[*b])))
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Names and contacts
// ---------------------------------------------------------------------------------------------

const PLACES: [&str; 26] = [
    "Rhein",
    "Ruhr",
    "Emscher",
    "Lippe",
    "Hafen",
    "Niederrhein",
    "Hellweg",
    "Berg",
    "Wupper",
    "Niers",
    "Erft",
    "Anger",
    "Düssel",
    "Volme",
    "Lenne",
    "Haard",
    "Kamp",
    "Vest",
    "Linde",
    "Mark",
    "Zollverein",
    "Baldeney",
    "Kemnade",
    "Schwelm",
    "Ennepe",
    "Westfalen",
];
const SURNAMES: [&str; 30] = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Krause",
    "Kowalski",
    "Yilmaz",
    "Brinkmann",
    "Terhorst",
];
const FIRST_NAMES: [&str; 24] = [
    "Anna",
    "Lena",
    "Julia",
    "Sarah",
    "Laura",
    "Katharina",
    "Sabine",
    "Petra",
    "Aylin",
    "Marie",
    "Claudia",
    "Nicole",
    "Thomas",
    "Michael",
    "Stefan",
    "Andreas",
    "Jan",
    "Lukas",
    "Tobias",
    "Markus",
    "Frank",
    "Deniz",
    "Jörg",
    "Christian",
];
const FORMS: [&str; 6] = ["GmbH", "AG", "GmbH & Co. KG", "KG", "eG", "SE"];
const PARK_STREETS: [&str; 14] = [
    "Industriestraße",
    "Hafenstraße",
    "Am Kanal",
    "Werkstraße",
    "Gewerbering",
    "Zechenweg",
    "Hüttenstraße",
    "Kraftwerkstraße",
    "Im Gewerbepark",
    "Chemiestraße",
    "Emscherallee",
    "Rheinuferstraße",
    "Schachtstraße",
    "Gleisdreieck",
];
const RURAL_STREETS: [&str; 8] = [
    "Landstraße",
    "Feldweg",
    "Mühlenweg",
    "Hofweg",
    "Am Bruch",
    "Heideweg",
    "Bauernschaft",
    "Kirchweg",
];

/// "Rhein Brauerei GmbH", "Hoffmann Molkerei KG" ...; a number only when the names run out.
fn unique_name(rng: &mut Rng, kind: &str, i: usize, used: &mut HashSet<String>) -> String {
    for _ in 0..4 {
        let prefix = if rng.unit() < 0.6 {
            *rng.pick(&PLACES)
        } else {
            *rng.pick(&SURNAMES)
        };
        let name = format!("{prefix} {kind} {}", rng.pick(&FORMS));
        if used.insert(name.clone()) {
            return name;
        }
    }
    let name = format!(
        "{} {kind} {} {}",
        rng.pick(&PLACES),
        i + 1,
        rng.pick(&FORMS)
    );
    used.insert(name.clone());
    name
}

fn ascii(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .flat_map(|c| match c {
            'ä' => "ae".chars().collect::<Vec<_>>(),
            'ö' => "oe".chars().collect(),
            'ü' => "ue".chars().collect(),
            'ß' => "ss".chars().collect(),
            c if c.is_ascii_alphanumeric() => vec![c],
            _ => vec!['-'],
        })
        .collect()
}

fn slug(name: &str) -> String {
    ascii(name)
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

// ---------------------------------------------------------------------------------------------
// Flows
// ---------------------------------------------------------------------------------------------

/// What a flow of an archetype looks like: ranges the generator draws from.
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
    /// EUR per amount unit (MWh, t or m3); negative: a gate fee the offerer pays (or a need is paid).
    price: Option<(f64, f64)>,
    max_distance_km: Option<f64>,
    /// Share of businesses of the archetype that have this flow.
    probability: f64,
    note: &'static str,
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
        note: "",
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
    fn note(self, note: &'static str) -> Self {
        Self { note, ..self }
    }
}

/// Rounds to two significant digits, as people state quantities.
fn round2(x: f64) -> f64 {
    if x <= 0.0 {
        return x;
    }
    // Dividing by an exact power of ten keeps 1.2 from becoming 1.2000000000000002.
    let exponent = x.log10().floor() as i32 - 1;
    if exponent >= 0 {
        let magnitude = 10f64.powi(exponent);
        (x / magnitude).round() * magnitude
    } else {
        let scale = 10f64.powi(-exponent);
        (x * scale).round() / scale
    }
}

fn flow_draft(rng: &mut Rng, spec: &FlowSpec) -> FlowDraft {
    let round = |x: f64, digits: i32| {
        let f = 10f64.powi(digits);
        (x * f).round() / f
    };
    let quality = Quality {
        temperature_c: spec.temperature_c.map(|r| rng.range(r).round()),
        pressure_bar: spec.pressure_bar.map(|r| round(rng.range(r), 1)),
        purity_pct: spec.purity_pct.map(|r| round(rng.range(r), 2)),
        ..Quality::default()
    };
    FlowDraft {
        site_id: Uuid::nil(),
        direction: spec.direction,
        category: spec.category.to_string(),
        description: spec.note.to_string(),
        quality,
        quantity: Quantity {
            value: round2(rng.range(spec.quantity)),
            unit: spec.unit.to_string(),
        },
        profile: Some(Value::String(spec.schedule.to_string())),
        price_eur_per_unit: spec.price.map(|r| {
            let p = rng.range(r);
            round(p, if p.abs() < 5.0 { 2 } else { 0 })
        }),
        max_distance_km: spec.max_distance_km,
        valid_from: None,
        valid_until: None,
        status: FlowStatus::Active,
        anonymous: false,
    }
}

// ---------------------------------------------------------------------------------------------
// Archetypes
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Within 2.5 km of an industrial park's centre.
    Park,
    /// 2.5-6 km from a park's centre: greenhouses and digesters near the heat and the waste.
    Fringe,
    /// Anywhere in the region.
    Rural,
}

struct Archetype {
    nace: &'static str,
    /// Used in business names ("Rhein Brauerei GmbH").
    kind: &'static str,
    /// Business description, naming the archetype.
    description: &'static str,
    /// Relative frequency in a region.
    weight: u32,
    placement: Placement,
    /// The first flow is the one every business of the archetype has.
    flows: Vec<FlowSpec>,
}

const ALWAYS: &str = "24/7";
const TWO_SHIFTS: &str = "Mon-Fri 06:00-22:00";
const THREE_SHIFTS: &str = "Mon-Fri; Sat 00:00-14:00";
const DAY_SHIFT: &str = "Mon-Fri 07:00-16:00";
const OFFICE: &str = "Mon-Fri 07:00-19:00";
const SIX_DAYS: &str = "Mon-Sat 06:00-22:00";
const BUILDING_SITE: &str = "Mon-Fri 07:00-17:00; Sat 07:00-13:00";
const BAKERY: &str = "Mon-Sat 02:00-12:00";
/// Greenhouse heating: part load by day, full load at night.
const NIGHT_HEAT: &str = "daily @0.6; daily 17:00-08:00";
const DAYLIGHT: &str = "daily 08:00-18:00";
/// District heating: base load all day, peak from early morning to late evening.
const DISTRICT_HEAT: &str = "daily @0.6; daily 05:00-22:00";

fn archetypes() -> Vec<Archetype> {
    use Placement::{Fringe, Park, Rural};
    let a = |nace, kind, description, weight, placement, flows| Archetype {
        nace,
        kind,
        description,
        weight,
        placement,
        flows,
    };
    vec![
        a(
            "J63.11",
            "Rechenzentrum",
            "Data centre (colocation, 5-20 MW IT load); server cooling rejects 30-38 °C heat all year round.",
            6,
            Park,
            vec![
                offer("heat.ambient", (0.8, 4.0), "MW", ALWAYS)
                    .temp(30.0, 38.0)
                    .price(5.0, 15.0)
                    .note("Warm return water of the server cooling loop"),
                need("water.cooling", (20.0, 120.0), "m3/h", ALWAYS)
                    .price(0.6, 1.2)
                    .sometimes(0.8)
                    .note("Make-up water for the adiabatic dry coolers"),
                need("cooling.chilled_water", (500.0, 3000.0), "kW", ALWAYS)
                    .temp(14.0, 18.0)
                    .price(40.0, 60.0)
                    .sometimes(0.3)
                    .note("Chilled water for the white space in summer"),
                offer(
                    "material.paper_cardboard",
                    (20.0, 150.0),
                    "t/year",
                    DAY_SHIFT,
                )
                .sometimes(0.7)
                .note("Packaging from hardware deliveries"),
                offer(
                    "material.metal_non_ferrous",
                    (5.0, 40.0),
                    "t/year",
                    DAY_SHIFT,
                )
                .price(800.0, 1500.0)
                .sometimes(0.4)
                .note("Copper cabling and aluminium racks from refits"),
                need("water.process", (2.0, 10.0), "m3/h", ALWAYS)
                    .price(1.5, 2.5)
                    .sometimes(0.5)
                    .note("Softened water for humidification"),
                offer("material.waste_oil", (2.0, 15.0), "t/year", DAY_SHIFT)
                    .price(-100.0, 0.0)
                    .sometimes(0.3)
                    .note("Used oil from the standby diesel generators"),
            ],
        ),
        a(
            "C11.05",
            "Brauerei",
            "Brewery (lager and wheat beer, 200,000-800,000 hl a year): spent grain, warm wort-cooling water and fermentation CO2.",
            7,
            Park,
            vec![
                offer("material.spent_grain", (8.0, 40.0), "t/day", "Mon-Fri")
                    .price(-5.0, 15.0)
                    .within(60.0)
                    .note("Wet brewer's spent grain (22 % dry matter) from the lauter tun"),
                offer(
                    "heat.low_temp",
                    (1500.0, 6000.0),
                    "MWh/year",
                    "Mon-Fri 05:00-21:00",
                )
                .temp(60.0, 80.0)
                .price(15.0, 30.0)
                .note("Wort-cooling and vapour-condenser heat"),
                offer("gas.co2", (300.0, 2000.0), "t/year", "Mon-Fri 05:00-21:00")
                    .purity(99.5, 99.9)
                    .price(40.0, 80.0)
                    .sometimes(0.6)
                    .note("Fermentation CO2, recovered and purified"),
                need("water.process", (10.0, 40.0), "m3/h", "Mon-Fri 05:00-21:00")
                    .price(1.5, 2.5)
                    .note("Brewing and cleaning water, softened"),
                need(
                    "steam.low_pressure",
                    (1000.0, 4000.0),
                    "kW",
                    "Mon-Fri 05:00-21:00",
                )
                .temp(150.0, 165.0)
                .bar(4.0, 6.0)
                .price(45.0, 60.0)
                .sometimes(0.5)
                .note("Steam for the wort kettle and bottle washer"),
                offer("material.glass_cullet", (50.0, 400.0), "t/year", "Mon-Fri")
                    .sometimes(0.5)
                    .note("Broken returnable bottles, brown and green"),
                offer("material.food_waste", (200.0, 1500.0), "t/year", "Mon-Fri")
                    .price(-10.0, 20.0)
                    .sometimes(0.4)
                    .note("Surplus brewer's yeast and trub"),
            ],
        ),
        a(
            "A01.13",
            "Gewächshaus",
            "Greenhouse vegetable grower (tomatoes, cucumbers, 5-20 ha under glass): heating demand peaks at night, CO2 dosing by day.",
            8,
            Fringe,
            vec![
                need("heat.low_temp", (0.6, 4.0), "MW", NIGHT_HEAT)
                    .temp(45.0, 60.0)
                    .price(40.0, 55.0)
                    .within(10.0)
                    .note("Heating circuits of the glasshouses"),
                need("gas.co2", (40.0, 250.0), "kg/h", DAYLIGHT)
                    .purity(97.0, 99.5)
                    .price(80.0, 150.0)
                    .note("CO2 dosing for crop growth"),
                need("heat.ambient", (200.0, 800.0), "kW", ALWAYS)
                    .temp(20.0, 28.0)
                    .price(35.0, 45.0)
                    .sometimes(0.5)
                    .note("Base-load heat for floor and substrate heating"),
                need("water.grey", (3.0, 15.0), "m3/h", "daily 06:00-20:00")
                    .price(0.8, 1.5)
                    .sometimes(0.6)
                    .note("Irrigation water (after filtration and UV treatment)"),
                offer("material.green_waste", (200.0, 1500.0), "t/year", "Mon-Sat")
                    .price(-20.0, 0.0)
                    .sometimes(0.8)
                    .note("Leaves and stems from crop rotation"),
                offer("material.plastic_ldpe", (10.0, 80.0), "t/year", "Mon-Sat")
                    .price(-50.0, 50.0)
                    .sometimes(0.5)
                    .note("Greenhouse film and substrate-bag plastic"),
                need("material.wood_chips", (1_000.0, 6_000.0), "t/year", "daily")
                    .price(70.0, 100.0)
                    .sometimes(0.3)
                    .note("Fuel for the biomass boiler"),
                offer("material.food_waste", (50.0, 400.0), "t/year", "Mon-Sat")
                    .price(-30.0, 0.0)
                    .sometimes(0.5)
                    .note("Unsaleable vegetables"),
            ],
        ),
        a(
            "D35.30",
            "Fernwärme",
            "District heating network operator with a large heat pump and a peak-load plant (30,000 connected homes).",
            3,
            Park,
            vec![
                need("heat.low_temp", (3.0, 12.0), "MW", DISTRICT_HEAT)
                    .temp(70.0, 80.0)
                    .price(30.0, 45.0)
                    .within(15.0)
                    .note("Supply into the district heating network"),
                need("heat.heat_pump_source", (1000.0, 6000.0), "kW", ALWAYS)
                    .temp(12.0, 25.0)
                    .price(5.0, 15.0)
                    .note("Source heat for the 10 MW large heat pump"),
                offer("cooling.chilled_water", (1.0, 5.0), "MW", ALWAYS)
                    .temp(5.0, 7.0)
                    .price(25.0, 40.0)
                    .sometimes(0.8)
                    .note("District cooling from absorption chillers"),
                need("gas.biogas", (200.0, 800.0), "Nm3/h", ALWAYS)
                    .price(0.45, 0.65)
                    .sometimes(0.5)
                    .note("Biogas for the peak-load CHP engines"),
                need("material.wood_chips", (5_000.0, 30_000.0), "t/year", ALWAYS)
                    .price(70.0, 100.0)
                    .sometimes(0.4)
                    .note("Fuel for the biomass boiler"),
                need("water.process", (5.0, 30.0), "m3/h", ALWAYS)
                    .price(1.5, 2.5)
                    .sometimes(0.6)
                    .note("Demineralised make-up water for the network"),
            ],
        ),
        a(
            "D35.11",
            "Kraftwerk",
            "Power station (hard coal and gas, combined heat and power): fly ash, bottom ash and FGD gypsum, process steam and heat.",
            2,
            Park,
            vec![
                offer("material.fly_ash", (20_000.0, 150_000.0), "t/year", ALWAYS)
                    .price(-10.0, 10.0)
                    .note("Siliceous coal fly ash (EN 450 quality)"),
                offer(
                    "material.fgd_gypsum",
                    (10_000.0, 60_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(0.0, 10.0)
                .note("Gypsum from flue-gas desulphurisation, 90 % dry"),
                offer("material.bottom_ash", (5_000.0, 30_000.0), "t/year", ALWAYS)
                    .price(-10.0, 0.0)
                    .note("Boiler bottom ash"),
                offer(
                    "heat.medium_temp",
                    (40_000.0, 150_000.0),
                    "MWh/year",
                    ALWAYS,
                )
                .temp(110.0, 140.0)
                .price(20.0, 30.0)
                .note("Extraction heat from the turbines"),
                offer("steam.high_pressure", (2.0, 8.0), "MW", ALWAYS)
                    .temp(250.0, 400.0)
                    .bar(30.0, 60.0)
                    .price(25.0, 40.0)
                    .note("Process steam from the auxiliary boiler"),
                need("water.treated_wastewater", (300.0, 2000.0), "m3/h", ALWAYS)
                    .price(0.3, 0.6)
                    .note("Make-up water for the cooling tower"),
                need(
                    "material.wood_chips",
                    (20_000.0, 80_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(60.0, 90.0)
                .sometimes(0.4)
                .note("Biomass for co-firing"),
                offer("cooling.chilled_water", (1.0, 4.0), "MW", ALWAYS)
                    .temp(5.0, 7.0)
                    .price(20.0, 35.0)
                    .sometimes(0.4)
                    .note("Absorption chillers driven by extraction steam"),
            ],
        ),
        a(
            "D35.21",
            "Biogasanlage",
            "Agricultural biogas plant (anaerobic digestion, 1-2 MWel CHP and biomethane upgrading).",
            4,
            Rural,
            vec![
                need("material.manure", (10_000.0, 50_000.0), "t/year", ALWAYS)
                    .price(-5.0, 0.0)
                    .within(30.0)
                    .note("Cattle and pig slurry as base substrate"),
                need("material.spent_grain", (1_000.0, 8_000.0), "t/year", ALWAYS)
                    .price(10.0, 25.0)
                    .sometimes(0.6)
                    .note("Co-substrate"),
                need("material.whey", (1_000.0, 6_000.0), "t/year", ALWAYS)
                    .price(0.0, 10.0)
                    .sometimes(0.5)
                    .note("Co-substrate"),
                need("material.green_waste", (1_000.0, 6_000.0), "t/year", ALWAYS)
                    .price(-20.0, 0.0)
                    .sometimes(0.5)
                    .note("Grass cuttings as co-substrate"),
                offer("material.digestate", (10_000.0, 60_000.0), "t/year", ALWAYS)
                    .price(-3.0, 2.0)
                    .note("Liquid digestate, 6 % dry matter, as fertiliser"),
                offer("gas.biogas", (150.0, 600.0), "Nm3/h", ALWAYS)
                    .price(0.35, 0.55)
                    .sometimes(0.7)
                    .note("Raw biogas, 55 % methane"),
                offer("gas.co2", (1000.0, 5000.0), "t/year", ALWAYS)
                    .purity(99.0, 99.9)
                    .price(30.0, 60.0)
                    .sometimes(0.4)
                    .note("Off-gas of the biomethane upgrading, liquefied"),
                offer("heat.low_temp", (300.0, 1200.0), "kW", ALWAYS)
                    .temp(80.0, 90.0)
                    .price(15.0, 30.0)
                    .note("CHP engine jacket and exhaust heat"),
                need("material.food_waste", (2_000.0, 10_000.0), "t/year", ALWAYS)
                    .price(-40.0, -10.0)
                    .sometimes(0.6)
                    .note("Food waste as co-substrate (hygienised)"),
            ],
        ),
        a(
            "E38.21",
            "Vergärungsanlage",
            "Biowaste treatment and biogas plant (food and garden waste digestion, composting; paid by gate fees).",
            3,
            Fringe,
            vec![
                need(
                    "material.food_waste",
                    (10_000.0, 50_000.0),
                    "t/year",
                    SIX_DAYS,
                )
                .price(-60.0, -30.0)
                .note("Source-separated food waste and expired food (gate fee)"),
                need(
                    "material.green_waste",
                    (5_000.0, 20_000.0),
                    "t/year",
                    SIX_DAYS,
                )
                .price(-35.0, -15.0)
                .note("Garden and park waste for composting"),
                need(
                    "material.sewage_sludge",
                    (2_000.0, 10_000.0),
                    "t/year",
                    SIX_DAYS,
                )
                .price(-50.0, -30.0)
                .sometimes(0.3)
                .note("Dewatered sludge for co-digestion"),
                offer("material.digestate", (8_000.0, 40_000.0), "t/year", ALWAYS)
                    .price(-5.0, 0.0)
                    .note("Solid digestate and compost"),
                offer("gas.biogas", (2.0e6, 8.0e6), "m3/year", ALWAYS)
                    .price(0.35, 0.5)
                    .note("Biogas from the digesters"),
                offer("gas.co2", (800.0, 4000.0), "t/year", ALWAYS)
                    .purity(98.0, 99.5)
                    .price(30.0, 60.0)
                    .sometimes(0.5)
                    .note("CO2 from biogas upgrading"),
                offer("heat.low_temp", (0.5, 2.0), "MW", ALWAYS)
                    .temp(75.0, 90.0)
                    .price(15.0, 30.0)
                    .note("CHP heat not needed by the digesters"),
            ],
        ),
        a(
            "C23.51",
            "Zementwerk",
            "Cement works (1-2 Mt clinker a year): clinker substitution and alternative fuels.",
            2,
            Park,
            vec![
                need("material.fly_ash", (20_000.0, 100_000.0), "t/year", ALWAYS)
                    .price(20.0, 40.0)
                    .within(250.0)
                    .note("Clinker substitute for CEM II cements"),
                need("material.slag", (20_000.0, 100_000.0), "t/year", ALWAYS)
                    .price(30.0, 50.0)
                    .note("Granulated blast-furnace slag for CEM III"),
                need("material.fgd_gypsum", (3_000.0, 15_000.0), "t/year", ALWAYS)
                    .price(5.0, 15.0)
                    .note("Set retarder"),
                need(
                    "material.sewage_sludge",
                    (5_000.0, 30_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(-30.0, -10.0)
                .sometimes(0.6)
                .note("Dried sludge as alternative fuel"),
                need(
                    "material.foundry_sand",
                    (2_000.0, 20_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(0.0, 10.0)
                .sometimes(0.6)
                .note("Silica source in the raw meal"),
                need("material.bottom_ash", (5_000.0, 20_000.0), "t/year", ALWAYS)
                    .sometimes(0.4)
                    .note("Raw-meal corrective"),
                need("material.waste_oil", (1_000.0, 8_000.0), "t/year", ALWAYS)
                    .price(-60.0, 0.0)
                    .sometimes(0.4)
                    .note("Alternative fuel for the main burner"),
                offer("heat.high_temp", (2.0, 8.0), "MW", ALWAYS)
                    .temp(250.0, 350.0)
                    .price(10.0, 25.0)
                    .note("Clinker-cooler exhaust air"),
            ],
        ),
        a(
            "C23.62",
            "Gipswerk",
            "Plasterboard plant: FGD gypsum and recovered paper in, dryer heat out.",
            2,
            Park,
            vec![
                need(
                    "material.fgd_gypsum",
                    (20_000.0, 100_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(5.0, 15.0)
                .within(300.0)
                .note("Main raw material"),
                need("heat.high_temp", (2.0, 6.0), "MW", THREE_SHIFTS)
                    .temp(160.0, 180.0)
                    .price(45.0, 60.0)
                    .sometimes(0.5)
                    .note("Gypsum calcination"),
                need("heat.medium_temp", (1000.0, 4000.0), "kW", THREE_SHIFTS)
                    .temp(110.0, 130.0)
                    .price(40.0, 55.0)
                    .note("Board dryer"),
                need(
                    "material.paper_cardboard",
                    (3_000.0, 15_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(60.0, 100.0)
                .sometimes(0.6)
                .note("Recovered paper for the board liner"),
                offer("heat.low_temp", (500.0, 2000.0), "kW", THREE_SHIFTS)
                    .temp(45.0, 60.0)
                    .price(5.0, 20.0)
                    .sometimes(0.5)
                    .note("Dryer exhaust heat"),
                offer(
                    "material.construction_demolition",
                    (500.0, 3_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(-10.0, 0.0)
                .sometimes(0.4)
                .note("Board offcuts and rejects"),
            ],
        ),
        a(
            "C20.14",
            "Chemie",
            "Organic chemicals site (intermediates, solvents): steam, hydrogen and CO2 by-products.",
            4,
            Park,
            vec![
                offer("steam.low_pressure", (1000.0, 5000.0), "kW", ALWAYS)
                    .temp(150.0, 180.0)
                    .bar(4.0, 8.0)
                    .price(25.0, 40.0)
                    .note("Surplus steam from exothermic reactors"),
                offer("gas.hydrogen", (300.0, 3000.0), "t/year", ALWAYS)
                    .purity(99.9, 99.99)
                    .price(3000.0, 5000.0)
                    .sometimes(0.5)
                    .note("By-product hydrogen"),
                need("gas.hydrogen", (200.0, 1500.0), "t/year", ALWAYS)
                    .purity(99.0, 99.5)
                    .price(4000.0, 6000.0)
                    .sometimes(0.4)
                    .note("Hydrogenation feedstock"),
                offer("material.solvents", (200.0, 2000.0), "t/year", TWO_SHIFTS)
                    .price(-150.0, -50.0)
                    .note("Spent solvents (toluene, acetone) for distillation"),
                need("water.cooling", (100.0, 800.0), "m3/h", ALWAYS)
                    .price(0.5, 1.0)
                    .note("Cooling-tower make-up"),
                offer("gas.co2", (2000.0, 20_000.0), "t/year", ALWAYS)
                    .purity(98.0, 99.5)
                    .price(30.0, 60.0)
                    .sometimes(0.5)
                    .note("Process CO2"),
                offer("heat.medium_temp", (1000.0, 6000.0), "kW", ALWAYS)
                    .temp(95.0, 130.0)
                    .price(15.0, 30.0)
                    .sometimes(0.6)
                    .note("Reactor cooling heat"),
                need("steam.high_pressure", (2000.0, 8000.0), "kW", ALWAYS)
                    .temp(220.0, 280.0)
                    .bar(15.0, 25.0)
                    .price(45.0, 65.0)
                    .sometimes(0.5)
                    .note("Steam for the distillation columns"),
                need("heat.high_temp", (1000.0, 4000.0), "kW", ALWAYS)
                    .temp(200.0, 240.0)
                    .price(50.0, 65.0)
                    .sometimes(0.3)
                    .note("Thermal-oil circuit"),
                offer("cooling.chilled_water", (500.0, 2000.0), "kW", ALWAYS)
                    .temp(4.0, 7.0)
                    .price(25.0, 40.0)
                    .sometimes(0.3)
                    .note("Spare capacity of the central chiller plant"),
            ],
        ),
        a(
            "C20.11",
            "Industriegase",
            "Industrial gases (air separation, CO2 liquefaction): cold and compressed air surplus, CO2 demand.",
            3,
            Park,
            vec![
                need("gas.co2", (5_000.0, 30_000.0), "t/year", ALWAYS)
                    .purity(95.0, 98.0)
                    .price(40.0, 70.0)
                    .within(150.0)
                    .note("Raw CO2 for purification and liquefaction"),
                offer("cooling.chilled_water", (500.0, 2500.0), "kW", ALWAYS)
                    .temp(3.0, 6.0)
                    .price(15.0, 30.0)
                    .note("Cold recovered from liquid-nitrogen evaporation"),
                offer("heat.low_temp", (1000.0, 4000.0), "kW", ALWAYS)
                    .temp(45.0, 60.0)
                    .price(5.0, 15.0)
                    .sometimes(0.6)
                    .note("Compressor intercooler heat"),
                offer("gas.compressed_air", (2000.0, 8000.0), "Nm3/h", ALWAYS)
                    .bar(8.0, 12.0)
                    .price(0.01, 0.02)
                    .sometimes(0.5)
                    .note("Dry compressed air from the main air compressor"),
                need("water.cooling", (200.0, 1000.0), "m3/h", ALWAYS)
                    .price(0.5, 1.0)
                    .sometimes(0.5)
                    .note("Cooling-tower make-up"),
                offer("gas.hydrogen", (200.0, 1500.0), "t/year", ALWAYS)
                    .purity(99.9, 99.99)
                    .price(4000.0, 6000.0)
                    .sometimes(0.4)
                    .note("Electrolytic hydrogen"),
            ],
        ),
        a(
            "C17.12",
            "Papierfabrik",
            "Paper mill (corrugated case material from recovered fibre, 300,000 t a year).",
            2,
            Park,
            vec![
                need("steam.low_pressure", (5000.0, 20_000.0), "kW", ALWAYS)
                    .temp(140.0, 160.0)
                    .bar(3.0, 6.0)
                    .price(40.0, 55.0)
                    .note("Drying cylinders"),
                need(
                    "material.paper_cardboard",
                    (30_000.0, 200_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(80.0, 120.0)
                .within(300.0)
                .note("Recovered paper (grades 1.04/1.05)"),
                offer(
                    "material.sewage_sludge",
                    (5_000.0, 20_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(-40.0, -20.0)
                .note("Paper sludge from the effluent plant"),
                offer("heat.low_temp", (2.0, 6.0), "MW", ALWAYS)
                    .temp(45.0, 60.0)
                    .price(5.0, 15.0)
                    .note("Hood exhaust heat"),
                need("water.process", (50.0, 200.0), "l/s", ALWAYS)
                    .price(1.0, 1.8)
                    .note("Fresh water for the paper machine"),
                need("water.treated_wastewater", (100.0, 500.0), "m3/h", ALWAYS)
                    .price(0.3, 0.7)
                    .sometimes(0.4)
                    .note("Reclaimed water for stock preparation"),
                offer(
                    "material.plastic_ldpe",
                    (1_000.0, 5_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(-40.0, 0.0)
                .sometimes(0.5)
                .note("Plastic film rejects from the pulper"),
                need(
                    "material.wood_chips",
                    (20_000.0, 60_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(60.0, 90.0)
                .sometimes(0.3)
                .note("Fuel for the biomass boiler"),
            ],
        ),
        a(
            "C10.51",
            "Molkerei",
            "Dairy (milk, cheese and whey powder): whey, warm condensate water and heat surplus, steam demand.",
            4,
            Park,
            vec![
                offer("material.whey", (20.0, 200.0), "t/day", "daily 04:00-22:00")
                    .price(-5.0, 10.0)
                    .within(80.0)
                    .note("Sweet whey from cheese making"),
                need(
                    "steam.low_pressure",
                    (1000.0, 4000.0),
                    "kW",
                    "daily 04:00-22:00",
                )
                .temp(140.0, 170.0)
                .bar(3.0, 7.0)
                .price(45.0, 60.0)
                .note("Pasteurisers, evaporators and CIP"),
                offer(
                    "heat.low_temp",
                    (5_000.0, 20_000.0),
                    "GJ/year",
                    "daily 04:00-22:00",
                )
                .temp(40.0, 55.0)
                .price(5.0, 15.0)
                .note("Refrigeration and evaporator condenser heat"),
                need("water.process", (20.0, 100.0), "m3/h", "daily 04:00-22:00")
                    .price(1.5, 2.5)
                    .note("Cleaning and boiler feed water"),
                need("cooling.chilled_water", (500.0, 2000.0), "kW", ALWAYS)
                    .temp(6.0, 9.0)
                    .price(40.0, 60.0)
                    .sometimes(0.5)
                    .note("Milk cooling and cold rooms"),
                offer("water.grey", (5.0, 30.0), "m3/h", "daily 04:00-22:00")
                    .price(0.0, 0.3)
                    .sometimes(0.5)
                    .note("'Cow water' condensed from milk evaporation"),
                offer("material.food_waste", (200.0, 1500.0), "t/year", "Mon-Sat")
                    .price(-30.0, 0.0)
                    .sometimes(0.4)
                    .note("Out-of-specification product"),
            ],
        ),
        a(
            "C16.10",
            "Sägewerk",
            "Sawmill with drying kilns (softwood, 100,000-300,000 m3 logs a year).",
            4,
            Fringe,
            vec![
                offer(
                    "material.sawdust",
                    (5_000.0, 30_000.0),
                    "t/year",
                    TWO_SHIFTS,
                )
                .price(20.0, 50.0)
                .note("Dry and green sawdust"),
                offer(
                    "material.wood_chips",
                    (10_000.0, 40_000.0),
                    "t/year",
                    TWO_SHIFTS,
                )
                .price(50.0, 80.0)
                .note("Chips from slabs and edgings"),
                need("heat.medium_temp", (1000.0, 4000.0), "kW", ALWAYS)
                    .temp(95.0, 120.0)
                    .price(35.0, 50.0)
                    .note("Timber drying kilns"),
                offer(
                    "material.wood_waste",
                    (2_000.0, 10_000.0),
                    "t/year",
                    TWO_SHIFTS,
                )
                .price(0.0, 20.0)
                .sometimes(0.8)
                .note("Bark"),
            ],
        ),
        a(
            "C16.21",
            "Spanplattenwerk",
            "Particleboard and OSB plant: recycled wood and sawdust in, dryer heat out.",
            2,
            Park,
            vec![
                need(
                    "material.wood_waste",
                    (30_000.0, 150_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(10.0, 40.0)
                .within(150.0)
                .note("Recycled wood (grades A I-A II)"),
                need("material.sawdust", (10_000.0, 60_000.0), "t/year", ALWAYS)
                    .price(25.0, 50.0)
                    .note("Fine fraction for the surface layers"),
                need("steam.low_pressure", (2000.0, 6000.0), "kW", ALWAYS)
                    .temp(170.0, 190.0)
                    .bar(6.0, 10.0)
                    .price(40.0, 55.0)
                    .sometimes(0.6)
                    .note("Press heating"),
                need("heat.high_temp", (3.0, 10.0), "MW", ALWAYS)
                    .temp(180.0, 250.0)
                    .price(40.0, 55.0)
                    .sometimes(0.5)
                    .note("Chip dryer"),
                offer("heat.low_temp", (1000.0, 4000.0), "kW", ALWAYS)
                    .temp(55.0, 75.0)
                    .price(5.0, 15.0)
                    .note("Dryer exhaust heat recovery"),
            ],
        ),
        a(
            "D35.30",
            "Biomasse-Heizwerk",
            "Biomass heating plant (wood chips, with flue-gas condensation and a heat pump) feeding a local heating network.",
            2,
            Park,
            vec![
                need(
                    "material.wood_chips",
                    (10_000.0, 60_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(70.0, 100.0)
                .within(80.0)
                .note("Fuel chips, 35 % moisture"),
                need("material.wood_waste", (5_000.0, 20_000.0), "t/year", ALWAYS)
                    .price(10.0, 40.0)
                    .sometimes(0.5)
                    .note("Untreated recycled wood as fuel"),
                need("material.sawdust", (2_000.0, 10_000.0), "t/year", ALWAYS)
                    .price(20.0, 40.0)
                    .sometimes(0.4)
                    .note("Fuel"),
                offer(
                    "heat.low_temp",
                    (3.0, 10.0),
                    "MW",
                    "daily @0.7; Mon-Fri 06:00-20:00",
                )
                .temp(80.0, 90.0)
                .price(20.0, 35.0)
                .note("Surplus heat outside the network's peak"),
                need("heat.heat_pump_source", (500.0, 2000.0), "kW", ALWAYS)
                    .temp(12.0, 25.0)
                    .price(5.0, 15.0)
                    .note("Source heat for the network heat pump"),
                offer("material.bottom_ash", (500.0, 3_000.0), "t/year", ALWAYS)
                    .price(-40.0, -10.0)
                    .sometimes(0.6)
                    .note("Wood ash from the grate"),
            ],
        ),
        a(
            "E37.00",
            "Klärwerk",
            "Municipal waste-water treatment plant (200,000-800,000 population equivalents).",
            4,
            Park,
            vec![
                offer("water.treated_wastewater", (150.0, 1400.0), "l/s", ALWAYS)
                    .price(0.1, 0.4)
                    .note("Effluent after tertiary treatment and UV disinfection"),
                offer(
                    "material.sewage_sludge",
                    (5_000.0, 40_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(-60.0, -30.0)
                .note("Dewatered digested sludge, 25 % dry matter"),
                offer("heat.heat_pump_source", (1.0, 5.0), "MW", ALWAYS)
                    .temp(12.0, 20.0)
                    .price(0.0, 5.0)
                    .note("Heat in the effluent, for heat pumps"),
                offer("gas.biogas", (50.0, 300.0), "Nm3/h", ALWAYS)
                    .price(0.3, 0.5)
                    .sometimes(0.5)
                    .note("Digester gas beyond the plant's own CHP"),
                need("heat.low_temp", (300.0, 1500.0), "kW", ALWAYS)
                    .temp(40.0, 55.0)
                    .price(35.0, 50.0)
                    .sometimes(0.4)
                    .note("Digester and sludge-drying heat"),
                need("material.food_waste", (2_000.0, 10_000.0), "t/year", ALWAYS)
                    .price(-40.0, -20.0)
                    .sometimes(0.3)
                    .note("Co-digestion substrate"),
            ],
        ),
        a(
            "C24.10",
            "Stahlwerk",
            "Integrated steelworks (blast furnace and basic oxygen steelmaking, moving to hydrogen direct reduction).",
            2,
            Park,
            vec![
                offer("material.slag", (100_000.0, 500_000.0), "t/year", ALWAYS)
                    .price(5.0, 20.0)
                    .note("Granulated blast-furnace slag and steel slag"),
                offer("heat.high_temp", (10.0, 40.0), "MW", ALWAYS)
                    .temp(300.0, 600.0)
                    .price(10.0, 25.0)
                    .note("Off-gas heat of the sinter plant and the furnaces"),
                need(
                    "material.metal_ferrous",
                    (100_000.0, 500_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(250.0, 350.0)
                .note("Steel scrap for the converter"),
                offer("steam.high_pressure", (5.0, 15.0), "MW", ALWAYS)
                    .temp(220.0, 300.0)
                    .bar(15.0, 40.0)
                    .price(25.0, 40.0)
                    .note("Steam from waste-heat boilers"),
                need("water.cooling", (500.0, 3000.0), "m3/h", ALWAYS)
                    .price(0.4, 0.8)
                    .note("Cooling circuits of the rolling mill"),
                need("gas.hydrogen", (5_000.0, 30_000.0), "t/year", ALWAYS)
                    .purity(99.0, 99.9)
                    .price(4000.0, 6000.0)
                    .sometimes(0.5)
                    .note("Reductant for the direct-reduction plant"),
                offer("heat.low_temp", (50_000.0, 200_000.0), "MWh/year", ALWAYS)
                    .temp(60.0, 85.0)
                    .price(5.0, 20.0)
                    .sometimes(0.5)
                    .note("Cooling-water heat"),
                offer("material.waste_oil", (100.0, 800.0), "t/year", ALWAYS)
                    .price(-50.0, 50.0)
                    .sometimes(0.5)
                    .note("Rolling-mill oils"),
            ],
        ),
        a(
            "C24.51",
            "Eisengießerei",
            "Iron foundry (cupola furnace, sand moulding): spent foundry sand and furnace heat, scrap demand.",
            2,
            Park,
            vec![
                offer(
                    "material.foundry_sand",
                    (2_000.0, 15_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(-20.0, 0.0)
                .note("Spent green moulding sand"),
                need(
                    "material.metal_ferrous",
                    (5_000.0, 40_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(250.0, 330.0)
                .note("Steel and cast-iron scrap"),
                offer("heat.high_temp", (1000.0, 4000.0), "kW", THREE_SHIFTS)
                    .temp(200.0, 300.0)
                    .price(10.0, 25.0)
                    .sometimes(0.7)
                    .note("Cupola off-gas heat"),
                offer("heat.low_temp", (500.0, 2000.0), "kW", THREE_SHIFTS)
                    .temp(50.0, 70.0)
                    .price(5.0, 15.0)
                    .sometimes(0.7)
                    .note("Furnace cooling water"),
                offer("material.slag", (500.0, 3_000.0), "t/year", THREE_SHIFTS)
                    .price(-10.0, 5.0)
                    .sometimes(0.4)
                    .note("Cupola slag"),
                need("gas.compressed_air", (500.0, 2000.0), "Nm3/h", THREE_SHIFTS)
                    .bar(6.0, 7.0)
                    .price(0.02, 0.03)
                    .sometimes(0.3)
                    .note("Moulding machines and blasting"),
            ],
        ),
        a(
            "C24.53",
            "Aluminiumgießerei",
            "Aluminium foundry (die casting for the automotive industry).",
            2,
            Park,
            vec![
                need(
                    "material.metal_non_ferrous",
                    (5_000.0, 30_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(1000.0, 1400.0)
                .note("Aluminium scrap and turnings"),
                offer("heat.high_temp", (1000.0, 5000.0), "kW", ALWAYS)
                    .temp(200.0, 400.0)
                    .price(10.0, 25.0)
                    .note("Melting-furnace off-gas heat"),
                offer(
                    "material.foundry_sand",
                    (500.0, 5_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(-20.0, 0.0)
                .sometimes(0.5)
                .note("Spent core sand"),
                offer("heat.low_temp", (300.0, 1500.0), "kW", THREE_SHIFTS)
                    .temp(45.0, 65.0)
                    .price(5.0, 15.0)
                    .sometimes(0.5)
                    .note("Die-cooling circuit"),
                need("gas.compressed_air", (500.0, 2000.0), "Nm3/h", THREE_SHIFTS)
                    .bar(6.0, 7.0)
                    .price(0.02, 0.03)
                    .sometimes(0.3)
                    .note("Die-casting machines"),
                offer(
                    "material.metal_non_ferrous",
                    (100.0, 800.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(300.0, 700.0)
                .sometimes(0.4)
                .note("Aluminium dross"),
            ],
        ),
        a(
            "A01.41",
            "Milchviehbetrieb",
            "Dairy cattle farm (150-600 cows): manure out, digestate and feed by-products in.",
            6,
            Rural,
            vec![
                offer("material.manure", (2_000.0, 20_000.0), "t/year", ALWAYS)
                    .price(-5.0, 0.0)
                    .within(30.0)
                    .note("Cattle slurry"),
                need(
                    "material.digestate",
                    (1_000.0, 10_000.0),
                    "t/year",
                    "Mon-Sat",
                )
                .price(0.0, 8.0)
                .within(25.0)
                .note("Fertiliser for grassland and maize"),
                need("material.spent_grain", (300.0, 3_000.0), "t/year", ALWAYS)
                    .price(20.0, 40.0)
                    .sometimes(0.7)
                    .note("Protein feed"),
                need("material.whey", (300.0, 2_000.0), "t/year", ALWAYS)
                    .price(5.0, 15.0)
                    .sometimes(0.4)
                    .note("Liquid feed"),
                need("material.sawdust", (50.0, 400.0), "t/year", "Mon-Sat")
                    .price(30.0, 60.0)
                    .sometimes(0.5)
                    .note("Cubicle bedding"),
                offer("material.plastic_ldpe", (2.0, 15.0), "t/year", "Mon-Sat")
                    .price(-80.0, 0.0)
                    .sometimes(0.4)
                    .note("Used silage film"),
                offer(
                    "heat.ambient",
                    (20.0, 80.0),
                    "kW",
                    "daily 05:00-08:00,16:00-19:00",
                )
                .temp(30.0, 40.0)
                .price(0.0, 10.0)
                .sometimes(0.3)
                .note("Milk-cooling heat recovery"),
            ],
        ),
        a(
            "A01.46",
            "Schweinehaltung",
            "Pig farm (2,000-6,000 fattening places): slurry out, liquid feed and fertiliser in.",
            3,
            Rural,
            vec![
                offer("material.manure", (3_000.0, 15_000.0), "t/year", ALWAYS)
                    .price(-12.0, -3.0)
                    .within(30.0)
                    .note("Pig slurry, 5 % dry matter"),
                need("material.whey", (500.0, 3_000.0), "t/year", ALWAYS)
                    .price(5.0, 15.0)
                    .sometimes(0.6)
                    .note("Liquid feed"),
                need("material.digestate", (500.0, 4_000.0), "t/year", "Mon-Sat")
                    .price(0.0, 5.0)
                    .sometimes(0.6)
                    .note("Fertiliser for arable land"),
                need("material.spent_grain", (200.0, 1_500.0), "t/year", ALWAYS)
                    .price(20.0, 40.0)
                    .sometimes(0.5)
                    .note("Feed"),
                need("material.sawdust", (50.0, 300.0), "t/year", "Mon-Sat")
                    .price(30.0, 60.0)
                    .sometimes(0.3)
                    .note("Bedding for the farrowing pens"),
            ],
        ),
        a(
            "A01.11",
            "Ackerbau",
            "Arable farm (cereals, sugar beet, 150-500 ha): organic fertiliser in, straw and green waste out.",
            4,
            Rural,
            vec![
                need(
                    "material.digestate",
                    (1_000.0, 8_000.0),
                    "t/year",
                    "Mon-Sat",
                )
                .price(0.0, 6.0)
                .within(30.0)
                .note("Fertiliser, spread in spring and after harvest"),
                offer(
                    "material.green_waste",
                    (200.0, 2_000.0),
                    "t/year",
                    "Mon-Sat",
                )
                .price(-10.0, 10.0)
                .note("Beet leaves and catch crops"),
                need("material.manure", (1_000.0, 5_000.0), "t/year", "Mon-Sat")
                    .price(0.0, 5.0)
                    .sometimes(0.6)
                    .note("Slurry as fertiliser"),
                need(
                    "material.sewage_sludge",
                    (500.0, 3_000.0),
                    "t/year",
                    "Mon-Sat",
                )
                .price(-30.0, -10.0)
                .sometimes(0.3)
                .note("Quality-assured sludge for land application"),
                offer("material.wood_chips", (100.0, 800.0), "t/year", "Mon-Sat")
                    .price(40.0, 70.0)
                    .sometimes(0.3)
                    .note("Chips from field hedges"),
                need(
                    "water.treated_wastewater",
                    (20.0, 100.0),
                    "m3/h",
                    "daily 06:00-20:00",
                )
                .price(0.2, 0.5)
                .sometimes(0.3)
                .note("Irrigation in dry summers"),
            ],
        ),
        a(
            "E38.32",
            "Kunststoffrecycling",
            "Plastics recycling plant (sorting, washing and regranulating post-consumer packaging).",
            3,
            Park,
            vec![
                need(
                    "material.plastic_pet",
                    (2_000.0, 20_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(250.0, 400.0)
                .within(400.0)
                .note("PET bottles, bales"),
                need(
                    "material.plastic_hdpe",
                    (2_000.0, 15_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(300.0, 450.0)
                .note("HDPE containers, bales"),
                need(
                    "material.plastic_ldpe",
                    (1_000.0, 10_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(100.0, 250.0)
                .sometimes(0.7)
                .note("LDPE film"),
                need(
                    "material.plastic_pp",
                    (1_000.0, 10_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(200.0, 350.0)
                .sometimes(0.7)
                .note("PP rigid packaging"),
                offer("heat.ambient", (200.0, 600.0), "kW", THREE_SHIFTS)
                    .temp(30.0, 35.0)
                    .price(0.0, 10.0)
                    .sometimes(0.5)
                    .note("Extruder cooling water"),
                need("water.process", (10.0, 50.0), "m3/h", THREE_SHIFTS)
                    .price(1.5, 2.5)
                    .sometimes(0.6)
                    .note("Wash-line water"),
                offer(
                    "material.paper_cardboard",
                    (500.0, 3_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(40.0, 80.0)
                .sometimes(0.5)
                .note("Labels and paper sorted out"),
            ],
        ),
        a(
            "C22.22",
            "Kunststoffverarbeitung",
            "Plastic packaging converter (film extrusion, injection moulding).",
            5,
            Park,
            vec![
                offer(
                    "material.plastic_pp",
                    (200.0, 2_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(150.0, 300.0)
                .note("Clean PP production scrap"),
                offer(
                    "material.plastic_ldpe",
                    (200.0, 1_500.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(100.0, 250.0)
                .note("Film edge trim"),
                offer(
                    "material.plastic_hdpe",
                    (100.0, 1_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(150.0, 300.0)
                .sometimes(0.5)
                .note("Regrind"),
                offer("gas.compressed_air", (300.0, 1500.0), "Nm3/h", THREE_SHIFTS)
                    .bar(7.0, 10.0)
                    .price(0.01, 0.02)
                    .sometimes(0.5)
                    .note("Spare capacity of the compressor station"),
                need(
                    "material.plastic_pp",
                    (500.0, 3_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(700.0, 1000.0)
                .sometimes(0.5)
                .note("PP recyclate for packaging"),
                need(
                    "material.plastic_hdpe",
                    (300.0, 2_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(700.0, 1000.0)
                .sometimes(0.4)
                .note("HDPE recyclate"),
                need("cooling.chilled_water", (200.0, 1000.0), "kW", THREE_SHIFTS)
                    .temp(10.0, 14.0)
                    .price(40.0, 60.0)
                    .sometimes(0.4)
                    .note("Mould cooling"),
                offer("heat.ambient", (200.0, 800.0), "kW", THREE_SHIFTS)
                    .temp(28.0, 35.0)
                    .price(0.0, 10.0)
                    .sometimes(0.4)
                    .note("Hydraulics and chiller condenser heat"),
            ],
        ),
        a(
            "C23.13",
            "Glashütte",
            "Container glass works (two furnaces, 600 t glass a day).",
            2,
            Park,
            vec![
                need(
                    "material.glass_cullet",
                    (20_000.0, 100_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(50.0, 80.0)
                .within(300.0)
                .note("Colour-sorted cullet"),
                offer("heat.high_temp", (3.0, 10.0), "MW", ALWAYS)
                    .temp(400.0, 500.0)
                    .price(10.0, 25.0)
                    .note("Furnace flue gas after the regenerators"),
                offer("steam.low_pressure", (1000.0, 3000.0), "kW", ALWAYS)
                    .temp(180.0, 195.0)
                    .bar(8.0, 12.0)
                    .price(25.0, 40.0)
                    .sometimes(0.5)
                    .note("Waste-heat boiler steam"),
                need("gas.hydrogen", (500.0, 3_000.0), "t/year", ALWAYS)
                    .purity(98.0, 99.5)
                    .price(3500.0, 5000.0)
                    .sometimes(0.4)
                    .note("Fuel switch trial on one furnace"),
                need("water.cooling", (50.0, 300.0), "m3/h", ALWAYS)
                    .price(0.5, 1.0)
                    .sometimes(0.5)
                    .note("Cooling circuits"),
                offer("heat.medium_temp", (500.0, 2000.0), "kW", ALWAYS)
                    .temp(100.0, 140.0)
                    .price(10.0, 25.0)
                    .sometimes(0.5)
                    .note("Annealing-lehr exhaust heat"),
            ],
        ),
        a(
            "F41.20",
            "Bau",
            "Building contractor (residential and commercial construction, several sites at a time).",
            6,
            Park,
            vec![
                offer(
                    "material.construction_demolition",
                    (5_000.0, 50_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(-15.0, 0.0)
                .within(50.0)
                .note("Mixed concrete and masonry rubble"),
                offer(
                    "material.excavated_soil",
                    (10_000.0, 100_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(-10.0, 0.0)
                .note("Uncontaminated excavated soil (Z0)"),
                need(
                    "material.excavated_soil",
                    (5_000.0, 50_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(5.0, 15.0)
                .sometimes(0.6)
                .note("Fill for landscaping"),
                need(
                    "material.construction_demolition",
                    (5_000.0, 30_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(5.0, 12.0)
                .sometimes(0.6)
                .note("Recycled aggregate for sub-base"),
                offer(
                    "material.wood_waste",
                    (300.0, 3_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(-30.0, 0.0)
                .sometimes(0.7)
                .note("Formwork and packaging wood"),
                need(
                    "material.bottom_ash",
                    (2_000.0, 10_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(3.0, 8.0)
                .sometimes(0.4)
                .note("Road-base material"),
                offer(
                    "material.metal_ferrous",
                    (100.0, 1_500.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(150.0, 250.0)
                .sometimes(0.4)
                .note("Rebar and demolition scrap"),
            ],
        ),
        a(
            "C23.63",
            "Transportbeton",
            "Ready-mixed concrete plant: supplementary cementitious materials and recycled aggregate in.",
            3,
            Park,
            vec![
                need(
                    "material.fly_ash",
                    (2_000.0, 15_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(20.0, 40.0)
                .note("Concrete addition (EN 450)"),
                need(
                    "material.construction_demolition",
                    (5_000.0, 30_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(5.0, 12.0)
                .note("Recycled aggregate (type 1)"),
                need(
                    "material.slag",
                    (2_000.0, 10_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(30.0, 50.0)
                .sometimes(0.7)
                .note("Ground granulated blast-furnace slag"),
                need(
                    "water.treated_wastewater",
                    (5.0, 30.0),
                    "m3/h",
                    BUILDING_SITE,
                )
                .price(0.5, 1.0)
                .sometimes(0.5)
                .note("Mixing and wash water"),
                offer(
                    "material.construction_demolition",
                    (500.0, 3_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(-10.0, 0.0)
                .sometimes(0.6)
                .note("Returned concrete"),
                need("water.grey", (2.0, 10.0), "m3/h", BUILDING_SITE)
                    .price(1.0, 2.0)
                    .sometimes(0.4)
                    .note("Wash water for the truck mixers"),
            ],
        ),
        a(
            "C23.99",
            "Asphaltmischwerk",
            "Asphalt mixing plant: reclaimed asphalt, ashes and slags as aggregates, binder heating.",
            2,
            Park,
            vec![
                need(
                    "material.construction_demolition",
                    (10_000.0, 50_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(3.0, 10.0)
                .note("Reclaimed asphalt and crushed concrete"),
                need(
                    "material.bottom_ash",
                    (5_000.0, 25_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(2.0, 8.0)
                .note("Processed bottom ash as aggregate"),
                need(
                    "material.slag",
                    (5_000.0, 30_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(10.0, 20.0)
                .sometimes(0.7)
                .note("Steel slag aggregate"),
                need("heat.high_temp", (500.0, 2000.0), "kW", BUILDING_SITE)
                    .temp(170.0, 190.0)
                    .price(45.0, 60.0)
                    .sometimes(0.6)
                    .note("Bitumen tank heating (thermal oil)"),
                need(
                    "material.foundry_sand",
                    (1_000.0, 8_000.0),
                    "t/year",
                    BUILDING_SITE,
                )
                .price(0.0, 5.0)
                .sometimes(0.5)
                .note("Filler sand"),
            ],
        ),
        a(
            "C10.71",
            "Bäckerei",
            "Industrial bakery (bread and rolls, early shift six days a week).",
            5,
            Park,
            vec![
                offer("material.food_waste", (2.0, 15.0), "t/week", BAKERY)
                    .price(-60.0, -20.0)
                    .within(40.0)
                    .note("Unsold bread and dough residues"),
                offer("heat.low_temp", (50.0, 300.0), "kW", BAKERY)
                    .temp(45.0, 70.0)
                    .price(5.0, 20.0)
                    .note("Oven flue-gas heat recovery"),
                need("water.process", (2.0, 10.0), "m3/h", BAKERY)
                    .price(1.8, 2.8)
                    .sometimes(0.7)
                    .note("Dough and cleaning water"),
                offer("material.used_cooking_oil", (5.0, 40.0), "t/year", BAKERY)
                    .price(300.0, 600.0)
                    .sometimes(0.4)
                    .note("Frying fat"),
                offer("material.paper_cardboard", (20.0, 200.0), "t/year", BAKERY)
                    .price(40.0, 90.0)
                    .sometimes(0.7)
                    .note("Flour sacks and packaging"),
                need("cooling.chilled_water", (100.0, 500.0), "kW", ALWAYS)
                    .temp(6.0, 10.0)
                    .price(40.0, 60.0)
                    .sometimes(0.3)
                    .note("Dough retarders and cold stores"),
                offer("heat.ambient", (50.0, 200.0), "kW", ALWAYS)
                    .temp(28.0, 35.0)
                    .price(0.0, 10.0)
                    .sometimes(0.3)
                    .note("Refrigeration condenser heat"),
            ],
        ),
        a(
            "C10.39",
            "Gemüseverarbeitung",
            "Vegetable processing plant (washing, blanching, freezing).",
            3,
            Park,
            vec![
                offer(
                    "material.food_waste",
                    (2_000.0, 12_000.0),
                    "t/year",
                    TWO_SHIFTS,
                )
                .price(-40.0, -10.0)
                .note("Peelings and trimmings"),
                need("heat.medium_temp", (500.0, 3000.0), "kW", TWO_SHIFTS)
                    .temp(95.0, 120.0)
                    .price(40.0, 55.0)
                    .note("Blanchers"),
                need("water.process", (20.0, 120.0), "m3/h", TWO_SHIFTS)
                    .price(1.5, 2.5)
                    .note("Washing water"),
                offer("water.grey", (10.0, 60.0), "m3/h", TWO_SHIFTS)
                    .price(0.0, 0.3)
                    .sometimes(0.4)
                    .note("Rinse water after settling"),
                need("cooling.chilled_water", (500.0, 2000.0), "kW", ALWAYS)
                    .temp(4.0, 8.0)
                    .price(40.0, 60.0)
                    .sometimes(0.4)
                    .note("Pre-cooling before the freezer"),
                offer(
                    "material.green_waste",
                    (500.0, 3_000.0),
                    "t/year",
                    TWO_SHIFTS,
                )
                .price(-15.0, 0.0)
                .sometimes(0.4)
                .note("Leaves and soil-laden rejects"),
            ],
        ),
        a(
            "C10.13",
            "Fleischwarenfabrik",
            "Meat products plant (sausages, ham): refrigeration heat and animal by-products.",
            2,
            Park,
            vec![
                offer(
                    "material.food_waste",
                    (1_000.0, 6_000.0),
                    "t/year",
                    TWO_SHIFTS,
                )
                .price(-60.0, -20.0)
                .note("Category 3 animal by-products"),
                need("steam.low_pressure", (500.0, 2000.0), "kW", TWO_SHIFTS)
                    .temp(140.0, 160.0)
                    .bar(3.0, 6.0)
                    .price(45.0, 60.0)
                    .note("Cooking and smoking chambers"),
                need("cooling.chilled_water", (500.0, 2500.0), "kW", ALWAYS)
                    .temp(2.0, 6.0)
                    .price(40.0, 60.0)
                    .sometimes(0.7)
                    .note("Cold rooms"),
                offer("heat.ambient", (300.0, 1200.0), "kW", ALWAYS)
                    .temp(30.0, 38.0)
                    .price(0.0, 10.0)
                    .note("Refrigeration condenser heat"),
                offer(
                    "material.used_cooking_oil",
                    (20.0, 200.0),
                    "t/year",
                    TWO_SHIFTS,
                )
                .price(300.0, 600.0)
                .sometimes(0.4)
                .note("Rendered fat"),
                need("water.process", (10.0, 60.0), "m3/h", TWO_SHIFTS)
                    .price(1.5, 2.5)
                    .sometimes(0.5)
                    .note("Cleaning water"),
            ],
        ),
        a(
            "C25.11",
            "Metallbau",
            "Steel structures and metal fabrication.",
            6,
            Park,
            vec![
                offer(
                    "material.metal_ferrous",
                    (500.0, 5_000.0),
                    "t/year",
                    TWO_SHIFTS,
                )
                .price(200.0, 300.0)
                .note("Steel offcuts and punching scrap"),
                offer(
                    "material.metal_non_ferrous",
                    (50.0, 600.0),
                    "t/year",
                    TWO_SHIFTS,
                )
                .price(900.0, 1500.0)
                .sometimes(0.7)
                .note("Aluminium and stainless offcuts"),
                offer("material.waste_oil", (10.0, 150.0), "t/year", TWO_SHIFTS)
                    .price(-100.0, 0.0)
                    .sometimes(0.7)
                    .note("Cutting and hydraulic oils"),
                need("gas.compressed_air", (200.0, 1000.0), "Nm3/h", TWO_SHIFTS)
                    .bar(6.0, 7.0)
                    .price(0.02, 0.03)
                    .sometimes(0.4)
                    .note("Tools and blasting"),
                offer("material.wood_waste", (50.0, 400.0), "t/year", TWO_SHIFTS)
                    .price(-20.0, 0.0)
                    .sometimes(0.5)
                    .note("Pallets and crates"),
                need("heat.low_temp", (200.0, 800.0), "kW", TWO_SHIFTS)
                    .temp(50.0, 65.0)
                    .price(40.0, 55.0)
                    .sometimes(0.5)
                    .note("Hall heating and paint-shop pre-treatment"),
                offer(
                    "material.paper_cardboard",
                    (20.0, 200.0),
                    "t/year",
                    TWO_SHIFTS,
                )
                .price(30.0, 80.0)
                .sometimes(0.3)
                .note("Packaging"),
                need(
                    "material.metal_ferrous",
                    (500.0, 3_000.0),
                    "t/year",
                    TWO_SHIFTS,
                )
                .price(450.0, 650.0)
                .sometimes(0.3)
                .note("Reusable steel sections and plate from surplus stock"),
            ],
        ),
        a(
            "C13.30",
            "Textilveredelung",
            "Textile finishing and dyeing works.",
            2,
            Park,
            vec![
                need("steam.low_pressure", (500.0, 3000.0), "kW", TWO_SHIFTS)
                    .temp(130.0, 160.0)
                    .bar(3.0, 6.0)
                    .price(45.0, 60.0)
                    .note("Dyeing machines and stenters"),
                offer("material.textiles", (100.0, 2_000.0), "t/year", TWO_SHIFTS)
                    .price(-50.0, 50.0)
                    .note("Cutting waste and selvedges"),
                need("water.process", (20.0, 150.0), "m3/h", TWO_SHIFTS)
                    .price(1.5, 2.5)
                    .note("Soft water for dyeing"),
                offer("heat.low_temp", (200.0, 1000.0), "kW", TWO_SHIFTS)
                    .temp(40.0, 60.0)
                    .price(5.0, 15.0)
                    .note("Heat in the warm dye-bath effluent"),
                offer("water.grey", (10.0, 50.0), "m3/h", TWO_SHIFTS)
                    .price(0.0, 0.3)
                    .sometimes(0.4)
                    .note("Last rinse water"),
            ],
        ),
        a(
            "C13.95",
            "Vliesstoffwerk",
            "Nonwovens and insulation plant using recycled textile and PET fibre.",
            2,
            Park,
            vec![
                need(
                    "material.textiles",
                    (2_000.0, 10_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(50.0, 150.0)
                .within(400.0)
                .note("Post-consumer and industrial textiles for tearing"),
                need(
                    "material.plastic_pet",
                    (1_000.0, 8_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(300.0, 500.0)
                .note("PET flakes for fibre spinning"),
                need("heat.medium_temp", (500.0, 2500.0), "kW", THREE_SHIFTS)
                    .temp(100.0, 130.0)
                    .price(40.0, 55.0)
                    .sometimes(0.7)
                    .note("Thermobonding ovens"),
                offer("heat.ambient", (200.0, 800.0), "kW", THREE_SHIFTS)
                    .temp(30.0, 38.0)
                    .price(0.0, 10.0)
                    .sometimes(0.5)
                    .note("Spinning-line cooling"),
                offer("material.textiles", (100.0, 800.0), "t/year", THREE_SHIFTS)
                    .price(-30.0, 20.0)
                    .sometimes(0.4)
                    .note("Fibre dust and rejects"),
                offer(
                    "material.plastic_pp",
                    (100.0, 800.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(100.0, 300.0)
                .sometimes(0.4)
                .note("Spunbond PP edge trim"),
            ],
        ),
        a(
            "E38.11",
            "Entsorgung",
            "Waste collection and sorting (commercial and household recyclables).",
            4,
            Park,
            vec![
                offer(
                    "material.paper_cardboard",
                    (5_000.0, 40_000.0),
                    "t/year",
                    SIX_DAYS,
                )
                .price(60.0, 110.0)
                .note("Sorted paper and cardboard"),
                offer(
                    "material.plastic_pet",
                    (1_000.0, 6_000.0),
                    "t/year",
                    SIX_DAYS,
                )
                .price(150.0, 300.0)
                .note("PET bottle bales"),
                offer(
                    "material.glass_cullet",
                    (2_000.0, 15_000.0),
                    "t/year",
                    SIX_DAYS,
                )
                .price(20.0, 50.0)
                .note("Collected container glass"),
                offer(
                    "material.wood_waste",
                    (1_000.0, 8_000.0),
                    "t/year",
                    SIX_DAYS,
                )
                .price(-30.0, 10.0)
                .note("Recycled wood, grades A I-A III"),
                offer("material.textiles", (200.0, 1_500.0), "t/year", SIX_DAYS)
                    .price(0.0, 150.0)
                    .sometimes(0.5)
                    .note("Collected used clothing"),
                offer(
                    "material.plastic_hdpe",
                    (500.0, 4_000.0),
                    "t/year",
                    SIX_DAYS,
                )
                .price(150.0, 300.0)
                .sometimes(0.5)
                .note("HDPE container bales"),
                offer(
                    "material.metal_ferrous",
                    (1_000.0, 10_000.0),
                    "t/year",
                    SIX_DAYS,
                )
                .price(150.0, 250.0)
                .sometimes(0.5)
                .note("Tinplate and mixed scrap"),
                offer(
                    "material.used_cooking_oil",
                    (100.0, 1_000.0),
                    "t/year",
                    SIX_DAYS,
                )
                .price(400.0, 700.0)
                .sometimes(0.3)
                .note("Collected from restaurants"),
            ],
        ),
        a(
            "E38.22",
            "Sonderabfall",
            "Hazardous waste treatment (solvent distillation, oil re-refining, incineration with steam export).",
            2,
            Park,
            vec![
                need(
                    "material.solvents",
                    (1_000.0, 10_000.0),
                    "t/year",
                    TWO_SHIFTS,
                )
                .price(-150.0, -50.0)
                .within(300.0)
                .note("Spent solvents for distillation (gate fee)"),
                need(
                    "material.waste_oil",
                    (1_000.0, 20_000.0),
                    "t/year",
                    TWO_SHIFTS,
                )
                .price(-50.0, 50.0)
                .note("Used lubricants for re-refining"),
                offer("steam.low_pressure", (2000.0, 8000.0), "kW", ALWAYS)
                    .temp(180.0, 195.0)
                    .bar(10.0, 14.0)
                    .price(20.0, 35.0)
                    .sometimes(0.8)
                    .note("Steam from the incinerator's waste-heat boiler"),
                offer("material.bottom_ash", (2_000.0, 10_000.0), "t/year", ALWAYS)
                    .price(-40.0, -10.0)
                    .sometimes(0.6)
                    .note("Incinerator bottom ash after metal recovery"),
                offer("material.solvents", (500.0, 3_000.0), "t/year", TWO_SHIFTS)
                    .price(200.0, 600.0)
                    .sometimes(0.5)
                    .note("Recovered solvents, distilled"),
            ],
        ),
        a(
            "E36.00",
            "Wasserversorgung",
            "Water utility supplying industrial process and cooling water.",
            4,
            Park,
            vec![
                offer("water.process", (200.0, 2000.0), "m3/h", ALWAYS)
                    .price(1.2, 2.0)
                    .note("Demineralised and softened process water"),
                offer("water.cooling", (500.0, 4000.0), "m3/h", ALWAYS)
                    .price(0.3, 0.7)
                    .note("Untreated river water for cooling"),
                offer("heat.heat_pump_source", (0.5, 3.0), "MW", ALWAYS)
                    .temp(10.0, 14.0)
                    .price(0.0, 5.0)
                    .sometimes(0.5)
                    .note("Groundwater heat from the wells"),
                offer(
                    "material.excavated_soil",
                    (500.0, 3_000.0),
                    "t/year",
                    DAY_SHIFT,
                )
                .price(-10.0, 0.0)
                .sometimes(0.4)
                .note("Spoil from pipe works"),
                offer("water.grey", (10.0, 60.0), "m3/h", ALWAYS)
                    .price(0.0, 0.2)
                    .sometimes(0.4)
                    .note("Filter backwash water after settling"),
            ],
        ),
        a(
            "H52.10",
            "Kühlhaus",
            "Cold store and logistics centre (deep-frozen and chilled goods).",
            3,
            Park,
            vec![
                need("cooling.chilled_water", (500.0, 3000.0), "kW", ALWAYS)
                    .temp(6.0, 10.0)
                    .price(40.0, 60.0)
                    .note("Pre-cooling of the refrigeration plant"),
                offer("heat.ambient", (300.0, 1500.0), "kW", ALWAYS)
                    .temp(28.0, 35.0)
                    .price(0.0, 10.0)
                    .note("Condenser heat of the ammonia plant"),
                offer(
                    "material.paper_cardboard",
                    (100.0, 800.0),
                    "t/year",
                    SIX_DAYS,
                )
                .price(50.0, 90.0)
                .sometimes(0.6)
                .note("Transport packaging"),
                offer("material.plastic_ldpe", (50.0, 400.0), "t/year", SIX_DAYS)
                    .price(50.0, 150.0)
                    .sometimes(0.6)
                    .note("Stretch film"),
                offer("material.wood_waste", (100.0, 600.0), "t/year", SIX_DAYS)
                    .price(-20.0, 0.0)
                    .sometimes(0.5)
                    .note("Broken pallets"),
                need("heat.low_temp", (100.0, 500.0), "kW", OFFICE)
                    .temp(40.0, 50.0)
                    .price(45.0, 60.0)
                    .sometimes(0.4)
                    .note("Underfloor frost protection and offices"),
            ],
        ),
        a(
            "R93.11",
            "Sportbad",
            "Indoor swimming pool and ice rink.",
            3,
            Park,
            vec![
                need("heat.low_temp", (200.0, 900.0), "kW", "daily 06:00-23:00")
                    .temp(40.0, 50.0)
                    .price(45.0, 60.0)
                    .within(5.0)
                    .note("Pool water and hall heating"),
                offer("heat.ambient", (100.0, 400.0), "kW", "daily 06:00-23:00")
                    .temp(25.0, 32.0)
                    .price(0.0, 10.0)
                    .sometimes(0.6)
                    .note("Ice-rink chiller condenser heat"),
                offer("water.grey", (2.0, 10.0), "m3/h", "daily 06:00-23:00")
                    .price(0.0, 0.3)
                    .sometimes(0.7)
                    .note("Filter backwash and shower water"),
                need("heat.ambient", (100.0, 300.0), "kW", "daily 06:00-23:00")
                    .temp(24.0, 28.0)
                    .price(35.0, 45.0)
                    .sometimes(0.5)
                    .note("Pool water top-up heating"),
                need("water.process", (2.0, 10.0), "m3/h", "daily 06:00-23:00")
                    .price(1.8, 2.8)
                    .sometimes(0.5)
                    .note("Pool make-up water"),
            ],
        ),
        a(
            "A03.22",
            "Aquakultur",
            "Recirculating fish farm (pike-perch, 200-800 t a year), sited next to a source of warm water.",
            2,
            Park,
            vec![
                need("heat.ambient", (200.0, 1000.0), "kW", ALWAYS)
                    .temp(20.0, 26.0)
                    .price(35.0, 45.0)
                    .within(3.0)
                    .note("Tank water at 24 °C"),
                need("water.process", (5.0, 30.0), "m3/h", ALWAYS)
                    .price(1.5, 2.5)
                    .note("Fresh water top-up"),
                offer("material.manure", (100.0, 600.0), "t/year", ALWAYS)
                    .price(-10.0, 0.0)
                    .sometimes(0.6)
                    .note("Fish sludge from the drum filters"),
                need("gas.co2", (10.0, 40.0), "kg/h", ALWAYS)
                    .purity(95.0, 99.0)
                    .price(100.0, 150.0)
                    .sometimes(0.4)
                    .note("pH control"),
            ],
        ),
        a(
            "Q86.10",
            "Klinikum",
            "Hospital (600-1,200 beds) with its own energy centre, kitchen and laundry.",
            2,
            Park,
            vec![
                need("heat.low_temp", (800.0, 3000.0), "kW", ALWAYS)
                    .temp(60.0, 70.0)
                    .price(45.0, 60.0)
                    .note("Space heating and hot water"),
                need("steam.low_pressure", (300.0, 1000.0), "kW", ALWAYS)
                    .temp(130.0, 150.0)
                    .bar(3.0, 4.0)
                    .price(50.0, 65.0)
                    .sometimes(0.6)
                    .note("Sterilisation and humidification"),
                need("cooling.chilled_water", (500.0, 2500.0), "kW", ALWAYS)
                    .temp(6.0, 8.0)
                    .price(40.0, 60.0)
                    .sometimes(0.7)
                    .note("Operating theatres and IT"),
                offer(
                    "material.food_waste",
                    (100.0, 500.0),
                    "t/year",
                    "daily 06:00-20:00",
                )
                .price(-70.0, -30.0)
                .sometimes(0.8)
                .note("Kitchen and plate waste"),
                offer("material.textiles", (20.0, 100.0), "t/year", DAY_SHIFT)
                    .price(-30.0, 0.0)
                    .sometimes(0.4)
                    .note("Worn linen"),
            ],
        ),
        a(
            "S96.01",
            "Großwäscherei",
            "Industrial laundry (hospital and hotel linen, 30-80 t a day).",
            2,
            Park,
            vec![
                need("heat.low_temp", (300.0, 1500.0), "kW", SIX_DAYS)
                    .temp(55.0, 70.0)
                    .price(45.0, 60.0)
                    .note("Washing-tunnel water heating"),
                need("water.grey", (5.0, 25.0), "m3/h", SIX_DAYS)
                    .price(1.0, 2.0)
                    .note("Pre-wash water"),
                offer("heat.ambient", (100.0, 500.0), "kW", SIX_DAYS)
                    .temp(30.0, 38.0)
                    .price(0.0, 10.0)
                    .note("Heat in the waste water"),
                need("steam.low_pressure", (500.0, 1500.0), "kW", SIX_DAYS)
                    .temp(170.0, 180.0)
                    .bar(8.0, 10.0)
                    .price(50.0, 65.0)
                    .sometimes(0.5)
                    .note("Ironers and finishers"),
                offer("material.textiles", (50.0, 300.0), "t/year", SIX_DAYS)
                    .price(-20.0, 20.0)
                    .sometimes(0.6)
                    .note("Discarded linen"),
            ],
        ),
        a(
            "L68.20",
            "Büropark",
            "Office and business park (80,000 m2 lettable area).",
            3,
            Park,
            vec![
                need(
                    "heat.low_temp",
                    (2000.0, 8000.0),
                    "MWh/year",
                    "Mon-Fri 06:00-19:00",
                )
                .temp(45.0, 55.0)
                .price(45.0, 60.0)
                .note("Space heating (low-temperature radiators)"),
                need("cooling.chilled_water", (300.0, 1500.0), "kW", OFFICE)
                    .temp(8.0, 12.0)
                    .price(40.0, 60.0)
                    .sometimes(0.7)
                    .note("Air conditioning"),
                offer("material.paper_cardboard", (50.0, 300.0), "t/year", OFFICE)
                    .price(30.0, 80.0)
                    .sometimes(0.7)
                    .note("Office paper and packaging"),
                offer("water.grey", (1.0, 5.0), "m3/h", OFFICE)
                    .price(0.0, 0.3)
                    .sometimes(0.4)
                    .note("Hand-basin water"),
                offer("material.food_waste", (30.0, 200.0), "t/year", OFFICE)
                    .price(-70.0, -30.0)
                    .sometimes(0.5)
                    .note("Canteen waste"),
                need("heat.heat_pump_source", (200.0, 1000.0), "kW", OFFICE)
                    .temp(12.0, 20.0)
                    .price(5.0, 15.0)
                    .sometimes(0.3)
                    .note("Source heat for the buildings' heat pumps"),
            ],
        ),
        a(
            "N81.30",
            "Landschaftsbau",
            "Landscaping and parks maintenance contractor.",
            2,
            Rural,
            vec![
                offer(
                    "material.green_waste",
                    (1_000.0, 5_000.0),
                    "t/year",
                    "Mon-Sat",
                )
                .price(-25.0, -5.0)
                .note("Grass cuttings, leaves and hedge trimmings"),
                need(
                    "material.excavated_soil",
                    (1_000.0, 10_000.0),
                    "t/year",
                    "Mon-Sat",
                )
                .price(3.0, 10.0)
                .sometimes(0.7)
                .note("Topsoil and fill"),
                need("material.digestate", (200.0, 1_500.0), "t/year", "Mon-Sat")
                    .price(0.0, 15.0)
                    .sometimes(0.5)
                    .note("Compost and solid digestate for planting"),
                offer("material.wood_chips", (500.0, 3_000.0), "t/year", "Mon-Sat")
                    .price(30.0, 60.0)
                    .sometimes(0.6)
                    .note("Chips from tree care"),
                offer(
                    "material.excavated_soil",
                    (500.0, 5_000.0),
                    "t/year",
                    "Mon-Sat",
                )
                .price(-8.0, 0.0)
                .sometimes(0.4)
                .note("Surplus soil from garden projects"),
            ],
        ),
        a(
            "C19.20",
            "Raffinerie",
            "Refinery (crude distillation, hydrotreating, a lube-oil re-refining unit).",
            1,
            Park,
            vec![
                need("material.waste_oil", (5_000.0, 30_000.0), "t/year", ALWAYS)
                    .price(50.0, 150.0)
                    .within(300.0)
                    .note("Used lubricants for re-refining"),
                offer("gas.hydrogen", (2000.0, 8000.0), "t/year", ALWAYS)
                    .purity(99.5, 99.9)
                    .price(3000.0, 4500.0)
                    .note("Reformer hydrogen surplus"),
                offer("steam.high_pressure", (5.0, 20.0), "MW", ALWAYS)
                    .temp(250.0, 350.0)
                    .bar(20.0, 40.0)
                    .price(25.0, 40.0)
                    .note("Steam from the CHP plant"),
                need("water.cooling", (1000.0, 5000.0), "m3/h", ALWAYS)
                    .price(0.3, 0.7)
                    .note("Cooling-tower make-up"),
                offer("heat.medium_temp", (5.0, 20.0), "MW", ALWAYS)
                    .temp(100.0, 140.0)
                    .price(10.0, 25.0)
                    .note("Product-cooler heat"),
                need("water.treated_wastewater", (200.0, 800.0), "m3/h", ALWAYS)
                    .price(0.3, 0.7)
                    .sometimes(0.5)
                    .note("Reclaimed water for the cooling towers"),
                offer("gas.co2", (20_000.0, 100_000.0), "t/year", ALWAYS)
                    .purity(99.0, 99.9)
                    .price(30.0, 60.0)
                    .sometimes(0.5)
                    .note("High-purity CO2 from the hydrogen plant"),
            ],
        ),
        a(
            "C29.10",
            "Fahrzeugwerk",
            "Vehicle assembly plant (body shop, paint shop, final assembly).",
            1,
            Park,
            vec![
                offer(
                    "material.metal_ferrous",
                    (5_000.0, 30_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(250.0, 320.0)
                .note("Press-shop steel scrap"),
                offer(
                    "material.metal_non_ferrous",
                    (500.0, 4_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(1000.0, 1500.0)
                .note("Aluminium scrap"),
                offer("material.solvents", (100.0, 800.0), "t/year", THREE_SHIFTS)
                    .price(-150.0, -50.0)
                    .note("Paint-shop purge solvents"),
                need("heat.low_temp", (1.0, 5.0), "MW", THREE_SHIFTS)
                    .temp(50.0, 70.0)
                    .price(40.0, 55.0)
                    .note("Pre-treatment baths and hall heating"),
                offer(
                    "material.paper_cardboard",
                    (500.0, 3_000.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(50.0, 90.0)
                .note("Parts packaging"),
                need(
                    "cooling.chilled_water",
                    (1000.0, 4000.0),
                    "kW",
                    THREE_SHIFTS,
                )
                .temp(6.0, 12.0)
                .price(40.0, 60.0)
                .sometimes(0.5)
                .note("Paint-shop air conditioning"),
                offer(
                    "material.plastic_pp",
                    (200.0, 1_500.0),
                    "t/year",
                    THREE_SHIFTS,
                )
                .price(100.0, 250.0)
                .sometimes(0.5)
                .note("Bumper and trim scrap"),
            ],
        ),
        a(
            "I56.29",
            "Großküche",
            "Contract caterer and central kitchen (10,000-30,000 meals a day).",
            3,
            Park,
            vec![
                offer(
                    "material.food_waste",
                    (200.0, 1_500.0),
                    "t/year",
                    "daily 05:00-15:00",
                )
                .price(-70.0, -30.0)
                .within(50.0)
                .note("Preparation and plate waste"),
                offer(
                    "material.used_cooking_oil",
                    (20.0, 150.0),
                    "t/year",
                    "daily 05:00-15:00",
                )
                .price(400.0, 700.0)
                .note("Used frying oil"),
                offer(
                    "material.paper_cardboard",
                    (50.0, 300.0),
                    "t/year",
                    "daily 05:00-15:00",
                )
                .price(40.0, 80.0)
                .sometimes(0.5)
                .note("Packaging"),
                need("heat.low_temp", (200.0, 800.0), "kW", "daily 05:00-15:00")
                    .temp(55.0, 65.0)
                    .price(45.0, 60.0)
                    .sometimes(0.5)
                    .note("Dishwashing and hot water"),
                need("cooling.chilled_water", (200.0, 800.0), "kW", ALWAYS)
                    .temp(4.0, 8.0)
                    .price(40.0, 60.0)
                    .sometimes(0.5)
                    .note("Cold rooms of the kitchen"),
                offer("heat.ambient", (100.0, 400.0), "kW", ALWAYS)
                    .temp(28.0, 35.0)
                    .price(0.0, 10.0)
                    .sometimes(0.3)
                    .note("Refrigeration condenser heat"),
            ],
        ),
        a(
            "C20.59",
            "Biodiesel",
            "Biodiesel and HVO plant running on used cooking oil and animal fats.",
            1,
            Park,
            vec![
                need(
                    "material.used_cooking_oil",
                    (5_000.0, 50_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(700.0, 950.0)
                .within(400.0)
                .note("Used cooking oil and rendered fat as feedstock"),
                need("gas.hydrogen", (500.0, 3_000.0), "t/year", ALWAYS)
                    .purity(99.5, 99.9)
                    .price(4000.0, 6000.0)
                    .sometimes(0.6)
                    .note("Hydrotreating"),
                need("steam.low_pressure", (1000.0, 4000.0), "kW", ALWAYS)
                    .temp(150.0, 180.0)
                    .bar(4.0, 8.0)
                    .price(45.0, 60.0)
                    .note("Esterification and distillation"),
                offer("heat.low_temp", (500.0, 2000.0), "kW", ALWAYS)
                    .temp(50.0, 70.0)
                    .price(5.0, 15.0)
                    .sometimes(0.6)
                    .note("Product-cooling heat"),
                need("material.waste_oil", (1_000.0, 5_000.0), "t/year", ALWAYS)
                    .price(0.0, 100.0)
                    .sometimes(0.4)
                    .note("Trial feedstock"),
            ],
        ),
        a(
            "E38.21",
            "Müllheizkraftwerk",
            "Waste-to-energy plant (municipal and commercial waste, 300,000-700,000 t a year) exporting steam, district heat and recovered metals.",
            2,
            Park,
            vec![
                offer("steam.low_pressure", (5.0, 20.0), "MW", ALWAYS)
                    .temp(170.0, 195.0)
                    .bar(8.0, 12.0)
                    .price(20.0, 35.0)
                    .note("Process steam from the turbine extraction"),
                offer("heat.low_temp", (30_000.0, 150_000.0), "MWh/year", ALWAYS)
                    .temp(80.0, 90.0)
                    .price(15.0, 30.0)
                    .note("Condenser heat beyond what the district network takes in summer"),
                offer(
                    "material.bottom_ash",
                    (30_000.0, 100_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(-15.0, 0.0)
                .note("Aged bottom ash after metal recovery"),
                offer("steam.high_pressure", (5.0, 20.0), "MW", ALWAYS)
                    .temp(300.0, 400.0)
                    .bar(30.0, 40.0)
                    .price(25.0, 40.0)
                    .sometimes(0.6)
                    .note("Live steam from the boilers"),
                offer(
                    "material.metal_ferrous",
                    (2_000.0, 8_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(80.0, 150.0)
                .sometimes(0.8)
                .note("Ferrous scrap from the bottom ash"),
                offer(
                    "material.metal_non_ferrous",
                    (300.0, 1_500.0),
                    "t/year",
                    ALWAYS,
                )
                .price(500.0, 1000.0)
                .sometimes(0.6)
                .note("Non-ferrous metals from eddy-current separation"),
                need(
                    "material.wood_waste",
                    (10_000.0, 40_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(-40.0, -10.0)
                .sometimes(0.5)
                .note("Recycled wood A III-A IV as fuel (gate fee)"),
                need(
                    "material.sewage_sludge",
                    (5_000.0, 30_000.0),
                    "t/year",
                    ALWAYS,
                )
                .price(-80.0, -50.0)
                .sometimes(0.4)
                .note("Dewatered sludge for co-incineration (gate fee)"),
                need("water.treated_wastewater", (50.0, 300.0), "m3/h", ALWAYS)
                    .price(0.3, 0.7)
                    .sometimes(0.4)
                    .note("Reclaimed water for the flue-gas scrubber"),
                offer("cooling.chilled_water", (1.0, 4.0), "MW", ALWAYS)
                    .temp(5.0, 7.0)
                    .price(20.0, 35.0)
                    .sometimes(0.4)
                    .note("Absorption chillers driven by turbine steam"),
            ],
        ),
        a(
            "D35.22",
            "Gasnetz",
            "Municipal gas grid operator with biomethane injection and hydrogen blending points.",
            2,
            Park,
            vec![
                need("gas.biogas", (300.0, 1500.0), "Nm3/h", ALWAYS)
                    .price(0.45, 0.7)
                    .within(20.0)
                    .note("Biogas for upgrading and grid injection"),
                need("gas.hydrogen", (200.0, 2_000.0), "t/year", ALWAYS)
                    .purity(98.0, 99.9)
                    .price(3500.0, 5000.0)
                    .sometimes(0.5)
                    .note("Hydrogen for blending (up to 10 %)"),
                offer("heat.heat_pump_source", (200.0, 1000.0), "kW", ALWAYS)
                    .temp(15.0, 25.0)
                    .price(0.0, 5.0)
                    .sometimes(0.5)
                    .note("Compressor-station cooling heat"),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, HashSet};

    use chrono::Utc;

    use super::*;
    use crate::geo::haversine_km;
    use crate::model::FlowIdentity;
    use crate::taxonomy::Taxonomy;

    /// Every category the demo must use (DESIGN §1 and the issue).
    const EXPECTED_CATEGORIES: [&str; 43] = [
        "heat.ambient",
        "heat.low_temp",
        "heat.medium_temp",
        "heat.high_temp",
        "heat.heat_pump_source",
        "steam.low_pressure",
        "steam.high_pressure",
        "cooling.chilled_water",
        "water.process",
        "water.cooling",
        "water.treated_wastewater",
        "water.grey",
        "gas.co2",
        "gas.hydrogen",
        "gas.biogas",
        "gas.compressed_air",
        "material.fly_ash",
        "material.bottom_ash",
        "material.fgd_gypsum",
        "material.slag",
        "material.wood_chips",
        "material.sawdust",
        "material.wood_waste",
        "material.food_waste",
        "material.spent_grain",
        "material.whey",
        "material.manure",
        "material.digestate",
        "material.green_waste",
        "material.plastic_pet",
        "material.plastic_hdpe",
        "material.plastic_ldpe",
        "material.plastic_pp",
        "material.metal_ferrous",
        "material.metal_non_ferrous",
        "material.glass_cullet",
        "material.paper_cardboard",
        "material.sewage_sludge",
        "material.solvents",
        "material.waste_oil",
        "material.textiles",
        "material.construction_demolition",
        "material.excavated_soil",
    ];

    fn identity() -> FlowIdentity {
        let now = Utc::now();
        FlowIdentity {
            id: Uuid::nil(),
            business_id: Uuid::nil(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    fn flows(
        region: &[DemoBusiness],
    ) -> impl Iterator<Item = (&DemoBusiness, &DemoSite, &FlowDraft)> {
        region
            .iter()
            .flat_map(|b| b.sites.iter().map(move |s| (b, s)))
            .flat_map(|(b, s)| s.flows.iter().map(move |f| (b, s, f)))
    }

    #[test]
    fn the_same_seed_gives_the_same_region() {
        assert_eq!(region(7, 300), region(7, 300));
        assert_eq!(
            region(DEMO_SEED, DEMO_BUSINESSES),
            region(DEMO_SEED, DEMO_BUSINESSES)
        );
        assert_ne!(region(7, 50), region(8, 50));
        assert_eq!(region(7, 0).len(), 0);
        assert_eq!(region(7, 1).len(), 1);
    }

    #[test]
    fn every_demo_draft_validates_against_the_builtin_taxonomy() {
        let taxonomy = Taxonomy::builtin().expect("builtin taxonomy");
        let demo = region(DEMO_SEED, DEMO_BUSINESSES);
        for b in &demo {
            let business = b.business.clone().validate().expect("business validates");
            assert!(!b.sites.is_empty(), "{}", business.name);
            assert!(
                b.sites.iter().any(|s| !s.flows.is_empty()),
                "{} has no flow",
                business.name
            );
            for s in &b.sites {
                s.site.clone().validate().expect("site validates");
                for f in &s.flows {
                    assert_eq!(f.site_id, Uuid::nil());
                    assert!(taxonomy.category(&f.category).is_some(), "{}", f.category);
                    if let Err(e) = f.clone().validate(&taxonomy, identity()) {
                        panic!(
                            "{} ({}) {}: {e}",
                            business.name, business.industry, f.category
                        );
                    }
                }
            }
        }
        // A larger region draws more combinations of the ranges: they validate too.
        for (b, _, f) in flows(&region(3, 2_000)) {
            if let Err(e) = f.clone().validate(&taxonomy, identity()) {
                panic!("{} {}: {e}", b.business.name, f.category);
            }
        }
    }

    #[test]
    fn the_demo_is_diverse_and_every_category_has_both_sides() {
        let demo = region(DEMO_SEED, DEMO_BUSINESSES);
        assert!(demo.len() >= 150);
        let divisions: BTreeSet<String> = demo
            .iter()
            .map(|b| {
                let code = b.business.clone().validate().expect("valid").industry;
                code[..3].to_string()
            })
            .collect();
        assert!(divisions.len() >= 15, "{divisions:?}");
        let industries: BTreeSet<&str> =
            demo.iter().map(|b| b.business.industry.as_str()).collect();
        assert!(industries.len() >= 30, "{industries:?}");

        let mut sides: BTreeMap<&str, BTreeSet<Direction>> = BTreeMap::new();
        for (_, _, f) in flows(&demo) {
            sides
                .entry(f.category.as_str())
                .or_default()
                .insert(f.direction);
        }
        for code in EXPECTED_CATEGORIES {
            let found = sides.get(code).map(BTreeSet::len).unwrap_or(0);
            assert_eq!(
                found, 2,
                "{code} is not offered and needed in the demo: {sides:?}"
            );
        }
        let count = flows(&demo).count();
        assert!((700..1100).contains(&count), "{count} flows");
        let names: HashSet<&str> = demo.iter().map(|b| b.business.name.as_str()).collect();
        assert_eq!(names.len(), demo.len(), "names are unique");
        assert!(
            demo.iter().any(|b| b.sites.len() == 2),
            "some businesses have two sites"
        );
    }

    #[test]
    fn the_demo_lies_in_a_60_km_region_and_greenhouses_have_heat_nearby() {
        let demo = region(DEMO_SEED, DEMO_BUSINESSES);
        let points: Vec<GeoPoint> = demo
            .iter()
            .flat_map(|b| b.sites.iter().map(|s| s.site.location))
            .collect();
        let widest = points
            .iter()
            .flat_map(|a| points.iter().map(move |b| haversine_km(*a, *b)))
            .fold(0.0, f64::max);
        assert!((30.0..=80.0).contains(&widest), "{widest} km across");

        let heat_offers: Vec<(GeoPoint, f64)> = flows(&demo)
            .filter(|(_, _, f)| {
                f.direction == Direction::Offer
                    && (f.category.starts_with("steam.")
                        || (f.category.starts_with("heat.") && f.category != "heat.ambient"))
            })
            .map(|(_, s, f)| (s.site.location, f.quality.temperature_c.unwrap_or_default()))
            .collect();
        let greenhouse_needs: Vec<(GeoPoint, f64)> = flows(&demo)
            .filter(|(b, _, f)| b.business.industry == "A01.13" && f.category == "heat.low_temp")
            .map(|(_, s, f)| (s.site.location, f.quality.temperature_c.unwrap_or_default()))
            .collect();
        let served = greenhouse_needs
            .iter()
            .filter(|(at, t)| {
                heat_offers
                    .iter()
                    .any(|(o, ot)| *ot >= t + 10.0 && haversine_km(*at, *o) <= 10.0)
            })
            .count();
        assert!(greenhouse_needs.len() >= 4, "{greenhouse_needs:?}");
        assert!(
            served * 2 >= greenhouse_needs.len(),
            "only {served} of {} greenhouses have a hot enough source within 10 km",
            greenhouse_needs.len()
        );
    }

    /// FNV-1a (64 bit) of the region's `Debug` text, which spells out every field of every draft
    /// (floats in their shortest exact form): any change to a name, place, figure or the order of
    /// the draws changes it.
    fn digest(region: &[DemoBusiness]) -> u64 {
        format!("{region:?}")
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            })
    }

    /// (businesses, sites, flows, digest) of a region.
    fn summary(seed: u64, business_count: usize) -> (usize, usize, usize, u64) {
        let region = region(seed, business_count);
        let sites = region.iter().map(|b| b.sites.len()).sum();
        (region.len(), sites, flows(&region).count(), digest(&region))
    }

    /// Pinned: a change of the generator or of its tables must not change the regions the demo,
    /// the tests and the benchmarks use. Update the figures only for an intended change.
    #[test]
    fn the_generated_regions_are_pinned() {
        assert_eq!(
            summary(42, 200),
            (200, 222, 1014, 0x5db4f793f802d969),
            "region(42, 200)"
        );
        assert_eq!(
            summary(DEMO_SEED, DEMO_BUSINESSES),
            (180, 195, 884, 0xae7ea63a3e76151b),
            "the demo"
        );
        assert_eq!(
            summary(7, 2_000),
            (2000, 2226, 10059, 0x8d8a574c94ac61fc),
            "region(7, 2000)"
        );
    }

    #[test]
    fn a_large_region_keeps_about_five_flows_per_business_and_unique_names() {
        let big = region(1, 10_000);
        assert_eq!(big.len(), 10_000);
        let count = flows(&big).count();
        assert!((40_000..60_000).contains(&count), "{count} flows");
        let names: HashSet<&str> = big.iter().map(|b| b.business.name.as_str()).collect();
        assert_eq!(names.len(), big.len());
    }
}
