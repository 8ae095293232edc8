//! Import and export against a real SQLite store in a throw-away directory, and the `import`
//! command as a user runs it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use symbiont_core::{Business, Flow, Site, Taxonomy};
use symbiont_server::dataset::export::{ExportFormat, export};
use symbiont_server::dataset::import::{ImportOptions, InvalidRows, Numbering, import_file};
use symbiont_store::sqlite::SqliteStore;
use symbiont_store::{BusinessFilter, FlowFilter, PageRequest, SiteFilter, Store};
use tempfile::TempDir;

use crate::common::BIN;

const STRICT: ImportOptions = ImportOptions {
    skip_invalid: false,
    progress: false,
};

const LENIENT: ImportOptions = ImportOptions {
    skip_invalid: true,
    progress: false,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn taxonomy() -> Taxonomy {
    Taxonomy::builtin().expect("the built-in taxonomy loads")
}

async fn store(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("data"))
        .await
        .expect("store opens")
}

fn write(dir: &TempDir, name: &str, content: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("write the test file");
    path
}

/// The (line, field) pairs of a failed import's problems.
fn problems(error: &anyhow::Error) -> Vec<(usize, String)> {
    error
        .downcast_ref::<InvalidRows>()
        .unwrap_or_else(|| panic!("not an InvalidRows error: {error:#}"))
        .problems
        .iter()
        .map(|p| (p.line, p.field.clone()))
        .collect()
}

fn pairs(expected: &[(usize, &str)]) -> Vec<(usize, String)> {
    expected.iter().map(|(l, f)| (*l, f.to_string())).collect()
}

const ALL: u32 = 500;

async fn all_businesses(store: &SqliteStore) -> Vec<Business> {
    let (mut items, mut after) = (Vec::new(), None);
    loop {
        let page = store
            .list_businesses(
                &BusinessFilter::default(),
                PageRequest { after, limit: ALL },
            )
            .await
            .expect("list businesses");
        items.extend(page.items);
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => return items,
        }
    }
}

async fn all_sites(store: &SqliteStore) -> Vec<Site> {
    let (mut items, mut after) = (Vec::new(), None);
    loop {
        let page = store
            .list_sites(&SiteFilter::default(), PageRequest { after, limit: ALL })
            .await
            .expect("list sites");
        items.extend(page.items);
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => return items,
        }
    }
}

async fn all_flows(store: &SqliteStore) -> Vec<Flow> {
    let (mut items, mut after) = (Vec::new(), None);
    loop {
        let page = store
            .list_flows(&FlowFilter::default(), PageRequest { after, limit: ALL })
            .await
            .expect("list flows");
        items.extend(page.items);
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => return items,
        }
    }
}

/// Everything stored, without ids and timestamps (sites and flows name their business and site),
/// as sorted JSON lines: equal snapshots mean the same businesses, sites and flows.
async fn snapshot(store: &SqliteStore) -> Vec<String> {
    let businesses = all_businesses(store).await;
    let sites = all_sites(store).await;
    let flows = all_flows(store).await;
    let business_names: HashMap<_, _> = businesses.iter().map(|b| (b.id, b.name.clone())).collect();
    let site_names: HashMap<_, _> = sites.iter().map(|s| (s.id, s.name.clone())).collect();
    let strip = |value: Value| -> Value {
        let mut map = value.as_object().cloned().unwrap_or_default();
        for key in [
            "id",
            "business_id",
            "site_id",
            "version",
            "created_at",
            "updated_at",
        ] {
            map.remove(key);
        }
        Value::Object(map)
    };
    let mut lines = Vec::new();
    for b in &businesses {
        lines.push(json!({ "business": strip(json!(b)) }).to_string());
    }
    for s in &sites {
        let of = &business_names[&s.business_id];
        lines.push(json!({ "site": strip(json!(s)), "of": of }).to_string());
    }
    for f in &flows {
        let of = (&business_names[&f.business_id], &site_names[&f.site_id]);
        lines.push(json!({ "flow": strip(json!(f)), "of": of }).to_string());
    }
    lines.sort();
    lines
}

