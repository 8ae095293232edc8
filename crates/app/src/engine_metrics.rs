//! How long the engine takes to apply each event: a histogram kept with atomics, so the consumer's
//! path never waits on a scrape. Rendered in the Prometheus text format by whoever exposes metrics.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the engine update buckets, in seconds: one flow change takes tens of
/// microseconds, a change near many counterparts up to a few milliseconds.
const ENGINE_UPDATE_BUCKETS: [f64; 12] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1,
];

/// Durations of the engine's incremental updates, observed without a lock: the engine applies
/// events on the consumer's path, which should not contend with scrapes.
#[derive(Default)]
pub struct EngineUpdateHistogram {
    /// Per bucket, not cumulative (made cumulative when rendered).
    buckets: [AtomicU64; ENGINE_UPDATE_BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl EngineUpdateHistogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = ENGINE_UPDATE_BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Appends the histogram in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let name = "symbiont_engine_update_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time the engine took to apply one event incrementally.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (bound, count) in ENGINE_UPDATE_BUCKETS.iter().zip(&self.buckets) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}
