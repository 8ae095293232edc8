//! Invitations: an owner invites an e-mail address (`POST /api/v1/businesses/{id}/members`), the
//! invitee sees and accepts or declines (`/api/v1/invitations…`), owners list and revoke
//! (`/api/v1/businesses/{id}/invitations…`). What an owner probing addresses learns, and what a
//! stranger can do with someone else's invitation: nothing.

use std::collections::BTreeSet;

use axum::http::header;
use chrono::Utc;
use serde_json::{Value, json};
use symbiont_store::accounts::{Invitation, Role};
use uuid::Uuid;

use crate::harness::*;

fn members_of(world: &World) -> String {
    format!("/api/v1/businesses/{}/members", world.business_a)
}

fn invitations_of(world: &World) -> String {
    format!("/api/v1/businesses/{}/invitations", world.business_a)
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// An owner who invites a registered and an unregistered address gets the same answer apart from
/// what necessarily differs (the invitation's id, the address, the times): same status, same
/// headers, same keys, same values elsewhere; and nobody becomes a member.
#[tokio::test]
async fn an_owner_probing_addresses_gets_the_same_answer_for_registered_and_unknown_ones() {
    let world = World::new().await;
    let members = members_of(&world);
    let before = world.app.get(&members, &world.owner).await;
    let registered = world
        .app
        .post(
            &members,
            &world.owner,
            &json!({ "email": "owner@b.example" }),
        )
        .await;
    let unknown = world
        .app
        .post(
            &members,
            &world.owner,
            &json!({ "email": "nobody@nowhere.example" }),
        )
        .await;
    assert_eq!(registered.0, 202, "{}", registered.2);
    assert_eq!(unknown.0, registered.0, "{}", unknown.2);
    let header_names = |answer: &Answer| -> BTreeSet<String> {
        answer.1.keys().map(|k| k.as_str().to_string()).collect()
    };
    assert_eq!(header_names(&registered), header_names(&unknown));
    assert_eq!(
        registered.1.get(header::CONTENT_TYPE),
        unknown.1.get(header::CONTENT_TYPE)
    );
    assert_eq!(keys(&registered.2), keys(&unknown.2));
    let differing = ["id", "email", "created_at", "expires_at"];
    for key in keys(&registered.2) {
        if !differing.contains(&key.as_str()) {
            assert_eq!(registered.2[&key], unknown.2[&key], "{key}");
        }
    }
    assert_eq!(registered.2["status"], "pending");
    assert_eq!(registered.2["role"], "member");
    assert_eq!(unknown.2["email"], "nobody@nowhere.example");
    assert!(registered.2["expires_at"].is_string());
    // Inviting changed nobody's membership.
    let after = world.app.get(&members, &world.owner).await;
    assert_eq!(before.2, after.2);
}

#[tokio::test]
async fn inviting_normalises_the_address_and_again_refreshes_the_pending_invitation() {
    let world = World::new().await;
    let members = members_of(&world);
    let first = world
        .app
        .post(
            &members,
            &world.owner,
            &json!({ "email": "  Later@X.Example " }),
        )
        .await;
    assert_eq!(first.0, 202, "{}", first.2);
    assert_eq!(first.2["email"], "later@x.example");
    let again = world
        .app
        .post(
            &members,
            &world.owner,
            &json!({ "email": "later@x.example", "role": "owner" }),
        )
        .await;
    assert_eq!(again.0, 202, "{}", again.2);
    assert_eq!(again.2["id"], first.2["id"]);
    assert_eq!(again.2["role"], "owner");
    let list = world.app.get(&invitations_of(&world), &world.owner).await;
    assert_eq!(list.0, 200, "{}", list.2);
    let items = list.2["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{}", list.2);
    assert_eq!(items[0]["role"], "owner");
}

#[tokio::test]
async fn accepting_makes_the_invitee_a_member_with_access() {
    let world = World::new().await;
    let site = site_body(50.94, 6.95);
    let sites = format!("/api/v1/businesses/{}/sites", world.business_a);
    let refused = world.app.post(&sites, &world.other, &site).await;
    assert_problem(&refused, 403, "forbidden");

    let invited = world
        .app
        .post(
            &members_of(&world),
            &world.owner,
            &json!({ "email": "owner@b.example" }),
        )
        .await;
    assert_eq!(invited.0, 202, "{}", invited.2);
    let seen = world
        .app
        .invitation_to(&world.other, &world.business_a)
        .await
        .expect("the invitee sees the invitation");
    assert_eq!(seen["id"], invited.2["id"]);
    assert_eq!(seen["status"], "pending");
    // Seeing it grants nothing yet.
    let still_refused = world.app.post(&sites, &world.other, &site).await;
    assert_problem(&still_refused, 403, "forbidden");

    let accept = format!("/api/v1/invitations/{}/accept", id_of(&seen));
    let accepted = world.app.post(&accept, &world.other, &json!({})).await;
    assert_eq!(accepted.0, 200, "{}", accepted.2);
    assert_eq!(accepted.2["user_id"], world.other_id.to_string());
    assert_eq!(accepted.2["role"], "member");
    assert_eq!(accepted.2["email"], "owner@b.example");

    let allowed = world.app.post(&sites, &world.other, &site).await;
    assert_eq!(allowed.0, 201, "{}", allowed.2);
    let members = world.app.get(&members_of(&world), &world.owner).await;
    assert!(
        members.2["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["email"] == "owner@b.example" && m["role"] == "member"),
        "{}",
        members.2
    );
    // Used up: gone from both lists, and a second accept finds nothing.
    assert!(
        world
            .app
            .invitation_to(&world.other, &world.business_a)
            .await
            .is_none()
    );
    let list = world.app.get(&invitations_of(&world), &world.owner).await;
    assert_eq!(list.2["items"], json!([]));
    assert_problem(
        &world.app.post(&accept, &world.other, &json!({})).await,
        404,
        "not-found",
    );
}

#[tokio::test]
async fn an_owner_accepting_an_invitation_as_member_stays_owner() {
    let world = World::new().await;
    world
        .app
        .post(
            &members_of(&world),
            &world.owner,
            &json!({ "email": "owner@a.example", "role": "member" }),
        )
        .await;
    let seen = world
        .app
        .invitation_to(&world.owner, &world.business_a)
        .await
        .expect("the owner sees the invitation");
    let accepted = world
        .app
        .post(
            &format!("/api/v1/invitations/{}/accept", id_of(&seen)),
            &world.owner,
            &json!({}),
        )
        .await;
    assert_eq!(accepted.0, 200, "{}", accepted.2);
    assert_eq!(accepted.2["role"], "owner");
}

/// A stranger, another signed-in user and even an administrator know the id of an invitation
/// addressed to someone else: they cannot see, accept or decline it, and the answer is the 404 of
/// an id that does not exist.
#[tokio::test]
async fn nobody_but_the_invitee_sees_accepts_or_declines_an_invitation() {
    let world = World::new().await;
    let (_, invitee) = world.app.user("invitee@x.example", false).await;
    let invited = world
        .app
        .post(
            &members_of(&world),
            &world.owner,
            &json!({ "email": "invitee@x.example" }),
        )
        .await;
    assert_eq!(invited.0, 202, "{}", invited.2);
    let id = id_of(&invited.2);
    let made_up = Uuid::now_v7().to_string();
    for (who, caller) in [
        ("a member of the business", &world.member),
        ("another business's owner", &world.other),
        ("the inviting owner", &world.owner),
        ("an administrator", &world.admin),
    ] {
        assert!(
            world
                .app
                .invitation_to(caller, &world.business_a)
                .await
                .is_none(),
            "{who} sees it"
        );
        for action in ["accept", "decline"] {
            let answer = world
                .app
                .post(
                    &format!("/api/v1/invitations/{id}/{action}"),
                    caller,
                    &json!({}),
                )
                .await;
            assert_eq!(answer.0, 404, "{who} {action}s: {}", answer.2);
            assert_problem(&answer, 404, "not-found");
            let unknown = world
                .app
                .post(
                    &format!("/api/v1/invitations/{made_up}/{action}"),
                    caller,
                    &json!({}),
                )
                .await;
            assert_problem(&unknown, 404, "not-found");
            let detail = |answer: &Answer, id: &str| {
                answer.2["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .replace(id, "ID")
            };
            assert_eq!(
                detail(&answer, &id),
                detail(&unknown, &made_up),
                "{who} {action}s"
            );
        }
    }
    assert_problem(
        &world.app.get("/api/v1/invitations", &Who::Anonymous).await,
        401,
        "unauthorized",
    );
    // The invitee still has it.
    assert!(
        world
            .app
            .invitation_to(&invitee, &world.business_a)
            .await
            .is_some()
    );
}

#[tokio::test]
async fn someone_who_registers_later_sees_the_invitation_then_and_only_accepting_applies_it() {
    let world = World::new().await;
    let invited = world
        .app
        .post(
            &members_of(&world),
            &world.owner,
            &json!({ "email": "later@x.example" }),
        )
        .await;
    assert_eq!(invited.0, 202, "{}", invited.2);
    let (later_id, later) = world.app.user("later@x.example", false).await;
    let seen = world
        .app
        .invitation_to(&later, &world.business_a)
        .await
        .expect("the new account sees the invitation");
    assert_eq!(seen["id"], invited.2["id"]);
    let members = world.app.get(&members_of(&world), &world.owner).await;
    assert!(
        !members.2.to_string().contains(&later_id.to_string()),
        "nothing applied before the accept: {}",
        members.2
    );
}

#[tokio::test]
async fn declining_deletes_the_invitation_and_grants_nothing() {
    let world = World::new().await;
    world
        .app
        .post(
            &members_of(&world),
            &world.owner,
            &json!({ "email": "owner@b.example" }),
        )
        .await;
    let seen = world
        .app
        .invitation_to(&world.other, &world.business_a)
        .await
        .expect("the invitee sees the invitation");
    let decline = format!("/api/v1/invitations/{}/decline", id_of(&seen));
    let answer = world.app.post(&decline, &world.other, &json!({})).await;
    assert_eq!(answer.0, 204, "{}", answer.2);
    assert!(
        world
            .app
            .invitation_to(&world.other, &world.business_a)
            .await
            .is_none()
    );
    let accept = format!("/api/v1/invitations/{}/accept", id_of(&seen));
    assert_problem(
        &world.app.post(&accept, &world.other, &json!({})).await,
        404,
        "not-found",
    );
    let list = world.app.get(&invitations_of(&world), &world.owner).await;
    assert_eq!(list.2["items"], json!([]));
}

#[tokio::test]
async fn an_expired_invitation_can_be_neither_seen_nor_accepted_by_the_invitee() {
    let world = World::new().await;
    let now = Utc::now();
    let lapsed = Invitation {
        id: Uuid::now_v7(),
        business_id: world.business_a.parse().expect("a business id"),
        email: "owner@b.example".into(),
        role: Role::Member,
        invited_by: Some(world.owner_id),
        created_at: now - chrono::Duration::days(15),
        expires_at: now - chrono::Duration::days(1),
    };
    world
        .app
        .app
        .store
        .accounts()
        .put_invitation(&lapsed)
        .await
        .expect("stored");
    assert!(
        world
            .app
            .invitation_to(&world.other, &world.business_a)
            .await
            .is_none()
    );
    for action in ["accept", "decline"] {
        let answer = world
            .app
            .post(
                &format!("/api/v1/invitations/{}/{action}", lapsed.id),
                &world.other,
                &json!({}),
            )
            .await;
        assert_problem(&answer, 404, "not-found");
    }
    let list = world.app.get(&invitations_of(&world), &world.owner).await;
    assert_eq!(list.2["items"][0]["status"], "expired", "{}", list.2);
    let sites = format!("/api/v1/businesses/{}/sites", world.business_a);
    let refused = world
        .app
        .post(&sites, &world.other, &site_body(50.94, 6.95))
        .await;
    assert_problem(&refused, 403, "forbidden");
    // Retention deletes it.
    let purged = world
        .app
        .app
        .purge_expired(Default::default())
        .await
        .expect("purged");
    assert_eq!(purged.invitations, 1);
    let list = world.app.get(&invitations_of(&world), &world.owner).await;
    assert_eq!(list.2["items"], json!([]));
}

#[tokio::test]
async fn only_owners_list_and_revoke_a_businesss_invitations() {
    let world = World::new().await;
    let invited = world
        .app
        .post(
            &members_of(&world),
            &world.owner,
            &json!({ "email": "owner@b.example" }),
        )
        .await;
    let id = id_of(&invited.2);
    let list = invitations_of(&world);
    let revoke = format!("{list}/{id}");
    assert_problem(
        &world.app.get(&list, &Who::Anonymous).await,
        401,
        "unauthorized",
    );
    for (who, caller) in [
        ("a plain member", &world.member),
        ("an outsider", &world.other),
    ] {
        let answer = world.app.get(&list, caller).await;
        assert_eq!(answer.0, 403, "{who} lists: {}", answer.2);
        assert_problem(&answer, 403, "forbidden");
        let answer = world.app.delete(&revoke, caller).await;
        assert_eq!(answer.0, 403, "{who} revokes: {}", answer.2);
        assert_problem(&answer, 403, "forbidden");
    }
    // The owner reads with a read-only key too; administrators see every business's.
    for caller in [&world.owner, &world.read_key, &world.admin] {
        let answer = world.app.get(&list, caller).await;
        assert_eq!(answer.0, 200, "{}", answer.2);
        assert_eq!(answer.2["items"][0]["id"], invited.2["id"]);
    }
    // Through another business the invitation is not found.
    let elsewhere = format!("/api/v1/businesses/{}/invitations/{id}", world.business_b);
    assert_problem(
        &world.app.delete(&elsewhere, &world.other).await,
        404,
        "not-found",
    );
    let answer = world.app.delete(&revoke, &world.owner).await;
    assert_eq!(answer.0, 204, "{}", answer.2);
    assert_problem(
        &world.app.delete(&revoke, &world.owner).await,
        404,
        "not-found",
    );
    // A revoked invitation can no longer be accepted.
    assert!(
        world
            .app
            .invitation_to(&world.other, &world.business_a)
            .await
            .is_none()
    );
    assert_problem(
        &world
            .app
            .post(
                &format!("/api/v1/invitations/{id}/accept"),
                &world.other,
                &json!({}),
            )
            .await,
        404,
        "not-found",
    );
}

#[tokio::test]
async fn inviting_accepting_declining_and_revoking_are_audited() {
    let world = World::new().await;
    let members = members_of(&world);
    let invite = |email: &'static str| {
        let members = members.clone();
        let world = &world;
        async move {
            world
                .app
                .post(&members, &world.owner, &json!({ "email": email }))
                .await
        }
    };
    let accepted = invite("owner@b.example").await;
    let declined = invite("member@a.example").await;
    let revoked = invite("gone@x.example").await;
    world
        .app
        .post(
            &format!("/api/v1/invitations/{}/accept", id_of(&accepted.2)),
            &world.other,
            &json!({}),
        )
        .await;
    world
        .app
        .post(
            &format!("/api/v1/invitations/{}/decline", id_of(&declined.2)),
            &world.member,
            &json!({}),
        )
        .await;
    world
        .app
        .delete(
            &format!("{}/{}", invitations_of(&world), id_of(&revoked.2)),
            &world.owner,
        )
        .await;
    for (action, count, email, path_has) in [
        (
            "business.invitation.create",
            3,
            "owner@a.example",
            world.business_a.clone(),
        ),
        (
            "invitation.accept",
            1,
            "owner@b.example",
            id_of(&accepted.2),
        ),
        (
            "invitation.decline",
            1,
            "member@a.example",
            id_of(&declined.2),
        ),
        (
            "business.invitation.delete",
            1,
            "owner@a.example",
            id_of(&revoked.2),
        ),
    ] {
        let answer = world
            .app
            .get(
                &format!("/api/v1/admin/audit?action={action}"),
                &world.admin,
            )
            .await;
        assert_eq!(answer.0, 200, "{}", answer.2);
        let entries = answer.2["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(entries.len(), count, "{action}: {}", answer.2);
        assert_eq!(entries[0]["email"], email, "{action}");
        assert!(
            entries[0]["path"]
                .as_str()
                .is_some_and(|p| p.contains(&path_has)),
            "{action}: {}",
            entries[0]
        );
        assert!(
            entries[0]["status"].as_u64().is_some_and(|s| s < 300),
            "{action}: {}",
            entries[0]
        );
    }
}
