//! What every route shares: credentials checked before the body is read, JSON bodies (content
//! type, syntax, size), unknown routes, wrong methods and rate limits.

use axum::body::Body;
use axum::http::{Method, header};
use serde_json::{Value, json};
use symbiont_app::identity::{self, AuthSettings};
use symbiont_app::rate_limit::{Quota, RateLimitSettings};
use symbiont_http::HttpSettings;
use symbiont_store::accounts::KeyScope;

use crate::harness::*;

/// Credentials that authenticate nobody.
fn invalid_credentials(world: &World) -> Vec<(&'static str, Who)> {
    let foreign_key = AuthSettings {
        signing_key: b"another deployment's key".to_vec(),
        ..world.app.app.auth.clone()
    };
    vec![
        (
            "a token that is not a JWT",
            Who::Bearer("not-a-token".into()),
        ),
        ("an expired token", world.app.expired_token(world.owner_id)),
        (
            "a token signed with another key",
            Who::Bearer(identity::issue_access_token(
                &foreign_key,
                world.owner_id,
                0,
            )),
        ),
        ("an unknown API key", Who::Bearer("sym_unknown-key".into())),
        (
            "an unknown X-API-Key",
            Who::ApiKey("sym_unknown-key".into()),
        ),
        (
            "a scheme other than Bearer",
            Who::Authorization("Basic b3duZXI6cGFzc3dvcmQ=".into()),
        ),
        ("an empty Bearer", Who::Authorization("Bearer ".into())),
    ]
}

#[tokio::test]
async fn every_write_without_credentials_is_a_401_problem_with_a_bearer_challenge() {
    let world = World::new().await;
    for write in world.writes().into_iter().filter(|w| !w.open) {
        let answer = world
            .app
            .call(
                write.method.clone(),
                &write.path,
                &Who::Anonymous,
                write.body.as_ref(),
            )
            .await;
        let context = format!("{} {}", write.method, write.path);
        assert_eq!(answer.0, 401, "{context}: {}", answer.2);
        assert_problem(&answer, 401, "unauthorized");
        assert_eq!(
            answer.1.get(header::WWW_AUTHENTICATE),
            Some(&"Bearer realm=\"symbiont\"".parse().expect("a header value")),
            "{context}"
        );
    }
}

#[tokio::test]
async fn every_write_with_invalid_or_expired_credentials_is_a_401_problem() {
    let world = World::new().await;
    let credentials = invalid_credentials(&world);
    // The open writes too: a client that sends credentials expects them to count.
    for write in world.writes() {
        for (what, who) in &credentials {
            let answer = world
                .app
                .call(write.method.clone(), &write.path, who, write.body.as_ref())
                .await;
            assert_eq!(
                answer.0, 401,
                "{} {} with {what}: {}",
                write.method, write.path, answer.2
            );
            assert_problem(&answer, 401, "unauthorized");
        }
    }
}

#[tokio::test]
async fn a_read_with_invalid_or_expired_credentials_is_a_401_problem_not_an_anonymous_read() {
    let world = World::new().await;
    let reads = [
        "/api/v1/businesses".to_string(),
        format!("/api/v1/businesses/{}", world.business_a),
        "/api/v1/flows".to_string(),
        "/api/v1/matches".to_string(),
        "/api/v1/categories".to_string(),
        "/api/v1/auth/me".to_string(),
    ];
    for path in &reads {
        for (what, who) in invalid_credentials(&world) {
            let answer = world.app.get(path, &who).await;
            assert_eq!(answer.0, 401, "GET {path} with {what}: {}", answer.2);
            assert_problem(&answer, 401, "unauthorized");
        }
    }
}

#[tokio::test]
async fn a_read_only_api_key_writing_anywhere_is_a_403_problem() {
    let world = World::new().await;
    let key = match &world.read_key {
        Who::Bearer(key) => key.clone(),
        other => panic!("the read key is a bearer: {other:?}"),
    };
    for write in world.writes().into_iter().filter(|w| !w.open) {
        for who in [world.read_key.clone(), Who::ApiKey(key.clone())] {
            let answer = world
                .app
                .call(write.method.clone(), &write.path, &who, write.body.as_ref())
                .await;
            assert_eq!(
                answer.0, 403,
                "{} {}: {}",
                write.method, write.path, answer.2
            );
            assert_problem(&answer, 403, "forbidden");
        }
    }
}

