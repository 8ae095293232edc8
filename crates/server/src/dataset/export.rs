//! `symbiont export`: writes every business, site and flow as rows (the import format, see
//! [`crate::dataset::rows`] and [`crate::dataset::import::EXTRA_COLUMNS`]) in JSON, CSV or
//! GeoJSON, paging through the store, so that importing the output into an empty store reproduces
//! the data (with new ids).
//!
//! One row per flow; a site without flows is one row with an empty `direction`, a business without
//! sites one row without `site`. A profile given as a schedule is written as that schedule, one
//! given as 168 numbers as a JSON array (JSON text in CSV). Where two businesses share a name (or
//! two sites of a business), `business_ref` (`site_ref`) tells them apart.
//!
//! Export only reads the store. It does not buffer the whole dataset: rows are written as pages
//! arrive (the caller should pass a buffered writer).

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, bail};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;
use symbiont_core::{Business, Flow, GeoPoint, Site, WeeklyProfile};
use symbiont_store::{BusinessFilter, FlowFilter, PageRequest, SiteFilter, Store};
use uuid::Uuid;

use crate::dataset::rows::{COLUMNS, Row};

/// Items per store request.
const PAGE: u32 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// An array of row objects, one row per line.
    Json,
    /// A header row with every column, then one line per row.
    Csv,
    /// A FeatureCollection of Point features (null geometry for a business without sites).
    GeoJson,
}

impl FromStr for ExportFormat {
    type Err = anyhow::Error;
    fn from_str(text: &str) -> anyhow::Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            "geojson" => Ok(Self::GeoJson),
            other => bail!("unknown export format '{other}'; use json, csv or geojson"),
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
            ExportFormat::GeoJson => "geojson",
        })
    }
}

impl ExportFormat {
    /// The format named by a file's extension (`.json`, `.csv`, `.geojson`); JSON without one.
    pub fn from_path(path: &Path) -> anyhow::Result<Self> {
        path.extension()
            .and_then(|e| e.to_str())
            .unwrap_or("json")
            .parse()
            .with_context(|| format!("cannot tell the export format of {}", path.display()))
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportReport {
    pub businesses: usize,
    pub sites: usize,
    pub flows: usize,
}

impl fmt::Display for ExportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} businesses, {} sites, {} flows",
            self.businesses, self.sites, self.flows
        )
    }
}

/// Every column of the row format in export (and CSV header) order.
pub fn columns() -> Vec<&'static str> {
    let mut columns = Vec::with_capacity(COLUMNS.len() + 3);
    for column in COLUMNS {
        columns.push(column);
        match column {
            "business" => columns.push("business_ref"),
            "site" => columns.push("site_ref"),
            "physical_form" => columns.push("attributes"),
            _ => {}
        }
    }
    columns
}