#[tokio::test]
async fn csv_rows_become_businesses_sites_and_flows() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(&dir).await;
    let report = import_file(&store, &taxonomy(), &fixture("good.csv"), STRICT)
        .await
        .expect("imports");
    assert_eq!((report.businesses, report.sites, report.flows), (3, 3, 4));
    assert!(report.skipped.is_empty());
    let counts = store.counts().await.expect("counts");
    assert_eq!((counts.businesses, counts.offers, counts.needs), (3, 2, 2));
    let flows = all_flows(&store).await;
    let need = flows
        .iter()
        .find(|f| f.category == "heat.low_temp" && f.quantity.unit == "MW")
        .expect("the greenhouse's heat need");
    // 1.2 MW is 1,200 kW, the canonical unit of heat power.
    assert!((need.canonical_quantity - 1200.0).abs() < 1e-9);
    assert_eq!(need.canonical_unit, "kW");
}

#[tokio::test]
async fn json_array_and_ndjson_rows_import_with_their_counts() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(&dir).await;
    let report = import_file(&store, &taxonomy(), &fixture("good.json"), STRICT)
        .await
        .expect("imports the JSON array");
    assert_eq!((report.businesses, report.sites, report.flows), (2, 2, 3));
    let report = import_file(&store, &taxonomy(), &fixture("good.ndjson"), STRICT)
        .await
        .expect("imports NDJSON");
    // A site without flows and a business without sites are rows too.
    assert_eq!((report.businesses, report.sites, report.flows), (2, 2, 2));
    let flows = all_flows(&store).await;
    let whey = flows
        .iter()
        .find(|f| f.category == "material.whey")
        .expect("whey");
    assert_eq!(whey.quality.attributes["dry_matter_pct"], json!(6));
    assert_eq!(whey.price_eur_per_unit, Some(-5.0));
    let water = flows
        .iter()
        .find(|f| f.category == "water.process")
        .expect("water");
    assert_eq!(water.status, symbiont_core::FlowStatus::Paused);
}

#[tokio::test]
async fn geojson_points_give_the_site_coordinates() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(&dir).await;
    let report = import_file(&store, &taxonomy(), &fixture("good.geojson"), STRICT)
        .await
        .expect("imports");
    assert_eq!((report.businesses, report.sites, report.flows), (2, 2, 2));
    let sites = all_sites(&store).await;
    let hall = sites.iter().find(|s| s.name == "Halle 1").expect("site");
    assert_eq!((hall.location.lat, hall.location.lon), (51.23, 6.78));

    let with_lat = write(
        &dir,
        "lat.geojson",
        r#"{"type": "FeatureCollection", "features": [
{"type": "Feature", "geometry": {"type": "Point", "coordinates": [6.7, 51.2]},
 "properties": {"business": "A", "industry": "C10.51", "site": "S", "lat": 51.2}}
]}"#,
    );
    let error = import_file(&store, &taxonomy(), &with_lat, STRICT)
        .await
        .expect_err("lat is not a property");
    assert_eq!(problems(&error), pairs(&[(2, "properties")]));
}

#[tokio::test]
async fn every_bad_csv_row_is_reported_with_its_line_and_nothing_is_imported() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(&dir).await;
    let error = import_file(&store, &taxonomy(), &fixture("bad.csv"), STRICT)
        .await
        .expect_err("bad rows");
    // The header is line 1 and the good row line 2.
    assert_eq!(
        problems(&error),
        pairs(&[(3, "category"), (4, "unit"), (5, "lat"), (6, "quantity")])
    );
    let message = format!("{error:#}");
    assert!(message.contains("nothing was imported"), "{message}");
    assert!(message.contains("line 4: unit: "), "{message}");
    assert_eq!(store.counts().await.expect("counts").businesses, 0);
}

#[tokio::test]
async fn bad_json_rows_are_reported_at_the_line_where_they_start() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(&dir).await;
    let error = import_file(&store, &taxonomy(), &fixture("bad.json"), STRICT)
        .await
        .expect_err("bad rows");
    assert_eq!(
        problems(&error),
        pairs(&[
            (6, "category"),
            (10, "unit"),
            (15, "lat"),
            (19, "temprature_c"),
            (19, "temperature_c"),
        ])
    );
    let message = format!("{error:#}");
    assert!(
        message.contains("line 19: temprature_c: unknown key; did you mean 'temperature_c'?"),
        "{message}"
    );
    assert_eq!(store.counts().await.expect("counts").businesses, 0);
}

