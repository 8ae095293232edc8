//! The Store port in SQL that SQLite and PostgreSQL both accept, written once and run by both
//! adapters (as [`crate::accounts_sql`] does for accounts): `$n` parameters (SQLite takes them as
//! numbered ones, so a repeated `$2` binds one value), TEXT ids, `ON CONFLICT`, `WHERE TRUE`.
//!
//! What genuinely differs between the two databases is asked of [`Dialect`], which each adapter
//! implements: JSONB and time casts, the PostGIS `location` column (SQLite's R*Tree is kept by
//! triggers), row locks, the `near` and anonymity filters. Each adapter keeps its pools, its paging
//! of `near` results and the steps only one database needs (PostgreSQL's locks before a cascading
//! delete, its `= ANY` outbox delete). Nothing here may be SQL that only one of them accepts.
//!
//! Statements are put together per call from the dialect's pieces (a `format!`, cheap next to the
//! round trip); the text comes out the same each time, so each connection's statement cache still
//! prepares it once.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use futures_util::TryStreamExt;
use serde::de::DeserializeOwned;
use sqlx::error::BoxDynError;
use sqlx::{
    Arguments, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row,
    Transaction, Type,
};
use symbiont_core::events::{DomainEvent, OutboxEntry};
use symbiont_core::{Business, Flow, GeoPoint, MatchDecision, Site};
use uuid::Uuid;

use crate::codec::{
    child_insert_error, decode, encode, encode_flow, insert_error, outbox_entry, page_of,
    parse_uuid,
};
use crate::{
    BusinessFilter, Counts, Entity, FlowFilter, LocatedFlow, Near, Page, PageRequest, Removed,
    SiteFilter, SitePlace, StoreError,
};

/// What one database writes differently in the statements of [`Sql`].
pub(crate) trait Dialect: Database {
    /// Appended to a `$n` that carries a JSON document as text, where documents are not text.
    const AS_JSON: &'static str;
    /// Appended to a document column read back, so that it arrives as JSON text.
    const JSON_AS_TEXT: &'static str;
    /// Appended to a `$n` that carries an RFC 3339 time, where times are not text.
    const AS_TIME: &'static str;
    /// The outbox columns in the order [`outbox_entry`] takes them: `id`, `kind`, `version` as a
    /// 64-bit integer, `occurred_at` as RFC 3339 text, `payload` as JSON text, `traceparent`.
    const OUTBOX_COLUMNS: &'static str;
    /// Appended to the read of a row the write goes on to change, so that no concurrent writer
    /// changes it in between; empty where one writer already serialises all writes.
    const FOR_UPDATE: &'static str;
    /// Appended to the read of a parent row a write relies on, so that it is neither deleted nor
    /// re-keyed before the write commits; empty where one writer already serialises all writes.
    const FOR_KEY_SHARE: &'static str;
    /// Appended to the read of outbox rows to claim, so that concurrent relays take disjoint rows
    /// instead of waiting for each other; empty where one writer already serialises all writes.
    const SKIP_LOCKED: &'static str;
    /// The statement that makes the rest of a transaction read one snapshot, where its reads
    /// would otherwise each see the latest commits.
    const ONE_SNAPSHOT: Option<&'static str>;

    /// Rows a statement wrote (sqlx has no common trait for it).
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// The value of a site's `location` column from the parameters holding its latitude and
    /// longitude (e.g. `$3`, `$4`); `None` where sites have no such column.
    fn site_location(lat: &str, lon: &str) -> Option<String>;

    /// Narrows a query over sites aliased `site_alias` to those near `near`. It may let through
    /// sites a little farther away (a bounding box); the adapter then checks the exact distance.
    fn push_near(query: &mut Select<'_, Self>, near: &Near, site_alias: &str);

    /// Narrows a query over flows aliased `f` to the ones that are not anonymous or belong to one
    /// of the businesses `own`.
    fn push_visible_to(query: &mut Select<'_, Self>, own: &[Uuid]);
}

/// A `SELECT` put together piece by piece with its parameters, as with sqlx's `QueryBuilder`. In
/// code generic over the database, a query built by `QueryBuilder` keeps the builder borrowed for
/// the whole lifetime of its arguments, past the point where the builder is dropped (the compiler
/// cannot see that the driver's arguments may dangle there), so it does not compile; this one is
/// taken apart into its SQL text and arguments instead ([`Select::into_parts`]).
pub(crate) struct Select<'q, DB: Database> {
    sql: String,
    args: DB::Arguments<'q>,
    /// The first parameter that could not be encoded; the query then does not run.
    bind_error: Option<BoxDynError>,
}

impl<'q, DB: Database> Select<'q, DB> {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            args: Default::default(),
            bind_error: None,
        }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder in the database's style (`?`, `$n`) and binds `value` to it.
    pub(crate) fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + Encode<'q, DB> + Type<DB>,
    {
        if let Err(e) = self.args.add(value) {
            self.bind_error.get_or_insert(e);
        }
        self.args
            .format_placeholder(&mut self.sql)
            .expect("writing to a String cannot fail");
        self
    }

