//! The taxonomy as its readers see it: the categories (all, or one group's) and, for one category,
//! the compatibility rules that connect it to others. Read-only; the taxonomy is loaded at start.

use symbiont_core::{Category, CompatibilityRule};

use crate::App;
use crate::error::AppError;

/// The categories of the taxonomy at one version.
#[derive(Debug, Clone)]
pub struct CategoryListing<'a> {
    pub version: &'a str,
    pub items: Vec<&'a Category>,
}

/// A category with the rules where it is the offer (`serves`) and where it is the need
/// (`served_by`).
#[derive(Debug, Clone)]
pub struct CategoryRules<'a> {
    pub category: &'a Category,
    pub serves: Vec<&'a CompatibilityRule>,
    pub served_by: Vec<&'a CompatibilityRule>,
}

impl App {
    /// The categories, or those of one group (`heat`, `water`, ...; an unknown group has none).
    pub fn categories(&self, group: Option<&str>) -> CategoryListing<'_> {
        CategoryListing {
            version: &self.taxonomy.version,
            items: self
                .taxonomy
                .categories()
                .iter()
                .filter(|c| group.is_none_or(|g| c.group == g))
                .collect(),
        }
    }

    pub fn category_rules(&self, code: &str) -> Result<CategoryRules<'_>, AppError> {
        let category = self
            .taxonomy
            .category(code)
            .ok_or_else(|| AppError::NotFound(format!("no category '{code}'")))?;
        Ok(CategoryRules {
            category,
            serves: self.taxonomy.rules_for_offer(code).collect(),
            served_by: self.taxonomy.rules_for_need(code).collect(),
        })
    }
}
