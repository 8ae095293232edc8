//! NATS JetStream adapter: events are published to `<prefix>.<type>` subjects of one stream with the
//! event id as `Nats-Msg-Id` (JetStream drops duplicates within its window); each group is a durable
//! pull consumer with explicit acknowledgement, so an unacknowledged event is redelivered after
//! `ack_wait`.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream};
use async_trait::async_trait;
use futures_util::StreamExt;

use crate::{
    BusError, CALL_TIMEOUT, Delivery, Event, EventBus, RETAINED_EVENTS, Receipt, Subscription,
    decode, encode, timed,
};

#[derive(Debug, Clone)]
pub struct NatsSettings {
    pub stream: String,
    pub subject_prefix: String,
    /// How long an unacknowledged delivery waits before JetStream sends it again.
    pub ack_wait: Duration,
}

impl Default for NatsSettings {
    fn default() -> Self {
        Self {
            stream: "SYMBIONT_EVENTS".into(),
            subject_prefix: "symbiont.events".into(),
            ack_wait: Duration::from_secs(30),
        }
    }
}

pub struct NatsBus {
    jetstream: jetstream::Context,
    stream: stream::Stream,
    settings: NatsSettings,
}

impl NatsBus {
    pub async fn connect(url: &str, settings: NatsSettings) -> Result<Self, BusError> {
        let options = async_nats::ConnectOptions::new()
            .connection_timeout(CALL_TIMEOUT)
            .request_timeout(Some(CALL_TIMEOUT));
        let client = timed(CALL_TIMEOUT, options.connect(url)).await?;
        let jetstream = jetstream::new(client);
        let config = stream::Config {
            name: settings.stream.clone(),
            subjects: vec![format!("{}.>", settings.subject_prefix)],
            duplicate_window: Duration::from_secs(120),
            // Bounded like the Redis stream: the oldest events go first (JetStream's default
            // discard policy). An existing stream keeps the limits it was created with.
            max_messages: RETAINED_EVENTS as i64,
            ..Default::default()
        };
        let stream = timed(CALL_TIMEOUT, jetstream.get_or_create_stream(config)).await?;
        Ok(Self {
            jetstream,
            stream,
            settings,
        })
    }

    /// Deletes the stream (tests clean up after themselves).
    pub async fn delete_stream(&self) -> Result<(), BusError> {
        timed(
            CALL_TIMEOUT,
            self.jetstream.delete_stream(&self.settings.stream),
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl EventBus for NatsBus {
    async fn publish(&self, event: &Event) -> Result<(), BusError> {
        let subject = format!("{}.{}", self.settings.subject_prefix, event.kind);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
        let ack = timed(
            CALL_TIMEOUT,
            self.jetstream
                .publish_with_headers(subject, headers, encode(event).into()),
        )
        .await?;
        timed(CALL_TIMEOUT, std::future::IntoFuture::into_future(ack)).await?;
        Ok(())
    }

    async fn subscribe(&self, group: &str) -> Result<Box<dyn Subscription>, BusError> {
        let config = pull::Config {
            durable_name: Some(group.to_string()),
            // Groups are per process; one left by a stopped process is removed after an hour.
            inactive_threshold: Duration::from_secs(3600),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: self.settings.ack_wait,
            deliver_policy: jetstream::consumer::DeliverPolicy::New,
            ..Default::default()
        };
        let consumer = timed(
            CALL_TIMEOUT,
            self.stream.get_or_create_consumer(group, config),
        )
        .await?;
        Ok(Box::new(NatsSubscription {
            consumer,
            backlog: std::collections::VecDeque::new(),
        }))
    }
}

/// Pulls in explicit batches that expire with the wait, so a dropped subscription leaves no pull
/// request behind on the server to swallow deliveries meant for its successor.
struct NatsSubscription {
    consumer: jetstream::consumer::Consumer<pull::Config>,
    backlog: std::collections::VecDeque<jetstream::Message>,
}

const BATCH: usize = 100;

#[async_trait]
impl Subscription for NatsSubscription {
    async fn next(&mut self, wait: Duration) -> Result<Option<Delivery>, BusError> {
        loop {
            if self.backlog.is_empty() {
                let request = self
                    .consumer
                    .fetch()
                    .max_messages(BATCH)
                    .expires(wait.max(Duration::from_millis(100)));
                let mut batch = timed(CALL_TIMEOUT, request.messages()).await?;
                while let Some(message) = timed(wait + CALL_TIMEOUT, async {
                    Ok::<_, BusError>(batch.next().await)
                })
                .await?
                {
                    self.backlog
                        .push_back(message.map_err(|e| BusError::Unavailable(e.to_string()))?);
                }
            }
            let Some(message) = self.backlog.pop_front() else {
                return Ok(None);
            };
            let redelivered = message
                .info()
                .map(|info| info.delivered > 1)
                .unwrap_or(false);
            match decode(&message.payload) {
                Ok(event) => {
                    return Ok(Some(Delivery {
                        event,
                        redelivered,
                        receipt: Receipt::Nats(Box::new(message)),
                    }));
                }
                Err(e) => {
                    // A poison message would be redelivered for ever: log it and acknowledge it.
                    tracing::error!(subject = %message.subject, error = %e, "skipping unreadable event");
                    timed(CALL_TIMEOUT, message.ack()).await?;
                }
            }
        }
    }

    async fn ack(&mut self, delivery: Delivery) -> Result<(), BusError> {
        match delivery.receipt {
            // double_ack waits for the server to confirm, so an acknowledged event is never redelivered.
            Receipt::Nats(message) => timed(CALL_TIMEOUT, message.double_ack()).await,
            _ => Ok(()),
        }
    }
}
