//! The resource taxonomy (categories) and compatibility rules (which offers can serve which needs),
//! loaded from a TOML file at start and read-only afterwards. See `configs/taxonomy.toml`. The
//! European Waste Catalogue (`crate::ewc`) is attached to it, so that a waste code resolves to a
//! category wherever the taxonomy is at hand.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::ewc::{BUILTIN_EWC, EwcCatalogue};
use crate::model::Quality;
use crate::templates::{BUILTIN_TEMPLATES, NaceTemplates};
use crate::units::Dimension;

/// A node of the resource taxonomy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Dotted code, e.g. `heat.low_temp`, `material.fly_ash`.
    pub code: String,
    pub name: String,
    /// Top-level family: heat, steam, cooling, water, gas, material, capacity ...
    pub group: String,
    pub dimension: Dimension,
    /// European Waste Catalogue code where one exists (e.g. `10 01 02` for coal fly ash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ewc_code: Option<String>,
    /// How it usually travels: pipe, truck, rail, ship, grid.
    pub transport_mode: String,
    /// EUR per amount unit (MWh, t, m3) per km transported.
    pub transport_cost_eur_per_unit_km: f64,
    /// EUR per amount unit that the substituted virgin resource would cost.
    pub substitute_value_eur_per_unit: f64,
    /// t CO2 avoided per amount unit substituted.
    pub co2_factor_t_per_unit: f64,
    /// Beyond this distance an exchange is not sensible.
    pub max_distance_km: f64,
    /// Inclusive temperature band a flow of this category must fall in, where the category has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_min_c: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_max_c: Option<f64>,
    /// Quality fields a flow of this category must state (e.g. `["temperature_c"]` for heat).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_quality: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Where the factors come from.
    pub source: String,
}

impl Category {
    /// The canonical unit quantities of this category are stored and compared in.
    pub fn canonical_unit(&self) -> &'static str {
        self.dimension.canonical_unit()
    }
}

/// Which offers can serve which needs, under what quality constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompatibilityRule {
    pub offer: String,
    pub need: String,
    /// E.g. `offer.temperature_c >= need.temperature_c + 10`; empty means always compatible.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub constraint: String,
    /// Need units served per offer unit (e.g. 0.9 for losses, or a heat pump's lift).
    #[serde(default = "one")]
    pub conversion: f64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    pub source: String,
    #[serde(skip)]
    pub parsed: QualityConstraint,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaxonomyFile {
    #[serde(default)]
    version: String,
    #[serde(rename = "category")]
    categories: Vec<Category>,
    #[serde(rename = "rule")]
    rules: Vec<CompatibilityRule>,
}

/// Why a taxonomy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TaxonomyError {
    #[error("taxonomy is not valid TOML: {0}")]
    Syntax(#[from] toml::de::Error),
    #[error("taxonomy is inconsistent: {0}")]
    Invalid(String),
}

/// The loaded taxonomy with lookup indexes.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    pub version: String,
    categories: Vec<Category>,
    by_code: HashMap<String, usize>,
    rules: Vec<CompatibilityRule>,
    rules_by_offer: HashMap<String, Vec<usize>>,
    rules_by_need: HashMap<String, Vec<usize>>,
    /// Empty unless attached with `with_ewc_catalogue` (the built-in taxonomy has it).
    ewc: EwcCatalogue,
    /// Empty unless attached with `with_templates` (the built-in taxonomy has them).
    templates: NaceTemplates,
}

/// The taxonomy shipped with Symbiont, compiled into the binary so it always has one.
pub const BUILTIN_TAXONOMY: &str = include_str!("../../../configs/taxonomy.toml");

impl Taxonomy {
    /// The shipped taxonomy with the shipped European Waste Catalogue and NACE templates attached.
    pub fn builtin() -> Result<Self, TaxonomyError> {
        Self::from_toml(BUILTIN_TAXONOMY)?
            .with_ewc_catalogue(EwcCatalogue::from_toml(BUILTIN_EWC)?)?
            .with_templates(NaceTemplates::from_toml(BUILTIN_TEMPLATES)?)
    }

