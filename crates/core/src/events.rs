//! Domain events: what a committed write tells the rest of the system. Stores append them to their
//! outbox in the write's transaction; a relay publishes them on the event bus; every instance's
//! matching engine applies them. Payloads are versioned ([`EVENT_VERSION`]) JSON.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::decision::MatchDecision;
use crate::geo::GeoPoint;
use crate::model::Flow;

/// Version of every payload below; bump it with a migration path when a payload changes shape.
pub const EVENT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum DomainEvent {
    /// A flow was created or changed (status included); `location` is its site's.
    #[serde(rename = "flow.upserted")]
    FlowUpserted { flow: Box<Flow>, location: GeoPoint },
    /// Flows were deleted, directly or with their site or business.
    #[serde(rename = "flows.removed")]
    FlowsRemoved { flow_ids: Vec<Uuid> },
    /// A site moved; its flows' matches change. `version` is the site's after the move, so a
    /// consumer that already applied a later move skips an earlier one delivered late (events are
    /// delivered at least once, and relays of several instances publish concurrently); 0 in an
    /// event written before the field existed (applied as before).
    #[serde(rename = "site.moved")]
    SiteMoved {
        site_id: Uuid,
        location: GeoPoint,
        #[serde(default)]
        version: i64,
    },
    /// A person's decision on a match, or an expiry or revival.
    #[serde(rename = "match.decided")]
    MatchDecided { decision: Box<MatchDecision> },
}

impl DomainEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            DomainEvent::FlowUpserted { .. } => "flow.upserted",
            DomainEvent::FlowsRemoved { .. } => "flows.removed",
            DomainEvent::SiteMoved { .. } => "site.moved",
            DomainEvent::MatchDecided { .. } => "match.decided",
        }
    }

    /// The payload alone (the envelope carries the type).
    pub fn payload(&self) -> serde_json::Value {
        let tagged = serde_json::to_value(self).expect("domain events always serialize");
        tagged
            .get("payload")
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }

    /// Reads an event back from its type and payload.
    pub fn from_parts(kind: &str, payload: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::json!({ "type": kind, "payload": payload }))
    }
}

/// An event waiting in (or read from) a store's outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// UUIDv7; consumers deduplicate by it.
    pub id: Uuid,
    pub kind: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub payload: serde_json::Value,
    /// W3C `traceparent` of the span that wrote the event, when traces are exported: the engines
    /// that apply it continue that trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// Where [`OutboxEntry::new`] reads the current trace context; set once by whatever exports traces.
static TRACE_CONTEXT: OnceLock<fn() -> Option<String>> = OnceLock::new();

/// Makes every event written from now on carry `current()`, the caller's W3C `traceparent`. The
/// first call wins; without one, events carry none.
pub fn set_trace_context_source(current: fn() -> Option<String>) {
    let _ = TRACE_CONTEXT.set(current);
}

impl OutboxEntry {
    pub fn new(event: &DomainEvent) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind: event.kind().to_string(),
            version: EVENT_VERSION,
            occurred_at: Utc::now(),
            payload: event.payload(),
            traceparent: TRACE_CONTEXT.get().and_then(|current| current()),
        }
    }

    pub fn event(&self) -> Result<DomainEvent, serde_json::Error> {
        DomainEvent::from_parts(&self.kind, self.payload.clone())
    }

    /// The key whose events must reach consumers in the order they were written: the site, for a
    /// flow's upserts and its site's moves (an upsert carries its site's location, so a move and
    /// an upsert of the same site must not cross). Other events have none: the engine orders them by
    /// versions (flows, site moves, decisions) or tombstones (removed flows), whatever order they
    /// arrive in. Read from the payload, so the relay need not parse the whole event.
    pub fn ordering_key(&self) -> Option<String> {
        let site_id = match self.kind.as_str() {
            "flow.upserted" => self.payload.get("flow")?.get("site_id")?,
            "site.moved" => self.payload.get("site_id")?,
            _ => return None,
        };
        site_id.as_str().map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_their_envelope() {
        let event = DomainEvent::SiteMoved {
            site_id: Uuid::nil(),
            location: GeoPoint { lat: 1.0, lon: 2.0 },
            version: 3,
        };
        let entry = OutboxEntry::new(&event);
        assert_eq!(entry.kind, "site.moved");
        assert_eq!(entry.payload["location"]["lat"], 1.0);
        assert_eq!(entry.event().expect("readable"), event);
    }

    #[test]
    fn a_site_move_is_keyed_by_its_site_and_a_decision_has_no_key() {
        let site_id = Uuid::now_v7();
        let moved = OutboxEntry::new(&DomainEvent::SiteMoved {
            site_id,
            location: GeoPoint { lat: 1.0, lon: 2.0 },
            version: 3,
        });
        assert_eq!(moved.ordering_key(), Some(site_id.to_string()));
        let removed = OutboxEntry::new(&DomainEvent::FlowsRemoved {
            flow_ids: vec![Uuid::now_v7()],
        });
        assert_eq!(removed.ordering_key(), None);
    }
}
