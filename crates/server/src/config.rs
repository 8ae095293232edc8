//! Configuration: built-in defaults, then a TOML file (`--config` or `SYMBIONT_CONFIG`), then
//! `SYMBIONT_*` environment variables, then command-line flags. `configs/symbiont.toml` documents
//! every key; README's configuration table lists the environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub log: LogConfig,
    pub taxonomy: TaxonomyConfig,
    /// Score weights and scales of the matching engine (see docs/matching.md).
    pub matching: symbiont_matching::MatchingConfig,
    pub bus: BusConfig,
    pub graph: GraphConfig,
    pub cache: CacheConfig,
    pub telemetry: TelemetryConfig,
    pub auth: crate::security_config::AuthConfig,
    pub rate_limit: crate::security_config::RateLimitConfig,
    pub gateway: crate::security_config::GatewayConfig,
    pub retention: RetentionConfig,
    pub feed: FeedConfig,
    pub graphql: GraphqlConfig,
    pub grpc: GrpcConfig,
}

/// Limits of `/graphql` (ADR 0024): an operation deeper or more complex than these is refused
/// before it runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphqlConfig {
    /// Deepest nesting of selections an operation may have.
    pub max_depth: usize,
    /// Largest complexity (fields selected, list fields weighted by their page size).
    pub max_complexity: usize,
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        let defaults = symbiont_http::GraphqlSettings::default();
        Self {
            max_depth: defaults.max_depth,
            max_complexity: defaults.max_complexity,
        }
    }
}

/// The gRPC API (`symbiont.v1.Matching`, health, reflection; ADR 0025) on its own listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcConfig {
    /// Serve gRPC at all.
    pub enabled: bool,
    /// Its own address and port (port 0: any free port, printed at start).
    pub bind: SocketAddr,
    /// TLS: a PEM certificate chain and its PEM private key; both or neither (plain HTTP/2).
    pub tls_cert_path: Option<PathBuf>,
    pub tls_key_path: Option<PathBuf>,
    /// Messages a `WatchMatches` stream holds before it waits for its reader.
    pub watch_queue: usize,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: SocketAddr::from(([127, 0, 0, 1], 50051)),
            tls_cert_path: None,
            tls_key_path: None,
            watch_queue: symbiont_grpc::WatchSettings::default().queue,
        }
    }
}

impl GraphqlConfig {
    pub fn settings(&self) -> symbiont_http::GraphqlSettings {
        symbiont_http::GraphqlSettings {
            max_depth: self.max_depth.max(1),
            max_complexity: self.max_complexity.max(1),
        }
    }
}

impl GrpcConfig {
    /// The server's settings, with the TLS files read; `None` when gRPC is off.
    pub fn settings(&self) -> anyhow::Result<Option<symbiont_grpc::GrpcSettings>> {
        if !self.enabled {
            return Ok(None);
        }
        let read = |path: &Path, what: &str| {
            std::fs::read(path)
                .with_context(|| format!("cannot read the gRPC TLS {what} {}", path.display()))
        };
        let tls = match (&self.tls_cert_path, &self.tls_key_path) {
            (Some(cert), Some(key)) => Some(symbiont_grpc::TlsIdentity {
                certificate_pem: read(cert, "certificate")?,
                private_key_pem: read(key, "key")?,
            }),
            (None, None) => None,
            _ => bail!("grpc.tls_cert_path and grpc.tls_key_path are set together or not at all"),
        };
        Ok(Some(symbiont_grpc::GrpcSettings {
            tls,
            watch: symbiont_grpc::WatchSettings {
                queue: self.watch_queue.max(1),
            },
        }))
    }
}

/// The live feed (`GET /api/v1/ws`, `GET /api/v1/events`): its history and limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    /// Events kept so a client that reconnects with its last event id gets what it missed; a
    /// subscriber further behind than this is dropped as too slow.
    pub history: usize,
    /// Live feed connections (WebSocket and SSE) one instance serves at once.
    pub max_connections: usize,
    /// Subscriptions one connection may hold.
    pub max_subscriptions: usize,
    /// Seconds between heartbeats on an idle connection.
    pub heartbeat_secs: u64,
    /// Seconds one write to a client may take before the client is dropped as too slow.
    pub send_timeout_secs: u64,
}

