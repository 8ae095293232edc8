//! The schema outside any transport: the committed SDL (`api/schema.graphql`) is the generated
//! one, and a page of matches with both businesses of every match costs the same store calls for
//! 5 matches as for 50 (the businesses are loaded in one batch), counted from the spans of the
//! store's tracing decorator over the real SQLite store.
//!
//! Regenerate the committed SDL with `UPDATE_GRAPHQL_SCHEMA=1 cargo test -p symbiont-graphql --test
//! graphql`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use symbiont_app::identity::{Account, Caller, Credential};
use symbiont_app::live_feed::FeedSettings;
use symbiont_app::response_cache::ResponseCache;
use symbiont_app::{App, AppParts, SecuritySettings};
use symbiont_core::{BusinessDraft, FlowDraft, SiteDraft, Taxonomy};
use symbiont_graphql::{GraphqlService, GraphqlSettings, Requester};
use symbiont_store::Store;
use symbiont_store::accounts::User;
use symbiont_store::sqlite::SqliteStore;
use symbiont_store::traced::TracedStore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing_subscriber::layer::{Context, SubscriberExt};
use uuid::Uuid;

fn workspace_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = symbiont_graphql::sdl();
    let path = workspace_file("api/schema.graphql");
    if std::env::var_os("UPDATE_GRAPHQL_SCHEMA").is_some_and(|v| v != "0") {
        std::fs::write(&path, &generated).expect("write api/schema.graphql");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "api/schema.graphql is stale (first difference at line {}: committed {:?}, generated \
             {:?}).\nRegenerate it with:\n\n    UPDATE_GRAPHQL_SCHEMA=1 cargo test -p \
             symbiont-graphql --test graphql\n\nand commit it with the change that caused it.",
            line + 1,
            committed.lines().nth(line).unwrap_or("<end>"),
            generated.lines().nth(line).unwrap_or("<end>"),
        );
    }
}

/// Records the name of every `store.*` span opened on this thread while installed.
#[derive(Clone, Default)]
struct StoreCalls(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StoreCalls {
    fn on_new_span(
        &self,
        attributes: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _context: Context<'_, S>,
    ) {
        let name = attributes.metadata().name();
        // The outbox relay's polling is the event pipeline's, not the query's.
        if name.starts_with("store.") && !name.starts_with("store.outbox") {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(name.to_string());
        }
    }
}

impl StoreCalls {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

struct Started {
    app: Arc<App>,
    cancel: CancellationToken,
    _tasks: TaskTracker,
    _dir: tempfile::TempDir,
}

impl Drop for Started {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn start() -> Started {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sqlite: Arc<dyn Store> = Arc::new(
        SqliteStore::open(dir.path())
            .await
            .expect("SQLite opens in a fresh directory"),
    );
    let store: Arc<dyn Store> = Arc::new(TracedStore::new(sqlite, "sqlite"));
    let bus = symbiont_bus::connect("memory://", "graphql-tests")
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
        security: SecuritySettings::default(),
        feed: FeedSettings::default(),
    })
    .await
    .expect("the app starts");
    let tasks = TaskTracker::new();
    let cancel = CancellationToken::new();
    symbiont_app::event_pipeline::start(&app, subscription, &tasks, &cancel);
    Started {
        app,
        cancel,
        _tasks: tasks,
        _dir: dir,
    }
}

/// A platform admin stored in the app's store, as a caller.
async fn admin(app: &App) -> Caller {
    let user = User {
        id: Uuid::now_v7(),
        email: "admin@symbiont.test".into(),
        password_hash: "unused".into(),
        is_admin: true,
        created_at: chrono::Utc::now(),
        token_epoch: 0,
        disabled_at: None,
    };
    app.store
        .accounts()
        .insert_user(&user)
        .await
        .expect("the user is stored");
    Caller::Account(Box::new(Account {
        user_id: user.id,
        email: user.email,
        is_admin: true,
        businesses: HashMap::new(),
        credential: Credential::AccessToken,
    }))
}

/// A business with a site and one heat flow; `offset` spreads the sites a few hundred metres.
async fn business_with_flow(app: &App, caller: &Caller, name: &str, direction: &str, offset: f64) {
    let business: BusinessDraft = serde_json::from_value(
        json!({ "name": name, "industry": "C11.05", "contact": { "email": "x@example.com" } }),
    )
    .expect("a business draft");
    let business = app
        .create_business(caller, business)
        .await
        .expect("the business is created");
    let site: SiteDraft = serde_json::from_value(
        json!({ "name": "Works", "location": { "lat": 51.0 + offset, "lon": 7.0 } }),
    )
    .expect("a site draft");
    let site = app
        .create_site(caller, business.id, site)
        .await
        .expect("the site is created");
    let temperature = if direction == "offer" { 85.0 } else { 60.0 };
    let flow: FlowDraft = serde_json::from_value(json!({
        "site_id": site.id,
        "direction": direction,
        "category": "heat.low_temp",
        "quality": { "temperature_c": temperature },
        "quantity": { "value": 300.0, "unit": "kW" },
        "profile": "Mon-Fri 06:00-22:00",
    }))
    .expect("a flow draft");
    app.create_flow(caller, flow)
        .await
        .expect("the flow is created");
}

#[tokio::test]
async fn a_page_of_matches_with_their_businesses_costs_the_same_store_calls_for_5_and_50() {
    let started = start().await;
    let app = &started.app;
    let caller = admin(app).await;
    business_with_flow(app, &caller, "Greenhouse", "need", 0.0).await;
    for i in 0..55 {
        business_with_flow(
            app,
            &caller,
            &format!("Bakery {i}"),
            "offer",
            0.0002 * f64::from(i),
        )
        .await;
    }
    let service = GraphqlService::new(Arc::clone(app), &GraphqlSettings::default());
    let calls = StoreCalls::default();
    let subscriber = tracing_subscriber::registry().with(calls.clone());
    let _installed = tracing::subscriber::set_default(subscriber);

    let mut costs = Vec::new();
    for first in [5, 50] {
        calls.take();
        let query = format!(
            "{{ matches(first: {first}) {{ nodes {{ id offerBusiness {{ name }} needBusiness {{ name }} }} }} }}"
        );
        let response = service
            .run(
                async_graphql::Request::new(query),
                Requester::new(Caller::Anonymous, None),
            )
            .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let data = response.data.into_json().expect("JSON data");
        let nodes = data["matches"]["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), first);
        assert!(
            nodes
                .iter()
                .all(|n| n["needBusiness"]["name"] == "Greenhouse"
                    && n["offerBusiness"]["name"].is_string()),
            "{data}"
        );
        costs.push(calls.take());
    }
    assert_eq!(costs[0], vec!["store.get_businesses".to_string()]);
    assert_eq!(costs[0], costs[1], "5 and 50 matches cost the same calls");
}
