//! Redis Streams adapter: events are `XADD`ed to one stream; each group is a Redis consumer group
//! read with `XREADGROUP` and acknowledged with `XACK`. A subscription first re-reads its own
//! unacknowledged entries (after a restart) and claims entries other consumers of the group left
//! pending for longer than [`STALE_AFTER`] (`XAUTOCLAIM`).

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use redis::Value;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{
    BusError, CALL_TIMEOUT, Delivery, Event, EventBus, RETAINED_EVENTS, Receipt, Subscription,
    decode, encode, timed,
};

/// Pending entries idle this long are taken over from a consumer presumed dead.
pub const STALE_AFTER: Duration = Duration::from_secs(60);
const BATCH: usize = 100;

pub struct RedisStreamsBus {
    client: redis::Client,
    publisher: ConnectionManager,
    stream: String,
}

/// A connection that reconnects by itself after the server restarts.
async fn connection(
    client: &redis::Client,
    response_timeout: Duration,
) -> Result<ConnectionManager, BusError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(CALL_TIMEOUT)
        .set_response_timeout(response_timeout)
        .set_number_of_retries(2);
    timed(
        CALL_TIMEOUT,
        ConnectionManager::new_with_config(client.clone(), config),
    )
    .await
}

impl RedisStreamsBus {
    /// Connects to `url` and uses the stream `stream` (tests use their own stream).
    pub async fn connect(url: &str, stream: &str) -> Result<Self, BusError> {
        let client = redis::Client::open(url).map_err(|e| BusError::Unavailable(e.to_string()))?;
        let publisher = connection(&client, CALL_TIMEOUT).await?;
        Ok(Self {
            client,
            publisher,
            stream: stream.to_string(),
        })
    }

    /// Deletes the stream with its groups (tests clean up after themselves).
    pub async fn delete_stream(&self) -> Result<(), BusError> {
        let mut conn = self.publisher.clone();
        let command = redis::cmd("DEL").arg(&self.stream).to_owned();
        timed(CALL_TIMEOUT, command.query_async::<i64>(&mut conn)).await?;
        Ok(())
    }
}

#[async_trait]
impl EventBus for RedisStreamsBus {
    async fn publish(&self, event: &Event) -> Result<(), BusError> {
        let mut conn = self.publisher.clone();
        let command = redis::cmd("XADD")
            .arg(&self.stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(RETAINED_EVENTS)
            .arg("*")
            .arg("event")
            .arg(encode(event))
            .to_owned();
        timed(CALL_TIMEOUT, command.query_async::<String>(&mut conn)).await?;
        Ok(())
    }

    async fn subscribe(&self, group: &str) -> Result<Box<dyn Subscription>, BusError> {
        let mut conn = self.publisher.clone();
        let create = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(group)
            .arg("$")
            .arg("MKSTREAM")
            .to_owned();
        match tokio::time::timeout(CALL_TIMEOUT, create.query_async::<()>(&mut conn)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.code() == Some("BUSYGROUP") => {}
            Ok(Err(e)) => return Err(BusError::Unavailable(e.to_string())),
            Err(_) => return Err(BusError::Timeout(CALL_TIMEOUT)),
        }
        // Blocking reads get a connection of their own, with room for the block in its timeout.
        let reader = connection(&self.client, Duration::from_secs(3600)).await?;
        Ok(Box::new(RedisSubscription {
            conn: reader,
            stream: self.stream.clone(),
            group: group.to_string(),
            // One consumer per group: the same name after a restart finds its own pending entries.
            consumer: format!("{group}-consumer"),
            backlog: VecDeque::new(),
            recovered: false,
        }))
    }
}

struct RedisSubscription {
    conn: ConnectionManager,
    stream: String,
    group: String,
    consumer: String,
    backlog: VecDeque<(String, Event, bool)>,
    recovered: bool,
}

/// Reads `[[id, [field, value, ...]], ...]` entries; undecodable entries are returned as errors with
/// their id so they can be acknowledged and skipped.
fn entries(value: &Value) -> Vec<(String, Result<Event, BusError>)> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|entry| {
            let Value::Array(parts) = entry else {
                return None;
            };
            let id = match parts.first()? {
                Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                Value::SimpleString(s) => s.clone(),
                _ => return None,
            };
            let event = match parts.get(1) {
                Some(Value::Array(fields)) => fields
                    .chunks(2)
                    .find_map(|pair| match pair {
                        [Value::BulkString(name), Value::BulkString(body)] if name == b"event" => {
                            Some(decode(body))
                        }
                        _ => None,
                    })
                    .unwrap_or_else(|| {
                        Err(BusError::Malformed(format!(
                            "entry {id} has no event field"
                        )))
                    }),
                // A pending entry whose data was trimmed from the stream.
                _ => Err(BusError::Malformed(format!("entry {id} was deleted"))),
            };
            Some((id, event))
        })
        .collect()
}