    /// Attaches NACE templates after checking that each of their flows, as suggested, is a valid
    /// flow draft here (category, unit, required quality, temperature band).
    pub fn with_templates(mut self, templates: NaceTemplates) -> Result<Self, TaxonomyError> {
        let identity = crate::model::FlowIdentity {
            id: uuid::Uuid::nil(),
            business_id: uuid::Uuid::nil(),
            version: 1,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        };
        for template in templates.templates() {
            for flow in &template.flows {
                let suggestion = flow.suggestion();
                for value in flow.quantity {
                    let draft = crate::model::FlowDraft {
                        quantity: crate::model::Quantity {
                            value,
                            unit: flow.unit.clone(),
                        },
                        ..suggestion.draft(uuid::Uuid::nil())
                    };
                    draft.validate(&self, identity).map_err(|e| {
                        TaxonomyError::Invalid(format!(
                            "NACE template {} {} {}: {e}",
                            template.nace,
                            flow.direction.as_str(),
                            flow.category
                        ))
                    })?;
                }
            }
        }
        self.templates = templates;
        Ok(self)
    }

    /// The NACE templates; empty for a taxonomy loaded without them.
    pub fn templates(&self) -> &NaceTemplates {
        &self.templates
    }

    /// Attaches a waste catalogue after checking that every category it names exists here and
    /// that every category's own `ewc_code` is an entry that admits that category.
    pub fn with_ewc_catalogue(mut self, ewc: EwcCatalogue) -> Result<Self, TaxonomyError> {
        for entry in ewc.entries() {
            for category in entry.category.iter().chain(&entry.also) {
                if !self.by_code.contains_key(category) {
                    return Err(TaxonomyError::Invalid(format!(
                        "EWC {} maps to unknown category '{category}'",
                        entry.code
                    )));
                }
            }
        }
        for category in &self.categories {
            if let Some(code) = &category.ewc_code {
                let admitted = ewc
                    .entry(code)
                    .is_some_and(|e| e.category.is_some() && e.admits(&category.code));
                if !admitted {
                    return Err(TaxonomyError::Invalid(format!(
                        "category '{}' names EWC {code}, which the catalogue does not map to it",
                        category.code
                    )));
                }
            }
        }
        self.ewc = ewc;
        Ok(self)
    }

    /// The European Waste Catalogue; empty for a taxonomy loaded without one.
    pub fn ewc(&self) -> &EwcCatalogue {
        &self.ewc
    }

