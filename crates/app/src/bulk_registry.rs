//! Registering many businesses at once, on the operator's authority: the one write of `symbiont
//! import` and of the demo's loading (no caller, no owner: a batch endpoint would add both). Each
//! business, site and flow was built from a draft checked by the
//! same validators as a single registration (`symbiont_core` drafts); this checks what only the
//! whole batch can break — every site under a business of the batch, every flow at a site of the
//! batch and owned by that site's business, no id twice — and stores it in one transaction with
//! one outbox event per flow, so an import is all or nothing and engines learn of it like any write.

use std::collections::{HashMap, HashSet};

use symbiont_core::{Business, Flow, Site};
use symbiont_store::Store;
use uuid::Uuid;

use crate::error::AppError;

/// New businesses with their sites and flows, all with fresh ids.
#[derive(Debug, Clone, Default)]
pub struct NewEntities {
    pub businesses: Vec<Business>,
    pub sites: Vec<Site>,
    pub flows: Vec<Flow>,
}

/// Stores `batch` in one transaction after checking that it holds together. An empty batch writes
/// nothing.
pub async fn register_batch(store: &dyn Store, batch: &NewEntities) -> Result<(), AppError> {
    check_references(batch)?;
    if batch.businesses.is_empty() {
        return Ok(());
    }
    store
        .insert_batch(&batch.businesses, &batch.sites, &batch.flows)
        .await?;
    Ok(())
}

fn check_references(batch: &NewEntities) -> Result<(), AppError> {
    let mut ids = HashSet::new();
    let mut unique = |kind: &str, index: usize, id: Uuid| {
        if ids.insert(id) {
            Ok(())
        } else {
            Err(AppError::invalid(
                &format!("{kind}[{index}].id"),
                format!("id {id} is used twice in the batch"),
            ))
        }
    };
    let mut businesses = HashSet::new();
    for (i, business) in batch.businesses.iter().enumerate() {
        unique("businesses", i, business.id)?;
        businesses.insert(business.id);
    }
    let mut site_owner = HashMap::new();
    for (i, site) in batch.sites.iter().enumerate() {
        unique("sites", i, site.id)?;
        if !businesses.contains(&site.business_id) {
            return Err(AppError::invalid(
                &format!("sites[{i}].business_id"),
                format!("business {} is not in the batch", site.business_id),
            ));
        }
        site_owner.insert(site.id, site.business_id);
    }
    for (i, flow) in batch.flows.iter().enumerate() {
        unique("flows", i, flow.id)?;
        match site_owner.get(&flow.site_id) {
            None => {
                return Err(AppError::invalid(
                    &format!("flows[{i}].site_id"),
                    format!("site {} is not in the batch", flow.site_id),
                ));
            }
            Some(owner) if *owner != flow.business_id => {
                return Err(AppError::invalid(
                    &format!("flows[{i}].business_id"),
                    format!(
                        "the flow's business {} does not own its site {}",
                        flow.business_id, flow.site_id
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;
    use symbiont_core::model::FlowIdentity;
    use symbiont_core::{BusinessDraft, FlowDraft, SiteDraft, Taxonomy};

    use super::*;

    fn batch() -> NewEntities {
        let now = Utc::now();
        let business: BusinessDraft = serde_json::from_value(
            json!({ "name": "Brewery", "industry": "C11.05", "contact": {} }),
        )
        .expect("a business draft");
        let business =
            business
                .validate()
                .expect("valid")
                .into_business(Uuid::now_v7(), 1, now, now);
        let site: SiteDraft = serde_json::from_value(
            json!({ "name": "Works", "location": { "lat": 51.45, "lon": 7.0 } }),
        )
        .expect("a site draft");
        let site =
            site.validate()
                .expect("valid")
                .into_site(Uuid::now_v7(), business.id, 1, now, now);
        let flow: FlowDraft = serde_json::from_value(json!({
            "site_id": site.id, "direction": "offer", "category": "heat.low_temp",
            "quality": { "temperature_c": 80.0 }, "quantity": { "value": 100.0, "unit": "kW" },
        }))
        .expect("a flow draft");
        let identity = FlowIdentity {
            id: Uuid::now_v7(),
            business_id: business.id,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let taxonomy = Taxonomy::builtin().expect("the built-in taxonomy");
        let flow = flow.validate(&taxonomy, identity).expect("valid");
        NewEntities {
            businesses: vec![business],
            sites: vec![site],
            flows: vec![flow],
        }
    }

    fn field_of(error: AppError) -> String {
        match error {
            AppError::Validation(errors) => errors.0[0].field.clone(),
            other => panic!("not a validation error: {other}"),
        }
    }

    #[test]
    fn a_batch_that_holds_together_passes() {
        assert!(check_references(&batch()).is_ok());
    }

    #[test]
    fn references_outside_the_batch_are_refused_naming_the_field() {
        let mut orphan_site = batch();
        orphan_site.sites[0].business_id = Uuid::now_v7();
        assert_eq!(
            field_of(check_references(&orphan_site).expect_err("refused")),
            "sites[0].business_id"
        );
        let mut orphan_flow = batch();
        orphan_flow.flows[0].site_id = Uuid::now_v7();
        assert_eq!(
            field_of(check_references(&orphan_flow).expect_err("refused")),
            "flows[0].site_id"
        );
        let mut foreign_owner = batch();
        foreign_owner.flows[0].business_id = Uuid::now_v7();
        assert_eq!(
            field_of(check_references(&foreign_owner).expect_err("refused")),
            "flows[0].business_id"
        );
        let mut twice = batch();
        twice.flows[0].id = twice.sites[0].id;
        assert_eq!(
            field_of(check_references(&twice).expect_err("refused")),
            "flows[0].id"
        );
    }

    #[tokio::test]
    async fn a_batch_is_stored_whole_or_not_at_all() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = symbiont_store::sqlite::SqliteStore::open(dir.path())
            .await
            .expect("a store");
        let mut broken = batch();
        broken.flows[0].site_id = Uuid::now_v7();
        assert!(register_batch(&store, &broken).await.is_err());
        let refused = store.counts().await.expect("counts");
        assert_eq!(
            refused.businesses, 0,
            "nothing of a refused batch is stored"
        );
        register_batch(&store, &batch()).await.expect("stored");
        let counts = store.counts().await.expect("counts");
        assert_eq!((counts.businesses, counts.sites), (1, 1));
        assert_eq!(counts.offers + counts.needs, 1);
        assert_eq!(
            store
                .outbox_claim(10, std::time::Duration::from_secs(60))
                .await
                .expect("outbox")
                .len(),
            1,
            "one event per flow"
        );
    }
}
