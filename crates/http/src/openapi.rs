//! The OpenAPI 3.1 description of the API, generated from the handlers' `#[utoipa::path]`
//! annotations and the schemas of the types that cross the wire. Served at `/openapi.json` and
//! committed at `api/openapi.json`; `cargo test -p symbiont-http --test openapi` fails when the
//! committed copy is stale (`UPDATE_OPENAPI=1` rewrites it).
//!
//! This module only describes: the shapes below that handlers build as JSON (pages, stats, match
//! views, GeoJSON) mirror what the handlers write, and schemathesis (`scripts/fuzz-api`) checks
//! the running server against them. Nothing here changes how a request is handled.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Serialize;
use symbiont_core::{Business, Category, CompatibilityRule, Flow, MatchStatus, Site};
use symbiont_store::accounts::{ApiKey, AuditEntry, KeyScope, Membership, Role, User};
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey as ApiKeyScheme, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement,
    SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Schema};
use utoipa::{IntoParams, IntoResponses, Modify, PartialSchema, ToResponse, ToSchema};
use uuid::Uuid;

use crate::error::PROBLEM_JSON;

/// The generated document.
pub fn document() -> OpenApi {
    <crate::routes::ApiDoc as utoipa::OpenApi>::openapi()
}

/// The document as pretty-printed JSON with a final newline: what `/openapi.json` serves and
/// `api/openapi.json` holds. The order is stable (declaration order; maps sorted by key).
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(&document())
            .expect("an OpenAPI document always serializes");
        text.push('\n');
        text
    })
}

pub const INFO_DESCRIPTION: &str = "Symbiont finds resource exchanges between businesses \
(industrial symbiosis): offers of surplus heat, water, gases and by-products are matched with \
nearby needs, ranked and explained. Lists use cursor pagination. Updates are JSON merge patches \
guarded by If-Match.\n\nReads are public (anonymous flows excepted); writes need \
`Authorization: Bearer <access token or API key>` or `X-API-Key`. Errors are RFC 9457 problem \
documents (`application/problem+json`) naming the fields at fault.";

// ---------------------------------------------------------------------------------------------
// Security schemes.

/// The names operations use in their `security(...)` requirements.
pub const BEARER: &str = "bearer";
pub const API_KEY: &str = "apiKey";

/// Adds the security schemes, the problem responses and what the gateway middleware answers on
/// every route (see [`gateway_responses`]).
pub struct Gateway;

impl Modify for Gateway {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from POST /api/v1/auth/login or /auth/refresh, or an \
                         API key (sym_…).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::ApiKey(ApiKeyScheme::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key from POST /api/v1/auth/api-keys.",
            ))),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, operation) in [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Patch, &mut item.patch),
                (HttpMethod::Delete, &mut item.delete),
            ] {
                if let Some(operation) = operation {
                    gateway_responses(path, &method, operation);
                }
            }
        }
    }
}

/// What the middleware stack (`crate::app`) may answer before a handler runs: authentication
/// (401 for bad credentials on any route; 403 for a write with a read-only key), rate limits (429)
/// and load shedding (503, except on `/healthz` and `/metrics`). A handler's own answer for a
/// status, declared in its annotation, is kept.
fn gateway_responses(path: &str, method: &HttpMethod, operation: &mut Operation) {
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, name: &str| {
        responses
            .entry(status.to_string())
            .or_insert_with(|| Ref::from_response_name(name).into());
    };
    add("401", "Unauthorized");
    let anonymous_allowed = operation
        .security
        .as_ref()
        .is_none_or(|requirements| requirements.contains(&SecurityRequirement::default()));
    if *method != HttpMethod::Get && !anonymous_allowed {
        add("403", "Forbidden");
    }
    add("429", "TooManyRequests");
    if path != "/healthz" && path != "/metrics" {
        add("503", "Overloaded");
    }
}

fn schema_ref<T: ToSchema>() -> RefOr<Schema> {
    Ref::from_schema_name(T::name()).into()
}

// ---------------------------------------------------------------------------------------------
// Problem responses (RFC 9457), by the name operations refer to them with.

