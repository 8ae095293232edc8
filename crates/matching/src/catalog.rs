//! The taxonomy resolved for fast lookups: categories by small integer index, the rules each
//! category takes part in, and an offer × need rule matrix. Built once per engine from the
//! `Taxonomy` of `symbiont-core`, which stays the single source of categories and rules.

use std::collections::HashMap;
use std::sync::Arc;

use symbiont_core::{CompatibilityRule, Dimension, Taxonomy};

/// What the engine needs of one category.
#[derive(Debug, Clone)]
pub(crate) struct CategoryInfo {
    pub code: Arc<str>,
    /// How a sentence names the resource: "low-temperature heat" for "Low-temperature heat (40-90 °C)".
    pub noun: Arc<str>,
    pub dimension: Dimension,
    pub transport_cost_eur_per_unit_km: f64,
    pub substitute_value_eur_per_unit: f64,
    pub co2_factor_t_per_unit: f64,
    pub max_distance_km: f64,
    /// Travels through a pipe or grid, so supply and demand must coincide hour by hour (it cannot be
    /// stored and trucked later).
    pub continuous: bool,
}

/// The taxonomy as indexes.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    pub taxonomy: Arc<Taxonomy>,
    pub categories: Vec<CategoryInfo>,
    by_code: HashMap<String, u32>,
    /// For each offer category: the need categories it can serve.
    pub offer_rules: Vec<Vec<u32>>,
    /// For each need category: the offer categories that can serve it.
    pub need_rules: Vec<Vec<u32>>,
    /// `offer * len + need` → index into `taxonomy.rules()`; the first rule wins if a pair repeats.
    matrix: Vec<Option<u32>>,
}

impl Catalog {
    pub fn new(taxonomy: Arc<Taxonomy>) -> Self {
        let categories: Vec<CategoryInfo> = taxonomy
            .categories()
            .iter()
            .map(|c| CategoryInfo {
                code: Arc::from(c.code.as_str()),
                noun: Arc::from(noun(&c.name, &c.code).as_str()),
                dimension: c.dimension,
                transport_cost_eur_per_unit_km: c.transport_cost_eur_per_unit_km,
                substitute_value_eur_per_unit: c.substitute_value_eur_per_unit,
                co2_factor_t_per_unit: c.co2_factor_t_per_unit,
                max_distance_km: c.max_distance_km,
                continuous: matches!(
                    c.transport_mode.trim().to_ascii_lowercase().as_str(),
                    "pipe" | "pipeline" | "grid"
                ),
            })
            .collect();
        let by_code: HashMap<String, u32> = categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.code.to_string(), index(i)))
            .collect();
        let n = categories.len();
        let mut matrix = vec![None; n * n];
        let mut offer_rules = vec![Vec::new(); n];
        let mut need_rules = vec![Vec::new(); n];
        for (r, rule) in taxonomy.rules().iter().enumerate() {
            // The loader guarantees both codes exist; a rule that somehow does not resolve is skipped.
            let (Some(&o), Some(&d)) = (by_code.get(&rule.offer), by_code.get(&rule.need)) else {
                continue;
            };
            let cell = &mut matrix[o as usize * n + d as usize];
            if cell.is_none() {
                *cell = Some(index(r));
                offer_rules[o as usize].push(d);
                need_rules[d as usize].push(o);
            }
        }
        Self {
            taxonomy,
            categories,
            by_code,
            offer_rules,
            need_rules,
            matrix,
        }
    }

    pub fn category_index(&self, code: &str) -> Option<u32> {
        self.by_code.get(code).copied()
    }

    pub fn category(&self, index: u32) -> &CategoryInfo {
        &self.categories[index as usize]
    }

    pub fn rule(&self, offer: u32, need: u32) -> Option<&CompatibilityRule> {
        let n = self.categories.len();
        let r = self
            .matrix
            .get(offer as usize * n + need as usize)
            .copied()
            .flatten()?;
        self.taxonomy.rules().get(r as usize)
    }

    pub fn memory_bytes(&self) -> usize {
        let lists: usize = self
            .offer_rules
            .iter()
            .chain(&self.need_rules)
            .map(|l| l.capacity() * 4 + 24)
            .sum();
        self.categories.len() * (std::mem::size_of::<CategoryInfo>() + 64)
            + self.matrix.len() * 8
            + lists
    }
}

fn index(i: usize) -> u32 {
    u32::try_from(i).expect("a taxonomy has far fewer than 2^32 categories and rules")
}

/// "Low-temperature heat (40-90 °C)" → "low-temperature heat"; "CO2 (food grade)" → "CO2".
pub(crate) fn noun(name: &str, code: &str) -> String {
    let base = name.split('(').next().unwrap_or_default().trim();
    if base.is_empty() {
        return code.to_string();
    }
    let mut chars = base.chars();
    let first = chars.next();
    let second = chars.next();
    match (first, second) {
        // Lower-case a capitalised word, but leave acronyms (CO2, PET) alone.
        (Some(f), Some(s)) if f.is_uppercase() && s.is_lowercase() => {
            f.to_lowercase().chain(base.chars().skip(1)).collect()
        }
        _ => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::noun;

    #[test]
    fn nouns_drop_the_band_and_keep_acronyms() {
        assert_eq!(
            noun("Low-temperature heat (40-90 °C)", "heat.low_temp"),
            "low-temperature heat"
        );
        assert_eq!(noun("CO2 (food grade)", "gas.co2"), "CO2");
        assert_eq!(noun("", "material.fly_ash"), "material.fly_ash");
        assert_eq!(noun("Fly ash", "material.fly_ash"), "fly ash");
    }
}