#[tokio::test]
async fn skip_invalid_imports_the_valid_rows_and_reports_the_rest() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(&dir).await;
    let report = import_file(&store, &taxonomy(), &fixture("bad.json"), LENIENT)
        .await
        .expect("imports the good rows");
    assert_eq!((report.businesses, report.sites, report.flows), (2, 2, 2));
    let skipped: Vec<usize> = report.skipped.iter().map(|e| e.line).collect();
    assert_eq!(skipped, [6, 10, 15, 19, 19]);
    let names: Vec<String> = all_businesses(&store)
        .await
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(
        names.len(),
        2,
        "a skipped row leaves no business behind: {names:?}"
    );
    assert!(
        names.contains(&"Good Dairy".to_string()) && names.contains(&"Good Greenhouse".to_string())
    );

    let report = import_file(&store, &taxonomy(), &fixture("bad.csv"), LENIENT)
        .await
        .expect("imports the good row");
    assert_eq!((report.businesses, report.flows), (1, 1));
    assert_eq!(report.skipped.len(), 4);
}

#[tokio::test]
async fn an_unknown_csv_column_is_named_on_line_1_with_the_row_errors_and_skipping_cannot_hide_it()
{
    let dir = TempDir::new().expect("temp dir");
    let store = store(&dir).await;
    let csv = write(
        &dir,
        "odd.csv",
        "business,industry,site,lat,lon,direction,category,quantity,unit,temprature_c,colour\n\
         A,C10.51,S,51.2,6.8,offer,heat.low_temp,5,t/day,70,red\n\
         B,C10.51,S,91,6.8,,,,,,\n",
    );
    let error = import_file(&store, &taxonomy(), &csv, STRICT)
        .await
        .expect_err("unknown columns");
    let found = problems(&error);
    assert_eq!(
        found[..2],
        pairs(&[(1, "temprature_c"), (1, "colour")])[..],
        "{error:#}"
    );
    assert!(found.contains(&(2, "unit".to_string())), "{error:#}");
    assert!(found.contains(&(3, "lat".to_string())), "{error:#}");
    let message = format!("{error:#}");
    assert!(
        message.contains("did you mean 'temperature_c'?"),
        "{message}"
    );
    assert!(
        message.contains("the columns are: business, industry"),
        "{message}"
    );

    let error = import_file(&store, &taxonomy(), &csv, LENIENT)
        .await
        .expect_err("a column cannot be skipped");
    assert!(format!("{error:#}").contains("skips rows, not columns"));
    assert_eq!(store.counts().await.expect("counts").businesses, 0);
}

#[tokio::test]
async fn rows_that_disagree_about_their_business_or_site_are_errors_on_the_later_row() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(&dir).await;
    let csv = write(
        &dir,
        "disagree.csv",
        "business,industry,site,lat,lon\n\
         A,C10.51,S,51.2,6.8\n\
         A,C11.05,S,51.2,6.8\n\
         A,C10.51,S,51.3,6.8\n\
         A,10.51,T,51.3,6.8\n",
    );
    let error = import_file(&store, &taxonomy(), &csv, STRICT)
        .await
        .expect_err("disagreeing rows");
    // Line 5 agrees: "10.51" is the same NACE code as "C10.51".
    assert_eq!(problems(&error), pairs(&[(3, "industry"), (4, "lat")]));
    assert!(format!("{error:#}").contains("is on line 2 with another industry"));
}

#[tokio::test]
async fn minified_json_is_reported_by_row_index() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(&dir).await;
    let json = write(
        &dir,
        "min.json",
        r#"[{"business":"A","industry":"C10.51"},{"business":"B","industry":"nope"}]"#,
    );
    let error = import_file(&store, &taxonomy(), &json, STRICT)
        .await
        .expect_err("bad industry");
    let invalid = error.downcast_ref::<InvalidRows>().expect("InvalidRows");
    assert_eq!(invalid.problems[0].numbering, Numbering::Row);
    assert_eq!(problems(&error), pairs(&[(2, "industry")]));
    assert!(format!("{error:#}").contains("row 2: industry: "));
}

