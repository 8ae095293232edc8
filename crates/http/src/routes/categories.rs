//! `/api/v1/categories`: the taxonomy, read-only.

use axum::extract::{Path, State};
use serde::Serialize;
use symbiont_app::categories::{CategoryListing, CategoryRules};
use symbiont_core::{Category, CompatibilityRule};
use utoipa::openapi::schema::ArrayBuilder;
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::state::SharedState;

/// The taxonomy: its version and categories.
#[derive(Serialize, ToSchema)]
pub struct CategoryList {
    pub version: String,
    pub items: Vec<Category>,
}

impl From<CategoryListing<'_>> for CategoryList {
    fn from(listing: CategoryListing<'_>) -> Self {
        CategoryList {
            version: listing.version.to_string(),
            items: listing.items.into_iter().cloned().collect(),
        }
    }
}

/// A category with the rules that connect it: the fields of `Category`, and `serves` and
/// `served_by`. Its schema is `Category`'s with the two lists added (see the `ToSchema` impl).
#[derive(Serialize)]
pub struct CategoryDetail {
    #[serde(flatten)]
    pub category: Category,
    /// Rules where this category is the offer.
    pub serves: Vec<CompatibilityRule>,
    /// Rules where this category is the need.
    pub served_by: Vec<CompatibilityRule>,
}

/// Written out rather than derived: utoipa describes a flattened field as `allOf` with
/// `Category`, whose schema forbids other properties (it denies unknown fields as a request
/// body), so `serves` would be refused. One object with `Category`'s properties and the two lists
/// says what is sent.
impl PartialSchema for CategoryDetail {
    fn schema() -> RefOr<Schema> {
        let RefOr::T(Schema::Object(mut category)) = Category::schema() else {
            unreachable!("Category is a struct, so its schema is an object")
        };
        let rules = |description: &str| {
            ArrayBuilder::new()
                .items(Ref::from_schema_name(CompatibilityRule::name()))
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

impl From<CategoryRules<'_>> for CategoryDetail {
    fn from(rules: CategoryRules<'_>) -> Self {
        CategoryDetail {
            category: rules.category.clone(),
            serves: rules.serves.into_iter().cloned().collect(),
            served_by: rules.served_by.into_iter().cloned().collect(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/categories",
    operation_id = "listCategories",
    tag = "categories",
    summary = "The resource taxonomy",
    params(
        ("group" = Option<String>, Query, description = "heat, steam, cooling, water, gas or material."),
    ),
    responses(
        (status = 200, description = "OK", body = CategoryList),
        (status = 400, response = crate::openapi::BadRequest),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn list(
    State(state): State<SharedState>,
    mut query: QueryParams,
) -> Result<axum::Json<CategoryList>, ApiError> {
    let group = query.take("group");
    query.finish()?;
    Ok(axum::Json(state.categories(group.as_deref()).into()))
}

/// One category with the rules that connect it: what it can serve (as an offer) and what can serve it.
#[utoipa::path(
    get,
    path = "/api/v1/categories/{code}",
    operation_id = "getCategory",
    tag = "categories",
    summary = "One category with the rules that connect it",
    params(("code" = String, Path, description = "A category code.", example = "heat.low_temp")),
    responses(
        (status = 200, description = "OK", body = CategoryDetail),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn get(
    State(state): State<SharedState>,
    Path(code): Path<String>,
) -> Result<axum::Json<CategoryDetail>, ApiError> {
    Ok(axum::Json(state.category_rules(&code)?.into()))
}
