//! The registry's use cases (businesses, sites, flows) and decisions on matches: validate, write through the store in one transaction, then wait
//! until the derived state (the matching engine) has caught up before the caller gets its answer.
//!
//! A write commits the entity and its domain event (outbox) in one transaction; the engine learns of
//! it from the bus like every other instance's engine, and the write waits a bounded time for that,
//! so its answer reflects the new matches. Decisions are read-modify-write and take the write lock.

use chrono::Utc;
use serde_json::Value;
use symbiont_core::decision::StatusChange;
use symbiont_core::model::FlowIdentity;
use symbiont_core::{
    Business, BusinessDraft, Flow, FlowDraft, GeoPoint, MatchStatus, Site, SiteDraft,
};
use symbiont_store::{
    BusinessFilter, Entity, FlowFilter, Page, PageRequest, Removed, SiteFilter, StoreError,
};
use uuid::Uuid;

use crate::App;
use crate::error::{AppError, check_version};
use crate::identity::Caller;
use crate::merge_patch::patched;
use crate::visibility::Viewer;

fn not_found(entity: Entity, id: Uuid) -> AppError {
    StoreError::NotFound { entity, id }.into()
}

impl App {
    pub async fn business(&self, id: Uuid) -> Result<Business, AppError> {
        self.store
            .get_business(id)
            .await?
            .ok_or_else(|| not_found(Entity::Business, id))
    }

    /// The businesses of `ids` that exist, in id order, read in one store call (businesses are
    /// public; a hidden side of a match carries no business id to ask for).
    pub async fn businesses_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Business>, AppError> {
        Ok(self.store.get_businesses(ids).await?)
    }

    pub async fn site(&self, id: Uuid) -> Result<Site, AppError> {
        self.store
            .get_site(id)
            .await?
            .ok_or_else(|| not_found(Entity::Site, id))
    }

    /// A flow as `viewer` may see it: another business's anonymous flow is not found, with the same
    /// answer as a flow that does not exist.
    pub async fn visible_flow(&self, id: Uuid, viewer: &Viewer) -> Result<Flow, AppError> {
        match self.store.get_flow(id).await? {
            Some(flow) if !flow.anonymous || viewer.sees(flow.business_id) => Ok(flow),
            _ => Err(not_found(Entity::Flow, id)),
        }
    }

    pub async fn flow(&self, id: Uuid) -> Result<Flow, AppError> {
        self.store
            .get_flow(id)
            .await?
            .ok_or_else(|| not_found(Entity::Flow, id))
    }

    /// A page of businesses in creation order.
    pub async fn businesses(
        &self,
        filter: &BusinessFilter,
        page: PageRequest,
    ) -> Result<Page<Business>, AppError> {
        Ok(self.store.list_businesses(filter, page).await?)
    }

    /// A page of sites in creation order.
    pub async fn sites(
        &self,
        filter: &SiteFilter,
        page: PageRequest,
    ) -> Result<Page<Site>, AppError> {
        Ok(self.store.list_sites(filter, page).await?)
    }

    /// A page of flows in creation order, as `caller` may see them: other businesses' anonymous
    /// flows are left out.
    pub async fn flows(
        &self,
        caller: &Caller,
        filter: FlowFilter,
        page: PageRequest,
    ) -> Result<Page<Flow>, AppError> {
        let filter = FlowFilter {
            hide_anonymous_except: caller.visible_businesses(),
            ..filter
        };
        Ok(self.store.list_flows(&filter, page).await?)
    }

    /// Creates a business owned by the caller.
    pub async fn create_business(
        &self,
        caller: &Caller,
        draft: BusinessDraft,
    ) -> Result<Business, AppError> {
        let owner = caller.writer()?.user_id;
        let now = Utc::now();
        let business = draft.validate()?.into_business(Uuid::now_v7(), 1, now, now);
        self.store
            .accounts()
            .insert_business_owned_by(&business, owner)
            .await?;
        self.account_cache.clear();
        Ok(business)
    }

    pub async fn update_business(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: &Value,
        if_match: Option<i64>,
    ) -> Result<Business, AppError> {
        let current = self.business(id).await?;
        caller.require_member(id)?;
        check_version(if_match, current.version)?;
        let draft = patched(&BusinessDraft::from(&current), patch)?.validate()?;
        let business = draft.into_business(id, current.version + 1, current.created_at, Utc::now());
        self.store.update_business(&business).await?;
        Ok(business)
    }

    pub async fn delete_business(&self, caller: &Caller, id: Uuid) -> Result<(), AppError> {
        self.business(id).await?;
        caller.require_owner(id)?;
        let removed = self.store.delete_business(id).await?;
        self.account_cache.clear();
        self.await_removed(&removed).await;
        Ok(())
    }

    pub async fn create_site(
        &self,
        caller: &Caller,
        business_id: Uuid,
        draft: SiteDraft,
    ) -> Result<Site, AppError> {
        caller.require_member(business_id)?;
        let now = Utc::now();
        let site = draft
            .validate()?
            .into_site(Uuid::now_v7(), business_id, 1, now, now);
        self.store.insert_site(&site).await?;
        Ok(site)
    }

    pub async fn update_site(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: &Value,
        if_match: Option<i64>,
    ) -> Result<Site, AppError> {
        let current = self.site(id).await?;
        caller.require_member(current.business_id)?;
        check_version(if_match, current.version)?;
        let draft = patched(&SiteDraft::from(&current), patch)?.validate()?;
        let site = draft.into_site(
            id,
            current.business_id,
            current.version + 1,
            current.created_at,
            Utc::now(),
        );
        self.store.update_site(&site).await?;
        if site.location != current.location {
            self.await_site_moved(site.id, site.location).await;
        }
        Ok(site)
    }

