//! The global allocation: feasible, never worse than the greedy rule, optimal against an exact
//! enumeration of the vertices on tiny problems, and kept up to date change by change exactly as a
//! full solve would give it.

use proptest::prelude::*;
use symbiont_matching::global_allocation::{
    AllocationProblem, Capacity, Demand, Edge, GlobalAllocation, SolvedBy, Touched, components,
    greedy_allocation, solve_component,
};

fn edge(offer: u32, need: u32, max: f64, conversion: f64, value: f64, score: f64) -> Edge {
    Edge {
        offer,
        need,
        max,
        conversion,
        value_per_unit: value,
        co2_per_unit: 0.1,
        score,
    }
}

fn close(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= 1e-6 * scale.max(1.0)
}

#[test]
fn one_offer_two_needs_global_serves_the_more_valuable_need_the_greedy_rule_ranks_second() {
    // The offer has 100 units. Need A ranks first by score (close, well covered) but saves
    // 10 EUR per unit; need B ranks second and saves 50 EUR per unit. Each could take it all.
    let problem = AllocationProblem {
        offers: vec![Capacity { amount: 100.0 }],
        needs: vec![Demand { amount: 100.0 }, Demand { amount: 100.0 }],
        edges: vec![
            edge(0, 0, 100.0, 1.0, 10.0, 0.9),
            edge(0, 1, 100.0, 1.0, 50.0, 0.5),
        ],
    };
    let greedy = greedy_allocation(&problem);
    assert_eq!(greedy.allocated, vec![100.0, 0.0]);
    assert_eq!(greedy.delivered_totals.value_eur, 1_000.0);

    let (global, report) = GlobalAllocation::solve(&problem);
    assert!(report.fallbacks.is_empty());
    assert!(close(global.amount(0), 0.0, 100.0), "{}", global.amount(0));
    assert!(
        close(global.amount(1), 100.0, 100.0),
        "{}",
        global.amount(1)
    );
    assert!(close(global.totals().value_eur, 5_000.0, 5_000.0));
    assert!(close(global.totals().co2_t, 10.0, 10.0));
    let c = global.component_of_edge(1).expect("edge 1 is live");
    assert_eq!(c.solved_by, SolvedBy::LinearProgramme);
    assert_eq!(c.edges, vec![0, 1]);

    // The same with the edges listed the other way round: the order decides nothing.
    let mut swapped = problem.clone();
    swapped.edges.swap(0, 1);
    let (global, _) = GlobalAllocation::solve(&swapped);
    assert!(
        close(global.amount(0), 100.0, 100.0),
        "{}",
        global.amount(0)
    );
    assert!(close(global.amount(1), 0.0, 100.0), "{}", global.amount(1));
}

#[test]
fn an_update_on_a_problem_that_shrank_solves_it_afresh() {
    let mut problem = AllocationProblem {
        offers: vec![Capacity { amount: 50.0 }, Capacity { amount: 50.0 }],
        needs: vec![Demand { amount: 60.0 }],
        edges: vec![
            edge(0, 0, 50.0, 1.0, 10.0, 0.5),
            edge(1, 0, 50.0, 1.0, 20.0, 0.5),
        ],
    };
    let (mut global, _) = GlobalAllocation::solve(&problem);
    assert!(close(global.amount(1), 50.0, 50.0));
    assert!(close(global.amount(0), 10.0, 50.0));
    problem.edges.pop();
    let report = global.update(&problem, &Touched::default());
    assert_eq!(report.components_solved, 1);
    assert_eq!(global.amounts().len(), 1);
    assert!(close(global.amount(0), 50.0, 50.0));
    assert_eq!(global.amount(1), 0.0);
}

#[test]
fn the_greedy_rule_can_allocate_a_need_more_than_it_wants_and_delivers_only_its_demand() {
    // Two offers each serve the same need alone (rule v1 is per offer): 80 + 80 allocated, 100
    // wanted. The global allocation splits the need between them.
    let problem = AllocationProblem {
        offers: vec![Capacity { amount: 80.0 }, Capacity { amount: 80.0 }],
        needs: vec![Demand { amount: 100.0 }],
        edges: vec![
            edge(0, 0, 80.0, 1.0, 20.0, 0.8),
            edge(1, 0, 80.0, 1.0, 30.0, 0.7),
        ],
    };
    let greedy = greedy_allocation(&problem);
    assert_eq!(greedy.allocated, vec![80.0, 80.0]);
    assert_eq!(greedy.delivered, vec![80.0, 20.0]);
    assert_eq!(greedy.delivered_totals.value_eur, 80.0 * 20.0 + 20.0 * 30.0);
    let (global, _) = GlobalAllocation::solve(&problem);
    assert!(close(global.amount(1), 80.0, 100.0));
    assert!(close(global.amount(0), 20.0, 100.0));
}

