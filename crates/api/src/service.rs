//! Use cases behind the handlers: validate, write through the store in one transaction, then bring
//! the derived state (the matching engine) up to date before the caller gets its answer.
//!
//! Writes are serialised by `AppState::write_lock` so the engine applies changes in the order the
//! store committed them.

use chrono::Utc;
use serde::de::DeserializeOwned;
use serde_json::Value;
use symbiont_core::model::FlowIdentity;
use symbiont_core::{
    Business, BusinessDraft, Flow, FlowDraft, GeoPoint, MatchStatus, Site, SiteDraft,
};
use symbiont_matching::MatchDiff;
use symbiont_store::{Entity, Removed, StoreError};
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::check_if_match;
use crate::state::AppState;

/// Applies an RFC 7386 JSON merge patch: objects merge recursively, `null` removes a member.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// Reads a merged draft with the same field-naming errors as a request body.
fn patched<D: serde::Serialize + DeserializeOwned>(
    current: &D,
    patch: &Value,
) -> Result<D, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::invalid(
            "body",
            "a merge patch must be a JSON object",
        ));
    }
    let mut value = serde_json::to_value(current).map_err(|e| ApiError::Internal(e.to_string()))?;
    merge_patch(&mut value, patch);
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        ApiError::invalid(&crate::extract::field_of(&path, &message), message)
    })
}

fn not_found(entity: Entity, id: Uuid) -> ApiError {
    StoreError::NotFound { entity, id }.into()
}

impl AppState {
    pub async fn business(&self, id: Uuid) -> Result<Business, ApiError> {
        self.store
            .get_business(id)
            .await?
            .ok_or_else(|| not_found(Entity::Business, id))
    }

    pub async fn site(&self, id: Uuid) -> Result<Site, ApiError> {
        self.store
            .get_site(id)
            .await?
            .ok_or_else(|| not_found(Entity::Site, id))
    }

    pub async fn flow(&self, id: Uuid) -> Result<Flow, ApiError> {
        self.store
            .get_flow(id)
            .await?
            .ok_or_else(|| not_found(Entity::Flow, id))
    }

    pub async fn create_business(&self, draft: BusinessDraft) -> Result<Business, ApiError> {
        let now = Utc::now();
        let business = draft.validate()?.into_business(Uuid::now_v7(), 1, now, now);
        self.store.insert_business(&business).await?;
        Ok(business)
    }

    pub async fn update_business(
        &self,
        id: Uuid,
        patch: &Value,
        if_match: Option<i64>,
    ) -> Result<Business, ApiError> {
        let current = self.business(id).await?;
        check_if_match(if_match, current.version)?;
        let draft = patched(&BusinessDraft::from(&current), patch)?.validate()?;
        let business = draft.into_business(id, current.version + 1, current.created_at, Utc::now());
        self.store.update_business(&business).await?;
        Ok(business)
    }

    pub async fn delete_business(&self, id: Uuid) -> Result<(), ApiError> {
        let _writing = self.write_lock.lock().await;
        let removed = self.store.delete_business(id).await?;
        self.engine_remove(&removed).await;
        Ok(())
    }

    pub async fn create_site(&self, business_id: Uuid, draft: SiteDraft) -> Result<Site, ApiError> {
        let now = Utc::now();
        let site = draft
            .validate()?
            .into_site(Uuid::now_v7(), business_id, 1, now, now);
        self.store.insert_site(&site).await?;
        Ok(site)
    }

