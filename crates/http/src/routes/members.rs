//! `/api/v1/businesses/{id}/members`: who belongs to a business, added and removed by its owners.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use symbiont_app::memberships::{MemberChange, MemberEntry};
use symbiont_store::accounts::Role;
use uuid::Uuid;

use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::{Json, parse_id};
use crate::state::SharedState;

/// A member of a business.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub user_id: Uuid,
    /// Null when the user no longer exists.
    #[schema(required = true)]
    pub email: Option<String>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl From<MemberEntry> for Member {
    fn from(entry: MemberEntry) -> Self {
        Member {
            user_id: entry.user_id,
            email: entry.email,
            role: entry.role,
            created_at: entry.created_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberList {
    pub items: Vec<Member>,
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
        (status = 200, description = "OK", body = MemberList),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn list(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<axum::Json<MemberList>, ApiError> {
    let members = state.members(&caller, parse_id(&id, "business")?).await?;
    Ok(axum::Json(MemberList {
        items: members.into_iter().map(Member::from).collect(),
    }))
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
        (status = 200, description = "Role changed", body = Member),
        (status = 201, description = "Added", body = Member),
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
) -> Result<(StatusCode, axum::Json<Member>), ApiError> {
    let change = state
        .put_member(&caller, parse_id(&id, "business")?, &new.email, new.role)
        .await?;
    Ok(match change {
        MemberChange::Added(member) => (StatusCode::CREATED, axum::Json(member.into())),
        MemberChange::RoleChanged(member) => (StatusCode::OK, axum::Json(member.into())),
    })
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
    let business_id = parse_id(&id, "business")?;
    let user_id = parse_id(&user_id, "user")?;
    state.remove_member(&caller, business_id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
