//! `symbiont import FILE`: reads rows (see `rows`) from JSON, NDJSON, CSV or GeoJSON, validates
//! every row with the same rules as the API, and inserts everything in one transaction. When any
//! row is bad nothing is imported (all bad rows are reported with their line or row number), unless
//! `skip_invalid` is set. Imports always create new businesses; they do not merge with stored ones.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};
use chrono::{NaiveDate, Utc};
use serde_json::{Map, Value};
use symbiont_core::model::FlowIdentity;
use symbiont_core::{
    Business, BusinessDraft, Contact, Direction, Flow, FlowDraft, FlowStatus, GeoPoint,
    PhysicalForm, Quality, Quantity, Site, SiteDraft, Taxonomy,
};
use symbiont_store::Store;
use uuid::Uuid;

use crate::rows::{COLUMNS, NUMERIC_COLUMNS, Row};

/// Reported bad rows are capped at this many lines in an error message.
const MAX_LISTED: usize = 50;

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    pub skip_invalid: bool,
    /// Show a progress bar (on stderr).
    pub progress: bool,
}

/// One problem of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Where the row is: `line 7` (CSV, NDJSON) or `row 3` (JSON arrays, GeoJSON features).
    pub position: String,
    pub field: String,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.position, self.field, self.message)
    }
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub businesses: usize,
    pub sites: usize,
    pub flows: usize,
    pub skipped: Vec<RowError>,
}

/// A raw row: its position for messages and its fields.
struct RawRow {
    position: String,
    fields: Map<String, Value>,
}

fn read_rows(path: &Path) -> anyhow::Result<Vec<RawRow>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let object = |value: Value, position: String| match value {
        Value::Object(fields) => Ok(RawRow { position, fields }),
        _ => bail!("{position}: a row must be a JSON object"),
    };
    match extension.as_str() {
        "json" => {
            let rows: Vec<Value> = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a JSON array of rows", path.display()))?;
            rows.into_iter()
                .enumerate()
                .map(|(i, v)| object(v, format!("row {}", i + 1)))
                .collect()
        }
        "ndjson" | "jsonl" => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                let value: Value = serde_json::from_str(line)
                    .with_context(|| format!("line {}: not JSON", i + 1))?;
                object(value, format!("line {}", i + 1))
            })
            .collect(),
        "csv" => read_csv(&text),
        "geojson" => read_geojson(&text),
        _ => bail!(
            "{}: unknown format; use .json, .ndjson, .csv or .geojson",
            path.display()
        ),
    }
}

fn read_csv(text: &str) -> anyhow::Result<Vec<RawRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .context("CSV has no header row")?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let unknown: Vec<&String> = headers
        .iter()
        .filter(|h| !COLUMNS.contains(&h.as_str()))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "line 1: unknown column(s) {}; known columns: {}",
            unknown
                .iter()
                .map(|h| format!("'{h}'"))
                .collect::<Vec<_>>()
                .join(", "),
            COLUMNS.join(", ")
        );
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.context("CSV is malformed")?;
        let line = record.position().map_or(0, |p| p.line());
        let mut fields = Map::new();
        for (header, value) in headers.iter().zip(record.iter()) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let value = if NUMERIC_COLUMNS.contains(&header.as_str()) {
                match value.parse::<f64>() {
                    Ok(n) => serde_json::Number::from_f64(n)
                        .map_or(Value::String(value.into()), Value::Number),
                    // Left as text: the row check reports it as not a number, naming the column.
                    Err(_) => Value::String(value.into()),
                }
            } else if header == "profile" && value.starts_with('[') {
                serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()))
            } else {
                Value::String(value.into())
            };
            fields.insert(header.clone(), value);
        }
        rows.push(RawRow {
            position: format!("line {line}"),
            fields,
        });
    }
    Ok(rows)
}

fn read_geojson(text: &str) -> anyhow::Result<Vec<RawRow>> {
    let collection: Value = serde_json::from_str(text).context("GeoJSON is not valid JSON")?;
    if collection["type"] != "FeatureCollection" {
        bail!("GeoJSON must be a FeatureCollection");
    }
    let features = collection["features"]
        .as_array()
        .context("GeoJSON has no features array")?;
    let mut rows = Vec::new();
    for (i, feature) in features.iter().enumerate() {
        let position = format!("row {}", i + 1);
        let mut fields = match &feature["properties"] {
            Value::Object(map) => map.clone(),
            Value::Null => Map::new(),
            _ => bail!("{position}: properties must be an object"),
        };
        let coordinates = feature["geometry"]["coordinates"].as_array();
        match (feature["geometry"]["type"].as_str(), coordinates) {
            (Some("Point"), Some(c)) if c.len() >= 2 => {
                fields.insert("lon".into(), c[0].clone());
                fields.insert("lat".into(), c[1].clone());
            }
            _ => bail!("{position}: geometry must be a Point [lon, lat]"),
        }
        rows.push(RawRow { position, fields });
    }
    Ok(rows)
}

