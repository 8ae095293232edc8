//! The demo region: [`region`] generates it from the tables in `configs/demo.json`; this module
//! loads it into an empty store, in one transaction (`symbiont serve --demo`).

mod generator;

use chrono::Utc;
use symbiont_core::Taxonomy;
use symbiont_core::model::FlowIdentity;
use symbiont_store::{Counts, Store};
use uuid::Uuid;

pub use generator::{DEMO_BUSINESSES, DEMO_SEED, DEMO_TABLES, DemoBusiness, DemoSite, region};

/// What [`load_if_empty`] just loaded.
pub struct LoadedDemo {
    pub counts: Counts,
    /// The demo businesses in creation order: only these may be given to the demo login, never a
    /// business that was in the store before.
    pub business_ids: Vec<Uuid>,
}

/// Loads the demo when the store has no business yet; returns what was loaded (`None`: the store
/// held data, nothing was loaded).
pub async fn load_if_empty(
    store: &dyn Store,
    taxonomy: &Taxonomy,
) -> anyhow::Result<Option<LoadedDemo>> {
    load_region_if_empty(store, taxonomy, DEMO_SEED, DEMO_BUSINESSES).await
}

/// Loads a generated region of `business_count` businesses (about five flows each; the same seed
/// gives the same region) when the store has no business yet. For benchmarks and trials at scale.
pub async fn load_region_if_empty(
    store: &dyn Store,
    taxonomy: &Taxonomy,
    seed: u64,
    business_count: usize,
) -> anyhow::Result<Option<LoadedDemo>> {
    if store.counts().await?.businesses > 0 {
        return Ok(None);
    }
    let now = Utc::now();
    let (mut businesses, mut sites, mut flows) = (Vec::new(), Vec::new(), Vec::new());
    for demo in region(seed, business_count) {
        let business = demo
            .business
            .validate()?
            .into_business(Uuid::now_v7(), 1, now, now);
        for demo_site in demo.sites {
            let site =
                demo_site
                    .site
                    .validate()?
                    .into_site(Uuid::now_v7(), business.id, 1, now, now);
            for mut draft in demo_site.flows {
                draft.site_id = site.id;
                let identity = FlowIdentity {
                    id: Uuid::now_v7(),
                    business_id: business.id,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                };
                flows.push(draft.validate(taxonomy, identity)?);
            }
            sites.push(site);
        }
        businesses.push(business);
    }
    let business_ids = businesses.iter().map(|b| b.id).collect();
    let batch = symbiont_app::bulk_registry::NewEntities {
        businesses,
        sites,
        flows,
    };
    symbiont_app::bulk_registry::register_batch(store, &batch).await?;
    Ok(Some(LoadedDemo {
        counts: store.counts().await?,
        business_ids,
    }))
}
