//! Kafka adapter (librdkafka through `rdkafka`): events are produced to one topic, placed on its
//! partitions by their ordering key ([`Event::key`], Java-compatible murmur2; events without a key
//! share one partition), so events of one key keep their order. Each group reads every partition
//! from the offsets the broker holds for it (`OffsetFetch`/`OffsetCommit`) with a manually
//! assigned consumer: a group has one consumer at a time (the port's rule), so no group membership,
//! rebalance or heartbeat is needed, and a subscription starts at once.
//!
//! Kafka keeps one offset per group and partition, not an acknowledgement per event, so the
//! adapter keeps the rest in the process: the offset it commits is the earliest event delivered and
//! not acknowledged (or the next to read), and the events acknowledged beyond it are remembered by
//! the bus, so a later subscription of the group in this process skips them. After a restart the
//! group resumes from the committed offset: events acknowledged out of order beyond it come again,
//! which at-least-once delivery allows (consumers drop duplicates by id); consumers that
//! acknowledge in order, as the event pipeline does, see nothing twice. An acknowledgement that
//! moves the group's position returns once the broker has the commit (like NATS's double ack).
//!
//! It must not know the domain: it reads the envelope's key and nothing of the payload.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::{
    BusError, CALL_TIMEOUT, Delivery, Event, EventBus, Receipt, Subscription, decode, encode,
    without_credentials,
};

/// Where and how the Kafka bus runs, read from `kafka://host:port[,host:port…][?options]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    /// `host:port` of one or more brokers, comma-separated (librdkafka's `bootstrap.servers`).
    pub brokers: String,
    /// The topic every event goes to.
    pub topic: String,
    /// Partitions of the topic when the adapter creates it (`?partitions=`, default 1: one order
    /// for every event, like the other buses). An existing topic keeps its own.
    pub partitions: i32,
    /// Replicas of each partition when the adapter creates the topic (`?replication_factor=`,
    /// default 1; a production cluster wants 3).
    pub replication_factor: i32,
}

impl KafkaSettings {
    /// Reads the brokers and options from a `kafka://` URL; `topic` is the topic's name.
    pub fn from_url(url: &str, topic: &str) -> Result<Self, BusError> {
        let invalid = |why: String| BusError::InvalidUrl {
            url: without_credentials(url),
            why,
        };
        let rest = url
            .strip_prefix("kafka://")
            .ok_or_else(|| invalid("it does not start with kafka://".into()))?;
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.trim_end_matches('/');
        if authority.contains('@') {
            return Err(invalid(
                "credentials are not supported: this build speaks plaintext Kafka without SASL"
                    .into(),
            ));
        }
        let brokers: Vec<&str> = authority.split(',').collect();
        for broker in &brokers {
            match broker.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
                _ => {
                    return Err(invalid(format!(
                        "broker '{broker}' is not host:port (list brokers as host:9092,host2:9092)"
                    )));
                }
            }
        }
        let mut settings = Self {
            brokers: brokers.join(","),
            topic: topic.to_string(),
            partitions: 1,
            replication_factor: 1,
        };
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = |field: &str| {
                value
                    .parse::<i32>()
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| {
                        invalid(format!(
                            "{field}={value} must be a whole number from 1 to 10000"
                        ))
                    })
            };
            match name {
                "partitions" => settings.partitions = number("partitions")?,
                "replication_factor" => settings.replication_factor = number("replication_factor")?,
                _ => {
                    return Err(invalid(format!(
                        "unknown option '{name}' (known: partitions, replication_factor)"
                    )));
                }
            }
        }
        Ok(settings)
    }
}

/// What the bus remembers of one group between its subscriptions in this process.
#[derive(Debug, Default)]
struct GroupProgress {
    partitions: HashMap<i32, PartitionProgress>,
}

#[derive(Debug, Default)]
struct PartitionProgress {
    /// Delivered and not yet acknowledged.
    in_flight: BTreeSet<i64>,
    /// Acknowledged while an earlier event was still in flight: at or beyond the commit point.
    acknowledged: BTreeSet<i64>,
    /// The offset the current subscription reads next.
    next_to_read: i64,
    /// One past the furthest offset ever delivered to the group: below it, a delivery is a
    /// redelivery.
    delivered_to: i64,
}

impl PartitionProgress {
    /// The offset to commit: the earliest event in flight, else the next to read.
    fn commit_point(&self) -> i64 {
        self.in_flight.first().copied().unwrap_or(self.next_to_read)
    }
}

type Groups = Arc<Mutex<HashMap<String, GroupProgress>>>;

fn lock(groups: &Groups) -> MutexGuard<'_, HashMap<String, GroupProgress>> {
    groups
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct KafkaBus {
    settings: KafkaSettings,
    producer: FutureProducer,
    /// The topic's partitions, as the broker reported them at connect.
    partitions: Vec<i32>,
    groups: Groups,
}

