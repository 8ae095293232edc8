//! The flight recorder: the most recent closed spans and log events, kept in a bounded ring in
//! memory and dumped on demand (as JSON at `GET /api/v1/admin/flight-recorder`), for post-mortem
//! debugging without a tracing backend. The binary feeds it spans and events at `info` and above,
//! whatever the log level.
//!
//! Cost is kept small: a record is a few words plus its fields pre-formatted as a JSON fragment;
//! the ring is a `Mutex<VecDeque>` held only to push; and the fields' buffers are recycled (an
//! evicted record's buffer goes back to a small per-thread pool), so a full recorder does not
//! allocate per event. The recorder is process-wide, like the tracing subscriber that feeds it:
//! the binary installs it once ([`FlightRecorder::install`]) and `App::start` picks it up.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanValues};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The default number of records kept.
pub const DEFAULT_CAPACITY: usize = 2048;

/// Buffers larger than this are not recycled, so one huge record does not pin memory.
const MAX_RECYCLED_BYTES: usize = 4096;
/// Recycled buffers kept per thread.
const MAX_RECYCLED_PER_THREAD: usize = 64;

static INSTALLED: OnceLock<FlightRecorder> = OnceLock::new();

#[derive(Clone)]
struct Record {
    kind: RecordKind,
    level: Level,
    /// The span's name; for an event, the name of the span it happened in (or empty).
    name: &'static str,
    target: &'static str,
    /// When the span closed or the event happened, in microseconds since the Unix epoch.
    at_unix_us: i64,
    /// Spans only: from creation to close.
    duration_ns: u64,
    /// 0 when unknown.
    trace_id: u128,
    /// The fields as the inside of a JSON object: `"key":value,...`.
    fields: String,
}

struct Ring {
    capacity: usize,
    records: Mutex<VecDeque<Record>>,
    recorded: AtomicU64,
}

/// A handle on the ring; cheap to clone. Capacity 0 means off: nothing is recorded.
#[derive(Clone)]
pub struct FlightRecorder {
    ring: Arc<Ring>,
}

impl FlightRecorder {
    pub fn new(capacity: usize) -> Self {
        Self {
            ring: Arc::new(Ring {
                capacity,
                records: Mutex::new(VecDeque::with_capacity(capacity)),
                recorded: AtomicU64::new(0),
            }),
        }
    }

    /// Creates the process's recorder and returns the layer that feeds it, or `None` when
    /// `capacity` is 0 (off: no layer, no cost). Later calls return `None`.
    pub fn install(capacity: usize) -> Option<FlightRecorderLayer> {
        let recorder = Self::new(capacity);
        if INSTALLED.set(recorder.clone()).is_err() || capacity == 0 {
            return None;
        }
        Some(recorder.layer())
    }

    /// The recorder [`install`](Self::install) created, or an empty one that is off.
    pub fn installed() -> Self {
        INSTALLED.get().cloned().unwrap_or_else(|| Self::new(0))
    }

    /// A tracing layer that records into this recorder.
    pub fn layer(&self) -> FlightRecorderLayer {
        let seed = uuid::Uuid::now_v7().as_u128() as u64;
        FlightRecorderLayer {
            recorder: self.clone(),
            trace_seed: u128::from(seed) << 64,
            next_trace: AtomicU64::new(1),
        }
    }

    pub fn capacity(&self) -> usize {
        self.ring.capacity
    }

    fn push(&self, record: Record) {
        if self.ring.capacity == 0 {
            return;
        }
        let evicted = {
            let mut records = self
                .ring
                .records
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let evicted = if records.len() >= self.ring.capacity {
                records.pop_front()
            } else {
                None
            };
            records.push_back(record);
            evicted
        };
        self.ring.recorded.fetch_add(1, Ordering::Relaxed);
        if let Some(old) = evicted {
            give_back(old.fields);
        }
    }

    /// What the recorder holds now, oldest record first.
    pub fn dump(&self) -> FlightRecording {
        let records: Vec<Record> = self
            .ring
            .records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .cloned()
            .collect();
        FlightRecording {
            capacity: self.ring.capacity,
            recorded_total: self.ring.recorded.load(Ordering::Relaxed),
            records: records.into_iter().map(RecordedEntry::from).collect(),
        }
    }
}

/// The recorder's content at one moment.
#[derive(Debug, Clone)]
pub struct FlightRecording {
    /// Most records kept; 0 when the recorder is off.
    pub capacity: usize,
    /// Records made since start, including those since evicted.
    pub recorded_total: u64,
    /// Oldest first.
    pub records: Vec<RecordedEntry>,
}

