//! Helpers both SQL adapters share: JSON documents in and out, ids, error mapping, pages.

use serde::de::DeserializeOwned;
use symbiont_core::Flow;
use symbiont_core::profile::WeeklyProfile;
use uuid::Uuid;

use crate::{Entity, Page, StoreError};

pub(crate) fn decode<T: DeserializeOwned>(
    entity: Entity,
    id: &str,
    doc: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt {
        entity,
        id: id.to_string(),
        reason: e.to_string(),
    })
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("domain types always serialize to JSON")
}

/// A flow's stored document: the flow as it serializes, except that a profile given as a schedule
/// is kept as that schedule, which reads back to the very same 168 values (a start-up then parses
/// a short string per flow instead of 168 numbers).
pub(crate) fn encode_flow(flow: &Flow) -> String {
    let Some(schedule) = flow.schedule.as_deref() else {
        return encode(flow);
    };
    if WeeklyProfile::parse_schedule(schedule).as_ref() != Ok(&flow.profile) {
        return encode(flow);
    }
    let mut doc = serde_json::to_value(flow).expect("domain types always serialize to JSON");
    doc["profile"] = serde_json::Value::from(schedule);
    doc.to_string()
}

pub(crate) fn parse_uuid(entity: Entity, text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| StoreError::Corrupt {
        entity,
        id: text.to_string(),
        reason: e.to_string(),
    })
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(crate) fn insert_error(entity: Entity, id: Uuid) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::AlreadyExists { entity, id }
        } else {
            e.into()
        }
    }
}

/// For an insert under a parent checked in the same statement: a foreign key violation means a
/// concurrent delete of the parent won the race, which is the same `NotFound` for the parent as the
/// check gives; anything else as [`insert_error`]. (With SQLite's single writer the race cannot
/// happen.)
pub(crate) fn child_insert_error(
    entity: Entity,
    id: Uuid,
    parent: Entity,
    parent_id: Uuid,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound {
            entity: parent,
            id: parent_id,
        },
        _ => insert_error(entity, id)(e),
    }
}

pub(crate) fn page_of<T>(mut items: Vec<T>, limit: u32, id_of: impl Fn(&T) -> Uuid) -> Page<T> {
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(id_of)
    } else {
        None
    };
    Page { items, next_cursor }
}

/// An outbox row read back: `occurred_at` as RFC 3339 text and `payload` as JSON text.
pub(crate) fn outbox_entry(
    id: &str,
    kind: String,
    version: i64,
    occurred_at: &str,
    payload: &str,
    traceparent: Option<String>,
) -> Result<symbiont_core::events::OutboxEntry, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        entity: Entity::Outbox,
        id: id.to_string(),
        reason,
    };
    Ok(symbiont_core::events::OutboxEntry {
        id: parse_uuid(Entity::Outbox, id)?,
        kind,
        version: u32::try_from(version).map_err(|e| corrupt(e.to_string()))?,
        occurred_at: chrono::DateTime::parse_from_rfc3339(occurred_at)
            .map_err(|e| corrupt(e.to_string()))?
            .with_timezone(&chrono::Utc),
        payload: serde_json::from_str(payload).map_err(|e| corrupt(e.to_string()))?,
        traceparent,
    })
}