    /// The SQL text and its arguments, or why a parameter could not be encoded.
    pub(crate) fn into_parts(self) -> Result<(String, DB::Arguments<'q>), sqlx::Error> {
        match self.bind_error {
            Some(e) => Err(sqlx::Error::Encode(e)),
            None => Ok((self.sql, self.args)),
        }
    }
}

/// The shared statements for the database `DB` (adapters name it `Sql<Sqlite>`, `Sql<Postgres>`).
pub(crate) struct Sql<DB>(PhantomData<DB>);

impl<DB> Sql<DB>
where
    DB: Dialect,
    // What the statements need of the driver, stated once here rather than on every function;
    // sqlx's SQLite and PostgreSQL drivers give all of it.
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    usize: ColumnIndex<DB::Row>,
    for<'q> &'q str: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> f64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
{
    // ---- reads ----

    pub(crate) async fn counts(pool: &Pool<DB>) -> Result<Counts, StoreError> {
        let row = sqlx::query::<DB>(
            "SELECT (SELECT count(*) FROM businesses), (SELECT count(*) FROM sites),
                    (SELECT count(*) FROM flows WHERE direction = 'offer'),
                    (SELECT count(*) FROM flows WHERE direction = 'need')",
        )
        .fetch_one(pool)
        .await?;
        let get = |i: usize| row.try_get::<i64, _>(i).map(|v| v.max(0) as u64);
        Ok(Counts {
            businesses: get(0)?,
            sites: get(1)?,
            offers: get(2)?,
            needs: get(3)?,
        })
    }

    /// The document of the row `id` of `table` (`businesses`, `sites` or `flows`).
    pub(crate) async fn get<T: DeserializeOwned>(
        pool: &Pool<DB>,
        table: &str,
        entity: Entity,
        id: Uuid,
    ) -> Result<Option<T>, StoreError> {
        let sql = format!("SELECT doc{} FROM {table} WHERE id = $1", DB::JSON_AS_TEXT);
        let row = sqlx::query::<DB>(&sql)
            .bind(id.to_string())
            .fetch_optional(pool)
            .await?;
        row.map(|r| decode(entity, &id.to_string(), r.get::<&str, _>(0)))
            .transpose()
    }

    /// The documents of `ids` that exist, in id order: one statement, `id IN ($1, …)`, in chunks
    /// small enough for SQLite's limit on parameters.
    pub(crate) async fn get_many<T: DeserializeOwned>(
        pool: &Pool<DB>,
        table: &str,
        entity: Entity,
        ids: &[Uuid],
    ) -> Result<Vec<T>, StoreError> {
        const CHUNK: usize = 500;
        let mut ids: Vec<Uuid> = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let mut query = Select::<DB>::new(format!(
                "SELECT id, doc{} FROM {table} WHERE id IN (",
                DB::JSON_AS_TEXT
            ));
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    query.push(", ");
                }
                query.push_bind(id.to_string());
            }
            query.push(") ORDER BY id");
            let (sql, args) = query.into_parts()?;
            let rows = sqlx::query_with(&sql, args).fetch_all(pool).await?;
            for row in &rows {
                found.push(document(entity, row)?);
            }
        }
        Ok(found)
    }

    pub(crate) async fn list_businesses(
        pool: &Pool<DB>,
        filter: &BusinessFilter,
        page: PageRequest,
    ) -> Result<Page<Business>, StoreError> {
        let mut query = Select::<DB>::new(format!(
            "SELECT id, doc{} FROM businesses WHERE TRUE",
            DB::JSON_AS_TEXT
        ));
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
        let (sql, args) = query.into_parts()?;
        let rows = sqlx::query_with(&sql, args).fetch_all(pool).await?;
        let items = rows
            .iter()
            .map(|r| document(Entity::Business, r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page_of(items, page.limit, |b| b.id))
    }

    /// Up to `limit` sites matching `filter` with ids above `after`, in id order; the adapter
    /// pages them.
    pub(crate) async fn sites_after(
        pool: &Pool<DB>,
        filter: &SiteFilter,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Site>, StoreError> {
        let mut query = Select::<DB>::new(format!(
            "SELECT s.id, s.doc{} FROM sites s WHERE TRUE",
            DB::JSON_AS_TEXT
        ));
        if let Some(after) = after {
            query.push(" AND s.id > ").push_bind(after.to_string());
        }
        if let Some(business) = filter.business_id {
            query
                .push(" AND s.business_id = ")
                .push_bind(business.to_string());
        }
        if let Some(near) = &filter.near {
            DB::push_near(&mut query, near, "s");
        }
        query.push(" ORDER BY s.id LIMIT ").push_bind(limit);
        let (sql, args) = query.into_parts()?;
        let rows = sqlx::query_with(&sql, args).fetch_all(pool).await?;
        rows.iter().map(|r| document(Entity::Site, r)).collect()
    }

    /// Every site's id, business, place and industry, in id order: columns only, no document.
    pub(crate) async fn site_places(pool: &Pool<DB>) -> Result<Vec<SitePlace>, StoreError> {
        let rows = sqlx::query::<DB>(
            "SELECT s.id, s.business_id, s.lat, s.lon, b.industry
             FROM sites s JOIN businesses b ON b.id = s.business_id ORDER BY s.id",
        )
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(0)?;
                let business: String = row.try_get(1)?;
                Ok(SitePlace {
                    id: parse_uuid(Entity::Site, &id)?,
                    business_id: parse_uuid(Entity::Business, &business)?,
                    location: GeoPoint {
                        lat: row.try_get(2)?,
                        lon: row.try_get(3)?,
                    },
                    industry: row.try_get(4)?,
                })
            })
            .collect()
    }

    /// Up to `limit` flows matching `filter` with ids above `after`, in id order, each with its
    /// site's location; the adapter pages them.
    pub(crate) async fn flows_after(
        pool: &Pool<DB>,
        filter: &FlowFilter,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<LocatedFlow>, StoreError> {
        let mut query = Select::<DB>::new(format!(
            "SELECT f.id, f.doc{}, s.lat, s.lon FROM flows f JOIN sites s ON s.id = f.site_id WHERE TRUE",
            DB::JSON_AS_TEXT
        ));
        if let Some(after) = after {
            query.push(" AND f.id > ").push_bind(after.to_string());
        }
        if let Some(direction) = filter.direction {
            query
                .push(" AND f.direction = ")
                .push_bind(direction.as_str());
        }
        if let Some(category) = &filter.category {
            // A family prefix such as `heat` also selects `heat.low_temp`.
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
            DB::push_near(&mut query, near, "s");
        }
        if let Some(own) = &filter.hide_anonymous_except {
            DB::push_visible_to(&mut query, own);
        }
        query.push(" ORDER BY f.id LIMIT ").push_bind(limit);
        let (sql, args) = query.into_parts()?;
        let rows = sqlx::query_with(&sql, args).fetch_all(pool).await?;
        rows.iter().map(located_flow).collect()
    }

    /// Streams the rows; each full batch is parsed on every core (a blocking task) while the next
    /// one is read, and handed to `each` in order (the flows' storage order, not their ids').
    ///
    /// The sites' locations are read first into a map and the flows table is scanned on its own,
    /// both in one transaction (one snapshot): joining each flow row to its site in SQL costs two
    /// index searches per flow in SQLite, and the reading thread is what bounds a start-up.
    pub(crate) async fn located_flows_in_batches(
        pool: &Pool<DB>,
        batch: usize,
        each: &mut (dyn FnMut(Vec<LocatedFlow>) + Send),
    ) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        if let Some(snapshot) = DB::ONE_SNAPSHOT {
            sqlx::query::<DB>(snapshot).execute(&mut *tx).await?;
        }
        let site_rows = sqlx::query::<DB>("SELECT id, lat, lon FROM sites")
            .fetch_all(&mut *tx)
            .await?;
        let mut sites = HashMap::with_capacity(site_rows.len());
        for row in &site_rows {
            let id: &str = row.try_get(0)?;
            let location = GeoPoint {
                lat: row.try_get(1)?,
                lon: row.try_get(2)?,
            };
            sites.insert(parse_uuid(Entity::Site, id)?, location);
        }
        drop(site_rows);
        let sites = Arc::new(sites);
        let sql = format!("SELECT id, doc{} FROM flows", DB::JSON_AS_TEXT);
        let batch = batch.max(1);
        {
            let mut rows = sqlx::query::<DB>(&sql).fetch(&mut *tx);
            let mut pending = Vec::with_capacity(batch);
            let mut parsing = None;
            while let Some(row) = rows.try_next().await? {
                pending.push(row);
                if pending.len() == batch {
                    let full = std::mem::replace(&mut pending, Vec::with_capacity(batch));
                    let next = parse_in_background(full, Arc::clone(&sites));
                    if let Some(previous) = parsing.replace(next) {
                        each(parsed(previous).await?);
                    }
                }
            }
            if let Some(previous) = parsing.take() {
                each(parsed(previous).await?);
            }
            if !pending.is_empty() {
                each(located_flows(&pending, &sites)?);
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn all_decisions(pool: &Pool<DB>) -> Result<Vec<MatchDecision>, StoreError> {
        let sql = format!(
            "SELECT match_id, doc{} FROM match_decisions ORDER BY match_id",
            DB::JSON_AS_TEXT
        );
        let rows = sqlx::query::<DB>(&sql).fetch_all(pool).await?;
        rows.iter()
            .map(|r| document(Entity::MatchDecision, r))
            .collect()
    }

    /// Claims the oldest `limit` outbox entries nobody holds (unclaimed, or their claim ended
    /// before `now_ms`) until `until_ms`, and returns them in commit order. One statement, so two
    /// relays never claim the same row (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the single
    /// writer).
    pub(crate) async fn outbox_claim(
        pool: &Pool<DB>,
        limit: u32,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let sql = format!(
            "UPDATE outbox SET claimed_until = $1 WHERE seq IN (
                SELECT seq FROM outbox WHERE claimed_until IS NULL OR claimed_until < $2
                ORDER BY seq LIMIT $3{}
             ) RETURNING {}, seq",
            DB::SKIP_LOCKED,
            DB::OUTBOX_COLUMNS
        );
        let mut rows = sqlx::query::<DB>(&sql)
            .bind(until_ms)
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
        // RETURNING follows no order; the relay publishes in commit order.
        rows.sort_by_key(|r| r.get::<i64, _>(6));
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

    /// Gives claimed entries back at once (the bus refused them), so the next relay round, here
    /// or on another instance, need not wait for the claim to end.
    pub(crate) async fn outbox_release(pool: &Pool<DB>, ids: &[Uuid]) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        for id in ids {
            sqlx::query::<DB>("UPDATE outbox SET claimed_until = NULL WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- writes: each whole write is one transaction on `pool` ----

    pub(crate) async fn insert_business(pool: &Pool<DB>, b: &Business) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        Self::insert_business_in(&mut tx, b).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn insert_site(pool: &Pool<DB>, s: &Site) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        Self::insert_site_in(&mut tx, s).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn insert_flow(pool: &Pool<DB>, f: &Flow) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        Self::insert_flow_in(&mut tx, f).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A whole dataset in one transaction: all or nothing.
    pub(crate) async fn insert_batch(
        pool: &Pool<DB>,
        businesses: &[Business],
        sites: &[Site],
        flows: &[Flow],
    ) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        for b in businesses {
            Self::insert_business_in(&mut tx, b).await?;
        }
        for s in sites {
            Self::insert_site_in(&mut tx, s).await?;
        }
        for f in flows {
            Self::insert_flow_in(&mut tx, f).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn update_business(pool: &Pool<DB>, b: &Business) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        let sql = format!(
            "UPDATE businesses SET industry = $1, version = $2, doc = $3{} WHERE id = $4 AND version = $5",
            DB::AS_JSON
        );
        let result = sqlx::query::<DB>(&sql)
            .bind(&b.industry)
            .bind(b.version)
            .bind(encode(b))
            .bind(b.id.to_string())
            .bind(b.version - 1)
            .execute(&mut *tx)
            .await?;
        if DB::rows_affected(&result) == 0 {
            return Err(Self::update_miss(
                &mut tx,
                "businesses",
                "id",
                Entity::Business,
                b.id,
                b.version - 1,
            )
            .await);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Updates the site and, when it moved, appends `site.moved`.
    pub(crate) async fn update_site(pool: &Pool<DB>, site: &Site) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        let before = sqlx::query::<DB>(&format!(
            "SELECT lat, lon FROM sites WHERE id = $1{}",
            DB::FOR_UPDATE
        ))
        .bind(site.id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| GeoPoint {
            lat: row.get(0),
            lon: row.get(1),
        });
        let location = DB::site_location("$1", "$2")
            .map(|value| format!(" location = {value},"))
            .unwrap_or_default();
        let sql = format!(
            "UPDATE sites SET lat = $1, lon = $2,{location} version = $3, doc = $4{}
             WHERE id = $5 AND business_id = $6 AND version = $7",
            DB::AS_JSON
        );
        let result = sqlx::query::<DB>(&sql)
            .bind(site.location.lat)
            .bind(site.location.lon)
            .bind(site.version)
            .bind(encode(site))
            .bind(site.id.to_string())
            .bind(site.business_id.to_string())
            .bind(site.version - 1)
            .execute(&mut *tx)
            .await?;
        if DB::rows_affected(&result) == 0 {
            return Err(Self::update_miss(
                &mut tx,
                "sites",
                "id",
                Entity::Site,
                site.id,
                site.version - 1,
            )
            .await);
        }
        if before != Some(site.location) {
            Self::append_event(
                &mut tx,
                &DomainEvent::SiteMoved {
                    site_id: site.id,
                    location: site.location,
                    version: site.version,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Updates the flow (its site must belong to its business) and appends `flow.upserted`.
    pub(crate) async fn update_flow(pool: &Pool<DB>, flow: &Flow) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        // Under `FOR_KEY_SHARE` the site (and the location the event carries) stays until this
        // update commits.
        let site = sqlx::query::<DB>(&format!(
            "SELECT 1 FROM sites WHERE id = $1 AND business_id = $2{}",
            DB::FOR_KEY_SHARE
        ))
        .bind(flow.site_id.to_string())
        .bind(flow.business_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if site.is_none() {
            return Err(StoreError::NotFound {
                entity: Entity::Site,
                id: flow.site_id,
            });
        }
        let sql = format!(
            "UPDATE flows SET site_id = $1, business_id = $2, direction = $3, category = $4, status = $5,
             version = $6, doc = $7{} WHERE id = $8 AND version = $9",
            DB::AS_JSON
        );
        let result = sqlx::query::<DB>(&sql)
            .bind(flow.site_id.to_string())
            .bind(flow.business_id.to_string())
            .bind(flow.direction.as_str())
            .bind(&flow.category)
            .bind(flow.status.as_str())
            .bind(flow.version)
            .bind(encode_flow(flow))
            .bind(flow.id.to_string())
            .bind(flow.version - 1)
            .execute(&mut *tx)
            .await?;
        if DB::rows_affected(&result) == 0 {
            return Err(Self::update_miss(
                &mut tx,
                "flows",
                "id",
                Entity::Flow,
                flow.id,
                flow.version - 1,
            )
            .await);
        }
        Self::append_flow_upserted(&mut tx, flow).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes the business (its sites and flows go by cascade) and appends `flows.removed`.
    /// Within the caller's transaction, so that it can lock first where writers run concurrently.
    pub(crate) async fn delete_business_in(
        tx: &mut Transaction<'_, DB>,
        id: Uuid,
    ) -> Result<Removed, StoreError> {
        let removed = Removed {
            site_ids: Self::ids_where(tx, "sites", "business_id", id, Entity::Site).await?,
            flow_ids: Self::ids_where(tx, "flows", "business_id", id, Entity::Flow).await?,
        };
        Self::delete_row(tx, "businesses", Entity::Business, id).await?;
        Self::append_flows_removed(tx, &removed.flow_ids).await?;
        Ok(removed)
    }

    /// Deletes the site (its flows go by cascade) and appends `flows.removed`. Within the caller's
    /// transaction, as [`Self::delete_business_in`].
    pub(crate) async fn delete_site_in(
        tx: &mut Transaction<'_, DB>,
        id: Uuid,
    ) -> Result<Removed, StoreError> {
        let removed = Removed {
            site_ids: vec![id],
            flow_ids: Self::ids_where(tx, "flows", "site_id", id, Entity::Flow).await?,
        };
        Self::delete_row(tx, "sites", Entity::Site, id).await?;
        Self::append_flows_removed(tx, &removed.flow_ids).await?;
        Ok(removed)
    }

    pub(crate) async fn delete_flow(pool: &Pool<DB>, id: Uuid) -> Result<Removed, StoreError> {
        let mut tx = pool.begin().await?;
        Self::delete_row(&mut tx, "flows", Entity::Flow, id).await?;
        Self::append_flows_removed(&mut tx, &[id]).await?;
        tx.commit().await?;
        Ok(Removed {
            site_ids: vec![],
            flow_ids: vec![id],
        })
    }

    /// Saves decisions in one transaction: version 1 inserts, version n replaces version n - 1.
    pub(crate) async fn save_decisions(
        pool: &Pool<DB>,
        decisions: &[MatchDecision],
    ) -> Result<Vec<StoreError>, StoreError> {
        let mut tx = pool.begin().await?;
        let mut conflicts = Vec::new();
        let insert = format!(
            "INSERT INTO match_decisions (match_id, offer_business_id, need_business_id, status, version, doc)
             VALUES ($1, $2, $3, $4, $5, $6{}) ON CONFLICT (match_id) DO NOTHING",
            DB::AS_JSON
        );
        let update = format!(
            "UPDATE match_decisions SET status = $1, version = $2, doc = $3{} WHERE match_id = $4 AND version = $5",
            DB::AS_JSON
        );
        for d in decisions {
            let id = d.match_id;
            // Each decision in a savepoint of its own: one that lost a version race is rolled
            // back alone, and the others (expiries of unrelated matches) are still saved.
            sqlx::query::<DB>("SAVEPOINT decision")
                .execute(&mut *tx)
                .await?;
            let result = if d.version == 1 {
                sqlx::query::<DB>(&insert)
                    .bind(id.to_string())
                    .bind(d.offer_business_id.to_string())
                    .bind(d.need_business_id.to_string())
                    .bind(d.status.as_str())
                    .bind(d.version)
                    .bind(encode(d))
                    .execute(&mut *tx)
                    .await?
            } else {
                sqlx::query::<DB>(&update)
                    .bind(d.status.as_str())
                    .bind(d.version)
                    .bind(encode(d))
                    .bind(id.to_string())
                    .bind(d.version - 1)
                    .execute(&mut *tx)
                    .await?
            };
            if DB::rows_affected(&result) == 0 {
                let miss = Self::update_miss(
                    &mut tx,
                    "match_decisions",
                    "match_id",
                    Entity::MatchDecision,
                    id,
                    d.version - 1,
                )
                .await;
                sqlx::query::<DB>("ROLLBACK TO SAVEPOINT decision")
                    .execute(&mut *tx)
                    .await?;
                match miss {
                    conflict @ StoreError::VersionConflict { .. } => {
                        conflicts.push(conflict);
                        continue;
                    }
                    other => return Err(other),
                }
            }
            Self::append_event(
                &mut tx,
                &DomainEvent::MatchDecided {
                    decision: Box::new(d.clone()),
                },
            )
            .await?;
            sqlx::query::<DB>("RELEASE SAVEPOINT decision")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(conflicts)
    }

    // ---- pieces of a write, within its transaction ----

    /// Inserts the business (also the first step of `AccountStore::insert_business_owned_by`).
    pub(crate) async fn insert_business_in(
        tx: &mut Transaction<'_, DB>,
        b: &Business,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO businesses (id, industry, version, doc) VALUES ($1, $2, $3, $4{})",
            DB::AS_JSON
        );
        sqlx::query::<DB>(&sql)
            .bind(b.id.to_string())
            .bind(&b.industry)
            .bind(b.version)
            .bind(encode(b))
            .execute(&mut **tx)
            .await
            .map_err(insert_error(Entity::Business, b.id))?;
        Ok(())
    }

    /// Inserts the site if its business exists (`NotFound` for the business otherwise).
    async fn insert_site_in(tx: &mut Transaction<'_, DB>, s: &Site) -> Result<(), StoreError> {
        let (location_column, location_value) = match DB::site_location("$3", "$4") {
            Some(value) => (", location", format!(", {value}")),
            None => ("", String::new()),
        };
        let sql = format!(
            "INSERT INTO sites (id, business_id, lat, lon{location_column}, version, doc)
             SELECT $1, $2, $3, $4{location_value}, $5, $6{}
             WHERE EXISTS (SELECT 1 FROM businesses WHERE id = $2)",
            DB::AS_JSON
        );
        let result = sqlx::query::<DB>(&sql)
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
        if DB::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound {
                entity: Entity::Business,
                id: s.business_id,
            });
        }
        Ok(())
    }

    /// Inserts the flow if its site exists under its business (`NotFound` for the site
    /// otherwise) and appends `flow.upserted`.
    async fn insert_flow_in(tx: &mut Transaction<'_, DB>, f: &Flow) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO flows (id, site_id, business_id, direction, category, status, version, doc)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8{}
             WHERE EXISTS (SELECT 1 FROM sites WHERE id = $2 AND business_id = $3)",
            DB::AS_JSON
        );
        let result = sqlx::query::<DB>(&sql)
            .bind(f.id.to_string())
            .bind(f.site_id.to_string())
            .bind(f.business_id.to_string())
            .bind(f.direction.as_str())
            .bind(&f.category)
            .bind(f.status.as_str())
            .bind(f.version)
            .bind(encode_flow(f))
            .execute(&mut **tx)
            .await
            .map_err(child_insert_error(
                Entity::Flow,
                f.id,
                Entity::Site,
                f.site_id,
            ))?;
        if DB::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound {
                entity: Entity::Site,
                id: f.site_id,
            });
        }
        Self::append_flow_upserted(tx, f).await
    }

    /// Deletes the row `id` of `table`; `NotFound` when there was none.
    async fn delete_row(
        tx: &mut Transaction<'_, DB>,
        table: &str,
        entity: Entity,
        id: Uuid,
    ) -> Result<(), StoreError> {
        let result = sqlx::query::<DB>(&format!("DELETE FROM {table} WHERE id = $1"))
            .bind(id.to_string())
            .execute(&mut **tx)
            .await?;
        if DB::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound { entity, id });
        }
        Ok(())
    }

    /// Ids of rows of `table` matching `column = id`, for reporting what a cascade removes.
    async fn ids_where(
        tx: &mut Transaction<'_, DB>,
        table: &str,
        column: &str,
        id: Uuid,
        entity: Entity,
    ) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query::<DB>(&format!(
            "SELECT id FROM {table} WHERE {column} = $1 ORDER BY id"
        ))
        .bind(id.to_string())
        .fetch_all(&mut **tx)
        .await?;
        rows.iter()
            .map(|r| crate::codec::parse_uuid(entity, r.get::<&str, _>(0)))
            .collect()
    }

    /// After an `UPDATE ... WHERE {key} = $n AND version = $m` touched no row: was the row
    /// missing or newer?
    async fn update_miss(
        tx: &mut Transaction<'_, DB>,
        table: &str,
        key: &str,
        entity: Entity,
        id: Uuid,
        expected: i64,
    ) -> StoreError {
        let current = sqlx::query::<DB>(&format!("SELECT version FROM {table} WHERE {key} = $1"))
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await
            .and_then(|row| row.map(|r| r.try_get::<i64, _>(0)).transpose());
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
        tx: &mut Transaction<'_, DB>,
        event: &DomainEvent,
    ) -> Result<(), StoreError> {
        let entry = OutboxEntry::new(event);
        let sql = format!(
            "INSERT INTO outbox (id, kind, version, occurred_at, payload, traceparent)
             VALUES ($1, $2, $3, $4{}, $5{}, $6)",
            DB::AS_TIME,
            DB::AS_JSON
        );
        sqlx::query::<DB>(&sql)
            .bind(entry.id.to_string())
            .bind(&entry.kind)
            .bind(i64::from(entry.version))
            .bind(entry.occurred_at.to_rfc3339())
            .bind(entry.payload.to_string())
            .bind(entry.traceparent)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// `flow.upserted` for a flow just written, with its site's location.
    async fn append_flow_upserted(
        tx: &mut Transaction<'_, DB>,
        flow: &Flow,
    ) -> Result<(), StoreError> {
        let row = sqlx::query::<DB>("SELECT lat, lon FROM sites WHERE id = $1")
            .bind(flow.site_id.to_string())
            .fetch_one(&mut **tx)
            .await?;
        let location = GeoPoint {
            lat: row.get(0),
            lon: row.get(1),
        };
        Self::append_event(
            tx,
            &DomainEvent::FlowUpserted {
                flow: Box::new(flow.clone()),
                location,
            },
        )
        .await
    }

    /// `flows.removed` for the flows a delete took away, if any.
    async fn append_flows_removed(
        tx: &mut Transaction<'_, DB>,
        flow_ids: &[Uuid],
    ) -> Result<(), StoreError> {
        if flow_ids.is_empty() {
            return Ok(());
        }
        Self::append_event(
            tx,
            &DomainEvent::FlowsRemoved {
                flow_ids: flow_ids.to_vec(),
            },
        )
        .await
    }
}

/// A row `(id, doc, ...)`: the document, with its id to name it if it cannot be read.
fn document<T: DeserializeOwned, R: Row>(entity: Entity, r: &R) -> Result<T, StoreError>
where
    usize: ColumnIndex<R>,
    for<'r> &'r str: Decode<'r, R::Database> + Type<R::Database>,
{
    decode(entity, r.get::<&str, _>(0), r.get::<&str, _>(1))
}

/// Parses `rows` on every core, in order: at start-up every flow's document is read, and parsing
/// takes longer than reading.
fn parse_on_every_core<R: Row, T: Send>(
    rows: &[R],
    parse: impl Fn(&R) -> Result<T, StoreError> + Sync,
) -> Result<Vec<T>, StoreError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let chunk = rows.len().div_ceil(threads).max(512);
    std::thread::scope(|scope| {
        let parts: Vec<_> = rows
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&parse).collect::<Result<Vec<T>, _>>()))
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for part in parts {
            let parsed = part.join().map_err(|_| StoreError::Corrupt {
                entity: Entity::Flow,
                id: "(several)".into(),
                reason: "parsing the stored documents failed".into(),
            })?;
            out.extend(parsed?);
        }
        Ok(out)
    })
}

