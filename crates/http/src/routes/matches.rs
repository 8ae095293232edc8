//! `/api/v1/matches`, the matches of a flow or a business, and status changes.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use symbiont_core::MatchStatus;
use uuid::Uuid;

use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::{Json, QueryParams, etag, if_match, parse_id};
use crate::state::SharedState;
use symbiont_app::live_matches::{MatchCursor, MatchFilter, MatchSort};
use symbiont_app::match_queries::{MatchQuery, MatchScope};
use symbiont_app::visibility::Viewer;

pub(super) fn take_filter(
    query: &mut QueryParams,
    filter: &mut MatchFilter,
) -> Result<(MatchSort, usize, Option<MatchCursor>), ApiError> {
    let page = query.take("limit");
    let limit = match page {
        None => symbiont_app::match_queries::DEFAULT_MATCH_PAGE_SIZE as u32,
        Some(v) => v
            .parse()
            .ok()
            .filter(|l| (1..=crate::extract::MAX_PAGE_SIZE).contains(l))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "limit",
                    format!(
                        "must be a whole number between 1 and {}",
                        crate::extract::MAX_PAGE_SIZE
                    ),
                )
            })?,
    };
    let cursor = query
        .take("cursor")
        .map(|c| {
            MatchCursor::decode(&c).ok_or_else(|| {
                ApiError::bad_request("cursor", "is not a cursor from a previous page")
            })
        })
        .transpose()?;
    if filter.business_id.is_none() {
        filter.business_id = query.take_uuid("business_id")?;
    }
    if filter.flow_id.is_none() {
        filter.flow_id = query.take_uuid("flow_id")?;
    }
    filter.category = query.take("category");
    filter.min_score = query.take_parsed::<f64>("min_score", "a number between 0 and 1")?;
    if filter.min_score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
        return Err(ApiError::bad_request(
            "min_score",
            "must be between 0 and 1",
        ));
    }
    filter.status = query
        .take("status")
        .map(|s| {
            MatchStatus::parse(&s).ok_or_else(|| {
                ApiError::bad_request("status", format!("'{s}' is not a match status"))
            })
        })
        .transpose()?;
    let sort = match query.take("sort").as_deref() {
        None | Some("score") => MatchSort::Score,
        Some("savings") => MatchSort::Savings,
        Some("co2") => MatchSort::Co2,
        Some(other) => {
            return Err(ApiError::bad_request(
                "sort",
                format!("'{other}' is not one of score, savings, co2"),
            ));
        }
    };
    Ok((sort, limit as usize, cursor))
}

/// Reads the page's query parameters and answers the page `scope` holds for the caller.
async fn page(
    state: &SharedState,
    caller: &symbiont_app::identity::Caller,
    scope: MatchScope,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let viewer = Viewer::of(caller);
    let visible = state.match_scope(&viewer, scope).await?;
    let mut filter = MatchFilter::default();
    match scope {
        MatchScope::All => {}
        // The scope names its own flow or business; the same filter in the query is refused.
        MatchScope::Flow(id) => filter.flow_id = Some(id),
        MatchScope::Business(id) => filter.business_id = Some(id),
    }
    let (sort, limit, cursor) = take_filter(&mut query, &mut filter)?;
    query.finish()?;
    let query = MatchQuery {
        filter,
        sort,
        limit,
        cursor,
    };
    let body = state.app.match_page(&viewer, visible, query).await?;
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/v1/matches",
    operation_id = "listMatches",
    tag = "matches",
    summary = "List matches",
    params(crate::openapi::MatchPaging, crate::openapi::BusinessFilter, crate::openapi::MatchFilters),
    responses(
        (status = 200, description = "OK", body = super::match_views::MatchPage),
        (status = 400, response = crate::openapi::BadRequest),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn list(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    query: QueryParams,
) -> Result<Response, ApiError> {
    page(&state, &caller, MatchScope::All, query).await
}

#[utoipa::path(
    get,
    path = "/api/v1/flows/{id}/matches",
    operation_id = "listFlowMatches",
    tag = "matches",
    summary = "Matches of a flow",
    params(
        ("id" = uuid::Uuid, Path, description = "The flow's id."),
        crate::openapi::MatchPaging,
        crate::openapi::MatchFilters,
    ),
    responses(
        (status = 200, description = "OK", body = super::match_views::MatchPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn of_flow(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let scope = MatchScope::Flow(parse_id(&id, "flow")?);
    page(&state, &caller, scope, query).await
}

#[utoipa::path(
    get,
    path = "/api/v1/businesses/{id}/matches",
    operation_id = "listBusinessMatches",
    tag = "matches",
    summary = "Matches of a business (either side)",
    params(
        ("id" = uuid::Uuid, Path, description = "The business's id."),
        crate::openapi::MatchPaging,
        crate::openapi::MatchFilters,
    ),
    responses(
        (status = 200, description = "OK", body = super::match_views::MatchPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn of_business(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let scope = MatchScope::Business(parse_id(&id, "business")?);
    page(&state, &caller, scope, query).await
}

fn with_etag(body: serde_json::Value) -> Response {
    let version = body["decision_version"].as_i64().unwrap_or(0);
    let mut response = axum::Json(body).into_response();
    if let Ok(tag) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

#[utoipa::path(
    get,
    path = "/api/v1/matches/{id}",
    operation_id = "getMatch",
    tag = "matches",
    summary = "Get a match (live or expired)",
    params(("id" = uuid::Uuid, Path, description = "The match's id.")),
    responses(
        (status = 200, description = "OK", body = super::match_views::MatchView, headers(("ETag" = String, description = "The version, quoted."))),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn get(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: Uuid = parse_id(&id, "match")?;
    Ok(with_etag(state.match_one(id, &Viewer::of(&caller))?))
}

/// A person's decision on a match.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchUpdate {
    /// suggested → contacted → negotiating → agreed; rejected from any open status. Other steps
    /// (and suggested or expired) are refused.
    pub status: MatchStatus,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/matches/{id}",
    operation_id = "updateMatch",
    tag = "matches",
    summary = "Move a match along its lifecycle",
    description = "Only members of the match's two businesses. suggested → contacted → negotiating → agreed; rejected from any open status; other steps are a 409.",
    params(("id" = uuid::Uuid, Path, description = "The match's id."), crate::openapi::IfMatch),
    request_body(content = MatchUpdate, example = json!({"status": "contacted", "note": "Called their energy manager"})),
    responses(
        (status = 200, description = "OK", body = super::match_views::MatchView, headers(("ETag" = String, description = "The version, quoted."))),
        crate::openapi::JsonBodyErrors,
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 412, response = crate::openapi::PreconditionFailed),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn update(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(update): Json<MatchUpdate>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "match")?;
    let body = state
        .decide_match(id, update.status, update.note, if_match(&headers)?, &caller)
        .await?;
    Ok(with_etag(body))
}
