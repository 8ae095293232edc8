//! Property tests: after any sequence of flow operations the incremental state equals a full
//! rebuild and the brute-force reference; the diffs replay to the same state; no match violates a
//! hard constraint; scores are in 0..1 and deterministic.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use common::*;
use proptest::prelude::*;
use symbiont_core::{Direction, GeoPoint, haversine_km};
use symbiont_matching::{
    Engine, FlowInput, Match, MatchDiff, MatchHead, MatchingConfig, ProposalLimits, reference,
};
use uuid::Uuid;

const FLOWS: u128 = 24;
const SITES: u128 = 7;
const CATEGORIES: [&str; 7] = [
    "heat.ambient",
    "heat.low_temp",
    "heat.medium_temp",
    "heat.heat_pump_source",
    "water.process",
    "material.fly_ash",
    "gas.co2",
];
const OFFER_TEMPERATURES: [f64; 4] = [35.0, 80.0, 95.0, 150.0];
const NEED_TEMPERATURES: [f64; 4] = [20.0, 30.0, 60.0, 75.0];
const SCHEDULES: [&str; 5] = [
    "24/7",
    "Mon-Fri 06:00-22:00",
    "weekends",
    "daily 22:00-06:00",
    "daily @0.5",
];

#[derive(Debug, Clone)]
struct FlowSpec {
    site: u128,
    offer: bool,
    category: usize,
    /// Index into `OFFER_TEMPERATURES` or `NEED_TEMPERATURES`: offers run hotter, as in life.
    temperature: usize,
    purity: f64,
    annual: f64,
    schedule: usize,
    max_km: Option<f64>,
    price: Option<f64>,
    validity: u8,
    paused: bool,
    max_proposals: Option<u32>,
    pays_for_co2: bool,
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(u128, FlowSpec),
    Remove(u128),
    RemoveSeveral(u128, u128),
    MoveSite(u128, f64, f64),
    /// Someone decides on the pair of these two flows (if they are an offer and a need).
    Pin(u128, u128),
}

fn flow_spec() -> impl Strategy<Value = FlowSpec> {
    (
        // Weighted towards categories with easy rules, so most cases have several matches.
        (
            0..SITES,
            any::<bool>(),
            prop::sample::select(vec![0, 1, 1, 1, 1, 2, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6]),
        ),
        (
            0..4usize,
            prop::sample::select(vec![95.0, 99.5, 99.9]),
            prop::sample::select(vec![50.0, 400.0, 1000.0, 2500.0, 8000.0]),
        ),
        (
            prop::sample::select(vec![0, 0, 0, 1, 2, 3, 4]),
            prop::sample::select(vec![
                None,
                None,
                None,
                Some(1.5),
                Some(4.0),
                Some(8.0),
                Some(30.0),
            ]),
        ),
        (
            prop::option::of(prop::sample::select(vec![-5.0, 0.0, 10.0, 45.0])),
            prop::sample::select(vec![0u8, 0, 0, 0, 1, 2, 3]),
            prop::bool::weighted(0.1),
        ),
        (
            prop::sample::select(vec![None, None, None, Some(1), Some(4)]),
            prop::bool::weighted(0.3),
        ),
    )
        .prop_map(
            |(
                (site, offer, category),
                (temperature, purity, annual),
                (schedule, max_km),
                (price, validity, paused),
                (max_proposals, pays_for_co2),
            )| {
                FlowSpec {
                    site,
                    offer,
                    category,
                    temperature,
                    purity,
                    annual,
                    schedule,
                    max_km,
                    price,
                    validity,
                    paused,
                    max_proposals,
                    pays_for_co2: pays_for_co2 && !offer,
                }
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0..FLOWS, flow_spec()).prop_map(|(f, s)| Op::Upsert(f, s)),
        1 => (0..FLOWS).prop_map(Op::Remove),
        1 => (0..FLOWS, 0..FLOWS).prop_map(|(a, b)| Op::RemoveSeveral(a, b)),
        2 => (0..SITES, -0.05..0.05f64, -0.08..0.08f64).prop_map(|(s, dlat, dlon)| Op::MoveSite(s, dlat, dlon)),
        2 => (0..FLOWS, 0..FLOWS).prop_map(|(a, b)| Op::Pin(a, b)),
    ]
}

