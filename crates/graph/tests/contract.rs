//! The NetworkGraph contract, run against every adapter: the in-process petgraph projection, and the
//! openCypher projection on FalkorDB (`SYMBIONT_TEST_FALKORDB_URL`, default
//! `falkordb://127.0.0.1:6390`, each test in a graph of its own, deleted at the end). Without the
//! server the FalkorDB tests are skipped, except under `CI=true`, where they fail.
//!
//! The same statements over Bolt: FalkorDB's Bolt listener (`SYMBIONT_TEST_BOLT_URL`, default
//! `bolt://127.0.0.1:7687`) agrees only to Bolt 5.x, which neo4rs 0.8.0 does not propose, so a test
//! pins that failure down; the whole contract over Bolt runs on a Neo4j server named by
//! `SYMBIONT_TEST_NEO4J_URL`, in a test the suite lists as ignored (no Neo4j can be installed here).

use std::sync::Arc;

use symbiont_core::{GeoPoint, MatchStatus};
use symbiont_graph::analysis::{Anchor, Network, Party, Side};
use symbiont_graph::cypher::CypherGraph;
use symbiont_graph::embedded::EmbeddedGraph;
use symbiont_graph::falkordb::FalkorConnection;
use symbiont_graph::{BoundingBox, Exchange, GraphError, NetworkFilter, NetworkGraph};
use uuid::Uuid;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn service_missing(what: &str, error: impl std::fmt::Display) {
    if ci() {
        panic!("{what} is required under CI=true but unreachable: {error}");
    }
    eprintln!("skipping: {what} unreachable ({error})");
}

fn business(n: u128) -> Uuid {
    Uuid::from_u128(0xB000 + n)
}

const A: u128 = 1;
const B: u128 = 2;
const C: u128 = 3;
const D: u128 = 4;
const E: u128 = 5;
const F: u128 = 6;
const G: u128 = 7;
const H: u128 = 8;

/// Exchange `n` (its need flow is `n`, so the analyses index it `n - 1`) from `offer` to `need`.
#[allow(clippy::too_many_arguments)]
fn exchange(
    n: u128,
    offer: u128,
    need: u128,
    category: &str,
    status: MatchStatus,
    savings: f64,
    at: (f64, f64),
    need_anonymous: bool,
) -> Exchange {
    Exchange {
        need_flow_id: Uuid::from_u128(n),
        match_id: Uuid::from_u128(0xA000 + n),
        version: 1,
        offer_flow_id: Uuid::from_u128(0xF000 + n),
        offer_business_id: business(offer),
        need_business_id: business(need),
        offer_anonymous: false,
        need_anonymous,
        offer_category: category.into(),
        need_category: category.into(),
        status,
        savings_eur_per_year: savings,
        co2_t_per_year: savings / 100.0,
        public_savings_eur_per_year: savings,
        public_co2_t_per_year: savings / 100.0,
        offer_location: GeoPoint {
            lat: at.0,
            lon: at.1,
        },
        need_location: GeoPoint {
            lat: at.0 + 0.01,
            lon: at.1 + 0.01,
        },
    }
}

/// A brewery (A) feeds a biogas plant (B), whose digestate goes to a farm (C) and whose CO2 to a
/// greenhouse (D); the farm's heat goes on to a district-heating network (E). Apart, near another
/// town: F serves G's anonymous need, and G serves H.
fn golden() -> Vec<Exchange> {
    use MatchStatus::*;
    let kalundborg = (50.0, 7.0);
    let elsewhere = (52.0, 9.0);
    vec![
        exchange(
            1,
            A,
            B,
            "material.spent_grain",
            Agreed,
            1000.0,
            kalundborg,
            false,
        ),
        exchange(
            2,
            B,
            C,
            "material.digestate",
            Suggested,
            500.0,
            kalundborg,
            false,
        ),
        exchange(3, B, D, "gas.co2", Suggested, 2000.0, kalundborg, false),
        exchange(
            4,
            C,
            E,
            "heat.low_temp",
            Negotiating,
            250.0,
            kalundborg,
            false,
        ),
        exchange(5, F, G, "heat.low_temp", Suggested, 300.0, elsewhere, true),
        exchange(6, G, H, "water.process", Contacted, 125.0, elsewhere, false),
    ]
}