/// A problem+json response with `headers` (name, type, description).
fn problem(description: &str, headers: &[(&str, Type, &str)]) -> RefOr<Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        ContentBuilder::new()
            .schema(Some(schema_ref::<crate::error::Problem>()))
            .build(),
    );
    for (name, schema_type, header_description) in headers {
        let mut header = Header::new(ObjectBuilder::new().schema_type(schema_type.clone()));
        header.description = Some((*header_description).to_string());
        response = response.header(*name, header);
    }
    response.build().into()
}

macro_rules! problem_responses {
    ($($name:ident => $description:literal $([$($header:literal: $type:ident = $header_description:literal),*])?;)*) => {
        $(
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (
                        stringify!($name),
                        problem(
                            $description,
                            &[$($(($header, Type::$type, $header_description)),*)?],
                        ),
                    )
                }
            }
        )*
    };
}

problem_responses! {
    BadRequest => "Unreadable request: malformed JSON or a bad query parameter (unknown parameters are refused).";
    Validation => "Invalid content; `errors` names each field.";
    NotFound => "No such resource.";
    Conflict => "The resource's state forbids this.";
    PreconditionFailed => "If-Match did not match the current version.";
    UnsupportedMediaType => "The body must be application/json.";
    PayloadTooLarge => "The body exceeds the configured limit (`server.body_limit_bytes`).";
    Unavailable => "The store is unreachable, or the server shed the request at its concurrency limit; Retry-After says when to retry."
        ["Retry-After": Integer = "Seconds to wait before trying again."];
    Unauthorized => "No credentials where they are needed, or an invalid, expired or revoked token or key."
        ["WWW-Authenticate": String = "`Bearer realm=\"symbiont\"`"];
    Forbidden => "The caller is known but may not do this (not a member or owner of the business, not a party of the match, a read-only API key, not an admin).";
    TooManyRequests => "The caller exceeded its rate limit (per API key, user or client IP; logins per IP and e-mail)."
        ["Retry-After": Integer = "Seconds to wait before trying again.",
         "RateLimit-Limit": Integer = "Requests allowed at once (the burst).",
         "RateLimit-Remaining": Integer = "Requests left in the burst.",
         "RateLimit-Reset": Integer = "Seconds until the full burst is available again."];
    Overloaded => "The server is at its concurrency limit (`gateway.max_concurrent_requests`) and shed the request; retry after the given seconds."
        ["Retry-After": Integer = "Seconds to wait before trying again."];
}

/// What reading a JSON body may answer: 400 malformed, 413 too large, 415 not JSON, 422 invalid.
pub struct JsonBodyErrors;

impl IntoResponses for JsonBodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            ("400", "BadRequest"),
            ("413", "PayloadTooLarge"),
            ("415", "UnsupportedMediaType"),
            ("422", "Validation"),
        ]
        .into_iter()
        .map(|(status, name)| (status.to_string(), Ref::from_response_name(name).into()))
        .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Query parameters shared by the list endpoints.

/// Cursor pagination.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Items per page.
    #[param(minimum = 1, maximum = 1000, default = 50)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A circle around a point.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearFilter {
    /// `lat,lon` in degrees; with `radius_km`.
    #[param(example = "51.23,6.78")]
    pub near: Option<String>,
    /// Radius around `near`, in km.
    #[param(exclusive_minimum = 0, maximum = 20000, default = 10)]
    pub radius_km: Option<f64>,
}

/// Only the items of one business.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BusinessFilter {
    pub business_id: Option<Uuid>,
}

/// Filters of flow lists.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlowFilters {
    /// A category code or a group such as `heat`.
    pub category: Option<String>,
    #[param(inline)]
    pub direction: Option<symbiont_core::Direction>,
    pub site_id: Option<Uuid>,
    #[param(inline)]
    pub status: Option<symbiont_core::FlowStatus>,
}

/// How match lists are ordered.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum MatchSort {
    Score,
    Savings,
    Co2,
}

/// Filters and order of match lists.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatchFilters {
    /// A category code or a group such as `heat`, on either side.
    pub category: Option<String>,
    pub flow_id: Option<Uuid>,
    #[param(minimum = 0, maximum = 1)]
    pub min_score: Option<f64>,
    /// `expired` lists expired matches with their last figures.
    #[param(inline)]
    pub status: Option<MatchStatus>,
    /// Descending, ties by id; `score` when not given.
    #[param(inline)]
    pub sort: Option<MatchSort>,
}

