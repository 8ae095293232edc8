//! Schema-only: these types document the JSON that `symbiont_app::live_matches` writes for a match
//! (`LiveMatches::one`, `LiveMatches::page`, with anonymous sides redacted over `serde_json::Value`
//! by `symbiont_app::visibility`). No handler builds them and nothing serializes them, so they can
//! drift from what is served: keep them in step with `live_matches::MatchView` and
//! `visibility::redact` until match views are answered through a typed response.

#![allow(dead_code)]

use serde::Serialize;
use symbiont_core::MatchStatus;
use utoipa::ToSchema;
use uuid::Uuid;

/// A page of matches in the requested order.
#[derive(Serialize, ToSchema)]
pub struct MatchPage {
    pub items: Vec<MatchView>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// The score's components, each 0..1 (see docs/matching.md).
#[derive(Serialize, ToSchema)]
pub struct ScoreComponents {
    /// Share of the need's annual amount the offer delivers.
    #[schema(minimum = 0, maximum = 1)]
    pub coverage: f64,
    /// Σ min(supply, demand) / Σ demand over the 168 hours of the week.
    #[schema(minimum = 0, maximum = 1)]
    pub temporal: f64,
    /// `1 - distance / allowed distance`.
    #[schema(minimum = 0, maximum = 1)]
    pub distance: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub quality: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub economics: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub co2: f64,
}

/// A live match, or an expired one with the figures it last had. An anonymous side hidden from
/// the caller has null ids and exact figures, with bands and a score level instead, all computed as
/// if both sites stood at the centres of their ~5 km grid cells, until its owner accepts contact
/// (moves a `contacted` match to `negotiating`). The notes field is absent on redacted matches.
#[derive(Serialize, ToSchema)]
#[schema(as = Match)]
pub struct MatchView {
    /// Stable: derived from the (offer, need) pair.
    pub id: Uuid,
    /// Null when that side is an anonymous flow hidden from the caller.
    #[schema(required = true)]
    pub offer_flow_id: Option<Uuid>,
    /// Null when that side is an anonymous flow hidden from the caller.
    #[schema(required = true)]
    pub need_flow_id: Option<Uuid>,
    /// Null when that side is an anonymous flow hidden from the caller.
    #[schema(required = true)]
    pub offer_business_id: Option<Uuid>,
    /// Null when that side is an anonymous flow hidden from the caller.
    #[schema(required = true)]
    pub need_business_id: Option<Uuid>,
    pub offer_anonymous: bool,
    pub need_anonymous: bool,
    pub offer_category: String,
    pub need_category: String,
    /// Weighted mean of the components. On redacted matches a level (0, 0.25, 0.5, 0.75, 1)
    /// computed with both sites at their grid-cell centres, or null when none can be computed
    /// (expired matches).
    #[schema(minimum = 0, maximum = 1, required = true)]
    pub score: Option<f64>,
    /// Null on redacted matches.
    #[schema(required = true)]
    pub components: Option<ScoreComponents>,
    /// Great-circle distance between the two sites; null on redacted matches.
    #[schema(required = true)]
    pub distance_km: Option<f64>,
    /// The smallest of the offer's, the need's and both categories' maximum distances; null on
    /// redacted matches.
    #[schema(required = true)]
    pub allowed_distance_km: Option<f64>,
    /// Delivered amount per year in `amount_unit`; null on redacted matches.
    #[schema(required = true)]
    pub delivered_annual_amount: Option<f64>,
    /// MWh, t or m3.
    pub amount_unit: String,
    /// Delivered amount in `quantity_unit` (kW for power, else per year); null on redacted matches.
    #[schema(required = true)]
    pub delivered_quantity: Option<f64>,
    pub quantity_unit: String,
    /// Share of the need's annual amount delivered, 0..1; null on redacted matches.
    #[schema(required = true)]
    pub covered_share: Option<f64>,
    /// What this need could get of the offer when the offer serves its needs greedily by score
    /// (rule v1), in `quantity_unit`; null on redacted matches.
    #[schema(required = true)]
    pub allocatable_quantity: Option<f64>,
    /// Need units delivered per offer unit (the rule's conversion factor).
    pub conversion: f64,
    /// Temporal overlap of the weekly profiles, 0..1; null on redacted matches.
    #[schema(required = true)]
    pub temporal_overlap: Option<f64>,
    /// Smallest slack of the rule's quality comparisons (K, bar or percentage points), if any.
    #[schema(required = true)]
    pub quality_margin: Option<f64>,
    /// Value of the substituted resource − transport − offer price, EUR per year (may be
    /// negative); null on redacted matches.
    #[schema(required = true)]
    pub savings_eur_per_year: Option<f64>,
    /// CO2 of the substituted virgin resource avoided, t per year; null on redacted matches.
    #[schema(required = true)]
    pub co2_t_per_year: Option<f64>,
    /// One sentence a person reads.
    pub explanation: String,
    pub status: MatchStatus,
    /// Why the match expired (expired matches only); without figures on redacted matches.
    pub expired_reason: Option<String>,
    /// The note of the last status change, if it had one; only the match's two businesses (and
    /// platform admins) see it.
    pub note: Option<String>,
    /// Present when the offer's (or else the need's) flow was registered with a hazardous
    /// European Waste Catalogue code; redacted matches keep it.
    pub hazardous_waste: Option<HazardousWaste>,
    /// 0 until someone acts; the ETag for If-Match.
    pub decision_version: i64,
    /// Only on redacted matches, e.g. "10–25 km": between the two sites' grid-cell centres;
    /// null on expired ones.
    pub distance_band: Option<String>,
    /// Only on redacted matches, e.g. "100000–250000 EUR/year" or "a loss of 1000–2500 EUR/year",
    /// computed at the grid-cell centres; null on expired ones.
    pub savings_band: Option<String>,
    /// Only on redacted matches, e.g. "250–500 t CO2/year"; null on expired ones.
    pub co2_band: Option<String>,
    /// Only on redacted matches, e.g. "100–250 kW".
    pub quantity_band: Option<String>,
    /// Only on redacted matches: the hidden sides.
    pub redacted: Option<Vec<Side>>,
}

/// The note on a match between flows of hazardous waste.
#[derive(Serialize, ToSchema)]
pub struct HazardousWaste {
    /// The hazardous code, marked: `16 08 02*`.
    #[schema(example = "16 08 02*")]
    pub ewc_code: String,
    /// `hazardous waste: consignment note and permitted receiver required`.
    pub note: String,
}

/// One side of a match.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Offer,
    Need,
}