#[test]
fn conversion_counts_in_offer_units_and_worthless_edges_get_nothing() {
    // 100 offer units; the first need gets 2 need units per offer unit, the second 1.
    let problem = AllocationProblem {
        offers: vec![Capacity { amount: 100.0 }],
        needs: vec![
            Demand { amount: 150.0 },
            Demand { amount: 100.0 },
            Demand { amount: 100.0 },
        ],
        edges: vec![
            edge(0, 0, 150.0, 2.0, 10.0, 0.1),
            edge(0, 1, 100.0, 1.0, 12.0, 0.2),
            edge(0, 2, 100.0, 1.0, -5.0, 0.9),
        ],
    };
    // Per offer unit: edge 0 is worth 20 EUR, edge 1 12 EUR. Edge 0 takes 75 offer units.
    let amounts = solve_component(&problem, &[0, 1, 2]).expect("solvable");
    assert!(close(amounts[0], 150.0, 150.0), "{amounts:?}");
    assert!(close(amounts[1], 25.0, 100.0), "{amounts:?}");
    assert_eq!(amounts[2], 0.0);
    assert_eq!(components(&problem), vec![vec![0, 1]]);
}

#[test]
fn a_component_where_nothing_binds_takes_every_maximum_without_the_solver() {
    let problem = AllocationProblem {
        offers: vec![Capacity { amount: 1_000.0 }],
        needs: vec![Demand { amount: 50.0 }, Demand { amount: 60.0 }],
        edges: vec![
            edge(0, 0, 50.0, 1.0, 1.0, 0.5),
            edge(0, 1, 40.0, 1.0, 1.0, 0.5),
        ],
    };
    let (global, _) = GlobalAllocation::solve(&problem);
    let c = global.component_of_edge(0).expect("live");
    assert_eq!(c.solved_by, SolvedBy::Bounds);
    assert_eq!(global.amounts(), &[50.0, 40.0]);
}

// ----- random problems -----

fn arb_edge(offers: u32, needs: u32) -> impl Strategy<Value = Edge> {
    (
        0..offers,
        0..needs,
        prop_oneof![1 => Just(0.0), 9 => 1.0..1_000.0f64],
        prop_oneof![Just(1.0), 0.2..5.0f64],
        prop_oneof![1 => -20.0..0.0f64, 4 => 0.5..100.0f64],
        0.0..1.0f64,
        0.0..1.0f64,
    )
        .prop_map(
            |(offer, need, max, conversion, value_per_unit, co2_per_unit, score)| Edge {
                offer,
                need,
                max,
                conversion,
                value_per_unit,
                co2_per_unit,
                score,
            },
        )
}

fn arb_amount() -> impl Strategy<Value = f64> {
    prop_oneof![1 => Just(0.0), 9 => 1.0..2_000.0f64]
}

fn arb_problem(max_nodes: u32, max_edges: usize) -> impl Strategy<Value = AllocationProblem> {
    (1..=max_nodes, 1..=max_nodes).prop_flat_map(move |(o, n)| {
        (
            prop::collection::vec(
                arb_amount().prop_map(|amount| Capacity { amount }),
                o as usize,
            ),
            prop::collection::vec(
                arb_amount().prop_map(|amount| Demand { amount }),
                n as usize,
            ),
            prop::collection::vec(arb_edge(o, n), 0..=max_edges),
        )
            .prop_map(|(offers, needs, edges)| AllocationProblem {
                offers,
                needs,
                edges,
            })
    })
}

/// Checks bounds, capacities and demands, with a relative tolerance.
fn assert_feasible(problem: &AllocationProblem, amounts: &[f64]) {
    let mut offer_used = vec![0.0; problem.offers.len()];
    let mut need_used = vec![0.0; problem.needs.len()];
    for (e, (edge, &x)) in problem.edges.iter().zip(amounts).enumerate() {
        assert!(x >= 0.0, "edge {e}: {x} < 0");
        assert!(x <= edge.max * (1.0 + 1e-9), "edge {e}: {x} > {}", edge.max);
        if x > 0.0 {
            offer_used[edge.offer as usize] += x / edge.conversion;
            need_used[edge.need as usize] += x;
        }
    }
    for (o, used) in offer_used.iter().enumerate() {
        let cap = problem.offers[o].amount;
        assert!(
            *used <= cap * (1.0 + 1e-9) + 1e-9,
            "offer {o}: {used} > {cap}"
        );
    }
    for (n, used) in need_used.iter().enumerate() {
        let demand = problem.needs[n].amount;
        assert!(
            *used <= demand * (1.0 + 1e-9) + 1e-9,
            "need {n}: {used} > {demand}"
        );
    }
}

