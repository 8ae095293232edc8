//! Businesses, sites and resource flows, the drafts users submit for them, and the validation that
//! turns a draft into a domain value (every problem reported with the field it concerns).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Collector, ValidationError};
use crate::geo::GeoPoint;
use crate::profile::{WeeklyProfile, normalise_monthly_factors, weeks_per_year};
use crate::taxonomy::Taxonomy;
use crate::units::{self, UnitError};

const MAX_NAME_CHARS: usize = 200;
const MAX_TEXT_CHARS: usize = 5000;
/// Half the Earth's circumference: no exchange is further apart than this.
const MAX_DISTANCE_KM: f64 = 20_037.5;
/// The most counterparts a flow may ask to be proposed.
const MAX_PROPOSALS: u32 = 100;
/// Largest flow in canonical units (kW, MWh/year, t/year, m3/year): beyond the world's whole energy
/// use or material throughput, so only a typo or an attack gets here; it keeps every product of
/// amounts, prices and distances finite.
const MAX_CANONICAL_AMOUNT: f64 = 1e12;

/// Whether a flow is surplus output or required input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Offer,
    Need,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Offer => "offer",
            Direction::Need => "need",
        }
    }
}

/// Whether a flow takes part in matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FlowStatus {
    #[default]
    Active,
    Paused,
}

impl FlowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Active => "active",
            FlowStatus::Paused => "paused",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PhysicalForm {
    Solid,
    Liquid,
    Gas,
    Slurry,
    Energy,
}

/// Contact details of a business; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = "email"))]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub phone: Option<String>,
}

/// Quality attributes of a flow. Compatibility rules compare the numeric ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(
        description = "Categories may require fields (heat: temperature_c within the category's band)."
    )
)]
#[serde(deny_unknown_fields)]
pub struct Quality {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = -273.15, maximum = 2000))]
    pub temperature_c: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000))]
    pub pressure_bar: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub purity_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_form: Option<PhysicalForm>,
    /// Free-form attributes (moisture, particle size, polymer grade ...), not used by rules.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

impl Quality {
    /// The numeric fields a compatibility rule may compare.
    pub const NUMERIC_FIELDS: [&'static str; 3] = ["temperature_c", "pressure_bar", "purity_pct"];

    pub fn numeric(&self, field: &str) -> Option<f64> {
        match field {
            "temperature_c" => self.temperature_c,
            "pressure_bar" => self.pressure_bar,
            "purity_pct" => self.purity_pct,
            _ => None,
        }
    }

    fn validate(&self, errors: &mut Collector) {
        let ranges = [
            ("temperature_c", self.temperature_c, -273.15, 2000.0),
            ("pressure_bar", self.pressure_bar, 0.0, 1000.0),
            ("purity_pct", self.purity_pct, 0.0, 100.0),
        ];
        for (field, value, min, max) in ranges {
            if let Some(v) = value {
                errors.check(
                    v.is_finite() && (min..=max).contains(&v),
                    &format!("quality.{field}"),
                    || format!("must be between {min} and {max}, got {v}"),
                );
            }
        }
    }
}

/// An amount as the user stated it: `{ "value": 20, "unit": "t/day" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Quantity {
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0))]
    pub value: f64,
    /// A unit of the category's dimension: power kW, MW, W, GW; energy kWh, MWh, GWh, MJ, GJ, TJ;
    /// mass kg, t, kt; volume l, m3, Nm3, ML — amounts per s, min, h, day, week, month or year
    /// (e.g. `t/day`, `m3/h`, `l/s`, `MWh/year`). Hourly and faster rates run during the weekly
    /// profile; kW and MWh/year convert through it.
    #[cfg_attr(feature = "openapi", schema(examples("kW", "t/day", "m3/h")))]
    pub unit: String,
}

/// A company on the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Business {
    pub id: Uuid,
    pub name: String,
    /// NACE Rev.2 code with its section letter, e.g. `C11.05`.
    pub industry: String,
    pub description: String,
    pub contact: Contact,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Incremented by every update; the ETag.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a user submits to create or replace a business.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BusinessDraft {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    /// NACE Rev.2 code: `10`, `10.5`, `10.51` or with its section letter (`C10.51`); stored with
    /// the letter.
    #[cfg_attr(feature = "openapi", schema(example = "C11.05"))]
    pub industry: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 5000))]
    pub description: String,
    #[serde(default)]
    pub contact: Contact,
    /// http:// or https:// URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

