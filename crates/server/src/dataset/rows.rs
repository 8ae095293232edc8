//! The row format shared by import and export: one flow with its business and site per row (a row
//! without `direction` only declares a business and site). The same fields in JSON, NDJSON, CSV
//! (one column each) and GeoJSON (properties, with `lat`/`lon` from the Point geometry).

use serde::{Deserialize, Serialize};

/// Columns of the row format, in export order.
pub const COLUMNS: [&str; 31] = [
    "business",
    "industry",
    "business_description",
    "contact_name",
    "contact_email",
    "contact_phone",
    "website",
    "site",
    "address",
    "lat",
    "lon",
    "direction",
    "category",
    "ewc_code",
    "description",
    "quantity",
    "unit",
    "temperature_c",
    "pressure_bar",
    "purity_pct",
    "physical_form",
    "profile",
    "monthly_factors",
    "price_eur_per_unit",
    "max_distance_km",
    "valid_from",
    "valid_until",
    "status",
    "anonymous",
    "max_proposals",
    "pays_for_co2",
];

/// Columns whose CSV text is a number.
pub const NUMERIC_COLUMNS: [&str; 9] = [
    "lat",
    "lon",
    "quantity",
    "temperature_c",
    "pressure_bar",
    "purity_pct",
    "price_eur_per_unit",
    "max_distance_km",
    "max_proposals",
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Row {
    pub business: Option<String>,
    pub industry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    pub site: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// A European Waste Catalogue code; with it `category` may be left out (it is derived).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ewc_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pressure_bar: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purity_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physical_form: Option<String>,
    /// A schedule such as `Mon-Fri 06:00-22:00`, or 168 numbers (a JSON array, also as text in CSV).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<serde_json::Value>,
    /// 12 factors of the profile's level by month, January first (a JSON array, also as text in CSV).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_factors: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_eur_per_unit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_distance_km: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `true` keeps the flow's business hidden from others (also "yes"/"1" in CSV); default false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<serde_json::Value>,
    /// Proposals the flow asks for, 1 to 100, if not the platform's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_proposals: Option<f64>,
    /// A need that pays for CO2 (`true`/`yes`/`1`); default false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pays_for_co2: Option<serde_json::Value>,
}
