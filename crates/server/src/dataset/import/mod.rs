//! `symbiont import FILE`: reads rows (see [`crate::dataset::rows`]) from JSON, NDJSON, CSV or
//! GeoJSON, validates every row with the same core validators as the API, and stores everything
//! through the app's batch use case (`symbiont_app::bulk_registry`), one store transaction, so an
//! import is all or nothing.
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
//! One job per file: `formats` reads a file into raw rows, `parse` checks one row, `assemble`
//! groups the checked rows into the batch, `columns` knows which keys are columns, and
//! `store_batch` here is the one write. This module ties them together and holds what callers see
//! (options, report, errors).
//!
//! An import must not write anything but the one batch, and must not print: the caller reports.

mod assemble;
mod columns;
mod formats;
mod parse;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use symbiont_core::Taxonomy;
use symbiont_store::Store;

use assemble::{Assembled, Batch, assemble};
pub use columns::EXTRA_COLUMNS;
use formats::{Format, read_rows};

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
    let Assembled {
        batch,
        problems,
        file_level,
    } = {
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
            Ok(assembled) => assembled,
            Err(e) => {
                progress.finish_and_clear();
                return Err(e);
            }
        }
    };
    if !problems.is_empty() && (!options.skip_invalid || file_level) {
        progress.finish_and_clear();
        return Err(InvalidRows {
            path: path.to_owned(),
            problems,
            file_level,
        }
        .into());
    }
    progress.set_message("storing");
    let stored = store_batch(store, &batch)
        .await
        .with_context(|| format!("cannot store the import of {}", path.display()));
    progress.finish_and_clear();
    stored?;
    Ok(ImportReport {
        businesses: batch.businesses.len(),
        sites: batch.sites.len(),
        flows: batch.flows.len(),
        skipped: problems,
    })
}

/// The import's one write, through the same use case as any batch registration
/// ([`symbiont_app::bulk_registry::register_batch`]): the whole batch in one store transaction, so
/// an import is all or nothing (an empty batch writes nothing).
async fn store_batch(store: &dyn Store, batch: &Batch) -> Result<(), symbiont_app::AppError> {
    symbiont_app::bulk_registry::register_batch(store, batch).await
}
