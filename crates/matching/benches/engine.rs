//! Matching-engine benchmark (no harness): full rebuild, single flow changes, memory, and the
//! brute-force all-pairs baseline, on a seeded synthetic region of industrial parks.
//!
//! Run: `cargo bench -p symbiont-matching` (optionally `-- N` for another number of businesses).
//! Workload: N businesses, one site each, in N/25 industrial parks (Gaussian, σ = 1.5 km) scattered
//! over a 780 × 620 km region; 5 flows per business (5N) drawn over the shipped taxonomy
//! (heat/steam/cooling 30 %, water 20 %, gas 10 %, materials 40 %), with quality inside the
//! category's band, log-uniform amounts, common weekly schedules, stated prices and maximum
//! distances for about half of the flows, validity windows for 10 % and 5 % paused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use symbiont_core::{
    Dimension, Direction, Flow, FlowStatus, GeoPoint, Quality, Quantity, Taxonomy, WeeklyProfile,
    geo::EARTH_RADIUS_KM,
};
use symbiont_matching::{Engine, FlowInput, MatchingConfig, reference};
use uuid::Uuid;

/// splitmix64: a tiny, well-distributed seeded generator (Steele, Lea & Flood 2014).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn log_range(&mut self, lo: f64, hi: f64) -> f64 {
        (self.range(lo.ln(), hi.ln())).exp()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = self.unit().max(f64::MIN_POSITIVE);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }

    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(
            ((u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())).to_le_bytes(),
        )
        .into_uuid()
    }
}

const SCHEDULES: [(&str, f64); 6] = [
    ("24/7", 0.45),
    ("Mon-Fri 06:00-22:00", 0.2),
    ("Mon-Fri 08:00-18:00", 0.1),
    ("Mon-Sat 06:00-22:00", 0.1),
    ("daily 22:00-06:00", 0.05),
    ("daily @0.5", 0.1),
];

struct Generator<'a> {
    rng: SplitMix64,
    taxonomy: &'a Taxonomy,
    groups: Vec<(f64, Vec<usize>)>,
    profiles: Vec<WeeklyProfile>,
}

struct Workload {
    flows: Vec<FlowInput>,
    /// Site id and location of each business's site.
    sites: Vec<(Uuid, GeoPoint)>,
}

fn offset_km(p: GeoPoint, north_km: f64, east_km: f64) -> GeoPoint {
    let lat = p.lat + (north_km / EARTH_RADIUS_KM).to_degrees();
    let lon = p.lon + (east_km / (EARTH_RADIUS_KM * p.lat.to_radians().cos())).to_degrees();
    GeoPoint {
        lat: lat.clamp(-90.0, 90.0),
        lon,
    }
}

impl<'a> Generator<'a> {
    fn new(taxonomy: &'a Taxonomy, seed: u64) -> Self {
        let pick = |prefixes: &[&str]| -> Vec<usize> {
            let cats = taxonomy.categories();
            (0..cats.len())
                .filter(|&i| prefixes.iter().any(|p| cats[i].code.starts_with(p)))
                .collect()
        };
        let groups = vec![
            (0.30, pick(&["heat.", "steam.", "cooling."])),
            (0.20, pick(&["water."])),
            (0.10, pick(&["gas."])),
            (0.40, pick(&["material."])),
        ]
        .into_iter()
        .filter(|(_, c)| !c.is_empty())
        .collect();
        let profiles = SCHEDULES
            .iter()
            .map(|(s, _)| WeeklyProfile::parse_schedule(s).expect("the schedules are valid"))
            .collect();
        Self {
            rng: SplitMix64(seed),
            taxonomy,
            groups,
            profiles,
        }
    }

    fn category(&mut self) -> usize {
        let total: f64 = self.groups.iter().map(|(w, _)| w).sum();
        let mut x = self.rng.unit() * total;
        for (w, cats) in &self.groups {
            if x < *w {
                return cats[self.rng.below(cats.len())];
            }
            x -= w;
        }
        let (_, cats) = &self.groups[self.groups.len() - 1];
        cats[self.rng.below(cats.len())]
    }