/// A closed span or a log event.
#[derive(Debug, Clone)]
pub struct RecordedEntry {
    pub kind: RecordKind,
    /// When the span closed or the event happened (microsecond precision).
    pub at: chrono::DateTime<chrono::Utc>,
    pub level: Level,
    /// The module that made the record.
    pub target: &'static str,
    /// The span's name; for an event, the name of the span it happened in (or empty).
    pub name: &'static str,
    /// Spans only: from creation to close.
    pub duration: Option<std::time::Duration>,
    /// The OpenTelemetry trace id, or the recorder's own id of the request's trace.
    pub trace_id: Option<u128>,
    /// The span's or event's fields as a JSON object (an event's text is `message`). Kept as
    /// text: it was written once, when the record was made.
    pub fields_json: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Span,
    Event,
}

impl From<Record> for RecordedEntry {
    fn from(record: Record) -> Self {
        RecordedEntry {
            kind: record.kind,
            at: chrono::DateTime::from_timestamp_micros(record.at_unix_us).unwrap_or_default(),
            level: record.level,
            target: record.target,
            name: record.name,
            duration: (record.kind == RecordKind::Span)
                .then(|| std::time::Duration::from_nanos(record.duration_ns)),
            trace_id: (record.trace_id != 0).then_some(record.trace_id),
            fields_json: format!("{{{}}}", record.fields),
        }
    }
}

/// The layer feeding a [`FlightRecorder`]; install it in the tracing subscriber.
pub struct FlightRecorderLayer {
    recorder: FlightRecorder,
    /// Traces started while OpenTelemetry is off get ids of their own: `seed << 64 | counter`.
    trace_seed: u128,
    next_trace: AtomicU64,
}

/// What the recorder keeps on a span until it closes.
struct SpanState {
    started: Instant,
    trace_id: u128,
    fields: String,
}

