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
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, QueryBuilder, Row, Transaction};
use symbiont_core::events::{DomainEvent, OutboxEntry};
use symbiont_core::{Business, Flow, GeoPoint, MatchDecision, Site};
use uuid::Uuid;

use crate::codec::{decode, encode, insert_error, outbox_entry, page_of, parse_uuid};
use crate::{
    BusinessFilter, Counts, Entity, FlowFilter, LocatedFlow, Near, Page, PageRequest, Removed,
    SiteFilter, Store, StoreError,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

crate::accounts_sql::impl_account_store!(
    PostgresStore,
    Postgres,
    writer: |s| &s.pool,
    reader: |s| &s.pool,
    insert_business: insert_business_in
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

const POINT: &str = "ST_SetSRID(ST_MakePoint($lon, $lat), 4326)::geography";

fn point_sql(lon: &str, lat: &str) -> String {
    POINT.replace("$lon", lon).replace("$lat", lat)
}

/// Maps a lost race with a concurrent delete of the parent (foreign key violation) to the same
/// `NotFound` the up-front parent check gives; anything else as `insert_error` does.
fn child_insert_error(
    entity: Entity,
    id: Uuid,
    parent: Entity,
    parent_id: Uuid,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound {
            entity: parent,
            id: parent_id,
        },
        _ => insert_error(entity, id)(e),
    }
}

async fn append_event(
    tx: &mut Transaction<'_, Postgres>,
    event: &DomainEvent,
) -> Result<(), StoreError> {
    let entry = OutboxEntry::new(event);
    sqlx::query("INSERT INTO outbox (id, kind, version, occurred_at, payload, traceparent) VALUES ($1, $2, $3, $4::timestamptz, $5::jsonb, $6)")
        .bind(entry.id.to_string())
        .bind(&entry.kind)
        .bind(i32::try_from(entry.version).unwrap_or(i32::MAX))
        .bind(entry.occurred_at.to_rfc3339())
        .bind(entry.payload.to_string())
        .bind(&entry.traceparent)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn append_flow_upserted(
    tx: &mut Transaction<'_, Postgres>,
    flow: &Flow,
) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT lat, lon FROM sites WHERE id = $1")
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
    tx: &mut Transaction<'_, Postgres>,
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

async fn update_miss(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
    entity: Entity,
    id: Uuid,
    expected: i64,
) -> StoreError {
    let current: Result<Option<i64>, _> =
        sqlx::query_scalar(&format!("SELECT version FROM {table} WHERE id = $1"))
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

async fn insert_business_in(
    tx: &mut Transaction<'_, Postgres>,
    b: &Business,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO businesses (id, industry, version, doc) VALUES ($1, $2, $3, $4::jsonb)",
    )
    .bind(b.id.to_string())
    .bind(&b.industry)
    .bind(b.version)
    .bind(encode(b))
    .execute(&mut **tx)
    .await
    .map_err(insert_error(Entity::Business, b.id))?;
    Ok(())
}

async fn insert_site_in(tx: &mut Transaction<'_, Postgres>, s: &Site) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO sites (id, business_id, lat, lon, location, version, doc)
         SELECT $1, $2, $3, $4, {}, $5, $6::jsonb WHERE EXISTS (SELECT 1 FROM businesses WHERE id = $2)",
        point_sql("$4", "$3")
    );
    let result = sqlx::query(&sql)
        .bind(s.id.to_string())
        .bind(s.business_id.to_string())
        .bind(s.location.lat)
        .bind(s.location.lon)
        .bind(s.version)
        .bind(encode(s))
        .execute(&mut **tx)
        .await
        .map_err(child_insert_error(
            Entity::Site,
            s.id,
            Entity::Business,
            s.business_id,
        ))?;
    if result.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            entity: Entity::Business,
            id: s.business_id,
        });
    }
    Ok(())
}

async fn insert_flow_in(tx: &mut Transaction<'_, Postgres>, f: &Flow) -> Result<(), StoreError> {
    let result = sqlx::query(
        "INSERT INTO flows (id, site_id, business_id, direction, category, status, version, doc)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8::jsonb WHERE EXISTS (SELECT 1 FROM sites WHERE id = $2 AND business_id = $3)",
    )
    .bind(f.id.to_string())
    .bind(f.site_id.to_string())
    .bind(f.business_id.to_string())
    .bind(f.direction.as_str())
    .bind(&f.category)
    .bind(f.status.as_str())
    .bind(f.version)
    .bind(encode(f))
    .execute(&mut **tx)
    .await
    .map_err(child_insert_error(Entity::Flow, f.id, Entity::Site, f.site_id))?;
    if result.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            entity: Entity::Site,
            id: f.site_id,
        });
    }
    append_flow_upserted(tx, f).await
}

