//! The accounts port: users, business memberships, invitations to businesses, refresh tokens, API
//! keys, the audit log and the token signing secret. Secrets never reach the store in clear: passwords arrive as argon2id PHC
//! strings, refresh tokens and API keys as SHA-256 digests (hex) of the random value.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use symbiont_core::Business;
use uuid::Uuid;

use crate::StoreError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: Uuid,
    /// Lower-case; unique.
    pub email: String,
    #[serde(skip_serializing)]
    pub password_hash: String,
    /// Platform administrator: may read and write everything except other businesses' decisions.
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
    /// Tokens issued before the last bump of this number are refused (`AccountStore::bump_token_epoch`).
    #[serde(skip_serializing, default)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub token_epoch: i64,
    /// Set when an administrator disabled the account: no sign-in, no token, no API key works.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub disabled_at: Option<DateTime<Utc>>,
}

/// What a person is to a business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages the business, its members and its data.
    Owner,
    /// Manages the business's sites, flows and match decisions.
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "owner" => Some(Role::Owner),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Membership {
    pub business_id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// An owner's invitation of an e-mail address to a business, waiting for the person with that
/// address to accept or decline it. It names an address, not a user: whether an account has the
/// address is never looked up when inviting, so inviting tells nothing about accounts.
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    pub id: Uuid,
    pub business_id: Uuid,
    /// Lower-case; one pending invitation per business and address.
    pub email: String,
    /// The role accepting gives.
    pub role: Role,
    /// Who invited; None when that user no longer exists.
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// After this the invitation can no longer be accepted, and retention deletes it.
    pub expires_at: DateTime<Utc>,
}

/// One refresh token of a login. Each refresh replaces the token with a new one of the same family;
/// presenting a replaced token again revokes the whole family (it was stolen or replayed).
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// The user's token epoch at login; the family dies when the user's epoch moves on.
    pub epoch: i64,
    /// The absolute end of the login: no rotation makes the family outlive it.
    pub session_expires_at: DateTime<Utc>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq)]
pub enum Rotation {
    /// The token was current: it is now replaced by the new one.
    Rotated { user_id: Uuid, epoch: i64 },
    /// No such token.
    Unknown,
    /// The token has expired, its login was ended or outlived its absolute lifetime, its user's
    /// token epoch moved on, or its user was disabled.
    Expired,
    /// The token was already replaced: the family is now revoked.
    Reused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    Read,
    ReadWrite,
}

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Read => "read",
            KeyScope::ReadWrite => "read_write",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(KeyScope::Read),
            "read_write" => Some(KeyScope::ReadWrite),
            _ => None,
        }
    }
}