/// One row's non-empty cells in column order; serialises as a JSON object in that order.
struct Cells(Vec<(&'static str, Value)>);

impl Serialize for Cells {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A row to write: its cells and its site's location (for GeoJSON geometry).
struct OutRow {
    cells: Cells,
    location: Option<GeoPoint>,
}

fn out_row(
    columns: &[&'static str],
    business: &Business,
    business_ref: Option<Uuid>,
    site: Option<(&Site, Option<Uuid>)>,
    flow: Option<&Flow>,
) -> anyhow::Result<OutRow> {
    let mut row = Row {
        business: Some(business.name.clone()),
        industry: Some(business.industry.clone()),
        business_description: Some(business.description.clone()).filter(|d| !d.is_empty()),
        contact_name: business.contact.name.clone(),
        contact_email: business.contact.email.clone(),
        contact_phone: business.contact.phone.clone(),
        website: business.website.clone(),
        ..Row::default()
    };
    let mut extras: Vec<(&str, Value)> = Vec::new();
    if let Some(id) = business_ref {
        extras.push(("business_ref", Value::String(id.to_string())));
    }
    if let Some((site, site_ref)) = site {
        row.site = Some(site.name.clone());
        row.address = Some(site.address.clone()).filter(|a| !a.is_empty());
        row.lat = Some(site.location.lat);
        row.lon = Some(site.location.lon);
        if let Some(id) = site_ref {
            extras.push(("site_ref", Value::String(id.to_string())));
        }
    }
    if let Some(f) = flow {
        row.direction = Some(f.direction.as_str().into());
        row.category = Some(f.category.clone());
        row.ewc_code = f.ewc_code.clone();
        row.description = Some(f.description.clone()).filter(|d| !d.is_empty());
        row.quantity = Some(f.quantity.value);
        row.unit = Some(f.quantity.unit.clone());
        row.temperature_c = f.quality.temperature_c;
        row.pressure_bar = f.quality.pressure_bar;
        row.purity_pct = f.quality.purity_pct;
        row.physical_form = match f.quality.physical_form {
            Some(form) => serde_json::to_value(form)?.as_str().map(str::to_string),
            None => None,
        };
        row.profile = match &f.schedule {
            Some(schedule) => Some(Value::String(schedule.clone())),
            // Round the clock is what import assumes without a profile.
            None if f.profile == WeeklyProfile::default() => None,
            None => Some(hourly_values(&f.profile)?),
        };
        row.monthly_factors = f.monthly_factors.map(|m| serde_json::json!(m));
        row.price_eur_per_unit = f.price_eur_per_unit;
        row.max_distance_km = f.max_distance_km;
        row.valid_from = f.valid_from.map(|d| d.to_string());
        row.valid_until = f.valid_until.map(|d| d.to_string());
        row.status = Some(f.status.as_str().into());
        row.anonymous = f.anonymous.then_some(serde_json::Value::Bool(true));
        row.max_proposals = f.max_proposals.map(f64::from);
        row.pays_for_co2 = f.pays_for_co2.then_some(serde_json::Value::Bool(true));
        if !f.quality.attributes.is_empty() {
            extras.push(("attributes", serde_json::to_value(&f.quality.attributes)?));
        }
    }
    let value = serde_json::to_value(&row)?;
    let cells = columns
        .iter()
        .filter_map(|column| {
            let cell = match value.get(column) {
                Some(Value::Number(n)) => Some(whole_number(n)),
                Some(Value::Null) | None => extras
                    .iter()
                    .find(|(key, _)| key == column)
                    .map(|(_, v)| v.clone()),
                Some(other) => Some(other.clone()),
            }?;
            Some((*column, cell))
        })
        .collect();
    Ok(OutRow {
        cells: Cells(cells),
        location: site.map(|(s, _)| s.location),
    })
}

/// `50` rather than `50.0`: the same value to import, easier to read.
fn whole_number(n: &serde_json::Number) -> Value {
    match n.as_f64() {
        // Below 2^53 every whole f64 is exactly an i64.
        Some(x) if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 => Value::from(x as i64),
        _ => Value::Number(n.clone()),
    }
}

/// The 168 hourly values, each written as the shortest decimal that reads back as the same stored
/// value (`0.1`, not the `0.10000000149011612` of its binary form).
fn hourly_values(profile: &WeeklyProfile) -> anyhow::Result<Value> {
    let hours: Vec<f32> = serde_json::from_value(serde_json::to_value(profile)?)?;
    Ok(Value::Array(
        hours
            .iter()
            .map(|h| {
                let shortest: f64 = h.to_string().parse().unwrap_or(f64::from(*h));
                serde_json::Number::from_f64(shortest).map_or(Value::Null, |n| whole_number(&n))
            })
            .collect(),
    ))
}

/// Names shared by more than one business: those rows need a `business_ref`.
async fn shared_business_names(store: &dyn Store) -> anyhow::Result<HashMap<String, usize>> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut after = None;
    loop {
        let page = store
            .list_businesses(
                &BusinessFilter::default(),
                PageRequest { after, limit: PAGE },
            )
            .await
            .context("cannot list businesses")?;
        for business in page.items {
            *counts.entry(business.name).or_default() += 1;
        }
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    counts.retain(|_, n| *n > 1);
    Ok(counts)
}

async fn sites_of(store: &dyn Store, business_id: Uuid) -> anyhow::Result<Vec<Site>> {
    let filter = SiteFilter {
        business_id: Some(business_id),
        near: None,
    };
    let mut sites = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_sites(&filter, PageRequest { after, limit: PAGE })
            .await
            .with_context(|| format!("cannot list the sites of business {business_id}"))?;
        sites.extend(page.items);
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    Ok(sites)
}

async fn flows_of(store: &dyn Store, site_id: Uuid) -> anyhow::Result<Vec<Flow>> {
    let filter = FlowFilter {
        site_id: Some(site_id),
        ..FlowFilter::default()
    };
    let mut flows = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_flows(&filter, PageRequest { after, limit: PAGE })
            .await
            .with_context(|| format!("cannot list the flows of site {site_id}"))?;
        flows.extend(page.items);
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    Ok(flows)
}

/// Calls `each` for every row, business by business, page by page.
async fn walk(
    store: &dyn Store,
    columns: &[&'static str],
    mut each: impl FnMut(OutRow) -> anyhow::Result<()>,
) -> anyhow::Result<ExportReport> {
    let shared_names = shared_business_names(store).await?;
    let mut report = ExportReport::default();
    let mut after = None;
    loop {
        let page = store
            .list_businesses(
                &BusinessFilter::default(),
                PageRequest { after, limit: PAGE },
            )
            .await
            .context("cannot list businesses")?;
        for business in &page.items {
            report.businesses += 1;
            let business_ref = shared_names
                .contains_key(&business.name)
                .then_some(business.id);
            let sites = sites_of(store, business.id).await?;
            if sites.is_empty() {
                each(out_row(columns, business, business_ref, None, None)?)?;
            }
            let mut site_names: HashMap<&str, usize> = HashMap::new();
            for site in &sites {
                *site_names.entry(site.name.as_str()).or_default() += 1;
            }
            for site in &sites {
                report.sites += 1;
                let site_ref = (site_names.get(site.name.as_str()).copied().unwrap_or(0) > 1)
                    .then_some(site.id);
                let flows = flows_of(store, site.id).await?;
                report.flows += flows.len();
                if flows.is_empty() {
                    each(out_row(
                        columns,
                        business,
                        business_ref,
                        Some((site, site_ref)),
                        None,
                    )?)?;
                }
                for flow in &flows {
                    each(out_row(
                        columns,
                        business,
                        business_ref,
                        Some((site, site_ref)),
                        Some(flow),
                    )?)?;
                }
            }
        }
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    Ok(report)
}

/// Writes every business, site and flow to `out` as rows in `format`.
pub async fn export(
    store: &dyn Store,
    out: &mut (dyn Write + Send),
    format: ExportFormat,
) -> anyhow::Result<ExportReport> {
    let columns = columns();
    let report = match format {
        ExportFormat::Json => {
            let mut first = true;
            out.write_all(b"[")?;
            let report = walk(store, &columns, |row| {
                out.write_all(if first { b"\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *out, &row.cells)?;
                first = false;
                Ok(())
            })
            .await?;
            out.write_all(b"\n]\n")?;
            report
        }
        ExportFormat::GeoJson => {
            let mut first = true;
            out.write_all(br#"{"type": "FeatureCollection", "features": ["#)?;
            let report = walk(store, &columns, |row| {
                let properties = Cells(
                    row.cells
                        .0
                        .into_iter()
                        .filter(|(key, _)| *key != "lat" && *key != "lon")
                        .collect(),
                );
                let geometry = row.location.map(|p| Point {
                    kind: "Point",
                    coordinates: [p.lon, p.lat],
                });
                out.write_all(if first { b"\n" } else { b",\n" })?;
                serde_json::to_writer(
                    &mut *out,
                    &Feature {
                        kind: "Feature",
                        geometry,
                        properties,
                    },
                )?;
                first = false;
                Ok(())
            })
            .await?;
            out.write_all(b"\n]}\n")?;
            report
        }
        ExportFormat::Csv => {
            let mut writer = csv::Writer::from_writer(&mut *out);
            writer.write_record(&columns)?;
            let report = walk(store, &columns, |row| {
                let mut cells = row.cells.0.into_iter().peekable();
                let record: Vec<String> = columns
                    .iter()
                    .map(|column| match cells.next_if(|(key, _)| key == column) {
                        Some((_, Value::String(text))) => text,
                        Some((_, other)) => other.to_string(),
                        None => String::new(),
                    })
                    .collect();
                writer.write_record(&record)?;
                Ok(())
            })
            .await?;
            writer.flush()?;
            report
        }
    };
    out.flush()?;
    Ok(report)
}

#[derive(Serialize)]
struct Feature {
    #[serde(rename = "type")]
    kind: &'static str,
    /// Null for a business without sites.
    geometry: Option<Point>,
    properties: Cells,
}

#[derive(Serialize)]
struct Point {
    #[serde(rename = "type")]
    kind: &'static str,
    /// GeoJSON order: longitude first.
    coordinates: [f64; 2],
}
