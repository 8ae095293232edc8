//! `/api/v1/businesses` and `/api/v1/businesses/{id}`: invalid drafts and patches, who may change
//! or delete a business, and `If-Match`.

use serde_json::{Value, json};

use crate::harness::*;

fn draft_with(change: Value) -> Value {
    let mut draft = business_body("Gamma Dairy");
    if let (Some(draft), Some(change)) = (draft.as_object_mut(), change.as_object()) {
        for (key, value) in change {
            if value.is_null() {
                draft.remove(key);
            } else {
                draft.insert(key.clone(), value.clone());
            }
        }
    }
    draft
}

#[tokio::test]
async fn an_invalid_business_draft_is_a_422_naming_the_field() {
    let world = World::new().await;
    let cases = [
        (json!({ "name": "" }), "name"),
        (json!({ "name": "   " }), "name"),
        (json!({ "name": "x".repeat(201) }), "name"),
        (json!({ "name": null }), "name"),
        (json!({ "name": 5 }), "name"),
        (json!({ "industry": "ZZ" }), "industry"),
        (json!({ "industry": null }), "industry"),
        (json!({ "description": "x".repeat(5001) }), "description"),
        (
            json!({ "contact": { "email": "not-an-address" } }),
            "contact.email",
        ),
        (json!({ "contact": { "fax": "0221 1" } }), "contact.fax"),
        (json!({ "contact": "info@example.com" }), "contact"),
        (json!({ "website": "ftp://example.com" }), "website"),
        (json!({ "colour": "green" }), "colour"),
    ];
    for (change, field) in cases {
        let body = draft_with(change.clone());
        let answer = world
            .app
            .post("/api/v1/businesses", &world.owner, &body)
            .await;
        assert_eq!(answer.0, 422, "{change}: {}", answer.2);
        assert_invalid(&answer, field);
    }
}

#[tokio::test]
async fn a_body_that_is_not_a_business_draft_is_a_422_naming_the_body() {
    let world = World::new().await;
    for body in [json!([]), json!("Gamma Dairy"), json!(null)] {
        let answer = world
            .app
            .post("/api/v1/businesses", &world.owner, &body)
            .await;
        assert_eq!(answer.0, 422, "{body}: {}", answer.2);
        assert_invalid(&answer, "body");
    }
}

#[tokio::test]
async fn an_invalid_business_patch_is_a_422_naming_the_field() {
    let world = World::new().await;
    let path = format!("/api/v1/businesses/{}", world.business_a);
    let cases = [
        (json!({ "name": "" }), "name"),
        (json!({ "industry": "ZZ" }), "industry"),
        (json!({ "industry": 11 }), "industry"),
        (json!({ "contact": { "email": "nobody" } }), "contact.email"),
        (json!({ "website": "example.com" }), "website"),
        (json!({ "colour": "green" }), "colour"),
        // A merge patch is an object; `null` removes a member, and the name is required.
        (json!({ "name": null }), "name"),
        (json!([]), "body"),
        (json!("rename"), "body"),
    ];
    for (patch, field) in cases {
        let answer = world.app.patch(&path, &world.owner, &patch).await;
        assert_eq!(answer.0, 422, "{patch}: {}", answer.2);
        assert_invalid(&answer, field);
    }
}

#[tokio::test]
async fn a_non_member_changing_a_business_is_a_403_problem() {
    let world = World::new().await;
    let answer = world
        .app
        .patch(
            &format!("/api/v1/businesses/{}", world.business_a),
            &world.other,
            &json!({ "description": "taken over" }),
        )
        .await;
    assert_problem(&answer, 403, "forbidden");
}

#[tokio::test]
async fn a_non_owner_deleting_a_business_is_a_403_problem() {
    let world = World::new().await;
    let path = format!("/api/v1/businesses/{}", world.business_a);
    for (who, caller) in [
        ("a plain member", &world.member),
        ("an outsider", &world.other),
    ] {
        let answer = world.app.delete(&path, caller).await;
        assert_eq!(answer.0, 403, "{who}: {}", answer.2);
        assert_problem(&answer, 403, "forbidden");
    }
    let (status, _, body) = world.app.get(&path, &Who::Anonymous).await;
    assert_eq!(status, 200, "the business is still there: {body}");
}

#[tokio::test]
async fn a_stale_if_match_on_a_business_is_a_412_problem() {
    let world = World::new().await;
    let path = format!("/api/v1/businesses/{}", world.business_a);
    for tag in ["\"7\"", "W/\"7\"", "0"] {
        let answer = world
            .app
            .patch_if_match(&path, &world.owner, &json!({ "description": "x" }), tag)
            .await;
        assert_eq!(answer.0, 412, "If-Match {tag}: {}", answer.2);
        assert_problem(&answer, 412, "precondition-failed");
    }
}

#[tokio::test]
async fn an_if_match_that_is_not_an_etag_is_a_400_naming_the_header() {
    let world = World::new().await;
    let path = format!("/api/v1/businesses/{}", world.business_a);
    for tag in ["abc", "\"v1\"", "W/"] {
        let answer = world
            .app
            .patch_if_match(&path, &world.owner, &json!({ "description": "x" }), tag)
            .await;
        assert_eq!(answer.0, 400, "If-Match {tag}: {}", answer.2);
        assert_bad_request(&answer, "If-Match");
    }
}
