//! Checking one row completely: its keys and value types (the same for every format), then its
//! business, site and flow with the core validators and the taxonomy, so that every problem of the
//! row is reported at once, named by the row's column. A row knows nothing of the rows around it;
//! grouping rows into businesses and sites is [`super::assemble`]'s.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};
use symbiont_core::model::FlowIdentity;
use symbiont_core::{
    BusinessDraft, Contact, Direction, Flow, FlowDraft, FlowStatus, GeoPoint, PhysicalForm,
    Quality, Quantity, SiteDraft, Taxonomy,
};
use uuid::Uuid;

use super::columns::{known_column, unknown_column_message};
use super::formats::RawRow;
use crate::dataset::rows::{NUMERIC_COLUMNS, Row};

/// Problems of one row as (field, message) pairs; the line is added by the caller.
pub(super) type Problems = Vec<(String, String)>;

pub(super) fn problem(problems: &mut Problems, field: &str, message: impl Into<String>) {
    problems.push((field.to_string(), message.into()));
}

/// Checks keys and value types the same way for every format, drops empty values, and turns text
/// into numbers (CSV) and JSON text into arrays and objects (`profile`, `attributes` in CSV).
fn normalise(fields: Map<String, Value>, problems: &mut Problems) -> Map<String, Value> {
    let mut clean = Map::new();
    for (key, value) in fields {
        if !known_column(&key) {
            let message = unknown_column_message("key", &key);
            problem(problems, &key, message);
            continue;
        }
        let value = match value {
            Value::Null => continue,
            Value::String(text) if text.trim().is_empty() => continue,
            Value::String(text) => Value::String(text.trim().to_string()),
            other => other,
        };
        let value = if NUMERIC_COLUMNS.contains(&key.as_str()) {
            match value {
                Value::Number(_) => Ok(value),
                Value::String(text) => text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("'{text}' is not a number")),
                other => Err(format!("{other} is not a number")),
            }
        } else if key == "monthly_factors" {
            match value {
                Value::String(text) => match serde_json::from_str::<Value>(&text) {
                    Ok(array @ Value::Array(_)) => Ok(array),
                    _ => Err(format!("'{text}' is not a JSON array of 12 numbers")),
                },
                other => Ok(other),
            }
        } else if key == "profile" {
            match value {
                Value::String(text) if text.starts_with('[') => {
                    match serde_json::from_str::<Value>(&text) {
                        Ok(array @ Value::Array(_)) => Ok(array),
                        _ => Err(format!("'{text}' is not a JSON array of 168 numbers")),
                    }
                }
                Value::String(_) | Value::Array(_) => Ok(value),
                _ => Err(
                    "must be a schedule such as \"Mon-Fri 06:00-22:00\" or 168 hourly values"
                        .into(),
                ),
            }
        } else if key == "anonymous" || key == "pays_for_co2" {
            match value {
                Value::Bool(_) | Value::String(_) => Ok(value),
                other => Err(format!("{other} is neither true nor false")),
            }
        } else if key == "attributes" {
            match value {
                Value::String(text) => match serde_json::from_str::<Value>(&text) {
                    Ok(object @ Value::Object(_)) => Ok(object),
                    _ => Err(format!("'{text}' is not a JSON object")),
                },
                Value::Object(_) => Ok(value),
                _ => Err("must be a JSON object".into()),
            }
        } else {
            // Numbers are not taken as text: 35.30 would become the NACE code "35.3".
            match value {
                Value::String(_) => Ok(value),
                other => Err(format!("must be text (in quotes), got {other}")),
            }
        };
        match value {
            Ok(value) => {
                clean.insert(key, value);
            }
            Err(message) => problem(problems, &key, message),
        }
    }
    clean
}

/// Groups rows into businesses: by `business_ref` when given, else by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum BusinessKey {
    Ref(String),
    Name(String),
}

/// A checked row, before it gets ids.
pub(super) struct ParsedRow {
    pub(super) business_key: BusinessKey,
    pub(super) business: BusinessDraft,
    /// The site's key within its business (`site_ref` or name) and the site.
    pub(super) site: Option<(String, SiteDraft)>,
    /// Validated, with nil ids.
    pub(super) flow: Option<Flow>,
}

