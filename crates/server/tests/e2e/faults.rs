//! Faults with real processes: the event bus goes away while writes continue. Writes still succeed
//! (their events wait in the outbox); when the bus returns, every event arrives and is applied once.
//! The test runs its own NATS server on a free loopback port, so the shared services stay untouched.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{Value, json};

/// A private JetStream server; its store directory survives a restart.
fn start_nats(port: u16, store: &Path) -> Option<Child> {
    let mut command = Command::new("nats-server");
    command
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store);
    start_listening(&mut command, port)
}

async fn match_count(server: &Server, flow: &str) -> usize {
    let (_, page): (u16, Value) = server.get(&format!("/api/v1/flows/{flow}/matches")).await;
    page["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn writes_survive_a_bus_outage_and_their_events_arrive_once_it_returns() {
    let dir = temp_dir();
    let port = free_port();
    let nats_store = dir.path().join("nats");
    let Some(nats) = start_nats(port, &nats_store) else {
        return service_missing("nats-server", "it did not start");
    };
    let url = format!("nats://127.0.0.1:{port}");
    let env = [
        ("SYMBIONT_BUS_URL", url.as_str()),
        ("SYMBIONT_READ_YOUR_WRITES_MS", "300"),
    ];
    let server = Server::start_with_env(&data_dir(&dir), &[], &env);

    let (_, supplier) = business_with_site(&server, "Steelworks", 51.40, 7.00).await;
    let offer = json!({ "site_id": supplier, "direction": "offer", "category": "heat.high_temp",
        "quality": { "temperature_c": 400.0 }, "quantity": { "value": 20, "unit": "MW" } });
    let (status, offer) = server.post("/api/v1/flows", &offer).await;
    assert_eq!(status, 201);
    let offer_id = offer["id"].as_str().expect("id").to_string();
    let (_, before) = business_with_site(&server, "Hospital", 51.401, 7.001).await;
    let (status, _) = server
        .post("/api/v1/flows", &heat_flow(&before, "need", 65.0, 800.0))
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        match_count(&server, &offer_id).await,
        1,
        "the bus works before the outage"
    );

    stop(nats);
    // Writes go on while the bus is away: all acknowledged, none lost.
    let mut needs = Vec::new();
    for i in 0..5 {
        let (_, site) = business_with_site(
            &server,
            &format!("Greenhouse {i}"),
            51.402 + f64::from(i) * 0.001,
            7.002,
        )
        .await;
        let (status, need) = server
            .post("/api/v1/flows", &heat_flow(&site, "need", 50.0, 300.0))
            .await;
        assert_eq!(
            status, 201,
            "a write succeeds while the bus is down: {need}"
        );
        needs.push(need["id"].as_str().expect("id").to_string());
    }
    let (status, _) = server.get("/api/v1/businesses").await;
    assert_eq!(status, 200, "reads succeed while the bus is down");

    let nats = start_nats(port, &nats_store).expect("nats-server restarts");
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let mut arrived = 0;
        for need in &needs {
            arrived += match_count(&server, need).await;
        }
        if arrived == needs.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {arrived} of {} matches arrived after the bus returned",
            needs.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Applied once: exactly one match per need, nothing doubled by redelivery.
    assert_eq!(match_count(&server, &offer_id).await, needs.len() + 1);
    let (_, stats) = server.get("/api/v1/stats").await;
    assert_eq!(stats["matches"]["live"], needs.len() + 1);
    drop(server);
    stop(nats);
}
