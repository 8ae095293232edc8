//! The matcher benchmark on real exchanges (`symbiont eval`, `scripts/eval`): each park of
//! `benchmarks/parks/` (documented exchanges of a real eco-industrial park, its partners' flows
//! encoded with the public taxonomy only) is loaded with the demo region, moved to the park, as
//! distractors into a fresh instance (a throw-away SQLite store and a started app), and for every
//! documented exchange the receiving need's proposals are ranked by score: where does the real
//! supplier come?
//!
//! Rank counts businesses, not flows: a supplier with two offers that fit the need counts once, at
//! its better one, and so does every other business. An exchange whose supplier is not proposed at
//! all has no rank (reciprocal rank 0).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use serde::Deserialize;
use symbiont_app::bulk_registry::{NewEntities, register_batch};
use symbiont_app::live_matches::{MatchFilter, MatchSort};
use symbiont_app::response_cache::ResponseCache;
use symbiont_app::visibility::Viewer;
use symbiont_app::{App, AppParts, SecuritySettings};
use symbiont_core::model::FlowIdentity;
use symbiont_core::{
    BusinessDraft, Contact, Direction, FlowDraft, FlowStatus, GeoPoint, Quality, Quantity,
    SiteDraft, Taxonomy,
};
use symbiont_store::sqlite::SqliteStore;
use uuid::Uuid;

use super::demo::{DEMO_BUSINESSES, DEMO_SEED, DEMO_TABLES, region};

/// One park's file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Park {
    pub park: String,
    pub country: String,
    /// Where the demo region's centre is moved to.
    pub centre: GeoPoint,
    pub sources: Vec<String>,
    #[serde(rename = "business")]
    pub businesses: Vec<ParkBusiness>,
    #[serde(rename = "exchange")]
    pub exchanges: Vec<Exchange>,
    #[serde(default, rename = "unencodable")]
    pub unencodable: Vec<Unencodable>,
}

/// A partner: its main site's place and flows, and any further sites.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParkBusiness {
    pub key: String,
    pub name: String,
    /// NACE Rev.2 code.
    pub industry: String,
    pub location: GeoPoint,
    #[serde(default)]
    pub flows: Vec<ParkFlow>,
    #[serde(default, rename = "site")]
    pub sites: Vec<ParkSite>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParkSite {
    pub key: String,
    pub location: GeoPoint,
    pub flows: Vec<ParkFlow>,
}

/// A flow as a user would register it (category, quantity, quality), under a key exchanges name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParkFlow {
    pub key: String,
    pub direction: Direction,
    pub category: String,
    pub quantity: Quantity,
    #[serde(default)]
    pub quality: Quality,
    /// The distance the partner is ready to bridge, when the park's record shows a longer link
    /// than the category's typical limit (a pipeline the partners laid).
    #[serde(default)]
    pub max_distance_km: Option<f64>,
    pub description: String,
}

/// A documented exchange: `business.flow` of the supplier's offer and of the receiver's need.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    pub resource: String,
    pub supplier: String,
    pub receiver: String,
    pub source: String,
}

/// A documented exchange the public taxonomy cannot express, and why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unencodable {
    pub resource: String,
    pub source: String,
    pub reason: String,
}

impl Park {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not a park file", path.display()))
    }
}

/// Where one exchange's supplier came among the receiving need's proposals.
#[derive(Debug, Clone)]
pub struct ExchangeResult {
    pub resource: String,
    pub supplier: String,
    pub receiver: String,
    /// 1-based among the businesses proposed to the need; `None`: not proposed.
    pub rank: Option<usize>,
    /// How many businesses were proposed to the need.
    pub proposed: usize,
    /// The supplier's best score for the need.
    pub score: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct ParkResult {
    pub park: String,
    pub country: String,
    pub exchanges: Vec<ExchangeResult>,
    pub unencodable: Vec<(String, String)>,
    pub distractor_flows: usize,
}

/// recall@1, recall@5 and mean reciprocal rank over some exchanges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub count: usize,
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    pub mrr: f64,
}

