//! Configuration of the score: the weight of each component and the scales that map euros, tonnes
//! of CO2 and quality margins onto 0..1. Loaded by the server from its configuration file
//! (`[matching]`); every field has a default, so an empty table is a valid configuration.
//!
//! This module only describes and validates numbers; the formula that uses them is in `pair` (see docs/matching.md).

use serde::{Deserialize, Serialize};

/// Relative weight of each score component. The score is the weighted mean of the components
/// (`Σ wᵢ·cᵢ / Σ wᵢ`), so the weights need not add up to 1; they must be finite, non-negative and
/// not all zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreWeights {
    /// Share of the need the offer covers.
    pub coverage: f64,
    /// Temporal overlap of the weekly profiles.
    pub temporal: f64,
    /// Distance decay (nearer is better).
    pub distance: f64,
    /// How far inside the quality constraint the pair is.
    pub quality: f64,
    /// Net savings in EUR per year.
    pub economics: f64,
    /// CO2 avoided in t per year.
    pub co2: f64,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        Self {
            coverage: 0.30,
            temporal: 0.15,
            distance: 0.15,
            quality: 0.10,
            economics: 0.20,
            co2: 0.10,
        }
    }
}

impl ScoreWeights {
    /// The weights in component order: coverage, temporal, distance, quality, economics, co2.
    pub fn as_array(&self) -> [f64; 6] {
        [
            self.coverage,
            self.temporal,
            self.distance,
            self.quality,
            self.economics,
            self.co2,
        ]
    }

    pub fn sum(&self) -> f64 {
        self.as_array().iter().sum()
    }
}

/// Scales of the saturating functions that turn unbounded figures into 0..1 components. Each is a
/// half-saturation constant: a figure equal to it scores 0.5 (`x / (x + half)`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreScales {
    /// Net savings that score 0.5 on economics, EUR per year.
    pub savings_half_eur_per_year: f64,
    /// CO2 avoided that scores 0.5, t per year.
    pub co2_half_t_per_year: f64,
    /// Quality margin that scores 0.5, in the constraint's own unit (K for temperatures, bar,
    /// percentage points).
    pub quality_margin_half: f64,
    /// Quality component of a pair whose rule compares nothing (any offer of the category serves).
    pub quality_unconstrained: f64,
}

impl Default for ScoreScales {
    fn default() -> Self {
        Self {
            savings_half_eur_per_year: 50_000.0,
            co2_half_t_per_year: 100.0,
            quality_margin_half: 10.0,
            quality_unconstrained: 1.0,
        }
    }
}

/// Everything the engine can be configured with.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchingConfig {
    pub weights: ScoreWeights,
    pub scales: ScoreScales,
    pub proposals: ProposalLimits,
}

/// How many counterparts the engine proposes per flow: its best K by score (`docs/matching.md`,
/// "Proposals"). A pair is proposed if it is among the best K of its offer or of its need.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProposalLimits {
    /// Needs proposed to each offer.
    pub per_offer: u32,
    /// Offers proposed to each need, unless the need asks for more (`max_proposals`).
    pub per_need: u32,
}

impl Default for ProposalLimits {
    fn default() -> Self {
        Self {
            per_offer: 10,
            per_need: 10,
        }
    }
}

/// The most proposals a flow may ask for, or the configuration give.
pub const MAX_PROPOSALS: u32 = 100;

/// Why a configuration cannot be used; names the offending key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("matching.{field} must be a finite number >= 0, got {value}")]
    BadWeight { field: &'static str, value: f64 },
    #[error("matching.weights must not all be zero")]
    ZeroWeights,
    #[error("matching.{field} must be a finite number > 0, got {value}")]
    BadScale { field: &'static str, value: f64 },
    #[error("matching.scales.quality_unconstrained must be between 0 and 1, got {0}")]
    BadUnconstrainedQuality(f64),
    #[error("matching.proposals.{field} must be between 1 and {MAX_PROPOSALS}, got {value}")]
    BadProposals { field: &'static str, value: u32 },
}

impl MatchingConfig {
    /// Checks every number, so a bad configuration fails at start rather than producing NaN scores.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let w = &self.weights;
        let weights = [
            ("weights.coverage", w.coverage),
            ("weights.temporal", w.temporal),
            ("weights.distance", w.distance),
            ("weights.quality", w.quality),
            ("weights.economics", w.economics),
            ("weights.co2", w.co2),
        ];
        for (field, value) in weights {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ConfigError::BadWeight { field, value });
            }
        }
        if w.sum() <= 0.0 {
            return Err(ConfigError::ZeroWeights);
        }
        let s = &self.scales;
        let scales = [
            (
                "scales.savings_half_eur_per_year",
                s.savings_half_eur_per_year,
            ),
            ("scales.co2_half_t_per_year", s.co2_half_t_per_year),
            ("scales.quality_margin_half", s.quality_margin_half),
        ];
        for (field, value) in scales {
            if !(value.is_finite() && value > 0.0) {
                return Err(ConfigError::BadScale { field, value });
            }
        }
        if !(0.0..=1.0).contains(&s.quality_unconstrained) {
            return Err(ConfigError::BadUnconstrainedQuality(
                s.quality_unconstrained,
            ));
        }
        let p = &self.proposals;
        for (field, value) in [("per_offer", p.per_offer), ("per_need", p.per_need)] {
            if !(1..=MAX_PROPOSALS).contains(&value) {
                return Err(ConfigError::BadProposals { field, value });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_weights_add_up_to_one_and_validate() {
        let config = MatchingConfig::default();
        assert!((config.weights.sum() - 1.0).abs() < 1e-12);
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn partial_configuration_keeps_the_other_defaults() {
        let config: MatchingConfig =
            serde_json::from_str(r#"{"weights": {"co2": 0.5}}"#).expect("valid configuration");
        assert_eq!(config.weights.co2, 0.5);
        assert_eq!(config.weights.coverage, ScoreWeights::default().coverage);
        assert_eq!(config.scales, ScoreScales::default());
    }

    #[test]
    fn bad_numbers_name_their_key() {
        let mut config = MatchingConfig::default();
        config.weights.distance = -1.0;
        assert_eq!(
            config.validate(),
            Err(ConfigError::BadWeight {
                field: "weights.distance",
                value: -1.0
            })
        );
        let mut config = MatchingConfig::default();
        config.scales.co2_half_t_per_year = 0.0;
        assert!(
            config
                .validate()
                .expect_err("zero scale")
                .to_string()
                .contains("co2_half_t_per_year")
        );
        let zero = ScoreWeights {
            coverage: 0.0,
            temporal: 0.0,
            distance: 0.0,
            quality: 0.0,
            economics: 0.0,
            co2: 0.0,
        };
        let config = MatchingConfig {
            weights: zero,
            ..MatchingConfig::default()
        };
        assert_eq!(config.validate(), Err(ConfigError::ZeroWeights));
    }
}
