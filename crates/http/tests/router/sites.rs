//! `/api/v1/businesses/{id}/sites` and `/api/v1/sites/{id}`: invalid drafts and patches, who may
//! change a site, and `If-Match`.

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn an_invalid_site_draft_is_a_422_naming_the_field() {
    let world = World::new().await;
    let path = format!("/api/v1/businesses/{}/sites", world.business_a);
    let location = json!({ "lat": 50.9, "lon": 6.9 });
    let cases = [
        (json!({ "name": "", "location": location }), "name"),
        (json!({ "location": location }), "name"),
        (
            json!({ "name": "Hall", "address": "x".repeat(501), "location": location }),
            "address",
        ),
        (json!({ "name": "Hall" }), "location"),
        (json!({ "name": "Hall", "location": "Cologne" }), "location"),
        (
            json!({ "name": "Hall", "location": { "lat": 91, "lon": 6.9 } }),
            "location.lat",
        ),
        (
            json!({ "name": "Hall", "location": { "lat": 50.9, "lon": -181 } }),
            "location.lon",
        ),
        (
            json!({ "name": "Hall", "location": { "lat": 50.9 } }),
            "location.lon",
        ),
        (
            json!({ "name": "Hall", "location": { "lat": "north", "lon": 6.9 } }),
            "location.lat",
        ),
        (
            json!({ "name": "Hall", "location": location, "floor": 2 }),
            "floor",
        ),
    ];
    for (body, field) in cases {
        let answer = world.app.post(&path, &world.owner, &body).await;
        assert_eq!(answer.0, 422, "{body}: {}", answer.2);
        assert_invalid(&answer, field);
    }
}

#[tokio::test]
async fn an_invalid_site_patch_is_a_422_naming_the_field() {
    let world = World::new().await;
    let path = format!("/api/v1/sites/{}", world.site_a);
    let cases = [
        (json!({ "name": "" }), "name"),
        (json!({ "location": { "lat": 100 } }), "location.lat"),
        (json!({ "location": { "lon": 200 } }), "location.lon"),
        (json!({ "location": null }), "location"),
        (json!({ "business_id": world.business_b }), "business_id"),
        (json!([1]), "body"),
    ];
    for (patch, field) in cases {
        let answer = world.app.patch(&path, &world.owner, &patch).await;
        assert_eq!(answer.0, 422, "{patch}: {}", answer.2);
        assert_invalid(&answer, field);
    }
}

#[tokio::test]
async fn a_non_member_adding_changing_or_deleting_a_site_is_a_403_problem() {
    let world = World::new().await;
    let site = format!("/api/v1/sites/{}", world.site_a);
    let answers = [
        world
            .app
            .post(
                &format!("/api/v1/businesses/{}/sites", world.business_a),
                &world.other,
                &site_body(50.9, 6.9),
            )
            .await,
        world
            .app
            .patch(&site, &world.other, &json!({ "name": "Ours now" }))
            .await,
        world.app.delete(&site, &world.other).await,
    ];
    for answer in &answers {
        assert_problem(answer, 403, "forbidden");
    }
}

#[tokio::test]
async fn a_stale_if_match_on_a_site_is_a_412_problem_and_a_bad_one_a_400() {
    let world = World::new().await;
    let path = format!("/api/v1/sites/{}", world.site_a);
    let patch = json!({ "name": "Hall 2" });
    let stale = world
        .app
        .patch_if_match(&path, &world.owner, &patch, "\"9\"")
        .await;
    assert_problem(&stale, 412, "precondition-failed");
    let bad = world
        .app
        .patch_if_match(&path, &world.owner, &patch, "yesterday")
        .await;
    assert_bad_request(&bad, "If-Match");
}