impl Scores {
    pub fn of<'a>(results: impl IntoIterator<Item = &'a ExchangeResult>) -> Scores {
        let ranks: Vec<Option<usize>> = results.into_iter().map(|r| r.rank).collect();
        let count = ranks.len();
        let share = |hit: &dyn Fn(usize) -> f64| {
            if count == 0 {
                0.0
            } else {
                ranks.iter().map(|r| r.map_or(0.0, hit)).sum::<f64>() / count as f64
            }
        };
        Scores {
            count,
            recall_at_1: share(&|r| f64::from(u8::from(r == 1))),
            recall_at_5: share(&|r| f64::from(u8::from(r <= 5))),
            mrr: share(&|r| 1.0 / r as f64),
        }
    }
}

/// The demo region's centre in `configs/demo.json`.
fn demo_centre() -> anyhow::Result<GeoPoint> {
    #[derive(Deserialize)]
    struct Centre {
        centre: GeoPoint,
    }
    let tables: Centre =
        serde_json::from_str(DEMO_TABLES).context("configs/demo.json has a centre")?;
    Ok(tables.centre)
}

/// Moves a point of the demo region so that the region's centre lands on `to`, keeping distances
/// in km (longitude offsets are rescaled for the new latitude).
fn moved(point: GeoPoint, from: GeoPoint, to: GeoPoint) -> GeoPoint {
    let scale = from.lat.to_radians().cos() / to.lat.to_radians().cos();
    let lon = to.lon + (point.lon - from.lon) * scale;
    GeoPoint {
        lat: (to.lat + point.lat - from.lat).clamp(-89.9, 89.9),
        lon: (lon + 540.0).rem_euclid(360.0) - 180.0,
    }
}

/// A flow to register, with the key exchanges name it by (none for a distractor).
type KeyedDraft = (Option<String>, FlowDraft);

/// A site to register with its flows.
type SiteWithFlows = (SiteDraft, Vec<KeyedDraft>);

/// What one instance is loaded with.
struct Loaded {
    batch: NewEntities,
    /// The park's (business id, flow id) by `business.flow` key.
    flows: HashMap<String, (Uuid, Uuid)>,
    distractor_flows: usize,
}

/// Builds what one instance is loaded with: the demo region moved to the park, and the park.
fn batch(park: &Park, taxonomy: &Taxonomy) -> anyhow::Result<Loaded> {
    let now = Utc::now();
    let mut batch = NewEntities::default();
    let add = |batch: &mut NewEntities,
               business: BusinessDraft,
               sites: Vec<SiteWithFlows>|
     -> anyhow::Result<Vec<(String, Uuid)>> {
        let name = business.name.clone();
        let business = business
            .validate()
            .map_err(|e| anyhow::anyhow!("business {name}: {e}"))?
            .into_business(Uuid::now_v7(), 1, now, now);
        let mut keyed = Vec::new();
        for (site, flows) in sites {
            let site = site
                .validate()
                .map_err(|e| anyhow::anyhow!("a site of {}: {e}", business.name))?
                .into_site(Uuid::now_v7(), business.id, 1, now, now);
            for (key, mut draft) in flows {
                draft.site_id = site.id;
                let identity = FlowIdentity {
                    id: Uuid::now_v7(),
                    business_id: business.id,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                };
                let flow = draft.validate(taxonomy, identity).map_err(|e| {
                    anyhow::anyhow!(
                        "{} {}: cannot be encoded: {e}",
                        business.name,
                        key.as_deref().unwrap_or("(demo flow)")
                    )
                })?;
                if let Some(key) = key {
                    keyed.push((key, flow.id));
                }
                batch.flows.push(flow);
            }
            batch.sites.push(site);
        }
        batch.businesses.push(business);
        Ok(keyed)
    };
    let (from, to) = (demo_centre()?, park.centre);
    for demo in region(DEMO_SEED, DEMO_BUSINESSES) {
        let sites = demo
            .sites
            .into_iter()
            .map(|mut s| {
                s.site.location = moved(s.site.location, from, to);
                (s.site, s.flows.into_iter().map(|f| (None, f)).collect())
            })
            .collect();
        add(&mut batch, demo.business, sites)?;
    }
    let distractor_flows = batch.flows.len();
    let mut flows = HashMap::new();
    for partner in &park.businesses {
        let draft = BusinessDraft {
            name: partner.name.clone(),
            industry: partner.industry.clone(),
            description: String::new(),
            contact: Contact::default(),
            website: None,
        };
        let main = SiteDraft {
            name: partner.name.clone(),
            address: String::new(),
            location: partner.location,
        };
        let mut sites = vec![(main, partner.flows.iter().map(park_flow).collect())];
        for site in &partner.sites {
            let draft = SiteDraft {
                name: format!("{} ({})", partner.name, site.key),
                address: String::new(),
                location: site.location,
            };
            sites.push((draft, site.flows.iter().map(park_flow).collect()));
        }
        let business_index = batch.businesses.len();
        for (key, flow_id) in add(&mut batch, draft, sites)? {
            let business_id = batch.businesses[business_index].id;
            let name = format!("{}.{key}", partner.key);
            if flows.insert(name.clone(), (business_id, flow_id)).is_some() {
                bail!("{}: flow {name} appears twice", park.park);
            }
        }
    }
    Ok(Loaded {
        batch,
        flows,
        distractor_flows,
    })
}

