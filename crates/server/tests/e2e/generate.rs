//! `symbiont generate` writes a region that `symbiont import` loads as it was generated.

use std::collections::BTreeMap;
use std::process::Command;

use symbiont_server::dataset::demo::region;
use symbiont_store::sqlite::SqliteStore;
use symbiont_store::{BusinessFilter, FlowFilter, PageRequest, Store};

use crate::common::BIN;

fn run(args: &[&str]) -> std::process::Output {
    let output = Command::new(BIN)
        .args(args)
        .env_remove("SYMBIONT_CONFIG")
        .env_remove("SYMBIONT_DATABASE_URL")
        .env("SYMBIONT_LOG_LEVEL", "warn")
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "symbiont {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test]
async fn a_generated_region_round_trips_through_import() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("region.ndjson");
    let data = dir.path().join("data");
    let file_arg = file.to_str().expect("UTF-8 path");
    let data_arg = data.to_str().expect("UTF-8 path");

    run(&[
        "generate",
        "--businesses",
        "30",
        "--seed",
        "5",
        "-o",
        file_arg,
    ]);
    let stdout = run(&["generate", "--businesses", "30", "--seed", "5"]).stdout;
    assert_eq!(
        stdout,
        std::fs::read(&file).expect("generated file"),
        "stdout and file agree"
    );
    let imported = run(&["--data-dir", data_arg, "import", file_arg]);
    let generated = region(5, 30);
    let expected_flows: usize = generated
        .iter()
        .flat_map(|b| &b.sites)
        .map(|s| s.flows.len())
        .sum();
    let expected_sites: usize = generated.iter().map(|b| b.sites.len()).sum();
    assert!(
        String::from_utf8_lossy(&imported.stderr).contains(&format!(
            "imported 30 businesses, {expected_sites} sites, {expected_flows} flows"
        )),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );

    let store = SqliteStore::open(&data).await.expect("store opens");
    let businesses = store
        .list_businesses(
            &BusinessFilter::default(),
            PageRequest {
                after: None,
                limit: 1000,
            },
        )
        .await
        .expect("businesses")
        .items;
    let mut names: Vec<_> = businesses.iter().map(|b| b.name.clone()).collect();
    let mut expected_names: Vec<_> = generated.iter().map(|b| b.business.name.clone()).collect();
    names.sort();
    expected_names.sort();
    assert_eq!(names, expected_names);

    // The same flows: (direction, category, quantity, unit) counted on both sides.
    let flows = store
        .list_flows(
            &FlowFilter::default(),
            PageRequest {
                after: None,
                limit: 1000,
            },
        )
        .await
        .expect("flows")
        .items;
    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    for f in &flows {
        let key = format!(
            "{} {} {} {}",
            f.direction.as_str(),
            f.category,
            f.quantity.value,
            f.quantity.unit
        );
        *stored.entry(key).or_default() += 1;
    }
    let mut wanted: BTreeMap<String, usize> = BTreeMap::new();
    for f in generated
        .iter()
        .flat_map(|b| &b.sites)
        .flat_map(|s| &s.flows)
    {
        let key = format!(
            "{} {} {} {}",
            f.direction.as_str(),
            f.category,
            f.quantity.value,
            f.quantity.unit
        );
        *wanted.entry(key).or_default() += 1;
    }
    assert_eq!(stored, wanted);
    store.close().await;
}