    pub fn from_toml(text: &str) -> Result<Self, TaxonomyError> {
        let file: TaxonomyFile = toml::from_str(text)?;
        let mut by_code = HashMap::new();
        for (i, c) in file.categories.iter().enumerate() {
            if by_code.insert(c.code.clone(), i).is_some() {
                return Err(TaxonomyError::Invalid(format!(
                    "category '{}' appears twice",
                    c.code
                )));
            }
            let factors = [
                c.transport_cost_eur_per_unit_km,
                c.substitute_value_eur_per_unit,
                c.co2_factor_t_per_unit,
                c.max_distance_km,
            ];
            if factors.iter().any(|f| !f.is_finite()) || c.max_distance_km <= 0.0 {
                return Err(TaxonomyError::Invalid(format!(
                    "category '{}' has a bad factor",
                    c.code
                )));
            }
            if c.source.trim().is_empty() {
                return Err(TaxonomyError::Invalid(format!(
                    "category '{}' has no source",
                    c.code
                )));
            }
            for q in &c.required_quality {
                if !Quality::NUMERIC_FIELDS.contains(&q.as_str()) {
                    return Err(TaxonomyError::Invalid(format!(
                        "category '{}' requires unknown quality field '{q}'",
                        c.code
                    )));
                }
            }
        }
        let mut rules = file.rules;
        let mut rules_by_offer: HashMap<String, Vec<usize>> = HashMap::new();
        let mut rules_by_need: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, rule) in rules.iter_mut().enumerate() {
            for code in [&rule.offer, &rule.need] {
                if !by_code.contains_key(code) {
                    return Err(TaxonomyError::Invalid(format!(
                        "rule {} -> {} names unknown category '{code}'",
                        rule.offer, rule.need
                    )));
                }
            }
            if !(rule.conversion.is_finite() && rule.conversion > 0.0) {
                return Err(TaxonomyError::Invalid(format!(
                    "rule {} -> {} has a non-positive conversion",
                    rule.offer, rule.need
                )));
            }
            rule.parsed = QualityConstraint::parse(&rule.constraint).map_err(|e| {
                TaxonomyError::Invalid(format!("rule {} -> {}: {e}", rule.offer, rule.need))
            })?;
            let offer_dim = file.categories[by_code[&rule.offer]].dimension;
            let need_dim = file.categories[by_code[&rule.need]].dimension;
            let energy = |d: Dimension| matches!(d, Dimension::Power | Dimension::Energy);
            if offer_dim != need_dim && !(energy(offer_dim) && energy(need_dim)) {
                return Err(TaxonomyError::Invalid(format!(
                    "rule {} -> {} joins different dimensions",
                    rule.offer, rule.need
                )));
            }
            rules_by_offer
                .entry(rule.offer.clone())
                .or_default()
                .push(i);
            rules_by_need.entry(rule.need.clone()).or_default().push(i);
        }
        Ok(Self {
            version: file.version,
            categories: file.categories,
            by_code,
            rules,
            rules_by_offer,
            rules_by_need,
            ewc: EwcCatalogue::default(),
            templates: NaceTemplates::default(),
        })
    }

    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    pub fn category(&self, code: &str) -> Option<&Category> {
        self.by_code.get(code).map(|i| &self.categories[*i])
    }

    pub fn rules(&self) -> &[CompatibilityRule] {
        &self.rules
    }

    /// Rules whose offer side is `offer_category`.
    pub fn rules_for_offer<'a>(
        &'a self,
        offer_category: &str,
    ) -> impl Iterator<Item = &'a CompatibilityRule> {
        self.rules_by_offer
            .get(offer_category)
            .into_iter()
            .flatten()
            .map(|i| &self.rules[*i])
    }

    /// Rules whose need side is `need_category`.
    pub fn rules_for_need<'a>(
        &'a self,
        need_category: &str,
    ) -> impl Iterator<Item = &'a CompatibilityRule> {
        self.rules_by_need
            .get(need_category)
            .into_iter()
            .flatten()
            .map(|i| &self.rules[*i])
    }

    /// The rule joining an offer category to a need category, if any.
    pub fn rule(&self, offer_category: &str, need_category: &str) -> Option<&CompatibilityRule> {
        self.rules_for_offer(offer_category)
            .find(|r| r.need == need_category)
    }
}

/// A conjunction of comparisons between offer and need quality fields, such as
/// `offer.temperature_c >= need.temperature_c + 10 and offer.purity_pct >= 95`.
/// A comparison whose field is not stated on a flow is not satisfied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualityConstraint {
    comparisons: Vec<Comparison>,
}

#[derive(Debug, Clone, PartialEq)]
struct Comparison {
    left: Term,
    op: Op,
    right: Term,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Ge,
    Le,
    Gt,
    Lt,
    Eq,
}

/// `side.field + offset`, or a plain number.
#[derive(Debug, Clone, PartialEq)]
struct Term {
    field: Option<(Side, String)>,
    offset: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Offer,
    Need,
}

impl QualityConstraint {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut comparisons = Vec::new();
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::default());
        }
        for part in text.split(" and ") {
            let part = part.trim();
            let (op, pos, len) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("==", Op::Eq),
                (">", Op::Gt),
                ("<", Op::Lt),
            ]
            .iter()
            .find_map(|(s, op)| part.find(s).map(|p| (*op, p, s.len())))
            .ok_or_else(|| format!("'{part}' has no comparison operator"))?;
            comparisons.push(Comparison {
                left: Term::parse(&part[..pos])?,
                op,
                right: Term::parse(&part[pos + len..])?,
            });
        }
        Ok(Self { comparisons })
    }

    /// True when every comparison holds for this offer and need.
    pub fn holds(&self, offer: &Quality, need: &Quality) -> bool {
        self.comparisons.iter().all(|c| {
            match (c.left.eval(offer, need), c.right.eval(offer, need)) {
                (Some(l), Some(r)) => match c.op {
                    Op::Ge => l >= r,
                    Op::Le => l <= r,
                    Op::Gt => l > r,
                    Op::Lt => l < r,
                    Op::Eq => (l - r).abs() < 1e-9,
                },
                _ => false,
            }
        })
    }

    /// The smallest slack `left - right` over the comparisons (how far inside the constraint the pair
    /// is, in the fields' units), or `None` when there is nothing to compare.
    pub fn margin(&self, offer: &Quality, need: &Quality) -> Option<f64> {
        self.comparisons
            .iter()
            .filter_map(|c| {
                let (l, r) = (c.left.eval(offer, need)?, c.right.eval(offer, need)?);
                Some(match c.op {
                    Op::Ge | Op::Gt => l - r,
                    Op::Le | Op::Lt => r - l,
                    Op::Eq => -(l - r).abs(),
                })
            })
            .reduce(f64::min)
    }

    pub fn is_empty(&self) -> bool {
        self.comparisons.is_empty()
    }
}