/// An API key of a user, for machine clients. The key itself is shown once, at creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The first characters of the key, so a person can tell keys apart.
    pub prefix: String,
    pub scope: KeyScope,
    pub created_at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_used_at: Option<DateTime<Utc>>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One line of the audit log: who did what, when, from where, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Position in the log (ascending), assigned by the store; 0 before it is appended.
    pub seq: i64,
    pub at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub user_id: Option<Uuid>,
    /// The e-mail the action was taken as (or tried, for a failed login).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub email: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub api_key_id: Option<Uuid>,
    pub ip: String,
    pub method: String,
    pub path: String,
    /// e.g. `flow.create`, `auth.login`, `auth.login_failed`.
    pub action: String,
    pub status: u16,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user_id: Option<Uuid>,
    pub action: Option<String>,
    /// Entries with a `seq` below this one (paging backwards from the newest).
    pub before: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// `StoreError::AlreadyExists` when the e-mail is taken.
    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    async fn get_user(&self, id: Uuid) -> Result<Option<User>, StoreError>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;
    async fn list_users(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<User>, StoreError>;
    async fn count_users(&self) -> Result<u64, StoreError>;
    /// Ends every session of the user: raises its token epoch by one. The new epoch, or `None`
    /// when there is no such user.
    async fn bump_token_epoch(&self, user_id: Uuid) -> Result<Option<i64>, StoreError>;
    /// Replaces the password hash and bumps the token epoch in one statement. The new epoch, or
    /// `None` when there is no such user.
    async fn set_password_hash(
        &self,
        user_id: Uuid,
        password_hash: &str,
    ) -> Result<Option<i64>, StoreError>;
    /// Disables (`Some(at)`, also bumping the token epoch) or enables (`None`) the user. The
    /// updated user, or `None` when there is no such user.
    async fn set_user_disabled(
        &self,
        user_id: Uuid,
        disabled_at: Option<DateTime<Utc>>,
    ) -> Result<Option<User>, StoreError>;

    /// Creates a business with its first owner in one transaction.
    async fn insert_business_owned_by(
        &self,
        business: &Business,
        owner: Uuid,
    ) -> Result<(), StoreError>;
    async fn memberships_of_user(&self, user_id: Uuid) -> Result<Vec<Membership>, StoreError>;
    async fn members_of_business(&self, business_id: Uuid) -> Result<Vec<Membership>, StoreError>;
    /// Adds a member or changes their role.
    async fn put_membership(&self, membership: &Membership) -> Result<(), StoreError>;
    /// Whether there was such a membership.
    async fn remove_membership(&self, business_id: Uuid, user_id: Uuid)
    -> Result<bool, StoreError>;

    /// Stores an invitation, or refreshes the one the business already has for the address (its
    /// id and `created_at` stay; role, inviter and expiry are the new ones). The stored invitation;
    /// `StoreError::NotFound` when the business does not exist.
    async fn put_invitation(&self, invitation: &Invitation) -> Result<Invitation, StoreError>;
    async fn get_invitation(&self, id: Uuid) -> Result<Option<Invitation>, StoreError>;
    /// A business's invitations, expired ones included, oldest first.
    async fn invitations_of_business(
        &self,
        business_id: Uuid,
    ) -> Result<Vec<Invitation>, StoreError>;
    /// The invitations to `email` that expire after `now`, oldest first.
    async fn invitations_to_email(
        &self,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError>;
    /// Deletes an invitation (declined or revoked); whether it existed.
    async fn remove_invitation(&self, id: Uuid) -> Result<bool, StoreError>;
    /// In one transaction: deletes the invitation `id` if it still expires after `now`, and stores
    /// `membership` (adding the member or setting their role). Whether the invitation was there;
    /// when it was not, nothing changed.
    async fn accept_invitation(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        membership: &Membership,
    ) -> Result<bool, StoreError>;
    /// Deletes the invitations that expired before `before`; returns how many.
    async fn purge_invitations_expired_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<(), StoreError>;
    /// Atomically checks the token with hash `presented` and replaces it by `next` (same family).
    async fn rotate_refresh_token(
        &self,
        presented: &str,
        next: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<Rotation, StoreError>;
    /// Ends the login the token belongs to (its whole family). Whether the token was known.
    async fn revoke_refresh_family(&self, token_hash: &str) -> Result<bool, StoreError>;

    async fn insert_api_key(&self, key: &ApiKey, key_hash: &str) -> Result<(), StoreError>;
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn api_keys_of_user(&self, user_id: Uuid) -> Result<Vec<ApiKey>, StoreError>;
    /// Revokes the user's key; whether it existed and was active.
    async fn revoke_api_key(
        &self,
        user_id: Uuid,
        key_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    async fn touch_api_key(&self, key_id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Appends entries in one transaction.
    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError>;
    /// Newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
    /// Deletes the audit entries recorded before `before`; returns how many.
    async fn purge_audit_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Deletes the refresh tokens that expired before `before` (spent, revoked or not: an
    /// expired token is refused either way); returns how many.
    async fn purge_refresh_tokens_expired_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// The secret access tokens are signed with: the stored one, or `candidate` stored first.
    /// Instances sharing a database thus share the secret.
    async fn signing_secret(&self, candidate: &str) -> Result<String, StoreError>;
}