#[tokio::test]
async fn the_error_lists_at_most_50_problems_then_counts_the_rest() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(&dir).await;
    let mut csv = String::from("business,industry\n");
    for i in 0..60 {
        csv.push_str(&format!("Firm {i},X99\n"));
    }
    let path = write(&dir, "many.csv", &csv);
    let error = import_file(&store, &taxonomy(), &path, STRICT)
        .await
        .expect_err("bad industries");
    assert_eq!(problems(&error).len(), 60);
    let message = format!("{error:#}");
    assert!(message.contains("line 51: industry"), "{message}");
    assert!(!message.contains("line 52: industry"), "{message}");
    assert!(message.contains("and 10 more"), "{message}");
}

#[tokio::test]
async fn files_that_are_not_their_format_are_refused() {
    let dir = TempDir::new().expect("temp dir");
    let store = store(&dir).await;
    let txt = write(&dir, "data.txt", "");
    let message = format!(
        "{:#}",
        import_file(&store, &taxonomy(), &txt, STRICT)
            .await
            .expect_err("unknown extension")
    );
    assert!(message.contains(".csv"), "{message}");
    let object = write(&dir, "object.json", r#"{"business": "A"}"#);
    let message = format!(
        "{:#}",
        import_file(&store, &taxonomy(), &object, STRICT)
            .await
            .expect_err("not an array")
    );
    assert!(message.contains("JSON array"), "{message}");
    let missing = dir.path().join("missing.csv");
    assert!(
        import_file(&store, &taxonomy(), &missing, STRICT)
            .await
            .is_err()
    );
}

/// 168 hourly values: 30 % at night (0.3 has no exact binary form), full load by day.
fn hourly_profile() -> Value {
    let hours: Vec<f64> = (0..168)
        .map(|h| {
            if (6..22).contains(&(h % 24)) {
                1.0
            } else {
                0.3
            }
        })
        .collect();
    json!(hours)
}

/// Rows exercising every column: full contact details, a 168-value profile, attributes, a paused
/// flow with dates and a gate fee, two sites of one name told apart by `site_ref`, a site without
/// flows and a business without sites.
fn rich_rows() -> Value {
    let business = json!({
        "business": "Werk Eins GmbH", "industry": "C20.14", "business_description": "Chemicals",
        "contact_name": "B. Roth", "contact_email": "roth@werk-eins.example",
        "contact_phone": "+49 201 1234", "website": "https://werk-eins.example"
    });
    let with = |extra: Value| {
        let mut row = business.as_object().cloned().unwrap_or_default();
        row.extend(extra.as_object().cloned().unwrap_or_default());
        Value::Object(row)
    };
    json!([
        with(json!({
            "site": "Lager", "site_ref": "east", "address": "Ostufer 1", "lat": 51.5, "lon": 7.0,
            "direction": "offer", "category": "steam.low_pressure", "description": "Surplus steam",
            "quantity": 2.5, "unit": "MW", "temperature_c": 160, "pressure_bar": 4,
            "physical_form": "gas", "profile": hourly_profile(), "price_eur_per_unit": 12.5,
            "max_distance_km": 2, "valid_from": "2026-03-01", "valid_until": "2027-02-28",
            "status": "paused", "attributes": { "condensate_return": true }
        })),
        with(json!({ "site": "Lager", "site_ref": "west", "lat": 51.5, "lon": 6.9 })),
        with(json!({
            "site": "Hof", "lat": 51.51, "lon": 7.01, "direction": "need",
            "category": "material.solvents", "quantity": 40, "unit": "t/year", "purity_pct": 99.5,
            "profile": "Mon-Fri 07:00-16:00", "price_eur_per_unit": -80
        })),
        { "business": "Leere Hülle AG", "industry": "M70.10" }
    ])
}

#[tokio::test]
async fn export_then_import_reproduces_the_data_in_every_format() {
    let dir = TempDir::new().expect("temp dir");
    let source = store(&dir).await;
    let taxonomy = taxonomy();
    let rich = write(&dir, "rich.json", &rich_rows().to_string());
    // Imported twice: businesses with the same name must stay apart through the round trip.
    for file in [
        rich.clone(),
        rich,
        fixture("good.csv"),
        fixture("good.geojson"),
        fixture("good.json"),
        fixture("good.ndjson"),
    ] {
        import_file(&source, &taxonomy, &file, STRICT)
            .await
            .unwrap_or_else(|e| panic!("imports {}: {e:#}", file.display()));
    }
    let expected = snapshot(&source).await;
    let counts = source.counts().await.expect("counts");
    let expected_counts = (
        counts.businesses as usize,
        counts.sites as usize,
        (counts.offers + counts.needs) as usize,
    );
    assert_eq!(expected_counts, (13, 15, 15));
    for format in [ExportFormat::Json, ExportFormat::Csv, ExportFormat::GeoJson] {
        let path = dir.path().join(format!("export.{format}"));
        let mut file = std::fs::File::create(&path).expect("create");
        let report = export(&source, &mut file, format).await.expect("exports");
        assert_eq!(
            (report.businesses, report.sites, report.flows),
            expected_counts,
            "{format}"
        );
        let target_dir = TempDir::new().expect("temp dir");
        let target = store(&target_dir).await;
        let imported = import_file(&target, &taxonomy, &path, STRICT)
            .await
            .unwrap_or_else(|e| panic!("re-imports {format}: {e:#}"));
        assert_eq!(
            (imported.businesses, imported.sites, imported.flows),
            expected_counts,
            "{format}"
        );
        assert_eq!(snapshot(&target).await, expected, "{format}");
    }
}

#[tokio::test]
async fn export_pages_through_more_businesses_than_one_page_holds() {
    let dir = TempDir::new().expect("temp dir");
    let source = store(&dir).await;
    let taxonomy = taxonomy();
    let mut ndjson = String::new();
    for i in 0..1100 {
        let row = json!({
            "business": format!("Firma {i:04}"), "industry": "C25.62", "site": "Werk",
            "lat": 50.0 + f64::from(i) / 1000.0, "lon": 7.0, "direction": "offer",
            "category": "material.metal_ferrous", "quantity": 10 + i, "unit": "t/year"
        });
        ndjson.push_str(&format!("{row}\n"));
    }
    let path = write(&dir, "many.ndjson", &ndjson);
    import_file(&source, &taxonomy, &path, STRICT)
        .await
        .expect("imports");
    let mut out = Vec::new();
    let report = export(&source, &mut out, ExportFormat::Csv)
        .await
        .expect("exports");
    assert_eq!(
        (report.businesses, report.sites, report.flows),
        (1100, 1100, 1100)
    );
    let text = String::from_utf8(out).expect("UTF-8");
    assert_eq!(text.lines().count(), 1101, "a header and one line per flow");
}

#[test]
fn export_formats_come_from_names_and_extensions() {
    assert_eq!(
        "GeoJSON".parse::<ExportFormat>().ok(),
        Some(ExportFormat::GeoJson)
    );
    assert_eq!(
        ExportFormat::from_path(Path::new("out/all.csv")).ok(),
        Some(ExportFormat::Csv)
    );
    assert_eq!(
        ExportFormat::from_path(Path::new("all")).ok(),
        Some(ExportFormat::Json)
    );
    assert!(ExportFormat::from_path(Path::new("all.xlsx")).is_err());
}

#[test]
fn the_import_command_lists_bad_rows_and_exits_non_zero() {
    let dir = TempDir::new().expect("temp dir");
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("import")
        .arg(fixture("bad.csv"))
        .env_remove("SYMBIONT_CONFIG")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("nothing was imported") && stderr.contains("line 4: unit"),
        "{stderr}"
    );
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["import", "--skip-invalid"])
        .arg(fixture("bad.csv"))
        .env_remove("SYMBIONT_CONFIG")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("line 6: quantity"), "{stderr}");
}

