//! Cost of JSON on the API's hot paths, on one thread: writing a page of 20 matches (the goal is under
//! 5 µs) from the typed matches, as match lists are written, and through `serde_json::Value`, as
//! redacted entries of anonymous matches are; and reading a flow draft through the body
//! extractor's parser. The same code runs with serde_json or, built with `--features simd-json`, simd-json:
//! `cargo bench -p symbiont-server --bench json [--features simd-json]`. It lives in the binary crate
//! because the demo region's generator does.
//!
//! The matches are real: the demo generator's region at 400 businesses through the engine.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use symbiont_core::model::FlowIdentity;
use symbiont_core::{FlowDraft, Taxonomy};
use symbiont_matching::{Engine, FlowInput, Match, MatchingConfig};
use symbiont_server::dataset::demo::region;
use uuid::Uuid;

/// Times `work` over `rounds` after a warm-up; the median of five batches, per call.
fn time(rounds: u32, mut work: impl FnMut()) -> Duration {
    for _ in 0..rounds / 10 {
        work();
    }
    let mut batches: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..rounds {
                work();
            }
            started.elapsed() / rounds
        })
        .collect();
    batches.sort();
    batches[2]
}

fn matches(count: usize) -> Vec<Arc<Match>> {
    let taxonomy = Arc::new(Taxonomy::builtin().expect("the built-in taxonomy is valid"));
    let now = Utc::now();
    let mut inputs = Vec::new();
    for generated in region(7, 400) {
        let business_id = Uuid::now_v7();
        for site in generated.sites {
            let site_id = Uuid::now_v7();
            for mut draft in site.flows {
                draft.site_id = site_id;
                let identity = FlowIdentity {
                    id: Uuid::now_v7(),
                    business_id,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                };
                let flow = draft
                    .validate(&taxonomy, identity)
                    .expect("generated flows are valid");
                inputs.push(FlowInput::new(flow, site.site.location));
            }
        }
    }
    let mut engine =
        Engine::new(taxonomy, MatchingConfig::default()).expect("default configuration");
    engine.rebuild(inputs);
    let mut all: Vec<Arc<Match>> = engine.iter().collect();
    all.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    all.truncate(count);
    assert_eq!(all.len(), count, "the region has enough matches");
    all
}

fn main() {
    let encoder = if cfg!(feature = "simd-json") {
        "simd-json"
    } else {
        "serde_json"
    };
    let page = matches(20);
    let through_values = || {
        let items: Vec<Value> = page
            .iter()
            .map(|m| serde_json::to_value(m.as_ref()).expect("a match serialises"))
            .collect();
        let body = symbiont_http::json::to_vec(&json!({ "items": items, "next_cursor": null }))
            .expect("a page serialises");
        black_box(body);
    };
    let bytes = {
        let items: Vec<&Match> = page.iter().map(Arc::as_ref).collect();
        symbiont_http::json::to_vec(&json!({ "items": items })).expect("a page serialises")
    };
    println!(
        "page of 20 matches: {} bytes; encoder {encoder}",
        bytes.len()
    );
    let typed = time(20_000, || {
        let items: Vec<&Match> = page.iter().map(Arc::as_ref).collect();
        black_box(symbiont_http::json::to_vec(&items).expect("a page serialises"));
    });
    println!(
        "{:<58} {:>7.2} µs",
        "page of 20: typed matches -> bytes (match lists)",
        typed.as_nanos() as f64 / 1000.0
    );
    let values = time(20_000, through_values);
    println!(
        "{:<58} {:>7.2} µs",
        "page of 20: matches -> JSON values -> bytes (redacted)",
        values.as_nanos() as f64 / 1000.0
    );

    let body = serde_json::to_vec(&json!({
        "site_id": Uuid::now_v7(),
        "direction": "offer",
        "category": "heat.low_temp",
        "description": "Cooling water of the compressors",
        "quality": { "temperature_c": 72, "attributes": { "loop": "closed" } },
        "quantity": { "value": 350, "unit": "kW" },
        "profile": "Mon-Fri 06:00-22:00",
        "price_eur_per_unit": 12.5,
        "max_distance_km": 8
    }))
    .expect("a body serialises");
    let decode = time(100_000, || {
        let draft: FlowDraft =
            symbiont_http::extract::parse_json(black_box(&body)).expect("the body is valid");
        black_box(draft);
    });
    println!(
        "{:<58} {:>7.2} µs",
        format!("flow draft body ({} bytes) -> FlowDraft", body.len()),
        decode.as_nanos() as f64 / 1000.0
    );
}