impl BusinessDraft {
    /// Validates and normalises (the NACE code gains its section letter).
    pub fn validate(mut self) -> Result<Self, ValidationError> {
        let mut errors = Collector::default();
        check_name(&mut errors, "name", &self.name);
        match normalise_nace(&self.industry) {
            Ok(code) => self.industry = code,
            Err(message) => errors.add("industry", message),
        }
        check_text(&mut errors, "description", &self.description);
        if let Some(email) = &self.contact.email {
            let valid = email.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }) && !email.contains(char::is_whitespace);
            errors.check(valid, "contact.email", || {
                format!("'{email}' is not an e-mail address")
            });
        }
        for (field, value) in [
            ("contact.name", &self.contact.name),
            ("contact.phone", &self.contact.phone),
        ] {
            if let Some(v) = value {
                errors.check(v.chars().count() <= MAX_NAME_CHARS, field, || {
                    format!("must be at most {MAX_NAME_CHARS} characters")
                });
            }
        }
        if let Some(url) = &self.website {
            errors.check(
                url.starts_with("http://") || url.starts_with("https://"),
                "website",
                || "must start with http:// or https://".into(),
            );
        }
        errors.finish(self)
    }

    pub fn into_business(
        self,
        id: Uuid,
        version: i64,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Business {
        Business {
            id,
            name: self.name.trim().to_string(),
            industry: self.industry,
            description: self.description,
            contact: self.contact,
            website: self.website,
            version,
            created_at,
            updated_at: now,
        }
    }
}

impl From<&Business> for BusinessDraft {
    fn from(b: &Business) -> Self {
        Self {
            name: b.name.clone(),
            industry: b.industry.clone(),
            description: b.description.clone(),
            contact: b.contact.clone(),
            website: b.website.clone(),
        }
    }
}

