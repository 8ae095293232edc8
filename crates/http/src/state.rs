//! The state every handler and layer gets: the app (the use cases) and what only HTTP needs (body
//! and time limits, the gateway's settings and load shedder, the request metrics). It dereferences
//! to [`App`], so a handler calls a use case as `state.create_flow(…)`.

use std::ops::Deref;
use std::sync::Arc;

use symbiont_app::App;

/// Limits and knobs of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub body_limit_bytes: usize,
    pub request_timeout: std::time::Duration,
    /// Depth and complexity limits of `/graphql`.
    pub graphql: symbiont_graphql::GraphqlSettings,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_limit_bytes: 1024 * 1024,
            request_timeout: std::time::Duration::from_secs(30),
            graphql: symbiont_graphql::GraphqlSettings::default(),
        }
    }
}

pub struct HttpState {
    pub app: Arc<App>,
    pub http: HttpSettings,
    pub gateway: crate::gateway::GatewaySettings,
    pub shedder: crate::gateway::LoadShedder,
    pub metrics: crate::metrics::Metrics,
    /// The GraphQL schema over the same app (`/graphql`).
    pub graphql: symbiont_graphql::GraphqlService,
}

impl HttpState {
    pub fn new(
        app: Arc<App>,
        http: HttpSettings,
        gateway: crate::gateway::GatewaySettings,
    ) -> Self {
        Self {
            graphql: symbiont_graphql::GraphqlService::new(Arc::clone(&app), &http.graphql),
            app,
            http,
            shedder: crate::gateway::LoadShedder::new(gateway.max_concurrent_requests),
            gateway,
            metrics: crate::metrics::Metrics::default(),
        }
    }
}

impl Deref for HttpState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}

pub type SharedState = Arc<HttpState>;