#[tokio::test]
async fn every_json_body_route_answers_415_to_a_body_that_is_not_json() {
    let world = World::new().await;
    for write in world.json_writes() {
        let body = write.body.as_ref().expect("a JSON route").to_string();
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let answer = world
                .app
                .raw(
                    write.method.clone(),
                    &write.path,
                    &world.admin,
                    content_type,
                    body.clone(),
                )
                .await;
            assert_eq!(
                answer.0, 415,
                "{} {} as {content_type:?}: {}",
                write.method, write.path, answer.2
            );
            assert_problem(&answer, 415, "unsupported-media-type");
        }
    }
}

#[tokio::test]
async fn every_json_body_route_answers_400_naming_the_body_to_malformed_json() {
    let world = World::new().await;
    for write in world.json_writes() {
        for malformed in [r#"{"name":"#, "{} {}", "not json", ""] {
            let answer = world
                .app
                .raw(
                    write.method.clone(),
                    &write.path,
                    &world.admin,
                    Some("application/json"),
                    malformed,
                )
                .await;
            assert_eq!(
                answer.0, 400,
                "{} {} with {malformed:?}: {}",
                write.method, write.path, answer.2
            );
            assert_bad_request(&answer, "body");
        }
    }
}

#[tokio::test]
async fn every_json_body_route_answers_413_to_a_body_over_the_limit() {
    let app = TestApp::with(Options {
        http: HttpSettings {
            body_limit_bytes: 1024,
            ..HttpSettings::default()
        },
        ..Options::default()
    })
    .await;
    let world = World::on(app).await;
    let oversized = json!({ "padding": "x".repeat(4096) }).to_string();
    for write in world.json_writes() {
        let answer = world
            .app
            .raw(
                write.method.clone(),
                &write.path,
                &world.admin,
                Some("application/json"),
                oversized.clone(),
            )
            .await;
        assert_eq!(
            answer.0, 413,
            "{} {}: {}",
            write.method, write.path, answer.2
        );
        assert_problem(&answer, 413, "payload-too-large");
    }
}

#[tokio::test]
async fn every_route_answers_405_with_allow_to_a_method_it_does_not_serve() {
    let world = World::new().await;
    let World {
        business_a: a,
        site_a,
        offer,
        match_id,
        member_id,
        read_key_id,
        ..
    } = &world;
    let cases = [
        (Method::PUT, "/api/v1/businesses".to_string()),
        (Method::DELETE, "/api/v1/businesses".to_string()),
        (Method::POST, format!("/api/v1/businesses/{a}")),
        (Method::PUT, format!("/api/v1/businesses/{a}")),
        (Method::DELETE, format!("/api/v1/businesses/{a}/sites")),
        (Method::POST, format!("/api/v1/businesses/{a}/flows")),
        (Method::POST, format!("/api/v1/businesses/{a}/matches")),
        (Method::POST, format!("/api/v1/flows/{offer}/matches")),
        (Method::POST, "/api/v1/matches".to_string()),
        (Method::DELETE, format!("/api/v1/matches/{match_id}")),
        (Method::POST, "/api/v1/stats".to_string()),
        (Method::POST, "/api/v1/sites".to_string()),
        (Method::POST, format!("/api/v1/sites/{site_a}")),
        (Method::DELETE, "/api/v1/flows".to_string()),
        (Method::PUT, format!("/api/v1/flows/{offer}")),
        (Method::POST, "/api/v1/categories".to_string()),
        (
            Method::DELETE,
            "/api/v1/categories/heat.low_temp".to_string(),
        ),
        (Method::PATCH, format!("/api/v1/businesses/{a}/members")),
        (
            Method::GET,
            format!("/api/v1/businesses/{a}/members/{member_id}"),
        ),
        (Method::POST, format!("/api/v1/businesses/{a}/invitations")),
        (Method::POST, "/api/v1/invitations".to_string()),
        (
            Method::GET,
            format!("/api/v1/invitations/{member_id}/accept"),
        ),
        (
            Method::DELETE,
            format!("/api/v1/invitations/{member_id}/decline"),
        ),
        (Method::GET, "/api/v1/auth/login".to_string()),
        (Method::GET, "/api/v1/auth/refresh".to_string()),
        (Method::GET, "/api/v1/auth/logout".to_string()),
        (Method::GET, "/api/v1/auth/register".to_string()),
        (Method::POST, "/api/v1/auth/me".to_string()),
        (Method::PATCH, "/api/v1/auth/api-keys".to_string()),
        (Method::GET, format!("/api/v1/auth/api-keys/{read_key_id}")),
        (Method::POST, "/api/v1/admin/flight-recorder".to_string()),
        (Method::POST, "/api/v1/admin/audit".to_string()),
        (Method::DELETE, "/api/v1/admin/users".to_string()),
        (Method::POST, "/healthz".to_string()),
        (Method::POST, "/readyz".to_string()),
        (Method::POST, "/openapi.json".to_string()),
        (Method::POST, "/metrics".to_string()),
    ];
    for (method, path) in cases {
        // As an admin, so that no credential check answers first.
        let answer = world
            .app
            .raw(method.clone(), &path, &world.admin, None, Body::empty())
            .await;
        assert_eq!(answer.0, 405, "{method} {path}: {}", answer.2);
        assert_problem(&answer, 405, "method-not-allowed");
        assert!(
            answer.1.contains_key(header::ALLOW),
            "{method} {path}: a 405 says what is allowed"
        );
    }
}

