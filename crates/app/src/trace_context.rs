//! Distributed tracing across the use cases: continuing a W3C trace context (from a request's
//! headers, given by the transport as a carrier, or from an event), carrying the trace through the
//! events a write causes, and naming spans the OpenTelemetry way. The exporter itself is set up by the binary; until it calls [`enable`],
//! everything here is a no-op and costs one atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns on trace propagation, into requests and through the events they write; called once the
/// OpenTelemetry layer and propagator are installed.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
    symbiont_core::events::set_trace_context_source(current_traceparent);
}

/// Whether spans are exported (OpenTelemetry is configured).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Makes `span` a child of the caller's span when `carrier` (a request's headers) holds a valid
/// `traceparent` (through the globally installed propagator), then records the trace id in its
/// `trace_id` field.
pub fn continue_trace(span: &tracing::Span, carrier: &dyn Extractor) {
    continue_with(span, carrier);
    record_trace_id(span);
}

/// Makes `span` a child of the span a W3C `traceparent` names (the one carried by an event).
pub fn continue_from(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    continue_with(span, &carrier);
}

fn continue_with(span: &tracing::Span, carrier: &dyn Extractor) {
    let parent =
        opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(carrier));
    if parent.span().span_context().is_valid() {
        // Fails only when the span is disabled, and then there is nothing to continue.
        let _ = span.set_parent(parent);
    }
}

/// The W3C `traceparent` of the current span, if it belongs to an exported trace.
fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut carrier)
    });
    carrier.remove("traceparent")
}

/// Renames the exported span (e.g. `GET /api/v1/flows/{id}` once the route is known). The name
/// must be set on the OpenTelemetry span itself: a recorded `otel.name` is only read before the
/// span starts.
pub fn rename(span: &tracing::Span, name: String) {
    span.context().span().update_name(name);
}

/// Records the span's OpenTelemetry trace id in its `trace_id` field (declared empty), so logs and
/// the flight recorder can be matched with the exported trace.
pub fn record_trace_id(span: &tracing::Span) {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span.record("trace_id", tracing::field::display(span_context.trace_id()));
    }
}
