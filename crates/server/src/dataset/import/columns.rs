//! Which keys an import accepts — the row format's [`COLUMNS`] and the import's
//! [`EXTRA_COLUMNS`] — and what to suggest for one it does not know.

use crate::dataset::rows::COLUMNS;

/// Optional columns of the row format beyond [`COLUMNS`]:
/// - `attributes`: free-form quality attributes of the flow, a JSON object (JSON text in CSV);
/// - `business_ref`: rows with the same ref are one business (default: rows with the same name);
/// - `site_ref`: within a business, rows with the same ref are one site (default: the site name).
///
/// Export fills the refs only where two businesses (or two sites of one business) share a name.
pub const EXTRA_COLUMNS: [&str; 3] = ["attributes", "business_ref", "site_ref"];

pub(super) fn known_column(name: &str) -> bool {
    COLUMNS.contains(&name) || EXTRA_COLUMNS.contains(&name)
}

fn all_columns() -> impl Iterator<Item = &'static str> {
    COLUMNS.iter().chain(EXTRA_COLUMNS.iter()).copied()
}

/// "did you mean 'temperature_c'?" for a near miss, else the list of columns.
pub(super) fn unknown_column_message(kind: &str, name: &str) -> String {
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