/// The world as the store would see it: flows, site locations and decided pairs.
struct World {
    sites: BTreeMap<u128, GeoPoint>,
    flows: BTreeMap<u128, FlowSpec>,
    pinned: Vec<(Uuid, Uuid)>,
}

fn site_business(site: u128) -> u128 {
    // Sites 0 and 4, 1 and 5 ... share a business, so same-business pairs occur.
    100 + site % 4
}

fn site_id(site: u128) -> Uuid {
    id(1_000 + site)
}

impl World {
    fn new() -> Self {
        let sites = (0..SITES)
            .map(|s| {
                (
                    s,
                    GeoPoint {
                        lat: 51.0 + 0.006 * s as f64,
                        lon: 7.0 + 0.01 * s as f64,
                    },
                )
            })
            .collect();
        Self {
            sites,
            flows: BTreeMap::new(),
            pinned: Vec::new(),
        }
    }

    fn input(&self, flow: u128, spec: &FlowSpec) -> FlowInput {
        let category = CATEGORIES[spec.category];
        let mut b = FlowBuilder::new(
            flow,
            site_business(spec.site),
            if spec.offer {
                Direction::Offer
            } else {
                Direction::Need
            },
            category,
        )
        .site(1_000 + spec.site)
        .schedule(SCHEDULES[spec.schedule])
        .annual(spec.annual)
        .temp(if spec.offer {
            OFFER_TEMPERATURES[spec.temperature]
        } else {
            NEED_TEMPERATURES[spec.temperature]
        })
        .purity(spec.purity);
        if let Some(km) = spec.max_km {
            b = b.max_km(km);
        }
        if let Some(p) = spec.price {
            b = b.price(p);
        }
        b = match spec.validity {
            1 => b.valid(None, Some(date(2025, 6, 30))),
            2 => b.valid(Some(date(2025, 7, 1)), None),
            3 => b.valid(Some(date(2025, 1, 1)), Some(date(2025, 12, 31))),
            _ => b,
        };
        if spec.paused {
            b = b.paused();
        }
        let mut input = b.at(self.sites[&spec.site]);
        input.flow.max_proposals = spec.max_proposals;
        input.flow.pays_for_co2 = spec.pays_for_co2;
        input
    }

    fn inputs(&self) -> Vec<FlowInput> {
        self.flows.iter().map(|(f, s)| self.input(*f, s)).collect()
    }
}

fn sorted(engine: &Engine) -> Vec<Match> {
    let mut v: Vec<Match> = engine.iter().map(|m| (*m).clone()).collect();
    v.sort_by_key(|m| m.id);
    v
}

/// Replays a diff onto a copy of the state, checking it is well-formed.
fn replay(mirror: &mut HashMap<Uuid, Arc<Match>>, diff: &MatchDiff) -> Result<(), TestCaseError> {
    for m in &diff.added {
        prop_assert!(
            mirror.insert(m.id, Arc::clone(m)).is_none(),
            "added a match that existed: {}",
            m.id
        );
    }
    for m in &diff.changed {
        let previous = mirror.insert(m.id, Arc::clone(m));
        prop_assert!(
            previous.is_some(),
            "changed a match that did not exist: {}",
            m.id
        );
        prop_assert!(
            previous.as_deref() != Some(&**m),
            "reported an unchanged match as changed: {}",
            m.id
        );
    }
    for r in diff.removed.iter().chain(&diff.withdrawn) {
        let previous = mirror.remove(&r.id);
        prop_assert!(
            previous.is_some(),
            "removed a match that did not exist: {}",
            r.id
        );
        prop_assert!(
            previous.as_deref() == Some(&*r.last),
            "removed match's last version is stale"
        );
        prop_assert!(!r.reason.is_empty());
    }
    Ok(())
}

