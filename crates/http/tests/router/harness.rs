//! The test app: the real router over a started [`App`] (SQLite in a throw-away directory, the
//! in-process bus, the in-process cache, the event pipeline running), called in-process with
//! `oneshot`; typed helpers for requests and for the problem documents the router answers with.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::Utc;
use serde_json::{Value, json};
use symbiont_app::identity::{self, AuthSettings};
use symbiont_app::live_feed::FeedSettings;
use symbiont_app::rate_limit::RateLimitSettings;
use symbiont_app::response_cache::ResponseCache;
use symbiont_app::{App, AppParts, SecuritySettings};
use symbiont_core::Taxonomy;
use symbiont_http::HttpSettings;
use symbiont_http::gateway::GatewaySettings;
use symbiont_store::Store;
use symbiont_store::accounts::{ApiKey, KeyScope, Membership, Role, User};
use symbiont_store::sqlite::SqliteStore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use uuid::Uuid;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The password of every fixture user.
pub const PASSWORD: &str = "fixture-password";

/// Status, headers and the body as JSON (`Value::Null` when empty, a string when not JSON).
pub type Answer = (StatusCode, HeaderMap, Value);

/// Who sends a request.
#[derive(Debug, Clone)]
pub enum Who {
    Anonymous,
    /// `Authorization: Bearer <token or key>`.
    Bearer(String),
    /// `X-API-Key: <key>`.
    ApiKey(String),
    /// `Authorization: <value>` exactly as given.
    Authorization(String),
}

/// What can be changed about the app a test runs against.
#[derive(Clone)]
pub struct Options {
    pub http: HttpSettings,
    pub security: SecuritySettings,
    pub feed: FeedSettings,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            http: HttpSettings::default(),
            security: SecuritySettings {
                // Rate limits are their own tests' subject; elsewhere they stay out of the way.
                rate_limit: RateLimitSettings {
                    enabled: false,
                    ..RateLimitSettings::default()
                },
                ..SecuritySettings::default()
            },
            feed: FeedSettings::default(),
        }
    }
}

