//! Reading a file's text into raw rows, per format (JSON array, NDJSON, CSV, GeoJSON), with the
//! line each row starts on. Rows that cannot even be read (not an object, a CSV line with too many
//! values) and problems of the file itself (an unknown CSV column) are collected here; the fields
//! of a row are checked later, the same way for every format ([`super::parse`]).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::columns::{known_column, unknown_column_message};
use super::{Numbering, RowError};

#[derive(Debug, Clone, Copy)]
pub(super) enum Format {
    Json,
    Ndjson,
    Csv,
    GeoJson,
}

impl Format {
    pub(super) fn from_path(path: &Path) -> anyhow::Result<Self> {
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
pub(super) struct RawRow {
    pub(super) line: usize,
    pub(super) fields: Map<String, Value>,
}

/// The rows of a file, the rows that could not even be read, and problems of the file itself.
pub(super) struct Source {
    pub(super) numbering: Numbering,
    pub(super) rows: Vec<RawRow>,
    pub(super) unreadable: Vec<RowError>,
    pub(super) file_errors: Vec<RowError>,
    /// GeoJSON: coordinates come from the geometry, so missing ones are reported there.
    pub(super) geometry: bool,
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

/// The rows of `text`, read as `format`.
pub(super) fn read_rows(text: &str, format: Format) -> anyhow::Result<Source> {
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
