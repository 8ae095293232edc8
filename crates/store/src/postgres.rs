//! PostgreSQL + PostGIS adapter of the Store port, for production and scale-out: several instances
//! share one database. Sites carry a `geography(Point, 4326)` with a GiST index and `near` filters
//! are exact `ST_DWithin` queries. Documents are JSONB; ids are UUIDv7 text as in SQLite, so paging
//! and ordering behave the same. Every statement has a timeout (`statement_timeout`).
//!
//! Unlike SQLite, which has one writer, several transactions write here at once (READ COMMITTED).
//! Where a write reads what it is about to cascade over or report, it first locks the parent row, so
//! a concurrent child insert either lands before the read or fails as "parent not found"; the
//! `Removed` lists and the `flows.removed` events therefore name every flow a delete took away.
//! No domain rules live here: callers validate before they write.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult};
use sqlx::{PgPool, Postgres};
use symbiont_core::events::OutboxEntry;
use symbiont_core::{Business, Flow, MatchDecision, Site};
use uuid::Uuid;

use crate::codec::page_of;
use crate::store_sql::{Dialect, Select};
use crate::{
    BusinessFilter, Counts, Entity, FlowFilter, LocatedFlow, Near, Page, PageRequest, Removed,
    SiteFilter, SitePlace, Store, StoreError,
};

/// The statements PostgreSQL shares with SQLite.
type Sql = crate::store_sql::Sql<Postgres>;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

crate::accounts_sql::impl_account_store!(
    PostgresStore,
    Postgres,
    writer: |s| &s.pool,
    reader: |s| &s.pool,
    insert_business: Sql::insert_business_in
);

