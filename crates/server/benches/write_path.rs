//! Write path and outbox relay (no harness). `cargo bench -p symbiont-server --bench write_path`
//!
//! 1. Write path: sequential `POST /api/v1/flows` against the real release binary; a write answers
//!    once its own event has come back from the bus and its matches are in the engine, so the
//!    latency is "POST → matches visible". Embedded (SQLite + in-process bus) and production
//!    (PostgreSQL + NATS JetStream on loopback; skipped when either is missing).
//! 2. Relay throughput: a store holding the demo region's outbox (flow events) is published to the
//!    bus by the relay; events per second.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use symbiont_bus::nats::{NatsBus, NatsSettings};

use serde_json::{Value, json};
use symbiont_core::Taxonomy;
use symbiont_store::Store;

const WRITES: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

const EMAIL: &str = "bench@symbiont.test";
const PASSWORD: &str = "bench-password";

/// Creates the benchmark's user, then starts the server (rate limits off: one client, flat out).
fn start(data: &std::path::Path, env: &[(&str, String)]) -> (Child, String) {
    let mut create = Command::new(env!("CARGO_BIN_EXE_symbiont"));
    create
        .args([
            "admin",
            "create-user",
            "--email",
            EMAIL,
            "--password",
            PASSWORD,
            "--data-dir",
        ])
        .arg(data)
        .env("SYMBIONT_LOG_LEVEL", "warn");
    for (k, v) in env {
        create.env(k, v);
    }
    assert!(create.status().expect("admin create-user").success());
    let mut command = Command::new(env!("CARGO_BIN_EXE_symbiont"));
    command
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("SYMBIONT_RATE_LIMIT_ENABLED", "false")
        .env("SYMBIONT_LOG_LEVEL", "warn");
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    (
        child,
        line.trim().trim_start_matches("listening on ").to_string(),
    )
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Value {
    let response = client.post(url).json(body).send().await.expect("answered");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("json")
}

async fn write_path(label: &str, env: &[(&str, String)]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, base) = start(&dir.path().join("data"), env);
    let login = post(
        &reqwest::Client::new(),
        &format!("{base}/api/v1/auth/login"),
        &json!({ "email": EMAIL, "password": PASSWORD }),
    )
    .await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!(
            "Bearer {}",
            login["access_token"].as_str().unwrap_or_default()
        )
        .parse()
        .expect("header"),
    );
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client");
    let business = post(
        &client,
        &format!("{base}/api/v1/businesses"),
        &json!({ "name": "Bench", "industry": "C10.51" }),
    )
    .await;
    let site = post(
        &client,
        &format!(
            "{base}/api/v1/businesses/{}/sites",
            business["id"].as_str().unwrap_or_default()
        ),
        &json!({ "name": "Works", "location": { "lat": 51.3, "lon": 7.0 } }),
    )
    .await;
    let other = post(
        &client,
        &format!("{base}/api/v1/businesses"),
        &json!({ "name": "Other", "industry": "C10.51" }),
    )
    .await;
    let other_site = post(
        &client,
        &format!(
            "{base}/api/v1/businesses/{}/sites",
            other["id"].as_str().unwrap_or_default()
        ),
        &json!({ "name": "Works", "location": { "lat": 51.301, "lon": 7.001 } }),
    )
    .await;
    let mut latencies: Vec<Duration> = Vec::with_capacity(WRITES);
    for i in 0..WRITES {
        let (site_id, direction, t) = if i % 2 == 0 {
            (&site["id"], "offer", 80.0)
        } else {
            (&other_site["id"], "need", 55.0)
        };
        let body = json!({ "site_id": site_id, "direction": direction, "category": "heat.low_temp",
            "quality": { "temperature_c": t }, "quantity": { "value": 100 + i, "unit": "kW" } });
        let started = Instant::now();
        post(&client, &format!("{base}/api/v1/flows"), &body).await;
        latencies.push(started.elapsed());
    }
    let stats: Value = client
        .get(format!("{base}/api/v1/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    let _ = child.kill();
    let _ = child.wait();
    latencies.sort();
    println!(
        "write path, {label}: {WRITES} sequential POST /flows (answer = matches visible): p50 {:.2} ms, p99 {:.2} ms; {} live matches",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        stats["matches"]["live"]
    );
}

async fn relay_throughput(label: &str, bus: Arc<dyn symbiont_bus::EventBus>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(
        symbiont_store::sqlite::SqliteStore::open(dir.path())
            .await
            .expect("store"),
    );
    let taxonomy = Arc::new(Taxonomy::builtin().expect("taxonomy"));
    let (state, _subscription) = symbiont_app::App::start(symbiont_app::AppParts {
        store: store.clone(),
        taxonomy: taxonomy.clone(),
        matching: Default::default(),
        bus,
        graph: std::sync::Arc::new(symbiont_graph::embedded::EmbeddedGraph::default()),
        cache: symbiont_app::response_cache::ResponseCache::memory(),
        shared_rate_limits: None,
        read_your_writes: std::time::Duration::from_secs(2),
        security: Default::default(),
        feed: Default::default(),
    })
    .await
    .expect("state");
    let path = dir.path().join("region.json");
    // The demo region at 2,000 businesses, through the importer: one outbox event per flow.
    let region = symbiont_server::dataset::demo::region(7, 2000);
    let mut rows = Vec::new();
    for b in &region {
        for s in &b.sites {
            for f in &s.flows {
                rows.push(json!({
                    "business": b.business.name, "industry": b.business.industry, "site": s.site.name,
                    "lat": s.site.location.lat, "lon": s.site.location.lon, "direction": f.direction.as_str(),
                    "category": f.category, "quantity": f.quantity.value, "unit": f.quantity.unit,
                    "temperature_c": f.quality.temperature_c, "pressure_bar": f.quality.pressure_bar,
                    "purity_pct": f.quality.purity_pct, "profile": f.profile,
                }));
            }
        }
    }
    std::fs::write(&path, serde_json::to_vec(&rows).expect("json")).expect("write");
    let options = symbiont_server::dataset::import::ImportOptions {
        skip_invalid: false,
        progress: false,
    };
    symbiont_server::dataset::import::import_file(store.as_ref(), &taxonomy, &path, options)
        .await
        .expect("import");
    let started = Instant::now();
    let published = symbiont_app::event_pipeline::relay_once(&state)
        .await
        .expect("relay");
    let elapsed = started.elapsed();
    println!(
        "outbox relay, {label}: {published} events in {:.0} ms = {:.0} events/s",
        elapsed.as_secs_f64() * 1e3,
        published as f64 / elapsed.as_secs_f64()
    );
}

fn postgres_database() -> Option<(String, impl Drop)> {
    struct Dropper(String);
    impl Drop for Dropper {
        fn drop(&mut self) {
            let _ = Command::new("psql")
                .args([
                    "postgres://postgres@127.0.0.1:5432/postgres",
                    "-q",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0),
                ])
                .output();
        }
    }
    let name = format!("symbiont_bench_{}", uuid::Uuid::now_v7().simple());
    let ok = Command::new("psql")
        .args([
            "postgres://postgres@127.0.0.1:5432/postgres",
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| {
        (
            format!("postgres://postgres@127.0.0.1:5432/{name}"),
            Dropper(name),
        )
    })
}

#[tokio::main]
async fn main() {
    write_path("SQLite + in-process bus", &[]).await;
    let topic = format!("bench-{}", uuid::Uuid::now_v7().simple());
    let settings = NatsSettings {
        stream: format!("{}_EVENTS", topic.to_ascii_uppercase().replace('-', "_")),
        subject_prefix: format!("{topic}.events"),
        ..NatsSettings::default()
    };
    let nats = NatsBus::connect("nats://127.0.0.1:4222", settings)
        .await
        .map(Arc::new);
    match (postgres_database(), nats.is_ok()) {
        (Some((url, _drop)), true) => {
            let env = [
                ("SYMBIONT_DATABASE_URL", url),
                ("SYMBIONT_BUS_URL", "nats://127.0.0.1:4222".to_string()),
                ("SYMBIONT_BUS_TOPIC", topic.clone()),
            ];
            write_path("PostgreSQL + NATS JetStream", &env).await;
        }
        _ => println!(
            "write path, PostgreSQL + NATS JetStream: skipped (PostgreSQL or NATS unavailable)"
        ),
    }
    relay_throughput(
        "to the in-process bus",
        Arc::new(symbiont_bus::memory::MemoryBus::default()),
    )
    .await;
    match nats {
        Ok(bus) => {
            relay_throughput("to NATS JetStream", bus.clone()).await;
            let _ = bus.delete_stream().await;
        }
        Err(e) => println!("outbox relay, NATS: skipped ({e})"),
    }
}