    pub async fn delete_site(&self, caller: &Caller, id: Uuid) -> Result<(), AppError> {
        let site = self.site(id).await?;
        caller.require_member(site.business_id)?;
        let removed = self.store.delete_site(id).await?;
        self.await_removed(&removed).await;
        Ok(())
    }

    /// The site a flow draft points at; a missing site is the draft's fault (422 on `site_id`).
    async fn site_of(&self, draft: &FlowDraft) -> Result<Site, AppError> {
        self.store.get_site(draft.site_id).await?.ok_or_else(|| {
            AppError::invalid("site_id", format!("no site with id {}", draft.site_id))
        })
    }

    pub async fn create_flow(&self, caller: &Caller, draft: FlowDraft) -> Result<Flow, AppError> {
        caller.writer()?;
        let site = self.site_of(&draft).await?;
        caller.require_member(site.business_id)?;
        let now = Utc::now();
        let identity = FlowIdentity {
            id: Uuid::now_v7(),
            business_id: site.business_id,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let flow = draft.validate(&self.taxonomy, identity)?;
        self.store.insert_flow(&flow).await.map_err(|e| match e {
            StoreError::NotFound {
                entity: Entity::Site,
                id,
            } => AppError::invalid("site_id", format!("no site with id {id}")),
            other => other.into(),
        })?;
        self.await_flow(&flow).await;
        Ok(flow)
    }

    pub async fn update_flow(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: &Value,
        if_match: Option<i64>,
    ) -> Result<Flow, AppError> {
        let current = self.visible_flow(id, &Viewer::of(caller)).await?;
        caller.require_member(current.business_id)?;
        check_version(if_match, current.version)?;
        let draft = patched(&FlowDraft::from(&current), patch)?;
        self.write_flow_update(caller, &current, draft).await
    }

    /// Replaces a flow's draft as a whole (gRPC's `UpsertFlow` with an id): the checks of
    /// [`App::update_flow`], with the draft given rather than patched from the current one.
    pub async fn replace_flow(
        &self,
        caller: &Caller,
        id: Uuid,
        draft: FlowDraft,
        if_match: Option<i64>,
    ) -> Result<Flow, AppError> {
        let current = self.visible_flow(id, &Viewer::of(caller)).await?;
        caller.require_member(current.business_id)?;
        check_version(if_match, current.version)?;
        self.write_flow_update(caller, &current, draft).await
    }

    /// Validates `draft` as the next version of `current` and writes it (the caller may already
    /// change `current`).
    async fn write_flow_update(
        &self,
        caller: &Caller,
        current: &Flow,
        draft: FlowDraft,
    ) -> Result<Flow, AppError> {
        let id = current.id;
        let site = self.site_of(&draft).await?;
        // Moving a flow to another business's site needs membership there too.
        caller.require_member(site.business_id)?;
        let identity = FlowIdentity {
            id,
            business_id: site.business_id,
            version: current.version + 1,
            created_at: current.created_at,
            updated_at: Utc::now(),
        };
        let flow = draft.validate(&self.taxonomy, identity)?;
        self.store.update_flow(&flow).await?;
        self.await_flow(&flow).await;
        Ok(flow)
    }

    pub async fn delete_flow(&self, caller: &Caller, id: Uuid) -> Result<(), AppError> {
        let flow = self.visible_flow(id, &Viewer::of(caller)).await?;
        caller.require_member(flow.business_id)?;
        let removed = self.store.delete_flow(id).await?;
        self.await_removed(&removed).await;
        Ok(())
    }

    /// After a commit: wakes the relay and waits (bounded) until this instance's engine has applied
    /// the change, so the answer and the next read show the new matches. If the bus is slow or down
    /// the write stands; its event waits in the outbox and the matches follow later.
    async fn settle(&self, done: impl Fn(&crate::live_matches::Applied) -> bool) {
        self.relay_wake.notify_one();
        if !self
            .live_matches
            .wait_until(self.read_your_writes, done)
            .await
        {
            tracing::debug!(
                "change not yet applied by the engine; matches follow when the bus delivers it"
            );
        }
    }

    async fn await_removed(&self, removed: &Removed) {
        self.settle(|applied| removed.flow_ids.iter().all(|id| applied.has_removed(*id)))
            .await;
    }

    async fn await_flow(&self, flow: &Flow) {
        self.settle(|applied| applied.has_flow_version(flow.id, flow.version))
            .await;
    }

    async fn await_site_moved(&self, site_id: Uuid, location: GeoPoint) {
        self.settle(|applied| applied.site_is_at(site_id, location))
            .await;
    }

    /// Moves a match along its lifecycle on behalf of a person.
    pub async fn decide_match(
        &self,
        id: Uuid,
        status: MatchStatus,
        note: Option<String>,
        if_match: Option<i64>,
        caller: &Caller,
    ) -> Result<Value, AppError> {
        if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
            return Err(AppError::invalid("note", "must be at most 2000 characters"));
        }
        if status == MatchStatus::Expired || status == MatchStatus::Suggested {
            return Err(AppError::invalid(
                "status",
                "a person can set contacted, negotiating, agreed or rejected",
            ));
        }
        let _writing = self.write_lock.lock().await;
        let change = StatusChange {
            status,
            note,
            required_version: if_match,
        };
        let decision = self.live_matches.decide(id, change, caller)?;
        let conflicts = self
            .store
            .save_decisions(std::slice::from_ref(&decision))
            .await?;
        if let Some(conflict) = conflicts.into_iter().next() {
            return Err(conflict.into());
        }
        self.live_matches.remember(decision);
        self.live_matches
            .one(id, &Viewer::of(caller))
            .ok_or_else(|| AppError::NotFound(format!("match {id} not found")))
    }
}