fn unavailable(what: &str, error: KafkaError) -> BusError {
    BusError::Unavailable(format!("{what}: {error}"))
}

/// Runs a blocking librdkafka call (each bounded by its own timeout) off the async workers.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, BusError> + Send + 'static,
) -> Result<T, BusError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| BusError::Unavailable(format!("Kafka call stopped: {e}")))?
}

fn client_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    let timeout_ms = CALL_TIMEOUT.as_millis().to_string();
    config
        .set("bootstrap.servers", brokers)
        .set("socket.timeout.ms", &timeout_ms)
        // Brokers on loopback and in containers: do not wait long for a reconnect.
        .set("reconnect.backoff.max.ms", "1000");
    config
}

impl KafkaBus {
    /// Connects to the brokers, creates the topic if it does not exist and reads its partitions.
    pub async fn connect(settings: KafkaSettings) -> Result<Self, BusError> {
        let timeout_ms = CALL_TIMEOUT.as_millis().to_string();
        let producer: FutureProducer = client_config(&settings.brokers)
            .set("message.timeout.ms", &timeout_ms)
            // The relay awaits each publish before the next (commit order), so batching by
            // lingering would only add its delay to every event.
            .set("linger.ms", "0")
            .set("acks", "all")
            // Java-compatible key hash; events without a key all go to one partition.
            .set("partitioner", "murmur2")
            .create()
            .map_err(|e| unavailable("Kafka producer", e))?;
        let admin: AdminClient<DefaultClientContext> = client_config(&settings.brokers)
            .create()
            .map_err(|e| unavailable("Kafka admin client", e))?;
        let topic = NewTopic::new(
            &settings.topic,
            settings.partitions,
            TopicReplication::Fixed(settings.replication_factor),
        );
        let options = AdminOptions::new()
            .request_timeout(Some(CALL_TIMEOUT))
            .operation_timeout(Some(CALL_TIMEOUT));
        let created = tokio::time::timeout(CALL_TIMEOUT, admin.create_topics([&topic], &options))
            .await
            .map_err(|_| BusError::Timeout(CALL_TIMEOUT))?
            .map_err(|e| unavailable("creating the Kafka topic", e))?;
        for result in created {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(BusError::Unavailable(format!(
                        "creating Kafka topic '{name}': {code}"
                    )));
                }
            }
        }
        let partitions = blocking({
            let producer = producer.clone();
            let topic = settings.topic.clone();
            move || topic_partitions(&producer, &topic)
        })
        .await?;
        Ok(Self {
            settings,
            producer,
            partitions,
            groups: Groups::default(),
        })
    }

    /// The topic's partitions.
    pub fn partitions(&self) -> &[i32] {
        &self.partitions
    }

    /// The topic every event goes to.
    pub fn topic(&self) -> &str {
        &self.settings.topic
    }

    /// Deletes the topic (tests clean up after themselves).
    pub async fn delete_topic(&self) -> Result<(), BusError> {
        let admin: AdminClient<DefaultClientContext> = client_config(&self.settings.brokers)
            .create()
            .map_err(|e| unavailable("Kafka admin client", e))?;
        let options = AdminOptions::new().operation_timeout(Some(CALL_TIMEOUT));
        let results = tokio::time::timeout(
            CALL_TIMEOUT,
            admin.delete_topics(&[self.settings.topic.as_str()], &options),
        )
        .await
        .map_err(|_| BusError::Timeout(CALL_TIMEOUT))?
        .map_err(|e| unavailable("deleting the Kafka topic", e))?;
        for result in results {
            if let Err((name, code)) = result {
                return Err(BusError::Unavailable(format!(
                    "deleting Kafka topic '{name}': {code}"
                )));
            }
        }
        Ok(())
    }
}

