//! `symbiont generate`: writes a generated region ([`crate::dataset::demo::region`]: businesses in
//! industrial parks with about five flows each, the same region for the same seed and size) as
//! NDJSON rows in the import format ([`crate::dataset::rows`]), so that
//! `symbiont import FILE.ndjson` loads it. Used by `scripts/bench` (10,000 businesses) and for
//! trials at scale.
//!
//! Every row is validated with the same core validators as an import before it is written, so a
//! generated file always imports. This module only writes to the writer it is given.

use std::io::Write;

use serde_json::Value;
use symbiont_core::{FlowDraft, Taxonomy};
use uuid::Uuid;

use crate::dataset::demo::{DemoBusiness, region};
use crate::dataset::rows::Row;

/// What a generated file holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateReport {
    pub businesses: usize,
    pub sites: usize,
    pub flows: usize,
}

/// Writes the region of `business_count` businesses drawn with `seed` to `out`, one row per flow
/// (one row per site without flows), checked against `taxonomy`.
pub fn write_region(
    out: &mut dyn Write,
    taxonomy: &Taxonomy,
    seed: u64,
    business_count: usize,
) -> anyhow::Result<GenerateReport> {
    let mut report = GenerateReport::default();
    for generated in region(seed, business_count) {
        let DemoBusiness { business, sites } = generated;
        let business = business.validate()?;
        report.businesses += 1;
        let business_row = Row {
            business: Some(business.name),
            industry: Some(business.industry),
            business_description: Some(business.description).filter(|d| !d.is_empty()),
            contact_name: business.contact.name,
            contact_email: business.contact.email,
            contact_phone: business.contact.phone,
            website: business.website,
            ..Row::default()
        };
        for generated_site in sites {
            let site = generated_site.site.validate()?;
            report.sites += 1;
            let site_row = Row {
                site: Some(site.name),
                address: Some(site.address).filter(|a| !a.is_empty()),
                lat: Some(site.location.lat),
                lon: Some(site.location.lon),
                ..business_row.clone()
            };
            if generated_site.flows.is_empty() {
                write_row(out, &site_row, None)?;
            }
            for flow in generated_site.flows {
                check_flow(&flow, taxonomy)?;
                report.flows += 1;
                let (row, attributes) = flow_row(site_row.clone(), flow)?;
                write_row(out, &row, attributes)?;
            }
        }
    }
    out.flush()?;
    Ok(report)
}

/// The generator's flows must pass the validation an import applies.
fn check_flow(flow: &FlowDraft, taxonomy: &Taxonomy) -> anyhow::Result<()> {
    let identity = symbiont_core::model::FlowIdentity {
        id: Uuid::nil(),
        business_id: Uuid::nil(),
        version: 1,
        created_at: chrono::DateTime::UNIX_EPOCH,
        updated_at: chrono::DateTime::UNIX_EPOCH,
    };
    flow.clone().validate(taxonomy, identity)?;
    Ok(())
}

/// The row of one flow at the site of `site_row`, and its free-form quality attributes (the
/// `attributes` column), if any.
fn flow_row(site_row: Row, flow: FlowDraft) -> anyhow::Result<(Row, Option<Value>)> {
    let physical_form = match flow.quality.physical_form {
        Some(form) => serde_json::to_value(form)?.as_str().map(str::to_string),
        None => None,
    };
    let attributes = (!flow.quality.attributes.is_empty())
        .then(|| serde_json::to_value(&flow.quality.attributes))
        .transpose()?;
    let row = Row {
        direction: Some(flow.direction.as_str().into()),
        category: Some(flow.category),
        description: Some(flow.description).filter(|d| !d.is_empty()),
        quantity: Some(flow.quantity.value),
        unit: Some(flow.quantity.unit),
        temperature_c: flow.quality.temperature_c,
        pressure_bar: flow.quality.pressure_bar,
        purity_pct: flow.quality.purity_pct,
        physical_form,
        profile: flow.profile,
        price_eur_per_unit: flow.price_eur_per_unit,
        max_distance_km: flow.max_distance_km,
        valid_from: flow.valid_from.map(|d| d.to_string()),
        valid_until: flow.valid_until.map(|d| d.to_string()),
        status: Some(flow.status.as_str().into()),
        anonymous: flow.anonymous.then_some(Value::Bool(true)),
        ..site_row
    };
    Ok((row, attributes))
}

fn write_row(out: &mut dyn Write, row: &Row, attributes: Option<Value>) -> anyhow::Result<()> {
    match attributes {
        None => serde_json::to_writer(&mut *out, row)?,
        Some(attributes) => {
            let mut object = match serde_json::to_value(row)? {
                Value::Object(object) => object,
                _ => anyhow::bail!("a row serialises as a JSON object"),
            };
            object.insert("attributes".into(), attributes);
            serde_json::to_writer(&mut *out, &object)?;
        }
    }
    out.write_all(b"\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_writes_the_same_file_and_counts_every_row() {
        let taxonomy = Taxonomy::builtin().expect("the built-in taxonomy is valid");
        let (mut first, mut second) = (Vec::new(), Vec::new());
        let report = write_region(&mut first, &taxonomy, 7, 40).expect("generated");
        write_region(&mut second, &taxonomy, 7, 40).expect("generated");
        assert_eq!(first, second);
        assert_eq!(report.businesses, 40);
        assert!(report.flows >= 40 * 3, "about five flows each: {report:?}");
        let lines = first
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        assert_eq!(lines, report.flows);
    }
}
