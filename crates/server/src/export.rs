//! `symbiont export`: writes every business, site and flow as rows (see `rows`), in JSON, CSV or
//! GeoJSON, paging through the store, so that importing the output reproduces the data.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use anyhow::bail;
use serde_json::{Value, json};
use symbiont_core::{Business, Flow, Site};
use symbiont_store::{BusinessFilter, FlowFilter, PageRequest, SiteFilter, Store};

use crate::rows::{COLUMNS, Row};

const PAGE: u32 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Csv,
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

impl ExportFormat {
    pub fn from_path(path: &Path) -> anyhow::Result<Self> {
        path.extension()
            .and_then(|e| e.to_str())
            .unwrap_or("json")
            .parse()
    }
}

#[derive(Debug, Default)]
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

fn row(business: &Business, site: &Site, flow: Option<&Flow>) -> Row {
    let mut row = Row {
        business: Some(business.name.clone()),
        industry: Some(business.industry.clone()),
        business_description: Some(business.description.clone()).filter(|d| !d.is_empty()),
        contact_name: business.contact.name.clone(),
        contact_email: business.contact.email.clone(),
        contact_phone: business.contact.phone.clone(),
        website: business.website.clone(),
        site: Some(site.name.clone()),
        address: Some(site.address.clone()).filter(|a| !a.is_empty()),
        lat: Some(site.location.lat),
        lon: Some(site.location.lon),
        ..Row::default()
    };
    if let Some(f) = flow {
        row.direction = Some(f.direction.as_str().into());
        row.category = Some(f.category.clone());
        row.description = Some(f.description.clone()).filter(|d| !d.is_empty());
        row.quantity = Some(f.quantity.value);
        row.unit = Some(f.quantity.unit.clone());
        row.temperature_c = f.quality.temperature_c;
        row.pressure_bar = f.quality.pressure_bar;
        row.purity_pct = f.quality.purity_pct;
        row.physical_form = f
            .quality
            .physical_form
            .and_then(|p| serde_json::to_value(p).ok()?.as_str().map(str::to_string));
        row.profile = match &f.schedule {
            Some(schedule) => Some(Value::String(schedule.clone())),
            None => serde_json::to_value(&f.profile).ok(),
        };
        row.price_eur_per_unit = f.price_eur_per_unit;
        row.max_distance_km = f.max_distance_km;
        row.valid_from = f.valid_from.map(|d| d.to_string());
        row.valid_until = f.valid_until.map(|d| d.to_string());
        row.status = Some(f.status.as_str().into());
    }
    row
}

/// Calls `each` for every business with its sites and their flows, page by page.
async fn walk(
    store: &dyn Store,
    mut each: impl FnMut(&Business, &Site, &[Flow]) -> anyhow::Result<()>,
) -> anyhow::Result<ExportReport> {
    let mut report = ExportReport::default();
    let mut after = None;
    loop {
        let page = store
            .list_businesses(
                &BusinessFilter::default(),
                PageRequest { after, limit: PAGE },
            )
            .await?;
        for business in &page.items {
            report.businesses += 1;
            let mut site_after = None;
            loop {
                let filter = SiteFilter {
                    business_id: Some(business.id),
                    near: None,
                };
                let sites = store
                    .list_sites(
                        &filter,
                        PageRequest {
                            after: site_after,
                            limit: PAGE,
                        },
                    )
                    .await?;
                for site in &sites.items {
                    report.sites += 1;
                    let mut flows = Vec::new();
                    let mut flow_after = None;
                    loop {
                        let filter = FlowFilter {
                            site_id: Some(site.id),
                            ..FlowFilter::default()
                        };
                        let page = store
                            .list_flows(
                                &filter,
                                PageRequest {
                                    after: flow_after,
                                    limit: PAGE,
                                },
                            )
                            .await?;
                        flows.extend(page.items);
                        match page.next_cursor {
                            Some(c) => flow_after = Some(c),
                            None => break,
                        }
                    }
                    report.flows += flows.len();
                    each(business, site, &flows)?;
                }
                match sites.next_cursor {
                    Some(c) => site_after = Some(c),
                    None => break,
                }
            }
        }
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    Ok(report)
}

fn rows_of(business: &Business, site: &Site, flows: &[Flow]) -> Vec<Row> {
    if flows.is_empty() {
        vec![row(business, site, None)]
    } else {
        flows.iter().map(|f| row(business, site, Some(f))).collect()
    }
}

pub async fn export(
    store: &dyn Store,
    out: &mut (dyn Write + Send),
    format: ExportFormat,
) -> anyhow::Result<ExportReport> {
    match format {
        ExportFormat::Json => {
            let mut first = true;
            writeln!(out, "[")?;
            let report = walk(store, |b, s, flows| {
                for r in rows_of(b, s, flows) {
                    write!(
                        out,
                        "{}{}",
                        if first { "" } else { ",\n" },
                        serde_json::to_string(&r)?
                    )?;
                    first = false;
                }
                Ok(())
            })
            .await?;
            writeln!(out, "\n]")?;
            Ok(report)
        }
        ExportFormat::GeoJson => {
            let mut first = true;
            writeln!(out, "{{\"type\": \"FeatureCollection\", \"features\": [")?;
            let report = walk(store, |b, s, flows| {
                for r in rows_of(b, s, flows) {
                    let mut properties = serde_json::to_value(&r)?;
                    if let Some(map) = properties.as_object_mut() {
                        map.remove("lat");
                        map.remove("lon");
                    }
                    let feature = json!({
                        "type": "Feature",
                        "geometry": { "type": "Point", "coordinates": [s.location.lon, s.location.lat] },
                        "properties": properties,
                    });
                    write!(out, "{}{}", if first { "" } else { ",\n" }, feature)?;
                    first = false;
                }
                Ok(())
            })
            .await?;
            writeln!(out, "\n]}}")?;
            Ok(report)
        }
        ExportFormat::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(COLUMNS)?;
            let report = walk(store, |b, s, flows| {
                for r in rows_of(b, s, flows) {
                    let value = serde_json::to_value(&r)?;
                    let record: Vec<String> = COLUMNS
                        .iter()
                        .map(|c| match &value[*c] {
                            Value::Null => String::new(),
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        })
                        .collect();
                    writer.write_record(&record)?;
                }
                Ok(())
            })
            .await?;
            writer.flush()?;
            Ok(report)
        }
    }
}
