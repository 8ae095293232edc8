//! The test server: a started [`App`] served by `symbiont_grpc::serve` on 127.0.0.1:0, a tonic
//! client connected to it, and fixtures made through the app's use cases.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use symbiont_app::identity::{self, Caller};
use symbiont_app::live_feed::FeedSettings;
use symbiont_app::rate_limit::RateLimitSettings;
use symbiont_app::response_cache::ResponseCache;
use symbiont_app::{App, AppParts, SecuritySettings};
use symbiont_core::{BusinessDraft, Contact, GeoPoint, SiteDraft, Taxonomy};
use symbiont_grpc::proto as pb;
use symbiont_grpc::proto::matching_client::MatchingClient;
use symbiont_grpc::{GrpcSettings, WatchSettings};
use symbiont_store::Store;
use symbiont_store::accounts::{ApiKey, KeyScope, User};
use symbiont_store::sqlite::SqliteStore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::{Channel, Endpoint};
use uuid::Uuid;

/// What can be changed about a test server.
#[derive(Clone)]
pub struct Options {
    pub feed: FeedSettings,
    pub watch: WatchSettings,
    pub rate_limit: RateLimitSettings,
    pub tls: Option<symbiont_grpc::TlsIdentity>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            feed: FeedSettings::default(),
            watch: WatchSettings::default(),
            // Rate limits are their own test's subject; elsewhere they stay out of the way.
            rate_limit: RateLimitSettings {
                enabled: false,
                ..RateLimitSettings::default()
            },
            tls: None,
        }
    }
}

pub struct TestServer {
    pub app: Arc<App>,
    pub address: SocketAddr,
    pub client: MatchingClient<Channel>,
    cancel: CancellationToken,
    _tasks: TaskTracker,
    _dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Who makes a call.
#[derive(Debug, Clone)]
pub enum Who {
    Anonymous,
    /// `authorization: Bearer <token or key>`.
    Bearer(String),
    /// `authorization: <value>` as given.
    Authorization(String),
}

/// A request with the metadata `who` sends.
pub fn call<T>(message: T, who: &Who) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = match who {
        Who::Anonymous => None,
        Who::Bearer(token) => Some(format!("Bearer {token}")),
        Who::Authorization(value) => Some(value.clone()),
    };
    if let Some(value) = value {
        request
            .metadata_mut()
            .insert("authorization", value.parse().expect("ASCII metadata"));
    }
    request
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> TestServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(dir.path())
                .await
                .expect("SQLite opens in a fresh directory"),
        );
        let bus = symbiont_bus::connect("memory://", "grpc-tests")
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
            security: SecuritySettings {
                rate_limit: options.rate_limit,
                ..SecuritySettings::default()
            },
            feed: options.feed,
        })
        .await
        .expect("the app starts");
        let tasks = TaskTracker::new();
        let cancel = CancellationToken::new();
        symbiont_app::event_pipeline::start(&app, subscription, &tasks, &cancel);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("bound");
        let tls = options.tls.is_some();
        let stopping = cancel.clone();
        tasks.spawn(symbiont_grpc::serve(
            app.clone(),
            listener,
            GrpcSettings {
                tls: options.tls,
                watch: options.watch,
            },
            async move { stopping.cancelled().await },
        ));
        let client = if tls {
            // TLS tests connect their own client.
            MatchingClient::new(Endpoint::from_static("http://127.0.0.1:1").connect_lazy())
        } else {
            MatchingClient::new(channel(address, None).await)
        };
        TestServer {
            app,
            address,
            client,
            cancel,
            _tasks: tasks,
            _dir: dir,
        }
    }

    /// Another client on the same server (a stream of its own, its own connection).
    pub async fn another_client(&self, stream_window: Option<u32>) -> MatchingClient<Channel> {
        MatchingClient::new(channel(self.address, stream_window).await)
    }

    /// A user stored directly and an access token for them.
    pub async fn user(&self, email: &str) -> (Uuid, Who) {
        let user = User {
            id: Uuid::now_v7(),
            email: email.to_string(),
            password_hash: identity::dummy_password_hash().to_string(),
            is_admin: false,
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

    /// An API key of `user` stored directly.
    pub async fn api_key(&self, user: Uuid, scope: KeyScope) -> Who {
        let (key, hash) = identity::new_api_key();
        let record = ApiKey {
            id: Uuid::now_v7(),
            user_id: user,
            name: "test key".into(),
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
        Who::Bearer(key)
    }

    pub async fn caller(&self, who: &Who) -> Caller {
        let Who::Bearer(token) = who else {
            return Caller::Anonymous;
        };
        identity::caller_of(&self.app, Some(token), false)
            .await
            .expect("a valid credential")
    }

    /// A business owned by `who` with one site at (lat, lon); returns (business id, site id).
    pub async fn business_with_site(
        &self,
        who: &Who,
        name: &str,
        lat: f64,
        lon: f64,
    ) -> (Uuid, Uuid) {
        let caller = self.caller(who).await;
        let business = self
            .app
            .create_business(
                &caller,
                BusinessDraft {
                    name: name.into(),
                    industry: "C11.05".into(),
                    description: String::new(),
                    contact: Contact::default(),
                    website: None,
                },
            )
            .await
            .expect("the business is created");
        // Memberships changed: resolve the caller again.
        let caller = self.caller(who).await;
        let site = self
            .app
            .create_site(
                &caller,
                business.id,
                SiteDraft {
                    name: "Works".into(),
                    address: String::new(),
                    location: GeoPoint { lat, lon },
                },
            )
            .await
            .expect("the site is created");
        (business.id, site.id)
    }
}

async fn channel(address: SocketAddr, stream_window: Option<u32>) -> Channel {
    Endpoint::from_shared(format!("http://{address}"))
        .expect("a valid URI")
        .initial_stream_window_size(stream_window)
        .connect()
        .await
        .expect("the gRPC server accepts connections")
}

/// A heat flow draft at `site`.
pub fn heat_draft(
    site: Uuid,
    direction: pb::Direction,
    temperature_c: f64,
    kw: f64,
) -> pb::FlowDraft {
    let category = match direction {
        pb::Direction::Offer => "heat.medium_temp",
        _ => "heat.low_temp",
    };
    pb::FlowDraft {
        site_id: site.to_string(),
        direction: direction as i32,
        category: category.into(),
        quality: Some(pb::Quality {
            temperature_c: Some(temperature_c),
            ..Default::default()
        }),
        quantity: Some(pb::Quantity {
            value: kw,
            unit: "kW".into(),
        }),
        ..Default::default()
    }
}

/// The field violations of an `INVALID_ARGUMENT` status.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}
