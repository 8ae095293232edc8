//! Matching through the API: golden scenarios, the lifecycle, expiry and revival, persistence.

use crate::common::*;
use serde_json::{Value, json};

fn flow(site: &str, direction: &str, category: &str, temperature_c: f64, kw: f64) -> Value {
    json!({
        "site_id": site, "direction": direction, "category": category,
        "quality": { "temperature_c": temperature_c },
        "quantity": { "value": kw, "unit": "kW" }, "profile": "24/7",
    })
}

async fn create(server: &Server, body: &Value) -> String {
    let (status, created) = server.post("/api/v1/flows", body).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().expect("id").to_string()
}

fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn data_centre_heat_serves_a_heat_pump_but_not_a_60_degree_need() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let (_, dc_site) = business_with_site(&server, "Data centre", 51.200, 6.800).await;
    let (_, dh_site) = business_with_site(&server, "District heating", 51.205, 6.805).await;
    let (hp_business, hp_site) =
        business_with_site(&server, "Heat pump operator", 51.210, 6.800).await;
    let offer = create(
        &server,
        &flow(&dc_site, "offer", "heat.ambient", 35.0, 1000.0),
    )
    .await;
    let hot_need = create(
        &server,
        &flow(&dh_site, "need", "heat.low_temp", 60.0, 500.0),
    )
    .await;
    let pump_need = create(
        &server,
        &flow(&hp_site, "need", "heat.heat_pump_source", 20.0, 500.0),
    )
    .await;

    let (status, of_hot) = server
        .get(&format!("/api/v1/flows/{hot_need}/matches"))
        .await;
    assert_eq!(status, 200);
    assert!(
        items(&of_hot).is_empty(),
        "35 °C cannot serve 60 °C: {of_hot}"
    );
    let (_, of_pump) = server
        .get(&format!("/api/v1/flows/{pump_need}/matches"))
        .await;
    let matches = items(&of_pump);
    assert_eq!(matches.len(), 1, "{of_pump}");
    let m = &matches[0];
    assert_eq!(m["offer_flow_id"], offer.as_str());
    assert_eq!(m["status"], "suggested");
    assert!(
        m["score"]
            .as_f64()
            .is_some_and(|s| (0.0..=1.0).contains(&s))
    );
    assert!(m["distance_km"].as_f64().is_some_and(|d| d < 2.0));
    assert!(
        m["explanation"].as_str().is_some_and(|e| e.contains("km")),
        "{m}"
    );
    let (_, of_business) = server
        .get(&format!("/api/v1/businesses/{hp_business}/matches"))
        .await;
    assert_eq!(items(&of_business).len(), 1);
    let (status, one) = server
        .get(&format!(
            "/api/v1/matches/{}",
            m["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["id"], m["id"]);
}

#[tokio::test]
async fn the_nearer_of_two_identical_offers_ranks_first_and_far_ones_never_appear() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let (_, need_site) = business_with_site(&server, "Greenhouse", 51.200, 6.800).await;
    let (_, near_site) = business_with_site(&server, "Near dairy", 51.210, 6.800).await;
    let (_, far_site) = business_with_site(&server, "Farther dairy", 51.240, 6.800).await;
    let (_, remote_site) = business_with_site(&server, "Remote dairy", 52.200, 6.800).await;
    let mut need = flow(&need_site, "need", "heat.low_temp", 50.0, 400.0);
    need["max_distance_km"] = json!(8.0);
    let need = create(&server, &need).await;
    let near = create(
        &server,
        &flow(&near_site, "offer", "heat.low_temp", 75.0, 400.0),
    )
    .await;
    let far = create(
        &server,
        &flow(&far_site, "offer", "heat.low_temp", 75.0, 400.0),
    )
    .await;
    let _remote = create(
        &server,
        &flow(&remote_site, "offer", "heat.low_temp", 75.0, 400.0),
    )
    .await;
    let (_, page) = server.get(&format!("/api/v1/flows/{need}/matches")).await;
    let ids: Vec<String> = items(&page)
        .iter()
        .map(|m| m["offer_flow_id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        ids,
        vec![near, far],
        "nearer first; the offer 111 km away is beyond 8 km"
    );
    let (status, _) = server.get("/api/v1/matches?min_score=2").await;
    assert_eq!(status, 400);
    let (status, _) = server.get("/api/v1/matches?sort=cheapest").await;
    assert_eq!(status, 400);
    let (_, by_savings) = server.get("/api/v1/matches?sort=savings&limit=1").await;
    assert_eq!(items(&by_savings).len(), 1);
    let cursor = by_savings["next_cursor"]
        .as_str()
        .expect("a second page exists");
    let (_, second) = server
        .get(&format!(
            "/api/v1/matches?sort=savings&limit=1&cursor={cursor}"
        ))
        .await;
    assert_eq!(items(&second).len(), 1);
    assert_ne!(items(&second)[0]["id"], items(&by_savings)[0]["id"]);
}

#[tokio::test]
async fn the_lifecycle_refuses_illegal_steps_and_expiry_keeps_the_decision() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let (_, a) = business_with_site(&server, "Brewery", 51.200, 6.800).await;
    let (_, b) = business_with_site(&server, "Pool", 51.201, 6.801).await;
    let offer = create(&server, &flow(&a, "offer", "heat.low_temp", 80.0, 300.0)).await;
    let _need = create(&server, &flow(&b, "need", "heat.low_temp", 45.0, 300.0)).await;
    let (_, page) = server.get(&format!("/api/v1/flows/{offer}/matches")).await;
    let id = items(&page)[0]["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/matches/{id}");

    let (status, problem) = server
        .patch(&path, &json!({ "status": "agreed" }), None)
        .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("contacted")),
        "{problem}"
    );
    let (status, m) = server
        .patch(
            &path,
            &json!({ "status": "contacted", "note": "called Anna" }),
            Some("\"0\""),
        )
        .await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["status"], "contacted");
    assert_eq!(m["decision_version"], 1);
    let (status, _) = server
        .patch(&path, &json!({ "status": "negotiating" }), Some("\"0\""))
        .await;
    assert_eq!(status, 412, "a stale ETag is refused");
    let (status, m) = server
        .patch(&path, &json!({ "status": "negotiating" }), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(m["note"], "called Anna", "the note is kept");
    let (status, problem) = server
        .patch(&path, &json!({ "status": "expired" }), None)
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(error_fields(&problem), ["status"]);

    // Pausing the offer expires the pair; the decision and the last figures are kept with the reason.
    let (status, _) = server
        .patch(
            &format!("/api/v1/flows/{offer}"),
            &json!({ "status": "paused" }),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, expired) = server.get(&path).await;
    assert_eq!(status, 200, "an expired match is kept");
    assert_eq!(expired["status"], "expired");
    assert!(
        expired["expired_reason"]
            .as_str()
            .is_some_and(|r| r.contains("paused")),
        "{expired}"
    );
    assert!(
        expired["score"].as_f64().is_some(),
        "last figures kept: {expired}"
    );
    let (_, listed) = server.get("/api/v1/matches?status=expired").await;
    assert_eq!(items(&listed).len(), 1);
    let (status, _) = server
        .patch(&path, &json!({ "status": "agreed" }), None)
        .await;
    assert_eq!(status, 409, "an expired match cannot change");

    // Resuming brings the pair back where the people had left it, also after a restart.
    let (status, _) = server
        .patch(
            &format!("/api/v1/flows/{offer}"),
            &json!({ "status": "active" }),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, back) = server.get(&path).await;
    assert_eq!(back["status"], "negotiating", "{back}");
    assert!(server.terminate().success());
    let server = Server::start(&data_dir(&dir), &[]);
    let (_, again) = server.get(&path).await;
    assert_eq!(again["status"], "negotiating");
    let (status, agreed) = server
        .patch(&path, &json!({ "status": "agreed" }), None)
        .await;
    assert_eq!(status, 200);
    let (_, stats) = server.get("/api/v1/stats").await;
    assert_eq!(stats["matches"]["by_status"]["agreed"], 1, "{stats}");
    assert_eq!(stats["businesses"], 2);
    let savings = stats["matches"]["agreed"]["savings_eur_per_year"]
        .as_f64()
        .expect("number");
    assert!((savings - agreed["savings_eur_per_year"].as_f64().expect("number")).abs() < 1e-6);

    // Deleting the need's business expires the agreed match with a reason.
    let (status, need_flow) = server.get(&format!("/api/v1/matches/{id}")).await;
    assert_eq!(status, 200);
    let need_business = need_flow["need_business_id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        server
            .delete(&format!("/api/v1/businesses/{need_business}"))
            .await,
        204
    );
    let (_, gone) = server.get(&path).await;
    assert_eq!(gone["status"], "expired");
    assert!(
        gone["expired_reason"]
            .as_str()
            .is_some_and(|r| r.contains("deleted")),
        "{gone}"
    );
}

