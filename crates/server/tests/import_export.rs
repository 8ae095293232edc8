//! Import and export against a real SQLite store, and the `import` command as a user runs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use symbiont_core::Taxonomy;
use symbiont_server::export::{ExportFormat, export};
use symbiont_server::import::{ImportOptions, import_file};
use symbiont_store::sqlite::SqliteStore;
use symbiont_store::{FlowFilter, PageRequest, Store};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

const STRICT: ImportOptions = ImportOptions {
    skip_invalid: false,
    progress: false,
};

async fn store(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("data"))
        .await
        .expect("store opens")
}

#[tokio::test]
async fn csv_and_geojson_rows_become_businesses_sites_and_flows() {
    let dir = common::temp_dir();
    let store = store(&dir).await;
    let taxonomy = Taxonomy::builtin().expect("taxonomy");
    let report = import_file(&store, &taxonomy, &fixture("good.csv"), STRICT)
        .await
        .expect("imports");
    assert_eq!((report.businesses, report.sites, report.flows), (3, 3, 4));
    let report = import_file(&store, &taxonomy, &fixture("good.geojson"), STRICT)
        .await
        .expect("imports");
    assert_eq!((report.businesses, report.sites, report.flows), (2, 2, 2));
    let counts = store.counts().await.expect("counts");
    assert_eq!((counts.businesses, counts.offers, counts.needs), (5, 3, 3));
    let flows = store
        .list_flows(
            &FlowFilter {
                category: Some("heat.heat_pump_source".into()),
                ..Default::default()
            },
            PageRequest {
                after: None,
                limit: 10,
            },
        )
        .await
        .expect("list");
    // 12,000 MWh a year, round the clock: 12,000,000 kWh / 8,766 h ≈ 1,369 kW.
    assert!((flows.items[0].canonical_quantity - 12_000_000.0 / (168.0 * 52.1775)).abs() < 1e-6);
}

#[tokio::test]
async fn every_bad_row_is_reported_with_its_line_and_nothing_is_imported() {
    let dir = common::temp_dir();
    let store = store(&dir).await;
    let taxonomy = Taxonomy::builtin().expect("taxonomy");
    let error = import_file(&store, &taxonomy, &fixture("bad.csv"), STRICT)
        .await
        .expect_err("bad rows");
    let message = format!("{error:#}");
    for expected in [
        "line 3: category",
        "line 4: unit",
        "line 5: lat",
        "line 6: quantity",
    ] {
        assert!(
            message.contains(expected),
            "missing '{expected}' in:\n{message}"
        );
    }
    assert!(
        !message.contains("line 2"),
        "the good row is not reported:\n{message}"
    );
    assert_eq!(
        store.counts().await.expect("counts").businesses,
        0,
        "nothing imported"
    );

    let lenient = ImportOptions {
        skip_invalid: true,
        progress: false,
    };
    let report = import_file(&store, &taxonomy, &fixture("bad.csv"), lenient)
        .await
        .expect("imports the rest");
    assert_eq!((report.businesses, report.flows), (1, 1));
    assert_eq!(report.skipped.len(), 4);
    assert_eq!(
        store.counts().await.expect("counts").businesses,
        1,
        "a skipped row leaves no business behind"
    );
}

#[tokio::test]
async fn unknown_columns_and_formats_are_refused() {
    let dir = common::temp_dir();
    let store = store(&dir).await;
    let taxonomy = Taxonomy::builtin().expect("taxonomy");
    let csv = dir.path().join("odd.csv");
    std::fs::write(
        &csv,
        "business,industry,site,lat,lon,colour\nA,C10.51,S,1,1,red\n",
    )
    .expect("write");
    let message = format!(
        "{:#}",
        import_file(&store, &taxonomy, &csv, STRICT)
            .await
            .expect_err("unknown column")
    );
    assert!(message.contains("'colour'"), "{message}");
    let json = dir.path().join("odd.json");
    std::fs::write(
        &json,
        r#"[{"business":"A","industry":"C10.51","site":"S","lat":1,"lon":1,"colour":"red"}]"#,
    )
    .expect("write");
    let message = format!(
        "{:#}",
        import_file(&store, &taxonomy, &json, STRICT)
            .await
            .expect_err("unknown key")
    );
    assert!(message.contains("row 1: colour"), "{message}");
    let txt = dir.path().join("data.txt");
    std::fs::write(&txt, "").expect("write");
    assert!(import_file(&store, &taxonomy, &txt, STRICT).await.is_err());
}

#[tokio::test]
async fn export_then_import_reproduces_the_data_in_every_format() {
    let dir = common::temp_dir();
    let source = store(&dir).await;
    let taxonomy = Taxonomy::builtin().expect("taxonomy");
    import_file(&source, &taxonomy, &fixture("good.csv"), STRICT)
        .await
        .expect("imports");
    import_file(&source, &taxonomy, &fixture("good.geojson"), STRICT)
        .await
        .expect("imports");
    let quantities = |flows: Vec<symbiont_core::Flow>| {
        let mut q: Vec<(String, i64)> = flows
            .iter()
            .map(|f| {
                (
                    f.category.clone(),
                    (f.canonical_quantity * 1000.0).round() as i64,
                )
            })
            .collect();
        q.sort();
        q
    };
    let all = PageRequest {
        after: None,
        limit: 1000,
    };
    let expected = quantities(
        source
            .list_flows(&FlowFilter::default(), all)
            .await
            .expect("list")
            .items,
    );
    for (format, extension) in [
        (ExportFormat::Json, "json"),
        (ExportFormat::Csv, "csv"),
        (ExportFormat::GeoJson, "geojson"),
    ] {
        let path = dir.path().join(format!("export.{extension}"));
        let mut file = std::fs::File::create(&path).expect("create");
        let report = export(&source, &mut file, format).await.expect("exports");
        assert_eq!((report.businesses, report.sites, report.flows), (5, 5, 6));
        let target_dir = common::temp_dir();
        let target = store(&target_dir).await;
        let imported = import_file(&target, &taxonomy, &path, STRICT)
            .await
            .expect("re-imports");
        assert_eq!(
            (imported.businesses, imported.sites, imported.flows),
            (5, 5, 6),
            "{extension}"
        );
        let got = quantities(
            target
                .list_flows(&FlowFilter::default(), all)
                .await
                .expect("list")
                .items,
        );
        assert_eq!(got, expected, "{extension}");
    }
}

#[test]
fn the_import_command_lists_bad_rows_and_exits_non_zero() {
    let dir = common::temp_dir();
    let output = Command::new(common::BIN)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("import")
        .arg(fixture("bad.csv"))
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("nothing was imported") && stderr.contains("line 4: unit"),
        "{stderr}"
    );
    let output = Command::new(common::BIN)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["import", "--skip-invalid"])
        .arg(fixture("good.csv"))
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("imported 3 businesses, 3 sites, 4 flows")
    );
}