type Parsing = tokio::task::JoinHandle<Result<Vec<LocatedFlow>, StoreError>>;

/// Parses a batch of flow rows on every core, on the blocking pool.
fn parse_in_background<R: Row>(rows: Vec<R>, sites: Arc<HashMap<Uuid, GeoPoint>>) -> Parsing
where
    usize: ColumnIndex<R>,
    for<'r> &'r str: Decode<'r, R::Database> + Type<R::Database>,
{
    tokio::task::spawn_blocking(move || located_flows(&rows, &sites))
}

async fn parsed(parsing: Parsing) -> Result<Vec<LocatedFlow>, StoreError> {
    parsing.await.map_err(|_| StoreError::Corrupt {
        entity: Entity::Flow,
        id: "(several)".into(),
        reason: "parsing the stored documents failed".into(),
    })?
}

/// A row `(id, doc, lat, lon)` of a flow joined with its site.
fn located_flow<R: Row>(r: &R) -> Result<LocatedFlow, StoreError>
where
    usize: ColumnIndex<R>,
    for<'r> &'r str: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(LocatedFlow {
        flow: document(Entity::Flow, r)?,
        location: GeoPoint {
            lat: r.get(2),
            lon: r.get(3),
        },
    })
}

/// Rows `(id, doc)` of flows, each with its site's location; a flow whose site is not in `sites`
/// (none, while sites delete their flows) is left out, as a join would.
fn located_flows<R: Row>(
    rows: &[R],
    sites: &HashMap<Uuid, GeoPoint>,
) -> Result<Vec<LocatedFlow>, StoreError>
where
    usize: ColumnIndex<R>,
    for<'r> &'r str: Decode<'r, R::Database> + Type<R::Database>,
{
    let parsed = parse_on_every_core(rows, |r| {
        let flow: Flow = document(Entity::Flow, r)?;
        Ok(sites
            .get(&flow.site_id)
            .map(|&location| LocatedFlow { flow, location }))
    })?;
    Ok(parsed.into_iter().flatten().collect())
}
