//! Traces over OTLP/HTTP: the real binary exports to a receiver inside the test, continues an
//! incoming `traceparent`, and has spans for HTTP requests, store calls and engine updates (which
//! continue the trace of the write that caused them); engine updates are timed in /metrics; the
//! flight recorder dumps recent spans and events.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// What the receiver got: each span with the `service.name` of its resource.
type Received = Arc<Mutex<Vec<(String, Span)>>>;

/// An OTLP/HTTP (protobuf) trace receiver on 127.0.0.1; returns its base URL.
async fn start_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                    return StatusCode::BAD_REQUEST.into_response();
                };
                let mut sink = sink.lock().expect("not poisoned");
                for resource_spans in request.resource_spans {
                    let service = resource_spans
                        .resource
                        .iter()
                        .flat_map(|r| &r.attributes)
                        .find(|a| a.key == "service.name")
                        .and_then(|a| a.value.as_ref()?.value.as_ref())
                        .map(|v| match v {
                            AnyValue::StringValue(s) => s.clone(),
                            other => format!("{other:?}"),
                        })
                        .unwrap_or_default();
                    for scope_spans in resource_spans.scope_spans {
                        for span in scope_spans.spans {
                            sink.push((service.clone(), span));
                        }
                    }
                }
                (
                    [(header::CONTENT_TYPE, "application/x-protobuf")],
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the receiver");
    let address = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}"), received)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            AnyValue::StringValue(s) => s.clone(),
            AnyValue::IntValue(i) => i.to_string(),
            other => format!("{other:?}"),
        })
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

// Multi-threaded: the receiver must keep answering while the test waits for the server to exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_continue_the_callers_trace_and_cover_http_store_and_engine() {
    let (endpoint, received) = start_receiver().await;
    let dir = temp_dir();
    let server = Server::start_with_env(
        &data_dir(&dir),
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SERVICE_NAME", "symbiont-under-test"),
            // No export before shutdown: what arrives was flushed by the graceful shutdown.
            ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
        ],
    );
    // A write (store calls, then an engine update from its event) continuing a caller's trace.
    let response = server
        .client
        .post(server.url("/api/v1/businesses"))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01"))
        .json(&business_body("Traced brewery"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 201);
    let business = response.json::<serde_json::Value>().await.expect("JSON")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, site) = server
        .post(
            &format!("/api/v1/businesses/{business}/sites"),
            &site_body(51.0, 7.0),
        )
        .await;
    assert_eq!(status, 201, "{site}");
    let site = site["id"].as_str().expect("id");
    let (status, flow) = server
        .post("/api/v1/flows", &heat_flow(site, "offer", 60.0, 500.0))
        .await;
    assert_eq!(status, 201, "{flow}");
    assert!(
        received.lock().expect("not poisoned").is_empty(),
        "spans wait for the batch"
    );
    // Graceful shutdown flushes the spans still queued.
    assert!(server.terminate().success());

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let spans = loop {
        let spans = received.lock().expect("not poisoned").clone();
        let done = spans.iter().any(|(_, s)| s.name == "engine.apply");
        if done || std::time::Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!spans.is_empty(), "no span arrived");
    assert!(
        spans
            .iter()
            .all(|(service, _)| service == "symbiont-under-test"),
        "OTEL_SERVICE_NAME is the resource's service.name"
    );
    let in_trace: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| hex(&s.trace_id) == TRACE_ID)
        .collect();
    let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
    let http = in_trace
        .iter()
        .find(|s| attribute(s, "http.route").as_deref() == Some("/api/v1/businesses"))
        .unwrap_or_else(|| panic!("no HTTP span in the caller's trace among {names:?}"));
    assert_eq!(
        hex(&http.parent_span_id),
        PARENT_SPAN_ID,
        "the HTTP span's parent is the caller's span"
    );
    assert_eq!(http.name, "POST /api/v1/businesses");
    assert_eq!(http.kind, 2, "a server span");
    assert_eq!(
        attribute(http, "http.response.status_code").as_deref(),
        Some("201")
    );
    let store = in_trace
        .iter()
        .find(|s| s.name == "store.insert_business_owned_by")
        .unwrap_or_else(|| panic!("no store span in the caller's trace among {names:?}"));
    assert_eq!(
        store.parent_span_id, http.span_id,
        "store call under the request"
    );
    assert_eq!(
        attribute(store, "db.system.name").as_deref(),
        Some("sqlite")
    );
    let engine = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| {
            s.name == "engine.apply" && attribute(s, "event").as_deref() == Some("flow.upserted")
        })
        .unwrap_or_else(|| panic!("no engine update span among {names:?}"));
    assert!(engine.end_time_unix_nano >= engine.start_time_unix_nano);
    // The engine update continues, through the outbox and the bus, the trace of the write that
    // caused it, under the store call that appended the event.
    let flow_write = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| attribute(s, "http.route").as_deref() == Some("/api/v1/flows"))
        .unwrap_or_else(|| panic!("no HTTP span of the flow write among {names:?}"));
    assert_eq!(
        hex(&engine.trace_id),
        hex(&flow_write.trace_id),
        "the engine update is in the trace of its write"
    );
    let parent = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s.span_id == engine.parent_span_id)
        .unwrap_or_else(|| panic!("the engine update's parent span did not arrive"));
    assert!(
        parent.name.starts_with("store."),
        "the engine update's parent is the store call, not {}",
        parent.name
    );
    // Requests without a traceparent start traces of their own.
    assert!(
        spans.iter().any(
            |(_, s)| attribute(s, "http.route").as_deref() == Some("/api/v1/flows")
                && hex(&s.trace_id) != TRACE_ID
                && s.parent_span_id.is_empty()
        )
    );
}

