//! A [`Store`] decorator that runs every call of the wrapped adapter (and of its accounts port)
//! inside a tracing span (`store.<operation>`, with the OpenTelemetry database attributes), so
//! store calls show up in traces and in the flight recorder under the request that made them. It
//! adds no behaviour: results and errors pass through unchanged. The server installs it only when
//! something consumes spans.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use symbiont_core::events::OutboxEntry;
use symbiont_core::{Business, Flow, MatchDecision, Site};
use tracing::Instrument;
use uuid::Uuid;

use crate::accounts::{
    AccountStore, ApiKey, AuditEntry, AuditFilter, Invitation, Membership, RefreshToken, Rotation,
    User,
};
use crate::{
    BusinessFilter, Counts, FlowFilter, LocatedFlow, Page, PageRequest, PoolStatus, Removed,
    SiteFilter, SitePlace, Store, StoreError, accounts,
};

/// Wraps an adapter; `system` names the database (`sqlite`, `postgresql`) in the spans.
pub struct TracedStore {
    inner: Arc<dyn Store>,
    system: &'static str,
}

impl TracedStore {
    pub fn new(inner: Arc<dyn Store>, system: &'static str) -> Self {
        Self { inner, system }
    }
}

/// Runs `$call` inside the span `store.$op`. The field names follow the OpenTelemetry semantic
/// conventions for database client spans.
macro_rules! traced {
    ($self:ident, $op:literal, $call:expr) => {
        $call
            .instrument(tracing::info_span!(
                concat!("store.", $op),
                otel.kind = "client",
                db.system.name = $self.system,
                db.operation.name = $op,
            ))
            .await
    };
}

#[async_trait]
impl Store for TracedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        traced!(self, "ping", self.inner.ping())
    }

    async fn close(&self) {
        traced!(self, "close", self.inner.close())
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        traced!(self, "counts", self.inner.counts())
    }

    fn pool_status(&self) -> Vec<PoolStatus> {
        self.inner.pool_status()
    }

    fn accounts(&self) -> &dyn accounts::AccountStore {
        self
    }

    async fn insert_business(&self, business: &Business) -> Result<(), StoreError> {
        traced!(
            self,
            "insert_business",
            self.inner.insert_business(business)
        )
    }

    async fn get_business(&self, id: Uuid) -> Result<Option<Business>, StoreError> {
        traced!(self, "get_business", self.inner.get_business(id))
    }

    async fn get_businesses(&self, ids: &[Uuid]) -> Result<Vec<Business>, StoreError> {
        traced!(self, "get_businesses", self.inner.get_businesses(ids))
    }

    async fn list_businesses(
        &self,
        filter: &BusinessFilter,
        page: PageRequest,
    ) -> Result<Page<Business>, StoreError> {
        traced!(
            self,
            "list_businesses",
            self.inner.list_businesses(filter, page)
        )
    }

    async fn update_business(&self, business: &Business) -> Result<(), StoreError> {
        traced!(
            self,
            "update_business",
            self.inner.update_business(business)
        )
    }

    async fn delete_business(&self, id: Uuid) -> Result<Removed, StoreError> {
        traced!(self, "delete_business", self.inner.delete_business(id))
    }

    async fn insert_site(&self, site: &Site) -> Result<(), StoreError> {
        traced!(self, "insert_site", self.inner.insert_site(site))
    }

    async fn get_site(&self, id: Uuid) -> Result<Option<Site>, StoreError> {
        traced!(self, "get_site", self.inner.get_site(id))
    }

    async fn list_sites(
        &self,
        filter: &SiteFilter,
        page: PageRequest,
    ) -> Result<Page<Site>, StoreError> {
        traced!(self, "list_sites", self.inner.list_sites(filter, page))
    }

    async fn site_places(&self) -> Result<Vec<SitePlace>, StoreError> {
        traced!(self, "site_places", self.inner.site_places())
    }

    async fn update_site(&self, site: &Site) -> Result<(), StoreError> {
        traced!(self, "update_site", self.inner.update_site(site))
    }

    async fn delete_site(&self, id: Uuid) -> Result<Removed, StoreError> {
        traced!(self, "delete_site", self.inner.delete_site(id))
    }

    async fn insert_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        traced!(self, "insert_flow", self.inner.insert_flow(flow))
    }

    async fn get_flow(&self, id: Uuid) -> Result<Option<Flow>, StoreError> {
        traced!(self, "get_flow", self.inner.get_flow(id))
    }

    async fn list_flows(
        &self,
        filter: &FlowFilter,
        page: PageRequest,
    ) -> Result<Page<Flow>, StoreError> {
        traced!(self, "list_flows", self.inner.list_flows(filter, page))
    }

    async fn update_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        traced!(self, "update_flow", self.inner.update_flow(flow))
    }

    async fn delete_flow(&self, id: Uuid) -> Result<Removed, StoreError> {
        traced!(self, "delete_flow", self.inner.delete_flow(id))
    }

    async fn located_flows_in_batches(
        &self,
        batch: usize,
        each: &mut (dyn FnMut(Vec<LocatedFlow>) + Send),
    ) -> Result<(), StoreError> {
        traced!(
            self,
            "located_flows_in_batches",
            self.inner.located_flows_in_batches(batch, each)
        )
    }

    async fn all_decisions(&self) -> Result<Vec<MatchDecision>, StoreError> {
        traced!(self, "all_decisions", self.inner.all_decisions())
    }

    async fn save_decisions(
        &self,
        decisions: &[MatchDecision],
    ) -> Result<Vec<StoreError>, StoreError> {
        traced!(self, "save_decisions", self.inner.save_decisions(decisions))
    }

    async fn outbox_claim(
        &self,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        // The relay polls the outbox every second; a span for each poll would be a trace of its
        // own each time. Traced only as part of a larger operation.
        if tracing::Span::current().is_none() {
            return self.inner.outbox_claim(limit, lease).await;
        }
        traced!(self, "outbox_claim", self.inner.outbox_claim(limit, lease))
    }

    async fn outbox_release(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        traced!(self, "outbox_release", self.inner.outbox_release(ids))
    }

    async fn outbox_remove(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        traced!(self, "outbox_remove", self.inner.outbox_remove(ids))
    }

    async fn insert_batch(
        &self,
        businesses: &[Business],
        sites: &[Site],
        flows: &[Flow],
    ) -> Result<(), StoreError> {
        traced!(
            self,
            "insert_batch",
            self.inner.insert_batch(businesses, sites, flows)
        )
    }
}

