//! `/api/v1/admin/*`: platform administrators only, and invalid new users.

use axum::http::Method;
use serde_json::{Value, json};

use crate::harness::*;

fn admin_routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/api/v1/admin/flight-recorder", None),
        (Method::GET, "/api/v1/admin/audit", None),
        (Method::GET, "/api/v1/admin/users", None),
        (
            Method::POST,
            "/api/v1/admin/users",
            Some(json!({ "email": "new@x.example", "password": "long-enough-password" })),
        ),
    ]
}

#[tokio::test]
async fn admin_routes_without_valid_credentials_are_a_401_problem() {
    let world = World::new().await;
    for (method, path, body) in admin_routes() {
        for (what, who) in [
            ("nobody", Who::Anonymous),
            ("a token that is not a JWT", Who::Bearer("nonsense".into())),
            ("an expired token", world.app.expired_token(world.admin_id)),
        ] {
            let answer = world
                .app
                .call(method.clone(), path, &who, body.as_ref())
                .await;
            assert_eq!(answer.0, 401, "{method} {path} as {what}: {}", answer.2);
            assert_problem(&answer, 401, "unauthorized");
        }
    }
}

#[tokio::test]
async fn admin_routes_for_anyone_but_an_admin_are_a_403_problem() {
    let world = World::new().await;
    for (method, path, body) in admin_routes() {
        for (what, who) in [
            ("an owner", &world.owner),
            ("a member", &world.member),
            ("a read-only key", &world.read_key),
            ("a read-write key", &world.write_key),
        ] {
            let answer = world
                .app
                .call(method.clone(), path, who, body.as_ref())
                .await;
            assert_eq!(answer.0, 403, "{method} {path} as {what}: {}", answer.2);
            assert_problem(&answer, 403, "forbidden");
        }
    }
}

#[tokio::test]
async fn creating_a_user_whose_email_exists_is_a_409_problem() {
    let world = World::new().await;
    let answer = world
        .app
        .post(
            "/api/v1/admin/users",
            &world.admin,
            &json!({ "email": "OWNER@a.example", "password": "long-enough-password" }),
        )
        .await;
    assert_problem(&answer, 409, "conflict");
}

#[tokio::test]
async fn an_invalid_new_user_is_a_422_naming_the_field() {
    let world = World::new().await;
    let cases = [
        (
            json!({ "email": "no-at-sign", "password": "long-enough-password" }),
            "email",
        ),
        (
            json!({ "email": "a@b", "password": "long-enough-password" }),
            "email",
        ),
        (
            json!({ "email": "new@x.example", "password": "123456789" }),
            "password",
        ),
        (json!({ "password": "long-enough-password" }), "email"),
        (
            json!({ "email": "new@x.example", "password": "long-enough-password", "is_admin": "yes" }),
            "is_admin",
        ),
        (
            json!({ "email": "new@x.example", "password": "long-enough-password", "role": "admin" }),
            "role",
        ),
    ];
    for (body, field) in cases {
        let answer = world
            .app
            .post("/api/v1/admin/users", &world.admin, &body)
            .await;
        assert_eq!(answer.0, 422, "{body}: {}", answer.2);
        assert_invalid(&answer, field);
    }
}