/// A physical location of a business.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Site {
    pub id: Uuid,
    pub business_id: Uuid,
    pub name: String,
    pub address: String,
    pub location: GeoPoint,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a user submits to create or replace a site (the business comes from the URL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SiteDraft {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub address: String,
    pub location: GeoPoint,
}

impl SiteDraft {
    pub fn validate(self) -> Result<Self, ValidationError> {
        let mut errors = Collector::default();
        check_name(&mut errors, "name", &self.name);
        errors.check(self.address.chars().count() <= 500, "address", || {
            "must be at most 500 characters".into()
        });
        errors.check(
            self.location.lat.is_finite() && (-90.0..=90.0).contains(&self.location.lat),
            "location.lat",
            || {
                format!(
                    "must be a latitude between -90 and 90, got {}",
                    self.location.lat
                )
            },
        );
        errors.check(
            self.location.lon.is_finite() && (-180.0..=180.0).contains(&self.location.lon),
            "location.lon",
            || {
                format!(
                    "must be a longitude between -180 and 180, got {}",
                    self.location.lon
                )
            },
        );
        errors.finish(self)
    }

    pub fn into_site(
        self,
        id: Uuid,
        business_id: Uuid,
        version: i64,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Site {
        Site {
            id,
            business_id,
            name: self.name.trim().to_string(),
            address: self.address,
            location: self.location,
            version,
            created_at,
            updated_at: now,
        }
    }
}

impl From<&Site> for SiteDraft {
    fn from(s: &Site) -> Self {
        Self {
            name: s.name.clone(),
            address: s.address.clone(),
            location: s.location,
        }
    }
}

/// An offer (surplus output) or a need (input) of a resource at a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Flow {
    pub id: Uuid,
    pub site_id: Uuid,
    pub business_id: Uuid,
    pub direction: Direction,
    pub category: String,
    /// The European Waste Catalogue code the flow was registered with (`16 08 02`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "16 08 02"))]
    pub ewc_code: Option<String>,
    /// The EWC code is marked hazardous (`*`): a consignment note and a permitted receiver are
    /// required. Present only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hazardous: bool,
    pub description: String,
    pub quality: Quality,
    /// As the user stated it.
    pub quantity: Quantity,
    /// In the category's canonical unit (`canonical_unit`).
    pub canonical_quantity: f64,
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::canonical_unit))]
    pub canonical_unit: String,
    /// Per year, in the category's amount unit (MWh, t or m3); what prices and CO2 factors apply to.
    pub annual_amount: f64,
    /// The compact schedule the profile was given as, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    pub profile: WeeklyProfile,
    /// How the weekly profile's level varies over the year: 12 factors, January first, the
    /// largest 1 (a summer-only offer, a winter-peaking heat demand). Absent: the same all year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_factors: Option<[f64; 12]>,
    /// For an offer, the asking price; for a need, the current cost it would avoid (EUR per amount unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_eur_per_unit: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_distance_km: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
    pub status: FlowStatus,
    /// Hidden owner: matches show this flow's category, bands and figures to other businesses, but
    /// not its business, site or exact figures, until the owner accepts a contact request.
    #[serde(default)]
    pub anonymous: bool,
    /// How many counterparts the engine proposes to this flow, when it asks for other than the
    /// configured number (1 to 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_proposals: Option<u32>,
    /// A need whose owner pays for avoided CO2: pairs that cost more than they save are proposed
    /// to it too.
    #[serde(default)]
    pub pays_for_co2: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a user submits to create or replace a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FlowDraft {
    pub site_id: Uuid,
    pub direction: Direction,
    /// A code from `GET /api/v1/categories`; may be left out when `ewc_code` names an entry that
    /// has a category, which the flow then gets.
    #[serde(default)]
    pub category: String,
    /// A European Waste Catalogue code from `GET /api/v1/ewc` (`160802`, `16 08 02` or
    /// `16 08 02*`); with it the category is derived, or checked when also given, and a hazardous
    /// code marks the flow `hazardous`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "16 08 02"))]
    pub ewc_code: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 5000))]
    pub description: String,
    #[serde(default)]
    pub quality: Quality,
    pub quantity: Quantity,
    /// 168 hourly values in 0..1, or a schedule string such as `Mon-Fri 06:00-22:00`; default 24/7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schemas::ProfileInput))]
    pub profile: Option<serde_json::Value>,
    /// 12 factors, January first, by which the weekly profile's level varies over the year (any
    /// non-negative scale; the largest month runs at the profile's full level). Default: flat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 12, max_items = 12))]
    pub monthly_factors: Option<Vec<f64>>,
    /// Offer: asking price; need: current cost it would avoid. EUR per MWh, t or m3; negative for
    /// a gate fee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_eur_per_unit: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 20_037.5))]
    pub max_distance_km: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = "active"))]
    pub status: FlowStatus,
    /// Hide the owning business from other businesses: the flow is left out of their lists (404
    /// on reads) and its matches are redacted until the owner accepts contact.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    pub anonymous: bool,
    /// How many counterparts to propose to this flow, if not the platform's default (10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100))]
    pub max_proposals: Option<u32>,
    /// Needs only: also propose offers that cost more than they save (the owner pays for the CO2
    /// avoided).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    pub pays_for_co2: bool,
}

impl From<&Flow> for FlowDraft {
    fn from(f: &Flow) -> Self {
        let profile = match &f.schedule {
            Some(schedule) => serde_json::Value::String(schedule.clone()),
            None => serde_json::to_value(&f.profile).unwrap_or(serde_json::Value::Null),
        };
        Self {
            site_id: f.site_id,
            direction: f.direction,
            // A flow registered by waste code keeps deriving its category from it, so a patch of
            // `ewc_code` alone moves it to the new code's category.
            category: if f.ewc_code.is_some() {
                String::new()
            } else {
                f.category.clone()
            },
            ewc_code: f.ewc_code.clone(),
            description: f.description.clone(),
            quality: f.quality.clone(),
            quantity: f.quantity.clone(),
            profile: Some(profile),
            monthly_factors: f.monthly_factors.map(|m| m.to_vec()),
            price_eur_per_unit: f.price_eur_per_unit,
            max_distance_km: f.max_distance_km,
            valid_from: f.valid_from,
            valid_until: f.valid_until,
            status: f.status,
            anonymous: f.anonymous,
            max_proposals: f.max_proposals,
            pays_for_co2: f.pays_for_co2,
        }
    }
}

