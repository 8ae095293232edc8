//! `/api/v1/businesses/{id}/members`: who belongs to a business, added and removed by its owners.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use symbiont_store::accounts::{Membership, Role};

use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::{Json, parse_id};
use crate::state::SharedState;

/// Members with their e-mail addresses.
async fn listing(
    state: &SharedState,
    members: Vec<Membership>,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        let email = state
            .store
            .accounts()
            .get_user(m.user_id)
            .await?
            .map(|u| u.email);
        out.push(json!({
            "user_id": m.user_id,
            "email": email,
            "role": m.role,
            "created_at": m.created_at,
        }));
    }
    Ok(out)
}

/// `GET /api/v1/businesses/{id}/members`: for the business's members and admins.
#[utoipa::path(
    get,
    path = "/api/v1/businesses/{id}/members",
    operation_id = "listMembers",
    tag = "members",
    summary = "A business's members",
    description = "For its members and platform admins.",
    params(("id" = uuid::Uuid, Path, description = "The business's id.")),
    responses(
        (status = 200, description = "OK", body = crate::openapi::MemberList),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn list(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let business = state.business(parse_id(&id, "business")?).await?;
    if caller.account().is_none() {
        return Err(ApiError::Unauthorized("sign in or send an API key".into()));
    }
    if !(caller.is_admin() || caller.is_member_of(business.id)) {
        return Err(ApiError::Forbidden(format!(
            "only members of business {} see its members",
            business.id
        )));
    }
    let members = state
        .store
        .accounts()
        .members_of_business(business.id)
        .await?;
    Ok(axum::Json(json!({ "items": listing(&state, members).await? })).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// The e-mail of an existing user.
    pub email: String,
    #[serde(default = "member_role")]
    #[schema(default = "member")]
    pub role: Role,
}

fn member_role() -> Role {
    Role::Member
}

/// `POST /api/v1/businesses/{id}/members`: an owner adds a user (by e-mail) or changes their role.
#[utoipa::path(
    post,
    path = "/api/v1/businesses/{id}/members",
    operation_id = "addMember",
    tag = "members",
    summary = "Add a member (by e-mail) or change their role",
    description = "Owners and platform admins. A business keeps at least one owner (409).",
    params(("id" = uuid::Uuid, Path, description = "The business's id.")),
    request_body = NewMember,
    responses(
        (status = 200, description = "Role changed", body = crate::openapi::Member),
        (status = 201, description = "Added", body = crate::openapi::Member),
        crate::openapi::JsonBodyErrors,
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn add(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(new): Json<NewMember>,
) -> Result<Response, ApiError> {
    let business = state.business(parse_id(&id, "business")?).await?;
    caller.require_owner(business.id)?;
    let email = symbiont_app::identity::normalize_email("email", &new.email)?;
    let user = state
        .store
        .accounts()
        .user_by_email(&email)
        .await?
        .ok_or_else(|| ApiError::invalid("email", format!("no user has the e-mail {email}")))?;
    let existing = state
        .store
        .accounts()
        .members_of_business(business.id)
        .await?;
    if new.role == Role::Member && is_last_owner(&existing, user.id) {
        return Err(ApiError::Conflict(
            "a business keeps at least one owner; add another owner first".into(),
        ));
    }
    let membership = Membership {
        business_id: business.id,
        user_id: user.id,
        role: new.role,
        created_at: Utc::now(),
    };
    state.store.accounts().put_membership(&membership).await?;
    state.account_cache.clear();
    let status = if existing.iter().any(|m| m.user_id == user.id) {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        axum::Json(json!({
            "user_id": user.id,
            "email": user.email,
            "role": membership.role,
            "created_at": membership.created_at,
        })),
    )
        .into_response())
}

fn is_last_owner(members: &[Membership], user: uuid::Uuid) -> bool {
    let owners: Vec<_> = members.iter().filter(|m| m.role == Role::Owner).collect();
    owners.len() == 1 && owners[0].user_id == user
}

/// `DELETE /api/v1/businesses/{id}/members/{user_id}`: by an owner, or a member leaving.
#[utoipa::path(
    delete,
    path = "/api/v1/businesses/{id}/members/{user_id}",
    operation_id = "removeMember",
    tag = "members",
    summary = "Remove a member, or leave",
    description = "Owners and admins remove anyone; a member may remove themself. The last owner cannot leave (409).",
    params(
        ("id" = uuid::Uuid, Path, description = "The business's id."),
        ("user_id" = uuid::Uuid, Path, description = "The member's user id."),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn remove(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let business = state.business(parse_id(&id, "business")?).await?;
    let user_id = parse_id(&user_id, "user")?;
    let leaving = caller.user_id() == Some(user_id) && caller.writer().is_ok();
    if !leaving {
        caller.require_owner(business.id)?;
    }
    let members = state
        .store
        .accounts()
        .members_of_business(business.id)
        .await?;
    if is_last_owner(&members, user_id) {
        return Err(ApiError::Conflict(
            "the last owner cannot leave; add another owner or delete the business".into(),
        ));
    }
    let changed = state
        .store
        .accounts()
        .remove_membership(business.id, user_id)
        .await?;
    state.account_cache.clear();
    if changed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "user {user_id} is not a member of business {}",
            business.id
        )))
    }
}
