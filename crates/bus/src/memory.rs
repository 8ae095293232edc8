//! In-process bus: an append-only log in memory with a cursor and a set of unacknowledged deliveries
//! per group. Nothing survives the process; it serves the embedded default, where the outbox in the
//! store is the durable part.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::{BusError, Delivery, Event, EventBus, Receipt, Subscription};

#[derive(Default)]
struct Group {
    /// Index of the next log entry to deliver.
    next: usize,
    /// Delivered, not yet acknowledged.
    pending: BTreeSet<usize>,
}

#[derive(Default)]
struct State {
    log: Vec<Event>,
    groups: HashMap<String, Group>,
}

#[derive(Default, Clone)]
pub struct MemoryBus {
    state: Arc<Mutex<State>>,
    published: Arc<Notify>,
}

impl MemoryBus {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, event: &Event) -> Result<(), BusError> {
        self.state().log.push(event.clone());
        self.published.notify_waiters();
        Ok(())
    }

    async fn subscribe(&self, group: &str) -> Result<Box<dyn Subscription>, BusError> {
        let mut state = self.state();
        let end = state.log.len();
        let redeliver: Vec<usize> = state
            .groups
            .entry(group.to_string())
            .or_insert_with(|| Group {
                next: end,
                pending: BTreeSet::new(),
            })
            .pending
            .iter()
            .copied()
            .collect();
        Ok(Box::new(MemorySubscription {
            bus: self.clone(),
            group: group.to_string(),
            redeliver,
        }))
    }
}

struct MemorySubscription {
    bus: MemoryBus,
    group: String,
    /// Deliveries a previous subscription of the group left unacknowledged.
    redeliver: Vec<usize>,
}

#[async_trait]
impl Subscription for MemorySubscription {
    async fn next(&mut self, wait: Duration) -> Result<Option<Delivery>, BusError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let published = self.bus.published.notified();
            {
                let mut state = self.bus.state();
                if !self.redeliver.is_empty() {
                    let index = self.redeliver.remove(0);
                    let event = state.log[index].clone();
                    return Ok(Some(Delivery {
                        event,
                        redelivered: true,
                        receipt: Receipt::Memory(index),
                    }));
                }
                let State { log, groups } = &mut *state;
                let group = groups.entry(self.group.clone()).or_default();
                if group.next < log.len() {
                    let index = group.next;
                    group.next += 1;
                    group.pending.insert(index);
                    return Ok(Some(Delivery {
                        event: log[index].clone(),
                        redelivered: false,
                        receipt: Receipt::Memory(index),
                    }));
                }
            }
            if tokio::time::timeout_at(deadline, published).await.is_err() {
                return Ok(None);
            }
        }
    }

    async fn ack(&mut self, delivery: Delivery) -> Result<(), BusError> {
        if let Receipt::Memory(index) = delivery.receipt
            && let Some(group) = self.bus.state().groups.get_mut(&self.group)
        {
            group.pending.remove(&index);
        }
        Ok(())
    }
}