impl Default for FeedConfig {
    fn default() -> Self {
        let app = symbiont_app::live_feed::FeedSettings::default();
        Self {
            history: app.history,
            max_connections: app.max_connections,
            max_subscriptions: app.max_topics,
            heartbeat_secs: app.heartbeat.as_secs(),
            send_timeout_secs: app.send_timeout.as_secs(),
        }
    }
}

impl FeedConfig {
    pub fn settings(&self) -> symbiont_app::live_feed::FeedSettings {
        symbiont_app::live_feed::FeedSettings {
            history: self.history,
            max_connections: self.max_connections,
            max_topics: self.max_subscriptions,
            heartbeat: std::time::Duration::from_secs(self.heartbeat_secs.max(1)),
            send_timeout: std::time::Duration::from_secs(self.send_timeout_secs.max(1)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Audit entries older than this many days are deleted (0 keeps them forever).
    pub audit_log_days: u32,
    /// How often expired audit entries and refresh tokens are deleted.
    pub interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        let app = symbiont_app::retention::RetentionSettings::default();
        Self {
            audit_log_days: app.audit_log_days,
            interval_secs: app.interval.as_secs(),
        }
    }
}

impl RetentionConfig {
    pub fn settings(&self) -> symbiont_app::retention::RetentionSettings {
        symbiont_app::retention::RetentionSettings {
            audit_log_days: self.audit_log_days,
            interval: std::time::Duration::from_secs(self.interval_secs.max(1)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// How many recent spans and log events the flight recorder keeps (0 turns it off).
    /// OpenTelemetry export is configured by the standard `OTEL_*` variables instead.
    pub flight_recorder_capacity: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            flight_recorder_capacity: symbiont_app::flight_recorder::DEFAULT_CAPACITY,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `memory://` (in-process, the default) or `redis://host:6379` (shared by the instances).
    pub url: String,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            url: "memory://".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphConfig {
    /// Where the network is projected: `memory://` (in-process petgraph, the default),
    /// `bolt://user:password@host:7687` or `neo4j://…` (Neo4j over Bolt) or
    /// `falkordb://host:6379` (FalkorDB over its Redis protocol).
    pub url: String,
    /// The graph's name on the server (FalkorDB key, Neo4j database; empty: Neo4j's default), so
    /// deployments sharing a server stay apart.
    pub name: String,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            url: "memory://".into(),
            name: "symbiont".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// `memory://` (in-process, the default), `redis://host:6379` (Redis Streams),
    /// `nats://host:4222` (NATS JetStream) or `kafka://host:9092[,host:9092…][?partitions=N&
    /// replication_factor=N]` (Kafka; each instance is a consumer group of its own, named
    /// `symbiont-<uuid>`).
    pub url: String,
    /// Names the stream on the bus server, so deployments sharing a server stay apart.
    pub topic: String,
    /// How long a write waits for its change to reach this instance's engine before it answers.
    pub read_your_writes_ms: u64,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            url: "memory://".into(),
            topic: "symbiont".into(),
            read_your_writes_ms: 2000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub request_timeout_secs: u64,
    pub body_limit_bytes: usize,
    /// How long shutdown waits for in-flight requests before it gives up on them.
    pub shutdown_grace_secs: u64,
    /// Async worker threads; 0 = the CPUs available to the process (cgroup quota honoured).
    pub worker_threads: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            request_timeout_secs: 30,
            body_limit_bytes: 1024 * 1024,
            shutdown_grace_secs: 30,
            worker_threads: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Directory of the embedded SQLite database (`symbiont.db`); used when `url` is empty.
    pub data_dir: PathBuf,
    /// `postgres://user@host:5432/db` to use PostgreSQL + PostGIS instead of the embedded SQLite.
    pub url: String,
    /// Connection pool size for PostgreSQL.
    pub max_connections: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            url: String::new(),
            max_connections: 16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty on a terminal, JSON otherwise.
    #[default]
    Auto,
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `symbiont=debug,sqlx=warn`; `RUST_LOG` wins when set.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaxonomyConfig {
    /// A taxonomy file to use instead of the built-in one.
    pub path: Option<PathBuf>,
}

/// Overrides from flags; `None` keeps the value from the file or environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub bind: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads the configuration in order: defaults, file, environment, flags.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let env_file = std::env::var_os("SYMBIONT_CONFIG").map(PathBuf::from);
        let mut config = match file.map(Path::to_path_buf).or(env_file) {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str(&text).map_err(|e| {
                    anyhow::anyhow!(
                        "config file {} is invalid: {}",
                        path.display(),
                        e.message().trim()
                    )
                })?
            }
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        if let Some(bind) = overrides.bind {
            config.server.bind = bind;
        }
        if let Some(dir) = &overrides.data_dir {
            config.store.data_dir = dir.clone();
        }
        Ok(config)
    }

    /// Applies `SYMBIONT_*` variables (read through `var`, so tests need not touch the process env).
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn parse<T: std::str::FromStr>(name: &str, value: &str) -> anyhow::Result<T> {
            value
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("environment variable {name}='{value}' is invalid"))
        }
        if let Some(v) = var("SYMBIONT_BIND") {
            self.server.bind = parse("SYMBIONT_BIND", &v)?;
        }
        if let Some(v) = var("SYMBIONT_REQUEST_TIMEOUT_SECS") {
            self.server.request_timeout_secs = parse("SYMBIONT_REQUEST_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = var("SYMBIONT_BODY_LIMIT_BYTES") {
            self.server.body_limit_bytes = parse("SYMBIONT_BODY_LIMIT_BYTES", &v)?;
        }
        if let Some(v) = var("SYMBIONT_SHUTDOWN_GRACE_SECS") {
            self.server.shutdown_grace_secs = parse("SYMBIONT_SHUTDOWN_GRACE_SECS", &v)?;
        }
        if let Some(v) = var("SYMBIONT_WORKER_THREADS") {
            self.server.worker_threads = parse("SYMBIONT_WORKER_THREADS", &v)?;
        }
        if let Some(v) = var("SYMBIONT_DATA_DIR") {
            self.store.data_dir = PathBuf::from(v);
        }
        if let Some(v) = var("SYMBIONT_DATABASE_URL") {
            self.store.url = v;
        }
        if let Some(v) = var("SYMBIONT_DB_MAX_CONNECTIONS") {
            self.store.max_connections = parse("SYMBIONT_DB_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = var("SYMBIONT_LOG_LEVEL") {
            self.log.level = v;
        }
        if let Some(v) = var("SYMBIONT_LOG_FORMAT") {
            self.log.format = match v.as_str() {
                "auto" => LogFormat::Auto,
                "pretty" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                _ => bail!(
                    "environment variable SYMBIONT_LOG_FORMAT='{v}' must be auto, pretty or json"
                ),
            };
        }
        if let Some(v) = var("SYMBIONT_BUS_URL") {
            self.bus.url = v;
        }
        if let Some(v) = var("SYMBIONT_GRAPH_URL") {
            self.graph.url = v;
        }
        if let Some(v) = var("SYMBIONT_GRAPH_NAME") {
            self.graph.name = v;
        }
        if let Some(v) = var("SYMBIONT_CACHE_URL") {
            self.cache.url = v;
        }
        if let Some(v) = var("SYMBIONT_BUS_TOPIC") {
            self.bus.topic = v;
        }
        if let Some(v) = var("SYMBIONT_READ_YOUR_WRITES_MS") {
            self.bus.read_your_writes_ms = parse("SYMBIONT_READ_YOUR_WRITES_MS", &v)?;
        }
        if let Some(v) = var("SYMBIONT_TAXONOMY") {
            self.taxonomy.path = Some(PathBuf::from(v));
        }
        if let Some(v) = var("SYMBIONT_FLIGHT_RECORDER_CAPACITY") {
            self.telemetry.flight_recorder_capacity =
                parse("SYMBIONT_FLIGHT_RECORDER_CAPACITY", &v)?;
        }
        if let Some(v) = var("SYMBIONT_FEED_HISTORY") {
            self.feed.history = parse("SYMBIONT_FEED_HISTORY", &v)?;
        }
        if let Some(v) = var("SYMBIONT_FEED_MAX_CONNECTIONS") {
            self.feed.max_connections = parse("SYMBIONT_FEED_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = var("SYMBIONT_FEED_HEARTBEAT_SECS") {
            self.feed.heartbeat_secs = parse("SYMBIONT_FEED_HEARTBEAT_SECS", &v)?;
        }
        if let Some(v) = var("SYMBIONT_GRAPHQL_MAX_DEPTH") {
            self.graphql.max_depth = parse("SYMBIONT_GRAPHQL_MAX_DEPTH", &v)?;
        }
        if let Some(v) = var("SYMBIONT_GRAPHQL_MAX_COMPLEXITY") {
            self.graphql.max_complexity = parse("SYMBIONT_GRAPHQL_MAX_COMPLEXITY", &v)?;
        }
        if let Some(v) = var("SYMBIONT_GRPC_ENABLED") {
            self.grpc.enabled = parse("SYMBIONT_GRPC_ENABLED", &v)?;
        }
        if let Some(v) = var("SYMBIONT_GRPC_BIND") {
            self.grpc.bind = parse("SYMBIONT_GRPC_BIND", &v)?;
        }
        if let Some(v) = var("SYMBIONT_GRPC_TLS_CERT") {
            self.grpc.tls_cert_path = Some(PathBuf::from(v));
        }
        if let Some(v) = var("SYMBIONT_GRPC_TLS_KEY") {
            self.grpc.tls_key_path = Some(PathBuf::from(v));
        }
        if let Some(v) = var("SYMBIONT_AUDIT_LOG_DAYS") {
            self.retention.audit_log_days = parse("SYMBIONT_AUDIT_LOG_DAYS", &v)?;
        }
        crate::security_config::apply_env(
            &mut self.auth,
            &mut self.rate_limit,
            &mut self.gateway,
            &var,
        )?;
        self.validate()
    }

    /// The security settings of the use cases and of the HTTP gateway.
    pub fn security(&self) -> anyhow::Result<crate::security_config::Security> {
        crate::security_config::settings(&self.auth, &self.rate_limit, &self.gateway)
    }

    /// What `serve` needs beyond [`Config::validate`]: with PostgreSQL, an explicit signing secret.
    /// Generated secrets are kept in the database in clear, which is acceptable for the embedded
    /// SQLite file (0600 in a 0700 directory, the same trust as the data) but not for a shared
    /// database that backups, replicas and every operator with read access see: whoever reads it
    /// could mint access tokens for any user.
    pub fn check_for_serving(&self) -> anyhow::Result<()> {
        if !self.store.url.is_empty() && self.auth.signing_secret.is_empty() {
            bail!(
                "auth.signing_secret (or SYMBIONT_SIGNING_SECRET, at least 32 characters) is required with a PostgreSQL store"
            );
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.security()?;
        if !(self.cache.url.starts_with("memory://") || self.cache.url.starts_with("redis://")) {
            bail!("cache.url must be memory:// or redis://host:port");
        }
        if !self.store.url.is_empty()
            && !self.store.url.starts_with("postgres://")
            && !self.store.url.starts_with("postgresql://")
        {
            bail!("store.url must be a postgres:// URL (or empty for the embedded SQLite store)");
        }
        if self.bus.url.starts_with("kafka://") {
            symbiont_bus::kafka::KafkaSettings::from_url(&self.bus.url, &self.bus.topic)
                .context("bus.url is not a usable Kafka URL")?;
        }
        self.matching.validate()?;
        if self.server.request_timeout_secs == 0 {
            bail!("server.request_timeout_secs must be at least 1");
        }
        if self.server.body_limit_bytes < 1024 {
            bail!("server.body_limit_bytes must be at least 1024");
        }
        if self.grpc.tls_cert_path.is_some() != self.grpc.tls_key_path.is_some() {
            bail!("grpc.tls_cert_path and grpc.tls_key_path are set together or not at all");
        }
        if self.telemetry.flight_recorder_capacity > 1_000_000 {
            bail!("telemetry.flight_recorder_capacity must be at most 1000000 (0 turns it off)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_kafka_url_is_refused_naming_the_field() {
        let config: Config =
            toml::from_str("[bus]\nurl = \"kafka://broker?partitions=0\"\n").expect("valid");
        let error = format!("{:#}", config.validate().expect_err("refused"));
        assert!(error.contains("bus.url"), "{error}");
        assert!(error.contains("host:port"), "{error}");
        let config: Config =
            toml::from_str("[bus]\nurl = \"kafka://a:9092,b:9092?partitions=3\"\n").expect("valid");
        config
            .validate()
            .expect("a broker list with options is valid");
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut config: Config =
            toml::from_str("[server]\nbind = \"127.0.0.1:9000\"\n").expect("valid");
        config
            .apply_env(|name| (name == "SYMBIONT_BIND").then(|| "127.0.0.1:9100".to_string()))
            .expect("valid");
        assert_eq!(config.server.bind.port(), 9100);
    }

    #[test]
    fn the_documented_example_is_the_default() {
        let example: Config =
            toml::from_str(include_str!("../../../configs/symbiont.toml")).expect("valid");
        let default = Config::default();
        assert_eq!(example.server.bind, default.server.bind);
        assert_eq!(
            example.server.body_limit_bytes,
            default.server.body_limit_bytes
        );
        assert_eq!(example.store.data_dir, default.store.data_dir);
        assert_eq!(example.matching, default.matching);
        assert_eq!(
            format!("{:?}", example.security().expect("valid")),
            format!("{:?}", default.security().expect("valid"))
        );
        assert_eq!(
            example.telemetry.flight_recorder_capacity,
            default.telemetry.flight_recorder_capacity
        );
    }

    #[test]
    fn the_flight_recorder_capacity_comes_from_the_environment() {
        let mut config = Config::default();
        config
            .apply_env(|n| (n == "SYMBIONT_FLIGHT_RECORDER_CAPACITY").then(|| "0".to_string()))
            .expect("valid");
        assert_eq!(config.telemetry.flight_recorder_capacity, 0);
        assert!(
            config
                .apply_env(|n| (n == "SYMBIONT_FLIGHT_RECORDER_CAPACITY").then(|| "-1".into()))
                .is_err()
        );
    }

    #[test]
    fn the_production_example_is_valid() {
        let mut config: Config =
            toml::from_str(include_str!("../../../configs/production.toml")).expect("valid");
        config.apply_env(|_| None).expect("valid values");
        assert!(config.store.url.starts_with("postgres://"));
        assert!(config.bus.url.starts_with("nats://"));
        // Behind its load balancer, each client is counted by its own address, not the balancer's.
        assert!(config.rate_limit.trust_forwarded_for);
    }

    #[test]
    fn serving_from_postgres_needs_an_explicit_signing_secret() {
        let mut config = Config::default();
        assert!(config.check_for_serving().is_ok(), "SQLite keeps its own");
        config.store.url = "postgres://db/symbiont".into();
        let error = config.check_for_serving().expect_err("refused").to_string();
        assert!(error.contains("SYMBIONT_SIGNING_SECRET"), "{error}");
        config
            .apply_env(|n| (n == "SYMBIONT_SIGNING_SECRET").then(|| "x".repeat(32)))
            .expect("valid");
        assert!(config.check_for_serving().is_ok());
    }

    #[test]
    fn grpc_has_its_own_port_plain_by_default_and_tls_needs_both_files() {
        let default = Config::default();
        assert!(default.grpc.enabled);
        assert_ne!(default.grpc.bind.port(), default.server.bind.port());
        let settings = default.grpc.settings().expect("valid").expect("on");
        assert!(settings.tls.is_none());
        let mut config = Config::default();
        assert!(
            config
                .apply_env(|n| (n == "SYMBIONT_GRPC_TLS_CERT").then(|| "cert.pem".to_string()))
                .is_err(),
            "a certificate without its key is refused"
        );
        let mut off = Config::default();
        off.apply_env(|n| (n == "SYMBIONT_GRPC_ENABLED").then(|| "false".to_string()))
            .expect("valid");
        assert!(off.grpc.settings().expect("valid").is_none());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<Config>("[server]\nbindd = \"x\"\n").is_err());
        let mut config = Config::default();
        assert!(
            config
                .apply_env(|n| (n == "SYMBIONT_LOG_FORMAT").then(|| "xml".to_string()))
                .is_err()
        );
    }
}
