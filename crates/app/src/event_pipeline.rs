//! The event pipeline of one instance: the relay publishes the store's outbox on the bus in commit
//! order (retrying with backoff while the bus is down; events wait in the outbox meanwhile), and the
//! consumer applies every event from the bus to this instance's engine, then stores the expiries
//! and revivals the engine's diff implies. Both stop on the cancellation token.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use symbiont_bus::{BusError, Event, Subscription};
use symbiont_core::events::DomainEvent;
use symbiont_store::StoreError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::App;

/// Why the relay stopped before the outbox was empty; the events wait in the outbox.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("cannot read or trim the outbox")]
    Store(#[from] StoreError),
    #[error("the bus refused event {event}")]
    Bus {
        event: Uuid,
        #[source]
        source: BusError,
    },
}

const RELAY_BATCH: u32 = 500;
/// How long a relay holds the entries it claimed: far longer than publishing a batch takes (bus
/// calls time out in seconds), so no other relay publishes them meanwhile; a crashed relay's
/// entries are published by another after it.
const RELAY_LEASE: Duration = Duration::from_secs(60);
/// The relay also looks at the outbox this often without being woken (other writers, retries).
const RELAY_POLL: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How many recent event ids the consumer remembers to drop duplicates.
const SEEN_IDS: usize = 10_000;

/// Publishes pending outbox entries until the outbox is empty or the bus refuses one.
/// Returns how many were published.
pub async fn relay_once(state: &App) -> Result<usize, RelayError> {
    let mut published = 0;
    loop {
        let pending = state.store.outbox_claim(RELAY_BATCH, RELAY_LEASE).await?;
        if pending.is_empty() {
            return Ok(published);
        }
        let mut sent = Vec::with_capacity(pending.len());
        let mut failure = None;
        let mut unsent: Vec<Uuid> = pending.iter().map(|e| e.id).collect();
        for entry in pending {
            let key = entry.ordering_key();
            let event = Event {
                id: entry.id,
                kind: entry.kind,
                version: entry.version,
                occurred_at: entry.occurred_at,
                payload: entry.payload,
                traceparent: entry.traceparent,
                key,
            };
            // In order: the first refusal stops the batch so nothing overtakes it.
            match state.bus.publish(&event).await {
                Ok(()) => sent.push(event.id),
                Err(source) => {
                    failure = Some(RelayError::Bus {
                        event: event.id,
                        source,
                    });
                    break;
                }
            }
        }
        published += sent.len();
        state.store.outbox_remove(&sent).await?;
        if let Some(error) = failure {
            // What the bus refused goes back at once: the retry (here or on another instance)
            // need not wait for the lease.
            unsent.retain(|id| !sent.contains(id));
            if let Err(release) = state.store.outbox_release(&unsent).await {
                tracing::warn!(error = %crate::error::chain(&release), "outbox claim not released; it ends with its lease");
            }
            return Err(error);
        }
    }
}

/// Runs the relay until cancelled, then makes a last attempt to flush the outbox.
pub async fn run_relay(state: Arc<App>, cancel: CancellationToken) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let wait = match relay_once(&state).await {
            Ok(_) => {
                backoff = Duration::from_millis(100);
                RELAY_POLL
            }
            Err(error) => {
                tracing::warn!(error = %crate::error::chain(&error), retry_in_ms = backoff.as_millis() as u64, "outbox relay failed; events wait in the outbox");
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = state.relay_wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    if let Err(error) = relay_once(&state).await {
        tracing::warn!(error = %crate::error::chain(&error), "outbox not flushed at shutdown; it is published at the next start");
    }
}

/// Applies bus events to the engine until cancelled.
pub async fn run_consumer(
    state: Arc<App>,
    mut subscription: Box<dyn Subscription>,
    cancel: CancellationToken,
) {
    let mut seen: (HashSet<Uuid>, VecDeque<Uuid>) = (HashSet::new(), VecDeque::new());
    let mut backoff = Duration::from_millis(100);
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => return,
            next = subscription.next(Duration::from_secs(1)) => next,
        };
        let delivery = match next {
            Ok(Some(delivery)) => delivery,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "event bus read failed");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        let id = delivery.event.id;
        if seen.0.insert(id) {
            seen.1.push_back(id);
            if seen.1.len() > SEEN_IDS
                && let Some(old) = seen.1.pop_front()
            {
                seen.0.remove(&old);
            }
            match DomainEvent::from_parts(&delivery.event.kind, delivery.event.payload.clone()) {
                Ok(event) => apply(&state, event, &delivery.event).await,
                Err(e) => {
                    tracing::error!(event = %id, kind = %delivery.event.kind, error = %e, "skipping unreadable event")
                }
            }
        }
        if let Err(e) = subscription.ack(delivery).await {
            tracing::warn!(event = %id, error = %e, "event not acknowledged; it will come again (and be skipped)");
        }
    }
}

/// Applies one event and stores what its diff means for decisions. Several instances may record the
/// same expiry; the one that loses the version race leaves it to the winner.
async fn apply(state: &App, event: DomainEvent, envelope: &Event) {
    let applied = state
        .live_matches
        .apply_event(event, envelope.traceparent.as_deref());
    state.network.note(
        &applied.needs,
        crate::network::version_of(envelope.id),
        envelope.occurred_at,
    );
    let decisions = applied.decisions;
    if decisions.is_empty() {
        return;
    }
    match state.store.save_decisions(&decisions).await {
        // Each decision is saved on its own: one recorded first by another instance leaves it to
        // the winner, and the rest of the batch is stored all the same.
        Ok(conflicts) => {
            for conflict in conflicts {
                tracing::debug!(%conflict, "expiry already recorded by another instance");
            }
        }
        Err(error) => {
            tracing::error!(%error, count = decisions.len(), "match expiries not stored; reconciled at next start");
        }
    }
}

/// Starts the relay and the consumer on the tracker; `subscription` must have been opened before
/// the engine was rebuilt, so no event falls between the rebuild and the subscription.
pub fn start(
    state: &Arc<App>,
    subscription: Box<dyn Subscription>,
    tasks: &tokio_util::task::TaskTracker,
    cancel: &CancellationToken,
) {
    tasks.spawn(run_relay(state.clone(), cancel.clone()));
    tasks.spawn(crate::network::run_projection(
        state.clone(),
        cancel.clone(),
    ));
    tasks.spawn(run_consumer(state.clone(), subscription, cancel.clone()));
}
