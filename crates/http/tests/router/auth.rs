//! `/api/v1/auth/*`: signing in, refresh tokens, registration, who am I, and API keys.

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::*;

const LOGIN: &str = "/api/v1/auth/login";
const REFRESH: &str = "/api/v1/auth/refresh";
const LOGOUT: &str = "/api/v1/auth/logout";
const REGISTER: &str = "/api/v1/auth/register";
const ME: &str = "/api/v1/auth/me";
const KEYS: &str = "/api/v1/auth/api-keys";

#[tokio::test]
async fn a_wrong_password_or_unknown_email_is_a_401_problem() {
    let world = World::new().await;
    for body in [
        json!({ "email": "owner@a.example", "password": "wrong-password" }),
        json!({ "email": "nobody@a.example", "password": PASSWORD }),
        json!({ "email": "owner@a.example", "password": "" }),
    ] {
        let answer = world.app.post(LOGIN, &Who::Anonymous, &body).await;
        assert_eq!(answer.0, 401, "{body}: {}", answer.2);
        assert_problem(&answer, 401, "unauthorized");
    }
}

#[tokio::test]
async fn an_invalid_login_request_is_a_422_naming_the_field() {
    let world = World::new().await;
    let cases = [
        (json!({ "email": "owner@a.example" }), "password"),
        (json!({ "password": PASSWORD }), "email"),
        (json!({ "email": 1, "password": PASSWORD }), "email"),
        (
            json!({ "email": "owner@a.example", "password": PASSWORD, "remember": true }),
            "remember",
        ),
    ];
    for (body, field) in cases {
        let answer = world.app.post(LOGIN, &Who::Anonymous, &body).await;
        assert_eq!(answer.0, 422, "{body}: {}", answer.2);
        assert_invalid(&answer, field);
    }
}

