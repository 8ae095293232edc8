//! Process lifecycle: persistence across restarts, crash safety (kill -9), graceful shutdown, the
//! demo, and clear start-up failures.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common::*;
use tokio::sync::Mutex;

#[tokio::test]
async fn data_survives_a_restart() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let (business, site) = business_with_site(&server, "Sawmill", 51.3, 6.9).await;
    let (status, _) = server
        .post("/api/v1/flows", &heat_flow(&site, "offer", 70.0, 300.0))
        .await;
    assert_eq!(status, 201);
    assert!(server.terminate().success());

    let server = Server::start(&data_dir(&dir), &[]);
    let (status, again) = server.get(&format!("/api/v1/businesses/{business}")).await;
    assert_eq!(status, 200);
    assert_eq!(again["name"], "Sawmill");
    let (_, flows) = server
        .get(&format!("/api/v1/businesses/{business}/flows"))
        .await;
    assert_eq!(flows["items"].as_array().map(Vec::len), Some(1));
}

/// Writes from several clients while the server is killed with SIGKILL: every write that got a 2xx
/// answer must be there after a restart.
async fn kill_9_loses_no_acknowledged_write(data: &std::path::Path, env: &[(&str, &str)]) {
    let server = Server::start_with_env(data, &[], env);
    let (_, site) = business_with_site(&server, "Steelworks", 51.4, 7.0).await;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..4 {
        let (client, url, site, acknowledged, stop) = (
            server.client.clone(),
            server.url("/api/v1/flows"),
            site.clone(),
            acknowledged.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            // Bounded: at most 2,000 writes per client, and only until the server dies.
            for i in 0..2000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let body = heat_flow(
                    &site,
                    "offer",
                    60.0 + f64::from(i % 30),
                    100.0 + f64::from(i),
                );
                match client.post(&url).json(&body).send().await {
                    Ok(response) if response.status().as_u16() == 201 => {
                        let (_, flow) = read(response).await;
                        if let Some(id) = flow["id"].as_str() {
                            acknowledged.lock().await.push(id.to_string());
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        let _ = writer.await;
    }
    let acknowledged = acknowledged.lock().await.clone();
    assert!(
        acknowledged.len() > 10,
        "the stream wrote something before the kill ({})",
        acknowledged.len()
    );

    let server = Server::start_with_env(data, &[], env);
    for id in &acknowledged {
        let (status, _) = server.get(&format!("/api/v1/flows/{id}")).await;
        assert_eq!(status, 200, "acknowledged flow {id} was lost");
    }
}

#[tokio::test]
async fn kill_9_during_a_stream_of_writes_loses_no_acknowledged_write() {
    let dir = temp_dir();
    kill_9_loses_no_acknowledged_write(&data_dir(&dir), &[]).await;
}

#[tokio::test]
async fn kill_9_on_postgres_loses_no_acknowledged_write() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let dir = temp_dir();
    kill_9_loses_no_acknowledged_write(
        &data_dir(&dir),
        &[
            ("SYMBIONT_DATABASE_URL", database.url.as_str()),
            ("SYMBIONT_SIGNING_SECRET", POSTGRES_SIGNING_SECRET),
        ],
    )
    .await;
}

/// SIGTERM while requests are in flight: the server stops accepting, finishes what it has, and exits
/// cleanly; every request either completes or is refused, none is cut off with a 5xx.
#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_exits_cleanly() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let (_, site) = business_with_site(&server, "Bakery", 51.1, 6.7).await;
    let mut requests = Vec::new();
    for i in 0..40 {
        let (client, url, body) = (
            server.client.clone(),
            server.url("/api/v1/flows"),
            heat_flow(&site, "need", 50.0, 10.0 + f64::from(i)),
        );
        requests.push(tokio::spawn(async move {
            client
                .post(&url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
    let mut completed = Vec::new();
    for request in requests {
        if let Ok(Ok(code)) = request.await {
            assert!(code < 500, "an in-flight request failed with {code}");
            completed.push(code);
        }
    }
    let server = Server::start(&data_dir(&dir), &[]);
    let (_, flows) = server.get("/api/v1/flows?limit=100").await;
    let stored = flows["items"].as_array().map(Vec::len).unwrap_or(0);
    let created = completed.iter().filter(|c| **c == 201).count();
    assert_eq!(
        stored, created,
        "every acknowledged request is stored, nothing else"
    );
}

#[tokio::test]
async fn serve_demo_loads_the_region_once() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &["--demo"]);
    let (status, page) = server.get("/api/v1/businesses?limit=500").await;
    assert_eq!(status, 200);
    let count = page["items"].as_array().map(Vec::len).unwrap_or(0);
    assert!(count >= 150, "{count} businesses");
    let industries: std::collections::BTreeSet<String> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["industry"].as_str().map(|i| i[..3].to_string()))
        .collect();
    assert!(industries.len() >= 15, "{industries:?}");
    // The demo login comes with the demo data.
    server.login("demo@symbiont.example", "symbiont-demo");
    assert!(server.terminate().success());
    // A second start with --demo keeps the data as it is.
    let server = Server::start(&data_dir(&dir), &["--demo"]);
    let (_, page) = server.get("/api/v1/businesses?limit=1000").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(count));
}

/// `serve --demo` over a store with real data loads nothing and creates no demo login, so the
/// documented demo password owns no real business.
#[tokio::test]
async fn serve_demo_on_a_store_with_data_creates_no_demo_login() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let (status, _) = server
        .post("/api/v1/businesses", &business_body("Real Brewery"))
        .await;
    assert_eq!(status, 201);
    assert!(server.terminate().success());

    let server = Server::start(&data_dir(&dir), &["--demo"]);
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/auth/login"))
        .json(&serde_json::json!({ "email": "demo@symbiont.example", "password": "symbiont-demo" }))
        .send()
        .await
        .expect("login answered");
    assert_eq!(response.status().as_u16(), 401);
    let (_, page) = server.get("/api/v1/businesses?limit=10").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
}

#[test]
fn startup_fails_with_one_clear_line() {
    let dir = temp_dir();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "not a directory").expect("write");
    let output = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(blocker.join("data"))
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ") && last.contains("data directory"),
        "{stderr}"
    );

    // PostgreSQL without an explicit signing secret: refused before the database is reached.
    let output = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "SYMBIONT_DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/none",
        )
        .env_remove("SYMBIONT_SIGNING_SECRET")
        .env_remove("SYMBIONT_CONFIG")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ") && last.contains("SYMBIONT_SIGNING_SECRET"),
        "{stderr}"
    );

    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[server]\nbind = \"nowhere\"\n").expect("write");
    let output = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: config file") && stderr.contains("bad.toml"),
        "{stderr}"
    );
}

#[test]
fn migrate_creates_the_database() {
    let dir = temp_dir();
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir(&dir))
        .arg("migrate")
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(data_dir(&dir).join("symbiont.db").exists());
}