/// A row turned into drafts, before ids are given.
struct ParsedRow {
    business: BusinessDraft,
    site_name: String,
    site: SiteDraft,
    flow: Option<FlowDraft>,
}

fn error(position: &str, field: &str, message: impl Into<String>) -> RowError {
    RowError {
        position: position.to_string(),
        field: field.to_string(),
        message: message.into(),
    }
}

fn parse_row(raw: RawRow) -> Result<ParsedRow, Vec<RowError>> {
    let position = raw.position;
    let row: Row = serde_path_to_error::deserialize(Value::Object(raw.fields)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
            .map_or(path, str::to_string);
        vec![error(&position, &field, message)]
    })?;
    let mut errors = Vec::new();
    let mut required = |value: &Option<String>, field: &str| -> String {
        match value.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => {
                errors.push(error(&position, field, "is required"));
                String::new()
            }
        }
    };
    let business_name = required(&row.business, "business");
    let industry = required(&row.industry, "industry");
    let site_name = required(&row.site, "site");
    let business = BusinessDraft {
        name: business_name,
        industry,
        description: row.business_description.clone().unwrap_or_default(),
        contact: Contact {
            name: row.contact_name.clone(),
            email: row.contact_email.clone(),
            phone: row.contact_phone.clone(),
        },
        website: row.website.clone(),
    };
    let business = match business.validate() {
        Ok(b) => b,
        Err(e) => {
            errors.extend(
                e.0.into_iter()
                    .map(|f| error(&position, &business_field(&f.field), f.message)),
            );
            BusinessDraft {
                name: String::new(),
                industry: String::new(),
                description: String::new(),
                contact: Contact::default(),
                website: None,
            }
        }
    };
    let (lat, lon) = match (row.lat, row.lon) {
        (Some(lat), Some(lon)) => (lat, lon),
        _ => {
            errors.push(error(&position, "lat", "lat and lon are required"));
            (0.0, 0.0)
        }
    };
    let site = SiteDraft {
        name: site_name.clone(),
        address: row.address.clone().unwrap_or_default(),
        location: GeoPoint { lat, lon },
    };
    if let Err(e) = site.clone().validate() {
        errors.extend(e.0.into_iter().map(|f| {
            error(
                &position,
                f.field.trim_start_matches("location."),
                f.message,
            )
        }));
    }
    let flow = match row
        .direction
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => None,
        Some(direction) => match flow_draft(&row, direction) {
            Ok(draft) => Some(draft),
            Err(mut e) => {
                for err in &mut e {
                    err.position = position.clone();
                }
                errors.extend(e);
                None
            }
        },
    };
    if errors.is_empty() {
        Ok(ParsedRow {
            business,
            site_name,
            site,
            flow,
        })
    } else {
        Err(errors)
    }
}

fn business_field(field: &str) -> String {
    match field {
        "name" => "business".into(),
        "description" => "business_description".into(),
        other => other.replace("contact.", "contact_"),
    }
}

