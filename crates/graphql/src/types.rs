//! The schema's object types: businesses, sites, flows and matches as the use cases return them,
//! read-only views that add nothing of their own. A match is read from the JSON the app renders
//! for the viewer (whole or redacted by `symbiont_app::visibility`), so a GraphQL client sees the
//! fields a REST client sees, with the same nulls where a side is hidden. A match's and a site's
//! businesses are resolved through the request's [`crate::loader::BusinessLoader`], one store call
//! per page, not one per item.
//!
//! Connections follow Relay's arguments (`first`, `after`) and `pageInfo`; items are listed as
//! `nodes`. There are no per-edge cursors: match and network pages are ordered by a key the app
//! keeps (score levels and bands for redacted items), so a page resumes from `pageInfo.endCursor`.

use async_graphql::dataloader::DataLoader;
use async_graphql::{ComplexObject, Context, Enum, Json, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use symbiont_core::{Business, Flow, Site};
use uuid::Uuid;

use crate::loader::BusinessLoader;

/// Where a page ends.
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    /// There may be more after `endCursor`.
    pub has_next_page: bool,
    /// Pass as `after` for the next page; null on the last page.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    pub fn of(next_cursor: Option<String>) -> Self {
        Self {
            has_next_page: next_cursor.is_some(),
            end_cursor: next_cursor,
        }
    }
}