#[tokio::test]
async fn a_wrong_method_without_credentials_is_refused_as_an_unauthenticated_write_first() {
    // Credentials are checked before routing, so a write method anywhere needs them first.
    let world = World::new().await;
    for path in ["/api/v1/businesses", "/api/v1/stats", "/healthz"] {
        let answer = world
            .app
            .raw(Method::PUT, path, &Who::Anonymous, None, Body::empty())
            .await;
        assert_problem(&answer, 401, "unauthorized");
    }
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let world = World::new().await;
    let a = &world.business_a;
    for path in [
        "/api/v1/nothing-here".to_string(),
        "/api/v2/businesses".to_string(),
        "/api/businesses".to_string(),
        "/nothing-here".to_string(),
        format!("/api/v1/businesses/{a}/nothing-here"),
        format!("/api/v1/businesses/{a}/members/x/y"),
        "/api/v1/admin/nothing-here".to_string(),
    ] {
        let answer = world.app.get(&path, &Who::Anonymous).await;
        assert_eq!(answer.0, 404, "GET {path}: {}", answer.2);
        assert_problem(&answer, 404, "not-found");
        let answer = world
            .app
            .post(&path, &world.owner, &json!({ "name": "x" }))
            .await;
        assert_eq!(answer.0, 404, "POST {path}: {}", answer.2);
        assert_problem(&answer, 404, "not-found");
    }
}

#[tokio::test]
async fn a_write_to_an_unknown_route_without_credentials_is_a_401_problem() {
    let world = World::new().await;
    let answer = world
        .app
        .post("/api/v1/nothing-here", &Who::Anonymous, &json!({}))
        .await;
    assert_problem(&answer, 401, "unauthorized");
}

// A path segment that is not UTF-8 once percent-decoded (`%FF`) is rejected by axum's `Path`
// extractor in `text/plain`; `error::problem_for_bare_errors` turns that into a problem document.
#[tokio::test]
async fn a_path_segment_that_is_not_utf8_is_a_problem_document() {
    let world = World::new().await;
    for path in [
        "/api/v1/businesses/%FF",
        "/api/v1/sites/%FF",
        "/api/v1/flows/%FF",
        "/api/v1/matches/%FF",
        "/api/v1/categories/%FF",
    ] {
        let answer = world.app.get(path, &Who::Anonymous).await;
        // Either answer is fair (a 400 for an unreadable path, a 404 like any other bad id), as
        // long as it is a problem document.
        let slug = match answer.0.as_u16() {
            400 => "bad-request",
            404 => "not-found",
            other => panic!("GET {path}: {other}"),
        };
        assert_problem(&answer, answer.0.as_u16(), slug);
    }
}

