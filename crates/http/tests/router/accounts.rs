//! The account lifecycle: password change, signing out everywhere, disabling users, the absolute
//! lifetime of a login, administration only from a signed-in session, and a registration that
//! does not tell strangers who has an account. Each test plays the attacker the property is for.

use std::time::Duration;

use serde_json::{Value, json};
use symbiont_app::rate_limit::{Quota, RateLimitSettings};
use symbiont_store::accounts::KeyScope;

use crate::harness::*;

const LOGIN: &str = "/api/v1/auth/login";
const REFRESH: &str = "/api/v1/auth/refresh";
const REGISTER: &str = "/api/v1/auth/register";
const PASSWORD_CHANGE: &str = "/api/v1/auth/password";
const LOGOUT_EVERYWHERE: &str = "/api/v1/auth/logout-everywhere";
const ME: &str = "/api/v1/auth/me";

/// Signs in with a password: the access token (as a caller) and the refresh token.
async fn login(app: &TestApp, email: &str, password: &str) -> (Who, String) {
    let answer = app
        .post(
            LOGIN,
            &Who::Anonymous,
            &json!({ "email": email, "password": password }),
        )
        .await;
    assert_eq!(answer.0, 200, "login of {email}: {}", answer.2);
    pair(&answer.2)
}

fn pair(body: &Value) -> (Who, String) {
    let access = body["access_token"].as_str().expect("an access token");
    let refresh = body["refresh_token"].as_str().expect("a refresh token");
    (Who::Bearer(access.into()), refresh.into())
}

