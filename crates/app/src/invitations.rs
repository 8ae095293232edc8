//! Invitations: how a person joins a business. An owner invites an e-mail address with a role; the
//! person with that address, once signed in, sees the invitation and accepts it (becoming a member
//! through the membership the store writes in the same transaction) or declines it; owners list and
//! revoke their business's invitations.
//!
//! What this must not do: tell an owner whether an address has an account. Inviting never looks
//! the address up among the users: it does the same store work and returns the same kind of answer
//! either way, and a person who registers later finds the invitation then. An invitation addressed
//! to someone else, or expired, is `NotFound` to the caller, like one that does not exist, so ids
//! cannot be probed. Nothing is applied without the invitee's accept.

use chrono::{DateTime, Duration, Utc};
use symbiont_store::accounts::{Invitation, Membership, Role};
use uuid::Uuid;

use crate::App;
use crate::error::AppError;
use crate::identity::{Caller, normalize_email};
use crate::memberships::MemberEntry;

/// How long an invitation can be accepted; inviting the same address again restarts it.
pub const INVITATION_LIFETIME: Duration = Duration::days(14);

/// Where an invitation stands. Accepted, declined and revoked invitations are deleted, so only
/// these two are ever seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    /// Can be accepted or declined.
    Pending,
    /// Past its `expires_at`: shown to the business's owners until retention deletes it.
    Expired,
}

/// The status of `invitation` at `now`.
pub fn status_of(invitation: &Invitation, now: DateTime<Utc>) -> InvitationStatus {
    if invitation.expires_at > now {
        InvitationStatus::Pending
    } else {
        InvitationStatus::Expired
    }
}

/// The role accepting gives someone whose current role is `current`: an invitation adds or
/// promotes, it never demotes (so accepting cannot take a business's last owner away).
fn role_on_accepting(invited: Role, current: Option<Role>) -> Role {
    match current {
        Some(Role::Owner) => Role::Owner,
        _ => invited,
    }
}

fn no_invitation(id: Uuid) -> AppError {
    AppError::NotFound(format!("you have no pending invitation {id}"))
}

impl App {
    /// An owner (or an administrator) invites `email` to a business with `role`, or refreshes the
    /// pending invitation the business has for it (new role and expiry, same id).
    pub async fn invite(
        &self,
        caller: &Caller,
        business_id: Uuid,
        email: &str,
        role: Role,
    ) -> Result<Invitation, AppError> {
        let business = self.business(business_id).await?;
        let inviter = caller.require_owner(business.id)?;
        let email = normalize_email("email", email)?;
        let now = Utc::now();
        let invitation = Invitation {
            id: Uuid::now_v7(),
            business_id: business.id,
            email,
            role,
            invited_by: Some(inviter.user_id),
            created_at: now,
            expires_at: now + INVITATION_LIFETIME,
        };
        Ok(self.store.accounts().put_invitation(&invitation).await?)
    }

    /// A business's invitations, expired ones included, for its owners and administrators.
    pub async fn business_invitations(
        &self,
        caller: &Caller,
        business_id: Uuid,
    ) -> Result<Vec<Invitation>, AppError> {
        let business = self.business(business_id).await?;
        if caller.account().is_none() {
            return Err(AppError::Unauthorized("sign in or send an API key".into()));
        }
        if !(caller.is_admin() || caller.is_owner_of(business.id)) {
            return Err(AppError::Forbidden(format!(
                "only owners of business {} see its invitations",
                business.id
            )));
        }
        Ok(self
            .store
            .accounts()
            .invitations_of_business(business.id)
            .await?)
    }

