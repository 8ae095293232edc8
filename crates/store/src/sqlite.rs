//! SQLite adapter of the Store port: a WAL-mode file with an R*Tree index of site locations.
//!
//! All writes go through a single-connection writer pool, so SQLite never has to arbitrate between
//! writers (no `SQLITE_BUSY` upgrades); reads use a separate pool and see committed data (WAL).
//! `synchronous = FULL`: an acknowledged write survives a crash of the process or the machine.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};
use symbiont_core::events::{DomainEvent, OutboxEntry};
use symbiont_core::{Business, Flow, GeoPoint, MatchDecision, Site, haversine_km};
use uuid::Uuid;

use crate::codec::{decode, encode, insert_error, outbox_entry, page_of, parse_uuid};
use crate::{
    BusinessFilter, Counts, Entity, FlowFilter, LocatedFlow, Near, Page, PageRequest, Removed,
    SiteFilter, Store, StoreError,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

crate::accounts_sql::impl_account_store!(
    SqliteStore,
    Sqlite,
    writer: |s| &s.writer,
    reader: |s| &s.reader,
    insert_business: insert_business_in
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
        std::fs::create_dir_all(data_dir).map_err(|e| {
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
            .connect_with(options.read_only(true))
            .await
            .map_err(|e| StoreError::Open(format!("cannot open {}: {e}", path.display())))?;
        Ok(Self { reader, writer })
    }
}

/// After an `UPDATE ... WHERE version = ?` touched no row: was the row missing or newer?
async fn update_miss(
    tx: &mut Transaction<'_, Sqlite>,
    table: &str,
    entity: Entity,
    id: Uuid,
    expected: i64,
) -> StoreError {
    let current: Result<Option<i64>, _> =
        sqlx::query_scalar(&format!("SELECT version FROM {table} WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await;
    match current {
        Ok(Some(current)) => StoreError::VersionConflict {
            entity,
            id,
            expected,
            current,
        },
        Ok(None) => StoreError::NotFound { entity, id },
        Err(e) => e.into(),
    }
}

/// Appends a domain event to the outbox inside the write's transaction.
async fn append_event(
    tx: &mut Transaction<'_, Sqlite>,
    event: &DomainEvent,
) -> Result<(), StoreError> {
    let entry = OutboxEntry::new(event);
    sqlx::query(
        "INSERT INTO outbox (id, kind, version, occurred_at, payload, traceparent) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(entry.id.to_string())
    .bind(&entry.kind)
    .bind(i64::from(entry.version))
    .bind(entry.occurred_at.to_rfc3339())
    .bind(entry.payload.to_string())
    .bind(&entry.traceparent)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `flow.upserted` for a flow just written, with its site's location.
async fn append_flow_upserted(
    tx: &mut Transaction<'_, Sqlite>,
    flow: &Flow,
) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT lat, lon FROM sites WHERE id = ?")
        .bind(flow.site_id.to_string())
        .fetch_one(&mut **tx)
        .await?;
    let location = GeoPoint {
        lat: row.get(0),
        lon: row.get(1),
    };
    append_event(
        tx,
        &DomainEvent::FlowUpserted {
            flow: Box::new(flow.clone()),
            location,
        },
    )
    .await
}

async fn append_flows_removed(
    tx: &mut Transaction<'_, Sqlite>,
    flow_ids: &[Uuid],
) -> Result<(), StoreError> {
    if flow_ids.is_empty() {
        return Ok(());
    }
    append_event(
        tx,
        &DomainEvent::FlowsRemoved {
            flow_ids: flow_ids.to_vec(),
        },
    )
    .await
}

async fn insert_business_in(
    tx: &mut Transaction<'_, Sqlite>,
    b: &Business,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO businesses (id, industry, version, doc) VALUES (?, ?, ?, ?)")
        .bind(b.id.to_string())
        .bind(&b.industry)
        .bind(b.version)
        .bind(encode(b))
        .execute(&mut **tx)
        .await
        .map_err(insert_error(Entity::Business, b.id))?;
    Ok(())
}

async fn insert_site_in(tx: &mut Transaction<'_, Sqlite>, s: &Site) -> Result<(), StoreError> {
    let result = sqlx::query(
        "INSERT INTO sites (id, business_id, lat, lon, version, doc)
         SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM businesses WHERE id = ?)",
    )
    .bind(s.id.to_string())
    .bind(s.business_id.to_string())
    .bind(s.location.lat)
    .bind(s.location.lon)
    .bind(s.version)
    .bind(encode(s))
    .bind(s.business_id.to_string())
    .execute(&mut **tx)
    .await
    .map_err(insert_error(Entity::Site, s.id))?;
    if result.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            entity: Entity::Business,
            id: s.business_id,
        });
    }
    Ok(())
}

async fn insert_flow_in(tx: &mut Transaction<'_, Sqlite>, f: &Flow) -> Result<(), StoreError> {
    let result = sqlx::query(
        "INSERT INTO flows (id, site_id, business_id, direction, category, status, version, doc)
         SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sites WHERE id = ? AND business_id = ?)",
    )
    .bind(f.id.to_string())
    .bind(f.site_id.to_string())
    .bind(f.business_id.to_string())
    .bind(f.direction.as_str())
    .bind(&f.category)
    .bind(f.status.as_str())
    .bind(f.version)
    .bind(encode(f))
    .bind(f.site_id.to_string())
    .bind(f.business_id.to_string())
    .execute(&mut **tx)
    .await
    .map_err(insert_error(Entity::Flow, f.id))?;
    if result.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            entity: Entity::Site,
            id: f.site_id,
        });
    }
    append_flow_upserted(tx, f).await
}