/// The router over a started app. Dropping it stops the event pipeline and removes the data.
pub struct TestApp {
    pub router: Router,
    pub app: Arc<App>,
    cancel: CancellationToken,
    _tasks: TaskTracker,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> TestApp {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(dir.path())
                .await
                .expect("SQLite opens in a fresh directory"),
        );
        let bus = symbiont_bus::connect("memory://", "router-tests")
            .await
            .expect("the in-process bus");
        let (app, subscription) = App::start(AppParts {
            store,
            taxonomy: Arc::new(Taxonomy::builtin().expect("the built-in taxonomy")),
            matching: Default::default(),
            bus,
            graph: Arc::new(symbiont_graph::embedded::EmbeddedGraph::default()),
            cache: ResponseCache::memory(),
            shared_rate_limits: None,
            read_your_writes: Duration::from_secs(5),
            security: options.security,
            feed: options.feed,
        })
        .await
        .expect("the app starts");
        let tasks = TaskTracker::new();
        let cancel = CancellationToken::new();
        symbiont_app::event_pipeline::start(&app, subscription, &tasks, &cancel);
        let router = symbiont_http::app(symbiont_http::state(
            app.clone(),
            options.http,
            GatewaySettings::default(),
        ));
        TestApp {
            router,
            app,
            cancel,
            _tasks: tasks,
            _dir: dir,
        }
    }

    /// Sends a request as built.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body is readable");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, headers, body)
    }

    /// Sends `method path` as `who` with `body` as it is (no content type unless given).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        who: &Who,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Answer {
        let mut request = request(method, path, who);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        self.send(request.body(body.into()).expect("a valid request"))
            .await
    }

    pub async fn get(&self, path: &str, who: &Who) -> Answer {
        self.raw(Method::GET, path, who, None, Body::empty()).await
    }

    pub async fn post(&self, path: &str, who: &Who, body: &Value) -> Answer {
        self.json(Method::POST, path, who, body).await
    }

    pub async fn patch(&self, path: &str, who: &Who, body: &Value) -> Answer {
        self.json(Method::PATCH, path, who, body).await
    }

    /// A PATCH with `If-Match: <tag>`.
    pub async fn patch_if_match(&self, path: &str, who: &Who, body: &Value, tag: &str) -> Answer {
        let request = request(Method::PATCH, path, who)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::IF_MATCH, tag)
            .body(Body::from(body.to_string()))
            .expect("a valid request");
        self.send(request).await
    }

    pub async fn delete(&self, path: &str, who: &Who) -> Answer {
        self.raw(Method::DELETE, path, who, None, Body::empty())
            .await
    }

    /// `method path` with `body` as JSON when there is one, else with an empty body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        who: &Who,
        body: Option<&Value>,
    ) -> Answer {
        match body {
            Some(body) => self.json(method, path, who, body).await,
            None => self.raw(method, path, who, None, Body::empty()).await,
        }
    }

    /// `method path` with `body` as `application/json`.
    pub async fn json(&self, method: Method, path: &str, who: &Who, body: &Value) -> Answer {
        self.raw(
            method,
            path,
            who,
            Some("application/json"),
            body.to_string(),
        )
        .await
    }

    /// A user stored directly (password [`PASSWORD`]) and an access token for them.
    pub async fn user(&self, email: &str, is_admin: bool) -> (Uuid, Who) {
        let user = User {
            id: Uuid::now_v7(),
            email: email.to_string(),
            password_hash: password_hash().to_string(),
            is_admin,
            created_at: Utc::now(),
            token_epoch: 0,
            disabled_at: None,
        };
        self.app
            .store
            .accounts()
            .insert_user(&user)
            .await
            .expect("the user is stored");
        let token = identity::issue_access_token(&self.app.auth, user.id, 0);
        (user.id, Who::Bearer(token))
    }

    /// An API key of `user` stored directly: its id and the caller presenting it.
    pub async fn api_key(&self, user: Uuid, scope: KeyScope) -> (Uuid, Who) {
        let (key, hash) = identity::new_api_key();
        let record = ApiKey {
            id: Uuid::now_v7(),
            user_id: user,
            name: format!("{} key", scope.as_str()),
            prefix: key.chars().take(10).collect(),
            scope,
            created_at: Utc::now(),
            last_used_at: None,
            revoked_at: None,
        };
        self.app
            .store
            .accounts()
            .insert_api_key(&record, &hash)
            .await
            .expect("the key is stored");
        (record.id, Who::Bearer(key))
    }

    /// An access token of `user` that expired when it was issued.
    pub fn expired_token(&self, user: Uuid) -> Who {
        // Signed an hour ago with a one-minute lifetime: expired well past the clock-skew leeway.
        let settings = AuthSettings {
            access_ttl: Duration::from_secs(60),
            ..self.app.auth.clone()
        };
        Who::Bearer(identity::issue_access_token_at(
            &settings,
            user,
            0,
            Utc::now() - chrono::Duration::hours(1),
        ))
    }

    /// The invitation `invitee` sees from `business`, through `GET /api/v1/invitations`.
    pub async fn invitation_to(&self, invitee: &Who, business: &str) -> Option<Value> {
        let (status, _, list) = self.get("/api/v1/invitations", invitee).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["business_id"] == business)
            .cloned()
    }

    pub async fn add_member(&self, business: &str, user: Uuid, role: Role) {
        self.app
            .store
            .accounts()
            .put_membership(&Membership {
                business_id: business.parse().expect("a business id"),
                user_id: user,
                role,
                created_at: Utc::now(),
            })
            .await
            .expect("the membership is stored");
        self.app.account_cache.clear();
    }

    /// Creates what `body` describes and returns its id, failing the test otherwise.
    pub async fn create(&self, path: &str, who: &Who, body: &Value) -> String {
        let (status, _, created) = self.post(path, who, body).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {created}");
        id_of(&created)
    }
}

fn request(method: Method, path: &str, who: &Who) -> axum::http::request::Builder {
    let builder = Request::builder().method(method).uri(path);
    match who {
        Who::Anonymous => builder,
        Who::Bearer(token) => builder.header(header::AUTHORIZATION, format!("Bearer {token}")),
        Who::ApiKey(key) => builder.header("x-api-key", key.as_str()),
        Who::Authorization(value) => builder.header(header::AUTHORIZATION, value.as_str()),
    }
}

/// Hashing with argon2 is slow on purpose; every fixture user shares one hash of [`PASSWORD`].
fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| identity::hash_password(PASSWORD).expect("the password hashes"))
}

pub fn id_of(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_string()
}

/// Asserts that `answer` is a problem document of `status` and type `/problems/<slug>`.
#[track_caller]
pub fn assert_problem(answer: &Answer, status: u16, slug: &str) {
    let (actual, headers, body) = answer;
    assert_eq!(actual.as_u16(), status, "status; body: {body}");
    assert_eq!(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some(PROBLEM_JSON),
        "content type of a {status}; body: {body}"
    );
    assert_eq!(body["status"], status, "the problem's status: {body}");
    assert_eq!(
        body["type"],
        format!("/problems/{slug}"),
        "the problem's type: {body}"
    );
    assert!(body["title"].is_string(), "the problem's title: {body}");
    assert!(body["detail"].is_string(), "the problem's detail: {body}");
}