// A well-formed body whose enum field (`direction`, `status`, `role`, `scope`) holds a number, a
// boolean, `null` or an array is a 422 naming the field, as through a merge patch. (serde_json
// reports a wrong token for an enum as a syntax error; `extract::parse_json` has checked the syntax
// before, so it knows the shape is at fault.)
#[tokio::test]
async fn a_wrongly_typed_enum_field_is_a_422_naming_the_field() {
    let world = World::new().await;
    let flow = |field: &str, value: Value| {
        let mut body = heat_flow(&world.site_a, "offer", 80.0, 100.0);
        body[field] = value;
        body
    };
    let decide = format!("/api/v1/matches/{}", world.match_id);
    let members = format!("/api/v1/businesses/{}/members", world.business_a);
    let cases = [
        (
            Method::POST,
            "/api/v1/flows".to_string(),
            flow("direction", json!(1)),
            "direction",
        ),
        (
            Method::POST,
            "/api/v1/flows".to_string(),
            flow("direction", Value::Null),
            "direction",
        ),
        (
            Method::POST,
            "/api/v1/flows".to_string(),
            flow("status", json!(true)),
            "status",
        ),
        (
            Method::PATCH,
            decide.clone(),
            json!({ "status": 1 }),
            "status",
        ),
        (
            Method::PATCH,
            decide,
            json!({ "status": ["contacted"] }),
            "status",
        ),
        (
            Method::POST,
            members,
            json!({ "email": "owner@b.example", "role": 1 }),
            "role",
        ),
        (
            Method::POST,
            "/api/v1/auth/api-keys".to_string(),
            json!({ "name": "k", "scope": null }),
            "scope",
        ),
    ];
    for (method, path, body, field) in cases {
        let answer = world
            .app
            .json(method.clone(), &path, &world.owner, &body)
            .await;
        assert_eq!(answer.0, 422, "{method} {path} {body}: {}", answer.2);
        assert_invalid(&answer, field);
    }
}

fn tiny() -> Quota {
    Quota {
        per_second: 0.001,
        burst: 1,
    }
}

fn generous() -> Quota {
    Quota {
        per_second: 1000.0,
        burst: 1000,
    }
}

/// An app whose rate limits are `settings`.
async fn limited(settings: RateLimitSettings) -> TestApp {
    let mut options = Options::default();
    options.security.rate_limit = RateLimitSettings {
        enabled: true,
        ..settings
    };
    TestApp::with(options).await
}

#[track_caller]
fn assert_rate_limited(answer: &Answer) {
    assert_problem(answer, 429, "too-many-requests");
    let retry_after: u64 = answer
        .1
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a 429 says when to retry");
    assert!(retry_after >= 1);
    assert_eq!(
        answer.1.get("ratelimit-remaining").map(|v| v.as_bytes()),
        Some(&b"0"[..])
    );
}

#[tokio::test]
async fn an_anonymous_caller_past_its_quota_gets_a_429_problem_with_retry_after() {
    let app = limited(RateLimitSettings {
        anonymous: tiny(),
        ..RateLimitSettings::default()
    })
    .await;
    let first = app.get("/api/v1/categories", &Who::Anonymous).await;
    assert_eq!(first.0, 200, "{}", first.2);
    assert_rate_limited(&app.get("/api/v1/categories", &Who::Anonymous).await);
    // Writes anyone may make are counted too.
    assert_rate_limited(
        &app.post(
            "/api/v1/auth/register",
            &Who::Anonymous,
            &json!({ "email": "new@x.example", "password": "long-enough-password" }),
        )
        .await,
    );
}

#[tokio::test]
async fn a_signed_in_user_past_its_quota_gets_a_429_problem() {
    let app = limited(RateLimitSettings {
        user: tiny(),
        ..RateLimitSettings::default()
    })
    .await;
    let (_, user) = app.user("busy@a.example", false).await;
    let first = app.get("/api/v1/auth/me", &user).await;
    assert_eq!(first.0, 200, "{}", first.2);
    assert_rate_limited(&app.get("/api/v1/auth/me", &user).await);
    assert_rate_limited(
        &app.post("/api/v1/businesses", &user, &business_body("x"))
            .await,
    );
}

