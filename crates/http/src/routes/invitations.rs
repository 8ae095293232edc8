//! Invitations to businesses: the invitee's side (`/api/v1/invitations`: see, accept, decline) and
//! the owners' (`/api/v1/businesses/{id}/invitations`: list, revoke). Owners invite through
//! `POST /api/v1/businesses/{id}/members` ([`super::members::add`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use symbiont_app::invitations;
use symbiont_store::accounts::{self, Role};
use uuid::Uuid;

use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::parse_id;
use crate::state::SharedState;

use super::members::Member;

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// Can be accepted or declined.
    Pending,
    /// Can no longer be accepted; listed to the business's owners until it is deleted.
    Expired,
}

impl From<invitations::InvitationStatus> for InvitationStatus {
    fn from(status: invitations::InvitationStatus) -> Self {
        match status {
            invitations::InvitationStatus::Pending => InvitationStatus::Pending,
            invitations::InvitationStatus::Expired => InvitationStatus::Expired,
        }
    }
}

/// An invitation of an e-mail address to a business.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub id: Uuid,
    pub business_id: Uuid,
    /// The invited address, lower-case.
    pub email: String,
    /// The role accepting gives (an owner who accepts an invitation as member stays owner).
    pub role: Role,
    pub status: InvitationStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Invitation {
    /// The invitation as it stands at `now`.
    pub fn at(invitation: accounts::Invitation, now: DateTime<Utc>) -> Self {
        Invitation {
            status: invitations::status_of(&invitation, now).into(),
            id: invitation.id,
            business_id: invitation.business_id,
            email: invitation.email,
            role: invitation.role,
            created_at: invitation.created_at,
            expires_at: invitation.expires_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationList {
    pub items: Vec<Invitation>,
}

fn list_of(items: Vec<accounts::Invitation>) -> axum::Json<InvitationList> {
    let now = Utc::now();
    axum::Json(InvitationList {
        items: items.into_iter().map(|i| Invitation::at(i, now)).collect(),
    })
}

/// `GET /api/v1/invitations`: the caller's pending invitations.
#[utoipa::path(
    get,
    path = "/api/v1/invitations",
    operation_id = "listMyInvitations",
    tag = "invitations",
    summary = "Your pending invitations",
    description = "The invitations addressed to your account's e-mail that have not expired, oldest first.",
    responses(
        (status = 200, description = "OK", body = InvitationList),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn mine(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
) -> Result<axum::Json<InvitationList>, ApiError> {
    Ok(list_of(state.my_invitations(&caller).await?))
}

/// `POST /api/v1/invitations/{id}/accept`: the invitee becomes a member.
#[utoipa::path(
    post,
    path = "/api/v1/invitations/{id}/accept",
    operation_id = "acceptInvitation",
    tag = "invitations",
    summary = "Accept an invitation",
    description = "You become a member of the business with the invited role (an owner stays owner); the invitation is used up. An invitation that is not addressed to you, has expired or was revoked is a 404.",
    params(("id" = uuid::Uuid, Path, description = "The invitation's id.")),
    responses(
        (status = 200, description = "You are a member", body = Member),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn accept(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<axum::Json<Member>, ApiError> {
    let member = state
        .accept_invitation(&caller, parse_id(&id, "invitation")?)
        .await?;
    Ok(axum::Json(member.into()))
}

/// `POST /api/v1/invitations/{id}/decline`: the invitee says no.
#[utoipa::path(
    post,
    path = "/api/v1/invitations/{id}/decline",
    operation_id = "declineInvitation",
    tag = "invitations",
    summary = "Decline an invitation",
    description = "The invitation is deleted. One that is not addressed to you, has expired or was revoked is a 404.",
    params(("id" = uuid::Uuid, Path, description = "The invitation's id.")),
    responses(
        (status = 204, description = "Declined"),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn decline(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .decline_invitation(&caller, parse_id(&id, "invitation")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/businesses/{id}/invitations`: for the business's owners and admins.
#[utoipa::path(
    get,
    path = "/api/v1/businesses/{id}/invitations",
    operation_id = "listInvitations",
    tag = "invitations",
    summary = "A business's invitations",
    description = "For its owners and platform admins: pending ones and expired ones not yet deleted, oldest first. Accepted, declined and revoked invitations are gone.",
    params(("id" = uuid::Uuid, Path, description = "The business's id.")),
    responses(
        (status = 200, description = "OK", body = InvitationList),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn of_business(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<axum::Json<InvitationList>, ApiError> {
    let items = state
        .business_invitations(&caller, parse_id(&id, "business")?)
        .await?;
    Ok(list_of(items))
}

/// `DELETE /api/v1/businesses/{id}/invitations/{invitation_id}`: an owner withdraws an invitation.
#[utoipa::path(
    delete,
    path = "/api/v1/businesses/{id}/invitations/{invitation_id}",
    operation_id = "revokeInvitation",
    tag = "invitations",
    summary = "Revoke an invitation",
    description = "Owners and platform admins. The invitation can no longer be accepted.",
    params(
        ("id" = uuid::Uuid, Path, description = "The business's id."),
        ("invitation_id" = uuid::Uuid, Path, description = "The invitation's id."),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn revoke(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path((id, invitation_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let business_id = parse_id(&id, "business")?;
    let invitation_id = parse_id(&invitation_id, "invitation")?;
    state
        .revoke_invitation(&caller, business_id, invitation_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