/// Asserts a problem of `status`/`slug` whose `errors` name `field`.
#[track_caller]
pub fn assert_field_problem(answer: &Answer, status: u16, slug: &str, field: &str) {
    assert_problem(answer, status, slug);
    let fields = fields(&answer.2);
    assert!(
        fields.iter().any(|f| f == field),
        "expected errors[].field to name {field:?}, got {fields:?}: {}",
        answer.2
    );
}

/// The fields named in a problem's `errors`.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A 400 naming `field`.
#[track_caller]
pub fn assert_bad_request(answer: &Answer, field: &str) {
    assert_field_problem(answer, 400, "bad-request", field);
}

/// A 422 naming `field`.
#[track_caller]
pub fn assert_invalid(answer: &Answer, field: &str) {
    assert_field_problem(answer, 422, "validation", field);
}

pub fn business_body(name: &str) -> Value {
    json!({ "name": name, "industry": "C11.05", "description": "brewery", "contact": { "email": "info@example.com" } })
}

pub fn site_body(lat: f64, lon: f64) -> Value {
    json!({ "name": "Main works", "address": "Hafenstraße 1", "location": { "lat": lat, "lon": lon } })
}

pub fn heat_flow(site_id: &str, direction: &str, temperature_c: f64, kw: f64) -> Value {
    json!({
        "site_id": site_id,
        "direction": direction,
        "category": "heat.low_temp",
        "quality": { "temperature_c": temperature_c },
        "quantity": { "value": kw, "unit": "kW" },
        "profile": "Mon-Fri 06:00-22:00",
    })
}

/// Two businesses a kilometre apart whose heat offer and need match, and the people around them:
///
/// - `owner` owns business A (site, heat offer); `member` is a plain member of A;
/// - `other` owns business B (site, heat need) and belongs to nothing of A;
/// - `admin` is a platform administrator without memberships;
/// - `read_key` and `write_key` are API keys of `owner`.
pub struct World {
    pub app: TestApp,
    pub owner: Who,
    pub owner_id: Uuid,
    pub member: Who,
    pub member_id: Uuid,
    pub other: Who,
    pub other_id: Uuid,
    pub admin: Who,
    pub admin_id: Uuid,
    pub read_key: Who,
    pub read_key_id: Uuid,
    pub write_key: Who,
    pub write_key_id: Uuid,
    pub business_a: String,
    pub site_a: String,
    pub offer: String,
    pub business_b: String,
    pub site_b: String,
    pub need: String,
    pub match_id: String,
}

impl World {
    pub async fn new() -> World {
        Self::on(TestApp::start().await).await
    }

    pub async fn on(app: TestApp) -> World {
        let (owner_id, owner) = app.user("owner@a.example", false).await;
        let (member_id, member) = app.user("member@a.example", false).await;
        let (other_id, other) = app.user("owner@b.example", false).await;
        let (admin_id, admin) = app.user("admin@platform.example", true).await;
        let (read_key_id, read_key) = app.api_key(owner_id, KeyScope::Read).await;
        let (write_key_id, write_key) = app.api_key(owner_id, KeyScope::ReadWrite).await;
        let business_a = app
            .create(
                "/api/v1/businesses",
                &owner,
                &business_body("Alpha Brewery"),
            )
            .await;
        app.add_member(&business_a, member_id, Role::Member).await;
        let site_a = app
            .create(
                &format!("/api/v1/businesses/{business_a}/sites"),
                &owner,
                &site_body(50.9412, 6.9583),
            )
            .await;
        let business_b = app
            .create(
                "/api/v1/businesses",
                &other,
                &business_body("Beta Greenhouses"),
            )
            .await;
        let site_b = app
            .create(
                &format!("/api/v1/businesses/{business_b}/sites"),
                &other,
                &site_body(50.9501, 6.9701),
            )
            .await;
        let offer = app
            .create(
                "/api/v1/flows",
                &owner,
                &heat_flow(&site_a, "offer", 85.0, 400.0),
            )
            .await;
        let need = app
            .create(
                "/api/v1/flows",
                &other,
                &heat_flow(&site_b, "need", 60.0, 200.0),
            )
            .await;
        let match_id = first_match(&app, &offer, &owner).await;
        World {
            app,
            owner,
            owner_id,
            member,
            member_id,
            other,
            other_id,
            admin,
            admin_id,
            read_key,
            read_key_id,
            write_key,
            write_key_id,
            business_a,
            site_a,
            offer,
            business_b,
            site_b,
            need,
            match_id,
        }
    }
}