/// Checks one row completely (keys, business, site, flow against the taxonomy), so that every
/// problem of the row is reported at once. The flow gets its ids later, in
/// [`super::assemble::assemble`].
pub(super) fn parse_row(
    raw: RawRow,
    geometry: bool,
    taxonomy: &Taxonomy,
    now: DateTime<Utc>,
    problems: &mut Problems,
) -> Option<ParsedRow> {
    let mut fields = normalise(raw.fields, problems);
    let text = |fields: &mut Map<String, Value>, key: &str| match fields.remove(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let attributes = match fields.remove("attributes") {
        Some(Value::Object(map)) => map.into_iter().collect(),
        _ => Default::default(),
    };
    let business_ref = text(&mut fields, "business_ref");
    let site_ref = text(&mut fields, "site_ref");
    let row: Row = match serde_path_to_error::deserialize(Value::Object(fields)) {
        Ok(row) => row,
        Err(e) => {
            // Not expected after `normalise`; kept so a change of `Row` cannot panic here.
            let field = e.path().to_string();
            problem(problems, &field, e.into_inner().to_string());
            return None;
        }
    };
    let mut required = |value: &Option<String>, field: &str| -> String {
        value.clone().unwrap_or_else(|| {
            problem(problems, field, "is required");
            String::new()
        })
    };
    let name = required(&row.business, "business");
    let industry = required(&row.industry, "industry");
    let draft = BusinessDraft {
        name: name.clone(),
        industry,
        description: row.business_description.clone().unwrap_or_default(),
        contact: Contact {
            name: row.contact_name.clone(),
            email: row.contact_email.clone(),
            phone: row.contact_phone.clone(),
        },
        website: row.website.clone(),
    };
    let business = match draft.validate() {
        Ok(business) => Some(business),
        Err(e) => {
            for f in e.0 {
                let field = match f.field.as_str() {
                    "name" => "business".to_string(),
                    "description" => "business_description".to_string(),
                    other => other.replace("contact.", "contact_"),
                };
                // A missing name or industry was reported as required already.
                let reported = (f.field == "name" && name.is_empty())
                    || (f.field == "industry" && row.industry.is_none());
                if !reported {
                    problem(problems, &field, f.message);
                }
            }
            None
        }
    };
    let site = parse_site(&row, site_ref.clone(), geometry, problems);
    let flow = match row.direction.as_deref() {
        None => None,
        Some(direction) => {
            if row.site.is_none() {
                problem(problems, "site", "is required for a flow");
            }
            let identity = FlowIdentity {
                id: Uuid::nil(),
                business_id: Uuid::nil(),
                version: 1,
                created_at: now,
                updated_at: now,
            };
            flow_draft(&row, direction, attributes, problems).and_then(|draft| {
                draft
                    .validate(taxonomy, identity)
                    .map_err(|e| {
                        for f in e.0 {
                            problem(problems, &flow_column(&f.field), f.message);
                        }
                    })
                    .ok()
            })
        }
    };
    if site_ref.is_some() && row.site.is_none() {
        problem(problems, "site_ref", "is given without a site");
    }
    let business = business?;
    if !problems.is_empty() {
        return None;
    }
    Some(ParsedRow {
        business_key: match business_ref {
            Some(r) => BusinessKey::Ref(r),
            None => BusinessKey::Name(business.name.clone()),
        },
        business,
        site,
        flow,
    })
}

/// The site of a row; `None` for a row without `site`, which only declares its business.
fn parse_site(
    row: &Row,
    site_ref: Option<String>,
    geometry: bool,
    problems: &mut Problems,
) -> Option<(String, SiteDraft)> {
    let Some(name) = row.site.clone() else {
        if row.address.is_some() || row.lat.is_some() || row.lon.is_some() {
            problem(
                problems,
                "site",
                "is required with an address or coordinates",
            );
        }
        return None;
    };
    let (lat, lon) = match (row.lat, row.lon) {
        (Some(lat), Some(lon)) => (lat, lon),
        _ if geometry => {
            problem(
                problems,
                "geometry",
                "a row with a site needs a Point geometry",
            );
            return None;
        }
        (lat, lon) => {
            if lat.is_none() {
                problem(problems, "lat", "is required for a site");
            }
            if lon.is_none() {
                problem(problems, "lon", "is required for a site");
            }
            return None;
        }
    };
    let draft = SiteDraft {
        name,
        address: row.address.clone().unwrap_or_default(),
        location: GeoPoint { lat, lon },
    };
    match draft.validate() {
        Ok(site) => {
            let key = site_ref.unwrap_or_else(|| site.name.clone());
            Some((key, site))
        }
        Err(e) => {
            for f in e.0 {
                let field = match f.field.as_str() {
                    "name" => "site",
                    "location.lat" => "lat",
                    "location.lon" => "lon",
                    other => other,
                };
                problem(problems, field, f.message);
            }
            None
        }
    }
}

fn flow_draft(
    row: &Row,
    direction: &str,
    attributes: std::collections::BTreeMap<String, Value>,
    problems: &mut Problems,
) -> Option<FlowDraft> {
    let before = problems.len();
    let direction = match direction.to_ascii_lowercase().as_str() {
        "offer" => Direction::Offer,
        "need" => Direction::Need,
        _ => {
            problem(
                problems,
                "direction",
                format!(
                    "'{direction}' is neither offer nor need (leave it empty for a row without a flow)"
                ),
            );
            Direction::Offer
        }
    };
    let mut date = |value: &Option<String>, field: &str| {
        let text = value.as_deref()?;
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| {
                problem(
                    problems,
                    field,
                    format!("'{text}' is not a date (YYYY-MM-DD)"),
                )
            })
            .ok()
    };
    let valid_from = date(&row.valid_from, "valid_from");
    let valid_until = date(&row.valid_until, "valid_until");
    let status = match row
        .status
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("active") => FlowStatus::Active,
        Some("paused") => FlowStatus::Paused,
        Some(other) => {
            problem(
                problems,
                "status",
                format!("'{other}' is neither active nor paused"),
            );
            FlowStatus::Active
        }
    };
    let anonymous = yes_or_no(&row.anonymous, "anonymous", problems);
    let pays_for_co2 = yes_or_no(&row.pays_for_co2, "pays_for_co2", problems);
    let max_proposals = row.max_proposals.and_then(|k| {
        if k.fract() == 0.0 && (1.0..=100.0).contains(&k) {
            Some(k as u32)
        } else {
            problem(
                problems,
                "max_proposals",
                format!("{k} is not a whole number from 1 to 100"),
            );
            None
        }
    });
    let monthly_factors = match &row.monthly_factors {
        None | Some(Value::Null) => None,
        Some(Value::Array(values)) => {
            let numbers: Option<Vec<f64>> = values.iter().map(Value::as_f64).collect();
            if numbers.is_none() {
                problem(
                    problems,
                    "monthly_factors",
                    "must be 12 numbers".to_string(),
                );
            }
            numbers
        }
        Some(other) => {
            problem(
                problems,
                "monthly_factors",
                format!("{other} is not a JSON array of 12 numbers"),
            );
            None
        }
    };
    let physical_form = row.physical_form.as_deref().and_then(|form| {
        serde_json::from_value::<PhysicalForm>(Value::String(form.to_ascii_lowercase()))
            .map_err(|_| {
                problem(
                    problems,
                    "physical_form",
                    format!("'{form}' is not solid, liquid, gas, slurry or energy"),
                )
            })
            .ok()
    });
    let mut missing = false;
    for (value, field) in [
        // A waste code gives the category.
        (row.category.is_some() || row.ewc_code.is_some(), "category"),
        (row.quantity.is_some(), "quantity"),
        (row.unit.is_some(), "unit"),
    ] {
        missing |= !value;
        // A value that was there but unusable (`lots` as a quantity) is reported once, already.
        if !value && !problems.iter().any(|(f, _)| f == field) {
            problem(problems, field, "is required for a flow");
        }
    }
    if missing || problems.len() > before {
        return None;
    }
    Some(FlowDraft {
        site_id: Uuid::nil(),
        direction,
        category: row.category.clone().unwrap_or_default(),
        ewc_code: row.ewc_code.clone(),
        description: row.description.clone().unwrap_or_default(),
        quality: Quality {
            temperature_c: row.temperature_c,
            pressure_bar: row.pressure_bar,
            purity_pct: row.purity_pct,
            physical_form,
            attributes,
        },
        quantity: Quantity {
            value: row.quantity.unwrap_or_default(),
            unit: row.unit.clone().unwrap_or_default(),
        },
        profile: row.profile.clone(),
        monthly_factors,
        price_eur_per_unit: row.price_eur_per_unit,
        max_distance_km: row.max_distance_km,
        valid_from,
        valid_until,
        status,
        anonymous,
        max_proposals,
        pays_for_co2,
    })
}

/// The row column a flow validation error is about (`quantity.unit` is the `unit` column).
fn flow_column(field: &str) -> String {
    match field {
        "quantity.value" => "quantity".into(),
        "quantity.unit" => "unit".into(),
        other => other.trim_start_matches("quality.").to_string(),
    }
}

/// A yes/no column: a JSON boolean, or in CSV "true"/"yes"/"1" and "false"/"no"/"0"/empty.
fn yes_or_no(value: &Option<Value>, column: &str, problems: &mut Problems) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "" | "false" | "no" | "0" => false,
            "true" | "yes" | "1" => true,
            other => {
                problem(
                    problems,
                    column,
                    format!("'{other}' is neither true nor false"),
                );
                false
            }
        },
        Some(other) => {
            problem(
                problems,
                column,
                format!("{other} is neither true nor false"),
            );
            false
        }
    }
}
