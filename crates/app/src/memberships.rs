//! Who belongs to a business: its members see the list; its owners change members' roles and remove
//! them; a member may leave. A business always keeps at least one owner. People join by accepting an
//! invitation ([`crate::invitations`]), never by being added directly.
//!
//! Every change clears the account cache of this instance, so the new rights hold at once here
//! (other instances follow within the cache's lifetime, see [`crate::identity::AccountCache`]).

use chrono::{DateTime, Utc};
use symbiont_store::accounts::{Membership, Role};
use uuid::Uuid;

use crate::App;
use crate::error::AppError;
use crate::identity::Caller;

/// A member of a business with their e-mail address.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberEntry {
    pub user_id: Uuid,
    /// None when the user no longer exists.
    pub email: Option<String>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

fn is_last_owner(members: &[Membership], user: Uuid) -> bool {
    let owners: Vec<_> = members.iter().filter(|m| m.role == Role::Owner).collect();
    owners.len() == 1 && owners[0].user_id == user
}

/// Makes `user` an owner of each of `businesses`, on the operator's authority (the command line,
/// the demo's login): no caller to check, no instance's cache to clear.
pub async fn grant_ownership(
    store: &dyn symbiont_store::Store,
    user: Uuid,
    businesses: &[Uuid],
) -> Result<(), AppError> {
    for business in businesses {
        store
            .accounts()
            .put_membership(&Membership {
                business_id: *business,
                user_id: user,
                role: Role::Owner,
                created_at: Utc::now(),
            })
            .await?;
    }
    Ok(())
}

impl App {
    /// The members of a business, for its members and platform administrators.
    pub async fn members(
        &self,
        caller: &Caller,
        business_id: Uuid,
    ) -> Result<Vec<MemberEntry>, AppError> {
        let business = self.business(business_id).await?;
        if caller.account().is_none() {
            return Err(AppError::Unauthorized("sign in or send an API key".into()));
        }
        if !(caller.is_admin() || caller.is_member_of(business.id)) {
            return Err(AppError::Forbidden(format!(
                "only members of business {} see its members",
                business.id
            )));
        }
        let accounts = self.store.accounts();
        let members = accounts.members_of_business(business.id).await?;
        let mut entries = Vec::with_capacity(members.len());
        for m in members {
            let email = accounts.get_user(m.user_id).await?.map(|u| u.email);
            entries.push(MemberEntry {
                user_id: m.user_id,
                email,
                role: m.role,
                created_at: m.created_at,
            });
        }
        Ok(entries)
    }

    /// An owner (or an administrator) changes the role of a member. Demoting the last owner is a
    /// `Conflict`; someone who is not a member is `NotFound` (they join by invitation).
    pub async fn change_member_role(
        &self,
        caller: &Caller,
        business_id: Uuid,
        user_id: Uuid,
        role: Role,
    ) -> Result<MemberEntry, AppError> {
        let business = self.business(business_id).await?;
        caller.require_owner(business.id)?;
        let accounts = self.store.accounts();
        let existing = accounts.members_of_business(business.id).await?;
        let current = existing
            .iter()
            .find(|m| m.user_id == user_id)
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "user {user_id} is not a member of business {}",
                    business.id
                ))
            })?;
        if role == Role::Member && is_last_owner(&existing, user_id) {
            return Err(AppError::Conflict(
                "a business keeps at least one owner; make another member an owner first".into(),
            ));
        }
        let membership = Membership {
            role,
            ..current.clone()
        };
        accounts.put_membership(&membership).await?;
        self.account_cache.clear();
        let email = accounts.get_user(user_id).await?.map(|u| u.email);
        Ok(MemberEntry {
            user_id,
            email,
            role: membership.role,
            created_at: membership.created_at,
        })
    }

    /// Removes a member: an owner (or an administrator) removes anyone, a member may leave. The
    /// last owner cannot leave (`Conflict`).
    pub async fn remove_member(
        &self,
        caller: &Caller,
        business_id: Uuid,
        user_id: Uuid,
    ) -> Result<(), AppError> {
        let business = self.business(business_id).await?;
        let leaving = caller.user_id() == Some(user_id) && caller.writer().is_ok();
        if !leaving {
            caller.require_owner(business.id)?;
        }
        let accounts = self.store.accounts();
        let members = accounts.members_of_business(business.id).await?;
        if is_last_owner(&members, user_id) {
            return Err(AppError::Conflict(
                "the last owner cannot leave; add another owner or delete the business".into(),
            ));
        }
        let changed = accounts.remove_membership(business.id, user_id).await?;
        self.account_cache.clear();
        if changed {
            Ok(())
        } else {
            Err(AppError::NotFound(format!(
                "user {user_id} is not a member of business {}",
                business.id
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership(user_id: Uuid, role: Role) -> Membership {
        Membership {
            business_id: Uuid::nil(),
            user_id,
            role,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn only_the_sole_owner_is_the_last_owner() {
        let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let one_owner = [membership(ada, Role::Owner), membership(bob, Role::Member)];
        assert!(is_last_owner(&one_owner, ada));
        assert!(!is_last_owner(&one_owner, bob));
        let two_owners = [membership(ada, Role::Owner), membership(bob, Role::Owner)];
        assert!(!is_last_owner(&two_owners, ada));
    }
}
