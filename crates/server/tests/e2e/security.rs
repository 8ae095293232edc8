//! Security through the real binary: the authorization matrix (every endpoint × every kind of
//! caller), token tampering, expiry, refresh rotation and reuse, revoked keys, login brute force,
//! anonymity of flows in every view, the audit log and the gateway's headers and load shedding.

use crate::common::{Server, client_with_token, data_dir, heat_flow, site_body, temp_dir};
use reqwest::Method;
use serde_json::{Value, json};

/// One request, answered: status, body and headers.
async fn call(
    client: &reqwest::Client,
    server: &Server,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = client.request(method, server.url(path));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("answered");
    let headers = response.headers().clone();
    let (status, body) = crate::common::read(response).await;
    (status, body, headers)
}

fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_string()
}

/// The callers of the matrix, in column order.
struct Callers {
    anonymous: reqwest::Client,
    member_a: reqwest::Client,
    member_b: reqwest::Client,
    admin: reqwest::Client,
    read_key: reqwest::Client,
    write_key: reqwest::Client,
}

impl Callers {
    fn all(&self) -> [(&'static str, &reqwest::Client); 6] {
        [
            ("anonymous", &self.anonymous),
            ("member of A", &self.member_a),
            ("member of B", &self.member_b),
            ("admin", &self.admin),
            ("read-only key", &self.read_key),
            ("read-write key", &self.write_key),
        ]
    }
}

struct World {
    server: Server,
    callers: Callers,
    /// Business A (Alice's) with a site; business B (Bob's) with a site.
    a: String,
    a_site: String,
    b_site: String,
    alice_token: String,
}

async fn create_user(server: &Server, email: &str, password: &str) {
    let (status, body) = server
        .post(
            "/api/v1/admin/users",
            &json!({ "email": email, "password": password }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn owned_business(
    client: &reqwest::Client,
    server: &Server,
    name: &str,
    (lat, lon): (f64, f64),
) -> (String, String) {
    let (status, business, _) = call(
        client,
        server,
        Method::POST,
        "/api/v1/businesses",
        Some(&crate::common::business_body(name)),
    )
    .await;
    assert_eq!(status, 201, "{business}");
    let business = id(&business);
    let (status, site, _) = call(
        client,
        server,
        Method::POST,
        &format!("/api/v1/businesses/{business}/sites"),
        Some(&site_body(lat, lon)),
    )
    .await;
    assert_eq!(status, 201, "{site}");
    (business, id(&site))
}

async fn world(env: &[(&str, &str)]) -> (tempfile::TempDir, World) {
    let dir = temp_dir();
    let server = Server::start_with_env(&data_dir(&dir), &[], env);
    create_user(&server, "alice@a.example", "alice-password").await;
    create_user(&server, "bob@b.example", "bob-password-1").await;
    let alice_token = server.login("alice@a.example", "alice-password");
    let bob_token = server.login("bob@b.example", "bob-password-1");
    let alice = client_with_token(Some(&alice_token));
    let bob = client_with_token(Some(&bob_token));
    let (a, a_site) = owned_business(&alice, &server, "Alpha Brewery", (50.9412, 6.9583)).await;
    let (_, b_site) = owned_business(&bob, &server, "Beta Greenhouses", (50.9501, 6.9701)).await;
    let mut keys = Vec::new();
    for scope in ["read", "read_write"] {
        let (status, key, _) = call(
            &alice,
            &server,
            Method::POST,
            "/api/v1/auth/api-keys",
            Some(&json!({ "name": format!("{scope} key"), "scope": scope })),
        )
        .await;
        assert_eq!(status, 201, "{key}");
        assert!(key["key"].as_str().is_some_and(|k| k.starts_with("sym_")));
        keys.push(key["key"].as_str().expect("key").to_string());
    }
    let callers = Callers {
        anonymous: client_with_token(None),
        member_a: alice,
        member_b: bob,
        admin: server.client.clone(),
        read_key: client_with_token(Some(&keys[0])),
        write_key: client_with_token(Some(&keys[1])),
    };
    (
        dir,
        World {
            server,
            callers,
            a,
            a_site,
            b_site,
            alice_token,
        },
    )
}

impl World {
    async fn as_alice(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        let (status, body, _) =
            call(&self.callers.member_a, &self.server, method, path, body).await;
        assert!(status < 300, "{path}: {status} {body}");
        body
    }

    /// A fresh business of Alice's with a site and a heat offer: (business, site, flow).
    async fn fresh(&self) -> (String, String, String) {
        let (business, site) =
            owned_business(&self.callers.member_a, &self.server, "Fresh", (50.9, 6.9)).await;
        let flow = self
            .as_alice(
                Method::POST,
                "/api/v1/flows",
                Some(&heat_flow(&site, "offer", 80.0, 300.0)),
            )
            .await;
        (business, site, id(&flow))
    }

    /// A fresh match between an offer of A and a need of B; its id.
    async fn fresh_match(&self) -> String {
        let offer = self
            .as_alice(
                Method::POST,
                "/api/v1/flows",
                Some(&heat_flow(&self.a_site, "offer", 85.0, 400.0)),
            )
            .await;
        let (status, _, _) = call(
            &self.callers.member_b,
            &self.server,
            Method::POST,
            "/api/v1/flows",
            Some(&heat_flow(&self.b_site, "need", 60.0, 200.0)),
        )
        .await;
        assert_eq!(status, 201);
        let matches = self
            .as_alice(
                Method::GET,
                &format!("/api/v1/flows/{}/matches", id(&offer)),
                None,
            )
            .await;
        matches["items"][0]["id"]
            .as_str()
            .expect("the offer has a match")
            .to_string()
    }
}

/// What a cell does before its request: nothing, or make a fresh target and return the path.
#[derive(Clone, Copy)]
enum Target {
    Fixed,
    FreshBusiness,
    FreshSite,
    FreshFlow,
    FreshMatch,
    FreshMember,
    FreshKey,
}

struct Case {
    method: Method,
    /// `{A}`, `{A_SITE}` and `{ID}` (the fresh target) are filled in.
    path: &'static str,
    body: Option<Value>,
    target: Target,
    /// anonymous, member of A, member of B, admin, read-only key, read-write key.
    expected: [u16; 6],
}

fn case(method: Method, path: &'static str, expected: [u16; 6]) -> Case {
    Case {
        method,
        path,
        body: None,
        target: Target::Fixed,
        expected,
    }
}

fn cases() -> Vec<Case> {
    const OPEN: [u16; 6] = [200; 6];
    const ADMIN_ONLY: [u16; 6] = [401, 403, 403, 200, 403, 403];
    let heat = |site: &str| heat_flow(site, "offer", 70.0, 100.0);
    let mut out = vec![
        case(Method::GET, "/healthz", OPEN),
        case(Method::GET, "/readyz", OPEN),
        case(Method::GET, "/openapi.json", OPEN),
        case(Method::GET, "/metrics", OPEN),
        case(Method::GET, "/api/v1/categories", OPEN),
        case(Method::GET, "/api/v1/categories/heat.low_temp", OPEN),
        case(Method::GET, "/api/v1/stats", OPEN),
        case(Method::GET, "/api/v1/businesses", OPEN),
        case(Method::GET, "/api/v1/businesses/{A}", OPEN),
        case(Method::GET, "/api/v1/businesses/{A}/sites", OPEN),
        case(Method::GET, "/api/v1/businesses/{A}/flows", OPEN),
        case(Method::GET, "/api/v1/businesses/{A}/matches", OPEN),
        case(Method::GET, "/api/v1/sites", OPEN),
        case(Method::GET, "/api/v1/sites/{A_SITE}", OPEN),
        case(Method::GET, "/api/v1/flows", OPEN),
        case(Method::GET, "/api/v1/matches", OPEN),
        case(
            Method::GET,
            "/api/v1/businesses/{A}/members",
            [401, 200, 403, 200, 200, 200],
        ),
        case(
            Method::GET,
            "/api/v1/auth/me",
            [401, 200, 200, 200, 200, 200],
        ),
        case(
            Method::GET,
            "/api/v1/auth/api-keys",
            [401, 200, 200, 200, 200, 200],
        ),
        case(
            Method::GET,
            "/api/v1/businesses/{A}/invitations",
            [401, 200, 403, 200, 200, 200],
        ),
        case(
            Method::GET,
            "/api/v1/invitations",
            [401, 200, 200, 200, 200, 200],
        ),
        case(Method::GET, "/api/v1/admin/audit", ADMIN_ONLY),
        case(Method::GET, "/api/v1/admin/users", ADMIN_ONLY),
        case(Method::GET, "/api/v1/admin/flight-recorder", ADMIN_ONLY),
        Case {
            body: Some(crate::common::business_body("Matrix")),
            ..case(
                Method::POST,
                "/api/v1/businesses",
                [401, 201, 201, 201, 403, 201],
            )
        },
        Case {
            body: Some(json!({ "description": "patched" })),
            target: Target::FreshBusiness,
            ..case(
                Method::PATCH,
                "/api/v1/businesses/{ID}",
                [401, 200, 403, 200, 403, 200],
            )
        },
        Case {
            target: Target::FreshBusiness,
            ..case(
                Method::DELETE,
                "/api/v1/businesses/{ID}",
                [401, 204, 403, 204, 403, 204],
            )
        },
        Case {
            body: Some(site_body(50.9, 6.9)),
            ..case(
                Method::POST,
                "/api/v1/businesses/{A}/sites",
                [401, 201, 403, 201, 403, 201],
            )
        },
        Case {
            body: Some(json!({ "name": "Renamed" })),
            target: Target::FreshSite,
            ..case(
                Method::PATCH,
                "/api/v1/sites/{ID}",
                [401, 200, 403, 200, 403, 200],
            )
        },
        Case {
            target: Target::FreshSite,
            ..case(
                Method::DELETE,
                "/api/v1/sites/{ID}",
                [401, 204, 403, 204, 403, 204],
            )
        },
        Case {
            target: Target::FreshFlow,
            ..case(Method::GET, "/api/v1/flows/{ID}", OPEN)
        },
        Case {
            target: Target::FreshFlow,
            ..case(Method::GET, "/api/v1/flows/{ID}/matches", OPEN)
        },
        Case {
            body: Some(json!({ "description": "patched" })),
            target: Target::FreshFlow,
            ..case(
                Method::PATCH,
                "/api/v1/flows/{ID}",
                [401, 200, 403, 200, 403, 200],
            )
        },
        Case {
            target: Target::FreshFlow,
            ..case(
                Method::DELETE,
                "/api/v1/flows/{ID}",
                [401, 204, 403, 204, 403, 204],
            )
        },
        Case {
            target: Target::FreshMatch,
            ..case(Method::GET, "/api/v1/matches/{ID}", OPEN)
        },
        Case {
            body: Some(json!({ "status": "contacted" })),
            target: Target::FreshMatch,
            // Only the two businesses of a match decide on it; not even an admin.
            ..case(
                Method::PATCH,
                "/api/v1/matches/{ID}",
                [401, 200, 200, 403, 403, 200],
            )
        },
        Case {
            body: Some(json!({ "email": "carol@c.example", "role": "member" })),
            target: Target::FreshBusiness,
            ..case(
                Method::POST,
                "/api/v1/businesses/{ID}/members",
                // An invitation, whether or not the address has an account.
                [401, 202, 403, 202, 403, 202],
            )
        },
        Case {
            target: Target::FreshMember,
            ..case(
                Method::DELETE,
                "/api/v1/businesses/{ID}",
                [401, 204, 403, 204, 403, 204],
            )
        },
        Case {
            body: Some(json!({ "name": "another", "scope": "read" })),
            // Keys are managed by people signed in with a password, not by keys.
            ..case(
                Method::POST,
                "/api/v1/auth/api-keys",
                [401, 201, 201, 201, 403, 403],
            )
        },
        Case {
            target: Target::FreshKey,
            // A's key: its owner revokes it; nobody else finds it.
            ..case(
                Method::DELETE,
                "/api/v1/auth/api-keys/{ID}",
                [401, 204, 404, 404, 403, 403],
            )
        },
        Case {
            body: Some(
                json!({ "email": "new-user@x.example", "password": "long-enough-password" }),
            ),
            ..case(
                Method::POST,
                "/api/v1/admin/users",
                [401, 403, 403, 201, 403, 403],
            )
        },
    ];
    let _ = heat;
    out.push(Case {
        body: None,
        target: Target::Fixed,
        ..case(
            Method::POST,
            "/api/v1/flows",
            [401, 201, 403, 201, 403, 201],
        )
    });
    out
}

#[tokio::test]
async fn every_endpoint_answers_every_kind_of_caller_as_the_matrix_says() {
    let (_dir, world) = world(&[]).await;
    create_user(&world.server, "carol@c.example", "carol-password").await;
    let carol = client_with_token(Some(
        &world.server.login("carol@c.example", "carol-password"),
    ));
    let mut failures = Vec::new();
    let mut cells = 0;
    for case in cases() {
        for (column, (who, client)) in world.callers.all().into_iter().enumerate() {
            let fresh = match case.target {
                Target::Fixed => String::new(),
                Target::FreshBusiness => world.fresh().await.0,
                Target::FreshSite => world.fresh().await.1,
                Target::FreshFlow => world.fresh().await.2,
                Target::FreshMatch => world.fresh_match().await,
                Target::FreshMember => {
                    let (business, _, _) = world.fresh().await;
                    let invitation = world
                        .as_alice(
                            Method::POST,
                            &format!("/api/v1/businesses/{business}/members"),
                            Some(&json!({ "email": "carol@c.example" })),
                        )
                        .await;
                    // Carol joins by accepting; removing her is DELETE …/members/{carol}.
                    let (status, member, _) = call(
                        &carol,
                        &world.server,
                        Method::POST,
                        &format!("/api/v1/invitations/{}/accept", id(&invitation)),
                        None,
                    )
                    .await;
                    assert_eq!(status, 200, "{member}");
                    let carol = member["user_id"]
                        .as_str()
                        .expect("carol is a member")
                        .to_string();
                    format!("{business}/members/{carol}")
                }
                Target::FreshKey => {
                    let key = world
                        .as_alice(
                            Method::POST,
                            "/api/v1/auth/api-keys",
                            Some(&json!({ "name": "to revoke" })),
                        )
                        .await;
                    id(&key)
                }
            };
            let path = case
                .path
                .replace("{A_SITE}", &world.a_site)
                .replace("{A}", &world.a)
                .replace("{ID}", &fresh);
            let body = match (&case.body, case.path) {
                (None, "/api/v1/flows") => Some(heat_flow(&world.a_site, "offer", 70.0, 100.0)),
                (body, _) => body.clone(),
            };
            let (status, answer, _) = call(
                client,
                &world.server,
                case.method.clone(),
                &path,
                body.as_ref(),
            )
            .await;
            cells += 1;
            if status != case.expected[column] {
                failures.push(format!(
                    "{} {} as {who}: expected {}, got {status} {answer}",
                    case.method, case.path, case.expected[column]
                ));
            }
            if status >= 400 && status != 404 {
                assert_eq!(
                    answer["status"], status,
                    "{} {path}: errors are problem documents: {answer}",
                    case.method
                );
            }
        }
    }
    assert!(cells >= 200, "the matrix covers {cells} cells");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn tamper(token: &str) -> String {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&engine.decode(parts[1]).expect("base64")).expect("claims");
    claims["exp"] = json!(claims["exp"].as_i64().unwrap_or(0) + 86_400);
    format!(
        "{}.{}.{}",
        parts[0],
        engine.encode(claims.to_string()),
        parts[2]
    )
}

#[tokio::test]
async fn tampered_expired_and_revoked_credentials_are_refused() {
    let (_dir, world) = world(&[("SYMBIONT_ACCESS_TOKEN_TTL_SECS", "2")]).await;
    let server = &world.server;
    let me = "/api/v1/auth/me";

    // A token whose claims were changed no longer verifies.
    let forged = client_with_token(Some(&tamper(&world.alice_token)));
    let (status, problem, headers) = call(&forged, server, Method::GET, me, None).await;
    assert_eq!(status, 401, "{problem}");
    assert_eq!(problem["type"], "/problems/unauthorized");
    assert!(headers.contains_key("www-authenticate"));
    let garbage = client_with_token(Some("not.a.token"));
    assert_eq!(call(&garbage, server, Method::GET, me, None).await.0, 401);

    // Refresh rotates: the new refresh token works once, the old one is refused and revokes all.
    let (status, login, _) = call(
        &world.callers.anonymous,
        server,
        Method::POST,
        "/api/v1/auth/login",
        Some(&json!({ "email": "alice@a.example", "password": "alice-password" })),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    let first_refresh = login["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let refresh = |token: &str| json!({ "refresh_token": token });
    let (status, rotated, _) = call(
        &world.callers.anonymous,
        server,
        Method::POST,
        "/api/v1/auth/refresh",
        Some(&refresh(&first_refresh)),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let second_refresh = rotated["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    assert_ne!(first_refresh, second_refresh);
    let fresh_client = client_with_token(rotated["access_token"].as_str());
    assert_eq!(
        call(&fresh_client, server, Method::GET, me, None).await.0,
        200
    );
    let (status, reuse, _) = call(
        &world.callers.anonymous,
        server,
        Method::POST,
        "/api/v1/auth/refresh",
        Some(&refresh(&first_refresh)),
    )
    .await;
    assert_eq!(status, 401, "a spent refresh token is refused: {reuse}");
    assert!(
        reuse["detail"]
            .as_str()
            .unwrap_or("")
            .contains("already used")
    );
    let (status, _, _) = call(
        &world.callers.anonymous,
        server,
        Method::POST,
        "/api/v1/auth/refresh",
        Some(&refresh(&second_refresh)),
    )
    .await;
    assert_eq!(status, 401, "reuse revoked the whole session");

    // Logout ends a session.
    let (_, login, _) = call(
        &world.callers.anonymous,
        server,
        Method::POST,
        "/api/v1/auth/login",
        Some(&json!({ "email": "alice@a.example", "password": "alice-password" })),
    )
    .await;
    let token = login["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let (status, _, _) = call(
        &world.callers.anonymous,
        server,
        Method::POST,
        "/api/v1/auth/logout",
        Some(&refresh(&token)),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = call(
        &world.callers.anonymous,
        server,
        Method::POST,
        "/api/v1/auth/refresh",
        Some(&refresh(&token)),
    )
    .await;
    assert_eq!(status, 401, "a logged-out session cannot refresh");

    // A revoked API key stops working at once.
    let (_, key, _) = call(
        &world.callers.member_a,
        server,
        Method::POST,
        "/api/v1/auth/api-keys",
        Some(&json!({ "name": "short-lived", "scope": "read_write" })),
    )
    .await;
    let key_client = client_with_token(key["key"].as_str());
    assert_eq!(
        call(&key_client, server, Method::GET, me, None).await.0,
        200
    );
    let (status, _, _) = call(
        &world.callers.member_a,
        server,
        Method::DELETE,
        &format!("/api/v1/auth/api-keys/{}", id(&key)),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, problem, _) = call(&key_client, server, Method::GET, me, None).await;
    assert_eq!(status, 401, "{problem}");
    let listed = call(
        &world.callers.member_a,
        server,
        Method::GET,
        "/api/v1/auth/api-keys",
        None,
    )
    .await
    .1;
    let revoked = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|k| k["id"] == key["id"])
        .expect("listed");
    assert!(revoked["revoked_at"].is_string());
    assert!(
        revoked["last_used_at"].is_string(),
        "use is recorded: {revoked}"
    );
    assert!(revoked.get("key").is_none(), "a key is shown only once");

    // Access tokens expire: a 2 s lifetime, plus the clock-skew leeway verification allows.
    let leeway_ms = 1000 * symbiont_app::identity::EXPIRY_LEEWAY_SECS;
    tokio::time::sleep(std::time::Duration::from_millis(3100 + leeway_ms)).await;
    let (status, problem, _) = call(&world.callers.member_a, server, Method::GET, me, None).await;
    assert_eq!(status, 401, "{problem}");
    assert!(problem["detail"].as_str().unwrap_or("").contains("expired"));
}

#[tokio::test]
async fn password_guessing_hits_the_login_limit_and_is_audited() {
    let dir = temp_dir();
    let server = Server::start_with_env(
        &data_dir(&dir),
        &[],
        &[
            ("SYMBIONT_RATE_LIMIT_ENABLED", "true"),
            ("SYMBIONT_LOGIN_RATE", "3/min"),
        ],
    );
    create_user(&server, "victim@v.example", "victim-password").await;
    let anonymous = client_with_token(None);
    let mut statuses = Vec::new();
    let mut limited_headers = None;
    for attempt in 0..14 {
        let (status, _, headers) = call(
            &anonymous,
            &server,
            Method::POST,
            "/api/v1/auth/login",
            Some(&json!({ "email": "victim@v.example", "password": format!("guess-{attempt}") })),
        )
        .await;
        statuses.push(status);
        if status == 429 {
            limited_headers = Some(headers);
            break;
        }
    }
    assert!(statuses[..3].iter().all(|s| *s == 401), "{statuses:?}");
    let headers = limited_headers.unwrap_or_else(|| panic!("no 429 in {statuses:?}"));
    let retry_after: u64 = headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after));
    assert!(headers.contains_key("ratelimit-limit"));
    assert_eq!(headers["ratelimit-remaining"], "0");
    // While limited, even the right password is refused.
    let (status, _, _) = call(
        &anonymous,
        &server,
        Method::POST,
        "/api/v1/auth/login",
        Some(&json!({ "email": "victim@v.example", "password": "victim-password" })),
    )
    .await;
    assert_eq!(status, 429);

    // The attempts are in the audit log, with the e-mail tried and the address.
    let (status, audit) = server
        .get("/api/v1/admin/audit?action=auth.login_failed&limit=50")
        .await;
    assert_eq!(status, 200, "{audit}");
    let items = audit["items"].as_array().expect("items");
    assert!(items.len() >= 3, "{audit}");
    assert!(items.iter().all(|e| e["email"] == "victim@v.example"));
    assert!(items.iter().all(|e| e["ip"] == "127.0.0.1"));
}

/// Every string and number in a JSON document.
fn leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            leaves(v, out);
        }),
        _ => {}
    }
}

#[tokio::test]
async fn an_anonymous_flow_stays_hidden_until_its_owner_accepts_contact() {
    let (_dir, world) = world(&[]).await;
    let server = &world.server;
    // Alice offers heat anonymously; Bob needs heat nearby.
    let mut offer = heat_flow(&world.a_site, "offer", 85.0, 400.0);
    offer["anonymous"] = json!(true);
    let offer = world
        .as_alice(Method::POST, "/api/v1/flows", Some(&offer))
        .await;
    let offer_id = id(&offer);
    let (status, need, _) = call(
        &world.callers.member_b,
        server,
        Method::POST,
        "/api/v1/flows",
        Some(&heat_flow(&world.b_site, "need", 60.0, 200.0)),
    )
    .await;
    assert_eq!(status, 201);
    let b = need["business_id"].as_str().expect("business").to_string();
    let site = world
        .as_alice(
            Method::GET,
            &format!("/api/v1/sites/{}", world.a_site),
            None,
        )
        .await;
    let secrets = [
        world.a.clone(),
        offer_id.clone(),
        world.a_site.clone(),
        "Alpha Brewery".to_string(),
    ];
    let coordinates = [
        site["location"]["lat"].to_string(),
        site["location"]["lon"].to_string(),
    ];
    let views = [
        "/api/v1/matches".to_string(),
        format!("/api/v1/matches?business_id={b}"),
        format!("/api/v1/businesses/{b}/matches"),
        format!("/api/v1/businesses/{}/matches", world.a),
        format!("/api/v1/flows/{}/matches", need["id"].as_str().expect("id")),
        "/api/v1/flows".to_string(),
        format!("/api/v1/businesses/{}/flows", world.a),
        format!("/api/v1/flows?business_id={}", world.a),
        "/api/v1/flows?category=heat".to_string(),
        "/api/v1/stats".to_string(),
        format!("/api/v1/flows/{offer_id}"),
        format!("/api/v1/flows/{offer_id}/matches"),
    ];
    let stranger = client_with_token(None);
    let check = |who: &'static str, client: reqwest::Client| {
        let views = views.clone();
        let secrets = secrets.clone();
        let coordinates = coordinates.clone();
        async move {
            for view in &views {
                let (status, body, _) = call(&client, server, Method::GET, view, None).await;
                let mut found = Vec::new();
                leaves(&body, &mut found);
                // An id the caller put in the path may come back in its own error message.
                for secret in secrets.iter().filter(|s| !view.contains(s.as_str())) {
                    assert!(
                        !found.iter().any(|s| s.contains(secret.as_str())),
                        "{who} sees '{secret}' in {view} ({status}): {body}"
                    );
                }
                for coordinate in &coordinates {
                    assert!(
                        !found.iter().any(|s| s == coordinate),
                        "{who} sees the coordinate {coordinate} in {view}: {body}"
                    );
                }
            }
        }
    };
    check("Bob", world.callers.member_b.clone()).await;
    check("an anonymous caller", stranger.clone()).await;

    // The match is there for Bob, redacted: bands instead of figures.
    let listed = call(
        &world.callers.member_b,
        server,
        Method::GET,
        &format!("/api/v1/businesses/{b}/matches"),
        None,
    )
    .await
    .1;
    let seen = listed["items"][0].clone();
    assert!(seen["offer_business_id"].is_null(), "{seen}");
    assert!(seen["distance_km"].is_null());
    assert!(seen["distance_band"].is_string());
    assert!(seen["quantity_band"].is_string());
    // A level, not the exact score; savings only as a band (ADR 0013).
    assert!(
        seen["score"]
            .as_f64()
            .is_some_and(|s| (s * 4.0).fract() == 0.0),
        "{seen}"
    );
    assert!(seen["savings_eur_per_year"].is_null(), "{seen}");
    assert!(seen["savings_band"].is_string(), "{seen}");
    let match_id = seen["id"].as_str().expect("match id").to_string();
    let one = format!("/api/v1/matches/{match_id}");
    // A missing flow and a hidden one answer alike.
    let hidden = call(
        &world.callers.member_b,
        server,
        Method::GET,
        &format!("/api/v1/flows/{offer_id}"),
        None,
    )
    .await;
    let missing = call(
        &world.callers.member_b,
        server,
        Method::GET,
        &format!("/api/v1/flows/{}", uuid::Uuid::now_v7()),
        None,
    )
    .await;
    assert_eq!((hidden.0, missing.0), (404, 404));
    let (status, _, _) = call(
        &world.callers.member_b,
        server,
        Method::PATCH,
        &format!("/api/v1/flows/{offer_id}"),
        Some(&json!({ "description": "mine now" })),
    )
    .await;
    assert_eq!(status, 404, "writing a hidden flow finds nothing either");

    // The owner sees everything.
    let own = world.as_alice(Method::GET, &one, None).await;
    assert_eq!(own["offer_business_id"], json!(world.a));

    // Bob asks for contact; he cannot accept his own request; Alice accepts.
    let (status, asked, _) = call(
        &world.callers.member_b,
        server,
        Method::PATCH,
        &one,
        Some(&json!({ "status": "contacted" })),
    )
    .await;
    assert_eq!(status, 200, "{asked}");
    assert!(
        asked["offer_business_id"].is_null(),
        "asking reveals nothing yet"
    );
    let (status, _, _) = call(
        &world.callers.member_b,
        server,
        Method::PATCH,
        &one,
        Some(&json!({ "status": "negotiating" })),
    )
    .await;
    assert_eq!(status, 403, "the asked side accepts");
    let accepted = world
        .as_alice(
            Method::PATCH,
            &one,
            Some(&json!({ "status": "negotiating" })),
        )
        .await;
    assert_eq!(accepted["status"], "negotiating");

    // Now Bob sees Alice; strangers still do not.
    let revealed = call(&world.callers.member_b, server, Method::GET, &one, None)
        .await
        .1;
    assert_eq!(revealed["offer_business_id"], json!(world.a), "{revealed}");
    assert!(revealed["distance_km"].is_number());
    let (_, public, _) = call(&stranger, server, Method::GET, &one, None).await;
    assert!(public["offer_business_id"].is_null(), "{public}");
}

#[tokio::test]
async fn gateway_headers_cors_deprecation_and_load_shedding() {
    let dir = temp_dir();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        r#"
[gateway]
max_concurrent_requests = 1
cors_allowed_origins = ["https://app.example"]

[[gateway.deprecations]]
path_prefix = "/api/v1/stats"
deprecated_at = "2026-06-01T00:00:00Z"
sunset = "2027-06-01T00:00:00Z"
successor = "/api/v2/stats"
"#,
    )
    .expect("config");
    let config = config.to_string_lossy().to_string();
    let server = Server::start_with_env(&data_dir(&dir), &["--config", &config], &[]);
    let anonymous = client_with_token(None);