    fn profile(&mut self) -> (usize, WeeklyProfile) {
        let mut x = self.rng.unit();
        for (i, (_, w)) in SCHEDULES.iter().enumerate() {
            if x < *w {
                return (i, self.profiles[i].clone());
            }
            x -= w;
        }
        (0, self.profiles[0].clone())
    }

    fn flow(&mut self, id: Uuid, business: Uuid, site: Uuid) -> Flow {
        let c = &self.taxonomy.categories()[self.category()];
        let rng = &mut self.rng;
        let direction = if rng.chance(0.5) {
            Direction::Offer
        } else {
            Direction::Need
        };
        let code = c.code.as_str();
        let mut quality = Quality::default();
        let (lo, hi) = (
            c.temperature_min_c.unwrap_or(10.0),
            c.temperature_max_c
                .unwrap_or(90.0)
                .min(c.temperature_min_c.unwrap_or(10.0) + 300.0),
        );
        if c.temperature_min_c.is_some()
            || c.temperature_max_c.is_some()
            || c.required_quality.iter().any(|q| q == "temperature_c")
        {
            quality.temperature_c = Some(rng.range(lo, hi).round());
        }
        if c.required_quality.iter().any(|q| q == "pressure_bar") {
            let (lo, hi) = if code.contains("high") {
                (10.0, 100.0)
            } else if code.contains("air") {
                (5.0, 12.0)
            } else {
                (1.0, 10.0)
            };
            quality.pressure_bar = Some(rng.range(lo, hi).round());
        }
        if c.required_quality.iter().any(|q| q == "purity_pct") {
            quality.purity_pct = Some(rng.range(95.0, 99.99));
        }
        let annual = match c.dimension {
            Dimension::Power | Dimension::Energy => rng.log_range(200.0, 20_000.0),
            Dimension::Volume => rng.log_range(5_000.0, 500_000.0),
            Dimension::Mass => rng.log_range(50.0, 20_000.0),
        };
        let price = if rng.chance(0.5) {
            Some(match direction {
                Direction::Offer => c.substitute_value_eur_per_unit * rng.range(0.0, 0.5),
                Direction::Need => c.substitute_value_eur_per_unit * rng.range(0.8, 1.2),
            })
        } else {
            None
        };
        let max_distance_km = if rng.chance(0.5) {
            Some(match c.transport_mode.as_str() {
                "pipe" | "grid" => rng.range(1.0, c.max_distance_km),
                _ => rng.log_range(10.0, 150.0),
            })
        } else {
            None
        };
        let (valid_from, valid_until) = if rng.chance(0.1) {
            let start = NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date")
                + chrono::Days::new(rng.below(720) as u64);
            (
                Some(start),
                Some(start + chrono::Days::new(90 + rng.below(700) as u64)),
            )
        } else {
            (None, None)
        };
        let status = if rng.chance(0.05) {
            FlowStatus::Paused
        } else {
            FlowStatus::Active
        };
        let (schedule, profile) = self.profile();
        let canonical = match c.dimension {
            Dimension::Power => annual * 1000.0 / profile.hours_per_year(),
            _ => annual,
        };
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        Flow {
            id,
            site_id: site,
            business_id: business,
            direction,
            category: c.code.clone(),
            description: String::new(),
            quality,
            quantity: Quantity {
                value: annual,
                unit: format!("{}/year", c.dimension.amount_unit()),
            },
            canonical_quantity: canonical,
            canonical_unit: c.dimension.canonical_unit().to_string(),
            annual_amount: annual,
            schedule: Some(SCHEDULES[schedule].0.to_string()),
            profile,
            price_eur_per_unit: price,
            max_distance_km,
            valid_from,
            valid_until,
            status,
            version: 1,
            created_at: epoch,
            updated_at: epoch,
        }
    }

