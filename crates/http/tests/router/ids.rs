//! Ids in paths: one that is not a UUID and one that names nothing are both a 404 problem, on
//! every route that takes one (and an unknown category code on `/categories/{code}`).

use axum::http::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

/// Every route and method with an id in its path, with `{x}` where the id goes and a body the
/// route would accept.
fn routes_with_an_id(world: &World) -> Vec<(Method, String, Option<Value>)> {
    let a = &world.business_a;
    let owner = world.owner_id;
    vec![
        (Method::GET, "/api/v1/businesses/{x}".into(), None),
        (
            Method::PATCH,
            "/api/v1/businesses/{x}".into(),
            Some(json!({ "description": "x" })),
        ),
        (Method::DELETE, "/api/v1/businesses/{x}".into(), None),
        (Method::GET, "/api/v1/businesses/{x}/sites".into(), None),
        (
            Method::POST,
            "/api/v1/businesses/{x}/sites".into(),
            Some(site_body(50.9, 6.9)),
        ),
        (Method::GET, "/api/v1/businesses/{x}/flows".into(), None),
        (Method::GET, "/api/v1/businesses/{x}/matches".into(), None),
        (Method::GET, "/api/v1/businesses/{x}/members".into(), None),
        (
            Method::POST,
            "/api/v1/businesses/{x}/members".into(),
            Some(json!({ "email": "owner@b.example" })),
        ),
        (
            Method::DELETE,
            format!("/api/v1/businesses/{{x}}/members/{owner}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/businesses/{a}/members/{{x}}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/businesses/{{x}}/members/{owner}"),
            Some(json!({ "role": "owner" })),
        ),
        (
            Method::PATCH,
            format!("/api/v1/businesses/{a}/members/{{x}}"),
            Some(json!({ "role": "owner" })),
        ),
        (
            Method::GET,
            "/api/v1/businesses/{x}/invitations".into(),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/businesses/{{x}}/invitations/{}", Uuid::now_v7()),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/businesses/{a}/invitations/{{x}}"),
            None,
        ),
        (Method::POST, "/api/v1/invitations/{x}/accept".into(), None),
        (Method::POST, "/api/v1/invitations/{x}/decline".into(), None),
        (Method::GET, "/api/v1/flows/{x}/matches".into(), None),
        (Method::GET, "/api/v1/matches/{x}".into(), None),
        (
            Method::PATCH,
            "/api/v1/matches/{x}".into(),
            Some(json!({ "status": "contacted" })),
        ),
        (Method::GET, "/api/v1/sites/{x}".into(), None),
        (
            Method::PATCH,
            "/api/v1/sites/{x}".into(),
            Some(json!({ "name": "x" })),
        ),
        (Method::DELETE, "/api/v1/sites/{x}".into(), None),
        (Method::GET, "/api/v1/flows/{x}".into(), None),
        (
            Method::PATCH,
            "/api/v1/flows/{x}".into(),
            Some(json!({ "description": "x" })),
        ),
        (Method::DELETE, "/api/v1/flows/{x}".into(), None),
        (Method::DELETE, "/api/v1/auth/api-keys/{x}".into(), None),
    ]
}

async fn assert_every_route_answers_404_for(world: &World, id: &str) {
    for (method, template, body) in routes_with_an_id(world) {
        let path = template.replace("{x}", id);
        // As an admin, who passes every permission check the id could hide behind.
        let answer = world
            .app
            .call(method.clone(), &path, &world.admin, body.as_ref())
            .await;
        assert_eq!(answer.0, 404, "{method} {path}: {}", answer.2);
        assert_problem(&answer, 404, "not-found");
    }
}

#[tokio::test]
async fn an_id_that_is_not_a_uuid_is_a_404_problem_on_every_route() {
    let world = World::new().await;
    for id in ["not-a-uuid", "42", "0193a1b2-7c3d-7e4f-8a9b"] {
        assert_every_route_answers_404_for(&world, id).await;
    }
}

#[tokio::test]
async fn an_unknown_id_is_a_404_problem_on_every_route() {
    let world = World::new().await;
    assert_every_route_answers_404_for(&world, &Uuid::now_v7().to_string()).await;
}

#[tokio::test]
async fn an_id_of_the_wrong_kind_is_a_404_problem() {
    // A site's id is not a business's, a flow's is not a match's.
    let world = World::new().await;
    for path in [
        format!("/api/v1/businesses/{}", world.site_a),
        format!("/api/v1/sites/{}", world.offer),
        format!("/api/v1/flows/{}", world.business_a),
        format!("/api/v1/matches/{}", world.offer),
        format!("/api/v1/flows/{}/matches", world.match_id),
    ] {
        let answer = world.app.get(&path, &world.admin).await;
        assert_problem(&answer, 404, "not-found");
    }
}

#[tokio::test]
async fn an_unknown_category_is_a_404_problem() {
    let world = World::new().await;
    for code in ["heat.nope", "heat", "HEAT.LOW_TEMP", "x"] {
        let answer = world
            .app
            .get(&format!("/api/v1/categories/{code}"), &Who::Anonymous)
            .await;
        assert_eq!(answer.0, 404, "{code}: {}", answer.2);
        assert_problem(&answer, 404, "not-found");
    }
}

#[tokio::test]
async fn another_businesss_anonymous_flow_is_a_404_problem() {
    let world = World::new().await;
    let mut body = heat_flow(&world.site_a, "offer", 80.0, 100.0);
    body["anonymous"] = json!(true);
    let hidden = world.app.create("/api/v1/flows", &world.owner, &body).await;
    let cases = [
        (Method::GET, format!("/api/v1/flows/{hidden}"), None),
        (Method::GET, format!("/api/v1/flows/{hidden}/matches"), None),
        (
            Method::PATCH,
            format!("/api/v1/flows/{hidden}"),
            Some(json!({ "description": "x" })),
        ),
        (Method::DELETE, format!("/api/v1/flows/{hidden}"), None),
    ];
    for (method, path, body) in cases {
        let answer = world
            .app
            .call(method.clone(), &path, &world.other, body.as_ref())
            .await;
        assert_eq!(answer.0, 404, "{method} {path}: {}", answer.2);
        assert_problem(&answer, 404, "not-found");
    }
    let anonymous = world
        .app
        .get(&format!("/api/v1/flows/{hidden}"), &Who::Anonymous)
        .await;
    assert_problem(&anonymous, 404, "not-found");
}