fn flow_draft(row: &Row, direction: &str) -> Result<FlowDraft, Vec<RowError>> {
    let mut errors = Vec::new();
    let direction = match direction {
        "offer" => Direction::Offer,
        "need" => Direction::Need,
        other => {
            errors.push(error(
                "",
                "direction",
                format!("'{other}' is neither offer nor need"),
            ));
            Direction::Offer
        }
    };
    let date = |value: &Option<String>, field: &str, errors: &mut Vec<RowError>| {
        value
            .as_deref()
            .and_then(|text| match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push(error(
                        "",
                        field,
                        format!("'{text}' is not a date (YYYY-MM-DD)"),
                    ));
                    None
                }
            })
    };
    let valid_from = date(&row.valid_from, "valid_from", &mut errors);
    let valid_until = date(&row.valid_until, "valid_until", &mut errors);
    let status = match row.status.as_deref() {
        None | Some("active") => FlowStatus::Active,
        Some("paused") => FlowStatus::Paused,
        Some(other) => {
            errors.push(error(
                "",
                "status",
                format!("'{other}' is neither active nor paused"),
            ));
            FlowStatus::Active
        }
    };
    let physical_form =
        row.physical_form.as_deref().and_then(|form| {
            match serde_json::from_value::<PhysicalForm>(Value::String(form.to_string())) {
                Ok(f) => Some(f),
                Err(_) => {
                    errors.push(error(
                        "",
                        "physical_form",
                        format!("'{form}' is not solid, liquid, gas, slurry or energy"),
                    ));
                    None
                }
            }
        });
    if row.category.is_none() {
        errors.push(error("", "category", "is required for a flow"));
    }
    if row.quantity.is_none() {
        errors.push(error("", "quantity", "is required for a flow"));
    }
    if row.unit.is_none() {
        errors.push(error("", "unit", "is required for a flow"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(FlowDraft {
        site_id: Uuid::nil(),
        direction,
        category: row.category.clone().unwrap_or_default(),
        description: row.description.clone().unwrap_or_default(),
        quality: Quality {
            temperature_c: row.temperature_c,
            pressure_bar: row.pressure_bar,
            purity_pct: row.purity_pct,
            physical_form,
            ..Quality::default()
        },
        quantity: Quantity {
            value: row.quantity.unwrap_or_default(),
            unit: row.unit.clone().unwrap_or_default(),
        },
        profile: row.profile.clone(),
        price_eur_per_unit: row.price_eur_per_unit,
        max_distance_km: row.max_distance_km,
        valid_from,
        valid_until,
        status,
    })
}

/// Row fields of a flow's validation errors (`quantity.unit` is the `unit` column).
fn flow_field(field: &str) -> String {
    match field {
        "quantity.value" => "quantity".into(),
        "quantity.unit" => "unit".into(),
        other => other.trim_start_matches("quality.").to_string(),
    }
}

pub async fn import_file(
    store: &dyn Store,
    taxonomy: &Taxonomy,
    path: &Path,
    options: ImportOptions,
) -> anyhow::Result<ImportReport> {
    let raw = read_rows(path)?;
    let progress = if options.progress {
        indicatif::ProgressBar::new(raw.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    progress.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    progress.set_message("validating");
    let now = Utc::now();
    let mut businesses: Vec<Business> = Vec::new();
    let mut business_index: HashMap<String, (usize, BusinessDraft, String)> = HashMap::new();
    let mut sites: Vec<Site> = Vec::new();
    let mut site_index: HashMap<(String, String), (usize, SiteDraft, String)> = HashMap::new();
    let mut flows: Vec<Flow> = Vec::new();
    let mut bad: Vec<RowError> = Vec::new();
    for raw_row in raw {
        progress.inc(1);
        let position = raw_row.position.clone();
        let parsed = match parse_row(raw_row) {
            Ok(p) => p,
            Err(errors) => {
                bad.extend(errors);
                continue;
            }
        };
        // Rows naming the same business (and site) must agree with the row that introduced it.
        if let Some((_, first, first_position)) = business_index.get(&parsed.business.name)
            && *first != parsed.business
        {
            bad.push(error(
                &position,
                "business",
                format!(
                    "'{}' differs from its details on {first_position}",
                    parsed.business.name
                ),
            ));
            continue;
        }
        let site_key = (parsed.business.name.clone(), parsed.site_name.clone());
        if let Some((_, first, first_position)) = site_index.get(&site_key)
            && *first != parsed.site
        {
            bad.push(error(
                &position,
                "site",
                format!(
                    "'{}' differs from its details on {first_position}",
                    parsed.site_name
                ),
            ));
            continue;
        }
        // Ids are decided first and the business and site registered only when the whole row is valid.
        let known_business = business_index
            .get(&parsed.business.name)
            .map(|(i, _, _)| businesses[*i].id);
        let business_id = known_business.unwrap_or_else(Uuid::now_v7);
        let known_site = site_index.get(&site_key).map(|(i, _, _)| sites[*i].id);
        let site_id = known_site.unwrap_or_else(Uuid::now_v7);
        if let Some(mut draft) = parsed.flow {
            draft.site_id = site_id;
            let identity = FlowIdentity {
                id: Uuid::now_v7(),
                business_id,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            match draft.validate(taxonomy, identity) {
                Ok(flow) => flows.push(flow),
                Err(e) => {
                    bad.extend(
                        e.0.into_iter()
                            .map(|f| error(&position, &flow_field(&f.field), f.message)),
                    );
                    continue;
                }
            }
        }
        if known_business.is_none() {
            business_index.insert(
                parsed.business.name.clone(),
                (businesses.len(), parsed.business.clone(), position.clone()),
            );
            businesses.push(parsed.business.into_business(business_id, 1, now, now));
        }
        if known_site.is_none() {
            site_index.insert(
                site_key,
                (sites.len(), parsed.site.clone(), position.clone()),
            );
            sites.push(parsed.site.into_site(site_id, business_id, 1, now, now));
        }
    }
    progress.finish_and_clear();
    if !bad.is_empty() && !options.skip_invalid {
        let mut listing: Vec<String> = bad
            .iter()
            .take(MAX_LISTED)
            .map(|e| format!("  {e}"))
            .collect();
        if bad.len() > MAX_LISTED {
            listing.push(format!("  and {} more", bad.len() - MAX_LISTED));
        }
        bail!(
            "{} problem(s) in {}; nothing was imported (use --skip-invalid to import the valid rows):\n{}",
            bad.len(),
            path.display(),
            listing.join("\n")
        );
    }
    store
        .insert_batch(&businesses, &sites, &flows)
        .await
        .context("cannot store the import")?;
    Ok(ImportReport {
        businesses: businesses.len(),
        sites: sites.len(),
        flows: flows.len(),
        skipped: bad,
    })
}
