//! The typical flows of NACE classes as their readers see them: every template, one class's, and
//! the flows suggested to a business of a class when it is registered. Read-only; the templates are
//! loaded with the taxonomy at start.

use symbiont_core::{NaceTemplate, SuggestedFlow};

use crate::App;
use crate::error::AppError;

/// Every template, in file order.
#[derive(Debug, Clone)]
pub struct TemplateListing<'a> {
    pub version: &'a str,
    pub items: &'a [NaceTemplate],
}

impl App {
    pub fn industry_templates(&self) -> TemplateListing<'_> {
        let templates = self.taxonomy.templates();
        TemplateListing {
            version: &templates.version,
            items: templates.templates(),
        }
    }

    /// The template of a NACE class (`C11.05` or `11.05`). Not found for an unknown class, a
    /// division or group, or text that is no NACE code; the message names the classes of the same
    /// division that have one.
    pub fn industry_template(&self, nace: &str) -> Result<&NaceTemplate, AppError> {
        let templates = self.taxonomy.templates();
        templates.template(nace).ok_or_else(|| {
            let division = symbiont_core::model::normalise_nace(nace)
                .ok()
                .map(|code| code.chars().take(3).collect::<String>());
            let nearby: Vec<&str> = division
                .as_deref()
                .map(|d| {
                    templates
                        .templates()
                        .iter()
                        .filter(|t| t.nace.starts_with(d))
                        .map(|t| t.nace.as_str())
                        .collect()
                })
                .unwrap_or_default();
            let hint = if nearby.is_empty() {
                "see GET /api/v1/templates".to_string()
            } else {
                format!("classes of its division with one: {}", nearby.join(", "))
            };
            AppError::NotFound(format!("no template for NACE class '{nace}'; {hint}"))
        })
    }

    /// The flows suggested to a business of `industry` (a NACE code as stored): its class's
    /// typical flows as drafts to edit, or none when the class has no template.
    pub fn suggested_flows(&self, industry: &str) -> Vec<SuggestedFlow> {
        self.taxonomy
            .templates()
            .template(industry)
            .map(|t| t.flows.iter().map(|f| f.suggestion()).collect())
            .unwrap_or_default()
    }
}