async fn ids_where(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
    column: &str,
    id: Uuid,
    entity: Entity,
) -> Result<Vec<Uuid>, StoreError> {
    let rows: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM {table} WHERE {column} = $1 ORDER BY id"
    ))
    .bind(id.to_string())
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|r| parse_uuid(entity, r)).collect()
}

fn push_near(query: &mut QueryBuilder<'_, Postgres>, near: &Near, site_alias: &str) {
    query.push(format!(
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
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM businesses), (SELECT count(*) FROM sites),
                    (SELECT count(*) FROM flows WHERE direction = 'offer'),
                    (SELECT count(*) FROM flows WHERE direction = 'need')",
        )
        .fetch_one(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        insert_business_in(&mut tx, business).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_business(&self, id: Uuid) -> Result<Option<Business>, StoreError> {
        let doc: Option<String> =
            sqlx::query_scalar("SELECT doc::text FROM businesses WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        doc.map(|d| decode(Entity::Business, &id.to_string(), &d))
            .transpose()
    }

    async fn list_businesses(
        &self,
        filter: &BusinessFilter,
        page: PageRequest,
    ) -> Result<Page<Business>, StoreError> {
        let mut query =
            QueryBuilder::<Postgres>::new("SELECT id, doc::text FROM businesses WHERE TRUE");
        if let Some(after) = page.after {
            query.push(" AND id > ").push_bind(after.to_string());
        }
        if let Some(industry) = &filter.industry {
            query.push(" AND (industry = ").push_bind(industry.clone());
            query
                .push(" OR industry LIKE ")
                .push_bind(format!("{industry}%"))
                .push(")");
        }
        query
            .push(" ORDER BY id LIMIT ")
            .push_bind(i64::from(page.limit) + 1);
        let rows = query.build().fetch_all(&self.pool).await?;
        let items = rows
            .iter()
            .map(|r| decode::<Business>(Entity::Business, r.get::<&str, _>(0), r.get::<&str, _>(1)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page_of(items, page.limit, |b| b.id))
    }

    async fn update_business(&self, business: &Business) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query("UPDATE businesses SET industry = $1, version = $2, doc = $3::jsonb WHERE id = $4 AND version = $5")
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
        let mut tx = self.pool.begin().await?;
        // Locking the business and its sites makes concurrent site and flow inserts under them
        // wait for this delete (their foreign-key checks share-lock the parent), so the ids read
        // next are all the cascade removes.
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM businesses WHERE id = $1 FOR UPDATE")
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
        let removed = Removed {
            site_ids: ids_where(&mut tx, "sites", "business_id", id, Entity::Site).await?,
            flow_ids: ids_where(&mut tx, "flows", "business_id", id, Entity::Flow).await?,
        };
        let result = sqlx::query("DELETE FROM businesses WHERE id = $1")
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
        let mut tx = self.pool.begin().await?;
        insert_site_in(&mut tx, site).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_site(&self, id: Uuid) -> Result<Option<Site>, StoreError> {
        let doc: Option<String> = sqlx::query_scalar("SELECT doc::text FROM sites WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        doc.map(|d| decode(Entity::Site, &id.to_string(), &d))
            .transpose()
    }

    async fn list_sites(
        &self,
        filter: &SiteFilter,
        page: PageRequest,
    ) -> Result<Page<Site>, StoreError> {
        let mut query =
            QueryBuilder::<Postgres>::new("SELECT s.id, s.doc::text FROM sites s WHERE TRUE");
        if let Some(after) = page.after {
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
            .push_bind(i64::from(page.limit) + 1);
        let rows = query.build().fetch_all(&self.pool).await?;
        let items = rows
            .iter()
            .map(|r| decode::<Site>(Entity::Site, r.get::<&str, _>(0), r.get::<&str, _>(1)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page_of(items, page.limit, |s| s.id))
    }

    async fn update_site(&self, site: &Site) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let before = sqlx::query("SELECT lat, lon FROM sites WHERE id = $1 FOR UPDATE")
            .bind(site.id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| GeoPoint {
                lat: row.get(0),
                lon: row.get(1),
            });
        let sql = format!(
            "UPDATE sites SET lat = $1, lon = $2, location = {}, version = $3, doc = $4::jsonb
             WHERE id = $5 AND business_id = $6 AND version = $7",
            point_sql("$2", "$1")
        );
        let result = sqlx::query(&sql)
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
        let mut tx = self.pool.begin().await?;
        // As in `delete_business`: concurrent flow inserts on this site wait for the delete.
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM sites WHERE id = $1 FOR UPDATE")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound {
                entity: Entity::Site,
                id,
            });
        }
        let removed = Removed {
            site_ids: vec![id],
            flow_ids: ids_where(&mut tx, "flows", "site_id", id, Entity::Flow).await?,
        };
        let result = sqlx::query("DELETE FROM sites WHERE id = $1")
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
        let mut tx = self.pool.begin().await?;
        insert_flow_in(&mut tx, flow).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_flow(&self, id: Uuid) -> Result<Option<Flow>, StoreError> {
        let doc: Option<String> = sqlx::query_scalar("SELECT doc::text FROM flows WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        doc.map(|d| decode(Entity::Flow, &id.to_string(), &d))
            .transpose()
    }

    async fn list_flows(
        &self,
        filter: &FlowFilter,
        page: PageRequest,
    ) -> Result<Page<Flow>, StoreError> {
        let mut query = QueryBuilder::<Postgres>::new(
            "SELECT f.id, f.doc::text FROM flows f JOIN sites s ON s.id = f.site_id WHERE TRUE",
        );
        if let Some(after) = page.after {
            query.push(" AND f.id > ").push_bind(after.to_string());
        }
        if let Some(direction) = filter.direction {
            query
                .push(" AND f.direction = ")
                .push_bind(direction.as_str());
        }
        if let Some(category) = &filter.category {
            query
                .push(" AND (f.category = ")
                .push_bind(category.clone());
            query
                .push(" OR f.category LIKE ")
                .push_bind(format!("{category}.%"))
                .push(")");
        }
        if let Some(business) = filter.business_id {
            query
                .push(" AND f.business_id = ")
                .push_bind(business.to_string());
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
            query.push(" AND (COALESCE((f.doc->>'anonymous')::boolean, FALSE) = FALSE OR f.business_id = ANY(");
            query.push_bind(own.iter().map(Uuid::to_string).collect::<Vec<_>>());
            query.push("))");
        }
        query
            .push(" ORDER BY f.id LIMIT ")
            .push_bind(i64::from(page.limit) + 1);
        let rows = query.build().fetch_all(&self.pool).await?;
        let items = rows
            .iter()
            .map(|r| decode::<Flow>(Entity::Flow, r.get::<&str, _>(0), r.get::<&str, _>(1)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page_of(items, page.limit, |f| f.id))
    }

    async fn update_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // The share lock keeps the site (and the location the event carries) from being deleted
        // or moved until this update commits.
        let exists: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM sites WHERE id = $1 AND business_id = $2 FOR KEY SHARE",
        )
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
            "UPDATE flows SET site_id = $1, business_id = $2, direction = $3, category = $4, status = $5, version = $6,
             doc = $7::jsonb WHERE id = $8 AND version = $9",
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
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query("DELETE FROM flows WHERE id = $1")
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
        let rows = sqlx::query("SELECT f.id, f.doc::text, s.lat, s.lon FROM flows f JOIN sites s ON s.id = f.site_id ORDER BY f.id")
            .fetch_all(&self.pool)
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
        let rows = sqlx::query("SELECT match_id, doc::text FROM match_decisions ORDER BY match_id")
            .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        for d in decisions {
            let id = d.match_id;
            let result = if d.version == 1 {
                sqlx::query(
                    "INSERT INTO match_decisions (match_id, offer_business_id, need_business_id, status, version, doc)
                     VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (match_id) DO NOTHING",
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
                sqlx::query("UPDATE match_decisions SET status = $1, version = $2, doc = $3::jsonb WHERE match_id = $4 AND version = $5")
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
                    sqlx::query_scalar("SELECT version FROM match_decisions WHERE match_id = $1")
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
        let rows = sqlx::query(
            "SELECT id, kind, version, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), payload::text, traceparent
             FROM outbox ORDER BY seq LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                outbox_entry(
                    r.get(0),
                    r.get(1),
                    i64::from(r.get::<i32, _>(2)),
                    r.get(3),
                    r.get(4),
                    r.get(5),
                )
            })
            .collect()
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
        let mut tx = self.pool.begin().await?;
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
