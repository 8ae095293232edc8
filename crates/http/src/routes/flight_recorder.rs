//! `GET /api/v1/admin/flight-recorder`: the most recent spans and log events, as JSON, for
//! post-mortem debugging (see [`symbiont_app::flight_recorder`]). Platform administrators only.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::state::SharedState;

/// The recorder's ring, oldest record first; `capacity` 0 means the recorder is off.
#[utoipa::path(
    get,
    path = "/api/v1/admin/flight-recorder",
    operation_id = "flightRecorder",
    tag = "admin",
    summary = "Flight recorder: the most recent spans and log events",
    description = "Platform admins only. The in-memory ring of the most recent closed spans (HTTP requests, store calls, engine updates) and log events, oldest first, for post-mortem debugging. Its size is `telemetry.flight_recorder_capacity` (SYMBIONT_FLIGHT_RECORDER_CAPACITY, default 2048); capacity 0 means it is off and `records` is empty. It keeps spans and events at info and above, whatever the log level.",
    responses(
        (status = 200, description = "The recorder's content", body = crate::openapi::FlightRecorderDump),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn flight_recorder(State(state): State<SharedState>) -> Response {
    let mut response = state.flight_recorder.dump_json().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