/// Optimistic concurrency on updates.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatch {
    /// The ETag read before (`"3"`); a different current version is a 412. Without it the update
    /// applies to whatever is current.
    #[param(rename = "If-Match", nullable = false)]
    pub if_match: Option<String>,
}

/// Content negotiation of site reads.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct AcceptGeoJson {
    /// `application/geo+json` for GeoJSON; JSON otherwise.
    #[param(rename = "Accept", nullable = false)]
    pub accept: Option<String>,
}

/// Filters of the audit log.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilters {
    /// Entries per page, newest first.
    #[param(minimum = 1, maximum = 500, default = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (older entries).
    pub cursor: Option<String>,
    pub user_id: Option<Uuid>,
    /// e.g. `flow.create`, `auth.login_failed`.
    pub action: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Shapes the handlers build as JSON.

macro_rules! page {
    ($($(#[$doc:meta])* $name:ident of $item:ty, cursor $cursor:ty;)*) => {
        $(
            $(#[$doc])*
            #[derive(Serialize, ToSchema)]
            pub struct $name {
                pub items: Vec<$item>,
                /// Pass as `cursor` to get the next page; null on the last page.
                #[schema(required = true)]
                pub next_cursor: Option<$cursor>,
            }
        )*
    };
}

page! {
    /// A page of businesses in creation order.
    BusinessPage of Business, cursor Uuid;
    /// A page of sites in creation order.
    SitePage of Site, cursor Uuid;
    /// A page of flows in creation order.
    FlowPage of Flow, cursor Uuid;
    /// A page of matches in the requested order.
    MatchPage of MatchView, cursor String;
    /// A page of users in creation order.
    UserPage of User, cursor Uuid;
    /// A page of the audit log, newest first.
    AuditPage of AuditEntry, cursor String;
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
/// the caller has null ids and exact figures, with bands instead, until its owner accepts contact
/// (moves a `contacted` match to `negotiating`).
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
    /// Weighted mean of the components.
    #[schema(minimum = 0, maximum = 1)]
    pub score: f64,
    /// Null on redacted matches.
    #[schema(required = true)]
    pub components: Option<ScoreComponents>,
    /// Great-circle distance between the two sites; null on redacted matches.
    #[schema(required = true)]
    pub distance_km: Option<f64>,
    /// The smallest of the offer's, the need's and both categories' maximum distances.
    pub allowed_distance_km: f64,
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
    /// Temporal overlap of the weekly profiles, 0..1.
    pub temporal_overlap: f64,
    /// Smallest slack of the rule's quality comparisons (K, bar or percentage points), if any.
    #[schema(required = true)]
    pub quality_margin: Option<f64>,
    /// Value of the substituted resource − transport − offer price, EUR per year (may be negative).
    pub savings_eur_per_year: f64,
    /// CO2 of the substituted virgin resource avoided, t per year.
    pub co2_t_per_year: f64,
    /// One sentence a person reads.
    pub explanation: String,
    pub status: MatchStatus,
    /// Why the match expired (expired matches only).
    pub expired_reason: Option<String>,
    /// The note of the last status change, if it had one.
    pub note: Option<String>,
    /// 0 until someone acts; the ETag for If-Match.
    pub decision_version: i64,
    /// Only on redacted matches, e.g. "10–25 km".
    pub distance_band: Option<String>,
    /// Only on redacted matches, e.g. "100–250 kW".
    pub quantity_band: Option<String>,
    /// Only on redacted matches: the hidden sides.
    pub redacted: Option<Vec<Side>>,
}

/// One side of a match.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Offer,
    Need,
}

/// Figures summed over matches.
#[derive(Serialize, ToSchema)]
pub struct Totals {
    pub matches: u64,
    pub savings_eur_per_year: f64,
    pub co2_t_per_year: f64,
}

/// Counts and totals of the whole platform.
#[derive(Serialize, ToSchema)]
pub struct Stats {
    pub businesses: u64,
    pub sites: u64,
    pub flows: FlowCounts,
    pub matches: MatchCounts,
}

#[derive(Serialize, ToSchema)]
pub struct FlowCounts {
    pub offers: u64,
    pub needs: u64,
}

#[derive(Serialize, ToSchema)]
pub struct MatchCounts {
    /// Matches the engine holds now.
    pub live: u64,
    /// Matches by lifecycle status (statuses without matches are left out).
    pub by_status: BTreeMap<MatchStatus, u64>,
    /// Each need's best live match, scaled to what allocation leaves it.
    pub potential: Totals,
    /// Live matches people agreed on.
    pub agreed: Totals,
}

/// The taxonomy: its version and categories.
#[derive(Serialize, ToSchema)]
pub struct CategoryList {
    pub version: String,
    pub items: Vec<Category>,
}

/// A category with the rules that connect it: what it can serve (as an offer) and what can serve
/// it. The fields of `Category`, and `serves` and `served_by`.
pub struct CategoryDetail;

impl PartialSchema for CategoryDetail {
    fn schema() -> RefOr<Schema> {
        let RefOr::T(Schema::Object(mut category)) = Category::schema() else {
            unreachable!("Category is a struct, so its schema is an object")
        };
        let rules = |description: &str| {
            ArrayBuilder::new()
                .items(schema_ref::<CompatibilityRule>())
                .description(Some(description))
                .build()
        };
        category.description =
            Some("A category with the rules that connect it to others.".to_string());
        for (name, description) in [
            ("serves", "Rules where this category is the offer."),
            ("served_by", "Rules where this category is the need."),
        ] {
            category
                .properties
                .insert(name.to_string(), rules(description).into());
            category.required.push(name.to_string());
        }
        RefOr::T(Schema::Object(category))
    }
}

impl ToSchema for CategoryDetail {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            CompatibilityRule::name().into_owned(),
            CompatibilityRule::schema(),
        ));
    }
}

