//! The Store port: how Symbiont keeps businesses, sites and flows (and, later, people's decisions on
//! matches), plus its adapters. `sqlite` is the embedded default.
//!
//! The port speaks domain types only. SQL that both databases accept is written once (`store_sql`,
//! `accounts_sql`); what a dialect does differently stays inside its adapter. Every write is one
//! transaction; updates are optimistic (the caller states the version it read). Every write that
//! changes matching inputs or decisions also appends its domain event (`symbiont_core::events`) to
//! the adapter's outbox in that same transaction: flow created or changed → `flow.upserted`, flows
//! deleted (directly or by cascade) → `flows.removed`, site moved → `site.moved`, decision saved →
//! `match.decided`.

pub mod accounts;
mod accounts_sql;
mod codec;
pub mod postgres;
pub mod sqlite;
mod store_sql;
pub mod traced;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use symbiont_core::events::OutboxEntry;
use symbiont_core::{Business, Direction, Flow, FlowStatus, GeoPoint, MatchDecision, Site};
use uuid::Uuid;

/// Which kind of entity an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Business,
    Site,
    Flow,
    MatchDecision,
    Outbox,
    User,
    Membership,
    Invitation,
    RefreshToken,
    ApiKey,
    Audit,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Entity::Business => "business",
            Entity::Site => "site",
            Entity::Flow => "flow",
            Entity::MatchDecision => "match decision",
            Entity::Outbox => "outbox entry",
            Entity::User => "user",
            Entity::Membership => "membership",
            Entity::Invitation => "invitation",
            Entity::RefreshToken => "refresh token",
            Entity::ApiKey => "API key",
            Entity::Audit => "audit entry",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id} not found")]
    NotFound { entity: Entity, id: Uuid },
    #[error("{entity} {id} was changed meanwhile (now version {current}, you had {expected})")]
    VersionConflict {
        entity: Entity,
        id: Uuid,
        expected: i64,
        current: i64,
    },
    #[error("{entity} {id} already exists")]
    AlreadyExists { entity: Entity, id: Uuid },
    #[error("cannot open the store: {0}")]
    Open(String),
    #[error("store unavailable: {0}")]
    Unavailable(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored {entity} {id} cannot be read: {reason}")]
    Corrupt {
        entity: Entity,
        id: String,
        reason: String,
    },
}

/// A page request: up to `limit` items after `after` (an id from the previous page's cursor).
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub after: Option<Uuid>,
    pub limit: u32,
}

/// One page of results; `next_cursor` is present when there may be more.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Uuid>,
}

/// A circle for `near` filters.
#[derive(Debug, Clone, Copy)]
pub struct Near {
    pub center: GeoPoint,
    pub radius_km: f64,
}

#[derive(Debug, Clone, Default)]
pub struct BusinessFilter {
    /// NACE code prefix, e.g. `C11` or `C11.05`.
    pub industry: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SiteFilter {
    pub business_id: Option<Uuid>,
    pub near: Option<Near>,
}

#[derive(Debug, Clone, Default)]
pub struct FlowFilter {
    pub direction: Option<Direction>,
    pub category: Option<String>,
    pub business_id: Option<Uuid>,
    pub site_id: Option<Uuid>,
    pub status: Option<FlowStatus>,
    pub near: Option<Near>,
    /// `Some(businesses)`: leave out anonymous flows, except those of these businesses (the
    /// viewer's own). `None`: every flow (the viewer may see all).
    pub hide_anonymous_except: Option<Vec<Uuid>>,
}

/// What a cascading delete removed, so derived state (the matching engine) can follow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Removed {
    pub site_ids: Vec<Uuid>,
    pub flow_ids: Vec<Uuid>,
}

/// A flow with the location of its site: what the matching engine needs.
#[derive(Debug, Clone)]
pub struct LocatedFlow {
    pub flow: Flow,
    pub location: GeoPoint,
}

/// Where a site is and its business's industry: what the map clusters (no document is decoded).
#[derive(Debug, Clone, PartialEq)]
pub struct SitePlace {
    pub id: Uuid,
    pub business_id: Uuid,
    pub location: GeoPoint,
    /// The business's NACE code (`C10.51`).
    pub industry: String,
}

/// Counts for summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub businesses: u64,
    pub sites: u64,
    pub offers: u64,
    pub needs: u64,
}

/// Connection figures of one connection pool, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PoolStatus {
    /// Which pool (`reader`, `writer`, `main`).
    pub pool: &'static str,
    /// Connections lent out right now.
    pub in_use: u32,
    /// Open connections waiting in the pool.
    pub idle: u32,
    /// Most connections the pool may open.
    pub max: u32,
}

impl PoolStatus {
    fn of<DB: sqlx::Database>(pool: &'static str, of: &sqlx::Pool<DB>) -> Self {
        let idle = u32::try_from(of.num_idle()).unwrap_or(u32::MAX);
        Self {
            pool,
            in_use: of.size().saturating_sub(idle),
            idle,
            max: of.options().get_max_connections(),
        }
    }
}

