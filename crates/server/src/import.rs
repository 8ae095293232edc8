//! `symbiont import FILE`: reads rows (see [`crate::rows`]) from JSON, NDJSON, CSV or GeoJSON,
//! validates every row with the same core validators as the API, and stores everything with one
//! `insert_batch` call, so an import is all or nothing.
//!
//! Imports always create new businesses, sites and flows with fresh ids; they never merge with or
//! update what is already stored (importing a file twice stores it twice). Within one file, rows with
//! the same business name (or `business_ref`) are one business and rows with the same site name (or
//! `site_ref`) under it are one site; their details must agree.
//!
//! Every row is checked before anything is stored. When any row is bad, nothing is imported and the
//! error lists every bad row with its line in the file, unless [`ImportOptions::skip_invalid`] is
//! set, in which case the valid rows are imported and the bad ones reported. A problem with the file
//! itself (unreadable, not the format its extension says, an unknown CSV column) always stops the
//! import: skipping rows cannot repair it.
//!
//! This module must not write anything but the one batch, and must not print: the caller reports.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use symbiont_core::model::FlowIdentity;
use symbiont_core::{
    Business, BusinessDraft, Contact, Direction, Flow, FlowDraft, FlowStatus, GeoPoint,
    PhysicalForm, Quality, Quantity, Site, SiteDraft, Taxonomy,
};
use symbiont_store::Store;
use uuid::Uuid;

use crate::rows::{COLUMNS, NUMERIC_COLUMNS, Row};

/// Optional columns of the row format beyond [`COLUMNS`]:
/// - `attributes`: free-form quality attributes of the flow, a JSON object (JSON text in CSV);
/// - `business_ref`: rows with the same ref are one business (default: rows with the same name);
/// - `site_ref`: within a business, rows with the same ref are one site (default: the site name).
///
/// Export fills the refs only where two businesses (or two sites of one business) share a name.
pub const EXTRA_COLUMNS: [&str; 3] = ["attributes", "business_ref", "site_ref"];

/// An error listing names at most this many problems, then says how many more there are.
pub const MAX_LISTED: usize = 50;

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Import the valid rows and report the invalid ones, instead of importing nothing.
    pub skip_invalid: bool,
    /// Show a progress bar on stderr (pass whether stderr is a terminal).
    pub progress: bool,
}

/// What [`RowError::line`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// The line in the file, 1-based (CSV counts the header as line 1; a JSON array element or
    /// GeoJSON feature is at the line where it starts).
    Line,
    /// The 1-based index of the row, for JSON arrays whose elements do not each start on their own
    /// line (minified files).
    Row,
}

impl fmt::Display for Numbering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Numbering::Line => "line",
            Numbering::Row => "row",
        })
    }
}

/// One problem of one row (or of the CSV header, at line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub numbering: Numbering,
    /// The column (key) at fault, or empty when the problem is the row as a whole.
    pub field: String,
    pub message: String,
}

impl fmt::Display for RowError {
    /// `line 7: unit: 'furlong' is unknown ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.numbering, self.line)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// What an import stored, and (with `skip_invalid`) the problems of the rows it left out.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub businesses: usize,
    pub sites: usize,
    pub flows: usize,
    pub skipped: Vec<RowError>,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} businesses, {} sites, {} flows",
            self.businesses, self.sites, self.flows
        )?;
        if !self.skipped.is_empty() {
            write!(f, " ({} skipped)", rows_with_problems(&self.skipped))?;
        }
        Ok(())
    }
}

/// The error of an import that stored nothing because of bad rows; reach it with
/// `anyhow::Error::downcast_ref::<InvalidRows>()`. Its message lists the problems (at most
/// [`MAX_LISTED`]).
#[derive(Debug)]
pub struct InvalidRows {
    pub path: PathBuf,
    /// Every problem, in file order; the file-level ones (an unknown CSV column) first.
    pub problems: Vec<RowError>,
    /// Whether a problem of the file itself (not of a row) stopped the import.
    pub file_level: bool,
}

