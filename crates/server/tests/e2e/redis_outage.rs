//! Redis as both event bus (Streams) and response cache goes away while the service runs: reads and
//! writes still succeed (cache bypassed, events kept in the outbox); when Redis returns — empty, as a
//! restart without persistence leaves it — the consumer group is recreated and every event arrives.
//! The test runs its own redis-server on a free loopback port.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{Value, json};

fn start_redis(port: u16) -> Option<Child> {
    let mut command = Command::new("redis-server");
    command.args([
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--save",
        "",
        "--appendonly",
        "no",
    ]);
    start_listening(&mut command, port)
}

async fn matches_of(server: &Server, flow: &str) -> usize {
    let (_, page): (u16, Value) = server.get(&format!("/api/v1/flows/{flow}/matches")).await;
    page["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_redis_outage_costs_the_cache_and_delays_events_but_loses_nothing() {
    let port = free_port();
    let Some(redis) = start_redis(port) else {
        return service_missing("redis-server", "it did not start");
    };
    let url = format!("redis://127.0.0.1:{port}");
    let dir = temp_dir();
    let env = [
        ("SYMBIONT_BUS_URL", url.as_str()),
        ("SYMBIONT_CACHE_URL", url.as_str()),
        ("SYMBIONT_READ_YOUR_WRITES_MS", "300"),
    ];
    let server = Server::start_with_env(&data_dir(&dir), &[], &env);
    let (_, supplier) = business_with_site(&server, "Dairy", 51.2, 6.8).await;
    let offer = json!({ "site_id": supplier, "direction": "offer", "category": "heat.low_temp",
        "quality": { "temperature_c": 80.0 }, "quantity": { "value": 2, "unit": "MW" } });
    let (status, offer) = server.post("/api/v1/flows", &offer).await;
    assert_eq!(status, 201);
    let offer_id = offer["id"].as_str().expect("id").to_string();
    assert_eq!(
        server.get("/api/v1/stats").await.0,
        200,
        "stats computed and cached in Redis"
    );

    stop(redis);
    let mut needs = Vec::new();
    for i in 0..3 {
        let (_, site) = business_with_site(
            &server,
            &format!("Pool {i}"),
            51.201 + f64::from(i) * 0.001,
            6.801,
        )
        .await;
        let (status, need) = server
            .post("/api/v1/flows", &heat_flow(&site, "need", 45.0, 200.0))
            .await;
        assert_eq!(status, 201, "writes succeed without Redis: {need}");
        needs.push(need["id"].as_str().expect("id").to_string());
    }
    for path in ["/api/v1/stats", "/api/v1/matches", "/api/v1/businesses"] {
        let started = Instant::now();
        let (status, body) = server.get(path).await;
        assert_eq!(status, 200, "{path} without Redis: {body}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{path} is not held up by the dead cache"
        );
    }

    let redis = start_redis(port).expect("redis-server restarts");
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let mut arrived = 0;
        for need in &needs {
            arrived += matches_of(&server, need).await;
        }
        if arrived == needs.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{arrived} of {} matches after Redis returned",
            needs.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        matches_of(&server, &offer_id).await,
        needs.len(),
        "each event applied once"
    );
    drop(server);
    stop(redis);
}
