//! `/api/v1/flows` and `/api/v1/flows/{id}`: invalid drafts and patches (each field named), who
//! may register or change a flow, and `If-Match`.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

/// A valid offer at `site` with `change` merged in (`null` removes a member).
fn offer_with(site: &str, change: Value) -> Value {
    let mut draft = heat_flow(site, "offer", 80.0, 100.0);
    symbiont_app::merge_patch::merge_patch(&mut draft, &change);
    draft
}

#[tokio::test]
async fn an_invalid_flow_draft_is_a_422_naming_the_field() {
    let world = World::new().await;
    let unknown_site = Uuid::now_v7().to_string();
    let cases = [
        (json!({ "site_id": unknown_site }), "site_id"),
        (json!({ "site_id": "not-a-uuid" }), "site_id"),
        (json!({ "site_id": null }), "site_id"),
        (json!({ "direction": "sideways" }), "direction"),
        (json!({ "direction": null }), "direction"),
        (json!({ "category": "heat.nope" }), "category"),
        (json!({ "category": null }), "category"),
        (json!({ "description": "x".repeat(5001) }), "description"),
        (json!({ "quantity": null }), "quantity"),
        (json!({ "quantity": { "value": -1 } }), "quantity.value"),
        (json!({ "quantity": { "value": 0 } }), "quantity.value"),
        (json!({ "quantity": { "value": "lots" } }), "quantity.value"),
        (
            json!({ "quantity": { "unit": "furlongs" } }),
            "quantity.unit",
        ),
        (json!({ "quantity": { "unit": "t/a" } }), "quantity.unit"),
        (
            json!({ "quality": { "temperature_c": 400 } }),
            "quality.temperature_c",
        ),
        (json!({ "quality": null }), "quality.temperature_c"),
        (json!({ "profile": "whenever" }), "profile"),
        (json!({ "profile": [1, 2, 3] }), "profile"),
        (json!({ "profile": 24 }), "profile"),
        (json!({ "price_eur_per_unit": 1e9 }), "price_eur_per_unit"),
        (json!({ "max_distance_km": 0 }), "max_distance_km"),
        (json!({ "max_distance_km": 30000 }), "max_distance_km"),
        (
            json!({ "valid_from": "2030-01-01", "valid_until": "2029-01-01" }),
            "valid_until",
        ),
        (json!({ "valid_from": "next year" }), "valid_from"),
        (json!({ "status": "sleeping" }), "status"),
        (json!({ "anonymous": "yes" }), "anonymous"),
        (json!({ "colour": "red" }), "colour"),
    ];
    for (change, field) in cases {
        let body = offer_with(&world.site_a, change.clone());
        let answer = world.app.post("/api/v1/flows", &world.owner, &body).await;
        assert_eq!(answer.0, 422, "{change}: {}", answer.2);
        assert_invalid(&answer, field);
    }
}

#[tokio::test]
async fn a_flow_draft_with_several_faults_names_each_field() {
    let world = World::new().await;
    let body = offer_with(
        &world.site_a,
        json!({ "category": "heat.nope", "quantity": { "value": -1 }, "max_distance_km": -2 }),
    );
    let answer = world.app.post("/api/v1/flows", &world.owner, &body).await;
    assert_invalid(&answer, "category");
    let named = fields(&answer.2);
    for field in ["quantity.value", "max_distance_km"] {
        assert!(named.iter().any(|f| f == field), "{field} in {named:?}");
    }
}

#[tokio::test]
async fn an_invalid_flow_patch_is_a_422_naming_the_field() {
    let world = World::new().await;
    let path = format!("/api/v1/flows/{}", world.offer);
    let cases = [
        (json!({ "status": "sleeping" }), "status"),
        (json!({ "max_distance_km": 0 }), "max_distance_km"),
        (json!({ "quantity": { "value": -5 } }), "quantity.value"),
        (
            json!({ "quality": { "temperature_c": 400 } }),
            "quality.temperature_c",
        ),
        (json!({ "category": "heat.nope" }), "category"),
        (json!({ "site_id": Uuid::now_v7() }), "site_id"),
        (json!({ "direction": null }), "direction"),
        (json!({ "business_id": world.business_b }), "business_id"),
        (json!("paused"), "body"),
    ];
    for (patch, field) in cases {
        let answer = world.app.patch(&path, &world.owner, &patch).await;
        assert_eq!(answer.0, 422, "{patch}: {}", answer.2);
        assert_invalid(&answer, field);
    }
}

#[tokio::test]
async fn a_non_member_registering_changing_or_deleting_a_flow_is_a_403_problem() {
    let world = World::new().await;
    let flow = format!("/api/v1/flows/{}", world.offer);
    let answers = [
        world
            .app
            .post(
                "/api/v1/flows",
                &world.other,
                &heat_flow(&world.site_a, "offer", 80.0, 100.0),
            )
            .await,
        world
            .app
            .patch(&flow, &world.other, &json!({ "status": "paused" }))
            .await,
        world.app.delete(&flow, &world.other).await,
    ];
    for answer in &answers {
        assert_problem(answer, 403, "forbidden");
    }
}

#[tokio::test]
async fn moving_a_flow_to_another_businesss_site_is_a_403_problem() {
    let world = World::new().await;
    let answer = world
        .app
        .patch(
            &format!("/api/v1/flows/{}", world.offer),
            &world.owner,
            &json!({ "site_id": world.site_b }),
        )
        .await;
    assert_problem(&answer, 403, "forbidden");
}

#[tokio::test]
async fn a_stale_if_match_on_a_flow_is_a_412_problem_and_a_bad_one_a_400() {
    let world = World::new().await;
    let path = format!("/api/v1/flows/{}", world.offer);
    let patch = json!({ "status": "paused" });
    let stale = world
        .app
        .patch_if_match(&path, &world.owner, &patch, "\"2\"")
        .await;
    assert_problem(&stale, 412, "precondition-failed");
    let bad = world
        .app
        .patch_if_match(&path, &world.owner, &patch, "\"one\"")
        .await;
    assert_bad_request(&bad, "If-Match");
}