impl fmt::Display for InvalidRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hint = if self.file_level {
            "fix the file; --skip-invalid skips rows, not columns"
        } else {
            "use --skip-invalid to import the valid rows"
        };
        write!(
            f,
            "{} problem(s) in {} row(s) of {}; nothing was imported ({hint}):",
            self.problems.len(),
            rows_with_problems(&self.problems),
            self.path.display()
        )?;
        for problem in self.problems.iter().take(MAX_LISTED) {
            write!(f, "\n  {problem}")?;
        }
        if self.problems.len() > MAX_LISTED {
            write!(f, "\n  and {} more", self.problems.len() - MAX_LISTED)?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidRows {}

fn rows_with_problems(problems: &[RowError]) -> usize {
    let mut lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    lines.dedup();
    lines.len()
}

/// Imports the rows of `path` (format by extension: `.json`, `.ndjson`/`.jsonl`, `.csv`,
/// `.geojson`) as new businesses, sites and flows; see the module documentation for the rules.
pub async fn import_file(
    store: &dyn Store,
    taxonomy: &Taxonomy,
    path: &Path,
    options: ImportOptions,
) -> anyhow::Result<ImportReport> {
    let format = Format::from_path(path)?;
    let progress = if options.progress {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    // Reading, parsing and validating are blocking and CPU work: off the async runtime.
    let batch = {
        let path = path.to_owned();
        let taxonomy = taxonomy.clone();
        let bar = progress.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!("cannot read {} (it must be UTF-8 text)", path.display())
            })?;
            let source = read_rows(&text, format)
                .with_context(|| format!("cannot read {} as {format}", path.display()))?;
            Ok::<_, anyhow::Error>(assemble(source, &taxonomy, &bar))
        })
        .await
        .context("the import task failed")
        .and_then(|checked| checked);
        match checked {
            Ok(batch) => batch,
            Err(e) => {
                progress.finish_and_clear();
                return Err(e);
            }
        }
    };
    if !batch.problems.is_empty() && (!options.skip_invalid || batch.file_level) {
        progress.finish_and_clear();
        return Err(InvalidRows {
            path: path.to_owned(),
            problems: batch.problems,
            file_level: batch.file_level,
        }
        .into());
    }
    progress.set_message("storing");
    let stored = if batch.businesses.is_empty() {
        Ok(())
    } else {
        store
            .insert_batch(&batch.businesses, &batch.sites, &batch.flows)
            .await
            .with_context(|| format!("cannot store the import of {}", path.display()))
    };
    progress.finish_and_clear();
    stored?;
    Ok(ImportReport {
        businesses: batch.businesses.len(),
        sites: batch.sites.len(),
        flows: batch.flows.len(),
        skipped: batch.problems,
    })
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Json,
    Ndjson,
    Csv,
    GeoJson,
}

impl Format {
    fn from_path(path: &Path) -> anyhow::Result<Self> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        Ok(match extension.as_str() {
            "json" => Self::Json,
            "ndjson" | "jsonl" => Self::Ndjson,
            "csv" => Self::Csv,
            "geojson" => Self::GeoJson,
            _ => bail!(
                "{}: unknown format; the file name must end in .json, .ndjson, .jsonl, .csv or .geojson",
                path.display()
            ),
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Json => "a JSON array of rows",
            Format::Ndjson => "NDJSON",
            Format::Csv => "CSV",
            Format::GeoJson => "a GeoJSON FeatureCollection",
        })
    }
}

/// A row as read from the file, before its fields are checked.
struct RawRow {
    line: usize,
    fields: Map<String, Value>,
}

/// The rows of a file, the rows that could not even be read, and problems of the file itself.
struct Source {
    numbering: Numbering,
    rows: Vec<RawRow>,
    unreadable: Vec<RowError>,
    file_errors: Vec<RowError>,
    /// GeoJSON: coordinates come from the geometry, so missing ones are reported there.
    geometry: bool,
}

impl Source {
    fn new(numbering: Numbering) -> Self {
        Source {
            numbering,
            rows: Vec::new(),
            unreadable: Vec::new(),
            file_errors: Vec::new(),
            geometry: false,
        }
    }

    fn problem(&self, line: usize, field: &str, message: impl Into<String>) -> RowError {
        RowError {
            line,
            numbering: self.numbering,
            field: field.to_string(),
            message: message.into(),
        }
    }
}

fn read_rows(text: &str, format: Format) -> anyhow::Result<Source> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        Format::Json => read_json_array(text),
        Format::Ndjson => Ok(read_ndjson(text)),
        Format::Csv => read_csv(text),
        Format::GeoJson => read_geojson(text),
    }
}

/// Turns byte offsets (ascending) into 1-based line numbers without rescanning the text.
struct LineCounter<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            text,
            offset: 0,
            line: 1,
        }
    }

    /// The line where `part`, a slice of the text, starts.
    fn line_of(&mut self, part: &str) -> usize {
        let offset = (part.as_ptr() as usize)
            .saturating_sub(self.text.as_ptr() as usize)
            .min(self.text.len());
        if offset > self.offset {
            let newlines = self.text.as_bytes()[self.offset..offset]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.line += newlines;
            self.offset = offset;
        }
        self.line
    }
}