/// Every hard constraint, checked independently of the engine from the world's own data.
fn check_hard_constraints(world: &World, m: &Match) -> Result<(), TestCaseError> {
    let taxonomy = taxonomy();
    let key = |u: Uuid| u.as_u128();
    let (o, n) = (
        &world.flows[&key(m.offer_flow_id)],
        &world.flows[&key(m.need_flow_id)],
    );
    prop_assert!(o.offer && !n.offer);
    prop_assert!(!o.paused && !n.paused, "a paused flow is matched");
    prop_assert_ne!(
        site_business(o.site),
        site_business(n.site),
        "same business"
    );
    let (oc, nc) = (CATEGORIES[o.category], CATEGORIES[n.category]);
    let rule = taxonomy.rule(oc, nc);
    prop_assert!(rule.is_some(), "no rule {oc} -> {nc}");
    let (oi, ni) = (
        world.input(key(m.offer_flow_id), o),
        world.input(key(m.need_flow_id), n),
    );
    prop_assert!(
        rule.is_some_and(|r| r.parsed.holds(&oi.flow.quality, &ni.flow.quality)),
        "quality"
    );
    let d = haversine_km(oi.location, ni.location);
    let limit = |own: Option<f64>, code: &str| {
        own.or(taxonomy.category(code).map(|c| c.max_distance_km))
            .unwrap_or(f64::INFINITY)
    };
    let allowed = limit(o.max_km, oc).min(limit(n.max_km, nc));
    prop_assert!(d <= allowed, "distance {d} > {allowed}");
    prop_assert!((m.distance_km - d).abs() < 1e-9);
    prop_assert!(
        !matches!((o.validity, n.validity), (1, 2) | (2, 1)),
        "disjoint validity"
    );
    prop_assert!((0.0..=1.0).contains(&m.score), "score {}", m.score);
    for c in m.components.as_array() {
        prop_assert!((0.0..=1.0).contains(&c), "component {c}");
    }
    prop_assert!(
        m.allocatable_quantity >= 0.0
            && m.allocatable_quantity <= m.delivered_quantity * (1.0 + 1e-12)
    );
    prop_assert!(m.covered_share > 0.0 && m.covered_share <= 1.0);
    Ok(())
}

/// The heads a list ranks by agree with the figures: the same pairs, sides and score, for all
/// matches, each flow's and each business's.
fn check_heads(engine: &Engine, matches: &[Match]) -> Result<(), TestCaseError> {
    fn head_of(m: &Match) -> MatchHead<'_> {
        MatchHead {
            id: m.id,
            score: m.score,
            offer_flow_id: m.offer_flow_id,
            need_flow_id: m.need_flow_id,
            offer_business_id: m.offer_business_id,
            need_business_id: m.need_business_id,
            offer_anonymous: m.offer_anonymous,
            need_anonymous: m.need_anonymous,
            offer_category: &m.offer_category,
            need_category: &m.need_category,
        }
    }
    let sorted = |heads: &mut Vec<MatchHead<'_>>| heads.sort_by_key(|h| h.id);
    let mut all: Vec<MatchHead<'_>> = engine.heads().collect();
    sorted(&mut all);
    let expected: Vec<MatchHead<'_>> = matches.iter().map(head_of).collect();
    prop_assert_eq!(&all, &expected, "heads of all matches");
    let flows = |m: &Match| [m.offer_flow_id, m.need_flow_id];
    let businesses = |m: &Match| [m.offer_business_id, m.need_business_id];
    for (scope, sides) in [
        ("flow", &flows as &dyn Fn(&Match) -> [Uuid; 2]),
        ("business", &businesses),
    ] {
        let mut owners: Vec<Uuid> = matches.iter().flat_map(sides).collect();
        owners.sort();
        owners.dedup();
        for owner in owners {
            let mut of_owner: Vec<MatchHead<'_>> = if scope == "flow" {
                engine.flow_heads(owner).collect()
            } else {
                prop_assert!(engine.knows_business(owner));
                engine.business_heads(owner).collect()
            };
            sorted(&mut of_owner);
            let expected: Vec<MatchHead<'_>> = matches
                .iter()
                .filter(|m| sides(m).contains(&owner))
                .map(head_of)
                .collect();
            prop_assert_eq!(&of_owner, &expected, "heads of {} {}", scope, owner);
        }
    }
    Ok(())
}

