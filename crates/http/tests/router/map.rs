//! `/api/v1/map/sites` and `/api/v1/map/matches`: the site layer clustered per zoom level, match
//! lines with both ends in the list's order, and bad parameters named. The attacker's view of a
//! line with a hidden side is in [`crate::redaction`].

use serde_json::{Value, json};

use crate::harness::*;

fn features(answer: &Answer) -> Vec<Value> {
    answer.2["features"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_site_layer_clusters_near_sites_and_parts_them_when_zoomed_in() {
    let world = World::new().await;
    let layer = world
        .app
        .get("/api/v1/map/sites?zoom=5", &Who::Anonymous)
        .await;
    assert_eq!(layer.0, 200, "{}", layer.2);
    assert_eq!(layer.1["content-type"], "application/geo+json");
    assert_eq!(layer.2["sites"], 2);
    // The two sites are 1.3 km apart: one cluster at zoom 5, at their centroid.
    let all = features(&layer);
    assert_eq!(all.len(), 1, "{}", layer.2);
    let cluster = &all[0];
    assert_eq!(cluster["properties"]["cluster"], true);
    assert_eq!(cluster["properties"]["count"], 2);
    let lon = cluster["geometry"]["coordinates"][0]
        .as_f64()
        .expect("a longitude");
    assert!((6.9583..6.9701).contains(&lon), "{cluster}");
    let split = cluster["properties"]["expansion_zoom"]
        .as_u64()
        .expect("a zoom level");
    assert!((9..=12).contains(&split), "{cluster}");
    let region = &layer.2["region"];
    assert_eq!(*region, json!([6.9583, 50.9412, 6.9701, 50.9501]));

    // Past the last clustered zoom, each site on its own with its business and industry.
    let lone = world
        .app
        .get("/api/v1/map/sites?zoom=14", &Who::Anonymous)
        .await;
    let sites = features(&lone);
    assert_eq!(sites.len(), 2, "{}", lone.2);
    let a = sites
        .iter()
        .find(|f| f["properties"]["site_id"] == json!(world.site_a))
        .expect("site A stands alone");
    assert_eq!(a["geometry"]["coordinates"], json!([6.9583, 50.9412]));
    assert_eq!(a["properties"]["business_id"], json!(world.business_a));
    assert_eq!(a["properties"]["industry"], "C11.05");

    // A view around site A only; the region still frames both.
    let view = world
        .app
        .get(
            "/api/v1/map/sites?zoom=16&bbox=6.955,50.939,6.962,50.943",
            &Who::Anonymous,
        )
        .await;
    assert_eq!(view.2["sites"], 1, "{}", view.2);
    assert_eq!(view.2["region"], *region);
}

#[tokio::test]
async fn match_lines_follow_the_list_and_end_at_the_sites_a_party_may_see() {
    let world = World::new().await;
    let list = world.app.get("/api/v1/matches", &world.owner).await;
    let lines = world.app.get("/api/v1/map/matches", &world.owner).await;
    assert_eq!(lines.0, 200, "{}", lines.2);
    assert_eq!(lines.1["content-type"], "application/geo+json");
    let ids = |items: Vec<Value>, at: &str| -> Vec<Value> {
        items
            .iter()
            .map(|i| i.pointer(at).cloned().expect("an id"))
            .collect()
    };
    assert_eq!(
        ids(features(&lines), "/properties/id"),
        ids(list.2["items"].as_array().cloned().expect("items"), "/id"),
    );
    let line = features(&lines)
        .into_iter()
        .find(|f| f["properties"]["id"] == json!(world.match_id))
        .expect("the world's match is drawn");
    assert_eq!(
        line["geometry"],
        json!({ "type": "LineString", "coordinates": [[6.9583, 50.9412], [6.9701, 50.9501]] })
    );
    let p = &line["properties"];
    assert_eq!(
        (p["offer_place"].as_str(), p["need_place"].as_str()),
        (Some("site"), Some("site"))
    );
    assert_eq!(p["offer_flow_id"], json!(world.offer));
    assert_eq!(p["need_business_id"], json!(world.business_b));
    assert!(p["score"].as_f64().is_some() && p["savings_eur_per_year"].as_f64().is_some());
    // The list item's long fields stay on the list and on GET /matches/{id}.
    for long in ["explanation", "components", "note"] {
        assert!(p.get(long).is_none(), "{long} in {p}");
    }

    // Filters as the list's; a flow's lines; pages by cursor.
    let of_flow = world
        .app
        .get(
            &format!("/api/v1/map/matches?flow_id={}&limit=1", world.need),
            &world.other,
        )
        .await;
    assert_eq!(features(&of_flow).len(), 1, "{}", of_flow.2);
    let none = world
        .app
        .get("/api/v1/map/matches?category=water", &world.owner)
        .await;
    assert_eq!(features(&none), Vec::<Value>::new());
    assert_eq!(none.2["next_cursor"], Value::Null);
}

#[tokio::test]
async fn bad_map_parameters_are_400s_naming_the_parameter() {
    let app = TestApp::start().await;
    for (path, field) in [
        ("/api/v1/map/sites?zoom=23", "zoom"),
        ("/api/v1/map/sites?zoom=-1", "zoom"),
        ("/api/v1/map/sites?zoom=near", "zoom"),
        ("/api/v1/map/sites?bbox=1,2,3", "bbox"),
        ("/api/v1/map/sites?bbox=1,60,3,50", "bbox"),
        ("/api/v1/map/sites?bbox=1,2,3,x", "bbox"),
        ("/api/v1/map/sites?near=50,7", "near"),
        ("/api/v1/map/matches?limit=0", "limit"),
        ("/api/v1/map/matches?limit=5001", "limit"),
        ("/api/v1/map/matches?sort=savings", "sort"),
        ("/api/v1/map/matches?min_score=2", "min_score"),
        ("/api/v1/map/matches?status=done", "status"),
        ("/api/v1/map/matches?cursor=x", "cursor"),
        ("/api/v1/map/matches?category=lava", "category"),
        ("/api/v1/map/matches?colour=blue", "colour"),
    ] {
        let answer = app.get(path, &Who::Anonymous).await;
        assert_bad_request(&answer, field);
    }
}