/// On the demo region: businesses with needs find matches through the API, and the greenhouses'
/// best heat matches are plausible heat sources nearby.
#[tokio::test]
async fn demo_businesses_with_needs_get_plausible_matches() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &["--demo"]);
    let (_, needs) = server.get("/api/v1/flows?direction=need&limit=1000").await;
    let mut needing: Vec<String> = items(&needs)
        .iter()
        .filter_map(|f| f["business_id"].as_str().map(str::to_string))
        .collect();
    needing.sort();
    needing.dedup();
    assert!(
        needing.len() >= 80,
        "{} businesses with needs",
        needing.len()
    );
    let mut with_matches = 0;
    for business in &needing {
        let (status, page) = server
            .get(&format!("/api/v1/businesses/{business}/matches?limit=5"))
            .await;
        assert_eq!(status, 200);
        if !items(&page).is_empty() {
            with_matches += 1;
        }
    }
    assert!(
        with_matches * 10 >= needing.len() * 9,
        "{with_matches} of {} businesses with needs have matches",
        needing.len()
    );

    let (_, businesses) = server
        .get("/api/v1/businesses?industry=A01.13&limit=50")
        .await;
    let mut greenhouses_with_heat = 0;
    for greenhouse in items(&businesses) {
        let id = greenhouse["id"].as_str().expect("id");
        let (_, heat) = server
            .get(&format!(
                "/api/v1/businesses/{id}/matches?category=heat.low_temp"
            ))
            .await;
        let Some(top) = items(&heat).into_iter().next() else {
            continue;
        };
        greenhouses_with_heat += 1;
        assert_eq!(top["need_business_id"], id);
        assert!(
            top["distance_km"].as_f64().is_some_and(|d| d <= 12.0),
            "{top}"
        );
        let source = top["offer_category"].as_str().unwrap_or_default();
        assert!(
            source.starts_with("heat.") || source.starts_with("steam."),
            "{top}"
        );
        assert!(
            top["savings_eur_per_year"]
                .as_f64()
                .is_some_and(|s| s > 0.0),
            "{top}"
        );
    }
    assert!(
        greenhouses_with_heat >= 1,
        "no demo greenhouse has a heat source nearby"
    );
    let (_, stats) = server.get("/api/v1/stats").await;
    assert!(
        stats["matches"]["live"].as_u64().is_some_and(|n| n > 100),
        "{stats}"
    );
}
