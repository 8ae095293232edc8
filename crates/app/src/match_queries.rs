//! Reading matches, as every transport asks for them: a filtered, sorted page of the matches a
//! viewer may see (of all matches, of one flow, or of one business), and one match. Pages go
//! through the response cache under a key made of the query's parsed values (not of its text), the
//! engine's state and the viewer's class, and concurrent misses of one key compute it once. A page
//! over all matches walks every match, so it runs on the blocking pool.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use uuid::Uuid;

use crate::App;
use crate::error::AppError;
use crate::live_matches::{MatchCursor, MatchFilter, MatchSort};
use crate::visibility::Viewer;

/// Matches a page holds unless the caller asks for another number, on every transport. Lists are
/// ranked best first and a flow proposes about ten counterparts, so the first page is what people
/// read; more come with the cursor (ADR 0030).
pub const DEFAULT_MATCH_PAGE_SIZE: usize = 20;

/// Which matches a page is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchScope {
    All,
    /// The matches of one flow (a 404 when the viewer may not see the flow).
    Flow(Uuid),
    /// The matches of one business, on either side (a 404 when it does not exist).
    Business(Uuid),
}

/// A scope the viewer may read, checked by [`App::match_scope`]: a page can only be asked for
/// through one, so no transport skips the check.
#[derive(Debug, Clone, Copy)]
pub struct VisibleScope(MatchScope);

/// What a page asks for, parsed.
#[derive(Debug, Clone, Default)]
pub struct MatchQuery {
    pub filter: MatchFilter,
    pub sort: MatchSort,
    pub limit: usize,
    pub cursor: Option<MatchCursor>,
}

impl MatchQuery {
    /// The cache key of the query: equal queries, however they were written, share it.
    fn key(&self) -> String {
        let f = &self.filter;
        let id = |id: Option<Uuid>| id.map(|id| id.simple().to_string()).unwrap_or_default();
        format!(
            "b={}&f={}&c={}&m={}&s={}&o={:?}&l={}&a={}",
            id(f.business_id),
            id(f.flow_id),
            f.category.as_deref().unwrap_or(""),
            f.min_score.map(f64::to_bits).unwrap_or(u64::MAX),
            f.status.map_or("", |s| s.as_str()),
            self.sort,
            self.limit,
            self.cursor.map(|c| c.encode()).unwrap_or_default(),
        )
    }
}

/// How a list of matches is written: as list items, or as lines for a map.
#[derive(Debug, Clone, Copy)]
enum ListShape {
    Items,
    Lines,
}

/// How long an uncached list over all matches waits for a turn before it is refused as busy:
/// long enough to ride out a burst, short enough that the client learns to retry.
const FULL_SCAN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How many uncached lists over all matches may run at once: one per core, since each is CPU-bound
/// (about 280 ms at 10,000 businesses); more would only make all of them slower and starve the
/// blocking pool's other work.
pub(crate) fn full_scan_permits() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

impl App {
    /// Checks that `viewer` may read the matches of `scope`: a flow it may see (another business's
    /// anonymous flow is not found), a business that exists. Transports call it before reading the
    /// page's parameters, so an unknown owner is a "not found" whatever the parameters.
    pub async fn match_scope(
        &self,
        viewer: &Viewer,
        scope: MatchScope,
    ) -> Result<VisibleScope, AppError> {
        match scope {
            MatchScope::All => {}
            MatchScope::Flow(id) => {
                self.visible_flow(id, viewer).await?;
            }
            // A business the engine holds flows of existed in the state its matches come from:
            // the store is asked only about the others (a list of a business's matches is read
            // far more often than businesses come and go).
            MatchScope::Business(id) => {
                if !self.live_matches.knows_business(id) {
                    self.business(id).await?;
                }
            }
        }
        Ok(VisibleScope(scope))
    }

    /// A page of the matches `viewer` may see, as JSON (`{"items": [...], "next_cursor": ...}`).
    pub async fn match_page(
        self: &Arc<Self>,
        viewer: &Viewer,
        scope: VisibleScope,
        query: MatchQuery,
    ) -> Result<Bytes, AppError> {
        self.match_list(viewer, scope, query, ListShape::Items)
            .await
    }

