//! `PATCH /api/v1/matches/{id}`: the lifecycle (illegal steps are 409), who may decide, `If-Match`,
//! and invalid decisions.

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn an_illegal_lifecycle_step_is_a_409_problem() {
    let world = World::new().await;
    let path = format!("/api/v1/matches/{}", world.match_id);
    // From suggested only contacted or rejected.
    for status in ["negotiating", "agreed"] {
        let answer = world
            .app
            .patch(&path, &world.owner, &json!({ "status": status }))
            .await;
        assert_eq!(answer.0, 409, "suggested → {status}: {}", answer.2);
        assert_problem(&answer, 409, "conflict");
    }
    // Rejected is final.
    let (status, _, body) = world
        .app
        .patch(&path, &world.owner, &json!({ "status": "rejected" }))
        .await;
    assert_eq!(status, 200, "{body}");
    for status in ["contacted", "rejected"] {
        let answer = world
            .app
            .patch(&path, &world.other, &json!({ "status": status }))
            .await;
        assert_eq!(answer.0, 409, "rejected → {status}: {}", answer.2);
        assert_problem(&answer, 409, "conflict");
    }
}

#[tokio::test]
async fn deciding_on_an_expired_match_is_a_409_problem() {
    let world = World::new().await;
    let path = format!("/api/v1/matches/{}", world.match_id);
    let (status, _, body) = world
        .app
        .patch(&path, &world.owner, &json!({ "status": "contacted" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = world
        .app
        .delete(&format!("/api/v1/flows/{}", world.need), &world.other)
        .await;
    assert_eq!(status, 204, "{body}");
    let answer = world
        .app
        .patch(&path, &world.other, &json!({ "status": "negotiating" }))
        .await;
    assert_problem(&answer, 409, "conflict");
}

#[tokio::test]
async fn accepting_ones_own_contact_request_is_a_403_problem() {
    let world = World::new().await;
    let path = format!("/api/v1/matches/{}", world.match_id);
    let (status, _, body) = world
        .app
        .patch(&path, &world.owner, &json!({ "status": "contacted" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let answer = world
        .app
        .patch(&path, &world.owner, &json!({ "status": "negotiating" }))
        .await;
    assert_problem(&answer, 403, "forbidden");
}

#[tokio::test]
async fn someone_of_neither_business_deciding_is_a_403_problem() {
    // Not even a platform admin decides for the two businesses.
    let world = World::new().await;
    let (_, outsider) = world.app.user("outsider@c.example", false).await;
    let path = format!("/api/v1/matches/{}", world.match_id);
    for who in [&world.admin, &outsider] {
        let answer = world
            .app
            .patch(&path, who, &json!({ "status": "contacted" }))
            .await;
        assert_problem(&answer, 403, "forbidden");
    }
}

#[tokio::test]
async fn a_stale_if_match_on_a_match_is_a_412_problem_and_a_bad_one_a_400() {
    let world = World::new().await;
    let path = format!("/api/v1/matches/{}", world.match_id);
    let decision = json!({ "status": "contacted" });
    let stale = world
        .app
        .patch_if_match(&path, &world.owner, &decision, "\"3\"")
        .await;
    assert_problem(&stale, 412, "precondition-failed");
    let bad = world
        .app
        .patch_if_match(&path, &world.owner, &decision, "latest")
        .await;
    assert_bad_request(&bad, "If-Match");
}

#[tokio::test]
async fn an_invalid_decision_is_a_422_naming_the_field() {
    let world = World::new().await;
    let path = format!("/api/v1/matches/{}", world.match_id);
    let cases = [
        (json!({ "status": "suggested" }), "status"),
        (json!({ "status": "expired" }), "status"),
        (json!({ "status": "maybe" }), "status"),
        (json!({}), "status"),
        (json!({ "note": "called them" }), "status"),
        (
            json!({ "status": "contacted", "note": "x".repeat(2001) }),
            "note",
        ),
        (json!({ "status": "contacted", "note": 5 }), "note"),
        (json!({ "status": "contacted", "urgent": true }), "urgent"),
        (json!("contacted"), "body"),
    ];
    for (body, field) in cases {
        let answer = world.app.patch(&path, &world.owner, &body).await;
        assert_eq!(answer.0, 422, "{body}: {}", answer.2);
        assert_invalid(&answer, field);
    }
}

/// While every full-scan turn is taken, only cached lists over all matches can be answered: the
/// same query with its parameters in another order is one of them (the key is the parsed query),
/// and a new one waits briefly, then is a 503 with Retry-After.
#[tokio::test]
async fn full_match_lists_share_a_cache_entry_across_parameter_order_and_are_bounded() {
    let world = World::new().await;
    let first = world
        .app
        .get("/api/v1/matches?min_score=0.1&limit=5", &world.admin)
        .await;
    assert_eq!(first.0, 200, "{}", first.2);

    let scans = &world.app.app.full_scans;
    let _all_turns = scans
        .acquire_many(u32::try_from(scans.available_permits()).expect("few permits"))
        .await
        .expect("the semaphore is open");
    let reordered = world
        .app
        .get("/api/v1/matches?limit=5&min_score=0.1", &world.admin)
        .await;
    assert_eq!(reordered.0, 200, "not a cache hit: {}", reordered.2);
    assert_eq!(reordered.2, first.2);

    let new_query = world
        .app
        .get("/api/v1/matches?limit=6&min_score=0.1", &world.admin)
        .await;
    assert_problem(&new_query, 503, "overloaded");
    assert!(new_query.1.contains_key("retry-after"), "{:?}", new_query.1);
}