impl RedisSubscription {
    async fn read(
        &mut self,
        start: &str,
        block: Option<Duration>,
        redelivered: bool,
    ) -> Result<(), BusError> {
        let mut command = redis::cmd("XREADGROUP");
        command
            .arg("GROUP")
            .arg(&self.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(BATCH);
        if let Some(block) = block {
            command.arg("BLOCK").arg(block.as_millis().max(1) as u64);
        }
        command.arg("STREAMS").arg(&self.stream).arg(start);
        let limit = block.unwrap_or_default() + CALL_TIMEOUT;
        let reply: Value = match timed(limit, command.query_async(&mut self.conn)).await {
            Err(BusError::Unavailable(message)) if message.contains("NOGROUP") => {
                // The server lost the stream or the group (a restart without persistence): recreate
                // the group from the start of the new stream, so nothing published since is missed.
                tracing::warn!(stream = %self.stream, group = %self.group, "consumer group lost; recreating it");
                let create = redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(&self.stream)
                    .arg(&self.group)
                    .arg("0")
                    .arg("MKSTREAM")
                    .to_owned();
                match timed(CALL_TIMEOUT, create.query_async::<()>(&mut self.conn)).await {
                    Ok(()) => {}
                    Err(BusError::Unavailable(m)) if m.contains("BUSYGROUP") => {}
                    Err(e) => return Err(e),
                }
                return Ok(());
            }
            other => other?,
        };
        // [[stream, entries]] or nil when the block timed out.
        if let Value::Array(streams) = reply {
            for stream in streams {
                if let Value::Array(parts) = stream
                    && let Some(list) = parts.get(1)
                {
                    self.take(entries(list), redelivered).await?;
                }
            }
        }
        Ok(())
    }

    async fn claim_stale(&mut self) -> Result<(), BusError> {
        let command = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(&self.consumer)
            .arg(STALE_AFTER.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(BATCH)
            .to_owned();
        let reply: Value = timed(CALL_TIMEOUT, command.query_async(&mut self.conn)).await?;
        if let Value::Array(parts) = reply
            && let Some(list) = parts.get(1)
        {
            self.take(entries(list), true).await?;
        }
        Ok(())
    }

    async fn take(
        &mut self,
        items: Vec<(String, Result<Event, BusError>)>,
        redelivered: bool,
    ) -> Result<(), BusError> {
        for (id, event) in items {
            match event {
                Ok(event) => self.backlog.push_back((id, event, redelivered)),
                Err(e) => {
                    // A poison entry would be redelivered for ever: log it and acknowledge it.
                    tracing::error!(stream = %self.stream, entry = %id, error = %e, "skipping unreadable event");
                    self.xack(&id).await?;
                }
            }
        }
        Ok(())
    }

    async fn xack(&mut self, id: &str) -> Result<(), BusError> {
        let command = redis::cmd("XACK")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(id)
            .to_owned();
        timed(CALL_TIMEOUT, command.query_async::<i64>(&mut self.conn)).await?;
        Ok(())
    }
}

#[async_trait]
impl Subscription for RedisSubscription {
    async fn next(&mut self, wait: Duration) -> Result<Option<Delivery>, BusError> {
        if self.backlog.is_empty() && !self.recovered {
            self.read("0", None, true).await?;
            self.claim_stale().await?;
            self.recovered = true;
        }
        if self.backlog.is_empty() {
            self.read(">", Some(wait), false).await?;
        }
        Ok(self
            .backlog
            .pop_front()
            .map(|(id, event, redelivered)| Delivery {
                event,
                redelivered,
                receipt: Receipt::Redis(id),
            }))
    }

    async fn ack(&mut self, delivery: Delivery) -> Result<(), BusError> {
        match delivery.receipt {
            Receipt::Redis(id) => self.xack(&id).await,
            _ => Ok(()),
        }
    }
}
