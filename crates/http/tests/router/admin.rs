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

#[tokio::test]
async fn retention_deletes_only_audit_entries_older_than_the_setting() {
    use symbiont_app::retention::RetentionSettings;
    use symbiont_store::accounts::AuditEntry;
    let world = World::new().await;
    let accounts = world.app.app.store.accounts();
    let entry = |days_ago: i64, path: &str| AuditEntry {
        seq: 0,
        at: chrono::Utc::now() - chrono::Duration::days(days_ago),
        user_id: None,
        email: None,
        api_key_id: None,
        ip: "192.0.2.1".into(),
        method: "POST".into(),
        path: path.into(),
        action: "retention.test".into(),
        status: 201,
        request_id: None,
    };
    accounts
        .append_audit(&[entry(400, "/old"), entry(10, "/recent")])
        .await
        .expect("appended");
    let settings = RetentionSettings {
        audit_log_days: 365,
        ..RetentionSettings::default()
    };
    let purged = world.app.app.purge_expired(settings).await.expect("purged");
    assert_eq!(purged.audit_entries, 1);
    let answer = world
        .app
        .get("/api/v1/admin/audit?action=retention.test", &world.admin)
        .await;
    let paths: Vec<&str> = answer.2["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(paths, ["/recent"]);
    // 0 keeps the audit log forever.
    let keep = RetentionSettings {
        audit_log_days: 0,
        ..RetentionSettings::default()
    };
    accounts
        .append_audit(&[entry(4000, "/ancient")])
        .await
        .expect("appended");
    assert_eq!(
        world
            .app
            .app
            .purge_expired(keep)
            .await
            .expect("purged")
            .audit_entries,
        0
    );
}