    pub async fn update_site(
        &self,
        id: Uuid,
        patch: &Value,
        if_match: Option<i64>,
    ) -> Result<Site, ApiError> {
        let _writing = self.write_lock.lock().await;
        let current = self.site(id).await?;
        check_if_match(if_match, current.version)?;
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
            self.engine_move_site(site.id, site.location).await;
        }
        Ok(site)
    }

    pub async fn delete_site(&self, id: Uuid) -> Result<(), ApiError> {
        let _writing = self.write_lock.lock().await;
        let removed = self.store.delete_site(id).await?;
        self.engine_remove(&removed).await;
        Ok(())
    }

    /// The site a flow draft points at; a missing site is the draft's fault (422 on `site_id`).
    async fn site_of(&self, draft: &FlowDraft) -> Result<Site, ApiError> {
        self.store.get_site(draft.site_id).await?.ok_or_else(|| {
            ApiError::invalid("site_id", format!("no site with id {}", draft.site_id))
        })
    }

    pub async fn create_flow(&self, draft: FlowDraft) -> Result<Flow, ApiError> {
        let site = self.site_of(&draft).await?;
        let now = Utc::now();
        let identity = FlowIdentity {
            id: Uuid::now_v7(),
            business_id: site.business_id,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let flow = draft.validate(&self.taxonomy, identity)?;
        let _writing = self.write_lock.lock().await;
        self.store.insert_flow(&flow).await.map_err(|e| match e {
            StoreError::NotFound {
                entity: Entity::Site,
                id,
            } => ApiError::invalid("site_id", format!("no site with id {id}")),
            other => other.into(),
        })?;
        self.engine_upsert(&flow, site.location).await;
        Ok(flow)
    }

    pub async fn update_flow(
        &self,
        id: Uuid,
        patch: &Value,
        if_match: Option<i64>,
    ) -> Result<Flow, ApiError> {
        let current = self.flow(id).await?;
        check_if_match(if_match, current.version)?;
        let draft = patched(&FlowDraft::from(&current), patch)?;
        let site = self.site_of(&draft).await?;
        let identity = FlowIdentity {
            id,
            business_id: site.business_id,
            version: current.version + 1,
            created_at: current.created_at,
            updated_at: Utc::now(),
        };
        let flow = draft.validate(&self.taxonomy, identity)?;
        let _writing = self.write_lock.lock().await;
        self.store.update_flow(&flow).await?;
        self.engine_upsert(&flow, site.location).await;
        Ok(flow)
    }

    pub async fn delete_flow(&self, id: Uuid) -> Result<(), ApiError> {
        let _writing = self.write_lock.lock().await;
        let removed = self.store.delete_flow(id).await?;
        self.engine_remove(&removed).await;
        Ok(())
    }

    /// Removes the flows a delete cascaded to from the engine and records the expiries.
    async fn engine_remove(&self, removed: &Removed) {
        if removed.flow_ids.is_empty() {
            return;
        }
        let diff = self
            .matching
            .apply(|engine| engine.remove_flows(&removed.flow_ids));
        self.record(&diff).await;
    }

    async fn engine_upsert(&self, flow: &Flow, location: GeoPoint) {
        let diff = self.matching.upsert(flow.clone(), location);
        self.record(&diff).await;
    }

    async fn engine_move_site(&self, site_id: Uuid, location: GeoPoint) {
        let diff = self
            .matching
            .apply(|engine| engine.move_site(site_id, location));
        self.record(&diff).await;
    }

    /// Stores the expiries and revivals a diff implies. The entity write has already committed, so
    /// a failure here is logged, not returned: the start-up reconciliation repairs the decisions.
    async fn record(&self, diff: &MatchDiff) {
        let decisions = self.matching.decisions_for(diff);
        if decisions.is_empty() {
            return;
        }
        if let Err(error) = self.store.save_decisions(&decisions).await {
            tracing::error!(%error, count = decisions.len(), "match expiries not stored; reconciled at next start");
        }
    }

    /// Moves a match along its lifecycle on behalf of a person.
    pub async fn decide_match(
        &self,
        id: Uuid,
        status: MatchStatus,
        note: Option<String>,
        if_match: Option<i64>,
    ) -> Result<Value, ApiError> {
        let _writing = self.write_lock.lock().await;
        let decision = self.matching.decide(id, status, note, if_match)?;
        self.store
            .save_decisions(std::slice::from_ref(&decision))
            .await?;
        self.matching.remember(decision);
        self.matching
            .one(id)
            .ok_or_else(|| ApiError::NotFound(format!("match {id} not found")))
    }
}