fn park_flow(flow: &ParkFlow) -> KeyedDraft {
    let draft = FlowDraft {
        site_id: Uuid::nil(),
        direction: flow.direction,
        category: flow.category.clone(),
        ewc_code: None,
        description: flow.description.clone(),
        quality: flow.quality.clone(),
        quantity: flow.quantity.clone(),
        profile: None,
        monthly_factors: None,
        price_eur_per_unit: None,
        max_distance_km: flow.max_distance_km,
        valid_from: None,
        valid_until: None,
        status: FlowStatus::Active,
        anonymous: false,
        max_proposals: None,
        pays_for_co2: false,
    };
    (Some(flow.key.clone()), draft)
}

/// Loads one park with its distractors into a fresh instance and ranks every exchange.
pub async fn evaluate(park: &Park, taxonomy: Arc<Taxonomy>) -> anyhow::Result<ParkResult> {
    let loaded = batch(park, &taxonomy)?;
    let dir = std::env::temp_dir().join(format!("symbiont-eval-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = evaluate_in(park, taxonomy, &dir, &loaded).await;
    // The instance is thrown away whatever happened.
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn evaluate_in(
    park: &Park,
    taxonomy: Arc<Taxonomy>,
    dir: &Path,
    loaded: &Loaded,
) -> anyhow::Result<ParkResult> {
    let store = Arc::new(SqliteStore::open(dir).await?);
    register_batch(store.as_ref(), &loaded.batch).await?;
    let (app, _subscription) = App::start(AppParts {
        store,
        taxonomy,
        matching: Default::default(),
        bus: symbiont_bus::connect("memory://", "symbiont-eval").await?,
        graph: std::sync::Arc::new(symbiont_graph::embedded::EmbeddedGraph::default()),
        cache: ResponseCache::memory(),
        shared_rate_limits: None,
        read_your_writes: Duration::ZERO,
        security: SecuritySettings::default(),
        feed: Default::default(),
    })
    .await?;
    let flow = |key: &str| {
        loaded
            .flows
            .get(key)
            .copied()
            .with_context(|| format!("{}: no flow '{key}'", park.park))
    };
    let mut exchanges = Vec::new();
    for exchange in &park.exchanges {
        let (supplier_business, _) = flow(&exchange.supplier)?;
        let (_, need) = flow(&exchange.receiver)?;
        let filter = MatchFilter {
            flow_id: Some(need),
            ..MatchFilter::default()
        };
        let page = app
            .live_matches
            .page(&filter, MatchSort::Score, 10_000, None, &Viewer::All)?;
        let page: serde_json::Value = serde_json::from_slice(&page)?;
        // Businesses in order of their best proposal (the page is sorted by score).
        let mut businesses: Vec<(Uuid, f64)> = Vec::new();
        for item in page["items"].as_array().into_iter().flatten() {
            let is_need = item["need_flow_id"].as_str() == Some(need.to_string().as_str());
            let offerer = item["offer_business_id"]
                .as_str()
                .and_then(|id| Uuid::parse_str(id).ok());
            if let (true, Some(offerer)) = (is_need, offerer)
                && !businesses.iter().any(|(b, _)| *b == offerer)
            {
                businesses.push((offerer, item["score"].as_f64().unwrap_or(0.0)));
            }
        }
        let position = businesses.iter().position(|(b, _)| *b == supplier_business);
        exchanges.push(ExchangeResult {
            resource: exchange.resource.clone(),
            supplier: exchange.supplier.clone(),
            receiver: exchange.receiver.clone(),
            rank: position.map(|p| p + 1),
            proposed: businesses.len(),
            score: position.map(|p| businesses[p].1),
        });
    }
    Ok(ParkResult {
        park: park.park.clone(),
        country: park.country.clone(),
        exchanges,
        unencodable: park
            .unencodable
            .iter()
            .map(|u| (u.resource.clone(), u.reason.clone()))
            .collect(),
        distractor_flows: loaded.distractor_flows,
    })
}

/// The park files of a directory, in name order.
pub fn park_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The report as Markdown: per park, each exchange's rank, then the totals.
pub fn report(results: &[ParkResult]) -> String {
    let mut out = String::new();
    let line = |s: &Scores| {
        format!(
            "{} | {:.2} | {:.2} | {:.2}",
            s.count, s.recall_at_1, s.recall_at_5, s.mrr
        )
    };
    out.push_str(
        "| park | country | exchanges encoded | recall@1 | recall@5 | MRR | not encodable |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|\n");
    for r in results {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.park,
            r.country,
            line(&Scores::of(&r.exchanges)),
            r.unencodable.len()
        ));
    }
    let all: Vec<&ExchangeResult> = results.iter().flat_map(|r| &r.exchanges).collect();
    let unencodable: usize = results.iter().map(|r| r.unencodable.len()).sum();
    out.push_str(&format!(
        "| **all** | | {} | {unencodable} |\n",
        line(&Scores::of(all.iter().copied()))
    ));
    for r in results {
        out.push_str(&format!(
            "\n**{}** ({} distractor flows: the demo region moved to the park)\n\n",
            r.park, r.distractor_flows
        ));
        out.push_str("| exchange | supplier → receiver | rank | businesses proposed | score |\n");
        out.push_str("|---|---|---|---|---|\n");
        for e in &r.exchanges {
            out.push_str(&format!(
                "| {} | `{}` → `{}` | {} | {} | {} |\n",
                e.resource,
                e.supplier,
                e.receiver,
                e.rank.map_or("not proposed".to_string(), |r| r.to_string()),
                e.proposed,
                e.score.map_or("–".to_string(), |s| format!("{s:.2}"))
            ));
        }
        for (resource, reason) in &r.unencodable {
            out.push_str(&format!("| {resource} | not encodable: {reason} | | | |\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_the_region_keeps_distances() {
        let (from, to) = (
            GeoPoint {
                lat: 51.42,
                lon: 7.0,
            },
            GeoPoint {
                lat: 55.67,
                lon: 11.09,
            },
        );
        let a = GeoPoint {
            lat: 51.5,
            lon: 7.2,
        };
        let before = symbiont_core::haversine_km(from, a);
        let after = symbiont_core::haversine_km(to, moved(a, from, to));
        assert!(
            (before - after).abs() / before < 0.02,
            "{before} km vs {after} km"
        );
    }

    #[test]
    fn scores_count_an_unproposed_supplier_as_a_miss() {
        let result = |rank| ExchangeResult {
            resource: String::new(),
            supplier: String::new(),
            receiver: String::new(),
            rank,
            proposed: 3,
            score: None,
        };
        let scores = Scores::of(&[
            result(Some(1)),
            result(Some(4)),
            result(None),
            result(Some(2)),
        ]);
        assert_eq!(scores.count, 4);
        assert_eq!(scores.recall_at_1, 0.25);
        assert_eq!(scores.recall_at_5, 0.75);
        assert!((scores.mrr - (1.0 + 0.25 + 0.5) / 4.0).abs() < 1e-12);
    }

    #[test]
    fn every_committed_park_encodes_with_the_public_taxonomy() {
        let taxonomy = Taxonomy::builtin().expect("valid");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benchmarks/parks");
        let files = park_files(&dir).expect("the parks");
        assert!(files.len() >= 3, "{files:?}");
        for file in files {
            let park = Park::read(&file).expect("a park file");
            let flows = batch(&park, &taxonomy).expect("encodes").flows;
            for e in &park.exchanges {
                assert!(
                    flows.contains_key(&e.supplier),
                    "{}: {}",
                    park.park,
                    e.supplier
                );
                assert!(
                    flows.contains_key(&e.receiver),
                    "{}: {}",
                    park.park,
                    e.receiver
                );
            }
        }
    }
}
