//! `/api/v1/ewc`: the European Waste Catalogue, read-only, with the category each code maps to.

use axum::extract::{Path, State};
use serde::Serialize;
use symbiont_app::waste_codes::{WasteCodePage, WasteCodeSearch};
use symbiont_core::EwcEntry;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::state::SharedState;

/// A page of catalogue entries in code order.
#[derive(Serialize, ToSchema)]
pub struct WasteCodeList {
    /// The catalogue's legal basis: `2000/532/EC as amended by 2014/955/EU`.
    pub version: String,
    pub items: Vec<EwcEntry>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl From<WasteCodePage<'_>> for WasteCodeList {
    fn from(page: WasteCodePage<'_>) -> Self {
        WasteCodeList {
            version: page.version.to_string(),
            items: page.items.into_iter().cloned().collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// Search the European Waste Catalogue (Decision 2000/532/EC as amended): 842 six-digit entries,
/// 408 of them hazardous, each with the matching category a flow registered by that code gets.
#[utoipa::path(
    get,
    path = "/api/v1/ewc",
    operation_id = "searchWasteCodes",
    tag = "categories",
    summary = "Search the European Waste Catalogue",
    params(
        ("q" = Option<String>, Query, description = "A code or code prefix (`16 08`, `1608`), or words that must all appear in the entry's title or its section's or chapter's (at most 200 characters).", example = "mill scale"),
        ("hazardous" = Option<bool>, Query, description = "Only hazardous (`true`) or non-hazardous (`false`) entries."),
        ("category" = Option<String>, Query, description = "Only entries a flow of this category may carry.", example = "material.fly_ash"),
        ("limit" = Option<u32>, Query, description = "Entries per page.", minimum = 1, maximum = 1000),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page."),
    ),
    responses(
        (status = 200, description = "OK", body = WasteCodeList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 422, response = crate::openapi::Validation),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn list(
    State(state): State<SharedState>,
    mut query: QueryParams,
) -> Result<axum::Json<WasteCodeList>, ApiError> {
    let (text, hazardous, category, cursor, limit) = (
        query.take("q"),
        query.take("hazardous"),
        query.take("category"),
        query.take("cursor"),
        query.take("limit"),
    );
    query.finish()?;
    let search = WasteCodeSearch {
        text: text.as_deref(),
        hazardous: hazardous.as_deref(),
        category: category.as_deref(),
        cursor: cursor.as_deref(),
        limit: limit.as_deref(),
    };
    Ok(axum::Json(state.waste_codes(&search)?.into()))
}

/// One entry of the catalogue, by its code in any usual spelling.
#[utoipa::path(
    get,
    path = "/api/v1/ewc/{code}",
    operation_id = "getWasteCode",
    tag = "categories",
    summary = "One European Waste Catalogue entry",
    params(("code" = String, Path, description = "Six digits: `160802`, `16 08 02` or `16 08 02*`.", example = "160802")),
    responses(
        (status = 200, description = "OK", body = EwcEntry),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn get(
    State(state): State<SharedState>,
    Path(code): Path<String>,
) -> Result<axum::Json<EwcEntry>, ApiError> {
    Ok(axum::Json(state.waste_code(&code)?.clone()))
}
