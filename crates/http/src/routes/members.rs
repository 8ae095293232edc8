//! `/api/v1/businesses/{id}/members`: who belongs to a business. Owners invite people by e-mail
//! (the invitee accepts, see [`super::invitations`]), change members' roles and remove them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use symbiont_app::memberships::MemberEntry;
use symbiont_store::accounts::Role;
use uuid::Uuid;

use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::{Json, parse_id};
use crate::state::SharedState;

use super::invitations::Invitation;

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
    /// The e-mail address to invite; it need not have an account yet.
    pub email: String,
    #[serde(default = "member_role")]
    #[schema(default = "member")]
    pub role: Role,
}

fn member_role() -> Role {
    Role::Member
}

/// `POST /api/v1/businesses/{id}/members`: an owner invites an e-mail address. The answer is the
/// same whether or not an account has the address.
#[utoipa::path(
    post,
    path = "/api/v1/businesses/{id}/members",
    operation_id = "addMember",
    tag = "members",
    summary = "Invite someone (by e-mail) to become a member",
    description = "Owners and platform admins. Creates a pending invitation, or refreshes the one the business already has for the address (same id, new role and expiry). The answer is 202 with the invitation whether or not an account has the address; the person becomes a member when they accept it (`POST /api/v1/invitations/{id}/accept`).",
    params(("id" = uuid::Uuid, Path, description = "The business's id.")),
    request_body = NewMember,
    responses(
        (status = 202, description = "Invited; waiting for the invitee", body = Invitation),
        crate::openapi::JsonBodyErrors,
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn add(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(new): Json<NewMember>,
) -> Result<(StatusCode, axum::Json<Invitation>), ApiError> {
    let invitation = state
        .invite(&caller, parse_id(&id, "business")?, &new.email, new.role)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Invitation::at(invitation, Utc::now())),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: Role,
}

/// `PATCH /api/v1/businesses/{id}/members/{user_id}`: an owner changes a member's role.
#[utoipa::path(
    patch,
    path = "/api/v1/businesses/{id}/members/{user_id}",
    operation_id = "changeMemberRole",
    tag = "members",
    summary = "Change a member's role",
    description = "Owners and platform admins. A business keeps at least one owner (409).",
    params(
        ("id" = uuid::Uuid, Path, description = "The business's id."),
        ("user_id" = uuid::Uuid, Path, description = "The member's user id."),
    ),
    request_body = RoleChange,
    responses(
        (status = 200, description = "Role changed", body = Member),
        crate::openapi::JsonBodyErrors,
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn change_role(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path((id, user_id)): Path<(String, String)>,
    Json(change): Json<RoleChange>,
) -> Result<axum::Json<Member>, ApiError> {
    let business_id = parse_id(&id, "business")?;
    let user_id = parse_id(&user_id, "user")?;
    let member = state
        .change_member_role(&caller, business_id, user_id, change.role)
        .await?;
    Ok(axum::Json(member.into()))
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
