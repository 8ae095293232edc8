//! The EventBus port: versioned domain events delivered at least once to every consumer group, and
//! its adapters — in-process (`memory`, the embedded default), Redis Streams (`redis_streams`),
//! NATS JetStream (`nats`) and Kafka (`kafka`), chosen by URL scheme with [`connect`].
//!
//! Delivery is at least once: an event a subscriber has not acknowledged is delivered again (marked
//! `redelivered`), so consumers must be idempotent by event id. Each group sees every event published
//! after the group was first created; one group has one consumer at a time.
//! Every call to an outside server has a timeout.

pub mod kafka;
pub mod memory;
pub mod nats;
pub mod redis_streams;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How long a call to the bus server may take before it is abandoned.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The durable buses keep about this many recent events (older ones go first); consumers are
/// expected to keep up, and the outbox in the store holds whatever was not yet published.
pub const RETAINED_EVENTS: u64 = 1_000_000;

/// A domain event in its versioned envelope, as it travels on the bus (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// UUIDv7; consumers deduplicate by it.
    pub id: Uuid,
    /// E.g. `flow.upserted`, `flow.removed`, `site.moved`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Version of the payload schema of this type.
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub payload: serde_json::Value,
    /// W3C `traceparent` of the write that caused the event, if traces are exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// Ordering key: events with the same key reach every group in the order they were published.
    /// A partitioned bus (Kafka) places events by it and may deliver events of different keys in
    /// another order; events without a key share one partition. The other buses keep one order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Event {
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind: kind.into(),
            version: 1,
            occurred_at: Utc::now(),
            payload,
            traceparent: None,
            key: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error(
        "bus URL '{0}' is not supported; use memory://, redis://host:port, nats://host:port or kafka://host:port"
    )]
    UnsupportedUrl(String),
    #[error("bus URL '{url}' is not valid: {why}")]
    InvalidUrl { url: String, why: String },
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    #[error("bus call timed out after {0:?}")]
    Timeout(Duration),
    #[error("event on the bus cannot be read: {0}")]
    Malformed(String),
}

/// Runs a bus call with the standard timeout, mapping failures to [`BusError`].
pub(crate) async fn timed<T, E: std::fmt::Display>(
    limit: Duration,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, BusError> {
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(BusError::Unavailable(e.to_string())),
        Err(_) => Err(BusError::Timeout(limit)),
    }
}

/// One event handed to a subscriber; acknowledge it once its effect is durable.
pub struct Delivery {
    pub event: Event,
    /// True when the event was delivered before and not acknowledged.
    pub redelivered: bool,
    receipt: Receipt,
}

/// What an adapter needs to acknowledge a delivery.
enum Receipt {
    Memory(usize),
    Redis(String),
    Nats(Box<async_nats::jetstream::Message>),
    Kafka { partition: i32, offset: i64 },
}

#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Publishes one event; returns once the bus has accepted it (durably, for servers).
    async fn publish(&self, event: &Event) -> Result<(), BusError>;
    /// Opens the subscription of consumer group `group`, creating the group if needed.
    async fn subscribe(&self, group: &str) -> Result<Box<dyn Subscription>, BusError>;
}

#[async_trait]
pub trait Subscription: Send {
    /// The next event, waiting up to `wait`; unacknowledged earlier deliveries come first.
    async fn next(&mut self, wait: Duration) -> Result<Option<Delivery>, BusError>;
    /// Marks a delivery as processed so it is not delivered again.
    async fn ack(&mut self, delivery: Delivery) -> Result<(), BusError>;
}

/// `url` without its user, password or token, for messages and logs: everything between `://`
/// and the last `@` of the authority goes (`nats://token@host`, `redis://:pw@host`,
/// `postgres://user:pw@host/db`). Any service URL in configuration may hold a secret, so every
/// URL that reaches a log line or an error message passes through here.
pub fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Opens the bus named by `url`: `memory://`, `redis://…` (Redis Streams), `nats://…` (JetStream)
/// or `kafka://host:port[,host:port…][?partitions=N&replication_factor=N]`.
/// `topic` names the stream, so several deployments (or tests) can share one server: Redis stream
/// `<topic>:events`, JetStream stream `<TOPIC>_EVENTS` with subjects `<topic>.events.*`, Kafka topic
/// `<topic>.events`.
pub async fn connect(url: &str, topic: &str) -> Result<Arc<dyn EventBus>, BusError> {
    if topic.is_empty()
        || !topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(BusError::UnsupportedUrl(format!(
            "{} with topic '{topic}' (use letters, digits, - and _)",
            without_credentials(url)
        )));
    }
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("memory") => Ok(Arc::new(memory::MemoryBus::default())),
        Some("redis" | "rediss") => Ok(Arc::new(
            redis_streams::RedisStreamsBus::connect(url, &format!("{topic}:events")).await?,
        )),
        Some("nats") => {
            let settings = nats::NatsSettings {
                stream: format!("{}_EVENTS", topic.to_ascii_uppercase().replace('-', "_")),
                subject_prefix: format!("{topic}.events"),
                ..nats::NatsSettings::default()
            };
            Ok(Arc::new(nats::NatsBus::connect(url, settings).await?))
        }
        Some("kafka") => {
            let settings = kafka::KafkaSettings::from_url(url, &format!("{topic}.events"))?;
            Ok(Arc::new(kafka::KafkaBus::connect(settings).await?))
        }
        _ => Err(BusError::UnsupportedUrl(without_credentials(url))),
    }
}

fn decode(bytes: &[u8]) -> Result<Event, BusError> {
    serde_json::from_slice(bytes).map_err(|e| BusError::Malformed(e.to_string()))
}

fn encode(event: &Event) -> Vec<u8> {
    serde_json::to_vec(event).expect("an event always serializes")
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn credentials_never_reach_a_message() {
        assert_eq!(
            without_credentials("nats://s3cret-token@nats.internal:4222"),
            "nats://nats.internal:4222"
        );
        assert_eq!(
            without_credentials("redis://:s3cret@cache.internal:6379/0"),
            "redis://cache.internal:6379/0"
        );
        assert_eq!(
            without_credentials("postgres://user:s3cret@db/x?sslmode=require"),
            "postgres://db/x?sslmode=require"
        );
        assert_eq!(without_credentials("nats://host:4222"), "nats://host:4222");
        // An `@` after the authority is not a credential separator.
        assert_eq!(
            without_credentials("redis://host/0?name=a@b"),
            "redis://host/0?name=a@b"
        );
    }

    #[tokio::test]
    async fn a_refused_bus_url_does_not_repeat_its_password() {
        for (url, topic) in [
            ("kafka://admin:s3cret@broker:9092", "symbiont"),
            ("nats://admin:s3cret@nats:4222", "bad topic"),
        ] {
            let error = connect(url, topic).await.err().expect("refused");
            assert!(!error.to_string().contains("s3cret"), "{error}");
        }
    }
}
