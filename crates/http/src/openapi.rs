//! The OpenAPI 3.1 description of the API, generated from the handlers' `#[utoipa::path]`
//! annotations and the schemas of the types that cross the wire. Served at `/openapi.json` and
//! committed at `api/openapi.json`; `cargo test -p symbiont-http --test openapi` fails when the
//! committed copy is stale (`UPDATE_OPENAPI=1` rewrites it).
//!
//! Response bodies are described by the types the handlers answer with (each beside its route;
//! match views, which `symbiont_app::live_matches` writes as JSON, by the schema-only types of
//! `routes/match_views.rs`). This module holds what has no type of its own: the security schemes,
//! the problem responses and what the gateway layers answer on every route, the query and header
//! parameters, and the merge-patch request body. Nothing here changes how a request is handled;
//! schemathesis (`scripts/fuzz-api`) checks the running server against the document.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use symbiont_core::MatchStatus;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey as ApiKeyScheme, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement,
    SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Schema};
use utoipa::{IntoParams, IntoResponses, Modify, ToResponse, ToSchema};
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

/// Cursor pagination of a match list: ranked best first, so its first page is shorter than other
/// lists' (ADR 0030).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatchPaging {
    /// Items per page.
    #[param(minimum = 1, maximum = 1000, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The query of `GET /api/v1/events`: at least one topic; they combine (an event matching any is
/// sent).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Events of this business's matches and flows.
    pub business: Option<Uuid>,
    /// Events of this flow and its matches.
    pub flow: Option<Uuid>,
    /// Events of matches and flows in this category or family (`heat`).
    pub category: Option<String>,
    /// `min_lon,min_lat,max_lon,max_lat`: events of flows and matches with a site in this area.
    pub bbox: Option<String>,
    /// Resume after this event (the `Last-Event-ID` header takes precedence).
    pub last_event_id: Option<String>,
}

/// A circle around a point.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearFilter {
    /// `lat,lon` in degrees; with `radius_km`.
    #[param(example = "51.23,6.78")]
    pub near: Option<String>,
    /// Radius around `near`, in km; 10 when `near` is given. Without `near` it is a 400.
    // No `default`: generated clients send a parameter's default on every call, with or without
    // `near`. A default in the document must be what the server does when the parameter is absent.
    #[param(exclusive_minimum = 0, maximum = 20000)]
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
// Request bodies the handlers read as JSON values.

/// An RFC 7386 JSON merge patch of the resource's draft fields (null removes an optional field).
/// The merged result is validated like a create.
#[derive(ToSchema)]
#[schema(as = MergePatch)]
pub struct MergePatch(pub serde_json::Map<String, serde_json::Value>);