async fn refresh(app: &TestApp, token: &str) -> Answer {
    app.post(REFRESH, &Who::Anonymous, &json!({ "refresh_token": token }))
        .await
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_ends_every_other_session() {
    let world = World::new().await;
    let app = &world.app;
    let (laptop, laptop_refresh) = login(app, "owner@a.example", PASSWORD).await;
    let (phone, phone_refresh) = login(app, "owner@a.example", PASSWORD).await;

    // A thief holding the phone's access token but not the password gets nowhere.
    let guess = app
        .post(
            PASSWORD_CHANGE,
            &phone,
            &json!({ "current_password": "a-guess-at-it", "new_password": "thief-chosen-password" }),
        )
        .await;
    assert_invalid(&guess, "current_password");
    let short = app
        .post(
            PASSWORD_CHANGE,
            &laptop,
            &json!({ "current_password": PASSWORD, "new_password": "short" }),
        )
        .await;
    assert_invalid(&short, "new_password");

    let changed = app
        .post(
            PASSWORD_CHANGE,
            &laptop,
            &json!({ "current_password": PASSWORD, "new_password": "a-brand-new-password" }),
        )
        .await;
    assert_eq!(changed.0, 200, "{}", changed.2);
    let (fresh, fresh_refresh) = pair(&changed.2);

    // Every token from before is dead, on every device; the pair just handed out works.
    for (what, who) in [("laptop", &laptop), ("phone", &phone)] {
        let answer = app.get(ME, who).await;
        assert_problem(&answer, 401, "unauthorized");
        assert!(
            answer.2.to_string().contains("ended"),
            "{what}: {}",
            answer.2
        );
    }
    for token in [&laptop_refresh, &phone_refresh] {
        assert_problem(&refresh(app, token).await, 401, "unauthorized");
    }
    assert_eq!(app.get(ME, &fresh).await.0, 200);
    assert_eq!(refresh(app, &fresh_refresh).await.0, 200);
    // The old password no longer signs in; the new one does.
    let old = app
        .post(
            LOGIN,
            &Who::Anonymous,
            &json!({ "email": "owner@a.example", "password": PASSWORD }),
        )
        .await;
    assert_problem(&old, 401, "unauthorized");
    login(app, "owner@a.example", "a-brand-new-password").await;
    // API keys are not sessions: the owner's write key still works.
    assert_eq!(app.get(ME, &world.write_key).await.0, 200);
}

#[tokio::test]
async fn an_api_key_cannot_change_the_password_or_end_sessions() {
    let world = World::new().await;
    let change = json!({ "current_password": PASSWORD, "new_password": "a-brand-new-password" });
    let answer = world
        .app
        .post(PASSWORD_CHANGE, &world.write_key, &change)
        .await;
    assert_problem(&answer, 403, "forbidden");
    let answer = world
        .app
        .post(LOGOUT_EVERYWHERE, &world.write_key, &json!({}))
        .await;
    assert_problem(&answer, 403, "forbidden");
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_access_and_refresh_token() {
    let world = World::new().await;
    let app = &world.app;
    let (laptop, laptop_refresh) = login(app, "member@a.example", PASSWORD).await;
    let (phone, phone_refresh) = login(app, "member@a.example", PASSWORD).await;
    let answer = app.post(LOGOUT_EVERYWHERE, &phone, &json!({})).await;
    assert_eq!(answer.0, 204, "{}", answer.2);
    for who in [&laptop, &phone, &world.member] {
        assert_problem(&app.get(ME, who).await, 401, "unauthorized");
    }
    for token in [&laptop_refresh, &phone_refresh] {
        assert_problem(&refresh(app, token).await, 401, "unauthorized");
    }
    // Signing in again starts a new, working session; other users are untouched.
    let (again, _) = login(app, "member@a.example", PASSWORD).await;
    assert_eq!(app.get(ME, &again).await.0, 200);
    assert_eq!(app.get(ME, &world.owner).await.0, 200);
}

#[tokio::test]
async fn an_administrator_ends_every_session_of_a_user() {
    let world = World::new().await;
    let app = &world.app;
    let (victim, victim_refresh) = login(app, "owner@b.example", PASSWORD).await;
    let path = format!("/api/v1/admin/users/{}/logout-everywhere", world.other_id);
    // Not for ordinary users, not even the user's business partners.
    assert_problem(
        &app.post(&path, &world.owner, &json!({})).await,
        403,
        "forbidden",
    );
    let answer = app.post(&path, &world.admin, &json!({})).await;
    assert_eq!(answer.0, 204, "{}", answer.2);
    assert_problem(&app.get(ME, &victim).await, 401, "unauthorized");
    assert_problem(&refresh(app, &victim_refresh).await, 401, "unauthorized");
    let unknown = format!(
        "/api/v1/admin/users/{}/logout-everywhere",
        uuid::Uuid::now_v7()
    );
    assert_problem(
        &app.post(&unknown, &world.admin, &json!({})).await,
        404,
        "not-found",
    );
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in_or_use_tokens_or_keys_until_enabled() {
    let world = World::new().await;
    let app = &world.app;
    let (session, session_refresh) = login(app, "owner@a.example", PASSWORD).await;
    let disable = format!("/api/v1/admin/users/{}/disable", world.owner_id);
    let enable = format!("/api/v1/admin/users/{}/enable", world.owner_id);
    assert_problem(
        &app.post(&disable, &world.other, &json!({})).await,
        403,
        "forbidden",
    );
    let answer = app.post(&disable, &world.admin, &json!({})).await;
    assert_eq!(answer.0, 200, "{}", answer.2);
    assert!(answer.2["disabled_at"].is_string(), "{}", answer.2);

    for who in [&session, &world.owner, &world.read_key, &world.write_key] {
        assert_problem(&app.get(ME, who).await, 401, "unauthorized");
    }
    assert_problem(&refresh(app, &session_refresh).await, 401, "unauthorized");
    // The right password of a disabled account: told so (only someone with the password is).
    let refused = app
        .post(
            LOGIN,
            &Who::Anonymous,
            &json!({ "email": "owner@a.example", "password": PASSWORD }),
        )
        .await;
    assert_problem(&refused, 403, "forbidden");
    // The wrong password is the usual 401: a disabled account is not revealed by guessing.
    let guessed = app
        .post(
            LOGIN,
            &Who::Anonymous,
            &json!({ "email": "owner@a.example", "password": "wrong-password" }),
        )
        .await;
    assert_problem(&guessed, 401, "unauthorized");

    let answer = app.post(&enable, &world.admin, &json!({})).await;
    assert_eq!(answer.0, 200, "{}", answer.2);
    assert!(answer.2["disabled_at"].is_null(), "{}", answer.2);
    // Enabling does not bring the ended sessions back; keys work again; signing in works.
    assert_problem(&app.get(ME, &session).await, 401, "unauthorized");
    assert_eq!(app.get(ME, &world.write_key).await.0, 200);
    login(app, "owner@a.example", PASSWORD).await;
}

#[tokio::test]
async fn an_administrator_cannot_disable_themself() {
    let world = World::new().await;
    let path = format!("/api/v1/admin/users/{}/disable", world.admin_id);
    let answer = world.app.post(&path, &world.admin, &json!({})).await;
    assert_problem(&answer, 409, "conflict");
    assert_eq!(world.app.get(ME, &world.admin).await.0, 200);
}

#[tokio::test]
async fn an_administrators_api_key_has_no_admin_powers() {
    let world = World::new().await;
    let app = &world.app;
    let (_, admin_key) = app.api_key(world.admin_id, KeyScope::ReadWrite).await;
    let disable = format!("/api/v1/admin/users/{}/disable", world.owner_id);
    let attempts = [
        app.get("/api/v1/admin/users", &admin_key).await,
        app.get("/api/v1/admin/audit", &admin_key).await,
        app.get("/api/v1/admin/flight-recorder", &admin_key).await,
        app.post(&disable, &admin_key, &json!({})).await,
        app.post(
            "/api/v1/admin/users",
            &admin_key,
            &json!({ "email": "planted@x.example", "password": "long-enough-password", "is_admin": true }),
        )
        .await,
    ];
    for answer in &attempts {
        assert_problem(answer, 403, "forbidden");
        assert!(
            answer.2.to_string().contains("signed-in session"),
            "{}",
            answer.2
        );
    }
    // Nor does the key see or change other businesses' data as an admin session would.
    let me = app.get(ME, &admin_key).await;
    assert_eq!(me.2["is_admin"], json!(false), "{}", me.2);
    let foreign = app
        .patch(
            &format!("/api/v1/businesses/{}", world.business_b),
            &admin_key,
            &json!({ "name": "Taken over" }),
        )
        .await;
    assert_problem(&foreign, 403, "forbidden");
    // The same administrator signed in with a password may.
    assert_eq!(app.get("/api/v1/admin/users", &world.admin).await.0, 200);
}

#[tokio::test]
async fn a_login_cannot_be_refreshed_past_its_absolute_lifetime() {
    let mut options = Options::default();
    options.security.session_max_age = Duration::from_secs(2);
    let app = TestApp::with(options).await;
    app.user("long@a.example", false).await;
    let (_, first) = login(&app, "long@a.example", PASSWORD).await;
    let answer = refresh(&app, &first).await;
    assert_eq!(answer.0, 200, "{}", answer.2);
    let (_, second) = pair(&answer.2);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    // The refresh token itself would live for days; its login does not.
    assert_problem(&refresh(&app, &second).await, 401, "unauthorized");
}

#[tokio::test]
async fn registering_a_taken_email_answers_like_a_new_one_and_changes_nothing() {
    let world = World::new().await;
    let app = &world.app;
    let taken = app
        .post(
            REGISTER,
            &Who::Anonymous,
            &json!({ "email": "  Owner@A.example ", "password": "attacker-password" }),
        )
        .await;
    let fresh = app
        .post(
            REGISTER,
            &Who::Anonymous,
            &json!({ "email": "newcomer@x.example", "password": "newcomer-password" }),
        )
        .await;
    assert_eq!(
        (taken.0.as_u16(), fresh.0.as_u16()),
        (202, 202),
        "{} / {}",
        taken.2,
        fresh.2
    );
    // The same fields and the same text, but for the address itself.
    assert_eq!(taken.2["detail"], fresh.2["detail"]);
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&taken.2), keys(&fresh.2));
    assert_eq!(taken.2["email"], json!("owner@a.example"));
    // The existing account is untouched; the newcomer can sign in.
    login(app, "owner@a.example", PASSWORD).await;
    let hijack = app
        .post(
            LOGIN,
            &Who::Anonymous,
            &json!({ "email": "owner@a.example", "password": "attacker-password" }),
        )
        .await;
    assert_problem(&hijack, 401, "unauthorized");
    login(app, "newcomer@x.example", "newcomer-password").await;
}

#[tokio::test]
async fn registration_has_its_own_quota_per_client_address() {
    let mut options = Options::default();
    options.security.rate_limit = RateLimitSettings {
        enabled: true,
        login: Quota {
            per_second: 1.0 / 3600.0,
            burst: 1,
        },
        ..RateLimitSettings::default()
    };
    let app = TestApp::with(options).await;
    let body = |n: u32| json!({ "email": format!("bulk{n}@x.example"), "password": "long-enough-password" });
    let first = app.post(REGISTER, &Who::Anonymous, &body(1)).await;
    assert_eq!(first.0, 202, "{}", first.2);
    let second = app.post(REGISTER, &Who::Anonymous, &body(2)).await;
    assert_problem(&second, 429, "too-many-requests");
    assert!(second.1.get("retry-after").is_some());
    // Its own counter: the address may still try a login.
    let attempt = app
        .post(
            LOGIN,
            &Who::Anonymous,
            &json!({ "email": "bulk1@x.example", "password": "long-enough-password" }),
        )
        .await;
    assert_eq!(attempt.0, 200, "{}", attempt.2);
}
