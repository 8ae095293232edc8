//! Global-allocation benchmark (no harness): value and CO2 allocated by the greedy rule v1 and by
//! the global allocation on the same problem, the full solve, one component's solve and one
//! change's incremental re-solve, on a seeded synthetic region.
//!
//! Run: `cargo bench -p symbiont-matching --bench global_allocation` (optionally `-- OFFERS NEEDS`,
//! default 5,000 each). Workload: the flows are split into clusters (a category within reach of
//! each other: a heat network, a water catchment, a regional material market) of heavy-tailed size,
//! 80 % with 2–20 flows, 17 % 20–200, 3 % 200–2,000; each flow is joined to up to 10 counterparts
//! of its cluster chosen at random from each side (about 20 edges per flow where the cluster is big
//! enough). Capacities and demands are log-uniform 200–20,000 units a year; conversions 1 (70 %) or
//! 0.5–1.5; an edge delivers `min(c·a_O, a_N)` times a temporal overlap 0.3–1; its value per unit is
//! a substitute value (log-uniform 5–80 EUR) less the offer's price share (0–50 %) and transport
//! (0.5–40 km at 0.05–1 EUR per unit-km), so about one edge in six loses money; its score is the
//! engine's weighted mean of coverage, temporal, distance, quality, economics and CO2 components
//! with the default weights and scales.

use std::time::{Duration, Instant};

use symbiont_matching::global_allocation::{
    AllocationProblem, Capacity, Demand, Edge, GlobalAllocation, SolvedBy, Touched, components,
    greedy_allocation, solve_component,
};

#[path = "support/mod.rs"]
mod support;
use support::{SplitMix64, ms, percentile, us};

/// Counterparts each flow picks on the other side of its cluster.
const PICKS_PER_FLOW: usize = 14;

fn region(offers: usize, needs: usize, seed: u64) -> AllocationProblem {
    let mut rng = SplitMix64(seed);
    let mut problem = AllocationProblem::default();
    let (mut left_offers, mut left_needs) = (offers, needs);
    while left_offers > 0 && left_needs > 0 {
        let size = if rng.chance(0.80) {
            rng.log_range(2.0, 20.0)
        } else if rng.chance(0.85) {
            rng.log_range(20.0, 200.0)
        } else {
            rng.log_range(200.0, 2_000.0)
        }
        .round() as usize;
        let o = ((size as f64 * rng.range(0.3, 0.7)).round() as usize).clamp(1, left_offers);
        let n = size.saturating_sub(o).clamp(1, left_needs);
        left_offers -= o;
        left_needs -= n;
        cluster(&mut rng, &mut problem, o, n);
    }
    // Whichever side is left over has no counterpart: flows nobody can serve.
    for _ in 0..left_offers {
        problem.offers.push(Capacity {
            amount: rng.log_range(200.0, 20_000.0),
        });
    }
    for _ in 0..left_needs {
        problem.needs.push(Demand {
            amount: rng.log_range(200.0, 20_000.0),
        });
    }
    problem
}