#[tokio::test]
async fn a_waste_code_imports_as_its_category_and_hazard_and_survives_the_round_trip() {
    let dir = TempDir::new().expect("temp dir");
    let source = store(&dir).await;
    let taxonomy = taxonomy();
    let rows = [
        json!({ "business": "Raffinerie", "industry": "C19.20", "site": "Werk", "lat": 51.5,
                "lon": 7.0, "direction": "offer", "ewc_code": "160802", "quantity": 40,
                "unit": "t/year" }),
        json!({ "business": "Zementwerk", "industry": "C23.51", "site": "Werk", "lat": 51.6,
                "lon": 7.1, "direction": "need", "category": "material.fly_ash",
                "ewc_code": "10 01 02", "quantity": 1000, "unit": "t/year" }),
    ];
    let ndjson: String = rows.iter().map(|r| format!("{r}\n")).collect();
    let path = write(&dir, "waste.ndjson", &ndjson);
    import_file(&source, &taxonomy, &path, STRICT)
        .await
        .expect("imports");
    let mut flows = all_flows(&source).await;
    flows.sort_by(|a, b| a.category.cmp(&b.category));
    let summary: Vec<_> = flows
        .iter()
        .map(|f| (f.category.as_str(), f.ewc_code.as_deref(), f.hazardous))
        .collect();
    assert_eq!(
        summary,
        [
            ("material.fly_ash", Some("10 01 02"), false),
            ("material.spent_catalyst_base_metal", Some("16 08 02"), true),
        ]
    );
    let mut out = Vec::new();
    export(&source, &mut out, ExportFormat::Json)
        .await
        .expect("exports");
    let text = String::from_utf8(out).expect("UTF-8");
    assert!(
        text.contains("\"ewc_code\": \"16 08 02\"") || text.contains("\"ewc_code\":\"16 08 02\""),
        "{text}"
    );
    // A mismatched code is a row problem naming the category.
    let bad = write(
        &dir,
        "bad-waste.ndjson",
        &format!(
            "{}\n",
            json!({ "business": "X", "industry": "C19.20", "site": "S", "lat": 51.5, "lon": 7.0,
                    "direction": "offer", "category": "material.fly_ash", "ewc_code": "16 08 02",
                    "quantity": 1, "unit": "t/year" })
        ),
    );
    let error = import_file(&source, &taxonomy, &bad, STRICT)
        .await
        .expect_err("mismatch");
    assert_eq!(problems(&error), pairs(&[(1, "category")]), "{error:#}");
}