/// The persistence port. Adapters: [`sqlite::SqliteStore`]. A new method must also be forwarded by
/// [`traced::TracedStore`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap reachability check for readiness probes.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Closes the connections, waiting for the ones in use (graceful shutdown).
    async fn close(&self);
    async fn counts(&self) -> Result<Counts, StoreError>;
    /// Connections of each pool (in use, idle, maximum), for metrics. Cheap; no I/O.
    fn pool_status(&self) -> Vec<PoolStatus>;
    /// Users, memberships, tokens, API keys and the audit log, kept in the same database.
    fn accounts(&self) -> &dyn accounts::AccountStore;

    async fn insert_business(&self, business: &Business) -> Result<(), StoreError>;
    async fn get_business(&self, id: Uuid) -> Result<Option<Business>, StoreError>;
    /// The businesses of `ids` that exist, in id order, in one round trip (a page of matches
    /// resolves its parties with one call, not one per match).
    async fn get_businesses(&self, ids: &[Uuid]) -> Result<Vec<Business>, StoreError>;
    async fn list_businesses(
        &self,
        filter: &BusinessFilter,
        page: PageRequest,
    ) -> Result<Page<Business>, StoreError>;
    /// Replaces the business if it is still at `business.version - 1`.
    async fn update_business(&self, business: &Business) -> Result<(), StoreError>;
    /// Deletes the business with its sites and flows.
    async fn delete_business(&self, id: Uuid) -> Result<Removed, StoreError>;

    async fn insert_site(&self, site: &Site) -> Result<(), StoreError>;
    async fn get_site(&self, id: Uuid) -> Result<Option<Site>, StoreError>;
    async fn list_sites(
        &self,
        filter: &SiteFilter,
        page: PageRequest,
    ) -> Result<Page<Site>, StoreError>;
    /// Every site's place and industry, in id order, for the map's layers.
    async fn site_places(&self) -> Result<Vec<SitePlace>, StoreError>;
    async fn update_site(&self, site: &Site) -> Result<(), StoreError>;
    async fn delete_site(&self, id: Uuid) -> Result<Removed, StoreError>;

    async fn insert_flow(&self, flow: &Flow) -> Result<(), StoreError>;
    async fn get_flow(&self, id: Uuid) -> Result<Option<Flow>, StoreError>;
    async fn list_flows(
        &self,
        filter: &FlowFilter,
        page: PageRequest,
    ) -> Result<Page<Flow>, StoreError>;
    async fn update_flow(&self, flow: &Flow) -> Result<(), StoreError>;
    async fn delete_flow(&self, id: Uuid) -> Result<Removed, StoreError>;
    /// Every flow with its site's location, for rebuilding the matching engine, handed to `each`
    /// as batches of about `batch` flows are read, in no particular order, all from one snapshot:
    /// the whole table is never held at once, neither as rows nor as flows.
    async fn located_flows_in_batches(
        &self,
        batch: usize,
        each: &mut (dyn FnMut(Vec<LocatedFlow>) + Send),
    ) -> Result<(), StoreError>;

    /// Every flow with its site's location, all at once (tests and small stores).
    async fn all_located_flows(&self) -> Result<Vec<LocatedFlow>, StoreError> {
        let mut all = Vec::new();
        self.located_flows_in_batches(4096, &mut |batch| all.extend(batch))
            .await?;
        Ok(all)
    }

    /// Every stored decision on a match (loaded at start; the set is small next to the matches).
    async fn all_decisions(&self) -> Result<Vec<MatchDecision>, StoreError>;
    /// Saves each decision on its own (one transaction, a savepoint each). Version 1 inserts;
    /// version n replaces version n - 1. A decision whose version lost a race is not saved and is
    /// returned as its `VersionConflict`; the others are saved all the same (several instances
    /// record the same expiries, and one lost race must not undo the rest). Any other failure
    /// saves nothing.
    async fn save_decisions(
        &self,
        decisions: &[MatchDecision],
    ) -> Result<Vec<StoreError>, StoreError>;

    /// Claims the oldest unpublished entries no other relay holds, for `lease`, and returns them
    /// in commit order. Relays of several instances over one store thus publish each event once
    /// (at least once: a claim a crashed relay held ends with its lease, and its entries are
    /// claimed again).
    async fn outbox_claim(
        &self,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Ends the claim on entries the bus did not take, so they are claimed again at once.
    async fn outbox_release(&self, ids: &[Uuid]) -> Result<(), StoreError>;
    /// Removes entries the bus has accepted.
    async fn outbox_remove(&self, ids: &[Uuid]) -> Result<(), StoreError>;

    /// Inserts a whole dataset (businesses, sites, flows) in one transaction: all or nothing.
    async fn insert_batch(
        &self,
        businesses: &[Business],
        sites: &[Site],
        flows: &[Flow],
    ) -> Result<(), StoreError>;
}

/// The claim window of an outbox claim: now and now + `lease`, in Unix milliseconds of this
/// instance's clock (instances' clocks need only agree to well within a lease).
pub(crate) fn claim_window(lease: std::time::Duration) -> (i64, i64) {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    (now_ms, now_ms.saturating_add(lease_ms))
}
