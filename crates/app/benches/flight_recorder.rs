//! Cost of the flight recorder per request-like unit of work: a span with three fields, a child
//! span and one log event inside, on one thread, with the tracing registry alone and with the
//! recorder (its ring full, as in a running server). `cargo bench -p symbiont-app --bench
//! flight_recorder`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use symbiont_app::flight_recorder::FlightRecorder;
use tracing_subscriber::layer::SubscriberExt;

const ROUNDS: u32 = 200_000;

fn unit_of_work(i: u64) {
    let span = tracing::info_span!(
        "http",
        method = "GET",
        path = "/api/v1/businesses/x",
        request_id = i
    );
    let _entered = span.enter();
    tracing::info_span!("store.get_business", db.system.name = "sqlite").in_scope(|| {
        black_box(i);
    });
    tracing::info!(
        status = 200,
        latency_us = 180,
        "finished processing request"
    );
}

fn measure(label: &str, subscriber: impl tracing::Subscriber + Send + Sync + 'static) -> Duration {
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..10_000 {
            unit_of_work(i);
        }
        let started = Instant::now();
        for i in 0..u64::from(ROUNDS) {
            unit_of_work(i);
        }
        let per_unit = started.elapsed() / ROUNDS;
        println!(
            "{label:<40} {:>8.0} ns per unit (2 spans + 1 event)",
            per_unit.as_nanos() as f64
        );
        per_unit
    })
}

fn main() {
    let baseline = measure("registry only", tracing_subscriber::registry());
    let recorder = FlightRecorder::new(2048);
    let with_recorder = measure(
        "registry + flight recorder (2048)",
        tracing_subscriber::registry().with(recorder.layer()),
    );
    println!(
        "flight recorder: +{} ns per unit, {:.0} ns per record",
        with_recorder.saturating_sub(baseline).as_nanos(),
        with_recorder.saturating_sub(baseline).as_nanos() as f64 / 3.0
    );
    let started = Instant::now();
    let dump = recorder.dump();
    println!(
        "dump of {} records in {:?}",
        dump.records.len(),
        started.elapsed()
    );
}
