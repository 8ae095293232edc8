//! In-process bus: a log in memory with a cursor and a set of unacknowledged deliveries per group.
//! Nothing survives the process; it serves the embedded default, where the outbox in the store is
//! the durable part. The log keeps only what some group may still be handed: events every group has
//! acknowledged are dropped from its front (a new group starts at the end, so it never needs them).
//! A group keeps its place when its last subscription ends, since it may subscribe again: the log
//! stays bounded as long as every group that ever subscribed keeps acknowledging.

use std::collections::{BTreeSet, HashMap, VecDeque};
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
    /// Events from position `first` on; positions (receipts, cursors) count from the bus's start.
    log: VecDeque<Event>,
    first: usize,
    groups: HashMap<String, Group>,
}

impl State {
    /// Position after the last event.
    fn end(&self) -> usize {
        self.first + self.log.len()
    }

    fn event(&self, position: usize) -> Option<&Event> {
        position
            .checked_sub(self.first)
            .and_then(|i| self.log.get(i))
    }

    /// Drops the events no group can be handed any more: before every group's oldest
    /// unacknowledged delivery and its cursor.
    fn drop_delivered(&mut self) {
        let end = self.end();
        let keep_from = self
            .groups
            .values()
            .map(|g| g.pending.first().copied().unwrap_or(g.next).min(g.next))
            .min()
            .unwrap_or(end);
        while self.first < keep_from && self.log.pop_front().is_some() {
            self.first += 1;
        }
        // After a burst, give back most of the buffer once it is mostly empty.
        if self.log.capacity() > 4096 && self.log.len() < self.log.capacity() / 4 {
            self.log.shrink_to(self.log.len() * 2);
        }
    }
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
        {
            let mut state = self.state();
            state.log.push_back(event.clone());
            state.drop_delivered();
        }
        self.published.notify_waiters();
        Ok(())
    }

    async fn subscribe(&self, group: &str) -> Result<Box<dyn Subscription>, BusError> {
        let mut state = self.state();
        let end = state.end();
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
                while !self.redeliver.is_empty() {
                    let index = self.redeliver.remove(0);
                    // Skipped if another subscription of the group acknowledged it meanwhile
                    // (pending events are always kept).
                    let pending = state
                        .groups
                        .get(&self.group)
                        .is_some_and(|g| g.pending.contains(&index));
                    let Some(event) = state.event(index).filter(|_| pending).cloned() else {
                        continue;
                    };
                    return Ok(Some(Delivery {
                        event,
                        redelivered: true,
                        receipt: Receipt::Memory(index),
                    }));
                }
                // A cursor never points before the kept log (`drop_delivered` keeps it).
                let index = state
                    .groups
                    .get(&self.group)
                    .map_or(state.end(), |g| g.next)
                    .max(state.first);
                if let Some(event) = state.event(index).cloned() {
                    let group = state.groups.entry(self.group.clone()).or_default();
                    group.next = index + 1;
                    group.pending.insert(index);
                    return Ok(Some(Delivery {
                        event,
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
        if let Receipt::Memory(index) = delivery.receipt {
            let mut state = self.bus.state();
            if let Some(group) = state.groups.get_mut(&self.group) {
                group.pending.remove(&index);
            }
            state.drop_delivered();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize) -> Event {
        Event::new("flow.upserted", serde_json::json!({ "n": n }))
    }

    fn kept(bus: &MemoryBus) -> usize {
        bus.state().log.len()
    }

    #[tokio::test]
    async fn the_log_keeps_only_what_a_group_may_still_be_handed() {
        let bus = MemoryBus::default();
        // Nobody subscribed: nobody can ever be handed these.
        for n in 0..10 {
            bus.publish(&event(n)).await.expect("publish");
        }
        assert_eq!(kept(&bus), 0);

        let mut a = bus.subscribe("a").await.expect("subscribe");
        let mut b = bus.subscribe("b").await.expect("subscribe");
        for n in 0..100 {
            bus.publish(&event(n)).await.expect("publish");
        }
        let wait = Duration::from_millis(50);
        let mut first_of_b = None;
        for n in 0..100 {
            let delivery = a.next(wait).await.expect("next").expect("delivered");
            assert_eq!(delivery.event.payload["n"], n);
            a.ack(delivery).await.expect("ack");
            let delivery = b.next(wait).await.expect("next").expect("delivered");
            if n == 0 {
                first_of_b = Some(delivery); // left unacknowledged
            } else {
                b.ack(delivery).await.expect("ack");
            }
        }
        assert_eq!(kept(&bus), 100, "b's oldest delivery is not acknowledged");

        // Unacknowledged, it comes again to the group's next subscription, then everything goes.
        drop(first_of_b);
        drop(b);
        let mut b = bus.subscribe("b").await.expect("subscribe again");
        let again = b.next(wait).await.expect("next").expect("redelivered");
        assert!(again.redelivered);
        assert_eq!(again.event.payload["n"], 0);
        b.ack(again).await.expect("ack");
        assert_eq!(kept(&bus), 0);

        // Positions keep counting after the dropped front.
        bus.publish(&event(100)).await.expect("publish");
        let delivery = a.next(wait).await.expect("next").expect("delivered");
        assert_eq!(delivery.event.payload["n"], 100);
        assert!(matches!(delivery.receipt, Receipt::Memory(110)));
    }
}