#[tokio::test]
async fn engine_updates_are_timed_in_metrics() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let (_, site) = business_with_site(&server, "Pooled", 51.0, 7.0).await;
    let (status, _) = server
        .post("/api/v1/flows", &heat_flow(&site, "need", 40.0, 200.0))
        .await;
    assert_eq!(status, 201);
    let text = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("text");
    for expected in [
        r#"symbiont_engine_update_duration_seconds_bucket{le="+Inf"} "#,
        r#"symbiont_store_pool_connections{pool="writer",state="in_use"} "#,
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    let updates: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("symbiont_engine_update_duration_seconds_count "))
        .and_then(|n| n.parse().ok())
        .expect("an update count");
    assert!(updates >= 1, "the flow's event was applied");
}

#[tokio::test]
async fn the_flight_recorder_dumps_recent_spans_and_events() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let (business, _) = business_with_site(&server, "Recorded", 51.0, 7.0).await;
    assert_eq!(
        server
            .get(&format!("/api/v1/businesses/{business}"))
            .await
            .0,
        200
    );
    let (status, dump) = server.get("/api/v1/admin/flight-recorder").await;
    assert_eq!(status, 200, "{dump}");
    assert_eq!(dump["capacity"], 2048);
    let records = dump["records"].as_array().expect("records");
    let http = records
        .iter()
        .find(|r| {
            r["kind"] == "span"
                && r["name"] == "http"
                && r["fields"]["path"] == format!("/api/v1/businesses/{business}").as_str()
        })
        .unwrap_or_else(|| panic!("no HTTP span in {dump}"));
    assert!(http["duration_ms"].as_f64().is_some());
    let trace_id = http["trace_id"].as_str().expect("a trace id");
    assert!(
        records.iter().any(|r| r["name"] == "store.get_business"
            && r["trace_id"] == trace_id
            && r["fields"]["db.system.name"] == "sqlite"),
        "the store call is recorded in the request's trace: {dump}"
    );
    // The per-request log line at info is kept although the log level is warn.
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "event" && r["trace_id"] == trace_id && r["level"] == "INFO"),
        "{dump}"
    );
}

#[tokio::test]
async fn a_flight_recorder_of_capacity_zero_is_off() {
    let dir = temp_dir();
    let server = Server::start_with_env(
        &data_dir(&dir),
        &[],
        &[("SYMBIONT_FLIGHT_RECORDER_CAPACITY", "0")],
    );
    assert_eq!(server.get("/api/v1/categories").await.0, 200);
    let (status, dump) = server.get("/api/v1/admin/flight-recorder").await;
    assert_eq!(status, 200, "{dump}");
    assert_eq!(dump["capacity"], 0);
    assert_eq!(dump["records"], serde_json::json!([]));
}