fn parties(ids: &[u128]) -> Vec<Party> {
    ids.iter().map(|n| Party::Business(business(*n))).collect()
}

fn anchor(n: u128, exchanges: &[usize], chains: usize, splits_into: usize) -> Anchor {
    Anchor {
        business: business(n),
        exchanges: exchanges.to_vec(),
        chains,
        splits_into,
    }
}

/// The analyses of the golden network, for an admin and for a stranger, from what `graph` returns.
async fn the_golden_network_gives_exact_chains_clusters_and_anchors(graph: &dyn NetworkGraph) {
    graph.replace_all(&golden()).await.expect("replace");
    let stored = graph
        .exchanges(&NetworkFilter::default())
        .await
        .expect("read");
    let mut sorted = stored.clone();
    sorted.sort_by_key(|e| e.need_flow_id);
    assert_eq!(sorted, golden(), "the projection returns what was written");

    // An admin sees every side.
    let network = Network::new(stored.clone(), |_| (false, false));
    let chains: Vec<(Vec<usize>, Vec<Party>)> = network
        .chains()
        .into_iter()
        .map(|c| (c.exchanges, c.parties))
        .collect();
    assert_eq!(
        chains,
        vec![
            (vec![0, 1], parties(&[A, B, C])),
            (vec![0, 1, 3], parties(&[A, B, C, E])),
            (vec![0, 2], parties(&[A, B, D])),
            (vec![1, 3], parties(&[B, C, E])),
            (vec![4, 5], parties(&[F, G, H])),
        ]
    );
    let clusters: Vec<(Vec<usize>, Vec<Party>)> = network
        .clusters()
        .into_iter()
        .map(|c| (c.exchanges, c.parties))
        .collect();
    assert_eq!(
        clusters,
        vec![
            (vec![0, 1, 2, 3], parties(&[A, B, C, D, E])),
            (vec![4, 5], parties(&[F, G, H])),
        ]
    );
    let all_chains = network.chains();
    assert_eq!(
        network.anchors(&all_chains),
        vec![
            anchor(A, &[0], 3, 1),
            anchor(B, &[0, 1, 2], 4, 3),
            anchor(C, &[1, 3], 3, 2),
            anchor(D, &[2], 1, 1),
            anchor(E, &[3], 2, 1),
            anchor(F, &[4], 1, 1),
            anchor(G, &[4, 5], 1, 2),
            anchor(H, &[5], 1, 1),
        ]
    );

    // A stranger does not see G behind its anonymous need: exchange 5 ends at a party of its
    // own, so nothing links it to G's other exchange.
    let stranger = Network::new(stored, |e| {
        (
            e.offer_anonymous,
            e.need_anonymous, // nobody's own flows, no accepted contact
        )
    });
    let chains: Vec<Vec<usize>> = stranger.chains().into_iter().map(|c| c.exchanges).collect();
    assert_eq!(
        chains,
        vec![vec![0, 1], vec![0, 1, 3], vec![0, 2], vec![1, 3]]
    );
    let clusters: Vec<Vec<usize>> = stranger
        .clusters()
        .into_iter()
        .map(|c| c.exchanges)
        .collect();
    assert_eq!(clusters, vec![vec![0, 1, 2, 3]]);
    let stranger_chains = stranger.chains();
    let anchors = stranger.anchors(&stranger_chains);
    assert_eq!(
        anchors.iter().find(|a| a.business == business(G)),
        Some(&anchor(G, &[5], 0, 1))
    );
    assert_eq!(
        anchors.iter().find(|a| a.business == business(F)),
        Some(&anchor(F, &[4], 0, 1))
    );
    let hidden = Party::Hidden {
        match_id: Uuid::from_u128(0xA005),
        side: Side::Need,
    };
    assert!(
        stranger
            .clusters()
            .iter()
            .all(|c| !c.parties.contains(&hidden))
    );
}