/// Lines of the elements, or row indexes when elements share a line (minified JSON).
fn element_positions(text: &str, elements: &[&RawValue]) -> (Numbering, Vec<usize>) {
    let mut lines = LineCounter::new(text);
    let starts: Vec<usize> = elements.iter().map(|e| lines.line_of(e.get())).collect();
    if starts.windows(2).all(|w| w[0] < w[1]) {
        (Numbering::Line, starts)
    } else {
        (Numbering::Row, (1..=elements.len()).collect())
    }
}

fn read_json_array(text: &str) -> anyhow::Result<Source> {
    let elements: Vec<&RawValue> = serde_json::from_str(text)
        .context("expected a JSON array of row objects (use .ndjson for one object per line)")?;
    let (numbering, positions) = element_positions(text, &elements);
    let mut source = Source::new(numbering);
    for (element, line) in elements.iter().zip(positions) {
        match serde_json::from_str::<Value>(element.get()) {
            Ok(Value::Object(fields)) => source.rows.push(RawRow { line, fields }),
            Ok(_) => {
                let e = source.problem(line, "", "a row must be a JSON object");
                source.unreadable.push(e);
            }
            Err(e) => {
                let e = source.problem(line, "", format!("not JSON: {e}"));
                source.unreadable.push(e);
            }
        }
    }
    Ok(source)
}

fn read_ndjson(text: &str) -> Source {
    let mut source = Source::new(Numbering::Line);
    for (i, line_text) in text.lines().enumerate() {
        let line = i + 1;
        if line_text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line_text) {
            Ok(Value::Object(fields)) => source.rows.push(RawRow { line, fields }),
            Ok(_) => {
                let e = source.problem(line, "", "a row must be a JSON object");
                source.unreadable.push(e);
            }
            Err(e) => {
                let e = source.problem(line, "", format!("not JSON: {e}"));
                source.unreadable.push(e);
            }
        }
    }
    source
}

fn known_column(name: &str) -> bool {
    COLUMNS.contains(&name) || EXTRA_COLUMNS.contains(&name)
}

fn all_columns() -> impl Iterator<Item = &'static str> {
    COLUMNS.iter().chain(EXTRA_COLUMNS.iter()).copied()
}

