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
use symbiont_matching::global_allocation::{GlobalAllocation, greedy_allocation};
use symbiont_matching::{Engine, FlowInput, MatchingConfig, reference};
use uuid::Uuid;

#[path = "support/mod.rs"]
mod support;
use support::{SplitMix64, ms, percentile, us};

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
            ewc_code: None,
            hazardous: false,
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
            monthly_factors: None,
            price_eur_per_unit: price,
            max_distance_km,
            valid_from,
            valid_until,
            status,
            anonymous: false,
            max_proposals: None,
            pays_for_co2: false,
            version: 1,
            created_at: epoch,
            updated_at: epoch,
        }
    }

    fn workload(&mut self, businesses: usize) -> Workload {
        let mut flows = Vec::with_capacity(businesses * 5);
        let mut sites = Vec::with_capacity(businesses);
        self.stream(businesses, |site, location, flow| {
            if sites.last().is_none_or(|(last, _)| *last != site) {
                sites.push((site, location));
            }
            flows.push(flow);
        });
        Workload { flows, sites }
    }

    /// Generates the businesses one by one, handing each flow over as it is made.
    fn stream(&mut self, businesses: usize, mut each: impl FnMut(Uuid, GeoPoint, FlowInput)) {
        let parks: Vec<GeoPoint> = (0..(businesses / 25).max(1))
            .map(|_| GeoPoint {
                lat: self.rng.range(47.5, 54.5),
                lon: self.rng.range(6.0, 15.0),
            })
            .collect();
        for _ in 0..businesses {
            let park = parks[self.rng.below(parks.len())];
            let location = offset_km(park, 1.5 * self.rng.normal(), 1.5 * self.rng.normal());
            let (business, site) = (self.rng.uuid(), self.rng.uuid());
            for _ in 0..5 {
                let id = self.rng.uuid();
                let flow = FlowInput::new(self.flow(id, business, site), location);
                each(site, location, flow);
            }
        }
    }
}

/// Child-process mode: builds the engine flow by flow (so no input vector sits in memory) and prints
/// the resident-set growth, the peak and the engine's own estimate, in bytes.
fn memory_probe(businesses: usize) {
    let taxonomy = Arc::new(Taxonomy::builtin().expect("the shipped taxonomy is valid"));
    let before = rss_bytes();
    let mut engine = Engine::new(Arc::clone(&taxonomy), MatchingConfig::default())
        .expect("default configuration");
    Generator::new(&taxonomy, 42).stream(businesses, |_, _, flow| {
        engine.upsert_flow(flow);
    });
    let after = rss_bytes();
    let stats = engine.stats();
    println!(
        "{} {} {} {}",
        after.saturating_sub(before),
        peak_rss_bytes(),
        stats.approx_memory_bytes,
        stats.matches
    );
}