impl<S> Layer<S> for FlightRecorderLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let inherited = span
            .parent()
            .and_then(|parent| parent.extensions().get::<SpanState>().map(|s| s.trace_id))
            .filter(|trace_id| *trace_id != 0);
        let mut state = SpanState {
            started: Instant::now(),
            trace_id: inherited.unwrap_or_else(|| {
                self.trace_seed | u128::from(self.next_trace.fetch_add(1, Ordering::Relaxed))
            }),
            fields: take_buffer(),
        };
        attrs.record(&mut JsonFields {
            out: &mut state.fields,
            trace_id: &mut state.trace_id,
        });
        span.extensions_mut().insert(state);
    }

    fn on_record(&self, id: &Id, values: &SpanValues<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(state) = extensions.get_mut::<SpanState>() {
            values.record(&mut JsonFields {
                out: &mut state.fields,
                trace_id: &mut state.trace_id,
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let (name, mut trace_id) = ctx.event_span(event).map_or(("", 0), |span| {
            let trace_id = span
                .extensions()
                .get::<SpanState>()
                .map_or(0, |s| s.trace_id);
            (span.name(), trace_id)
        });
        let mut fields = take_buffer();
        event.record(&mut JsonFields {
            out: &mut fields,
            trace_id: &mut trace_id,
        });
        let metadata = event.metadata();
        self.recorder.push(Record {
            kind: RecordKind::Event,
            level: *metadata.level(),
            name,
            target: metadata.target(),
            at_unix_us: now_unix_us(),
            duration_ns: 0,
            trace_id,
            fields,
        });
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(state) = span.extensions_mut().remove::<SpanState>() else {
            return;
        };
        let metadata = span.metadata();
        self.recorder.push(Record {
            kind: RecordKind::Span,
            level: *metadata.level(),
            name: metadata.name(),
            target: metadata.target(),
            at_unix_us: now_unix_us(),
            duration_ns: u64::try_from(state.started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            trace_id: state.trace_id,
            fields: state.fields,
        });
    }
}

fn now_unix_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

thread_local! {
    static BUFFERS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn take_buffer() -> String {
    BUFFERS
        .try_with(|buffers| buffers.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| String::with_capacity(128))
}

fn give_back(mut buffer: String) {
    if buffer.capacity() > MAX_RECYCLED_BYTES {
        return;
    }
    buffer.clear();
    let _ = BUFFERS.try_with(|buffers| {
        let mut buffers = buffers.borrow_mut();
        if buffers.len() < MAX_RECYCLED_PER_THREAD {
            buffers.push(buffer);
        }
    });
}

/// Writes fields as `"name":value` pairs. A `trace_id` field (the OpenTelemetry trace id, in hex)
/// sets the record's trace id instead; `otel.*` fields are for the exporter and left out.
struct JsonFields<'a> {
    out: &'a mut String,
    trace_id: &'a mut u128,
}

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) -> bool {
        let name = field.name();
        if name.starts_with("otel.") {
            return false;
        }
        if !self.out.is_empty() {
            self.out.push(',');
        }
        write_json_str(self.out, name);
        self.out.push(':');
        true
    }
}

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "trace_id" {
            let mut hex = String::with_capacity(32);
            let _ = write!(hex, "{value:?}");
            if let Ok(trace_id) = u128::from_str_radix(&hex, 16) {
                *self.trace_id = trace_id;
            }
            return;
        }
        if self.key(field) {
            self.out.push('"');
            let _ = write!(Escaped(self.out), "{value:?}");
            self.out.push('"');
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "trace_id" {
            if let Ok(trace_id) = u128::from_str_radix(value, 16) {
                *self.trace_id = trace_id;
            }
            return;
        }
        if self.key(field) {
            write_json_str(self.out, value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.key(field) {
            let _ = write!(self.out, "{value}");
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.key(field) {
            let _ = write!(self.out, "{value}");
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.key(field) {
            if value.is_finite() {
                let _ = write!(self.out, "{value}");
            } else {
                let _ = write!(self.out, "\"{value}\"");
            }
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.key(field) {
            let _ = write!(self.out, "{value}");
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.key(field) {
            self.out.push('"');
            let _ = write!(Escaped(self.out), "{value}");
            self.out.push('"');
        }
    }
}

fn write_json_str(out: &mut String, value: &str) {
    out.push('"');
    let _ = Escaped(out).write_str(value);
    out.push('"');
}

/// Escapes what JSON strings may not contain as is.
struct Escaped<'a>(&'a mut String);

impl Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            self.0.push_str(s);
            return Ok(());
        }
        for c in s.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                '\t' => self.0.push_str("\\t"),
                c if u32::from(c) < 0x20 => {
                    let _ = write!(self.0, "\\u{:04x}", u32::from(c));
                }
                c => self.0.push(c),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    /// The dump as the HTTP endpoint shows it, less its exact figures.
    fn recorded(capacity: usize, work: impl FnOnce()) -> serde_json::Value {
        let recorder = FlightRecorder::new(capacity);
        let subscriber = tracing_subscriber::registry().with(recorder.layer());
        tracing::subscriber::with_default(subscriber, work);
        let dump = recorder.dump();
        let records: Vec<serde_json::Value> = dump
            .records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "kind": match r.kind { RecordKind::Span => "span", RecordKind::Event => "event" },
                    "level": r.level.to_string(),
                    "name": r.name,
                    "duration_ms": r.duration.map(|d| d.as_secs_f64() * 1000.0),
                    "trace_id": r.trace_id.map(|t| format!("{t:032x}")),
                    "fields": serde_json::from_str::<serde_json::Value>(&r.fields_json)
                        .expect("the fields are a JSON object"),
                })
            })
            .collect();
        serde_json::json!({
            "capacity": dump.capacity,
            "recorded_total": dump.recorded_total,
            "records": records,
        })
    }

    #[test]
    fn closed_spans_and_events_are_kept_with_their_fields_and_trace() {
        let dump = recorded(16, || {
            let outer = tracing::info_span!("http", method = "GET", path = "/x\"y");
            let _entered = outer.enter();
            tracing::info_span!("store.get_flow", rows = 3_u64).in_scope(|| {
                tracing::warn!(id = 7, ok = true, "slow \n query");
            });
        });
        let records = dump["records"].as_array().expect("records");
        assert_eq!(records.len(), 3, "{dump}");
        let (event, store, http) = (&records[0], &records[1], &records[2]);
        assert_eq!(event["kind"], "event");
        assert_eq!(event["level"], "WARN");
        assert_eq!(event["name"], "store.get_flow");
        assert_eq!(event["fields"]["message"], "slow \n query");
        assert_eq!(event["fields"]["id"], 7);
        assert_eq!(event["fields"]["ok"], true);
        assert_eq!(store["kind"], "span");
        assert_eq!(store["fields"]["rows"], 3);
        assert!(store["duration_ms"].as_f64().is_some_and(|d| d >= 0.0));
        assert_eq!(http["name"], "http");
        assert_eq!(http["fields"]["path"], "/x\"y");
        // One trace: the children inherit the root's id.
        assert!(http["trace_id"].as_str().is_some_and(|t| t.len() == 32));
        assert_eq!(http["trace_id"], store["trace_id"]);
        assert_eq!(http["trace_id"], event["trace_id"]);
    }

    #[test]
    fn a_recorded_trace_id_is_taken_and_inherited() {
        let dump = recorded(16, || {
            let root = tracing::info_span!("http", trace_id = tracing::field::Empty);
            root.record("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736");
            root.in_scope(|| tracing::info!("inside"));
        });
        for record in dump["records"].as_array().expect("records") {
            assert_eq!(record["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
            assert!(record["fields"].get("trace_id").is_none());
        }
    }

    #[test]
    fn the_ring_keeps_only_the_most_recent_records() {
        let dump = recorded(3, || {
            for i in 0..10 {
                tracing::info!(i, "tick");
            }
        });
        let kept: Vec<i64> = dump["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter_map(|r| r["fields"]["i"].as_i64())
            .collect();
        assert_eq!(kept, [7, 8, 9]);
        assert_eq!(dump["recorded_total"], 10);
        assert_eq!(dump["capacity"], 3);
    }
}