/// Identity and bookkeeping a flow gets from the store rather than from the user.
#[derive(Debug, Clone, Copy)]
pub struct FlowIdentity {
    pub id: Uuid,
    pub business_id: Uuid,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl FlowDraft {
    /// Checks every field against the taxonomy and converts the quantity to the category's canonical
    /// unit. Reports all problems at once.
    pub fn validate(
        self,
        taxonomy: &Taxonomy,
        identity: FlowIdentity,
    ) -> Result<Flow, ValidationError> {
        let mut errors = Collector::default();
        let waste = self
            .ewc_code
            .as_deref()
            .map(|code| (code, taxonomy.ewc().entry(code)));
        if let Some((code, None)) = waste {
            errors.add(
                "ewc_code",
                format!("unknown European Waste Catalogue code '{code}'; see GET /api/v1/ewc"),
            );
        }
        let waste = waste.and_then(|(_, entry)| entry);
        let category_code = match (self.category.trim(), waste) {
            ("", Some(entry)) => match &entry.category {
                Some(derived) => derived.clone(),
                None => {
                    errors.add(
                        "ewc_code",
                        format!(
                            "EWC {} has no matching category ({}); give a category as well",
                            entry.marked_code(),
                            entry.no_category.as_deref().unwrap_or("none")
                        ),
                    );
                    String::new()
                }
            },
            ("", None) if self.ewc_code.is_none() => {
                errors.add("category", "give a category or an ewc_code");
                String::new()
            }
            (given, _) => given.to_string(),
        };
        let category = taxonomy.category(&category_code);
        if category.is_none() && !category_code.is_empty() {
            errors.add(
                "category",
                format!("unknown category '{category_code}'; see GET /api/v1/categories"),
            );
        }
        if let (Some(entry), Some(category)) = (waste, category)
            && !entry.admits(&category.code)
        {
            let admitted: Vec<&str> = entry
                .category
                .iter()
                .chain(&entry.also)
                .map(String::as_str)
                .collect();
            errors.add(
                "category",
                format!(
                    "'{}' does not fit EWC {} ({}); it fits {}",
                    category.code,
                    entry.marked_code(),
                    entry.title,
                    admitted.join(", ")
                ),
            );
        }
        check_text(&mut errors, "description", &self.description);
        self.quality.validate(&mut errors);
        let (schedule, profile) = match &self.profile {
            None | Some(serde_json::Value::Null) => (None, WeeklyProfile::default()),
            Some(serde_json::Value::String(s)) => match WeeklyProfile::parse_schedule(s) {
                Ok(p) => (Some(s.trim().to_string()), p),
                Err(e) => {
                    errors.add("profile", e);
                    (None, WeeklyProfile::default())
                }
            },
            Some(serde_json::Value::Array(values)) => {
                let numbers: Option<Vec<f64>> =
                    values.iter().map(serde_json::Value::as_f64).collect();
                match numbers
                    .ok_or_else(|| "every hourly value must be a number".to_string())
                    .and_then(|n| WeeklyProfile::from_hours(&n))
                {
                    Ok(p) => (None, p),
                    Err(e) => {
                        errors.add("profile", e);
                        (None, WeeklyProfile::default())
                    }
                }
            }
            Some(_) => {
                errors.add("profile", "must be a schedule string such as \"Mon-Fri 06:00-22:00\" or 168 hourly values");
                (None, WeeklyProfile::default())
            }
        };
        let monthly_factors = match self
            .monthly_factors
            .as_deref()
            .map(normalise_monthly_factors)
        {
            None => None,
            Some(Ok(factors)) => Some(factors),
            Some(Err(e)) => {
                errors.add("monthly_factors", e);
                None
            }
        };
        let value_ok = self.quantity.value.is_finite() && self.quantity.value > 0.0;
        errors.check(value_ok, "quantity.value", || {
            format!("must be a positive number, got {}", self.quantity.value)
        });
        let mut converted = None;
        if let Some(category) = category {
            match units::convert(
                self.quantity.value,
                &self.quantity.unit,
                category.dimension,
                profile.hours_per_week() * weeks_per_year(monthly_factors.as_ref()),
            ) {
                // A huge or tiny value can overflow (or vanish) in the conversion: an infinite
                // amount would be stored, served as null and poison the engine's sums.
                Ok(c) if value_ok => {
                    // A huge or tiny value can overflow (or vanish) in the conversion: an infinite
                    // amount would be stored, served as null and poison the engine's sums.
                    let in_range = [c.canonical, c.annual_amount]
                        .iter()
                        .all(|v| *v > 0.0 && *v <= MAX_CANONICAL_AMOUNT);
                    errors.check(in_range, "quantity.value", || {
                        format!(
                            "{} {} is out of range once converted to {}",
                            self.quantity.value,
                            self.quantity.unit,
                            category.canonical_unit()
                        )
                    });
                    if in_range {
                        converted = Some(c);
                    }
                }
                Ok(_) => {}
                Err(e @ UnitError::NoOperatingHours) => errors.add("profile", e.to_string()),
                Err(e) => errors.add("quantity.unit", e.to_string()),
            }
            for field in &category.required_quality {
                errors.check(
                    self.quality.numeric(field).is_some(),
                    &format!("quality.{field}"),
                    || format!("is required for category '{}'", category.code),
                );
            }
            if let Some(t) = self.quality.temperature_c {
                let min = category.temperature_min_c.unwrap_or(f64::NEG_INFINITY);
                let max = category.temperature_max_c.unwrap_or(f64::INFINITY);
                errors.check((min..=max).contains(&t), "quality.temperature_c", || {
                    format!("{t} °C is outside the band of '{}' ({min} to {max} °C); pick the matching category", category.code)
                });
            }
        }
        if let Some(price) = self.price_eur_per_unit {
            errors.check(
                price.is_finite() && price.abs() <= 1e7,
                "price_eur_per_unit",
                || "must be a number of EUR per unit (negative for a gate fee)".into(),
            );
        }
        if let Some(d) = self.max_distance_km {
            errors.check(
                d.is_finite() && d > 0.0 && d <= MAX_DISTANCE_KM,
                "max_distance_km",
                || format!("must be between 0 and {MAX_DISTANCE_KM} km, got {d}"),
            );
        }
        if let Some(k) = self.max_proposals {
            errors.check((1..=MAX_PROPOSALS).contains(&k), "max_proposals", || {
                format!("must be between 1 and {MAX_PROPOSALS}, got {k}")
            });
        }
        errors.check(
            !self.pays_for_co2 || self.direction == Direction::Need,
            "pays_for_co2",
            || "only a need can pay for CO2".into(),
        );
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until) {
            errors.check(until >= from, "valid_until", || {
                format!("{until} is before valid_from {from}")
            });
        }
        let Some(converted) = converted.filter(|_| errors.is_empty()) else {
            return Err(errors
                .finish(())
                .expect_err("a missing conversion always comes with an error"));
        };
        let canonical_unit = category
            .map(|c| c.canonical_unit().to_string())
            .unwrap_or_default();
        Ok(Flow {
            id: identity.id,
            site_id: self.site_id,
            business_id: identity.business_id,
            direction: self.direction,
            category: category_code,
            ewc_code: waste.map(|e| e.code.clone()),
            hazardous: waste.is_some_and(|e| e.hazardous),
            description: self.description,
            quality: self.quality,
            quantity: self.quantity,
            canonical_quantity: converted.canonical,
            canonical_unit,
            annual_amount: converted.annual_amount,
            schedule,
            profile,
            monthly_factors,
            price_eur_per_unit: self.price_eur_per_unit,
            max_distance_km: self.max_distance_km,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            status: self.status,
            anonymous: self.anonymous,
            max_proposals: self.max_proposals,
            pays_for_co2: self.pays_for_co2,
            version: identity.version,
            created_at: identity.created_at,
            updated_at: identity.updated_at,
        })
    }
}