/// The partitions of `topic` from the brokers' metadata; the topic must exist.
fn topic_partitions(producer: &FutureProducer, topic: &str) -> Result<Vec<i32>, BusError> {
    // A topic just created may take a moment to appear in every broker's metadata.
    let deadline = std::time::Instant::now() + CALL_TIMEOUT;
    loop {
        let metadata = producer
            .client()
            .fetch_metadata(Some(topic), CALL_TIMEOUT)
            .map_err(|e| unavailable("Kafka metadata", e))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if !partitions.is_empty() {
            return Ok(partitions);
        }
        if std::time::Instant::now() >= deadline {
            return Err(BusError::Unavailable(format!(
                "Kafka topic '{topic}' has no partitions in the brokers' metadata"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[async_trait]
impl EventBus for KafkaBus {
    async fn publish(&self, event: &Event) -> Result<(), BusError> {
        let payload = encode(event);
        let mut record: FutureRecord<'_, str, [u8]> =
            FutureRecord::to(&self.settings.topic).payload(payload.as_slice());
        if let Some(key) = &event.key {
            record = record.key(key.as_str());
        }
        // `send` waits for the brokers' acknowledgement (acks=all) or fails after
        // message.timeout.ms; the outer timeout only guards against a stuck client.
        match tokio::time::timeout(
            CALL_TIMEOUT + Duration::from_secs(1),
            self.producer.send(record, CALL_TIMEOUT),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((error, _))) => Err(unavailable("publishing to Kafka", error)),
            Err(_) => Err(BusError::Timeout(CALL_TIMEOUT)),
        }
    }

    async fn subscribe(&self, group: &str) -> Result<Box<dyn Subscription>, BusError> {
        let consumer: StreamConsumer = client_config(&self.settings.brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            // An empty partition answers a fetch after this long: the bound on how late a new
            // event is seen while the consumer waits.
            .set("fetch.wait.max.ms", "50")
            .create()
            .map_err(|e| unavailable("Kafka consumer", e))?;
        let consumer = Arc::new(consumer);
        let topic = self.settings.topic.clone();
        let partitions = self.partitions.clone();
        // Where the group stands on the broker; a new group starts at the end of each partition,
        // committed at once so a later subscription of the group starts there too.
        let (start, known_group) = blocking({
            let consumer = consumer.clone();
            let topic = topic.clone();
            move || group_start(&consumer, &topic, &partitions)
        })
        .await?;
        let mut assignment = TopicPartitionList::new();
        {
            let mut groups = lock(&self.groups);
            let resumed_here = groups.contains_key(group);
            let progress = groups.entry(group.to_string()).or_default();
            for (&partition, &(committed, end)) in &start {
                let state = progress.partitions.entry(partition).or_default();
                // A group resumed in this process starts where its last subscription's commit
                // point was (fresher than the broker's, which is committed in the background);
                // what was in flight is delivered again from there.
                let from = if resumed_here {
                    state.commit_point()
                } else {
                    if known_group {
                        // Another process may have delivered what lies between the committed
                        // offset and the end: a delivery from there is marked redelivered.
                        state.delivered_to = end;
                    }
                    committed
                };
                state.in_flight.clear();
                state.acknowledged.retain(|&offset| offset >= from);
                state.next_to_read = from;
                state.delivered_to = state.delivered_to.max(from);
                assignment
                    .add_partition_offset(&topic, partition, Offset::Offset(from))
                    .map_err(|e| unavailable("assigning Kafka partitions", e))?;
            }
        }
        consumer
            .assign(&assignment)
            .map_err(|e| unavailable("assigning Kafka partitions", e))?;
        Ok(Box::new(KafkaSubscription {
            consumer,
            topic,
            group: group.to_string(),
            groups: self.groups.clone(),
        }))
    }
}

/// Each partition's (committed offset, end offset) of a group.
type StartPositions = HashMap<i32, (i64, i64)>;

/// Each partition's (committed offset, end offset) for `group`, committing the end offsets of a
/// new group; and whether the group had offsets on the broker before.
fn group_start(
    consumer: &StreamConsumer,
    topic: &str,
    partitions: &[i32],
) -> Result<(StartPositions, bool), BusError> {
    let mut wanted = TopicPartitionList::new();
    for &partition in partitions {
        wanted.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(wanted, CALL_TIMEOUT)
        .map_err(|e| unavailable("reading the group's Kafka offsets", e))?;
    let mut start = HashMap::new();
    let mut to_commit = TopicPartitionList::new();
    let mut known_group = false;
    for element in committed.elements() {
        let partition = element.partition();
        let (_, end) = consumer
            .fetch_watermarks(topic, partition, CALL_TIMEOUT)
            .map_err(|e| unavailable("reading Kafka partition offsets", e))?;
        let committed = match element.offset() {
            Offset::Offset(offset) if offset >= 0 => {
                known_group = true;
                offset
            }
            _ => {
                to_commit
                    .add_partition_offset(topic, partition, Offset::Offset(end))
                    .map_err(|e| unavailable("committing Kafka offsets", e))?;
                end
            }
        };
        start.insert(partition, (committed, end));
    }
    if to_commit.count() > 0 {
        consumer
            .commit(&to_commit, CommitMode::Sync)
            .map_err(|e| unavailable("committing the new group's Kafka offsets", e))?;
    }
    Ok((start, known_group))
}

struct KafkaSubscription {
    /// Shared with the blocking commits; dropped (and closed) with the subscription.
    consumer: Arc<StreamConsumer>,
    topic: String,
    group: String,
    groups: Groups,
}

impl KafkaSubscription {
    /// Marks `offset` of `partition` acknowledged and commits the group's new position, if it
    /// moved, before it returns.
    async fn acknowledge(&self, partition: i32, offset: i64) -> Result<(), BusError> {
        let commit_point = {
            let mut groups = lock(&self.groups);
            let state = groups
                .entry(self.group.clone())
                .or_default()
                .partitions
                .entry(partition)
                .or_default();
            let before = state.commit_point();
            if !state.in_flight.remove(&offset) {
                // Acknowledged twice, or before a resubscription delivered it again: done already.
                return Ok(());
            }
            let after = state.commit_point();
            if offset >= after {
                state.acknowledged.insert(offset);
            }
            state.acknowledged.retain(|&acked| acked >= after);
            (after != before).then_some(after)
        };
        if let Some(commit_point) = commit_point {
            let mut position = TopicPartitionList::new();
            position
                .add_partition_offset(&self.topic, partition, Offset::Offset(commit_point))
                .map_err(|e| unavailable("committing Kafka offsets", e))?;
            let consumer = self.consumer.clone();
            blocking(move || {
                consumer
                    .commit(&position, CommitMode::Sync)
                    .map_err(|e| unavailable("committing Kafka offsets", e))
            })
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Subscription for KafkaSubscription {
    async fn next(&mut self, wait: Duration) -> Result<Option<Delivery>, BusError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let received = match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Err(_) => return Ok(None),
                Ok(Err(error)) => return Err(unavailable("reading from Kafka", error)),
                Ok(Ok(message)) => (
                    message.partition(),
                    message.offset(),
                    message.payload().map(decode),
                ),
            };
            let (partition, offset, event) = received;
            let redelivered = {
                let mut groups = lock(&self.groups);
                let state = groups
                    .entry(self.group.clone())
                    .or_default()
                    .partitions
                    .entry(partition)
                    .or_default();
                state.next_to_read = state.next_to_read.max(offset + 1);
                if state.acknowledged.contains(&offset) || state.in_flight.contains(&offset) {
                    // Acknowledged by an earlier subscription of the group in this process.
                    continue;
                }
                state.in_flight.insert(offset);
                let redelivered = offset < state.delivered_to;
                state.delivered_to = state.delivered_to.max(offset + 1);
                redelivered
            };
            match event {
                Some(Ok(event)) => {
                    return Ok(Some(Delivery {
                        event,
                        redelivered,
                        receipt: Receipt::Kafka { partition, offset },
                    }));
                }
                Some(Err(error)) => {
                    // A poison record would be redelivered for ever: log it and acknowledge it.
                    tracing::error!(topic = %self.topic, partition, offset, %error, "skipping unreadable event");
                    self.acknowledge(partition, offset).await?;
                }
                None => {
                    tracing::error!(topic = %self.topic, partition, offset, "skipping a record without a value");
                    self.acknowledge(partition, offset).await?;
                }
            }
        }
    }

    async fn ack(&mut self, delivery: Delivery) -> Result<(), BusError> {
        match delivery.receipt {
            Receipt::Kafka { partition, offset } => self.acknowledge(partition, offset).await,
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_brokers_and_options() {
        let settings = KafkaSettings::from_url(
            "kafka://a.internal:9092,b.internal:9093?partitions=6&replication_factor=3",
            "symbiont.events",
        )
        .expect("valid");
        assert_eq!(settings.brokers, "a.internal:9092,b.internal:9093");
        assert_eq!(settings.partitions, 6);
        assert_eq!(settings.replication_factor, 3);
        let plain = KafkaSettings::from_url("kafka://127.0.0.1:9092", "t").expect("valid");
        assert_eq!((plain.partitions, plain.replication_factor), (1, 1));
    }

    #[test]
    fn a_bad_url_is_refused_naming_what_is_wrong() {
        for (url, expected) in [
            ("kafka://broker", "is not host:port"),
            ("kafka://a:9092,", "is not host:port"),
            ("kafka://a:9092?partitions=0", "partitions=0"),
            ("kafka://a:9092?partitions=many", "partitions=many"),
            (
                "kafka://a:9092?compression=lz4",
                "unknown option 'compression'",
            ),
            (
                "kafka://user:s3cret@a:9092",
                "credentials are not supported",
            ),
        ] {
            let error = KafkaSettings::from_url(url, "t")
                .expect_err(url)
                .to_string();
            assert!(error.contains(expected), "{url}: {error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
    }

    #[test]
    fn the_commit_point_is_the_earliest_event_in_flight() {
        let mut state = PartitionProgress {
            next_to_read: 12,
            delivered_to: 12,
            ..Default::default()
        };
        assert_eq!(state.commit_point(), 12);
        state.in_flight.extend([10, 11]);
        assert_eq!(state.commit_point(), 10);
    }
}
