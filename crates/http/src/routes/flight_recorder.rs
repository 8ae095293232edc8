//! `GET /api/v1/admin/flight-recorder`: the most recent spans and log events, as JSON, for
//! post-mortem debugging (see [`symbiont_app::flight_recorder`]). Platform administrators only.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use symbiont_app::flight_recorder::{self, FlightRecording, RecordedEntry};

use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::state::SharedState;

/// The flight recorder's content.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FlightRecorderDump {
    /// Most records kept; 0 when the recorder is off.
    pub capacity: u64,
    /// Records made since start, including those since evicted.
    pub recorded_total: u64,
    /// Oldest first.
    pub records: Vec<FlightRecord>,
}

/// A closed span or a log event.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FlightRecord {
    #[schema(inline)]
    pub kind: RecordKind,
    /// When the span closed or the event happened.
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub time: String,
    #[schema(inline)]
    pub level: Level,
    /// The module that made the record, e.g. `symbiont_store::traced`.
    pub target: String,
    /// The span's name (`http`, `store.get_flow`, `engine.apply`); for an event, the span it
    /// happened in.
    pub name: String,
    /// Spans only: from creation to close.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub duration_ms: Option<f64>,
    /// 32 hex digits: the OpenTelemetry trace id when traces are exported, else an id of the
    /// recorder's own shared by the spans and events of one request.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub trace_id: Option<String>,
    /// The span's or event's fields; an event's text is `message`.
    #[schema(value_type = serde_json::Map<String, serde_json::Value>)]
    pub fields: Box<RawValue>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Span,
    Event,
}

#[derive(Serialize, utoipa::ToSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum Level {
    TRACE,
    DEBUG,
    INFO,
    WARN,
    ERROR,
}

impl From<FlightRecording> for FlightRecorderDump {
    fn from(recording: FlightRecording) -> Self {
        FlightRecorderDump {
            capacity: recording.capacity as u64,
            recorded_total: recording.recorded_total,
            records: recording
                .records
                .into_iter()
                .map(FlightRecord::from)
                .collect(),
        }
    }
}

impl From<RecordedEntry> for FlightRecord {
    fn from(entry: RecordedEntry) -> Self {
        FlightRecord {
            kind: match entry.kind {
                flight_recorder::RecordKind::Span => RecordKind::Span,
                flight_recorder::RecordKind::Event => RecordKind::Event,
            },
            time: entry
                .at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            level: match entry.level {
                tracing::Level::TRACE => Level::TRACE,
                tracing::Level::DEBUG => Level::DEBUG,
                tracing::Level::INFO => Level::INFO,
                tracing::Level::WARN => Level::WARN,
                tracing::Level::ERROR => Level::ERROR,
            },
            target: entry.target.to_string(),
            name: entry.name.to_string(),
            duration_ms: entry.duration.map(|d| d.as_nanos() as f64 / 1_000_000.0),
            trace_id: entry.trace_id.map(|id| format!("{id:032x}")),
            // The recorder wrote the fields as a JSON object; should that ever fail, the record
            // still shows, without them.
            fields: RawValue::from_string(entry.fields_json).unwrap_or_else(|_| empty_object()),
        }
    }
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_string()).expect("{} is a JSON object")
}

/// The recorder's ring, oldest record first; `capacity` 0 means the recorder is off.
#[utoipa::path(
    get,
    path = "/api/v1/admin/flight-recorder",
    operation_id = "flightRecorder",
    tag = "admin",
    summary = "Flight recorder: the most recent spans and log events",
    description = "Platform admins only. The in-memory ring of the most recent closed spans (HTTP requests, store calls, engine updates) and log events, oldest first, for post-mortem debugging. Its size is `telemetry.flight_recorder_capacity` (SYMBIONT_FLIGHT_RECORDER_CAPACITY, default 2048); capacity 0 means it is off and `records` is empty. It keeps spans and events at info and above, whatever the log level.",
    responses(
        (status = 200, description = "The recorder's content", body = FlightRecorderDump),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn flight_recorder(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
) -> Result<Response, ApiError> {
    let dump = FlightRecorderDump::from(state.flight_recording(&caller)?);
    let mut response = axum::Json(dump).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