/// Peak resident set size in bytes (VmHWM in /proc/self/status; 0 elsewhere).
fn peak_rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Runs [`memory_probe`] in a fresh process of this benchmark and returns its four numbers.
fn measure_memory(businesses: usize) -> Option<[usize; 4]> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .arg("--memory-probe")
        .arg(businesses.to_string())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let numbers: Vec<usize> = text
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    numbers.try_into().ok()
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
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--memory-probe") {
        let businesses = args
            .get(at + 1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(10_000);
        memory_probe(businesses);
        return;
    }
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
    let workload = Generator::new(&taxonomy, 42).workload(businesses);
    // Each run starts from an empty engine, as at start-up; the previous state is dropped untimed.
    let mut engine = Engine::new(Arc::clone(&taxonomy), config).expect("default configuration");
    let mut times = Vec::new();
    for _ in 0..5 {
        let flows = workload.flows.clone();
        let mut fresh = Engine::new(Arc::clone(&taxonomy), config).expect("default configuration");
        let started = Instant::now();
        fresh.rebuild(flows);
        times.push(started.elapsed());
        engine = fresh;
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

    // ----- greedy vs global allocation over the live matches -----
    let problem = engine.allocation_problem();
    let greedy = greedy_allocation(&problem);
    let started = Instant::now();
    let (global, report) = GlobalAllocation::solve(&problem);
    let solve = started.elapsed();
    let (g, x) = (greedy.delivered_totals, global.totals());
    println!(
        "allocation over {} live matches in {} components: greedy delivers EUR {:.3e} and {:.3e} t CO2 a year, global EUR {:.3e} (x{:.2}) and {:.3e} t CO2 (x{:.2}); full solve {:.0} ms, {} fallbacks",
        problem.edges.len(),
        global.components().count(),
        g.value_eur,
        g.co2_t,
        x.value_eur,
        x.value_eur / g.value_eur,
        x.co2_t,
        x.co2_t / g.co2_t,
        ms(solve),
        report.fallbacks.len()
    );

    // ----- a business's matches -----
    // What a business's match list reads from the engine: every match of the business, borrowed
    // and unsorted as the service reads them (it picks its page with a bounded heap), and as an
    // owned list in rank order. Each business in turn, timed per call.
    let mut businesses_seen: Vec<Uuid> =
        workload.flows.iter().map(|f| f.flow.business_id).collect();
    businesses_seen.dedup();
    let mut reads = Vec::with_capacity(businesses_seen.len());
    let mut listed = 0usize;
    for &business in &businesses_seen {
        let started = Instant::now();
        let list = engine.matches_of_business(business);
        reads.push(started.elapsed());
        listed += list.len();
    }
    reads.sort();
    let mut borrowed = Vec::with_capacity(businesses_seen.len());
    let mut best = 0.0f64;
    for &business in &businesses_seen {
        let started = Instant::now();
        best += engine
            .business_matches(business)
            .map(|m| m.score)
            .fold(0.0, f64::max);
        borrowed.push(started.elapsed());
    }
    borrowed.sort();
    println!(
        "a business's matches borrowed, unsorted (as the service pages them): p50 {:.1} µs, p99 {:.1} µs (checksum {best:.3})",
        percentile(&borrowed, 0.5).as_secs_f64() * 1e6,
        percentile(&borrowed, 0.99).as_secs_f64() * 1e6,
    );
    println!(
        "a business's matches in rank order: p50 {:.1} µs, p99 {:.1} µs ({:.0} matches per business on average)",
        percentile(&reads, 0.5).as_secs_f64() * 1e6,
        percentile(&reads, 0.99).as_secs_f64() * 1e6,
        listed as f64 / businesses_seen.len().max(1) as f64,
    );

    // ----- memory -----
    // Measured in a fresh process that builds the same engine flow by flow, so the process holds
    // nothing but the engine; the engine's own accounting is printed next to it.
    let flows_for_later = workload.flows.clone();
    match measure_memory(businesses) {
        Some([grown, peak, accounted, matches]) => println!(
            "memory: RSS growth {:.1} MiB (peak RSS {:.1} MiB), engine accounting {:.1} MiB; \
             {} matches, {:.0} B per match all included ({} distinct profiles)",
            mib(grown),
            mib(peak),
            mib(accounted),
            matches,
            grown as f64 / matches.max(1) as f64,
            stats.distinct_profiles,
        ),
        None => println!(
            "memory: engine accounting {:.1} MiB (the RSS probe could not run)",
            mib(stats.approx_memory_bytes)
        ),
    }

    // ----- one flow change -----
    // Wall-clock time of each change, split by kind; a site move changes all five flows of a site.
    enum Change {
        Upsert(Box<FlowInput>),
        Move(Uuid, GeoPoint),
        Remove(Uuid),
    }
    let mut rng = SplitMix64(7);
    let mut flows = flows_for_later;
    let names = [
        "quantity",
        "pause/resume",
        "insert",
        "delete",
        "move site (5 flows)",
    ];
    let mut wall: [Vec<Duration>; 5] = Default::default();
    let mut touched = 0usize;
    let mut generator = Generator::new(&taxonomy, 4242);
    for _ in 0..1_000 {
        let kind = rng.below(100);
        let i = rng.below(flows.len());
        let (k, change) = if kind < 50 {
            let factor = rng.range(0.5, 2.0);
            flows[i].flow.annual_amount *= factor;
            flows[i].flow.canonical_quantity *= factor;
            (0, Change::Upsert(Box::new(flows[i].clone())))
        } else if kind < 70 {
            let f = &mut flows[i].flow;
            f.status = if f.status == FlowStatus::Active {
                FlowStatus::Paused
            } else {
                FlowStatus::Active
            };
            (1, Change::Upsert(Box::new(flows[i].clone())))
        } else if kind < 80 {
            let (site, location) = workload.sites[rng.below(workload.sites.len())];
            let business = flows
                .iter()
                .find(|f| f.flow.site_id == site)
                .map_or_else(Uuid::nil, |f| f.flow.business_id);
            let id = generator.rng.uuid();
            let input = FlowInput::new(generator.flow(id, business, site), location);
            flows.push(input.clone());
            (2, Change::Upsert(Box::new(input)))
        } else if kind < 85 {
            (3, Change::Remove(flows.swap_remove(i).flow.id))
        } else {
            let site = flows[i].flow.site_id;
            let to = offset_km(
                flows[i].location,
                rng.range(-3.0, 3.0),
                rng.range(-3.0, 3.0),
            );
            for f in flows.iter_mut().filter(|f| f.flow.site_id == site) {
                f.location = to;
            }
            (4, Change::Move(site, to))
        };
        let started = Instant::now();
        let diff = match change {
            Change::Upsert(input) => engine.upsert_flow(*input),
            Change::Move(site, to) => engine.move_site(site, to),
            Change::Remove(id) => engine.remove_flow(id),
        };
        wall[k].push(started.elapsed());
        touched += diff.len();
    }
    let mut single: Vec<Duration> = wall[..4].iter().flatten().copied().collect();
    single.sort();
    println!(
        "one flow change ({} upserts and deletes): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs \
         ({:.1} matches touched per change on average)",
        single.len(),
        us(percentile(&single, 0.5)),
        us(percentile(&single, 0.99)),
        us(single.last().copied().unwrap_or_default()),
        touched as f64 / 1_000.0
    );
    for (k, name) in names.iter().enumerate() {
        let mut w = wall[k].clone();
        w.sort();
        println!(
            "  {name:<20} n={:<4} p50 {:>7.1} µs  p99 {:>7.1} µs",
            w.len(),
            us(percentile(&w, 0.5)),
            us(percentile(&w, 0.99)),
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