#[tokio::test]
async fn an_api_key_past_its_quota_gets_a_429_problem() {
    let app = limited(RateLimitSettings {
        api_key: tiny(),
        ..RateLimitSettings::default()
    })
    .await;
    let (user, _) = app.user("meter@a.example", false).await;
    let (_, key) = app
        .api_key(user, symbiont_store::accounts::KeyScope::Read)
        .await;
    let first = app.get("/api/v1/auth/me", &key).await;
    assert_eq!(first.0, 200, "{}", first.2);
    assert_rate_limited(&app.get("/api/v1/auth/me", &key).await);
}

#[tokio::test]
async fn login_attempts_past_their_quota_get_a_429_problem() {
    let app = limited(RateLimitSettings {
        anonymous: generous(),
        login: tiny(),
        ..RateLimitSettings::default()
    })
    .await;
    app.user("guessed@a.example", false).await;
    let attempt = json!({ "email": "guessed@a.example", "password": "wrong-password" });
    let first = app
        .post("/api/v1/auth/login", &Who::Anonymous, &attempt)
        .await;
    assert_problem(&first, 401, "unauthorized");
    assert_rate_limited(
        &app.post("/api/v1/auth/login", &Who::Anonymous, &attempt)
            .await,
    );
    // The right password does not get past the limit either.
    let right = json!({ "email": "guessed@a.example", "password": PASSWORD });
    assert_rate_limited(
        &app.post("/api/v1/auth/login", &Who::Anonymous, &right)
            .await,
    );
}

/// The gateway's layers around one test route, with a short request timeout.
async fn gateway_around(
    route: axum::routing::MethodRouter<symbiont_http::SharedState>,
) -> (TestApp, axum::Router) {
    let app = TestApp::start().await;
    let http = HttpSettings {
        request_timeout: std::time::Duration::from_millis(50),
        ..HttpSettings::default()
    };
    let state = symbiont_http::state(
        app.app.clone(),
        http,
        symbiont_http::gateway::GatewaySettings::default(),
    );
    let router = symbiont_http::with_gateway(axum::Router::new().route("/test", route), state);
    (app, router)
}