/// An RFC 7386 JSON merge patch of the resource's draft fields (null removes an optional field).
/// The merged result is validated like a create.
#[derive(ToSchema)]
#[schema(as = MergePatch)]
pub struct MergePatch(pub serde_json::Map<String, serde_json::Value>);

/// A site as a GeoJSON (RFC 7946) feature.
#[derive(Serialize, ToSchema)]
pub struct Feature {
    #[schema(inline)]
    pub r#type: FeatureType,
    pub id: Uuid,
    pub geometry: PointGeometry,
    pub properties: SiteProperties,
}

#[derive(Serialize, ToSchema)]
pub struct PointGeometry {
    #[schema(inline)]
    pub r#type: PointType,
    /// `[lon, lat]` in WGS84 degrees.
    #[schema(min_items = 2, max_items = 2)]
    pub coordinates: Vec<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct SiteProperties {
    pub business_id: Uuid,
    pub name: String,
    pub address: String,
    pub version: i64,
}

/// Sites as a GeoJSON feature collection, with the cursor of the next page.
#[derive(Serialize, ToSchema)]
pub struct FeatureCollection {
    #[schema(inline)]
    pub r#type: FeatureCollectionType,
    pub features: Vec<Feature>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<Uuid>,
}

// GeoJSON's `type` members, each a single string.
#[derive(Serialize, ToSchema)]
pub enum FeatureType {
    Feature,
}

#[derive(Serialize, ToSchema)]
pub enum PointType {
    Point,
}

#[derive(Serialize, ToSchema)]
pub enum FeatureCollectionType {
    FeatureCollection,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` (live) or `ready`.
    pub status: String,
}

/// How to send an access token: always `Bearer`.
#[derive(Serialize, ToSchema)]
pub enum TokenType {
    Bearer,
}

/// The caller: who it is, how it signed in, and its businesses.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub email: String,
    pub is_admin: bool,
    pub credential: Credential,
    pub memberships: Vec<Membership>,
}

/// How the caller authenticated: an access token, or an API key (with its id and scope).
#[derive(Serialize, ToSchema)]
pub struct Credential {
    #[schema(inline)]
    pub r#type: CredentialType,
    /// API keys only.
    pub id: Option<Uuid>,
    /// API keys only.
    pub scope: Option<KeyScope>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialType {
    AccessToken,
    ApiKey,
}

/// A new API key: the record, and the key itself, shown only in this answer.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub record: ApiKey,
    /// The key (`sym_…`); shown only in this answer.
    pub key: String,
}

/// The caller's API keys, without the keys.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKey>,
}

/// A member of a business.
#[derive(Serialize, ToSchema)]
pub struct Member {
    pub user_id: Uuid,
    /// Null when the user no longer exists.
    #[schema(required = true)]
    pub email: Option<String>,
    pub role: Role,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    pub items: Vec<Member>,
}