/// Adds one cluster of `o` offers and `n` needs with their edges.
fn cluster(rng: &mut SplitMix64, problem: &mut AllocationProblem, o: usize, n: usize) {
    let first_offer = problem.offers.len() as u32;
    let first_need = problem.needs.len() as u32;
    for _ in 0..o {
        problem.offers.push(Capacity {
            amount: rng.log_range(200.0, 20_000.0),
        });
    }
    for _ in 0..n {
        problem.needs.push(Demand {
            amount: rng.log_range(200.0, 20_000.0),
        });
    }
    // One category per cluster: its substitute value and CO2 factor.
    let substitute_eur = rng.log_range(5.0, 80.0);
    let co2_t = rng.range(0.02, 0.4);
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for i in 0..o {
        for _ in 0..PICKS_PER_FLOW.min(n) {
            pairs.push((i as u32, rng.below(n) as u32));
        }
    }
    for j in 0..n {
        for _ in 0..PICKS_PER_FLOW.min(o) {
            pairs.push((rng.below(o) as u32, j as u32));
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    for (i, j) in pairs {
        let offer = first_offer + i;
        let need = first_need + j;
        let a_o = problem.offers[offer as usize].amount;
        let a_n = problem.needs[need as usize].amount;
        let conversion = if rng.chance(0.7) {
            1.0
        } else {
            rng.range(0.5, 1.5)
        };
        let temporal = rng.range(0.3, 1.0);
        let max = (conversion * a_o).min(a_n) * temporal;
        let distance_km = rng.range(0.5, 40.0);
        let value_per_unit =
            substitute_eur * (1.0 - rng.range(0.0, 0.5)) - distance_km * rng.log_range(0.05, 1.0);
        let savings = value_per_unit * max;
        let co2 = co2_t * max;
        // The engine's score with its default weights and scales (docs/matching.md §3–4).
        let components = [
            (0.30, max / a_n),
            (0.15, temporal),
            (0.15, 1.0 - distance_km / 40.0),
            (0.10, rng.unit()),
            (
                0.20,
                if savings > 0.0 {
                    savings / (savings + 50_000.0)
                } else {
                    0.0
                },
            ),
            (0.10, co2 / (co2 + 100.0)),
        ];
        let score = components.iter().map(|(w, c)| w * c).sum();
        problem.edges.push(Edge {
            offer,
            need,
            max,
            conversion,
            value_per_unit,
            co2_per_unit: co2_t,
            score,
        });
    }
}

fn summary(times: &mut [Duration]) -> String {
    times.sort();
    format!(
        "p50 {:.0} µs, p99 {:.0} µs, max {:.1} ms over {}",
        us(percentile(times, 0.5)),
        us(percentile(times, 0.99)),
        ms(times.last().copied().unwrap_or_default()),
        times.len()
    )
}

fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let offers = numbers.first().copied().unwrap_or(5_000);
    let needs = numbers.get(1).copied().unwrap_or(offers);
    let problem = region(offers, needs, 42);
    let comps = components(&problem);
    let mut sizes: Vec<usize> = comps.iter().map(Vec::len).collect();
    sizes.sort_unstable();
    let live: usize = sizes.iter().sum();
    let p = |q: f64| sizes[((sizes.len() - 1) as f64 * q).round() as usize];
    println!(
        "symbiont global allocation bench: {} offers, {} needs, {} edges ({:.1} per flow), {} live (value > 0), {} components; edges per component p50 {}, p90 {}, p99 {}, max {}; {} threads",
        problem.offers.len(),
        problem.needs.len(),
        problem.edges.len(),
        2.0 * problem.edges.len() as f64 / (problem.offers.len() + problem.needs.len()) as f64,
        live,
        comps.len(),
        p(0.5),
        p(0.9),
        p(0.99),
        p(1.0),
        rayon::current_num_threads()
    );

    // ----- greedy rule v1 -----
    let started = Instant::now();
    let greedy = greedy_allocation(&problem);
    let greedy_time = started.elapsed();
    println!(
        "greedy (rule v1): {:.1} ms; allocated EUR {:.3e}, t CO2 {:.3e}; deliverable after the needs' demands EUR {:.3e}, t CO2 {:.3e}",
        ms(greedy_time),
        greedy.allocated_totals.value_eur,
        greedy.allocated_totals.co2_t,
        greedy.delivered_totals.value_eur,
        greedy.delivered_totals.co2_t
    );

    // ----- global: full solve -----
    let mut full_times = Vec::new();
    let mut global = None;
    for _ in 0..3 {
        let started = Instant::now();
        let (solved, report) = GlobalAllocation::solve(&problem);
        full_times.push(started.elapsed());
        if !report.fallbacks.is_empty() {
            println!(
                "  {} components fell back to greedy:",
                report.fallbacks.len()
            );
            for f in &report.fallbacks {
                println!("    {f}");
            }
        }
        global = Some(solved);
    }
    let global = global.expect("three runs");
    full_times.sort();
    let totals = global.totals();
    let by = |kind: SolvedBy| global.components().filter(|c| c.solved_by == kind).count();
    println!(
        "global: full solve median {:.0} ms (min {:.0}, max {:.0}) over {} runs; EUR {:.3e}, t CO2 {:.3e}; components by bounds {}, by programme {}, fallback {}",
        ms(percentile(&full_times, 0.5)),
        ms(full_times[0]),
        ms(full_times[full_times.len() - 1]),
        full_times.len(),
        totals.value_eur,
        totals.co2_t,
        by(SolvedBy::Bounds),
        by(SolvedBy::LinearProgramme),
        by(SolvedBy::GreedyFallback)
    );
    println!(
        "ratio global / greedy: EUR {:.3} of what greedy can deliver ({:.3} of what it allocates), t CO2 {:.3} ({:.3})",
        totals.value_eur / greedy.delivered_totals.value_eur,
        totals.value_eur / greedy.allocated_totals.value_eur,
        totals.co2_t / greedy.delivered_totals.co2_t,
        totals.co2_t / greedy.allocated_totals.co2_t
    );

    // ----- one component's solve -----
    let buckets: [(usize, usize, &str); 4] = [
        (1, 10, "1–10 edges"),
        (11, 100, "11–100"),
        (101, 1_000, "101–1,000"),
        (1_001, usize::MAX, "> 1,000"),
    ];
    let mut all = Vec::new();
    let mut per_bucket: Vec<Vec<Duration>> = vec![Vec::new(); buckets.len()];
    for edges in &comps {
        let started = Instant::now();
        let amounts = solve_component(&problem, edges);
        let t = started.elapsed();
        assert!(
            amounts.is_ok(),
            "component of edge {}: {amounts:?}",
            edges[0]
        );
        all.push(t);
        if let Some(b) = buckets
            .iter()
            .position(|(lo, hi, _)| (*lo..=*hi).contains(&edges.len()))
        {
            per_bucket[b].push(t);
        }
    }
    println!(
        "one component's solve (every component once): {}",
        summary(&mut all)
    );
    for ((_, _, name), times) in buckets.iter().zip(per_bucket.iter_mut()) {
        if !times.is_empty() {
            println!("  {name}: {}", summary(times));
        }
    }

    // ----- one change, incremental -----
    // A random offer's capacity moves by up to ±50 %, or a random edge's bound by up to ±50 %; the
    // update re-solves the one component it touches.
    let mut rng = SplitMix64(7);
    let mut problem = problem;
    let mut global = global;
    let mut offer_changes = Vec::new();
    let mut edge_changes = Vec::new();
    let mut resolved_edges = 0usize;
    for i in 0..2_000 {
        let mut touched = Touched::default();
        if i % 2 == 0 {
            let o = rng.below(problem.offers.len());
            problem.offers[o].amount *= rng.range(0.5, 1.5);
            touched.offers.push(o as u32);
        } else {
            let e = rng.below(problem.edges.len());
            problem.edges[e].max *= rng.range(0.5, 1.5);
            touched.edges.push(e as u32);
        }
        let started = Instant::now();
        let report = global.update(&problem, &touched);
        let t = started.elapsed();
        resolved_edges += report.edges_solved;
        if i % 2 == 0 {
            offer_changes.push(t);
        } else {
            edge_changes.push(t);
        }
    }
    println!(
        "one change, incremental update: offer capacity {}; edge bound {}; {:.0} edges re-solved per change on average",
        summary(&mut offer_changes),
        summary(&mut edge_changes),
        resolved_edges as f64 / 2_000.0
    );
    let (fresh, _) = GlobalAllocation::solve(&problem);
    let (a, b) = (global.totals().value_eur, fresh.totals().value_eur);
    assert!(
        (a - b).abs() <= 1e-6 * b.abs(),
        "incremental {a} and full {b} differ after the changes"
    );
    println!("after 2,000 changes the incremental totals equal a full solve ({a:.6e} EUR)");

    // ----- one component, growing -----
    // How one component's solve grows with its size: a single cluster of F flows (half offers),
    // each picking its counterparts as above. Median of 3 solves.
    let mut line = String::from("one component of F flows (edges): solve median");
    for flows in [250usize, 500, 1_000, 2_000, 4_000] {
        let mut rng = SplitMix64(flows as u64);
        let mut single = AllocationProblem::default();
        cluster(&mut rng, &mut single, flows / 2, flows - flows / 2);
        let edges: Vec<u32> = components(&single).into_iter().flatten().collect();
        let mut times: Vec<Duration> = (0..3)
            .map(|_| {
                let started = Instant::now();
                let amounts = solve_component(&single, &edges);
                let t = started.elapsed();
                assert!(amounts.is_ok(), "{flows} flows: {amounts:?}");
                t
            })
            .collect();
        times.sort();
        line.push_str(&format!(
            "; {flows} ({}): {:.1} ms",
            edges.len(),
            ms(percentile(&times, 0.5))
        ));
    }
    println!("{line}");
}