    let (status, _, headers) = call(&anonymous, &server, Method::GET, "/api/v1/stats", None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers.contains_key("content-security-policy"));
    assert_eq!(headers["deprecation"], "@1780272000");
    assert_eq!(headers["sunset"], "Tue, 01 Jun 2027 00:00:00 GMT");
    assert!(
        headers["link"]
            .to_str()
            .expect("text")
            .contains("successor-version")
    );
    let (_, _, plain) = call(&anonymous, &server, Method::GET, "/api/v1/businesses", None).await;
    assert!(!plain.contains_key("deprecation"));

    // A browser preflight from an allowed origin is answered; others get no CORS headers.
    let preflight = anonymous
        .request(Method::OPTIONS, server.url("/api/v1/flows"))
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let foreign = anonymous
        .get(server.url("/api/v1/stats"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .expect("answered");
    assert!(
        !foreign
            .headers()
            .contains_key("access-control-allow-origin")
    );

    // With one request allowed at a time, concurrent slow requests (logins hash passwords) are
    // shed with 503 and Retry-After instead of queueing.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = anonymous.clone();
        let url = server.url("/api/v1/auth/login");
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .json(&json!({ "email": "nobody@x.example", "password": "whatever-password" }))
                .send()
                .await
                .expect("answered");
            (
                response.status().as_u16(),
                response.headers().get("retry-after").cloned(),
            )
        }));
    }
    let mut shed = 0;
    for task in tasks {
        let (status, retry_after) = task.await.expect("task");
        if status == 503 {
            shed += 1;
            assert!(retry_after.is_some());
        } else {
            assert_eq!(status, 401);
        }
    }
    assert!(shed > 0, "some requests are shed at the limit");
    let (status, metrics) = server.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics
            .as_str()
            .unwrap_or("")
            .contains("symbiont_http_shed_total")
    );
}

#[tokio::test]
async fn callers_are_limited_by_ip_user_and_key_separately() {
    let dir = temp_dir();
    let config = dir.path().join("limits.toml");
    std::fs::write(
        &config,
        r#"
[rate_limit]
anonymous = { rate = "1/min", burst = 4 }
user = { rate = "1/min", burst = 5 }
"#,
    )
    .expect("config");
    let config = config.to_string_lossy().to_string();
    let server = Server::start_with_env(
        &data_dir(&dir),
        &["--config", &config],
        &[("SYMBIONT_RATE_LIMIT_ENABLED", "true")],
    );
    let anonymous = client_with_token(None);
    // The harness's own login came from this address too: one of the four is spent.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (status, _, headers) =
            call(&anonymous, &server, Method::GET, "/api/v1/stats", None).await;
        assert_eq!(headers["ratelimit-limit"], "4");
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let (status, problem, headers) =
        call(&anonymous, &server, Method::GET, "/api/v1/stats", None).await;
    assert_eq!(status, 429);
    assert_eq!(problem["type"], "/problems/too-many-requests");
    assert!(headers.contains_key("retry-after"));
    // The signed-in admin has a budget of its own (the harness's login used none of it).
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(server.get("/api/v1/stats").await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
}
