//! The European Waste Catalogue as its readers see it: a search over codes and titles, paged in
//! code order, and one entry with the category it maps to. Read-only; the catalogue is loaded with
//! the taxonomy at start.

use symbiont_core::EwcEntry;
use symbiont_core::error::Collector;
use symbiont_core::ewc::normalise_code;

use crate::App;
use crate::error::AppError;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;
const MAX_QUERY_CHARS: usize = 200;

/// A search as the caller wrote it; every value is checked here, so each bad one is named.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasteCodeSearch<'q> {
    /// A code or code prefix (`16 08`, `1608`), or words that must all appear in the entry's title
    /// or in its section's or chapter's.
    pub text: Option<&'q str>,
    /// `true` or `false`.
    pub hazardous: Option<&'q str>,
    /// Entries that map to this category (as their own or as a further one).
    pub category: Option<&'q str>,
    /// The `next_cursor` of the previous page: the last code served, as six digits.
    pub cursor: Option<&'q str>,
    /// 1 to 1000, default 50.
    pub limit: Option<&'q str>,
}

/// One page of entries in code order.
#[derive(Debug, Clone)]
pub struct WasteCodePage<'a> {
    pub version: &'a str,
    pub items: Vec<&'a EwcEntry>,
    pub next_cursor: Option<String>,
}

impl App {
    pub fn waste_codes(&self, search: &WasteCodeSearch<'_>) -> Result<WasteCodePage<'_>, AppError> {
        let mut errors = Collector::default();
        let text = search.text.map(str::trim).unwrap_or("");
        errors.check(text.chars().count() <= MAX_QUERY_CHARS, "q", || {
            format!("must be at most {MAX_QUERY_CHARS} characters")
        });
        let hazardous = match search.hazardous {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                errors.add("hazardous", format!("'{other}' is neither true nor false"));
                None
            }
        };
        if let Some(category) = search.category {
            errors.check(
                self.taxonomy.category(category).is_some(),
                "category",
                || format!("unknown category '{category}'; see GET /api/v1/categories"),
            );
        }
        let after = search.cursor.and_then(|cursor| {
            let code = normalise_code(cursor);
            if code.is_none() {
                errors.add(
                    "cursor",
                    format!("'{cursor}' is not a cursor from a previous page (a six-digit code)"),
                );
            }
            code
        });
        let limit = match search.limit {
            None => DEFAULT_LIMIT,
            Some(limit) => match limit.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    errors.add(
                        "limit",
                        format!("'{limit}' is not a whole number between 1 and {MAX_LIMIT}"),
                    );
                    DEFAULT_LIMIT
                }
            },
        };
        errors.finish(())?;
        let catalogue = self.taxonomy.ewc();
        let mut items: Vec<&EwcEntry> = catalogue
            .search(text)
            .filter(|e| {
                after
                    .as_ref()
                    .is_none_or(|after| e.code.as_str() > after.as_str())
            })
            .filter(|e| hazardous.is_none_or(|h| e.hazardous == h))
            .filter(|e| {
                search.category.is_none_or(|c| {
                    e.category.as_deref() == Some(c) || e.also.iter().any(|a| a == c)
                })
            })
            .take(limit + 1)
            .collect();
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            // The code without its spaces, so the cursor needs no escaping in a URL.
            items.last().map(|e| e.code.replace(' ', ""))
        } else {
            None
        };
        Ok(WasteCodePage {
            version: &catalogue.version,
            items,
            next_cursor,
        })
    }

    /// One entry, by its code in any usual spelling (`160802`, `16 08 02*`).
    pub fn waste_code(&self, code: &str) -> Result<&EwcEntry, AppError> {
        self.taxonomy.ewc().entry(code).ok_or_else(|| {
            AppError::NotFound(format!(
                "no European Waste Catalogue entry '{code}'; see GET /api/v1/ewc"
            ))
        })
    }
}