    /// An owner (or an administrator) withdraws an invitation of their business, pending or
    /// expired. One of another business is `NotFound`.
    pub async fn revoke_invitation(
        &self,
        caller: &Caller,
        business_id: Uuid,
        invitation_id: Uuid,
    ) -> Result<(), AppError> {
        let business = self.business(business_id).await?;
        caller.require_owner(business.id)?;
        let accounts = self.store.accounts();
        let not_found = || {
            AppError::NotFound(format!(
                "business {} has no invitation {invitation_id}",
                business.id
            ))
        };
        match accounts.get_invitation(invitation_id).await? {
            Some(invitation) if invitation.business_id == business.id => {}
            _ => return Err(not_found()),
        }
        if accounts.remove_invitation(invitation_id).await? {
            Ok(())
        } else {
            Err(not_found())
        }
    }

    /// The pending invitations addressed to the caller's e-mail, oldest first.
    pub async fn my_invitations(&self, caller: &Caller) -> Result<Vec<Invitation>, AppError> {
        let account = caller
            .account()
            .ok_or_else(|| AppError::Unauthorized("sign in or send an API key".into()))?;
        Ok(self
            .store
            .accounts()
            .invitations_to_email(&account.email, Utc::now())
            .await?)
    }

    /// The invitation `id` if it is addressed to the caller and pending; `NotFound` otherwise,
    /// whatever the reason, so a caller learns nothing of other people's invitations.
    async fn pending_invitation_of(
        &self,
        caller: &Caller,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Invitation, AppError> {
        let account = caller.writer()?;
        match self.store.accounts().get_invitation(id).await? {
            Some(invitation)
                if invitation.email == account.email
                    && status_of(&invitation, now) == InvitationStatus::Pending =>
            {
                Ok(invitation)
            }
            _ => Err(no_invitation(id)),
        }
    }

    /// The invitee accepts: the invitation is deleted and the caller becomes a member with the
    /// invited role (an owner stays an owner), in one store transaction.
    pub async fn accept_invitation(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<MemberEntry, AppError> {
        let now = Utc::now();
        let invitation = self.pending_invitation_of(caller, id, now).await?;
        let account = caller.writer()?;
        let accounts = self.store.accounts();
        let current = accounts
            .members_of_business(invitation.business_id)
            .await?
            .into_iter()
            .find(|m| m.user_id == account.user_id);
        let membership = Membership {
            business_id: invitation.business_id,
            user_id: account.user_id,
            role: role_on_accepting(invitation.role, current.as_ref().map(|m| m.role)),
            created_at: current.map_or(now, |m| m.created_at),
        };
        // Revoked, declined or accepted meanwhile: the store took nothing and wrote nothing.
        if !accounts.accept_invitation(id, now, &membership).await? {
            return Err(no_invitation(id));
        }
        self.account_cache.clear();
        Ok(MemberEntry {
            user_id: membership.user_id,
            email: Some(account.email.clone()),
            role: membership.role,
            created_at: membership.created_at,
        })
    }

    /// The invitee declines: the invitation is deleted.
    pub async fn decline_invitation(&self, caller: &Caller, id: Uuid) -> Result<(), AppError> {
        self.pending_invitation_of(caller, id, Utc::now()).await?;
        if self.store.accounts().remove_invitation(id).await? {
            Ok(())
        } else {
            Err(no_invitation(id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepting_adds_or_promotes_but_never_demotes() {
        assert_eq!(role_on_accepting(Role::Member, None), Role::Member);
        assert_eq!(role_on_accepting(Role::Owner, None), Role::Owner);
        assert_eq!(
            role_on_accepting(Role::Owner, Some(Role::Member)),
            Role::Owner
        );
        assert_eq!(
            role_on_accepting(Role::Member, Some(Role::Owner)),
            Role::Owner
        );
    }

    #[test]
    fn an_invitation_is_expired_from_its_expiry_on() {
        let now = Utc::now();
        let invitation = Invitation {
            id: Uuid::nil(),
            business_id: Uuid::nil(),
            email: "a@b.example".into(),
            role: Role::Member,
            invited_by: None,
            created_at: now - INVITATION_LIFETIME,
            expires_at: now,
        };
        assert_eq!(
            status_of(&invitation, now - Duration::seconds(1)),
            InvitationStatus::Pending
        );
        assert_eq!(status_of(&invitation, now), InvitationStatus::Expired);
    }
}
