//! `/api/v1/businesses/{id}/members` and `/api/v1/businesses/{id}/members/{user_id}`: who may see
//! and manage members, the last owner, and invalid requests. (Adding a member invites them: see
//! `invitations`.)

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn listing_members_needs_credentials_and_membership() {
    let world = World::new().await;
    let path = format!("/api/v1/businesses/{}/members", world.business_a);
    assert_problem(
        &world.app.get(&path, &Who::Anonymous).await,
        401,
        "unauthorized",
    );
    assert_problem(&world.app.get(&path, &world.other).await, 403, "forbidden");
}

#[tokio::test]
async fn a_non_owner_managing_members_is_a_403_problem() {
    let world = World::new().await;
    let a = &world.business_a;
    let members = format!("/api/v1/businesses/{a}/members");
    let add = json!({ "email": "owner@b.example" });
    for (who, caller) in [
        ("a plain member", &world.member),
        ("an outsider", &world.other),
    ] {
        let answer = world.app.post(&members, caller, &add).await;
        assert_eq!(answer.0, 403, "{who} adds: {}", answer.2);
        assert_problem(&answer, 403, "forbidden");
    }
    // Changing someone's role.
    let promote = json!({ "role": "owner" });
    for (who, caller) in [
        ("a plain member", &world.member),
        ("an outsider", &world.other),
    ] {
        let path = format!("{members}/{}", world.member_id);
        let answer = world.app.patch(&path, caller, &promote).await;
        assert_eq!(answer.0, 403, "{who} changes a role: {}", answer.2);
        assert_problem(&answer, 403, "forbidden");
    }
    // Removing someone else, not leaving.
    let remove_owner = format!("{members}/{}", world.owner_id);
    let remove_member = format!("{members}/{}", world.member_id);
    for (who, caller, path) in [
        ("a plain member", &world.member, &remove_owner),
        ("an outsider", &world.other, &remove_member),
    ] {
        let answer = world.app.delete(path, caller).await;
        assert_eq!(answer.0, 403, "{who} removes: {}", answer.2);
        assert_problem(&answer, 403, "forbidden");
    }
}

#[tokio::test]
async fn an_invalid_new_member_is_a_422_naming_the_field() {
    let world = World::new().await;
    let path = format!("/api/v1/businesses/{}/members", world.business_a);
    let cases = [
        (json!({ "email": "not-an-address" }), "email"),
        (json!({ "email": "two@at@signs example" }), "email"),
        (json!({}), "email"),
        (json!({ "email": 7 }), "email"),
        (
            json!({ "email": "owner@b.example", "role": "king" }),
            "role",
        ),
        (
            json!({ "email": "owner@b.example", "admin": true }),
            "admin",
        ),
    ];
    for (body, field) in cases {
        let answer = world.app.post(&path, &world.owner, &body).await;
        assert_eq!(answer.0, 422, "{body}: {}", answer.2);
        assert_invalid(&answer, field);
    }
    let role_change = format!("{path}/{}", world.member_id);
    for (body, field) in [
        (json!({ "role": "king" }), "role"),
        (json!({}), "role"),
        (json!({ "role": "owner", "email": "x@y.example" }), "email"),
    ] {
        let answer = world.app.patch(&role_change, &world.owner, &body).await;
        assert_eq!(answer.0, 422, "{body}: {}", answer.2);
        assert_invalid(&answer, field);
    }
}

#[tokio::test]
async fn an_owner_changes_a_members_role() {
    let world = World::new().await;
    let member = format!(
        "/api/v1/businesses/{}/members/{}",
        world.business_a, world.member_id
    );
    let answer = world
        .app
        .patch(&member, &world.owner, &json!({ "role": "owner" }))
        .await;
    assert_eq!(answer.0, 200, "{}", answer.2);
    assert_eq!(answer.2["role"], "owner");
    assert_eq!(answer.2["email"], "member@a.example");
    // Now an owner, the former member manages members.
    let demote_first_owner = format!(
        "/api/v1/businesses/{}/members/{}",
        world.business_a, world.owner_id
    );
    let answer = world
        .app
        .patch(
            &demote_first_owner,
            &world.member,
            &json!({ "role": "member" }),
        )
        .await;
    assert_eq!(answer.0, 200, "{}", answer.2);
}

#[tokio::test]
async fn changing_the_role_of_someone_who_is_not_a_member_is_a_404_problem() {
    let world = World::new().await;
    let path = format!(
        "/api/v1/businesses/{}/members/{}",
        world.business_a, world.other_id
    );
    let answer = world
        .app
        .patch(&path, &world.owner, &json!({ "role": "owner" }))
        .await;
    assert_problem(&answer, 404, "not-found");
}

#[tokio::test]
async fn the_last_owner_stepping_down_or_leaving_is_a_409_problem() {
    let world = World::new().await;
    let members = format!("/api/v1/businesses/{}/members", world.business_a);
    let demote = world
        .app
        .patch(
            &format!("{members}/{}", world.owner_id),
            &world.owner,
            &json!({ "role": "member" }),
        )
        .await;
    assert_problem(&demote, 409, "conflict");
    let leave = world
        .app
        .delete(&format!("{members}/{}", world.owner_id), &world.owner)
        .await;
    assert_problem(&leave, 409, "conflict");
}

#[tokio::test]
async fn removing_someone_who_is_not_a_member_is_a_404_problem() {
    let world = World::new().await;
    let answer = world
        .app
        .delete(
            &format!(
                "/api/v1/businesses/{}/members/{}",
                world.business_a, world.other_id
            ),
            &world.owner,
        )
        .await;
    assert_problem(&answer, 404, "not-found");
}