async fn writes_apply_by_version_and_replays_change_nothing(graph: &dyn NetworkGraph) {
    graph.replace_all(&golden()).await.expect("replace");
    let read = |filter: NetworkFilter| async move {
        let mut list = graph.exchanges(&filter).await.expect("read");
        list.sort_by_key(|e| e.need_flow_id);
        list
    };
    let mut first = golden()[0].clone();
    first.version = 10;
    first.status = MatchStatus::Negotiating;
    graph.upsert(&[first.clone()]).await.expect("upsert");
    // An older state of the same need, delivered late, and a replay: both ignored.
    let mut older = golden()[0].clone();
    older.version = 5;
    older.offer_business_id = business(H);
    graph.upsert(&[older, first.clone()]).await.expect("upsert");
    assert_eq!(read(NetworkFilter::default()).await[0], first);

    // A need served by nothing stays so against older writes, and a newer one serves it again.
    let mut second = golden()[1].clone();
    graph
        .unserve(&[(second.need_flow_id, 20)])
        .await
        .expect("unserve");
    second.version = 15;
    graph.upsert(&[second.clone()]).await.expect("upsert");
    let needs: Vec<Uuid> = read(NetworkFilter::default())
        .await
        .iter()
        .map(|e| e.need_flow_id)
        .collect();
    assert!(!needs.contains(&second.need_flow_id), "{needs:?}");
    // The same need now served by another business's offer: the old link is gone.
    second.version = 21;
    second.offer_business_id = business(D);
    graph.upsert(&[second.clone()]).await.expect("upsert");
    let now = read(NetworkFilter::default()).await;
    assert_eq!(now.len(), 6);
    assert_eq!(now[1], second);
    let network = Network::new(now, |_| (false, false));
    let chains: Vec<Vec<usize>> = network.chains().into_iter().map(|c| c.exchanges).collect();
    assert!(
        chains
            .iter()
            .all(|c| c.first() != Some(&0) || c.get(1) != Some(&1)),
        "A→B→C no longer exists: {chains:?}"
    );

    // A rebuild replaces everything, tombstones included.
    graph.replace_all(&golden()[..2]).await.expect("replace");
    assert_eq!(read(NetworkFilter::default()).await, golden()[..2].to_vec());
}

async fn filters_select_by_region_category_and_status(graph: &dyn NetworkGraph) {
    graph.replace_all(&golden()).await.expect("replace");
    let needs = |filter: NetworkFilter| async move {
        let mut list: Vec<u128> = graph
            .exchanges(&filter)
            .await
            .expect("read")
            .iter()
            .map(|e| e.need_flow_id.as_u128())
            .collect();
        list.sort_unstable();
        list
    };
    let statuses = NetworkFilter {
        statuses: Some(vec![MatchStatus::Agreed, MatchStatus::Negotiating]),
        ..NetworkFilter::default()
    };
    assert_eq!(needs(statuses).await, vec![1, 4]);
    let family = |category: &str| NetworkFilter {
        category: Some(category.into()),
        ..NetworkFilter::default()
    };
    assert_eq!(needs(family("heat")).await, vec![4, 5]);
    assert_eq!(needs(family("heat.low_temp")).await, vec![4, 5]);
    assert_eq!(needs(family("hea")).await, Vec::<u128>::new());
    let region = |south, west, north, east| NetworkFilter {
        region: Some(BoundingBox {
            south,
            west,
            north,
            east,
        }),
        ..NetworkFilter::default()
    };
    assert_eq!(needs(region(49.0, 6.0, 51.0, 8.0)).await, vec![1, 2, 3, 4]);
    // The need ends lie 0.01° north-east of the offers: a box that cuts them off holds nothing.
    assert_eq!(
        needs(region(49.0, 6.0, 50.005, 8.0)).await,
        Vec::<u128>::new()
    );
    let combined = NetworkFilter {
        region: Some(BoundingBox {
            south: 40.0,
            west: 0.0,
            north: 60.0,
            east: 20.0,
        }),
        category: Some("heat".into()),
        statuses: Some(vec![MatchStatus::Suggested]),
    };
    assert_eq!(needs(combined).await, vec![5]);
}

async fn run_contract(graph: &dyn NetworkGraph) {
    the_golden_network_gives_exact_chains_clusters_and_anchors(graph).await;
    writes_apply_by_version_and_replays_change_nothing(graph).await;
    filters_select_by_region_category_and_status(graph).await;
}