macro_rules! connection {
    ($($(#[$doc:meta])* $name:ident of $node:ty;)*) => {
        $(
            $(#[$doc])*
            #[derive(SimpleObject)]
            pub struct $name {
                pub nodes: Vec<$node>,
                pub page_info: PageInfo,
            }
        )*
    };
}

connection! {
    /// Businesses in creation order.
    BusinessConnection of BusinessNode;
    /// Sites in creation order.
    SiteConnection of SiteNode;
    /// Flows in creation order.
    FlowConnection of FlowNode;
    /// Matches in the requested order (descending, ties by id).
    MatchConnection of MatchNode;
    /// Chains by total savings, descending (redacted ones by their band), ties by id.
    ChainConnection of crate::network::ChainNode;
    /// Clusters by total savings, descending (redacted ones by their band), ties by id.
    ClusterConnection of crate::network::ClusterNode;
    /// Businesses by the savings of their exchanges, descending, ties by id.
    AnchorConnection of crate::network::AnchorNode;
}

/// How to reach a business.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "Contact")]
pub struct ContactNode {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// A company on the platform.
#[derive(Debug, Clone)]
pub struct BusinessNode(pub Business);

#[Object(name = "Business")]
impl BusinessNode {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// NACE Rev.2 code with its section letter, e.g. `C11.05`.
    async fn industry(&self) -> &str {
        &self.0.industry
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn contact(&self) -> ContactNode {
        ContactNode {
            name: self.0.contact.name.clone(),
            email: self.0.contact.email.clone(),
            phone: self.0.contact.phone.clone(),
        }
    }
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }
    /// Incremented by every update; pass as `ifMatch` to update only this version.
    async fn version(&self) -> i64 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A point in WGS84 degrees.
#[derive(SimpleObject, Debug, Clone, Copy)]
#[graphql(name = "GeoPoint")]
pub struct GeoPointNode {
    pub lat: f64,
    pub lon: f64,
}

/// A physical location of a business.
#[derive(Debug, Clone)]
pub struct SiteNode(pub Site);

#[Object(name = "Site")]
impl SiteNode {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn business_id(&self) -> Uuid {
        self.0.business_id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn address(&self) -> &str {
        &self.0.address
    }
    async fn location(&self) -> GeoPointNode {
        GeoPointNode {
            lat: self.0.location.lat,
            lon: self.0.location.lon,
        }
    }
    async fn version(&self) -> i64 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The business the site belongs to (batched per request).
    async fn business(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<BusinessNode>> {
        load_business(ctx, Some(self.0.business_id)).await
    }
}

/// Whether a flow is a surplus output or an input.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    Offer,
    Need,
}

/// Whether a flow takes part in matching.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum FlowStatus {
    Active,
    Paused,
}

/// An amount as the user stated it.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "Quantity")]
pub struct QuantityNode {
    pub value: f64,
    pub unit: String,
}

/// An offer (surplus output) or a need (input) at a site. Another business's anonymous flow is
/// never served (it is "not found", as in REST).
#[derive(Debug, Clone)]
pub struct FlowNode(pub Flow);

#[Object(name = "Flow")]
impl FlowNode {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn site_id(&self) -> Uuid {
        self.0.site_id
    }
    async fn business_id(&self) -> Uuid {
        self.0.business_id
    }
    async fn direction(&self) -> Direction {
        match self.0.direction {
            symbiont_core::Direction::Offer => Direction::Offer,
            symbiont_core::Direction::Need => Direction::Need,
        }
    }
    /// A code from `categories`.
    async fn category(&self) -> &str {
        &self.0.category
    }
    /// The European Waste Catalogue code the flow was registered with, if any.
    async fn ewc_code(&self) -> Option<&str> {
        self.0.ewc_code.as_deref()
    }
    async fn hazardous(&self) -> bool {
        self.0.hazardous
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Temperature, pressure, purity … as in REST (`temperature_c`, `pressure_bar`, …).
    async fn quality(&self) -> Json<serde_json::Value> {
        Json(serde_json::to_value(&self.0.quality).unwrap_or_default())
    }
    async fn quantity(&self) -> QuantityNode {
        QuantityNode {
            value: self.0.quantity.value,
            unit: self.0.quantity.unit.clone(),
        }
    }
    /// In the category's canonical unit (`canonicalUnit`).
    async fn canonical_quantity(&self) -> f64 {
        self.0.canonical_quantity
    }
    async fn canonical_unit(&self) -> &str {
        &self.0.canonical_unit
    }
    /// Per year, in the category's amount unit (MWh, t or m3).
    async fn annual_amount(&self) -> f64 {
        self.0.annual_amount
    }
    /// The compact schedule the profile was given as, if it was.
    async fn schedule(&self) -> Option<&str> {
        self.0.schedule.as_deref()
    }
    /// The weekly profile as REST serves it.
    async fn profile(&self) -> Json<serde_json::Value> {
        Json(serde_json::to_value(&self.0.profile).unwrap_or_default())
    }
    async fn monthly_factors(&self) -> Option<Vec<f64>> {
        self.0.monthly_factors.map(|m| m.to_vec())
    }
    async fn price_eur_per_unit(&self) -> Option<f64> {
        self.0.price_eur_per_unit
    }
    async fn max_distance_km(&self) -> Option<f64> {
        self.0.max_distance_km
    }
    async fn valid_from(&self) -> Option<NaiveDate> {
        self.0.valid_from
    }
    async fn valid_until(&self) -> Option<NaiveDate> {
        self.0.valid_until
    }
    async fn status(&self) -> FlowStatus {
        match self.0.status {
            symbiont_core::FlowStatus::Active => FlowStatus::Active,
            symbiont_core::FlowStatus::Paused => FlowStatus::Paused,
        }
    }
    async fn anonymous(&self) -> bool {
        self.0.anonymous
    }
    async fn max_proposals(&self) -> Option<u32> {
        self.0.max_proposals
    }
    async fn pays_for_co2(&self) -> bool {
        self.0.pays_for_co2
    }
    async fn version(&self) -> i64 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The business the flow belongs to (batched per request).
    async fn business(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<BusinessNode>> {
        load_business(ctx, Some(self.0.business_id)).await
    }
}

/// A match's lifecycle status.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    Suggested,
    Contacted,
    Negotiating,
    Agreed,
    Rejected,
    Expired,
}

impl From<MatchStatus> for symbiont_core::MatchStatus {
    fn from(status: MatchStatus) -> Self {
        match status {
            MatchStatus::Suggested => Self::Suggested,
            MatchStatus::Contacted => Self::Contacted,
            MatchStatus::Negotiating => Self::Negotiating,
            MatchStatus::Agreed => Self::Agreed,
            MatchStatus::Rejected => Self::Rejected,
            MatchStatus::Expired => Self::Expired,
        }
    }
}

/// The score's components, each 0..1 (docs/matching.md).
#[derive(SimpleObject, Deserialize, Debug, Clone)]
pub struct ScoreComponents {
    pub coverage: f64,
    pub temporal: f64,
    pub distance: f64,
    pub quality: f64,
    pub economics: f64,
    pub co2: f64,
}

/// The note on a match between flows of hazardous waste.
#[derive(SimpleObject, Deserialize, Debug, Clone)]
pub struct HazardousWaste {
    /// The hazardous code, marked: `16 08 02*`.
    pub ewc_code: String,
    pub note: String,
}

/// One side of a match.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Offer,
    Need,
}

/// A live match, or an expired one with the figures it last had, exactly as `GET
/// /api/v1/matches/{id}` shows it to the same caller. An anonymous side hidden from the caller
/// has null ids and exact figures, with bands and a score level instead (computed with both sites
/// at the centres of their ~5 km grid cells), until its owner accepts contact.
#[derive(SimpleObject, Deserialize, Debug, Clone)]
#[graphql(complex, name = "Match")]
pub struct MatchNode {
    /// Stable: derived from the (offer, need) pair.
    pub id: Uuid,
    /// Null when that side is an anonymous flow hidden from the caller.
    pub offer_flow_id: Option<Uuid>,
    pub need_flow_id: Option<Uuid>,
    pub offer_business_id: Option<Uuid>,
    pub need_business_id: Option<Uuid>,
    pub offer_anonymous: bool,
    pub need_anonymous: bool,
    pub offer_category: String,
    pub need_category: String,
    /// Weighted mean of the components; on redacted matches a level (0, 0.25 … 1).
    pub score: Option<f64>,
    /// Null on redacted matches.
    pub components: Option<ScoreComponents>,
    pub distance_km: Option<f64>,
    pub allowed_distance_km: Option<f64>,
    pub delivered_annual_amount: Option<f64>,
    /// MWh, t or m3.
    #[serde(default)]
    pub amount_unit: String,
    pub delivered_quantity: Option<f64>,
    #[serde(default)]
    pub quantity_unit: String,
    pub covered_share: Option<f64>,
    pub allocatable_quantity: Option<f64>,
    /// Need units delivered per offer unit.
    pub conversion: Option<f64>,
    pub temporal_overlap: Option<f64>,
    pub quality_margin: Option<f64>,
    pub savings_eur_per_year: Option<f64>,
    pub co2_t_per_year: Option<f64>,
    /// One sentence a person reads.
    #[serde(default)]
    pub explanation: String,
    pub status: MatchStatus,
    pub expired_reason: Option<String>,
    /// Only the match's two businesses (and platform admins) see it.
    pub note: Option<String>,
    pub hazardous_waste: Option<HazardousWaste>,
    /// 0 until someone acts; pass as `ifMatch` to decide on this version only.
    pub decision_version: i64,
    /// Only on redacted matches, e.g. "10–25 km".
    pub distance_band: Option<String>,
    pub savings_band: Option<String>,
    pub co2_band: Option<String>,
    pub quantity_band: Option<String>,
    /// Only on redacted matches: the hidden sides.
    pub redacted: Option<Vec<Side>>,
}

#[ComplexObject]
impl MatchNode {
    /// The offer's business; null when that side is hidden from the caller (batched per request).
    async fn offer_business(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<BusinessNode>> {
        load_business(ctx, self.offer_business_id).await
    }

    /// The need's business; null when that side is hidden from the caller (batched per request).
    async fn need_business(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<BusinessNode>> {
        load_business(ctx, self.need_business_id).await
    }
}

impl MatchNode {
    /// A match view the app rendered.
    pub fn from_view(view: serde_json::Value) -> async_graphql::Result<Self> {
        serde_json::from_value(view).map_err(|error| {
            crate::error::graphql_error(symbiont_app::AppError::internal(
                "a match view read for GraphQL",
                error,
            ))
        })
    }
}

pub(crate) async fn load_business(
    ctx: &Context<'_>,
    id: Option<Uuid>,
) -> async_graphql::Result<Option<BusinessNode>> {
    let Some(id) = id else {
        return Ok(None);
    };
    let loader = ctx.data::<DataLoader<BusinessLoader>>()?;
    Ok(loader.load_one(id).await?.map(BusinessNode))
}