impl Term {
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        // An offset follows the last '+' or '-' after the first character: `need.temperature_c - 5`.
        let sign = text
            .char_indices()
            .skip(1)
            .filter(|(_, c)| matches!(c, '+' | '-'))
            .last();
        let (head, offset) = match sign {
            Some((i, _)) => {
                let offset = text[i..].replace(' ', "");
                let offset: f64 = offset
                    .parse()
                    .map_err(|_| format!("bad offset '{offset}' in '{text}'"))?;
                (text[..i].trim(), offset)
            }
            None => (text, 0.0),
        };
        if let Ok(number) = head.parse::<f64>() {
            return Ok(Term {
                field: None,
                offset: number + offset,
            });
        }
        let (side, field) = head
            .split_once('.')
            .ok_or_else(|| format!("'{head}' is neither a number nor offer.X / need.X"))?;
        let side = match side {
            "offer" => Side::Offer,
            "need" => Side::Need,
            _ => return Err(format!("'{side}' must be offer or need")),
        };
        if !Quality::NUMERIC_FIELDS.contains(&field) {
            return Err(format!("unknown quality field '{field}'"));
        }
        Ok(Term {
            field: Some((side, field.to_string())),
            offset,
        })
    }

    fn eval(&self, offer: &Quality, need: &Quality) -> Option<f64> {
        match &self.field {
            None => Some(self.offset),
            Some((side, field)) => {
                let quality = if *side == Side::Offer { offer } else { need };
                quality.numeric(field).map(|v| v + self.offset)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(t: f64) -> Quality {
        Quality {
            temperature_c: Some(t),
            ..Quality::default()
        }
    }

    #[test]
    fn temperature_lift_constraint() {
        let c = QualityConstraint::parse("offer.temperature_c >= need.temperature_c + 10")
            .expect("valid");
        assert!(c.holds(&temp(80.0), &temp(70.0)));
        assert!(!c.holds(&temp(35.0), &temp(60.0)));
        assert!(
            !c.holds(&Quality::default(), &temp(60.0)),
            "unknown temperature is not proven"
        );
        assert_eq!(c.margin(&temp(90.0), &temp(70.0)), Some(10.0));
    }

    #[test]
    fn conjunctions_numbers_and_negative_offsets() {
        let c = QualityConstraint::parse(
            "offer.purity_pct >= 95 and offer.temperature_c >= need.temperature_c - 5",
        )
        .expect("valid");
        let offer = Quality {
            purity_pct: Some(99.0),
            temperature_c: Some(20.0),
            ..Quality::default()
        };
        assert!(c.holds(&offer, &temp(25.0)));
        assert!(!c.holds(&offer, &temp(26.0)));
    }

    #[test]
    fn bad_constraints_are_refused() {
        for bad in [
            "offer.colour >= 3",
            "offer.temperature_c",
            "seller.temperature_c >= 3",
            "x >= 3",
        ] {
            assert!(QualityConstraint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builtin_taxonomy_loads_and_is_complete() {
        let t = Taxonomy::builtin().expect("the shipped taxonomy is valid");
        assert!(
            t.categories().len() >= 100,
            "{} categories",
            t.categories().len()
        );
        assert!(!t.rules().is_empty());
        for c in t.categories() {
            assert!(!c.source.is_empty(), "{} has a source", c.code);
        }
    }
}
