//! NACE templates: the resource flows a business of a NACE Rev.2 class typically offers and needs,
//! with a typical quality and the order of magnitude of the amount, loaded from
//! `configs/nace_templates.toml` with the taxonomy. They become the flows suggested to a business
//! when it is registered; every suggestion is checked at load to be a valid flow draft.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::model::{Direction, FlowDraft, FlowStatus, Quality, Quantity, normalise_nace};
use crate::taxonomy::TaxonomyError;

/// The templates shipped with Symbiont, compiled into the binary.
pub const BUILTIN_TEMPLATES: &str = include_str!("../../../configs/nace_templates.toml");

/// One typical flow of a class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TemplateFlow {
    pub direction: Direction,
    pub category: String,
    /// The typical range for one mid-sized site, in `unit`: about an order of magnitude wide, a
    /// screening estimate, not a measurement.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<f64>, min_items = 2, max_items = 2))]
    pub quantity: [f64; 2],
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressure_bar: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purity_pct: Option<f64>,
    pub description: String,
}

impl TemplateFlow {
    /// The flow as a draft to edit and post: the geometric middle of the range, rounded to two
    /// significant figures, and the typical quality.
    pub fn suggestion(&self) -> SuggestedFlow {
        let middle = (self.quantity[0] * self.quantity[1]).sqrt();
        let magnitude = 10f64.powf(middle.log10().floor() - 1.0);
        SuggestedFlow {
            direction: self.direction,
            category: self.category.clone(),
            quantity: Quantity {
                value: (middle / magnitude).round() * magnitude,
                unit: self.unit.clone(),
            },
            quality: Quality {
                temperature_c: self.temperature_c,
                pressure_bar: self.pressure_bar,
                purity_pct: self.purity_pct,
                ..Quality::default()
            },
            description: self.description.clone(),
            typical_range: self.quantity.to_vec(),
        }
    }
}

/// A flow suggested to a new business: a flow draft without its site, to check, edit and post to
/// `POST /api/v1/flows` with a `site_id`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SuggestedFlow {
    pub direction: Direction,
    pub category: String,
    /// The middle of the typical range; replace it with the site's own figure.
    pub quantity: Quantity,
    pub quality: Quality,
    pub description: String,
    /// The typical range for a mid-sized site, in `quantity.unit`.
    pub typical_range: Vec<f64>,
}

impl SuggestedFlow {
    /// The draft this suggestion posts as, at `site_id`.
    pub fn draft(&self, site_id: uuid::Uuid) -> FlowDraft {
        FlowDraft {
            site_id,
            direction: self.direction,
            category: self.category.clone(),
            ewc_code: None,
            description: self.description.clone(),
            quality: self.quality.clone(),
            quantity: self.quantity.clone(),
            profile: None,
            monthly_factors: None,
            price_eur_per_unit: None,
            max_distance_km: None,
            valid_from: None,
            valid_until: None,
            status: FlowStatus::Active,
            anonymous: false,
            max_proposals: None,
            pays_for_co2: false,
        }
    }
}

/// The typical flows of one NACE class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NaceTemplate {
    /// The class with its section letter, e.g. `C11.05`.
    #[cfg_attr(feature = "openapi", schema(example = "C11.05"))]
    pub nace: String,
    pub name: String,
    /// Where the typical flows and their magnitudes come from.
    pub source: String,
    pub flows: Vec<TemplateFlow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplatesFile {
    version: String,
    #[serde(rename = "template")]
    templates: Vec<NaceTemplate>,
}

/// The loaded templates, in file order, with a lookup by class.
#[derive(Debug, Clone, Default)]
pub struct NaceTemplates {
    pub version: String,
    templates: Vec<NaceTemplate>,
    by_nace: HashMap<String, usize>,
}

impl NaceTemplates {
    pub fn builtin() -> Result<Self, TaxonomyError> {
        Self::from_toml(BUILTIN_TEMPLATES)
    }

    /// Parses and checks the file's own consistency; `Taxonomy::with_templates` checks every flow
    /// against the taxonomy.
    pub fn from_toml(text: &str) -> Result<Self, TaxonomyError> {
        let file: TemplatesFile = toml::from_str(text)?;
        let invalid =
            |message: String| TaxonomyError::Invalid(format!("NACE templates: {message}"));
        let mut by_nace = HashMap::new();
        for (i, template) in file.templates.iter().enumerate() {
            let class = normalise_nace(&template.nace).map_err(invalid)?;
            if class != template.nace || !is_class(&class) {
                return Err(invalid(format!(
                    "'{}' is not a NACE class written with its section letter (such as C11.05)",
                    template.nace
                )));
            }
            if by_nace.insert(class, i).is_some() {
                return Err(invalid(format!("{} appears twice", template.nace)));
            }
            if template.flows.is_empty() || template.source.trim().is_empty() {
                return Err(invalid(format!(
                    "{} needs flows and a source",
                    template.nace
                )));
            }
            for flow in &template.flows {
                let [low, high] = flow.quantity;
                if !(low.is_finite() && high.is_finite() && 0.0 < low && low <= high) {
                    return Err(invalid(format!(
                        "{} {}: the range must be 0 < low <= high",
                        template.nace, flow.category
                    )));
                }
            }
        }
        Ok(Self {
            version: file.version,
            templates: file.templates,
            by_nace,
        })
    }

    pub fn templates(&self) -> &[NaceTemplate] {
        &self.templates
    }

    /// The template of a class (`C11.05`, `11.05`); none for a division or group.
    pub fn template(&self, nace: &str) -> Option<&NaceTemplate> {
        let class = normalise_nace(nace).ok()?;
        self.by_nace.get(&class).map(|i| &self.templates[*i])
    }
}

/// `C11.05` is a class; `C11` and `C11.0` are not.
fn is_class(nace: &str) -> bool {
    nace.split_once('.')
        .is_some_and(|(_, class)| class.len() == 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_sit_in_the_middle_of_the_range_at_two_figures() {
        let flow = TemplateFlow {
            direction: Direction::Offer,
            category: "material.spent_grain".into(),
            quantity: [2000.0, 20000.0],
            unit: "t/year".into(),
            temperature_c: None,
            pressure_bar: None,
            purity_pct: None,
            description: "Wet brewers' grains".into(),
        };
        let suggestion = flow.suggestion();
        assert_eq!(suggestion.quantity.value, 6300.0);
        assert_eq!(suggestion.typical_range, [2000.0, 20000.0]);
        let small = TemplateFlow {
            quantity: [1.0, 10.0],
            ..flow
        };
        assert_eq!(small.suggestion().quantity.value, 3.2);
    }

    #[test]
    fn the_builtin_templates_cover_sixty_classes_and_are_found_by_class() {
        let templates = NaceTemplates::builtin().expect("the shipped templates are valid");
        assert!(
            templates.templates().len() >= 60,
            "{}",
            templates.templates().len()
        );
        let brewery = templates.template("11.05").expect("breweries");
        assert_eq!(brewery.nace, "C11.05");
        assert!(
            brewery
                .flows
                .iter()
                .any(|f| f.category == "material.spent_grain")
        );
        assert!(
            templates.template("C11").is_none(),
            "a division has no template"
        );
        assert!(templates.template("nonsense").is_none());
    }
}