    fn workload(&mut self, businesses: usize) -> Workload {
        let parks: Vec<GeoPoint> = (0..(businesses / 25).max(1))
            .map(|_| GeoPoint {
                lat: self.rng.range(47.5, 54.5),
                lon: self.rng.range(6.0, 15.0),
            })
            .collect();
        let mut flows = Vec::with_capacity(businesses * 5);
        let mut sites = Vec::with_capacity(businesses);
        for _ in 0..businesses {
            let park = parks[self.rng.below(parks.len())];
            let location = offset_km(park, 1.5 * self.rng.normal(), 1.5 * self.rng.normal());
            let (business, site) = (self.rng.uuid(), self.rng.uuid());
            sites.push((site, location));
            for _ in 0..5 {
                let id = self.rng.uuid();
                flows.push(FlowInput::new(self.flow(id, business, site), location));
            }
        }
        Workload { flows, sites }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Resident set size in bytes, from /proc/self/statm (Linux; 0 elsewhere).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let businesses: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let taxonomy = Arc::new(Taxonomy::builtin().expect("the shipped taxonomy is valid"));
    let config = MatchingConfig::default();
    println!(
        "symbiont-matching bench: {businesses} businesses, {} flows, taxonomy {} ({} categories, {} rules), {} threads",
        businesses * 5,
        taxonomy.version,
        taxonomy.categories().len(),
        taxonomy.rules().len(),
        rayon::current_num_threads()
    );

    // ----- full rebuild -----
    let rss_start = rss_bytes();
    let workload = Generator::new(&taxonomy, 42).workload(businesses);
    let mut engine = Engine::new(Arc::clone(&taxonomy), config).expect("default configuration");
    let mut times = Vec::new();
    for _ in 0..5 {
        let flows = workload.flows.clone();
        let started = Instant::now();
        engine.rebuild(flows);
        times.push(started.elapsed());
    }
    times.sort();
    let stats = engine.stats();
    println!(
        "rebuild: median {:.0} ms, min {:.0} ms, max {:.0} ms over {} runs -> {} matches among {} matchable flows",
        ms(percentile(&times, 0.5)),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len(),
        stats.matches,
        stats.matchable_flows
    );

    // ----- memory -----
    // The engine's own accounting, and the process RSS with only the engine alive (an upper bound:
    // the allocator keeps some pages of the freed inputs).
    let flows_for_later = workload.flows.clone();
    drop(workload.flows);
    let rss_engine_only = rss_bytes();
    println!(
        "memory: engine accounting {:.1} MiB ({} distinct profiles); process RSS {:.1} MiB (start {:.1} MiB), \
         i.e. {:.0} B per flow / {:.0} B per match (accounted)",
        mib(stats.approx_memory_bytes),
        stats.distinct_profiles,
        mib(rss_engine_only),
        mib(rss_start),
        stats.approx_memory_bytes as f64 / stats.flows as f64,
        stats.approx_memory_bytes as f64 / stats.matches.max(1) as f64,
    );

    // ----- one flow change -----
    let mut rng = SplitMix64(7);
    let mut flows = flows_for_later;
    let mut kinds: [(&str, Vec<Duration>); 5] = [
        ("quantity", vec![]),
        ("pause/resume", vec![]),
        ("move site", vec![]),
        ("insert", vec![]),
        ("delete", vec![]),
    ];
    let mut touched = 0usize;
    let mut generator = Generator::new(&taxonomy, 4242);
    for _ in 0..1_000 {
        let kind = rng.below(100);
        let i = rng.below(flows.len());
        let (k, started, diff) = if kind < 50 {
            let factor = rng.range(0.5, 2.0);
            flows[i].flow.annual_amount *= factor;
            flows[i].flow.canonical_quantity *= factor;
            let input = flows[i].clone();
            let t = Instant::now();
            (0, t, engine.upsert_flow(input))
        } else if kind < 70 {
            let f = &mut flows[i].flow;
            f.status = if f.status == FlowStatus::Active {
                FlowStatus::Paused
            } else {
                FlowStatus::Active
            };
            let input = flows[i].clone();
            let t = Instant::now();
            (1, t, engine.upsert_flow(input))
        } else if kind < 85 {
            let site = flows[i].flow.site_id;
            let to = offset_km(
                flows[i].location,
                rng.range(-3.0, 3.0),
                rng.range(-3.0, 3.0),
            );
            for f in flows.iter_mut().filter(|f| f.flow.site_id == site) {
                f.location = to;
            }
            let t = Instant::now();
            (2, t, engine.move_site(site, to))
        } else if kind < 95 {
            let (site, location) = workload.sites[rng.below(workload.sites.len())];
            let business = flows
                .iter()
                .find(|f| f.flow.site_id == site)
                .map_or_else(Uuid::nil, |f| f.flow.business_id);
            let id = generator.rng.uuid();
            let input = FlowInput::new(generator.flow(id, business, site), location);
            flows.push(input.clone());
            let t = Instant::now();
            (3, t, engine.upsert_flow(input))
        } else {
            let gone = flows.swap_remove(i);
            let t = Instant::now();
            (4, t, engine.remove_flow(gone.flow.id))
        };
        kinds[k].1.push(started.elapsed());
        touched += diff.len();
    }
    let mut all: Vec<Duration> = kinds.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    all.sort();
    println!(
        "one flow change: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs over {} changes ({:.1} matches touched on average)",
        us(percentile(&all, 0.5)),
        us(percentile(&all, 0.99)),
        us(all[all.len() - 1]),
        all.len(),
        touched as f64 / all.len() as f64
    );
    for (name, mut v) in kinds {
        v.sort();
        println!(
            "  {name:<13} n={:<4} p50 {:>7.1} µs  p99 {:>7.1} µs",
            v.len(),
            us(percentile(&v, 0.5)),
            us(percentile(&v, 0.99))
        );
    }

    // ----- consistency after the changes -----
    let mut rebuilt = Engine::new(Arc::clone(&taxonomy), config).expect("default configuration");
    rebuilt.rebuild(flows.clone());
    assert_eq!(
        rebuilt.match_count(),
        engine.match_count(),
        "incremental state equals a rebuild"
    );

    // ----- brute force baseline -----
    let small = (businesses / 5).max(100);
    let sample = Generator::new(&taxonomy, 42).workload(small);
    let mut indexed = Engine::new(Arc::clone(&taxonomy), config).expect("default configuration");
    let started = Instant::now();
    indexed.rebuild(sample.flows.clone());
    let indexed_small = started.elapsed();
    let started = Instant::now();
    let brute = reference::all_pairs(Arc::clone(&taxonomy), &config, sample.flows);
    let brute_small = started.elapsed();
    assert_eq!(
        brute.len(),
        indexed.match_count(),
        "brute force finds the same matches"
    );
    println!(
        "brute force all-pairs at {small} businesses: {:.0} ms vs indexed rebuild {:.1} ms (x{:.0})",
        ms(brute_small),
        ms(indexed_small),
        brute_small.as_secs_f64() / indexed_small.as_secs_f64()
    );
    let started = Instant::now();
    let brute = reference::all_pairs(Arc::clone(&taxonomy), &config, flows);
    let brute_full = started.elapsed();
    assert_eq!(
        brute.len(),
        engine.match_count(),
        "brute force finds the same matches"
    );
    println!(
        "brute force all-pairs at {businesses} businesses: {:.0} ms vs indexed rebuild {:.0} ms (x{:.0}); \
         one change by brute force would cost about {:.1} ms (one flow against all {} flows)",
        ms(brute_full),
        ms(percentile(&times, 0.5)),
        brute_full.as_secs_f64() / percentile(&times, 0.5).as_secs_f64(),
        ms(brute_full) / (businesses as f64 * 5.0 / 2.0),
        businesses * 5
    );
}
