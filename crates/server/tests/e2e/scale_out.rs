//! Scale-out with real processes: two `symbiont serve` instances share one PostgreSQL + PostGIS
//! database and one event bus (NATS JetStream, Redis Streams, then Kafka), on loopback. A flow written
//! through one instance yields its matches through the other; a status change made on one is seen
//! on the other; and a write through one reaches the live feed (a WebSocket and an SSE subscriber
//! without credentials) of the other, redacted.
//! Without the bus server the test is skipped, except under `CI=true`, where it fails.

use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{Value, json};

/// Polls `check` until it returns true or `limit` passes.
async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn two_instances_share_matches_and_decisions(
    bus_url: &str,
    topic: &str,
    database_url: Option<&str>,
) {
    let dir = temp_dir();
    let mut env = vec![("SYMBIONT_BUS_URL", bus_url), ("SYMBIONT_BUS_TOPIC", topic)];
    if let Some(url) = database_url {
        env.push(("SYMBIONT_DATABASE_URL", url));
        env.push(("SYMBIONT_SIGNING_SECRET", POSTGRES_SIGNING_SECRET));
    }
    let one = Server::start_with_env(&data_dir(&dir), &[], &env);
    let two = Server::start_with_env(&data_dir(&dir), &[], &env);

    let (_, supplier) = business_with_site(&one, "Foundry", 51.30, 7.10).await;
    let (_, consumer) = business_with_site(&one, "Pool", 51.301, 7.101).await;
    let offer = json!({ "site_id": supplier, "direction": "offer", "category": "heat.medium_temp",
        "quality": { "temperature_c": 120.0 }, "quantity": { "value": 900, "unit": "kW" } });
    let need = json!({ "site_id": consumer, "direction": "need", "category": "heat.low_temp",
        "quality": { "temperature_c": 55.0 }, "quantity": { "value": 400, "unit": "kW" } });
    assert_eq!(one.post("/api/v1/flows", &offer).await.0, 201);
    let (status, need) = one.post("/api/v1/flows", &need).await;
    assert_eq!(status, 201);
    let need_id = need["id"].as_str().expect("id").to_string();

    let mut match_id = String::new();
    let found = eventually(Duration::from_secs(10), async || {
        let (_, page) = two.get(&format!("/api/v1/flows/{need_id}/matches")).await;
        match page["items"].as_array().and_then(|items| items.first()) {
            Some(m) => {
                match_id = m["id"].as_str().unwrap_or_default().to_string();
                true
            }
            None => false,
        }
    })
    .await;
    assert!(
        found,
        "instance 2 sees the match of a flow written through instance 1"
    );

    let (status, changed) = two
        .patch(
            &format!("/api/v1/matches/{match_id}"),
            &json!({ "status": "contacted" }),
            None,
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    let seen = eventually(Duration::from_secs(10), async || {
        let (_, m): (u16, Value) = one.get(&format!("/api/v1/matches/{match_id}")).await;
        m["status"] == "contacted"
    })
    .await;
    assert!(seen, "instance 1 sees the status change made on instance 2");

    feed_crosses_instances(&one, &two).await;
}

/// A WebSocket and an SSE subscriber on instance 2, both without credentials (a stranger's view),
/// hear of a match instance 1's write made with an anonymous offer, redacted: the hidden business,
/// site and flow appear in nothing they receive.
async fn feed_crosses_instances(one: &Server, two: &Server) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::protocol::Message;

    let (hidden_business, hidden_site) = business_with_site(one, "Hidden Works", 52.40, 9.70).await;
    let (_, consumer) = business_with_site(one, "Dairy", 52.401, 9.701).await;
    let ws_url = format!("{}/api/v1/ws", two.base.replacen("http://", "ws://", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .expect("WebSocket on instance 2");
    let subscribe = json!({ "type": "subscribe", "category": "heat" }).to_string();
    ws.send(Message::text(subscribe)).await.expect("sent");
    let mut sse = reqwest::Client::new()
        .get(two.url("/api/v1/events?category=heat"))
        .send()
        .await
        .expect("SSE on instance 2");
    assert_eq!(sse.status(), 200);
    let mut transcript = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message")
            .expect("open")
            .expect("readable");
        if let Message::Text(text) = message
            && text.contains("\"subscribed\"")
        {
            break;
        }
    }

    let offer = json!({ "site_id": hidden_site, "direction": "offer", "category": "heat.medium_temp",
        "anonymous": true, "quality": { "temperature_c": 120.0 }, "quantity": { "value": 900, "unit": "kW" } });
    let (status, offer) = one.post("/api/v1/flows", &offer).await;
    assert_eq!(status, 201, "{offer}");
    let hidden_flow = offer["id"].as_str().expect("id").to_string();
    let need = json!({ "site_id": consumer, "direction": "need", "category": "heat.low_temp",
        "quality": { "temperature_c": 55.0 }, "quantity": { "value": 400, "unit": "kW" } });
    assert_eq!(one.post("/api/v1/flows", &need).await.0, 201);

    let proposed = loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the match reaches instance 2's WebSocket")
            .expect("open")
            .expect("readable");
        if let Message::Text(text) = message {
            transcript.push(text.to_string());
            let value: Value = serde_json::from_str(&text).expect("JSON");
            if value["type"] == "match.proposed" && value["data"]["redacted"] == json!(["offer"]) {
                break value;
            }
        }
    };
    assert_eq!(
        proposed["data"]["offer_business_id"],
        Value::Null,
        "{proposed}"
    );
    let mut text = String::new();
    while !text.contains("event: match.proposed") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), sse.chunk())
            .await
            .expect("the match reaches instance 2's SSE stream")
            .expect("readable")
            .expect("the stream goes on");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    transcript.push(text);
    for secret in [&hidden_business, &hidden_site, &hidden_flow] {
        for received in &transcript {
            assert!(
                !received.contains(secret.as_str()),
                "{secret} leaked: {received}"
            );
        }
    }
}

