//! `/api/v1/admin`: platform administration (users, the audit log). Every route here is behind
//! [`crate::authentication::admin_only`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use symbiont_store::accounts::{AuditFilter, User};

use super::auth::NewUser;
use super::pages::{AuditPage, UserPage};
use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::{Json, QueryParams, parse_id};
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

/// `POST /api/v1/admin/users/{id}/disable`
#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{id}/disable",
    operation_id = "disableUser",
    tag = "admin",
    summary = "Disable a user",
    description = "Platform admins with a signed-in session only (never an API key). The user can no \
                   longer sign in; every session ends and their API keys stop working. An admin \
                   cannot disable themself (409).",
    params(("id" = uuid::Uuid, Path, description = "The user")),
    responses(
        (status = 200, description = "Disabled", body = User),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("bearer" = [])),
)]
pub async fn disable_user(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<axum::Json<User>, ApiError> {
    let id = parse_id(&id, "user")?;
    Ok(axum::Json(
        state.set_user_disabled(&caller, id, true).await?,
    ))
}

/// `POST /api/v1/admin/users/{id}/enable`
#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{id}/enable",
    operation_id = "enableUser",
    tag = "admin",
    summary = "Enable a disabled user",
    description = "Platform admins with a signed-in session only. The sessions ended by disabling stay \
                   ended; the user signs in again.",
    params(("id" = uuid::Uuid, Path, description = "The user")),
    responses(
        (status = 200, description = "Enabled", body = User),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("bearer" = [])),
)]
pub async fn enable_user(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<axum::Json<User>, ApiError> {
    let id = parse_id(&id, "user")?;
    Ok(axum::Json(
        state.set_user_disabled(&caller, id, false).await?,
    ))
}

/// `POST /api/v1/admin/users/{id}/logout-everywhere`
#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{id}/logout-everywhere",
    operation_id = "endSessionsOfUser",
    tag = "admin",
    summary = "End every session of a user",
    description = "Platform admins with a signed-in session only. Every access and refresh token of \
                   the user stops working; API keys are not sessions (disable the user to stop them).",
    params(("id" = uuid::Uuid, Path, description = "The user")),
    responses(
        (status = 204, description = "Every session ended."),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("bearer" = [])),
)]
pub async fn end_sessions_of_user(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "user")?;
    state.end_sessions_of_user(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