#[tokio::test]
async fn embedded_graph_passes_the_contract() {
    let graph = EmbeddedGraph::default();
    run_contract(&graph).await;
}

fn falkordb_url() -> String {
    std::env::var("SYMBIONT_TEST_FALKORDB_URL")
        .unwrap_or_else(|_| "falkordb://127.0.0.1:6390".into())
}

#[tokio::test]
async fn falkordb_graph_passes_the_contract() {
    let name = format!("symbiont-test-{}", Uuid::now_v7().simple());
    let connection = match FalkorConnection::connect(&falkordb_url(), &name).await {
        Ok(connection) => connection,
        Err(error) => return service_missing("FalkorDB", error),
    };
    let graph = match CypherGraph::new(connection).await {
        Ok(graph) => graph,
        Err(error) => return service_missing("FalkorDB", error),
    };
    run_contract(&graph).await;
    graph.connection().delete_graph().await.expect("clean up");
}

#[tokio::test]
async fn a_graph_url_chooses_the_adapter_and_never_repeats_its_password() {
    let embedded = symbiont_graph::connect("memory://", "symbiont")
        .await
        .expect("embedded");
    assert_eq!(embedded.kind(), "embedded");
    let refused = symbiont_graph::connect("gremlin://admin:s3cret@host:8182", "symbiont")
        .await
        .err()
        .expect("refused");
    assert!(matches!(refused, GraphError::UnsupportedUrl(_)));
    assert!(!refused.to_string().contains("s3cret"), "{refused}");
}

/// What fails between neo4rs 0.8.0 and FalkorDB's Bolt listener: the handshake. The driver
/// proposes Bolt 4.1 and 4.0; FalkorDB agrees only to 5.x, so it closes the connection without
/// choosing a version, and the driver (left to itself) retries for about 35 s and reports
/// `IOError { UnexpectedEof, "early eof" }`. The adapter checks the handshake first and says so at
/// once. When this test fails, the server or the driver has changed: run the contract over Bolt.
#[tokio::test]
async fn the_bolt_driver_cannot_agree_a_protocol_version_with_falkordb() {
    let url =
        std::env::var("SYMBIONT_TEST_BOLT_URL").unwrap_or_else(|_| "bolt://127.0.0.1:7687".into());
    let port_open = tokio::net::TcpStream::connect(
        url.trim_start_matches("bolt://")
            .rsplit('@')
            .next()
            .unwrap_or("127.0.0.1:7687"),
    )
    .await;
    if let Err(error) = port_open {
        return service_missing("FalkorDB's Bolt listener", error);
    }
    let error = symbiont_graph::connect(&url, "")
        .await
        .err()
        .expect("neo4rs 0.8.0 cannot speak to FalkorDB");
    let chain = error_chain(&error);
    assert!(
        matches!(error, GraphError::Unavailable { .. }),
        "the driver fails to connect, not later: {chain}"
    );
    assert!(
        chain.contains("agreed to no Bolt version neo4rs 0.8.0 speaks"),
        "the failure is the version handshake: {chain}"
    );
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The contract over Bolt, on a Neo4j server. None can be installed here (no package is reachable),
/// so the suite lists it as ignored rather than passing it silently; where a server exists,
/// `SYMBIONT_TEST_NEO4J_URL=bolt://… cargo test -p symbiont-graph -- --ignored` runs it, and it
/// fails without the variable.
#[tokio::test]
#[ignore = "needs a Neo4j server named by SYMBIONT_TEST_NEO4J_URL"]
async fn bolt_graph_passes_the_contract_on_neo4j() {
    let url = std::env::var("SYMBIONT_TEST_NEO4J_URL")
        .expect("SYMBIONT_TEST_NEO4J_URL must name a Neo4j server (bolt://host:7687)");
    let graph: Arc<dyn NetworkGraph> = symbiont_graph::connect(&url, "")
        .await
        .expect("Neo4j over Bolt");
    run_contract(graph.as_ref()).await;
    graph.replace_all(&[]).await.expect("clean up");
}