#[tokio::test]
async fn two_instances_over_nats_jetstream() {
    let url =
        std::env::var("SYMBIONT_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let topic = format!("scale-{}", uuid::Uuid::now_v7().simple());
    let settings = symbiont_bus::nats::NatsSettings {
        stream: format!("{}_EVENTS", topic.to_ascii_uppercase().replace('-', "_")),
        subject_prefix: format!("{topic}.events"),
        ..Default::default()
    };
    let bus = match symbiont_bus::nats::NatsBus::connect(&url, settings).await {
        Ok(bus) => bus,
        Err(e) => return service_missing("NATS JetStream", e),
    };
    // The production shape: PostgreSQL + PostGIS shared by both instances.
    let database = TestDatabase::create();
    two_instances_share_matches_and_decisions(
        &url,
        &topic,
        database.as_ref().map(|d| d.url.as_str()),
    )
    .await;
    bus.delete_stream().await.expect("clean up");
}

#[tokio::test]
async fn two_instances_over_redis_streams() {
    let url = std::env::var("SYMBIONT_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let topic = format!("scale-{}", uuid::Uuid::now_v7().simple());
    let bus = match symbiont_bus::redis_streams::RedisStreamsBus::connect(
        &url,
        &format!("{topic}:events"),
    )
    .await
    {
        Ok(bus) => bus,
        Err(e) => return service_missing("Redis", e),
    };
    let database = TestDatabase::create();
    two_instances_share_matches_and_decisions(
        &url,
        &topic,
        database.as_ref().map(|d| d.url.as_str()),
    )
    .await;
    bus.delete_stream().await.expect("clean up");
}

#[tokio::test]
async fn two_instances_over_kafka() {
    let url = std::env::var("SYMBIONT_TEST_KAFKA_URL")
        .unwrap_or_else(|_| "kafka://127.0.0.1:9092".into());
    let topic = format!("scale-{}", uuid::Uuid::now_v7().simple());
    // Created here with three partitions (the instances find it made): events of different sites
    // may cross, those of one site may not.
    let partitioned = format!("{url}?partitions=3");
    let settings = match symbiont_bus::kafka::KafkaSettings::from_url(
        &partitioned,
        &format!("{topic}.events"),
    ) {
        Ok(settings) => settings,
        Err(e) => panic!("SYMBIONT_TEST_KAFKA_URL is not a Kafka URL: {e}"),
    };
    let bus = match symbiont_bus::kafka::KafkaBus::connect(settings).await {
        Ok(bus) => bus,
        Err(e) => return service_missing("Kafka", e),
    };
    assert_eq!(bus.partitions().len(), 3);
    let database = TestDatabase::create();
    two_instances_share_matches_and_decisions(
        &url,
        &topic,
        database.as_ref().map(|d| d.url.as_str()),
    )
    .await;
    bus.delete_topic().await.expect("clean up");
}
