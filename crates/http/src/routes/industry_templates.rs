//! `/api/v1/templates`: the typical flows of NACE classes, read-only.

use axum::extract::{Path, State};
use serde::Serialize;
use symbiont_core::{NaceTemplate, SuggestedFlow, TemplateFlow};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::state::SharedState;

/// Every template.
#[derive(Serialize, ToSchema)]
pub struct TemplateList {
    pub version: String,
    pub items: Vec<NaceTemplate>,
}

/// One class's typical flows and the drafts suggested from them.
#[derive(Serialize, ToSchema)]
pub struct TemplateDetail {
    /// The class with its section letter, e.g. `C11.05`.
    pub nace: String,
    pub name: String,
    /// Where the typical flows and their magnitudes come from.
    pub source: String,
    /// Typical flows with their typical range for one mid-sized site (screening estimates).
    pub flows: Vec<TemplateFlow>,
    /// The same flows as drafts to edit and post with a `site_id` (the middle of each range).
    pub suggested_flows: Vec<SuggestedFlow>,
}

impl From<&NaceTemplate> for TemplateDetail {
    fn from(template: &NaceTemplate) -> Self {
        TemplateDetail {
            nace: template.nace.clone(),
            name: template.name.clone(),
            source: template.source.clone(),
            flows: template.flows.clone(),
            suggested_flows: template
                .flows
                .iter()
                .map(TemplateFlow::suggestion)
                .collect(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/templates",
    operation_id = "listTemplates",
    tag = "categories",
    summary = "The typical flows of NACE classes",
    responses(
        (status = 200, description = "OK", body = TemplateList),
        (status = 400, response = crate::openapi::BadRequest),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn list(
    State(state): State<SharedState>,
    query: QueryParams,
) -> Result<axum::Json<TemplateList>, ApiError> {
    query.finish()?;
    let listing = state.industry_templates();
    Ok(axum::Json(TemplateList {
        version: listing.version.to_string(),
        items: listing.items.to_vec(),
    }))
}

/// The typical offers and needs of one NACE class, with the flows suggested from them.
#[utoipa::path(
    get,
    path = "/api/v1/templates/{nace}",
    operation_id = "getTemplate",
    tag = "categories",
    summary = "The typical flows of one NACE class",
    params(("nace" = String, Path, description = "A NACE Rev.2 class, with or without its section letter.", example = "C11.05")),
    responses(
        (status = 200, description = "OK", body = TemplateDetail),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn get(
    State(state): State<SharedState>,
    Path(nace): Path<String>,
) -> Result<axum::Json<TemplateDetail>, ApiError> {
    Ok(axum::Json(state.industry_template(&nace)?.into()))
}
