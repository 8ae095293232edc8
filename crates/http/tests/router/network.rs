//! `/api/v1/network/*` on a small network made through the API, with exact answers, and the
//! attacker's test: a business whose need is anonymous must not be found through a chain, a
//! cluster or an anchor by anyone it has not accepted contact from.
//!
//! The network: three businesses 6 km apart on a line (A, B, C; A and C 12 km apart, beyond the
//! 10 km of low-temperature heat), A's 85 °C heat serves B's 60 °C need, and B's 70 °C heat serves
//! C's 50 °C need: one chain A → B → C, one cluster, B its anchor.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestApp, Who, business_body, heat_flow, site_body};

struct Line {
    app: TestApp,
    admin: Who,
    a_owner: Who,
    b_owner: Who,
    stranger: Who,
    a: String,
    b: String,
    c: String,
    b_need: String,
    /// A's offer → B's need, and B's offer → C's need.
    first_match: String,
    second_match: String,
}

/// Longitude degrees of 6 km at latitude 50°.
const SIX_KM: f64 = 6.0 / (111.32 * 0.642_787_609_686_539_3);

async fn line(b_need_anonymous: bool) -> Line {
    let app = TestApp::start().await;
    let (_, admin) = app.user("admin@network.example", true).await;
    let (_, a_owner) = app.user("a@network.example", false).await;
    let (_, b_owner) = app.user("b@network.example", false).await;
    let (_, c_owner) = app.user("c@network.example", false).await;
    let (_, stranger) = app.user("stranger@network.example", false).await;
    let mut sites = Vec::new();
    let mut businesses = Vec::new();
    for (i, (owner, name)) in [
        (&a_owner, "A Works"),
        (&b_owner, "B Works"),
        (&c_owner, "C Works"),
    ]
    .into_iter()
    .enumerate()
    {
        let business = app
            .create("/api/v1/businesses", owner, &business_body(name))
            .await;
        let site = app
            .create(
                &format!("/api/v1/businesses/{business}/sites"),
                owner,
                &site_body(50.0, 7.0 + SIX_KM * i as f64),
            )
            .await;
        businesses.push(business);
        sites.push(site);
    }
    // The stranger has a business of its own far away: a member of the platform, party to nothing.
    let far = app
        .create("/api/v1/businesses", &stranger, &business_body("Far Away"))
        .await;
    app.create(
        &format!("/api/v1/businesses/{far}/sites"),
        &stranger,
        &site_body(40.0, -3.0),
    )
    .await;
    let a_offer = app
        .create(
            "/api/v1/flows",
            &a_owner,
            &heat_flow(&sites[0], "offer", 85.0, 400.0),
        )
        .await;
    let mut need = heat_flow(&sites[1], "need", 60.0, 200.0);
    need["anonymous"] = json!(b_need_anonymous);
    let b_need = app.create("/api/v1/flows", &b_owner, &need).await;
    let b_offer = app
        .create(
            "/api/v1/flows",
            &b_owner,
            &heat_flow(&sites[1], "offer", 70.0, 300.0),
        )
        .await;
    let c_need = app
        .create(
            "/api/v1/flows",
            &c_owner,
            &heat_flow(&sites[2], "need", 50.0, 200.0),
        )
        .await;
    let match_of = |offer: &str, need: &str| {
        symbiont_matching::match_id(
            offer.parse().expect("a flow id"),
            need.parse().expect("a flow id"),
        )
        .to_string()
    };
    let (first_match, second_match) = (match_of(&a_offer, &b_need), match_of(&b_offer, &c_need));
    let line = Line {
        admin,
        a_owner,
        b_owner,
        stranger,
        a: businesses[0].clone(),
        b: businesses[1].clone(),
        c: businesses[2].clone(),
        b_need,
        first_match,
        second_match,
        app,
    };
    // The projection follows the engine a moment later: wait until the admin sees both exchanges.
    line.eventually(&line.admin.clone(), "/api/v1/network/anchors", |page| {
        page["items"].as_array().map_or(0, Vec::len) == 3
    })
    .await;
    line
}

