//! Building the batch from the rows: each row is checked ([`super::parse`]), rows naming the same
//! business (and site) become one and must agree with the row that introduced it, and the new
//! businesses, sites and flows get their ids. A row is taken whole or not at all. Nothing is stored
//! here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use symbiont_core::{BusinessDraft, SiteDraft, Taxonomy};
use uuid::Uuid;

use super::RowError;
use super::formats::Source;
use super::parse::{BusinessKey, Problems, parse_row, problem};

/// Columns where two business drafts differ.
fn business_differences(a: &BusinessDraft, b: &BusinessDraft) -> Vec<&'static str> {
    [
        ("business", a.name != b.name),
        ("industry", a.industry != b.industry),
        ("business_description", a.description != b.description),
        ("contact_name", a.contact.name != b.contact.name),
        ("contact_email", a.contact.email != b.contact.email),
        ("contact_phone", a.contact.phone != b.contact.phone),
        ("website", a.website != b.website),
    ]
    .into_iter()
    .filter_map(|(column, differs)| differs.then_some(column))
    .collect()
}

fn site_differences(a: &SiteDraft, b: &SiteDraft) -> Vec<&'static str> {
    [
        ("site", a.name != b.name),
        ("address", a.address != b.address),
        ("lat", a.location.lat != b.location.lat),
        ("lon", a.location.lon != b.location.lon),
    ]
    .into_iter()
    .filter_map(|(column, differs)| differs.then_some(column))
    .collect()
}

/// What an import stores: new businesses, sites and flows, with fresh ids (the app's batch).
pub(super) use symbiont_app::bulk_registry::NewEntities as Batch;

/// The batch of the rows without problems, and every problem found.
pub(super) struct Assembled {
    pub(super) batch: Batch,
    /// In file order; the file-level ones (an unknown CSV column) first.
    pub(super) problems: Vec<RowError>,
    /// Whether a problem of the file itself (not of a row) was found.
    pub(super) file_level: bool,
}

/// A business or site already taken from an earlier row: its index in the batch, its details and
/// the line that introduced it.
struct Known<D> {
    index: usize,
    draft: D,
    line: usize,
}

/// Checks every row and builds the batch. A row is taken whole or not at all: a bad flow leaves
/// no business or site behind.
pub(super) fn assemble(
    source: Source,
    taxonomy: &Taxonomy,
    progress: &indicatif::ProgressBar,
) -> Assembled {
    progress.set_length(source.rows.len() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    progress.set_message("checking");
    let now: DateTime<Utc> = Utc::now();
    let numbering = source.numbering;
    let geometry = source.geometry;
    let file_level = !source.file_errors.is_empty();
    let mut batch = Batch {
        businesses: Vec::new(),
        sites: Vec::new(),
        flows: Vec::new(),
    };
    let mut row_problems: Vec<RowError> = source.unreadable;
    let mut businesses: HashMap<BusinessKey, Known<BusinessDraft>> = HashMap::new();
    let mut sites: HashMap<(BusinessKey, String), Known<SiteDraft>> = HashMap::new();
    for raw in source.rows {
        progress.inc(1);
        let line = raw.line;
        let mut problems = Problems::new();
        let report = |problems: Problems, out: &mut Vec<RowError>| {
            out.extend(problems.into_iter().map(|(field, message)| RowError {
                line,
                numbering,
                field,
                message,
            }));
        };
        let Some(parsed) = parse_row(raw, geometry, taxonomy, now, &mut problems) else {
            report(problems, &mut row_problems);
            continue;
        };
        // Rows naming the same business (and site) must agree with the row that introduced it.
        let known_business = businesses.get(&parsed.business_key);
        if let Some(known) = known_business {
            let differences = business_differences(&known.draft, &parsed.business);
            if !differences.is_empty() {
                problem(
                    &mut problems,
                    differences[0],
                    format!(
                        "business '{}' is on {numbering} {} with another {}; rows of one business must agree",
                        parsed.business.name,
                        known.line,
                        differences.join(", ")
                    ),
                );
            }
        }
        let site_key = parsed
            .site
            .as_ref()
            .map(|(key, _)| (parsed.business_key.clone(), key.clone()));
        let known_site = site_key.as_ref().and_then(|key| sites.get(key));
        if let (Some(known), Some((_, site))) = (known_site, &parsed.site) {
            let differences = site_differences(&known.draft, site);
            if !differences.is_empty() {
                problem(
                    &mut problems,
                    differences[0],
                    format!(
                        "site '{}' is on {numbering} {} with another {}; rows of one site must agree",
                        site.name,
                        known.line,
                        differences.join(", ")
                    ),
                );
            }
        }
        if !problems.is_empty() {
            report(problems, &mut row_problems);
            continue;
        }
        // Ids are decided first; the business and site are kept only when the whole row is valid.
        let business_id =
            known_business.map_or_else(Uuid::now_v7, |k| batch.businesses[k.index].id);
        let site_id = known_site.map_or_else(Uuid::now_v7, |k| batch.sites[k.index].id);
        let (new_business, new_site) = (known_business.is_none(), known_site.is_none());
        if let Some(mut flow) = parsed.flow {
            flow.id = Uuid::now_v7();
            flow.business_id = business_id;
            flow.site_id = site_id;
            batch.flows.push(flow);
        }
        if new_business {
            businesses.insert(
                parsed.business_key.clone(),
                Known {
                    index: batch.businesses.len(),
                    draft: parsed.business.clone(),
                    line,
                },
            );
            batch
                .businesses
                .push(parsed.business.into_business(business_id, 1, now, now));
        }
        if let (true, Some(key), Some((_, site))) = (new_site, site_key, parsed.site) {
            sites.insert(
                key,
                Known {
                    index: batch.sites.len(),
                    draft: site.clone(),
                    line,
                },
            );
            batch
                .sites
                .push(site.into_site(site_id, business_id, 1, now, now));
        }
    }
    row_problems.sort_by_key(|p| p.line);
    let mut problems = source.file_errors;
    problems.extend(row_problems);
    Assembled {
        batch,
        problems,
        file_level,
    }
}
