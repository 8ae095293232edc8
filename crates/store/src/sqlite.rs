//! SQLite adapter of the Store port: a WAL-mode file with an R*Tree index of site locations.
//!
//! All writes go through a single-connection writer pool, so SQLite never has to arbitrate between
//! writers (no `SQLITE_BUSY` upgrades); reads use a separate pool and see committed data (WAL).
//! `synchronous = FULL`: an acknowledged write survives a crash of the process or the machine.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool};
use symbiont_core::events::OutboxEntry;
use symbiont_core::{Business, Flow, GeoPoint, MatchDecision, Site, haversine_km};
use uuid::Uuid;

use crate::codec::page_of;
use crate::store_sql::{Dialect, Select};
use crate::{
    BusinessFilter, Counts, Entity, FlowFilter, LocatedFlow, Near, Page, PageRequest, Removed,
    SiteFilter, SitePlace, Store, StoreError,
};

/// The statements SQLite shares with PostgreSQL.
type Sql = crate::store_sql::Sql<Sqlite>;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Rows a reader connection's thread may send ahead of the task reading them (sqlx's default is
/// 50): a batch of the start-up load, so that the thread keeps reading while a batch is handled.
const READER_ROW_BUFFER: usize = 4096;

crate::accounts_sql::impl_account_store!(
    SqliteStore,
    Sqlite,
    writer: |s| &s.writer,
    reader: |s| &s.reader,
    insert_business: Sql::insert_business_in
);

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "symbiont.db";

pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) `data_dir/symbiont.db` and applies pending migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        create_private_dir(data_dir).map_err(|e| {
            StoreError::Open(format!(
                "data directory {} cannot be created: {e}",
                data_dir.display()
            ))
        })?;
        let probe = data_dir.join(".write-test");
        std::fs::write(&probe, b"").map_err(|e| {
            StoreError::Open(format!(
                "data directory {} is not writable: {e}",
                data_dir.display()
            ))
        })?;
        let _ = std::fs::remove_file(&probe);
        Self::open_file(&data_dir.join(DATABASE_FILE)).await
    }

    /// Opens a database file directly (tests, tools).
    pub async fn open_file(path: &Path) -> Result<Self, StoreError> {
        restrict_database_files(path).map_err(|e| {
            StoreError::Open(format!(
                "cannot make {} readable by its owner only: {e}",
                path.display()
            ))
        })?;
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // A local file cannot drop a connection the way a network can, so connections are not
        // pinged before each use (that ping is a round trip to the connection's thread per query).
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::Open(format!("cannot open {}: {e}", path.display())))?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.read_only(true).row_buffer_size(READER_ROW_BUFFER))
            .await
            .map_err(|e| StoreError::Open(format!("cannot open {}: {e}", path.display())))?;
        Ok(Self { reader, writer })
    }
}

