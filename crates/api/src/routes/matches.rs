//! `/api/v1/matches`, the matches of a flow or a business, status changes, and `/api/v1/stats`.

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use symbiont_core::MatchStatus;
use uuid::Uuid;

use super::check_category_filter;
use crate::error::ApiError;
use crate::extract::{Json, QueryParams, etag, if_match, parse_id};
use crate::matching::{MatchCursor, MatchFilter, MatchSort};
use crate::state::SharedState;

fn take_filter(
    query: &mut QueryParams,
    filter: &mut MatchFilter,
) -> Result<(MatchSort, usize, Option<MatchCursor>), ApiError> {
    let page = query.take("limit");
    let limit = match page {
        None => crate::extract::DEFAULT_PAGE_SIZE,
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

/// The cached body for `uri` at the engine's current generation, or `compute`'s, then cached.
async fn cached(
    state: &SharedState,
    uri: &axum::http::Uri,
    compute: impl FnOnce() -> Result<Vec<u8>, ApiError>,
) -> Result<Response, ApiError> {
    let key = format!("{}:{uri}", state.matching.generation());
    let body = match state.cache.get(&key).await {
        Some(body) => body,
        None => {
            let body = compute()?;
            state.cache.put(&key, &body).await;
            body
        }
    };
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

async fn list_filtered(
    state: &SharedState,
    uri: &axum::http::Uri,
    mut query: QueryParams,
    mut filter: MatchFilter,
) -> Result<Response, ApiError> {
    let (sort, limit, cursor) = take_filter(&mut query, &mut filter)?;
    query.finish()?;
    check_category_filter(state, filter.category.as_deref())?;
    cached(state, uri, || {
        state.matching.page(&filter, sort, limit, cursor)
    })
    .await
}

pub async fn list(
    State(state): State<SharedState>,
    OriginalUri(uri): OriginalUri,
    query: QueryParams,
) -> Result<Response, ApiError> {
    list_filtered(&state, &uri, query, MatchFilter::default()).await
}

pub async fn of_flow(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let flow = state.flow(parse_id(&id, "flow")?).await?;
    list_filtered(
        &state,
        &uri,
        query,
        MatchFilter {
            flow_id: Some(flow.id),
            ..MatchFilter::default()
        },
    )
    .await
}

pub async fn of_business(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let business = state.business(parse_id(&id, "business")?).await?;
    list_filtered(
        &state,
        &uri,
        query,
        MatchFilter {
            business_id: Some(business.id),
            ..MatchFilter::default()
        },
    )
    .await
}

fn with_etag(body: serde_json::Value) -> Response {
    let version = body["decision_version"].as_i64().unwrap_or(0);
    let mut response = axum::Json(body).into_response();
    if let Ok(tag) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

pub async fn get(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: Uuid = parse_id(&id, "match")?;
    let body = state
        .matching
        .one(id)
        .ok_or_else(|| ApiError::NotFound(format!("match {id} not found")))?;
    Ok(with_etag(body))
}

/// A person's decision on a match.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchUpdate {
    pub status: MatchStatus,
    #[serde(default)]
    pub note: Option<String>,
}

pub async fn update(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(update): Json<MatchUpdate>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "match")?;
    if update
        .note
        .as_ref()
        .is_some_and(|n| n.chars().count() > 2000)
    {
        return Err(ApiError::invalid("note", "must be at most 2000 characters"));
    }
    if update.status == MatchStatus::Expired || update.status == MatchStatus::Suggested {
        return Err(ApiError::invalid(
            "status",
            "a person can set contacted, negotiating, agreed or rejected",
        ));
    }
    let body = state
        .decide_match(id, update.status, update.note, if_match(&headers)?)
        .await?;
    Ok(with_etag(body))
}

/// Counts and totals for the whole platform.
pub async fn stats(
    State(state): State<SharedState>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    query.finish()?;
    let counts = state.store.counts().await?;
    // The match summary walks every match, so it is cached; entity counts come from the store.
    let key = format!("{}:stats-matches", state.matching.generation());
    let matches: serde_json::Value = match state
        .cache
        .get(&key)
        .await
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(matches) => matches,
        None => {
            let summary = state.matching.summary();
            let matches = json!({
                "live": state.matching.engine_stats().matches,
                "by_status": summary.by_status,
                "potential": summary.potential,
                "agreed": summary.agreed,
            });
            state.cache.put(&key, matches.to_string().as_bytes()).await;
            matches
        }
    };
    Ok(axum::Json(json!({
        "businesses": counts.businesses,
        "sites": counts.sites,
        "flows": { "offers": counts.offers, "needs": counts.needs },
        "matches": matches,
    }))
    .into_response())
}
