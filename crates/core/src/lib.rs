//! Symbiont's domain: businesses, sites, resource flows, units, weekly profiles and the resource
//! taxonomy with its compatibility rules, the European Waste Catalogue mapped onto it and the
//! typical flows of NACE classes, plus the validation that turns user input into them.
//!
//! This crate does no I/O (beyond parsing a taxonomy text handed to it) and knows nothing of HTTP,
//! databases or async runtimes; every other crate builds on it.

pub mod decision;
pub mod error;
pub mod events;
pub mod ewc;
pub mod geo;
pub mod model;
pub mod profile;
#[cfg(feature = "openapi")]
pub mod schemas;
pub mod taxonomy;
pub mod templates;
pub mod units;

pub use decision::{MatchDecision, MatchStatus};
pub use error::{FieldError, ValidationError};
pub use ewc::{EwcCatalogue, EwcEntry, EwcHeading, HAZARDOUS_WASTE_NOTE};
pub use geo::{GeoPoint, haversine_km};
pub use model::{
    Business, BusinessDraft, Contact, Direction, Flow, FlowDraft, FlowStatus, PhysicalForm,
    Quality, Quantity, Site, SiteDraft,
};
pub use profile::WeeklyProfile;
pub use taxonomy::{Category, CompatibilityRule, QualityConstraint, Taxonomy, TaxonomyError};
pub use templates::{NaceTemplate, NaceTemplates, SuggestedFlow, TemplateFlow};
pub use units::{Dimension, UnitError};