impl Flow {
    /// Whether the flow's validity period includes `day`.
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= day) && self.valid_until.is_none_or(|u| day <= u)
    }
}

fn check_name(errors: &mut Collector, field: &str, value: &str) {
    let chars = value.trim().chars().count();
    errors.check(chars > 0, field, || "must not be empty".into());
    errors.check(chars <= MAX_NAME_CHARS, field, || {
        format!("must be at most {MAX_NAME_CHARS} characters")
    });
}

fn check_text(errors: &mut Collector, field: &str, value: &str) {
    errors.check(value.chars().count() <= MAX_TEXT_CHARS, field, || {
        format!("must be at most {MAX_TEXT_CHARS} characters")
    });
}

/// NACE Rev.2 sections and the divisions (two-digit codes) each contains.
const NACE_SECTIONS: [(char, u8, u8); 21] = [
    ('A', 1, 3),
    ('B', 5, 9),
    ('C', 10, 33),
    ('D', 35, 35),
    ('E', 36, 39),
    ('F', 41, 43),
    ('G', 45, 47),
    ('H', 49, 53),
    ('I', 55, 56),
    ('J', 58, 63),
    ('K', 64, 66),
    ('L', 68, 68),
    ('M', 69, 75),
    ('N', 77, 82),
    ('O', 84, 84),
    ('P', 85, 85),
    ('Q', 86, 88),
    ('R', 90, 93),
    ('S', 94, 96),
    ('T', 97, 98),
    ('U', 99, 99),
];