/// Longest a single statement may run.
const STATEMENT_TIMEOUT: &str = "30s";

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`) with up to `max_connections` and applies pending migrations.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Open(format!("bad database URL: {e}")))?;
        let options = options.options([("statement_timeout", STATEMENT_TIMEOUT)]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open(format!("cannot connect to PostgreSQL: {e}")))?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }
}

/// Documents are JSONB and outbox times `timestamptz`, so both are cast on the way in and read back
/// as text; sites carry a PostGIS `location`; concurrent writers take row locks (module docs).
impl Dialect for Postgres {
    const AS_JSON: &'static str = "::jsonb";
    const JSON_AS_TEXT: &'static str = "::text";
    const AS_TIME: &'static str = "::timestamptz";
    const OUTBOX_COLUMNS: &'static str = "id, kind, version::bigint, \
        to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), payload::text, traceparent";
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const FOR_KEY_SHARE: &'static str = " FOR KEY SHARE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const ONE_SNAPSHOT: Option<&'static str> =
        Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn site_location(lat: &str, lon: &str) -> Option<String> {
        Some(format!(
            "ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)::geography"
        ))
    }

    /// Exact: `ST_DWithin` on the geography, in metres.
    fn push_near(query: &mut Select<'_, Postgres>, near: &Near, site_alias: &str) {
        query.push(&format!(
            " AND ST_DWithin({site_alias}.location, ST_SetSRID(ST_MakePoint("
        ));
        query
            .push_bind(near.center.lon)
            .push(", ")
            .push_bind(near.center.lat);
        query
            .push("), 4326)::geography, ")
            .push_bind(near.radius_km * 1000.0)
            .push(")");
    }

    fn push_visible_to(query: &mut Select<'_, Postgres>, own: &[Uuid]) {
        query.push(
            " AND (COALESCE((f.doc->>'anonymous')::boolean, FALSE) = FALSE OR f.business_id = ANY(",
        );
        query.push_bind(own.iter().map(Uuid::to_string).collect::<Vec<_>>());
        query.push("))");
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn close(&self) {
        self.pool.close().await;
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn accounts(&self) -> &dyn crate::accounts::AccountStore {
        self
    }

    fn pool_status(&self) -> Vec<crate::PoolStatus> {
        vec![crate::PoolStatus::of("main", &self.pool)]
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        Sql::counts(&self.pool).await
    }

    async fn insert_business(&self, business: &Business) -> Result<(), StoreError> {
        Sql::insert_business(&self.pool, business).await
    }

    async fn get_business(&self, id: Uuid) -> Result<Option<Business>, StoreError> {
        Sql::get(&self.pool, "businesses", Entity::Business, id).await
    }

    async fn get_businesses(&self, ids: &[Uuid]) -> Result<Vec<Business>, StoreError> {
        Sql::get_many(&self.pool, "businesses", Entity::Business, ids).await
    }

    async fn list_businesses(
        &self,
        filter: &BusinessFilter,
        page: PageRequest,
    ) -> Result<Page<Business>, StoreError> {
        Sql::list_businesses(&self.pool, filter, page).await
    }

    async fn update_business(&self, business: &Business) -> Result<(), StoreError> {
        Sql::update_business(&self.pool, business).await
    }

    async fn delete_business(&self, id: Uuid) -> Result<Removed, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Locking the business and its sites makes concurrent site and flow inserts under them
        // wait for this delete (their foreign-key checks share-lock the parent), so the ids read
        // next are all the cascade removes.
        let found = sqlx::query("SELECT 1 FROM businesses WHERE id = $1 FOR UPDATE")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound {
                entity: Entity::Business,
                id,
            });
        }
        sqlx::query("SELECT 1 FROM sites WHERE business_id = $1 ORDER BY id FOR UPDATE")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let removed = Sql::delete_business_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn insert_site(&self, site: &Site) -> Result<(), StoreError> {
        Sql::insert_site(&self.pool, site).await
    }

    async fn get_site(&self, id: Uuid) -> Result<Option<Site>, StoreError> {
        Sql::get(&self.pool, "sites", Entity::Site, id).await
    }

    async fn list_sites(
        &self,
        filter: &SiteFilter,
        page: PageRequest,
    ) -> Result<Page<Site>, StoreError> {
        // `near` is exact here (nothing to refine after a bounding box), so a page is one query of
        // `limit + 1` rows, the extra one telling whether there is a next page.
        let sites =
            Sql::sites_after(&self.pool, filter, page.after, i64::from(page.limit) + 1).await?;
        Ok(page_of(sites, page.limit, |s| s.id))
    }

    async fn site_places(&self) -> Result<Vec<SitePlace>, StoreError> {
        Sql::site_places(&self.pool).await
    }

    async fn update_site(&self, site: &Site) -> Result<(), StoreError> {
        Sql::update_site(&self.pool, site).await
    }

    async fn delete_site(&self, id: Uuid) -> Result<Removed, StoreError> {
        let mut tx = self.pool.begin().await?;
        // As in `delete_business`: concurrent flow inserts on this site wait for the delete.
        let found = sqlx::query("SELECT 1 FROM sites WHERE id = $1 FOR UPDATE")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound {
                entity: Entity::Site,
                id,
            });
        }
        let removed = Sql::delete_site_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn insert_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        Sql::insert_flow(&self.pool, flow).await
    }

    async fn get_flow(&self, id: Uuid) -> Result<Option<Flow>, StoreError> {
        Sql::get(&self.pool, "flows", Entity::Flow, id).await
    }

    async fn list_flows(
        &self,
        filter: &FlowFilter,
        page: PageRequest,
    ) -> Result<Page<Flow>, StoreError> {
        // One query of `limit + 1` rows, as in `list_sites`.
        let flows =
            Sql::flows_after(&self.pool, filter, page.after, i64::from(page.limit) + 1).await?;
        let flows = flows.into_iter().map(|located| located.flow).collect();
        Ok(page_of(flows, page.limit, |f| f.id))
    }

    async fn update_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        Sql::update_flow(&self.pool, flow).await
    }

    async fn delete_flow(&self, id: Uuid) -> Result<Removed, StoreError> {
        Sql::delete_flow(&self.pool, id).await
    }

    async fn located_flows_in_batches(
        &self,
        batch: usize,
        each: &mut (dyn FnMut(Vec<LocatedFlow>) + Send),
    ) -> Result<(), StoreError> {
        Sql::located_flows_in_batches(&self.pool, batch, each).await
    }

    async fn all_decisions(&self) -> Result<Vec<MatchDecision>, StoreError> {
        Sql::all_decisions(&self.pool).await
    }

    async fn save_decisions(
        &self,
        decisions: &[MatchDecision],
    ) -> Result<Vec<StoreError>, StoreError> {
        Sql::save_decisions(&self.pool, decisions).await
    }

    async fn outbox_claim(
        &self,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let (now_ms, until_ms) = crate::claim_window(lease);
        Sql::outbox_claim(&self.pool, limit, now_ms, until_ms).await
    }

    async fn outbox_release(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        Sql::outbox_release(&self.pool, ids).await
    }

    async fn outbox_remove(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
            .bind(&ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_batch(
        &self,
        businesses: &[Business],
        sites: &[Site],
        flows: &[Flow],
    ) -> Result<(), StoreError> {
        Sql::insert_batch(&self.pool, businesses, sites, flows).await
    }
}