    /// The same page drawn as map lines (GeoJSON `LineString`s from the offer's place to the
    /// need's, see [`crate::live_matches::LiveMatches::lines`]), always best score first.
    pub async fn match_lines(
        self: &Arc<Self>,
        viewer: &Viewer,
        scope: VisibleScope,
        mut query: MatchQuery,
    ) -> Result<Bytes, AppError> {
        query.sort = MatchSort::Score;
        self.match_list(viewer, scope, query, ListShape::Lines)
            .await
    }

    async fn match_list(
        self: &Arc<Self>,
        viewer: &Viewer,
        scope: VisibleScope,
        mut query: MatchQuery,
        shape: ListShape,
    ) -> Result<Bytes, AppError> {
        match scope.0 {
            MatchScope::All => {}
            MatchScope::Flow(id) => query.filter.flow_id = Some(id),
            MatchScope::Business(id) => query.filter.business_id = Some(id),
        }
        self.check_category_filter(query.filter.category.as_deref())?;
        // A business's or a flow's list ranks that owner's own matches (tens of microseconds):
        // it is computed on every request, as storing it (a copy of the body, an insert and an
        // eviction, the heap kept around them) costs more than computing it, and with thousands
        // of businesses most of those bodies would be evicted before anyone asked again (ADR
        // 0032). Only lists over all matches, which walk every match, are cached.
        if query.filter.business_id.is_some() || query.filter.flow_id.is_some() {
            return self.written_list(shape, &query, viewer).map(Bytes::from);
        }
        let key = format!(
            "{}:{}:{}:{}",
            self.live_matches.state_key(),
            viewer.cache_key(),
            match shape {
                ListShape::Items => "matches",
                ListShape::Lines => "match-lines",
            },
            query.key()
        );
        let app = Arc::clone(self);
        let limits = Arc::clone(self);
        let viewer = viewer.clone();
        let page = move || app.written_list(shape, &query, &viewer);
        // A list over all matches walks every one of them (hundreds of milliseconds at 10,000
        // businesses): on the blocking pool, so the async workers keep answering, and only a few
        // at once (`App::full_scans`), so a burst of distinct uncached queries cannot take every
        // core; the excess waits briefly, then is refused.
        let compute = async move {
            let _turn = tokio::time::timeout(FULL_SCAN_WAIT, limits.full_scans.acquire())
                .await
                .map_err(|_| {
                    AppError::Busy(
                        "too many lists over all matches are being computed; retry shortly".into(),
                    )
                })?
                .map_err(|e| AppError::internal("the full-scan limit", e))?;
            tokio::task::spawn_blocking(page)
                .await
                .map_err(|e| AppError::internal("the match list task", e))?
        };
        self.computing
            .get_or_compute(&self.cache, &key, compute)
            .await
    }

    /// The page `query` asks for, written in `shape`.
    fn written_list(
        &self,
        shape: ListShape,
        query: &MatchQuery,
        viewer: &Viewer,
    ) -> Result<Vec<u8>, AppError> {
        match shape {
            ListShape::Items => {
                self.live_matches
                    .page(&query.filter, query.sort, query.limit, query.cursor, viewer)
            }
            ListShape::Lines => {
                self.live_matches
                    .lines(&query.filter, query.limit, query.cursor, viewer)
            }
        }
    }

    /// One match (live, or expired with its last figures) as `viewer` may see it.
    pub fn match_one(&self, id: Uuid, viewer: &Viewer) -> Result<Value, AppError> {
        self.live_matches
            .one(id, viewer)
            .ok_or_else(|| AppError::NotFound(format!("match {id} not found")))
    }

    /// A `category` list filter must name a category code or a family (`heat`), so a typo is
    /// refused rather than answered with an empty list.
    pub fn check_category_filter(&self, category: Option<&str>) -> Result<(), AppError> {
        let Some(category) = category else {
            return Ok(());
        };
        if self
            .taxonomy
            .categories()
            .iter()
            .any(|c| c.code == category || c.group == category)
        {
            Ok(())
        } else {
            Err(AppError::BadParameter {
                name: "category".into(),
                message: format!("unknown category or group '{category}'"),
            })
        }
    }
}
