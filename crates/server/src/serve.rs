//! Start-up wiring for `symbiont serve`: open the store, load the taxonomy, optionally load the demo,
//! serve HTTP until SIGTERM/SIGINT, then drain in-flight requests and close the store.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use symbiont_app::rate_limit::{RateLimitState, RedisRateLimits};
use symbiont_app::response_cache::ResponseCache;
use symbiont_app::{App, AppParts};
use symbiont_core::{EwcCatalogue, Taxonomy};
use symbiont_http::HttpSettings;
use symbiont_store::Store;
use symbiont_store::postgres::PostgresStore;
use symbiont_store::sqlite::SqliteStore;
use tokio::net::TcpListener;

use crate::config::Config;

pub fn load_taxonomy(config: &Config) -> anyhow::Result<Taxonomy> {
    match &config.taxonomy.path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read taxonomy file {}", path.display()))?;
            // The built-in waste catalogue comes with any taxonomy: a taxonomy file must keep the
            // categories it maps codes to.
            Taxonomy::from_toml(&text)
                .and_then(|t| t.with_ewc_catalogue(EwcCatalogue::builtin()?))
                .with_context(|| format!("taxonomy file {} is invalid", path.display()))
        }
        None => Ok(Taxonomy::builtin()?),
    }
}

/// The store the configuration names: PostgreSQL for a `postgres://` URL, else SQLite in `data_dir`.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if config.store.url.is_empty() {
        Ok(Arc::new(SqliteStore::open(&config.store.data_dir).await?))
    } else {
        Ok(Arc::new(
            PostgresStore::open(&config.store.url, config.store.max_connections).await?,
        ))
    }
}

/// The reference architecture's choice of bus for this store's number of businesses
/// (`symbiont_app::bus_choice`): a warning when the configured bus is a smaller tier.
async fn warn_if_bus_below_recommendation(store: &dyn Store, bus_url: &str) {
    match store.counts().await {
        Ok(counts) => {
            let advice = symbiont_app::bus_choice::BusAdvice::new(counts.businesses, bus_url);
            if advice.below() {
                tracing::warn!(
                    businesses = counts.businesses,
                    recommended = %advice.recommended,
                    "event bus below the recommendation: {}",
                    advice.summary()
                );
            }
        }
        Err(error) => {
            tracing::warn!(error = %symbiont_app::error::chain(&error), "cannot count businesses to check the event bus choice")
        }
    }
}

/// Returns the free pages of glibc's arenas to the system (ADR 0009), logging what `after` freed
/// and how the allocator was set up at start (ADR 0029).
async fn release_free_memory(after: &str) {
    let resident_before = crate::memory_release::resident_bytes();
    let trim_started = std::time::Instant::now();
    let released = tokio::task::spawn_blocking(crate::memory_release::release_free_memory)
        .await
        .unwrap_or(false);
    tracing::info!(
        resident_mib_before = resident_before.map(|b| b / (1 << 20)),
        resident_mib = crate::memory_release::resident_bytes().map(|b| b / (1 << 20)),
        released,
        elapsed_ms = trim_started.elapsed().as_millis() as u64,
        allocator = ?crate::memory_release::allocator_setup(),
        "memory freed by {after} returned to the system"
    );
}

/// Resolves when the process is asked to stop (SIGINT or SIGTERM).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