/// A route and method that writes, with a body it would accept.
pub struct Write {
    pub method: Method,
    pub path: String,
    pub body: Option<Value>,
    /// Anyone may call it without credentials (signing in, registering).
    pub open: bool,
}

fn write(method: Method, path: String, body: Option<Value>) -> Write {
    Write {
        method,
        path,
        body,
        open: false,
    }
}

fn open_write(path: &str, body: Value) -> Write {
    Write {
        method: Method::POST,
        path: path.to_string(),
        body: Some(body),
        open: true,
    }
}

impl World {
    /// Every route and method of `routes::router` that writes (anything but GET), aimed at this
    /// world's entities.
    pub fn writes(&self) -> Vec<Write> {
        let World {
            business_a: a,
            site_a,
            offer,
            match_id,
            member_id,
            read_key_id,
            ..
        } = self;
        let new_user = json!({ "email": "new@x.example", "password": "long-enough-password" });
        vec![
            write(
                Method::POST,
                "/api/v1/businesses".into(),
                Some(business_body("New")),
            ),
            write(
                Method::PATCH,
                format!("/api/v1/businesses/{a}"),
                Some(json!({ "description": "x" })),
            ),
            write(Method::DELETE, format!("/api/v1/businesses/{a}"), None),
            write(
                Method::POST,
                format!("/api/v1/businesses/{a}/sites"),
                Some(site_body(50.94, 6.95)),
            ),
            write(
                Method::PATCH,
                format!("/api/v1/sites/{site_a}"),
                Some(json!({ "name": "x" })),
            ),
            write(Method::DELETE, format!("/api/v1/sites/{site_a}"), None),
            write(
                Method::POST,
                "/api/v1/flows".into(),
                Some(heat_flow(site_a, "offer", 80.0, 100.0)),
            ),
            write(
                Method::PATCH,
                format!("/api/v1/flows/{offer}"),
                Some(json!({ "description": "x" })),
            ),
            write(Method::DELETE, format!("/api/v1/flows/{offer}"), None),
            write(
                Method::PATCH,
                format!("/api/v1/matches/{match_id}"),
                Some(json!({ "status": "contacted" })),
            ),
            write(
                Method::POST,
                format!("/api/v1/businesses/{a}/members"),
                Some(json!({ "email": "owner@b.example" })),
            ),
            write(
                Method::PATCH,
                format!("/api/v1/businesses/{a}/members/{member_id}"),
                Some(json!({ "role": "owner" })),
            ),
            write(
                Method::DELETE,
                format!("/api/v1/businesses/{a}/members/{member_id}"),
                None,
            ),
            write(
                Method::DELETE,
                format!("/api/v1/businesses/{a}/invitations/{}", Uuid::now_v7()),
                None,
            ),
            write(
                Method::POST,
                format!("/api/v1/invitations/{}/accept", Uuid::now_v7()),
                None,
            ),
            write(
                Method::POST,
                format!("/api/v1/invitations/{}/decline", Uuid::now_v7()),
                None,
            ),
            open_write(
                "/api/v1/auth/login",
                json!({ "email": "owner@a.example", "password": PASSWORD }),
            ),
            open_write(
                "/api/v1/auth/refresh",
                json!({ "refresh_token": "unknown" }),
            ),
            open_write("/api/v1/auth/logout", json!({ "refresh_token": "unknown" })),
            open_write("/api/v1/auth/register", new_user.clone()),
            write(
                Method::POST,
                "/api/v1/auth/api-keys".into(),
                Some(json!({ "name": "k" })),
            ),
            write(
                Method::DELETE,
                format!("/api/v1/auth/api-keys/{read_key_id}"),
                None,
            ),
            write(Method::POST, "/api/v1/admin/users".into(), Some(new_user)),
        ]
    }

    /// The writes that read a JSON body.
    pub fn json_writes(&self) -> Vec<Write> {
        self.writes()
            .into_iter()
            .filter(|w| w.body.is_some())
            .collect()
    }
}

/// The first match of `flow`; a write settles before its answer, so it is there at once, but a
/// slow machine gets a few seconds' grace.
async fn first_match(app: &TestApp, flow: &str, who: &Who) -> String {
    let path = format!("/api/v1/flows/{flow}/matches");
    for _ in 0..50 {
        let (status, _, page) = app.get(&path, who).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        if let Some(id) = page["items"][0]["id"].as_str() {
            return id.to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the offer and the need did not match");
}
