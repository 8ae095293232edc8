//! Symbiont's GraphQL API: a schema (async-graphql) over the use cases of `symbiont_app`.
//! Queries for businesses, sites, flows, matches, categories, the platform's figures and the
//! network views; mutations for the registry's writes and decisions on matches; a subscription to
//! the live feed. Every resolver calls one use case with the request's [`Requester`], so
//! authorization and redaction are the app's, exactly as REST gets them.
//!
//! - [`error`]: the one mapping from `AppError` to GraphQL errors with `extensions.code`;
//! - [`loader`]: batched loading of the businesses a page refers to (one store call per page);
//! - `query`, `mutation`, `subscription`, `network`, `types`: the schema's roots and objects;
//! - [`GraphqlService`]: the schema with its depth and complexity limits, what a transport runs.
//!
//! It must not know HTTP (the HTTP crate mounts it at `/graphql` and resolves credentials from
//! headers or the WebSocket's `connection_init`), hold a use case, or render a match itself (match
//! views come from the app, redacted there).

pub mod error;
pub mod loader;
mod mutation;
mod network;
mod query;
mod subscription;
mod types;

use std::sync::Arc;

use async_graphql::{Context, Data, Executor, Request, Response, Schema};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use symbiont_app::App;
use symbiont_app::identity::Caller;

pub use mutation::MutationRoot;
pub use query::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, QueryRoot};
pub use subscription::SubscriptionRoot;

/// The schema's type.
pub type SymbiontSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Limits on what one GraphQL operation may ask for, checked before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphqlSettings {
    /// Deepest nesting of selections (`matches { nodes { offerBusiness { name } } }` is 4).
    pub max_depth: usize,
    /// Most fields an operation may select, each field costing 1 and a list field its `first`
    /// times its children (async-graphql's complexity).
    pub max_complexity: usize,
}

impl Default for GraphqlSettings {
    fn default() -> Self {
        Self {
            max_depth: 10,
            max_complexity: 5_000,
        }
    }
}

/// Who asks: the caller the transport resolved and, when it came with credentials, those
/// credentials (a subscription checks them again at every heartbeat, as the live feed's sockets do).
#[derive(Debug, Clone, Default)]
pub struct Requester {
    caller: Caller,
    credential: Option<String>,
}

static ANONYMOUS: Requester = Requester {
    caller: Caller::Anonymous,
    credential: None,
};

impl Requester {
    pub fn new(caller: Caller, credential: Option<String>) -> Self {
        Self { caller, credential }
    }

    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    pub fn credential(&self) -> Option<&str> {
        self.credential.as_deref()
    }

    /// The requester of an operation (anonymous when the transport gave none).
    pub(crate) fn of<'c>(ctx: &'c Context<'_>) -> &'c Requester {
        ctx.data_opt::<Requester>().unwrap_or(&ANONYMOUS)
    }
}

/// The app the resolvers call.
pub(crate) fn app<'c>(ctx: &'c Context<'_>) -> async_graphql::Result<&'c Arc<App>> {
    ctx.data::<Arc<App>>()
}

/// The schema over one app, with its limits: what a transport executes. Its errors all carry an
/// `extensions.code` ([`error::with_codes`]).
#[derive(Clone)]
pub struct GraphqlService {
    schema: SymbiontSchema,
    app: Arc<App>,
}

impl GraphqlService {
    pub fn new(app: Arc<App>, settings: &GraphqlSettings) -> Self {
        let schema = Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
            .data(Arc::clone(&app))
            .limit_depth(settings.max_depth)
            .limit_complexity(settings.max_complexity)
            .finish();
        Self { schema, app }
    }

    pub fn schema(&self) -> &SymbiontSchema {
        &self.schema
    }

    /// Runs one query or mutation for `requester`, with a fresh batch loader.
    pub async fn run(&self, request: Request, requester: Requester) -> Response {
        let request = request
            .data(requester)
            .data(loader::BusinessLoader::for_request(Arc::clone(&self.app)));
        error::with_codes(self.schema.execute(request).await)
    }

    /// What a subscription connection's operations see: its requester and a batch loader.
    pub fn connection_data(&self, requester: Requester) -> Data {
        let mut data = Data::default();
        data.insert(requester);
        data.insert(loader::BusinessLoader::for_request(Arc::clone(&self.app)));
        data
    }
}

impl Executor for GraphqlService {
    async fn execute(&self, request: Request) -> Response {
        error::with_codes(self.schema.execute(request).await)
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        self.schema
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
            .map(error::with_codes)
            .boxed()
    }
}

/// The schema in SDL, as committed at `api/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .finish()
        .sdl()
}
