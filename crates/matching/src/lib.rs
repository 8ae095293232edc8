//! Symbiont's matching engine: which offers can serve which needs, how well, and why.
//!
//! Given flows (offers and needs) with their site locations and the resource taxonomy, the
//! [`Engine`] keeps the set of [`Match`]es that satisfy every hard constraint (compatibility rule and
//! its quality constraint, distance, validity, both active, different businesses), each with a
//! score in 0..1, its components, the figures behind them (distance, delivered quantity, temporal
//! overlap, EUR and t CO2 per year), an allocation of scarce offers and a sentence a person reads.
//! It is kept up to date change by change, each change returning a [`MatchDiff`], and can be rebuilt
//! whole in parallel. `docs/matching.md` gives the formula, the units and a worked example.
//!
//! Pure computation: no I/O, no async, no clock. The service owns persistence and locking.

mod allocation;
pub mod boundary;
mod catalog;
mod engine;
mod explain;
pub mod global_allocation;
mod match_table;
mod pair;
mod record;
pub mod reference;
pub mod score_settings;
mod spatial;

pub use boundary::{
    Explanation, FlowInput, FlowPlace, MATCH_ID_NAMESPACE, Match, MatchDiff, RemovedMatch,
    ScoreComponents, match_id,
};
pub use engine::{Engine, EngineStats, MatchHead, PreparedFlows};
pub use score_settings::{
    ConfigError, MAX_PROPOSALS, MatchingConfig, ProposalLimits, ScoreScales, ScoreWeights,
};
