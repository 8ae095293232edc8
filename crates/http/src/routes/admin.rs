//! `/api/v1/admin`: platform administration (users, the audit log). Every route here is behind
//! [`crate::authentication::admin_only`].

use axum::extract::State;
use axum::http::StatusCode;
use symbiont_store::accounts::{AuditFilter, User};

use super::auth::NewUser;
use super::pages::{AuditPage, UserPage};
use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::{Json, QueryParams};
use crate::state::SharedState;

/// `GET /api/v1/admin/audit?limit=&before=&user_id=&action=`: newest first; `next_cursor` pages on.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    operation_id = "listAudit",
    tag = "admin",
    summary = "The audit log, newest first",
    description = "Platform admins only. Every write and login: who, what, when, from where.",
    params(crate::openapi::AuditFilters),
    responses(
        (status = 200, description = "OK", body = AuditPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn audit(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    mut query: QueryParams,
) -> Result<axum::Json<AuditPage>, ApiError> {
    let limit = query
        .take_parsed::<u32>("limit", "a whole number between 1 and 500")?
        .unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit", "must be between 1 and 500"));
    }
    let before = match query.take("cursor") {
        None => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            ApiError::bad_request("cursor", "is not a cursor from a previous page")
        })?),
    };
    let filter = AuditFilter {
        user_id: query.take_uuid("user_id")?,
        action: query.take("action"),
        before,
        limit,
    };
    query.finish()?;
    let page = state.audit_page(&caller, filter).await?;
    Ok(axum::Json(page.into()))
}

/// `GET /api/v1/admin/users`
#[utoipa::path(
    get,
    path = "/api/v1/admin/users",
    operation_id = "listUsers",
    tag = "admin",
    summary = "Users",
    description = "Platform admins only.",
    params(crate::openapi::Paging),
    responses(
        (status = 200, description = "OK", body = UserPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn users(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    mut query: QueryParams,
) -> Result<axum::Json<UserPage>, ApiError> {
    let page = query.take_page()?;
    query.finish()?;
    Ok(axum::Json(state.users(&caller, page).await?.into()))
}

/// `POST /api/v1/admin/users`: creates a user (or another admin).
#[utoipa::path(
    post,
    path = "/api/v1/admin/users",
    operation_id = "createUser",
    tag = "admin",
    summary = "Create a user or another admin",
    description = "Platform admins only.",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = symbiont_store::accounts::User),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn create(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, axum::Json<User>), ApiError> {
    let user = state.create_user(&caller, new.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(user)))
}