/// Ids of rows of `table` matching `column = id`, for reporting what a cascade removes.
async fn ids_where(
    tx: &mut Transaction<'_, Sqlite>,
    table: &str,
    column: &str,
    id: Uuid,
    entity: Entity,
) -> Result<Vec<Uuid>, StoreError> {
    let rows: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM {table} WHERE {column} = ? ORDER BY id"
    ))
    .bind(id.to_string())
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|r| parse_uuid(entity, r)).collect()
}

fn push_near(query: &mut QueryBuilder<'_, Sqlite>, near: &Near, site_alias: &str) {
    let (lo, hi) = near.center.bounding_box(near.radius_km);
    query.push(format!(
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
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM businesses), (SELECT count(*) FROM sites),
                    (SELECT count(*) FROM flows WHERE direction = 'offer'),
                    (SELECT count(*) FROM flows WHERE direction = 'need')",
        )
        .fetch_one(&self.reader)
        .await?;
        let get = |i: usize| row.try_get::<i64, _>(i).map(|v| v.max(0) as u64);
        Ok(Counts {
            businesses: get(0)?,
            sites: get(1)?,
            offers: get(2)?,
            needs: get(3)?,
        })
    }

    async fn insert_business(&self, business: &Business) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        insert_business_in(&mut tx, business).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_business(&self, id: Uuid) -> Result<Option<Business>, StoreError> {
        let doc: Option<String> = sqlx::query_scalar("SELECT doc FROM businesses WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        doc.map(|d| decode(Entity::Business, &id.to_string(), &d))
            .transpose()
    }

    async fn list_businesses(
        &self,
        filter: &BusinessFilter,
        page: PageRequest,
    ) -> Result<Page<Business>, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new("SELECT id, doc FROM businesses WHERE 1 = 1");
        if let Some(after) = page.after {
            query.push(" AND id > ").push_bind(after.to_string());
        }
        if let Some(industry) = &filter.industry {
            // Prefix match on the normalised code; `C11` also matches `C11.05`.
            query.push(" AND (industry = ").push_bind(industry.clone());
            query
                .push(" OR industry LIKE ")
                .push_bind(format!("{industry}%"))
                .push(")");
        }
        query
            .push(" ORDER BY id LIMIT ")
            .push_bind(i64::from(page.limit) + 1);
        let rows = query.build().fetch_all(&self.reader).await?;
        let items = rows
            .iter()
            .map(|r| decode::<Business>(Entity::Business, r.get::<&str, _>(0), r.get::<&str, _>(1)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page_of(items, page.limit, |b| b.id))
    }

    async fn update_business(&self, business: &Business) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let result = sqlx::query(
            "UPDATE businesses SET industry = ?, version = ?, doc = ? WHERE id = ? AND version = ?",
        )
        .bind(&business.industry)
        .bind(business.version)
        .bind(encode(business))
        .bind(business.id.to_string())
        .bind(business.version - 1)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() == 0 {
            return Err(update_miss(
                &mut tx,
                "businesses",
                Entity::Business,
                business.id,
                business.version - 1,
            )
            .await);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_business(&self, id: Uuid) -> Result<Removed, StoreError> {
        let mut tx = self.writer.begin().await?;
        let removed = Removed {
            site_ids: ids_where(&mut tx, "sites", "business_id", id, Entity::Site).await?,
            flow_ids: ids_where(&mut tx, "flows", "business_id", id, Entity::Flow).await?,
        };
        let result = sqlx::query("DELETE FROM businesses WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                entity: Entity::Business,
                id,
            });
        }
        append_flows_removed(&mut tx, &removed.flow_ids).await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn insert_site(&self, site: &Site) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        insert_site_in(&mut tx, site).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_site(&self, id: Uuid) -> Result<Option<Site>, StoreError> {
        let doc: Option<String> = sqlx::query_scalar("SELECT doc FROM sites WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        doc.map(|d| decode(Entity::Site, &id.to_string(), &d))
            .transpose()
    }

    async fn list_sites(
        &self,
        filter: &SiteFilter,
        page: PageRequest,
    ) -> Result<Page<Site>, StoreError> {
        paged_near(page, filter.near, |after, batch| async move {
            let mut query =
                QueryBuilder::<Sqlite>::new("SELECT s.id, s.doc FROM sites s WHERE 1 = 1");
            if let Some(after) = after {
                query.push(" AND s.id > ").push_bind(after.to_string());
            }
            if let Some(business) = filter.business_id {
                query
                    .push(" AND s.business_id = ")
                    .push_bind(business.to_string());
            }
            if let Some(near) = &filter.near {
                push_near(&mut query, near, "s");
            }
            query
                .push(" ORDER BY s.id LIMIT ")
                .push_bind(i64::from(batch));
            let rows = query.build().fetch_all(&self.reader).await?;
            rows.iter()
                .map(|r| {
                    let site: Site =
                        decode(Entity::Site, r.get::<&str, _>(0), r.get::<&str, _>(1))?;
                    Ok((site.clone(), site.id, site.location))
                })
                .collect()
        })
        .await
    }

    async fn update_site(&self, site: &Site) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let before = sqlx::query("SELECT lat, lon FROM sites WHERE id = ?")
            .bind(site.id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| GeoPoint {
                lat: row.get(0),
                lon: row.get(1),
            });
        let result =
            sqlx::query("UPDATE sites SET lat = ?, lon = ?, version = ?, doc = ? WHERE id = ? AND business_id = ? AND version = ?")
                .bind(site.location.lat)
                .bind(site.location.lon)
                .bind(site.version)
                .bind(encode(site))
                .bind(site.id.to_string())
                .bind(site.business_id.to_string())
                .bind(site.version - 1)
                .execute(&mut *tx)
                .await?;
        if result.rows_affected() == 0 {
            return Err(
                update_miss(&mut tx, "sites", Entity::Site, site.id, site.version - 1).await,
            );
        }
        if before != Some(site.location) {
            append_event(
                &mut tx,
                &DomainEvent::SiteMoved {
                    site_id: site.id,
                    location: site.location,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_site(&self, id: Uuid) -> Result<Removed, StoreError> {
        let mut tx = self.writer.begin().await?;
        let removed = Removed {
            site_ids: vec![id],
            flow_ids: ids_where(&mut tx, "flows", "site_id", id, Entity::Flow).await?,
        };
        let result = sqlx::query("DELETE FROM sites WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                entity: Entity::Site,
                id,
            });
        }
        append_flows_removed(&mut tx, &removed.flow_ids).await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn insert_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        insert_flow_in(&mut tx, flow).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_flow(&self, id: Uuid) -> Result<Option<Flow>, StoreError> {
        let doc: Option<String> = sqlx::query_scalar("SELECT doc FROM flows WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        doc.map(|d| decode(Entity::Flow, &id.to_string(), &d))
            .transpose()
    }

    async fn list_flows(
        &self,
        filter: &FlowFilter,
        page: PageRequest,
    ) -> Result<Page<Flow>, StoreError> {
        paged_near(page, filter.near, |after, batch| async move {
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT f.id, f.doc, s.lat, s.lon FROM flows f JOIN sites s ON s.id = f.site_id WHERE 1 = 1",
            );
            if let Some(after) = after {
                query.push(" AND f.id > ").push_bind(after.to_string());
            }
            if let Some(direction) = filter.direction {
                query.push(" AND f.direction = ").push_bind(direction.as_str());
            }
            if let Some(category) = &filter.category {
                // A family prefix such as `heat` also selects `heat.low_temp`.
                query.push(" AND (f.category = ").push_bind(category.clone());
                query.push(" OR f.category LIKE ").push_bind(format!("{category}.%")).push(")");
            }
            if let Some(business) = filter.business_id {
                query.push(" AND f.business_id = ").push_bind(business.to_string());
            }
            if let Some(site) = filter.site_id {
                query.push(" AND f.site_id = ").push_bind(site.to_string());
            }
            if let Some(status) = filter.status {
                query.push(" AND f.status = ").push_bind(status.as_str());
            }
            if let Some(near) = &filter.near {
                push_near(&mut query, near, "s");
            }
            if let Some(own) = &filter.hide_anonymous_except {
                query.push(" AND (COALESCE(json_extract(f.doc, '$.anonymous'), 0) = 0 OR f.business_id IN (''");
                for business in own {
                    query.push(", ").push_bind(business.to_string());
                }
                query.push("))");
            }
            query.push(" ORDER BY f.id LIMIT ").push_bind(i64::from(batch));
            let rows = query.build().fetch_all(&self.reader).await?;
            rows.iter()
                .map(|r| {
                    let flow: Flow = decode(Entity::Flow, r.get::<&str, _>(0), r.get::<&str, _>(1))?;
                    let id = flow.id;
                    Ok((flow, id, GeoPoint { lat: r.get(2), lon: r.get(3) }))
                })
                .collect()
        })
        .await
    }

    async fn update_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM sites WHERE id = ? AND business_id = ?")
                .bind(flow.site_id.to_string())
                .bind(flow.business_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound {
                entity: Entity::Site,
                id: flow.site_id,
            });
        }
        let result = sqlx::query(
            "UPDATE flows SET site_id = ?, business_id = ?, direction = ?, category = ?, status = ?, version = ?, doc = ?
             WHERE id = ? AND version = ?",
        )
        .bind(flow.site_id.to_string())
        .bind(flow.business_id.to_string())
        .bind(flow.direction.as_str())
        .bind(&flow.category)
        .bind(flow.status.as_str())
        .bind(flow.version)
        .bind(encode(flow))
        .bind(flow.id.to_string())
        .bind(flow.version - 1)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() == 0 {
            return Err(
                update_miss(&mut tx, "flows", Entity::Flow, flow.id, flow.version - 1).await,
            );
        }
        append_flow_upserted(&mut tx, flow).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_flow(&self, id: Uuid) -> Result<Removed, StoreError> {
        let mut tx = self.writer.begin().await?;
        let result = sqlx::query("DELETE FROM flows WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                entity: Entity::Flow,
                id,
            });
        }
        append_flows_removed(&mut tx, &[id]).await?;
        tx.commit().await?;
        Ok(Removed {
            site_ids: vec![],
            flow_ids: vec![id],
        })
    }

    async fn all_located_flows(&self) -> Result<Vec<LocatedFlow>, StoreError> {
        let rows = sqlx::query("SELECT f.id, f.doc, s.lat, s.lon FROM flows f JOIN sites s ON s.id = f.site_id ORDER BY f.id")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LocatedFlow {
                    flow: decode(Entity::Flow, r.get::<&str, _>(0), r.get::<&str, _>(1))?,
                    location: GeoPoint {
                        lat: r.get(2),
                        lon: r.get(3),
                    },
                })
            })
            .collect()
    }

    async fn all_decisions(&self) -> Result<Vec<MatchDecision>, StoreError> {
        let rows = sqlx::query("SELECT match_id, doc FROM match_decisions ORDER BY match_id")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                decode(
                    Entity::MatchDecision,
                    r.get::<&str, _>(0),
                    r.get::<&str, _>(1),
                )
            })
            .collect()
    }

    async fn save_decisions(&self, decisions: &[MatchDecision]) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for d in decisions {
            let id = d.match_id;
            let result = if d.version == 1 {
                sqlx::query(
                    "INSERT INTO match_decisions (match_id, offer_business_id, need_business_id, status, version, doc)
                     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (match_id) DO NOTHING",
                )
                .bind(id.to_string())
                .bind(d.offer_business_id.to_string())
                .bind(d.need_business_id.to_string())
                .bind(d.status.as_str())
                .bind(d.version)
                .bind(encode(d))
                .execute(&mut *tx)
                .await?
            } else {
                sqlx::query("UPDATE match_decisions SET status = ?, version = ?, doc = ? WHERE match_id = ? AND version = ?")
                    .bind(d.status.as_str())
                    .bind(d.version)
                    .bind(encode(d))
                    .bind(id.to_string())
                    .bind(d.version - 1)
                    .execute(&mut *tx)
                    .await?
            };
            if result.rows_affected() == 0 {
                let current: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM match_decisions WHERE match_id = ?")
                        .bind(id.to_string())
                        .fetch_optional(&mut *tx)
                        .await?;
                return Err(match current {
                    Some(current) => StoreError::VersionConflict {
                        entity: Entity::MatchDecision,
                        id,
                        expected: d.version - 1,
                        current,
                    },
                    None => StoreError::NotFound {
                        entity: Entity::MatchDecision,
                        id,
                    },
                });
            }
            append_event(
                &mut tx,
                &DomainEvent::MatchDecided {
                    decision: Box::new(d.clone()),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn outbox_pending(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        // Read through the writer so the relay never lags behind a commit it was told about.
        let rows = sqlx::query(
            "SELECT id, kind, version, occurred_at, payload, traceparent FROM outbox \
             ORDER BY seq LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await?;
        rows.iter()
            .map(|r| {
                outbox_entry(
                    r.get(0),
                    r.get(1),
                    r.get::<i64, _>(2),
                    r.get(3),
                    r.get(4),
                    r.get(5),
                )
            })
            .collect()
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
        let mut tx = self.writer.begin().await?;
        for b in businesses {
            insert_business_in(&mut tx, b).await?;
        }
        for s in sites {
            insert_site_in(&mut tx, s).await?;
        }
        for f in flows {
            insert_flow_in(&mut tx, f).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