/// The exact optimum of a tiny problem by enumerating the vertices of its polytope: every choice
/// of as many tight constraints as there are edges, solved as equations, kept if feasible. The
/// polytope is bounded and contains 0, so the best vertex is the optimum. Uses every edge with its
/// signed value (a negative one is simply left at 0 by the optimum).
fn brute_force_optimum(problem: &AllocationProblem) -> f64 {
    let n = problem.edges.len();
    // Rows a·x ≤ b.
    let mut rows: Vec<(Vec<f64>, f64)> = Vec::new();
    for (e, edge) in problem.edges.iter().enumerate() {
        let mut lo = vec![0.0; n];
        lo[e] = -1.0;
        rows.push((lo, 0.0));
        let mut hi = vec![0.0; n];
        hi[e] = 1.0;
        rows.push((hi, edge.max));
    }
    for (o, cap) in problem.offers.iter().enumerate() {
        let a: Vec<f64> = problem
            .edges
            .iter()
            .map(|e| {
                if e.offer as usize == o {
                    1.0 / e.conversion
                } else {
                    0.0
                }
            })
            .collect();
        rows.push((a, cap.amount));
    }
    for (k, demand) in problem.needs.iter().enumerate() {
        let a: Vec<f64> = problem
            .edges
            .iter()
            .map(|e| if e.need as usize == k { 1.0 } else { 0.0 })
            .collect();
        rows.push((a, demand.amount));
    }
    let mut best = 0.0_f64; // x = 0 is feasible
    let mut choice: Vec<usize> = (0..n).collect();
    loop {
        if let Some(x) = solve_square(&rows, &choice) {
            let feasible = rows.iter().all(|(a, b)| {
                let lhs: f64 = a.iter().zip(&x).map(|(a, x)| a * x).sum();
                lhs <= b + 1e-7 * b.abs().max(1.0)
            });
            if feasible {
                let value: f64 = problem
                    .edges
                    .iter()
                    .zip(&x)
                    .map(|(e, x)| e.value_per_unit * x)
                    .sum();
                best = best.max(value);
            }
        }
        // Next n-subset of the rows, in lexicographic order.
        let m = rows.len();
        let Some(i) = (0..n).rev().find(|&i| choice[i] < m - n + i) else {
            break;
        };
        choice[i] += 1;
        for j in i + 1..n {
            choice[j] = choice[j - 1] + 1;
        }
    }
    best
}

/// Solves the chosen rows as equations (Gaussian elimination, partial pivoting); None if singular.
fn solve_square(rows: &[(Vec<f64>, f64)], choice: &[usize]) -> Option<Vec<f64>> {
    let n = choice.len();
    let mut m: Vec<Vec<f64>> = choice
        .iter()
        .map(|&r| {
            let mut row = rows[r].0.clone();
            row.push(rows[r].1);
            row
        })
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        let pivot_row = m[col].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (x, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *x -= f * p;
                }
            }
        }
    }
    Some((0..n).map(|r| m[r][n] / m[r][r]).collect())
}

/// One change to a problem; indices are reduced modulo the current sizes.
#[derive(Debug, Clone)]
enum Change {
    Capacity(u32, f64),
    Demand(u32, f64),
    ReplaceEdge(u32, Edge),
    KillEdge(u32),
    AddEdge(Edge),
    AddOffer(f64),
    AddNeed(f64),
}

fn arb_change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (any::<u32>(), arb_amount()).prop_map(|(i, a)| Change::Capacity(i, a)),
        (any::<u32>(), arb_amount()).prop_map(|(i, a)| Change::Demand(i, a)),
        (any::<u32>(), arb_edge(u32::MAX, u32::MAX)).prop_map(|(i, e)| Change::ReplaceEdge(i, e)),
        any::<u32>().prop_map(Change::KillEdge),
        arb_edge(u32::MAX, u32::MAX).prop_map(Change::AddEdge),
        arb_amount().prop_map(Change::AddOffer),
        arb_amount().prop_map(Change::AddNeed),
    ]
}