#[async_trait]
impl AccountStore for TracedStore {
    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        traced!(self, "insert_user", self.inner.accounts().insert_user(user))
    }

    async fn get_user(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        traced!(self, "get_user", self.inner.accounts().get_user(id))
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        traced!(
            self,
            "user_by_email",
            self.inner.accounts().user_by_email(email)
        )
    }

    async fn list_users(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<User>, StoreError> {
        traced!(
            self,
            "list_users",
            self.inner.accounts().list_users(after, limit)
        )
    }

    async fn count_users(&self) -> Result<u64, StoreError> {
        traced!(self, "count_users", self.inner.accounts().count_users())
    }

    async fn bump_token_epoch(&self, user_id: Uuid) -> Result<Option<i64>, StoreError> {
        traced!(
            self,
            "bump_token_epoch",
            self.inner.accounts().bump_token_epoch(user_id)
        )
    }

    async fn set_password_hash(
        &self,
        user_id: Uuid,
        password_hash: &str,
    ) -> Result<Option<i64>, StoreError> {
        traced!(
            self,
            "set_password_hash",
            self.inner
                .accounts()
                .set_password_hash(user_id, password_hash)
        )
    }

    async fn set_user_disabled(
        &self,
        user_id: Uuid,
        disabled_at: Option<DateTime<Utc>>,
    ) -> Result<Option<User>, StoreError> {
        traced!(
            self,
            "set_user_disabled",
            self.inner
                .accounts()
                .set_user_disabled(user_id, disabled_at)
        )
    }

    async fn insert_business_owned_by(
        &self,
        business: &Business,
        owner: Uuid,
    ) -> Result<(), StoreError> {
        traced!(
            self,
            "insert_business_owned_by",
            self.inner
                .accounts()
                .insert_business_owned_by(business, owner)
        )
    }

    async fn memberships_of_user(&self, user_id: Uuid) -> Result<Vec<Membership>, StoreError> {
        traced!(
            self,
            "memberships_of_user",
            self.inner.accounts().memberships_of_user(user_id)
        )
    }

    async fn members_of_business(&self, business_id: Uuid) -> Result<Vec<Membership>, StoreError> {
        traced!(
            self,
            "members_of_business",
            self.inner.accounts().members_of_business(business_id)
        )
    }

    async fn put_membership(&self, membership: &Membership) -> Result<(), StoreError> {
        traced!(
            self,
            "put_membership",
            self.inner.accounts().put_membership(membership)
        )
    }

    async fn remove_membership(
        &self,
        business_id: Uuid,
        user_id: Uuid,
    ) -> Result<bool, StoreError> {
        traced!(
            self,
            "remove_membership",
            self.inner
                .accounts()
                .remove_membership(business_id, user_id)
        )
    }

    async fn put_invitation(&self, invitation: &Invitation) -> Result<Invitation, StoreError> {
        traced!(
            self,
            "put_invitation",
            self.inner.accounts().put_invitation(invitation)
        )
    }

    async fn get_invitation(&self, id: Uuid) -> Result<Option<Invitation>, StoreError> {
        traced!(
            self,
            "get_invitation",
            self.inner.accounts().get_invitation(id)
        )
    }

    async fn invitations_of_business(
        &self,
        business_id: Uuid,
    ) -> Result<Vec<Invitation>, StoreError> {
        traced!(
            self,
            "invitations_of_business",
            self.inner.accounts().invitations_of_business(business_id)
        )
    }

    async fn invitations_to_email(
        &self,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        traced!(
            self,
            "invitations_to_email",
            self.inner.accounts().invitations_to_email(email, now)
        )
    }

    async fn remove_invitation(&self, id: Uuid) -> Result<bool, StoreError> {
        traced!(
            self,
            "remove_invitation",
            self.inner.accounts().remove_invitation(id)
        )
    }

    async fn accept_invitation(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        membership: &Membership,
    ) -> Result<bool, StoreError> {
        traced!(
            self,
            "accept_invitation",
            self.inner.accounts().accept_invitation(id, now, membership)
        )
    }

    async fn purge_invitations_expired_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        traced!(
            self,
            "purge_invitations_expired_before",
            self.inner
                .accounts()
                .purge_invitations_expired_before(before)
        )
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<(), StoreError> {
        traced!(
            self,
            "insert_refresh_token",
            self.inner.accounts().insert_refresh_token(token)
        )
    }

    async fn rotate_refresh_token(
        &self,
        presented: &str,
        next: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<Rotation, StoreError> {
        traced!(
            self,
            "rotate_refresh_token",
            self.inner
                .accounts()
                .rotate_refresh_token(presented, next, now)
        )
    }

    async fn revoke_refresh_family(&self, token_hash: &str) -> Result<bool, StoreError> {
        traced!(
            self,
            "revoke_refresh_family",
            self.inner.accounts().revoke_refresh_family(token_hash)
        )
    }

    async fn insert_api_key(&self, key: &ApiKey, key_hash: &str) -> Result<(), StoreError> {
        traced!(
            self,
            "insert_api_key",
            self.inner.accounts().insert_api_key(key, key_hash)
        )
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        traced!(
            self,
            "api_key_by_hash",
            self.inner.accounts().api_key_by_hash(key_hash)
        )
    }

    async fn api_keys_of_user(&self, user_id: Uuid) -> Result<Vec<ApiKey>, StoreError> {
        traced!(
            self,
            "api_keys_of_user",
            self.inner.accounts().api_keys_of_user(user_id)
        )
    }

    async fn revoke_api_key(
        &self,
        user_id: Uuid,
        key_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        traced!(
            self,
            "revoke_api_key",
            self.inner.accounts().revoke_api_key(user_id, key_id, at)
        )
    }

    async fn touch_api_key(&self, key_id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        traced!(
            self,
            "touch_api_key",
            self.inner.accounts().touch_api_key(key_id, at)
        )
    }

    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        traced!(
            self,
            "append_audit",
            self.inner.accounts().append_audit(entries)
        )
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        traced!(self, "list_audit", self.inner.accounts().list_audit(filter))
    }

    async fn purge_audit_before(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        traced!(
            self,
            "purge_audit_before",
            self.inner.accounts().purge_audit_before(before)
        )
    }

    async fn purge_refresh_tokens_expired_before(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        traced!(
            self,
            "purge_refresh_tokens_expired_before",
            self.inner
                .accounts()
                .purge_refresh_tokens_expired_before(before)
        )
    }

    async fn signing_secret(&self, candidate: &str) -> Result<String, StoreError> {
        traced!(
            self,
            "signing_secret",
            self.inner.accounts().signing_secret(candidate)
        )
    }
}
