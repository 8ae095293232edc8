//! The network on the demo region through the real binary: chains, clusters and anchors answer
//! with the embedded graph and, with the same answers, with the projection on FalkorDB
//! (`SYMBIONT_TEST_FALKORDB_URL`); the projection's lag is a metric; `symbiont doctor` and the
//! start-up warning give the reference architecture's choice of event bus.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

/// Reads `path` until it has items (the projection is written just after start).
async fn items_of(server: &Server, path: &str) -> Value {
    for _ in 0..100 {
        let (status, page) = server.get(path).await;
        assert_eq!(status, 200, "GET {path}: {page}");
        if page["items"].as_array().is_some_and(|i| !i.is_empty()) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("GET {path} stayed empty on the demo region");
}

#[tokio::test]
async fn the_demo_region_answers_chains_clusters_and_anchors() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &["--demo"]);
    for path in [
        "/api/v1/network/chains?limit=20",
        "/api/v1/network/clusters?limit=20",
        "/api/v1/network/anchors?limit=20",
    ] {
        let started = Instant::now();
        let page = items_of(&server, path).await;
        eprintln!(
            "{path}: {} items, first page in {:?}",
            page["items"].as_array().map_or(0, Vec::len),
            started.elapsed()
        );
    }
    let (_, chains) = server.get("/api/v1/network/chains?limit=5").await;
    for chain in chains["items"].as_array().into_iter().flatten() {
        let exchanges = chain["exchanges"].as_array().map_or(0, Vec::len);
        assert!((2..=4).contains(&exchanges), "{chain}");
        assert_eq!(
            chain["businesses"].as_array().map(Vec::len),
            Some(exchanges + 1)
        );
    }
    // Agreed exchanges only: the demo has none yet.
    let (status, agreed) = server.get("/api/v1/network/clusters?status=agreed").await;
    assert_eq!(status, 200);
    assert_eq!(agreed["items"], serde_json::json!([]));
    // A rebuild writes one exchange per served need; the lag is reported.
    let (status, rebuilt) = server
        .post("/api/v1/admin/network/rebuild", &serde_json::json!({}))
        .await;
    assert_eq!(status, 200, "{rebuilt}");
    assert_eq!(rebuilt["graph"], "embedded");
    eprintln!("demo network rebuilt: {rebuilt}");
    assert!(
        rebuilt["exchanges"].as_u64().unwrap_or(0) > 100,
        "{rebuilt}"
    );
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("\nsymbiont_graph_projection_lag_seconds "),
        "{metrics}"
    );
    assert!(metrics.contains("\nsymbiont_graph_projection_failures_total 0"));
    // A stranger gets the same lists (no demo flow is anonymous).
    let anonymous = client_with_token(None);
    let answer = anonymous
        .get(server.url("/api/v1/network/anchors?limit=5"))
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn the_projection_on_falkordb_answers_what_the_embedded_graph_answers() {
    let url = std::env::var("SYMBIONT_TEST_FALKORDB_URL")
        .unwrap_or_else(|_| "falkordb://127.0.0.1:6390".into());
    let name = format!("symbiont-e2e-{}", uuid::Uuid::now_v7().simple());
    if let Err(error) = symbiont_graph::falkordb::FalkorConnection::connect(&url, &name).await {
        return service_missing("FalkorDB", error);
    }
    // The same store under both: the embedded graph first, then FalkorDB.
    let dir = temp_dir();
    let paths = [
        "/api/v1/network/chains?limit=50",
        "/api/v1/network/clusters?limit=50",
        "/api/v1/network/anchors?limit=50",
    ];
    let embedded = Server::start(&data_dir(&dir), &["--demo"]);
    let mut expected = Vec::new();
    for path in paths {
        expected.push(items_of(&embedded, path).await);
    }
    assert!(embedded.terminate().success());
    let on_falkordb = Server::start_with_env(
        &data_dir(&dir),
        &[],
        &[
            ("SYMBIONT_GRAPH_URL", url.as_str()),
            ("SYMBIONT_GRAPH_NAME", name.as_str()),
        ],
    );
    let (_, rebuilt) = on_falkordb
        .post("/api/v1/admin/network/rebuild", &serde_json::json!({}))
        .await;
    assert_eq!(rebuilt["graph"], "falkordb", "{rebuilt}");
    for (path, expected) in paths.into_iter().zip(expected) {
        let answer = items_of(&on_falkordb, path).await;
        assert_eq!(answer, expected, "{path}");
    }
    if let Ok(connection) = symbiont_graph::falkordb::FalkorConnection::connect(&url, &name).await {
        let _ = connection.delete_graph().await;
    }
}

fn doctor(data_dir: &std::path::Path, bus_url: &str) -> String {
    let output = Command::new(BIN)
        .args(["doctor", "--data-dir"])
        .arg(data_dir)
        .env("SYMBIONT_BUS_URL", bus_url)
        .env("SYMBIONT_LOG_LEVEL", "warn")
        .env_remove("SYMBIONT_CONFIG")
        .output()
        .expect("doctor runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn doctor_and_the_start_up_warning_give_the_bus_for_the_number_of_businesses() {
    let dir = temp_dir();
    // Start with the demo, stderr captured, to read the warning; then stop.
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir(&dir))
        .env("SYMBIONT_GRPC_BIND", "127.0.0.1:0")
        .env("SYMBIONT_LOG_LEVEL", "warn")
        .env("SYMBIONT_LOG_FORMAT", "json")
        .env_remove("SYMBIONT_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut buffer = [0u8; 256];
        let mut seen = String::new();
        while !seen.contains("listening on") {
            match stdout.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.push_str(&String::from_utf8_lossy(&buffer[..n])),
            }
        }
        seen
    });
    let seen = reader.join().expect("stdout reader");
    assert!(seen.contains("listening on"), "{seen}");
    let _ = child.kill();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr read");
    let _ = child.wait();
    assert!(
        stderr.contains("event bus below the recommendation") && stderr.contains("NATS JetStream"),
        "{stderr}"
    );

    let report = doctor(&data_dir(&dir), "memory://");
    assert!(report.contains("businesses in the store: 180"), "{report}");
    assert!(
        report.contains("recommended event bus:   NATS JetStream"),
        "{report}"
    );
    assert!(
        report.contains("configured event bus:    the in-process bus (memory://)"),
        "{report}"
    );
    assert!(report.contains("WARNING"), "{report}");
    let report = doctor(&data_dir(&dir), "nats://127.0.0.1:4222");
    assert!(report.contains("verdict:                 ok"), "{report}");
}