async fn answer_of(router: axum::Router) -> Answer {
    use tower::ServiceExt;
    let request = axum::http::Request::get("/test")
        .body(Body::empty())
        .expect("a valid request");
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("readable");
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn assert_problem_with_security_headers(answer: &Answer, status: u16) {
    assert_eq!(answer.0.as_u16(), status, "{}", answer.2);
    assert_eq!(
        answer
            .1
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{:?}",
        answer.1
    );
    assert_eq!(answer.2["status"], status, "{}", answer.2);
    for name in [
        "x-content-type-options",
        "content-security-policy",
        "x-frame-options",
    ] {
        assert!(
            answer.1.contains_key(name),
            "{name} missing: {:?}",
            answer.1
        );
    }
}

#[tokio::test]
async fn a_request_that_times_out_is_a_408_problem_with_the_security_headers() {
    let (_app, router) = gateway_around(axum::routing::get(std::future::pending::<()>)).await;
    assert_problem_with_security_headers(&answer_of(router).await, 408);
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_problem_with_the_security_headers() {
    async fn panics() -> &'static str {
        panic!("a handler bug")
    }
    let (_app, router) = gateway_around(axum::routing::get(panics)).await;
    let answer = answer_of(router).await;
    assert_problem_with_security_headers(&answer, 500);
    assert!(
        !answer.2.to_string().contains("a handler bug"),
        "{}",
        answer.2
    );
}

/// The audit entries of `action`, newest first, as the platform admin reads them.
async fn audited(app: &TestApp, admin: &Who, action: &str) -> Vec<Value> {
    let answer = app
        .get(
            &format!("/api/v1/admin/audit?action={action}&limit=50"),
            admin,
        )
        .await;
    assert_eq!(answer.0, 200, "{}", answer.2);
    answer.2["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn writes_refused_by_the_gateway_with_401_403_or_429_are_audited() {
    let app = limited(RateLimitSettings {
        anonymous: generous(),
        user: tiny(),
        api_key: generous(),
        ..RateLimitSettings::default()
    })
    .await;
    let (_, admin) = app.user("root@example.com", true).await;
    let (writer_id, writer) = app.user("writer@example.com", false).await;
    let (key_id, read_key) = app.api_key(writer_id, KeyScope::Read).await;
    let body = business_body("Refused");

    assert_eq!(
        app.post("/api/v1/businesses", &Who::Anonymous, &body)
            .await
            .0,
        401
    );
    assert_eq!(
        app.post("/api/v1/businesses", &read_key, &body).await.0,
        403
    );
    // The writer's burst of one goes to the first write; the second is refused.
    app.post("/api/v1/businesses", &writer, &body).await;
    assert_rate_limited(&app.post("/api/v1/businesses", &writer, &body).await);

    let entries = audited(&app, &admin, "business.create").await;
    let status_of = |status: u16| {
        entries
            .iter()
            .find(|e| e["status"] == status)
            .unwrap_or_else(|| panic!("no {status} entry in {entries:?}"))
    };
    assert!(status_of(401)["user_id"].is_null());
    assert_eq!(status_of(403)["api_key_id"], key_id.to_string());
    assert_eq!(status_of(429)["email"], "writer@example.com");
}

#[tokio::test]
async fn an_overlong_login_is_a_422_before_it_is_counted_or_its_email_audited() {
    let app = limited(RateLimitSettings {
        anonymous: generous(),
        user: generous(),
        login: tiny(),
        ..RateLimitSettings::default()
    })
    .await;
    let (_, admin) = app.user("root@example.com", true).await;
    let long_email = format!("{}@a.example", "x".repeat(100_000));
    for round in 0..3 {
        let attempt =
            json!({ "email": format!("{round}{long_email}"), "password": "wrong-password" });
        assert_invalid(
            &app.post("/api/v1/auth/login", &Who::Anonymous, &attempt)
                .await,
            "email",
        );
    }
    let long_password = json!({ "email": "guessed@a.example", "password": "p".repeat(100_000) });
    assert_invalid(
        &app.post("/api/v1/auth/login", &Who::Anonymous, &long_password)
            .await,
        "password",
    );
    // None of them used the attempt the quota allows.
    let attempt = json!({ "email": "guessed@a.example", "password": "wrong-password" });
    assert_problem(
        &app.post("/api/v1/auth/login", &Who::Anonymous, &attempt)
            .await,
        401,
        "unauthorized",
    );
    for action in ["auth.login", "auth.login_failed"] {
        for entry in audited(&app, &admin, action).await {
            let email = entry["email"].as_str().unwrap_or_default();
            assert!(email.len() <= 254, "an overlong e-mail was audited");
        }
    }
}

#[tokio::test]
async fn made_up_api_keys_from_one_address_are_refused_before_the_store_is_asked() {
    let app = limited(RateLimitSettings {
        anonymous: generous(),
        api_key: generous(),
        login: tiny(),
        ..RateLimitSettings::default()
    })
    .await;
    let (user, _) = app.user("keyholder@example.com", false).await;
    let (_, valid_key) = app.api_key(user, KeyScope::Read).await;
    let guess = |n: u32| Who::Bearer(format!("sym_made-up-{n}"));
    // The quota allows one failed lookup; the second still fails as unknown, and counts past it.
    assert_problem(
        &app.get("/api/v1/businesses", &guess(1)).await,
        401,
        "unauthorized",
    );
    assert_problem(
        &app.get("/api/v1/businesses", &guess(2)).await,
        401,
        "unauthorized",
    );
    // From then on no key from this address is looked up, not even a valid one.
    assert_rate_limited(&app.get("/api/v1/businesses", &guess(3)).await);
    assert_rate_limited(&app.get("/api/v1/businesses", &valid_key).await);
    // Access tokens cost no lookup to refuse and are not affected.
    let (_, token) = app.user("other@example.com", false).await;
    assert_eq!(app.get("/api/v1/businesses", &token).await.0, 200);
}