/// The engine-v2 flow settings (seasons, the number of proposals, paying for CO2) survive an export
/// and an import through CSV, the format that holds them as text.
#[tokio::test]
async fn monthly_factors_proposals_and_co2_payment_survive_the_csv_round_trip() {
    let dir = TempDir::new().expect("temp dir");
    let source = store(&dir).await;
    let taxonomy = taxonomy();
    let row = json!({ "business": "Stadtwerke", "industry": "D35.30", "site": "Netz", "lat": 51.5,
        "lon": 7.0, "direction": "need", "category": "heat.low_temp", "temperature_c": 70,
        "quantity": 20, "unit": "MW",
        "monthly_factors": [2, 2, 1.6, 1, 0.4, 0.2, 0.2, 0.2, 0.4, 1, 1.6, 2],
        "max_proposals": 25, "pays_for_co2": true });
    let path = write(&dir, "seasonal.ndjson", &format!("{row}\n"));
    import_file(&source, &taxonomy, &path, STRICT)
        .await
        .expect("imports");
    let before = all_flows(&source).await;
    assert_eq!(before.len(), 1);
    let flow = &before[0];
    assert_eq!(flow.max_proposals, Some(25));
    assert!(flow.pays_for_co2);
    let factors = flow.monthly_factors.expect("seasonal");
    assert_eq!(
        (factors[0], factors[6]),
        (1.0, 0.1),
        "scaled to a peak of 1"
    );

    let mut out = Vec::new();
    export(&source, &mut out, ExportFormat::Csv)
        .await
        .expect("exports");
    let csv = write(
        &dir,
        "seasonal.csv",
        &String::from_utf8(out).expect("UTF-8"),
    );
    let target_dir = TempDir::new().expect("temp dir");
    let target = store(&target_dir).await;
    import_file(&target, &taxonomy, &csv, STRICT)
        .await
        .expect("re-imports");
    let after = all_flows(&target).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].monthly_factors, flow.monthly_factors);
    assert_eq!(after[0].max_proposals, Some(25));
    assert!(after[0].pays_for_co2);
    assert_eq!(after[0].annual_amount, flow.annual_amount);
}