/// No offer gives away more than it has.
fn check_allocation(world: &World, matches: &[Match]) -> Result<(), TestCaseError> {
    let mut used: HashMap<Uuid, f64> = HashMap::new();
    for m in matches {
        // allocatable in need units → need amount → offer amount.
        let amount = m.allocatable_quantity * m.delivered_annual_amount
            / m.delivered_quantity
            / m.conversion;
        *used.entry(m.offer_flow_id).or_default() += amount;
    }
    for (offer, amount) in used {
        let annual = world.flows[&offer.as_u128()].annual;
        prop_assert!(
            amount <= annual * (1.0 + 1e-9),
            "offer {offer} allocates {amount} of {annual}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn incremental_state_equals_rebuild_and_brute_force(
        ops in prop::collection::vec(op(), 1..120),
        per_offer in 1u32..4,
        per_need in 1u32..4,
    ) {
        let config = MatchingConfig {
            proposals: ProposalLimits { per_offer, per_need },
            ..MatchingConfig::default()
        };
        let mut world = World::new();
        let mut engine = Engine::new(taxonomy(), config).expect("valid");
        let mut mirror: HashMap<Uuid, Arc<Match>> = HashMap::new();
        for op in &ops {
            let diff = match op {
                Op::Upsert(f, spec) => {
                    world.flows.insert(*f, spec.clone());
                    engine.upsert_flow(world.input(*f, spec))
                }
                Op::Remove(f) => {
                    world.flows.remove(f);
                    engine.remove_flow(id(*f))
                }
                Op::RemoveSeveral(a, b) => {
                    world.flows.remove(a);
                    world.flows.remove(b);
                    engine.remove_flows(&[id(*a), id(*b)])
                }
                Op::MoveSite(s, dlat, dlon) => {
                    let p = GeoPoint { lat: 51.0 + dlat, lon: 7.0 + dlon };
                    world.sites.insert(*s, p);
                    engine.move_site(site_id(*s), p)
                }
                Op::Pin(a, b) => {
                    if !world.pinned.contains(&(id(*a), id(*b))) {
                        world.pinned.push((id(*a), id(*b)));
                    }
                    engine.pin(id(*a), id(*b))
                }
            };
            replay(&mut mirror, &diff)?;
        }

        let incremental = sorted(&engine);
        let mut replayed: Vec<Match> = mirror.values().map(|m| (**m).clone()).collect();
        replayed.sort_by_key(|m| m.id);
        prop_assert_eq!(&replayed, &incremental, "the diffs replay to the engine's state");

        let mut rebuilt = Engine::new(taxonomy(), config).expect("valid");
        rebuilt.pin_all(world.pinned.iter().copied());
        rebuilt.rebuild(world.inputs());
        prop_assert_eq!(&sorted(&rebuilt), &incremental, "rebuild equals incremental");

        let brute = reference::proposed_pairs(taxonomy(), &config, world.inputs(), &world.pinned);
        prop_assert_eq!(&brute, &incremental, "brute force equals incremental");

        // Pinned pairs are never dropped while they hold: every pinned pair that holds at all (as
        // a brute force proposing everything sees it) is live.
        let everything = MatchingConfig {
            proposals: ProposalLimits { per_offer: 100, per_need: 100 },
            ..config
        };
        let mut unbounded: Vec<FlowInput> = world.inputs();
        for input in &mut unbounded {
            input.flow.max_proposals = None;
            input.flow.pays_for_co2 = input.flow.direction == Direction::Need;
        }
        let holding = reference::all_pairs(taxonomy(), &everything, unbounded);
        for (offer, need) in &world.pinned {
            let pair = symbiont_matching::match_id(*offer, *need);
            if holding.iter().any(|m| m.id == pair) {
                prop_assert!(incremental.iter().any(|m| m.id == pair), "pinned pair {pair} dropped");
            }
        }
        // Nothing live that does not hold.
        for m in &incremental {
            let holds = holding.iter().any(|h| h.id == m.id);
            prop_assert!(holds, "live pair {} does not hold", m.id);
        }

        // Deterministic: a rebuild from the flows in reverse order gives the very same matches.
        let mut reversed = world.inputs();
        reversed.reverse();
        rebuilt.rebuild(reversed);
        prop_assert_eq!(&sorted(&rebuilt), &incremental);

        for m in &incremental {
            check_hard_constraints(&world, m)?;
        }
        check_allocation(&world, &incremental)?;
        check_heads(&engine, &incremental)?;
        prop_assert_eq!(engine.stats().flows, world.flows.len());
        for (f, _) in world.flows.iter() {
            let of_flow = engine.matches_of_flow(id(*f));
            let expected = incremental.iter().filter(|m| m.offer_flow_id == id(*f) || m.need_flow_id == id(*f)).count();
            prop_assert_eq!(of_flow.len(), expected);
            prop_assert!(of_flow.windows(2).all(|w| w[0].score >= w[1].score), "best first");
        }
    }
}