/// Creates `dir` (and its parents) readable by the owner only: the database holds password
/// hashes, token digests and possibly the token signing secret. An existing directory is left as
/// the operator made it (it may be shared on purpose, e.g. `.`); the files inside are private.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes the database file owner-only (0600) before SQLite opens it, creating it empty if missing,
/// and narrows an existing file (and its `-wal`/`-shm` companions) that an earlier version left
/// with the default umask. SQLite creates the `-wal` and `-shm` files with the database file's
/// permissions, so they follow.
fn restrict_database_files(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Documents and times are plain text; the single writer serialises all writes, so nothing is
/// locked; the R*Tree of site locations is kept in step by triggers, so sites carry no location
/// column.
impl Dialect for Sqlite {
    const AS_JSON: &'static str = "";
    const JSON_AS_TEXT: &'static str = "";
    const AS_TIME: &'static str = "";
    const OUTBOX_COLUMNS: &'static str = "id, kind, version, occurred_at, payload, traceparent";
    const FOR_UPDATE: &'static str = "";
    const FOR_KEY_SHARE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";
    // A transaction's reads share one snapshot (WAL).
    const ONE_SNAPSHOT: Option<&'static str> = None;

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn site_location(_lat: &str, _lon: &str) -> Option<String> {
        None
    }

    /// The R*Tree's bounding box of the circle; [`paged_near`] then keeps the sites inside it.
    fn push_near(query: &mut Select<'_, Sqlite>, near: &Near, site_alias: &str) {
        let (lo, hi) = near.center.bounding_box(near.radius_km);
        query.push(&format!(
            " AND {site_alias}.rid IN (SELECT rid FROM site_locations WHERE max_lat >= "
        ));
        query
            .push_bind(lo.lat)
            .push(" AND min_lat <= ")
            .push_bind(hi.lat);
        query
            .push(" AND max_lon >= ")
            .push_bind(lo.lon)
            .push(" AND min_lon <= ")
            .push_bind(hi.lon)
            .push(")");
    }

    fn push_visible_to(query: &mut Select<'_, Sqlite>, own: &[Uuid]) {
        // `IN ('')` keeps the list well-formed when `own` is empty; no id is empty.
        query.push(
            " AND (COALESCE(json_extract(f.doc, '$.anonymous'), 0) = 0 OR f.business_id IN (''",
        );
        for business in own {
            query.push(", ").push_bind(business.to_string());
        }
        query.push("))");
    }
}

/// Rows are fetched in batches until a page of items inside the circle is full: the R*Tree pre-filter
/// works on a bounding box, the exact great-circle test happens here.
async fn paged_near<T, F, Fut>(
    page: PageRequest,
    near: Option<Near>,
    mut fetch: F,
) -> Result<Page<T>, StoreError>
where
    F: FnMut(Option<Uuid>, u32) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<(T, Uuid, GeoPoint)>, StoreError>>,
{
    let wanted = page.limit as usize + 1;
    let batch = (page.limit + 1).max(64);
    let mut after = page.after;
    let mut items = Vec::new();
    loop {
        let rows = fetch(after, batch).await?;
        let exhausted = rows.len() < batch as usize;
        for (item, id, location) in rows {
            after = Some(id);
            if near.is_none_or(|n| haversine_km(n.center, location) <= n.radius_km) {
                items.push((item, id));
                if items.len() == wanted {
                    break;
                }
            }
        }
        if items.len() == wanted || exhausted {
            break;
        }
    }
    let page = page_of(items, page.limit, |(_, id)| *id);
    Ok(Page {
        items: page.items.into_iter().map(|(item, _)| item).collect(),
        next_cursor: page.next_cursor,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    fn accounts(&self) -> &dyn crate::accounts::AccountStore {
        self
    }

    fn pool_status(&self) -> Vec<crate::PoolStatus> {
        vec![
            crate::PoolStatus::of("reader", &self.reader),
            crate::PoolStatus::of("writer", &self.writer),
        ]
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        Sql::counts(&self.reader).await
    }

    async fn insert_business(&self, business: &Business) -> Result<(), StoreError> {
        Sql::insert_business(&self.writer, business).await
    }

    async fn get_business(&self, id: Uuid) -> Result<Option<Business>, StoreError> {
        Sql::get(&self.reader, "businesses", Entity::Business, id).await
    }

    async fn get_businesses(&self, ids: &[Uuid]) -> Result<Vec<Business>, StoreError> {
        Sql::get_many(&self.reader, "businesses", Entity::Business, ids).await
    }

    async fn list_businesses(
        &self,
        filter: &BusinessFilter,
        page: PageRequest,
    ) -> Result<Page<Business>, StoreError> {
        Sql::list_businesses(&self.reader, filter, page).await
    }

    async fn update_business(&self, business: &Business) -> Result<(), StoreError> {
        Sql::update_business(&self.writer, business).await
    }

    async fn delete_business(&self, id: Uuid) -> Result<Removed, StoreError> {
        let mut tx = self.writer.begin().await?;
        let removed = Sql::delete_business_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn insert_site(&self, site: &Site) -> Result<(), StoreError> {
        Sql::insert_site(&self.writer, site).await
    }

    async fn get_site(&self, id: Uuid) -> Result<Option<Site>, StoreError> {
        Sql::get(&self.reader, "sites", Entity::Site, id).await
    }

    async fn list_sites(
        &self,
        filter: &SiteFilter,
        page: PageRequest,
    ) -> Result<Page<Site>, StoreError> {
        paged_near(page, filter.near, |after, batch| async move {
            let sites = Sql::sites_after(&self.reader, filter, after, i64::from(batch)).await?;
            Ok(sites
                .into_iter()
                .map(|site| {
                    let (id, location) = (site.id, site.location);
                    (site, id, location)
                })
                .collect())
        })
        .await
    }

    async fn site_places(&self) -> Result<Vec<SitePlace>, StoreError> {
        Sql::site_places(&self.reader).await
    }

    async fn update_site(&self, site: &Site) -> Result<(), StoreError> {
        Sql::update_site(&self.writer, site).await
    }

    async fn delete_site(&self, id: Uuid) -> Result<Removed, StoreError> {
        let mut tx = self.writer.begin().await?;
        let removed = Sql::delete_site_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn insert_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        Sql::insert_flow(&self.writer, flow).await
    }

    async fn get_flow(&self, id: Uuid) -> Result<Option<Flow>, StoreError> {
        Sql::get(&self.reader, "flows", Entity::Flow, id).await
    }

    async fn list_flows(
        &self,
        filter: &FlowFilter,
        page: PageRequest,
    ) -> Result<Page<Flow>, StoreError> {
        paged_near(page, filter.near, |after, batch| async move {
            let flows = Sql::flows_after(&self.reader, filter, after, i64::from(batch)).await?;
            Ok(flows
                .into_iter()
                .map(|located| {
                    let id = located.flow.id;
                    (located.flow, id, located.location)
                })
                .collect())
        })
        .await
    }

    async fn update_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        Sql::update_flow(&self.writer, flow).await
    }

    async fn delete_flow(&self, id: Uuid) -> Result<Removed, StoreError> {
        Sql::delete_flow(&self.writer, id).await
    }

    async fn located_flows_in_batches(
        &self,
        batch: usize,
        each: &mut (dyn FnMut(Vec<LocatedFlow>) + Send),
    ) -> Result<(), StoreError> {
        Sql::located_flows_in_batches(&self.reader, batch, each).await
    }

    async fn all_decisions(&self) -> Result<Vec<MatchDecision>, StoreError> {
        Sql::all_decisions(&self.reader).await
    }

    async fn save_decisions(
        &self,
        decisions: &[MatchDecision],
    ) -> Result<Vec<StoreError>, StoreError> {
        Sql::save_decisions(&self.writer, decisions).await
    }

    async fn outbox_claim(
        &self,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        // Through the writer: a claim writes, and the relay never lags behind a commit it was
        // told about.
        let (now_ms, until_ms) = crate::claim_window(lease);
        Sql::outbox_claim(&self.writer, limit, now_ms, until_ms).await
    }

    async fn outbox_release(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        Sql::outbox_release(&self.writer, ids).await
    }

    async fn outbox_remove(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for id in ids {
            sqlx::query("DELETE FROM outbox WHERE id = ?")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn insert_batch(
        &self,
        businesses: &[Business],
        sites: &[Site],
        flows: &[Flow],
    ) -> Result<(), StoreError> {
        Sql::insert_batch(&self.writer, businesses, sites, flows).await
    }
}