async fn login(world: &World) -> Value {
    let (status, _, tokens) = world
        .app
        .post(
            LOGIN,
            &Who::Anonymous,
            &json!({ "email": "owner@a.example", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

#[tokio::test]
async fn an_unknown_spent_or_ended_refresh_token_is_a_401_problem() {
    let world = World::new().await;
    let unknown = world
        .app
        .post(
            REFRESH,
            &Who::Anonymous,
            &json!({ "refresh_token": "never-issued" }),
        )
        .await;
    assert_problem(&unknown, 401, "unauthorized");

    let tokens = login(&world).await;
    let first = json!({ "refresh_token": tokens["refresh_token"] });
    let (status, _, body) = world.app.post(REFRESH, &Who::Anonymous, &first).await;
    assert_eq!(status, 200, "{body}");
    let spent = world.app.post(REFRESH, &Who::Anonymous, &first).await;
    assert_problem(&spent, 401, "unauthorized");

    let tokens = login(&world).await;
    let ended = json!({ "refresh_token": tokens["refresh_token"] });
    let (status, _, body) = world.app.post(LOGOUT, &Who::Anonymous, &ended).await;
    assert_eq!(status, 204, "{body}");
    let answer = world.app.post(REFRESH, &Who::Anonymous, &ended).await;
    assert_problem(&answer, 401, "unauthorized");
}

#[tokio::test]
async fn a_refresh_or_logout_without_a_refresh_token_is_a_422_naming_it() {
    let world = World::new().await;
    for path in [REFRESH, LOGOUT] {
        for body in [
            json!({}),
            json!({ "refresh_token": 5 }),
            json!({ "refresh_token": null }),
        ] {
            let answer = world.app.post(path, &Who::Anonymous, &body).await;
            assert_eq!(answer.0, 422, "{path} {body}: {}", answer.2);
            assert_invalid(&answer, "refresh_token");
        }
        let answer = world
            .app
            .post(
                path,
                &Who::Anonymous,
                &json!({ "refresh_token": "x", "all": true }),
            )
            .await;
        assert_invalid(&answer, "all");
    }
}

#[tokio::test]
async fn an_invalid_registration_is_a_422_naming_the_field() {
    let world = World::new().await;
    let cases = [
        (
            json!({ "email": "not-an-address", "password": "long-enough-password" }),
            "email",
        ),
        (
            json!({ "email": "new@x.example", "password": "short" }),
            "password",
        ),
        (
            json!({ "email": "new@x.example", "password": "x".repeat(257) }),
            "password",
        ),
        (json!({ "email": "new@x.example" }), "password"),
        (
            json!({ "email": "new@x.example", "password": "long-enough-password", "is_admin": true }),
            "is_admin",
        ),
        (
            json!({ "email": "new@x.example", "password": "long-enough-password", "name": "New" }),
            "name",
        ),
    ];
    for (body, field) in cases {
        let answer = world.app.post(REGISTER, &Who::Anonymous, &body).await;
        assert_eq!(answer.0, 422, "{body}: {}", answer.2);
        assert_invalid(&answer, field);
    }
}

#[tokio::test]
async fn registering_while_registration_is_closed_is_a_403_problem() {
    let mut options = Options::default();
    options.security.open_registration = false;
    let app = TestApp::with(options).await;
    let answer = app
        .post(
            REGISTER,
            &Who::Anonymous,
            &json!({ "email": "new@x.example", "password": "long-enough-password" }),
        )
        .await;
    assert_problem(&answer, 403, "forbidden");
}

#[tokio::test]
async fn who_am_i_without_valid_credentials_is_a_401_problem() {
    let world = World::new().await;
    world
        .app
        .app
        .store
        .accounts()
        .revoke_api_key(world.owner_id, world.write_key_id, Utc::now())
        .await
        .expect("the key is revoked");
    let callers = [
        ("nobody", Who::Anonymous),
        ("a token that is not a JWT", Who::Bearer("x.y.z".into())),
        ("an expired token", world.app.expired_token(world.owner_id)),
        ("an unknown API key", Who::ApiKey("sym_nothing".into())),
        ("a revoked API key", world.write_key.clone()),
    ];
    for (what, who) in callers {
        let answer = world.app.get(ME, &who).await;
        assert_eq!(answer.0, 401, "{what}: {}", answer.2);
        assert_problem(&answer, 401, "unauthorized");
    }
}

#[tokio::test]
async fn a_deleted_users_token_is_a_401_problem() {
    let app = TestApp::start().await;
    let token = symbiont_app::identity::issue_access_token(&app.app.auth, Uuid::now_v7(), 0);
    let answer = app.get(ME, &Who::Bearer(token)).await;
    assert_problem(&answer, 401, "unauthorized");
}

#[tokio::test]
async fn listing_api_keys_without_credentials_is_a_401_problem() {
    let world = World::new().await;
    let answer = world.app.get(KEYS, &Who::Anonymous).await;
    assert_problem(&answer, 401, "unauthorized");
}

#[tokio::test]
async fn an_api_key_managing_api_keys_is_a_403_problem() {
    let world = World::new().await;
    let revoke = format!("{KEYS}/{}", world.read_key_id);
    for key in [&world.write_key, &world.read_key] {
        let create = world.app.post(KEYS, key, &json!({ "name": "more" })).await;
        assert_problem(&create, 403, "forbidden");
        let delete = world.app.delete(&revoke, key).await;
        assert_problem(&delete, 403, "forbidden");
    }
}

#[tokio::test]
async fn an_invalid_new_api_key_is_a_422_naming_the_field() {
    let world = World::new().await;
    let cases = [
        (json!({ "name": "" }), "name"),
        (json!({ "name": "   " }), "name"),
        (json!({ "name": "k".repeat(101) }), "name"),
        (json!({}), "name"),
        (json!({ "name": "k", "scope": "admin" }), "scope"),
        (json!({ "name": "k", "expires": "never" }), "expires"),
    ];
    for (body, field) in cases {
        let answer = world.app.post(KEYS, &world.owner, &body).await;
        assert_eq!(answer.0, 422, "{body}: {}", answer.2);
        assert_invalid(&answer, field);
    }
}

#[tokio::test]
async fn revoking_someone_elses_or_a_revoked_api_key_is_a_404_problem() {
    let world = World::new().await;
    let path = format!("{KEYS}/{}", world.read_key_id);
    let theirs = world.app.delete(&path, &world.other).await;
    assert_problem(&theirs, 404, "not-found");
    let (status, _, body) = world.app.delete(&path, &world.owner).await;
    assert_eq!(status, 204, "{body}");
    let again = world.app.delete(&path, &world.owner).await;
    assert_problem(&again, 404, "not-found");
}