fn apply(problem: &mut AllocationProblem, change: &Change, touched: &mut Touched) {
    let (offers, needs) = (problem.offers.len() as u32, problem.needs.len() as u32);
    let fit = |mut e: Edge| {
        e.offer %= offers;
        e.need %= needs;
        e
    };
    match change {
        Change::Capacity(i, a) => {
            let o = i % offers;
            problem.offers[o as usize].amount = *a;
            touched.offers.push(o);
        }
        Change::Demand(i, a) => {
            let n = i % needs;
            problem.needs[n as usize].amount = *a;
            touched.needs.push(n);
        }
        Change::ReplaceEdge(i, e) if !problem.edges.is_empty() => {
            let k = i % problem.edges.len() as u32;
            problem.edges[k as usize] = fit(*e);
            touched.edges.push(k);
        }
        Change::KillEdge(i) if !problem.edges.is_empty() => {
            let k = i % problem.edges.len() as u32;
            problem.edges[k as usize].max = 0.0;
            touched.edges.push(k);
        }
        Change::ReplaceEdge(..) | Change::KillEdge(_) => {}
        Change::AddEdge(e) => {
            problem.edges.push(fit(*e));
            touched.edges.push(problem.edges.len() as u32 - 1);
        }
        Change::AddOffer(a) => problem.offers.push(Capacity { amount: *a }),
        Change::AddNeed(a) => problem.needs.push(Demand { amount: *a }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn global_is_feasible_and_never_worth_less_than_the_greedy_rule(
        problem in arb_problem(6, 14)
    ) {
        let (global, report) = GlobalAllocation::solve(&problem);
        prop_assert!(report.fallbacks.is_empty(), "{:?}", report.fallbacks);
        assert_feasible(&problem, global.amounts());
        let greedy = greedy_allocation(&problem);
        assert_feasible(&problem, &greedy.delivered);
        let g = global.totals().value_eur;
        let r = greedy.delivered_totals.value_eur;
        prop_assert!(g >= r - 1e-6 * r.abs().max(1.0), "global {g} < greedy {r}");
        // The totals are those of the amounts.
        let direct = symbiont_matching::global_allocation::Totals::of(&problem, global.amounts());
        prop_assert!(close(direct.value_eur, g, g.abs()));
    }

    #[test]
    fn global_equals_the_best_vertex_on_tiny_problems(problem in arb_problem(3, 4)) {
        let (global, _) = GlobalAllocation::solve(&problem);
        let exact = brute_force_optimum(&problem);
        let got = global.totals().value_eur;
        prop_assert!(close(got, exact, exact.abs()), "global {got}, exact {exact}");
    }

    #[test]
    fn components_partition_the_live_edges_into_connected_node_disjoint_sets(
        problem in arb_problem(8, 20)
    ) {
        let comps = components(&problem);
        let mut owner = vec![None; problem.edges.len()];
        let mut offer_owner = vec![None; problem.offers.len()];
        let mut need_owner = vec![None; problem.needs.len()];
        for (c, edges) in comps.iter().enumerate() {
            prop_assert!(edges.windows(2).all(|w| w[0] < w[1]));
            for &e in edges {
                prop_assert!(owner[e as usize].is_none());
                owner[e as usize] = Some(c);
                let edge = &problem.edges[e as usize];
                for slot in [&mut offer_owner[edge.offer as usize], &mut need_owner[edge.need as usize]] {
                    prop_assert!(slot.is_none() || *slot == Some(c), "a node in two components");
                    *slot = Some(c);
                }
            }
            // Connected: grow from the first edge over shared nodes.
            let mut reached = vec![edges[0]];
            let mut grew = true;
            while grew {
                grew = false;
                for &e in edges {
                    if reached.contains(&e) { continue; }
                    let a = &problem.edges[e as usize];
                    if reached.iter().any(|&r| {
                        let b = &problem.edges[r as usize];
                        a.offer == b.offer || a.need == b.need
                    }) {
                        reached.push(e);
                        grew = true;
                    }
                }
            }
            prop_assert_eq!(reached.len(), edges.len());
        }
        for (e, edge) in problem.edges.iter().enumerate() {
            let live = edge.max > 0.0 && edge.value_per_unit > 0.0;
            prop_assert_eq!(owner[e].is_some(), live, "edge {}", e);
        }
    }

    #[test]
    fn incremental_updates_equal_a_full_solve(
        problem in arb_problem(6, 12),
        batches in prop::collection::vec(prop::collection::vec(arb_change(), 1..4), 1..8),
    ) {
        let mut problem = problem;
        let (mut global, _) = GlobalAllocation::solve(&problem);
        for batch in &batches {
            let mut touched = Touched::default();
            for change in batch {
                apply(&mut problem, change, &mut touched);
            }
            global.update(&problem, &touched);
            let (fresh, _) = GlobalAllocation::solve(&problem);
            assert_feasible(&problem, global.amounts());
            prop_assert_eq!(global.amounts().len(), fresh.amounts().len());
            for (e, (a, b)) in global.amounts().iter().zip(fresh.amounts()).enumerate() {
                prop_assert!(close(*a, *b, problem.edges[e].max), "edge {}: {} vs {}", e, a, b);
            }
            let (t, f) = (global.totals(), fresh.totals());
            prop_assert!(close(t.value_eur, f.value_eur, f.value_eur.abs()));
            prop_assert!(close(t.co2_t, f.co2_t, f.co2_t.abs()));
            let mut ours: Vec<Vec<u32>> = global.components().map(|c| c.edges.clone()).collect();
            ours.sort();
            prop_assert_eq!(ours, components(&problem));
        }
    }
}