/// Accepts `10`, `10.5`, `10.51` or the same with the section letter (`C10.51`); returns the code
/// with its section letter.
pub fn normalise_nace(code: &str) -> Result<String, String> {
    let code = code.trim().to_ascii_uppercase();
    let bad = || format!("'{code}' is not a NACE Rev.2 code such as C10.51 or 35.30");
    let (letter, digits) = match code.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => (Some(c), &code[1..]),
        Some(_) => (None, code.as_str()),
        None => return Err("must not be empty; give a NACE Rev.2 code such as C10.51".into()),
    };
    let (division, rest) = digits.split_once('.').unwrap_or((digits, ""));
    if division.len() != 2 || !division.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if rest.len() > 2
        || !rest.bytes().all(|b| b.is_ascii_digit())
        || (digits.contains('.') && rest.is_empty())
    {
        return Err(bad());
    }
    let division: u8 = division.parse().map_err(|_| bad())?;
    let section = NACE_SECTIONS
        .iter()
        .find(|(_, lo, hi)| (*lo..=*hi).contains(&division))
        .map(|(s, _, _)| *s)
        .ok_or_else(|| format!("'{code}': {division:02} is not a NACE Rev.2 division"))?;
    if letter.is_some_and(|l| l != section) {
        return Err(format!(
            "'{code}': division {division:02} belongs to section {section}"
        ));
    }
    Ok(format!("{section}{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nace_codes_gain_their_section() {
        assert_eq!(normalise_nace("11.05").as_deref(), Ok("C11.05"));
        assert_eq!(normalise_nace("c11.05").as_deref(), Ok("C11.05"));
        assert_eq!(normalise_nace("35").as_deref(), Ok("D35"));
        for bad in ["", "4", "04.1", "B11.05", "11.", "11.123", "xx"] {
            assert!(normalise_nace(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn business_errors_name_every_field() {
        let draft = BusinessDraft {
            name: " ".into(),
            industry: "99.99.9".into(),
            description: String::new(),
            contact: Contact {
                email: Some("nope".into()),
                ..Contact::default()
            },
            website: Some("ftp://x".into()),
        };
        let err = draft.validate().expect_err("invalid");
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "industry", "contact.email", "website"]);
    }

    /// Found by fuzzing: 1.4e308 t/day is finite, but a year of it is not; the flow was accepted
    /// with an infinite annual amount and served with `null` figures.
    #[test]
    fn a_quantity_that_overflows_its_conversion_is_refused_naming_the_field() {
        let taxonomy = Taxonomy::builtin().expect("the shipped taxonomy is valid");
        let identity = FlowIdentity {
            id: Uuid::nil(),
            business_id: Uuid::nil(),
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let draft = |value: f64, unit: &str| FlowDraft {
            site_id: Uuid::nil(),
            direction: Direction::Need,
            category: "material.metal_ferrous".into(),
            ewc_code: None,
            description: String::new(),
            quality: Quality::default(),
            quantity: Quantity {
                value,
                unit: unit.into(),
            },
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
        };
        for (value, unit) in [
            (1.428_485_580_258_747e308, "t/day"),
            (1e13, "t/year"),
            (5e-324, "kg/year"),
        ] {
            let err = draft(value, unit)
                .validate(&taxonomy, identity)
                .expect_err("out of range");
            let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["quantity.value"], "{value} {unit}");
        }
        let flow = draft(20.0, "t/day")
            .validate(&taxonomy, identity)
            .expect("valid");
        assert!(flow.annual_amount.is_finite() && flow.canonical_quantity.is_finite());
    }
    fn waste_draft(category: &str, ewc_code: Option<&str>) -> FlowDraft {
        FlowDraft {
            site_id: Uuid::nil(),
            direction: Direction::Offer,
            category: category.into(),
            ewc_code: ewc_code.map(Into::into),
            description: String::new(),
            quality: Quality::default(),
            quantity: Quantity {
                value: 100.0,
                unit: "t/year".into(),
            },
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

    fn identity() -> FlowIdentity {
        FlowIdentity {
            id: Uuid::nil(),
            business_id: Uuid::nil(),
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn fields(err: &ValidationError) -> Vec<&str> {
        err.0.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_flow_registered_by_waste_code_gets_its_category_and_hazard() {
        let taxonomy = Taxonomy::builtin().expect("valid");
        let flow = waste_draft("", Some("160802"))
            .validate(&taxonomy, identity())
            .expect("a mapped code");
        assert_eq!(flow.category, "material.spent_catalyst_base_metal");
        assert_eq!(flow.ewc_code.as_deref(), Some("16 08 02"));
        assert!(flow.hazardous);
        let flow = waste_draft("", Some("10 01 02"))
            .validate(&taxonomy, identity())
            .expect("coal fly ash");
        assert_eq!(flow.category, "material.fly_ash");
        assert!(!flow.hazardous);
        // A category the entry admits besides its own: sorted PET from plastic packaging.
        let flow = waste_draft("material.plastic_pet", Some("15 01 02"))
            .validate(&taxonomy, identity())
            .expect("admitted");
        assert_eq!(flow.category, "material.plastic_pet");
        // A flow registered by category alone carries no code.
        let flow = waste_draft("material.fly_ash", None)
            .validate(&taxonomy, identity())
            .expect("by category");
        assert_eq!((flow.ewc_code, flow.hazardous), (None, false));
    }

    #[test]
    fn unknown_codes_and_mismatches_name_the_field() {
        let taxonomy = Taxonomy::builtin().expect("valid");
        let err = waste_draft("", Some("99 99 99"))
            .validate(&taxonomy, identity())
            .expect_err("unknown");
        assert_eq!(fields(&err), ["ewc_code"]);
        let err = waste_draft("material.fly_ash", Some("16 08 02"))
            .validate(&taxonomy, identity())
            .expect_err("mismatch");
        assert_eq!(fields(&err), ["category"]);
        assert!(
            err.0[0].message.contains("16 08 02*"),
            "{}",
            err.0[0].message
        );
        // An entry without a category needs one given; with one, the owner's choice stands.
        let err = waste_draft("", Some("18 01 03"))
            .validate(&taxonomy, identity())
            .expect_err("health-care waste has no category");
        assert_eq!(fields(&err), ["ewc_code"]);
        let flow = waste_draft("material.plastic_mixed", Some("02 01 99"))
            .validate(&taxonomy, identity())
            .expect("'not otherwise specified' with a category");
        assert_eq!(flow.category, "material.plastic_mixed");
        let err = waste_draft("", None)
            .validate(&taxonomy, identity())
            .expect_err("neither");
        assert_eq!(fields(&err), ["category"]);
    }
}