impl Line {
    async fn get(&self, path: &str, who: &Who) -> Value {
        let (status, _, body) = self.app.get(path, who).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// GETs `path` until `done` holds for the answer (the projection is written asynchronously).
    async fn eventually(&self, who: &Who, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..100 {
            let body = self.get(path, who).await;
            if done(&body) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("GET {path} never reached the expected state");
    }

    async fn savings(&self, match_id: &str) -> f64 {
        let one = self
            .get(&format!("/api/v1/matches/{match_id}"), &self.admin)
            .await;
        one["savings_eur_per_year"]
            .as_f64()
            .unwrap_or_else(|| panic!("exact savings: {one}"))
    }

    async fn decide(&self, who: &Who, status: &str) {
        let answer = self
            .app
            .patch(
                &format!("/api/v1/matches/{}", self.first_match),
                who,
                &json!({ "status": status }),
            )
            .await;
        assert_eq!(answer.0, 200, "{}", answer.2);
    }
}

fn ids(values: &Value) -> Vec<String> {
    values
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().map_or("null".to_string(), str::to_string))
        .collect()
}

#[tokio::test]
async fn a_hand_made_line_gives_exactly_one_chain_one_cluster_and_its_anchor() {
    let line = line(false).await;
    let (first, second) = (
        line.savings(&line.first_match).await,
        line.savings(&line.second_match).await,
    );
    let chains = line.get("/api/v1/network/chains", &line.admin).await;
    let items = chains["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{chains}");
    let chain = &items[0];
    assert_eq!(
        ids(&chain["businesses"]),
        vec![line.a.clone(), line.b.clone(), line.c.clone()]
    );
    let exchanges: Vec<String> = chain["exchanges"]
        .as_array()
        .expect("exchanges")
        .iter()
        .map(|e| e["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        exchanges,
        vec![line.first_match.clone(), line.second_match.clone()]
    );
    let totals = &chain["totals"];
    assert_eq!(totals["exchanges"], 2);
    assert_eq!(totals["redacted"], false);
    let total = totals["savings_eur_per_year"].as_f64().expect("exact");
    // Exchanges are projected in cents.
    assert!(
        (total - (first + second)).abs() <= 0.01,
        "{total} vs {first} + {second}"
    );
    assert_eq!(chains["next_cursor"], Value::Null);

    let clusters = line.get("/api/v1/network/clusters", &line.admin).await;
    let items = clusters["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{clusters}");
    assert_eq!(
        ids(&items[0]["businesses"]),
        vec![line.a.clone(), line.b.clone(), line.c.clone()]
    );
    assert_eq!(items[0]["hidden_parties"], 0);
    assert_eq!(items[0]["totals"]["exchanges"], 2);

    let anchors = line.get("/api/v1/network/anchors", &line.admin).await;
    let items = anchors["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{anchors}");
    assert_eq!(
        items[0]["business_id"],
        line.b.as_str(),
        "B first: {anchors}"
    );
    assert_eq!(items[0]["chains"], 1);
    assert_eq!(items[0]["splits_cluster_into"], 2);
    assert_eq!(items[0]["totals"]["exchanges"], 2);
    for item in &items[1..] {
        assert_eq!(item["chains"], 1);
        assert_eq!(item["splits_cluster_into"], 1);
        assert_eq!(item["totals"]["exchanges"], 1);
    }
    // Pages of one, chained by cursors, give the same order.
    let first_page = line
        .get("/api/v1/network/anchors?limit=1", &line.admin)
        .await;
    let cursor = first_page["next_cursor"].as_str().expect("a next page");
    let second_page = line
        .get(
            &format!("/api/v1/network/anchors?limit=1&cursor={cursor}"),
            &line.admin,
        )
        .await;
    assert_eq!(first_page["items"][0], items[0]);
    assert_eq!(second_page["items"][0], items[1]);

    // Filters: nothing is agreed, nothing is a material, and a box around A and B holds one
    // exchange (no chain, no cluster; two anchors).
    for query in [
        "status=agreed",
        "category=material",
        "status=contacted,negotiating",
    ] {
        let empty = line
            .get(&format!("/api/v1/network/chains?{query}"), &line.admin)
            .await;
        assert_eq!(empty["items"], json!([]), "{query}");
    }
    let suggested = line
        .get(
            "/api/v1/network/chains?status=suggested&category=heat",
            &line.admin,
        )
        .await;
    assert_eq!(suggested["items"].as_array().map(Vec::len), Some(1));
    let bbox = format!("bbox=6.95,49.95,{},50.05", 7.0 + SIX_KM * 1.5);
    let boxed = line
        .get(&format!("/api/v1/network/chains?{bbox}"), &line.admin)
        .await;
    assert_eq!(boxed["items"], json!([]));
    let boxed = line
        .get(&format!("/api/v1/network/anchors?{bbox}"), &line.admin)
        .await;
    let mut found = ids(&json!(
        boxed["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a["business_id"].clone())
            .collect::<Vec<_>>()
    ));
    found.sort();
    assert_eq!(found, vec![line.a.clone(), line.b.clone()]);
}

/// Everything the caller can get from the network routes, as text.
async fn network_answers(line: &Line, who: &Who) -> (Value, Value, Value) {
    (
        line.get("/api/v1/network/chains", who).await,
        line.get("/api/v1/network/clusters", who).await,
        line.get("/api/v1/network/anchors", who).await,
    )
}

#[tokio::test]
async fn an_anonymous_need_cannot_be_traced_to_its_business_through_the_network() {
    let line = line(true).await;
    for (who, label) in [
        (&line.stranger, "a stranger"),
        (&line.a_owner, "the counterparty before accepted contact"),
        (&Who::Anonymous, "a caller without credentials"),
    ] {
        let (chains, clusters, anchors) = network_answers(&line, who).await;
        // No chain passes through B: its served need is not linked to its output.
        assert_eq!(chains["items"], json!([]), "{label}: {chains}");
        // The two exchanges are not one group: the hidden need is a party of its own.
        assert_eq!(clusters["items"], json!([]), "{label}: {clusters}");
        // B is an anchor of its public exchange only; A's exchange with the hidden need is
        // counted for A, in bands, and for nobody else.
        let items = anchors["items"].as_array().expect("items");
        let of = |business: &str| {
            items
                .iter()
                .find(|a| a["business_id"] == business)
                .cloned()
                .unwrap_or_else(|| panic!("{label}: {business} missing from {anchors}"))
        };
        let b = of(&line.b);
        assert_eq!(b["totals"]["exchanges"], 1, "{label}: {b}");
        assert_eq!(b["chains"], 0, "{label}: {b}");
        assert_eq!(b["splits_cluster_into"], 1, "{label}: {b}");
        assert_eq!(b["totals"]["redacted"], false, "{label}: {b}");
        let a = of(&line.a);
        assert_eq!(a["totals"]["exchanges"], 1, "{label}: {a}");
        assert_eq!(a["totals"]["redacted"], true, "{label}: {a}");
        assert_eq!(a["totals"]["savings_eur_per_year"], Value::Null, "{label}");
        assert!(a["totals"]["savings_band"].is_string(), "{label}: {a}");
        assert_eq!(items.len(), 3, "{label}: only A, B and C: {anchors}");
        // Nowhere the hidden flow.
        for answer in [&chains, &clusters, &anchors] {
            assert!(
                !answer.to_string().contains(&line.b_need),
                "{label}: the hidden flow in {answer}"
            );
        }
    }
    // The attacker's sharpest probe: a filter that keeps only the hidden exchange. Its anchors
    // name A and nobody for the other side.
    let only_hidden = line
        .get("/api/v1/network/anchors?status=suggested", &line.stranger)
        .await;
    let named: Vec<String> = only_hidden["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["totals"]["redacted"] == true)
        .map(|a| a["business_id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(named, vec![line.a.clone()]);

    // B itself and an admin see the chain.
    for who in [&line.b_owner, &line.admin] {
        let (chains, _, _) = network_answers(&line, who).await;
        assert_eq!(
            chains["items"].as_array().map(Vec::len),
            Some(1),
            "{chains}"
        );
    }

    // A asks for contact and B accepts: A and B see each other, a stranger still does not.
    line.decide(&line.a_owner, "contacted").await;
    let contacted = line
        .eventually(
            &line.admin,
            "/api/v1/network/chains?status=contacted",
            |p| p["items"].as_array().is_some_and(|i| i.is_empty()),
        )
        .await;
    assert_eq!(contacted["items"], json!([]));
    let (chains, _, _) = network_answers(&line, &line.a_owner).await;
    assert_eq!(chains["items"], json!([]), "contact asked, not accepted");
    line.decide(&line.b_owner, "negotiating").await;
    let chains = line
        .eventually(&line.a_owner, "/api/v1/network/chains", |p| {
            p["items"].as_array().map(Vec::len) == Some(1)
        })
        .await;
    assert_eq!(
        ids(&chains["items"][0]["businesses"]),
        vec![line.a.clone(), line.b.clone(), line.c.clone()]
    );
    let (chains, clusters, _) = network_answers(&line, &line.stranger).await;
    assert_eq!(chains["items"], json!([]));
    assert_eq!(clusters["items"], json!([]));
}