pub async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    config.check_for_serving()?;
    let taxonomy = Arc::new(load_taxonomy(&config)?);
    let mut store = open_store(&config).await?;
    // Store calls get spans only when something consumes them (exported traces or the flight
    // recorder); otherwise the adapter is called directly.
    if symbiont_app::trace_context::enabled()
        || symbiont_app::flight_recorder::FlightRecorder::installed().capacity() > 0
    {
        let system = if config.store.url.is_empty() {
            "sqlite"
        } else {
            "postgresql"
        };
        store = Arc::new(symbiont_store::traced::TracedStore::new(store, system));
    }
    if demo {
        // The demo login is made only together with the demo data, and owns only demo
        // businesses: on a store that already holds data, a documented password must not
        // become the owner of real businesses.
        match crate::dataset::demo::load_if_empty(store.as_ref(), &taxonomy).await? {
            Some(loaded) => {
                tracing::info!(
                    businesses = loaded.counts.businesses,
                    sites = loaded.counts.sites,
                    flows = loaded.counts.offers + loaded.counts.needs,
                    "demo data loaded"
                );
                crate::user_admin::create_demo_login(store.as_ref(), &loaded.business_ids).await?;
            }
            None => tracing::info!("store is not empty; demo data and demo login not created"),
        }
    }
    let security = config.security()?;
    let http = HttpSettings {
        body_limit_bytes: config.server.body_limit_bytes,
        request_timeout: Duration::from_secs(config.server.request_timeout_secs),
        graphql: config.graphql.settings(),
    };
    let bus = symbiont_bus::connect(&config.bus.url, &config.bus.topic)
        .await
        .with_context(|| {
            format!(
                "cannot connect to the event bus at {}",
                symbiont_bus::without_credentials(&config.bus.url)
            )
        })?;
    let graph = symbiont_graph::connect(&config.graph.url, &config.graph.name)
        .await
        .with_context(|| {
            format!(
                "cannot connect to the network graph at {}",
                symbiont_graph::without_credentials(&config.graph.url)
            )
        })?;
    let cache = if config.cache.url.starts_with("redis://") {
        // Redis being down at start is not fatal either: the cache is only a cache.
        match ResponseCache::redis(&config.cache.url, &config.bus.topic).await {
            Ok(cache) => cache,
            Err(error) => {
                tracing::warn!(error = %symbiont_app::error::chain(&error), "Redis cache unavailable at start; using the in-process cache");
                ResponseCache::memory()
            }
        }
    } else {
        ResponseCache::memory()
    };
    // Rate limits are shared through the Redis of the cache when there is one; Redis being down at
    // start leaves them per instance.
    let shared_rate_limits: Option<Box<dyn RateLimitState>> = if config
        .cache
        .url
        .starts_with("redis://")
    {
        match RedisRateLimits::connect(&config.cache.url, "symbiont").await {
            Ok(state) => Some(Box::new(state)),
            Err(error) => {
                tracing::warn!(error = %symbiont_app::error::chain(&error), "Redis unavailable at start; rate limits are per instance");
                None
            }
        }
    } else {
        None
    };
    let (app, subscription) = App::start(AppParts {
        store: store.clone(),
        taxonomy,
        matching: config.matching,
        bus,
        graph,
        cache,
        shared_rate_limits,
        read_your_writes: Duration::from_millis(config.bus.read_your_writes_ms),
        security: security.app,
        feed: config.feed.settings(),
    })
    .await
    .context("cannot start matching")?;
    warn_if_bus_below_recommendation(store.as_ref(), &config.bus.url).await;
    // The rebuild's temporary memory is free now, but glibc would keep some of it resident.
    release_free_memory("the start-up rebuild").await;
    // Background work (outbox relay, event consumer) is tracked and stopped on shutdown.
    let tasks = tokio_util::task::TaskTracker::new();
    let cancel = tokio_util::sync::CancellationToken::new();
    symbiont_app::event_pipeline::start(&app, subscription, &tasks, &cancel);
    symbiont_app::retention::start(&app, config.retention.settings(), &tasks, &cancel);
    // The network projection is written just after start (off the start-up path); what it read
    // the whole engine with is freed then.
    tasks.spawn({
        let app = app.clone();
        async move {
            symbiont_app::network::initial_projection(&app).await;
            release_free_memory("the first network projection").await;
        }
    });
    // Both listeners are bound before either is announced, so a client that waits for the
    // announcement finds both.
    let grpc = match config.grpc.settings()? {
        Some(settings) => {
            let listener = TcpListener::bind(config.grpc.bind)
                .await
                .with_context(|| format!("cannot listen for gRPC on {}", config.grpc.bind))?;
            Some((listener, settings))
        }
        None => None,
    };
    let listener = TcpListener::bind(config.server.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.bind))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, store = if config.store.url.is_empty() { "sqlite" } else { "postgres" }, bus = %symbiont_bus::without_credentials(&config.bus.url), graph = app.network.graph.kind(), "listening");
    // A line on stdout that scripts and tests can wait for.
    println!("listening on http://{address}");

    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    // The gRPC server stops accepting when HTTP does; its streams end when the feed closes.
    let grpc_stopping = tokio_util::sync::CancellationToken::new();
    let grpc_server = match grpc {
        Some((grpc_listener, settings)) => {
            let grpc_address = grpc_listener.local_addr()?;
            let scheme = if settings.tls.is_some() {
                "https"
            } else {
                "http"
            };
            tracing::info!(address = %grpc_address, tls = settings.tls.is_some(), "gRPC listening");
            println!("grpc listening on {scheme}://{grpc_address}");
            let stopping = grpc_stopping.clone();
            Some(tokio::spawn(symbiont_grpc::serve(
                app.clone(),
                grpc_listener,
                settings,
                async move { stopping.cancelled().await },
            )))
        }
        None => None,
    };
    // Live feed connections never finish on their own: closing the feed ends them (WebSocket
    // clients get "going away"), so the drain below is not held up by them.
    let feed = app.live_feed().clone();
    let server = axum::serve(
        // Idle keep-alive connections give hyper's buffers back (ADR 0031).
        crate::parking::ParkingListener::new(listener, crate::parking::PARK_AFTER),
        // The peer address is what rate limits and the audit log key anonymous callers by.
        crate::parking::ParkedService::new(symbiont_http::app(symbiont_http::state(
            app,
            http,
            security.gateway,
        ))),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested; draining in-flight requests");
        feed.close();
        grpc_stopping.cancel();
        let _ = stopping_tx.send(true);
    });
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let deadline = async move {
        let mut stopping = stopping_rx;
        let _ = stopping.wait_for(|s| *s).await;
        tokio::time::sleep(grace).await;
    };
    let grpc_drained = async move {
        match grpc_server {
            Some(task) => match task.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(anyhow::Error::new(error)),
                Err(error) => Err(anyhow::Error::new(error).context("the gRPC server task")),
            },
            None => Ok(()),
        }
    };
    tokio::select! {
        result = async { tokio::try_join!(async { server.await.context("server failed") }, grpc_drained) } => {
            result?;
        }
        _ = deadline => tracing::warn!(grace_secs = grace.as_secs(), "in-flight requests did not finish in time"),
    }
    // Requests are drained: stop the consumer, let the relay flush the outbox, then close the store.
    cancel.cancel();
    tasks.close();
    if tokio::time::timeout(Duration::from_secs(10), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks did not stop within 10 s");
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}