/// "did you mean 'temperature_c'?" for a near miss, else the list of columns.
fn unknown_column_message(kind: &str, name: &str) -> String {
    let closest = all_columns()
        .map(|c| (edit_distance(&name.to_ascii_lowercase(), c), c))
        .min();
    match closest {
        Some((distance, column)) if distance <= 2 || name.eq_ignore_ascii_case(column) => {
            format!("unknown {kind}; did you mean '{column}'?")
        }
        _ => format!(
            "unknown {kind}; the {kind}s are: {}",
            all_columns().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Levenshtein distance, for suggesting the column a typo meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

fn read_csv(text: &str) -> anyhow::Result<Source> {
    let mut source = Source::new(Numbering::Line);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .context("cannot read the header row")?
        .iter()
        .map(str::to_string)
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for header in &headers {
        *seen.entry(header.as_str()).or_default() += 1;
    }
    for header in &headers {
        if header.is_empty() {
            // A column without a header (a trailing comma) is fine while its cells are empty.
            continue;
        }
        if !known_column(header) {
            let e = source.problem(1, header, unknown_column_message("column", header));
            source.file_errors.push(e);
        } else if seen.get(header.as_str()).copied().unwrap_or(0) > 1 {
            let e = source.problem(1, header, "the column appears more than once");
            if !source.file_errors.contains(&e) {
                source.file_errors.push(e);
            }
        }
    }
    if headers.iter().all(String::is_empty) {
        bail!("the first line must be a header row naming the columns");
    }
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map(csv::Position::line);
                match (e.kind(), line) {
                    (
                        csv::ErrorKind::UnequalLengths {
                            expected_len, len, ..
                        },
                        Some(line),
                    ) => {
                        let message =
                            format!("has {len} values but the header has {expected_len} columns");
                        let e = source.problem(line as usize, "", message);
                        source.unreadable.push(e);
                        continue;
                    }
                    _ => return Err(e).context("malformed CSV"),
                }
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let mut fields = Map::new();
        for (header, value) in headers.iter().zip(record.iter()) {
            if value.is_empty() {
                continue;
            }
            if header.is_empty() {
                let e = source.problem(
                    line,
                    "",
                    format!("'{value}' is in a column without a header"),
                );
                source.unreadable.push(e);
                continue;
            }
            fields.insert(header.clone(), Value::String(value.to_string()));
        }
        source.rows.push(RawRow { line, fields });
    }
    Ok(source)
}

#[derive(Deserialize)]
struct FeatureCollection<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    features: Vec<&'a RawValue>,
}

fn read_geojson(text: &str) -> anyhow::Result<Source> {
    let collection: FeatureCollection =
        serde_json::from_str(text).context("expected a FeatureCollection with a features array")?;
    if collection.kind != "FeatureCollection" {
        bail!(
            "expected \"type\": \"FeatureCollection\", found '{}'",
            collection.kind
        );
    }
    let (numbering, positions) = element_positions(text, &collection.features);
    let mut source = Source::new(numbering);
    source.geometry = true;
    for (feature, line) in collection.features.iter().zip(positions) {
        match geojson_row(feature.get()) {
            Ok(fields) => source.rows.push(RawRow { line, fields }),
            Err((field, message)) => {
                let e = source.problem(line, field, message);
                source.unreadable.push(e);
            }
        }
    }
    Ok(source)
}

/// A feature's properties with `lat`/`lon` from its Point geometry (none when the geometry is null:
/// a row that only declares a business).
fn geojson_row(feature: &str) -> Result<Map<String, Value>, (&'static str, String)> {
    let feature: Value =
        serde_json::from_str(feature).map_err(|e| ("", format!("not JSON: {e}")))?;
    if feature["type"] != "Feature" {
        return Err(("type", "each element of features must be a Feature".into()));
    }
    let mut fields = match &feature["properties"] {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        _ => return Err(("properties", "must be an object".into())),
    };
    for key in ["lat", "lon"] {
        if fields.contains_key(key) {
            return Err((
                "properties",
                format!("'{key}' must not be a property: coordinates come from the Point geometry"),
            ));
        }
    }
    match &feature["geometry"] {
        Value::Null => {}
        geometry => {
            let point = match (
                geometry["type"].as_str(),
                geometry["coordinates"].as_array(),
            ) {
                (Some("Point"), Some(c)) if (2..=3).contains(&c.len()) => {
                    c[0].as_f64().zip(c[1].as_f64())
                }
                _ => None,
            };
            let Some((lon, lat)) = point else {
                return Err((
                    "geometry",
                    "must be a Point with coordinates [lon, lat], or null".into(),
                ));
            };
            fields.insert("lon".into(), lon.into());
            fields.insert("lat".into(), lat.into());
        }
    }
    Ok(fields)
}

/// Problems of one row as (field, message) pairs; the line is added by the caller.
type Problems = Vec<(String, String)>;

fn problem(problems: &mut Problems, field: &str, message: impl Into<String>) {
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
enum BusinessKey {
    Ref(String),
    Name(String),
}

/// A checked row, before it gets ids.
struct ParsedRow {
    business_key: BusinessKey,
    business: BusinessDraft,
    /// The site's key within its business (`site_ref` or name) and the site.
    site: Option<(String, SiteDraft)>,
    /// Validated, with nil ids.
    flow: Option<Flow>,
}

/// Checks one row completely (keys, business, site, flow against the taxonomy), so that every
/// problem of the row is reported at once. The flow gets its ids later, in [`assemble`].
fn parse_row(
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
    let anonymous = match &row.anonymous {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "" | "false" | "no" | "0" => false,
            "true" | "yes" | "1" => true,
            other => {
                problem(
                    problems,
                    "anonymous",
                    format!("'{other}' is neither true nor false"),
                );
                false
            }
        },
        Some(other) => {
            problem(
                problems,
                "anonymous",
                format!("{other} is neither true nor false"),
            );
            false
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
        (row.category.is_some(), "category"),
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
        price_eur_per_unit: row.price_eur_per_unit,
        max_distance_km: row.max_distance_km,
        valid_from,
        valid_until,
        status,
        anonymous,
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

/// Everything an import would store, and every problem found.
struct Batch {
    businesses: Vec<Business>,
    sites: Vec<Site>,
    flows: Vec<Flow>,
    problems: Vec<RowError>,
    file_level: bool,
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
fn assemble(source: Source, taxonomy: &Taxonomy, progress: &indicatif::ProgressBar) -> Batch {
    progress.set_length(source.rows.len() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    progress.set_message("checking");
    let now: DateTime<Utc> = Utc::now();
    let numbering = source.numbering;
    let geometry = source.geometry;
    let mut batch = Batch {
        businesses: Vec::new(),
        sites: Vec::new(),
        flows: Vec::new(),
        problems: Vec::new(),
        file_level: !source.file_errors.is_empty(),
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
    batch.problems = source.file_errors;
    batch.problems.extend(row_problems);
    batch
}
