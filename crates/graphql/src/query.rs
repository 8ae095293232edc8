//! The query root: businesses, sites, flows, matches, categories, the platform's figures and the
//! network views, each resolver one call of a use case with the caller of the request, its
//! filters those of the REST list it mirrors (and refused with the same messages).

use async_graphql::{Context, Enum, InputObject, Json, Object, SimpleObject};
use serde::Deserialize;
use symbiont_app::live_matches::{MatchCursor, MatchFilter, MatchSort};
use symbiont_app::match_queries::{MatchQuery, MatchScope};
use symbiont_app::network::{NetworkCursor, NetworkQuery};
use symbiont_app::visibility::Viewer;
use symbiont_core::GeoPoint;
use symbiont_store::{BusinessFilter, FlowFilter, Near, PageRequest, SiteFilter};
use uuid::Uuid;

use crate::error::{OrGraphql, bad_argument};
use crate::network::{AnchorNode, ChainNode, ClusterNode, NetworkFilterInput};
use crate::types::{
    AnchorConnection, BusinessConnection, BusinessNode, ChainConnection, ClusterConnection,
    Direction, FlowConnection, FlowNode, FlowStatus, MatchConnection, MatchNode, MatchStatus,
    PageInfo, SiteConnection, SiteNode,
};
use crate::{Requester, app};

/// Items a page holds unless `first` says otherwise, and the most it may ask for (as REST).
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 1000;

fn page_size(first: Option<i32>) -> async_graphql::Result<u32> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| bad_argument("first", format!("must be between 1 and {MAX_PAGE_SIZE}"))),
    }
}

/// What a list field weighs in an operation's complexity: its page size times its children's.
fn page_weight(first: Option<i32>) -> usize {
    first.map_or(DEFAULT_PAGE_SIZE as usize, |n| {
        n.clamp(1, MAX_PAGE_SIZE as i32) as usize
    })
}

fn id_cursor(after: Option<String>) -> async_graphql::Result<Option<Uuid>> {
    after
        .map(|text| {
            Uuid::parse_str(text.trim())
                .map_err(|_| bad_argument("after", "is not a cursor from a previous page"))
        })
        .transpose()
}

fn store_page(first: Option<i32>, after: Option<String>) -> async_graphql::Result<PageRequest> {
    Ok(PageRequest {
        after: id_cursor(after)?,
        limit: page_size(first)?,
    })
}

/// A circle: the REST lists' `near` and `radius_km`.
#[derive(InputObject, Debug, Clone, Copy)]
pub struct NearInput {
    pub lat: f64,
    pub lon: f64,
    /// 10 km when not given; at most 20,000.
    pub radius_km: Option<f64>,
}

fn near(input: Option<NearInput>) -> async_graphql::Result<Option<Near>> {
    let Some(input) = input else {
        return Ok(None);
    };
    let center = GeoPoint {
        lat: input.lat,
        lon: input.lon,
    };
    if !center.is_valid() {
        return Err(bad_argument("near", "is not lat, lon in degrees"));
    }
    let radius_km = input.radius_km.unwrap_or(10.0);
    if !(radius_km.is_finite() && radius_km > 0.0 && radius_km <= 20_000.0) {
        return Err(bad_argument("near.radiusKm", "must be between 0 and 20000"));
    }
    Ok(Some(Near { center, radius_km }))
}

/// How a list of matches is ordered (descending, ties by id).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum MatchOrder {
    #[default]
    Score,
    Savings,
    Co2,
}

/// A match page as the app writes it.
#[derive(Deserialize)]
struct MatchPageBody {
    items: Vec<serde_json::Value>,
    next_cursor: Option<String>,
}

/// A category of the taxonomy.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "Category")]
pub struct CategoryNode {
    /// Dotted code, e.g. `heat.low_temp`.
    pub code: String,
    pub name: String,
    /// Top-level family: heat, water, material …
    pub group: String,
    /// The whole category as `GET /api/v1/categories/{code}` shows it.
    pub document: Json<serde_json::Value>,
}

impl CategoryNode {
    fn of(category: &symbiont_core::Category) -> Self {
        Self {
            code: category.code.clone(),
            name: category.name.clone(),
            group: category.group.clone(),
            document: Json(serde_json::to_value(category).unwrap_or_default()),
        }
    }
}

/// A category with the compatibility rules that connect it to others.
#[derive(SimpleObject, Debug, Clone)]
pub struct CategoryWithRules {
    pub category: CategoryNode,
    /// Rules where it is the offer.
    pub serves: Json<serde_json::Value>,
    /// Rules where it is the need.
    pub served_by: Json<serde_json::Value>,
}

/// Totals of a set of matches.
#[derive(SimpleObject, Debug, Clone)]
pub struct MatchTotals {
    pub matches: usize,
    pub savings_eur_per_year: f64,
    pub co2_t_per_year: f64,
}

/// Matches per lifecycle status.
#[derive(SimpleObject, Debug, Clone)]
pub struct MatchesByStatus {
    pub suggested: usize,
    pub contacted: usize,
    pub negotiating: usize,
    pub agreed: usize,
    pub rejected: usize,
    pub expired: usize,
}

/// The platform's figures, as `GET /api/v1/stats`.
#[derive(SimpleObject, Debug, Clone)]
pub struct Stats {
    pub businesses: u64,
    pub sites: u64,
    pub offers: u64,
    pub needs: u64,
    /// Matches the engine holds now.
    pub live_matches: usize,
    pub matches_by_status: MatchesByStatus,
    /// Each need's best live match, scaled to what allocation leaves it.
    pub potential: MatchTotals,
    /// Live matches people agreed on.
    pub agreed: MatchTotals,
}

fn totals(t: symbiont_app::live_matches::Totals) -> MatchTotals {
    MatchTotals {
        matches: t.matches,
        savings_eur_per_year: t.savings_eur_per_year,
        co2_t_per_year: t.co2_t_per_year,
    }
}

fn network_query(
    first: Option<i32>,
    after: Option<String>,
    filter: Option<NetworkFilterInput>,
) -> async_graphql::Result<NetworkQuery> {
    let limit = page_size(first)? as usize;
    let cursor = after
        .map(|c| {
            NetworkCursor::decode(&c)
                .ok_or_else(|| bad_argument("after", "is not a cursor from a previous page"))
        })
        .transpose()?;
    Ok(NetworkQuery {
        filter: filter.unwrap_or_default().into_filter()?,
        limit,
        cursor,
    })
}

pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// One business.
    async fn business(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<BusinessNode> {
        Ok(BusinessNode(app(ctx)?.business(id).await.or_graphql()?))
    }

    /// Businesses in creation order; `industry`: a NACE code or prefix (`C11`).
    #[graphql(complexity = "page_weight(first) * child_complexity")]
    async fn businesses(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        industry: Option<String>,
    ) -> async_graphql::Result<BusinessConnection> {
        let page = store_page(first, after)?;
        let filter = BusinessFilter {
            industry: industry.map(|i| i.trim().to_ascii_uppercase()),
        };
        let page = app(ctx)?.businesses(&filter, page).await.or_graphql()?;
        Ok(BusinessConnection {
            nodes: page.items.into_iter().map(BusinessNode).collect(),
            page_info: PageInfo::of(page.next_cursor.map(|id| id.to_string())),
        })
    }

    /// One site.
    async fn site(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<SiteNode> {
        Ok(SiteNode(app(ctx)?.site(id).await.or_graphql()?))
    }

    /// Sites in creation order, of one business or near a point.
    #[graphql(complexity = "page_weight(first) * child_complexity")]
    async fn sites(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        business_id: Option<Uuid>,
        near: Option<NearInput>,
    ) -> async_graphql::Result<SiteConnection> {
        let page = store_page(first, after)?;
        let app = app(ctx)?;
        if let Some(id) = business_id {
            app.business(id).await.or_graphql()?;
        }
        let filter = SiteFilter {
            business_id,
            near: self::near(near)?,
        };
        let page = app.sites(&filter, page).await.or_graphql()?;
        Ok(SiteConnection {
            nodes: page.items.into_iter().map(SiteNode).collect(),
            page_info: PageInfo::of(page.next_cursor.map(|id| id.to_string())),
        })
    }

    /// One flow; another business's anonymous flow is not found.
    async fn flow(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<FlowNode> {
        let viewer = Viewer::of(Requester::of(ctx).caller());
        Ok(FlowNode(
            app(ctx)?.visible_flow(id, &viewer).await.or_graphql()?,
        ))
    }

    /// Flows in creation order; other businesses' anonymous flows are left out.
    #[graphql(complexity = "page_weight(first) * child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn flows(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        business_id: Option<Uuid>,
        site_id: Option<Uuid>,
        direction: Option<Direction>,
        category: Option<String>,
        status: Option<FlowStatus>,
        near: Option<NearInput>,
    ) -> async_graphql::Result<FlowConnection> {
        let page = store_page(first, after)?;
        let app = app(ctx)?;
        app.check_category_filter(category.as_deref())
            .or_graphql()?;
        if let Some(id) = business_id {
            app.business(id).await.or_graphql()?;
        }
        let filter = FlowFilter {
            direction: direction.map(|d| match d {
                Direction::Offer => symbiont_core::Direction::Offer,
                Direction::Need => symbiont_core::Direction::Need,
            }),
            category,
            business_id,
            site_id,
            status: status.map(|s| match s {
                FlowStatus::Active => symbiont_core::FlowStatus::Active,
                FlowStatus::Paused => symbiont_core::FlowStatus::Paused,
            }),
            near: self::near(near)?,
            hide_anonymous_except: None,
        };
        let page = app
            .flows(Requester::of(ctx).caller(), filter, page)
            .await
            .or_graphql()?;
        Ok(FlowConnection {
            nodes: page.items.into_iter().map(FlowNode).collect(),
            page_info: PageInfo::of(page.next_cursor.map(|id| id.to_string())),
        })
    }

    /// One match (live, or expired with its last figures), redacted as REST shows it.
    #[graphql(name = "match")]
    async fn match_one(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<MatchNode> {
        let viewer = Viewer::of(Requester::of(ctx).caller());
        MatchNode::from_view(app(ctx)?.match_one(id, &viewer).or_graphql()?)
    }

    /// Matches the caller may see: of one business (either side), of one flow, or all; redacted
    /// as REST shows them.
    #[graphql(complexity = "page_weight(first) * child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn matches(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        business_id: Option<Uuid>,
        flow_id: Option<Uuid>,
        category: Option<String>,
        min_score: Option<f64>,
        status: Option<MatchStatus>,
        order: Option<MatchOrder>,
    ) -> async_graphql::Result<MatchConnection> {
        let app = app(ctx)?;
        let viewer = Viewer::of(Requester::of(ctx).caller());
        let scope = match (flow_id, business_id) {
            (Some(flow), _) => MatchScope::Flow(flow),
            (None, Some(business)) => MatchScope::Business(business),
            (None, None) => MatchScope::All,
        };
        let visible = app.match_scope(&viewer, scope).await.or_graphql()?;
        let limit = match first {
            None => symbiont_app::match_queries::DEFAULT_MATCH_PAGE_SIZE,
            first => page_size(first)? as usize,
        };
        let cursor = after
            .map(|c| {
                MatchCursor::decode(&c)
                    .ok_or_else(|| bad_argument("after", "is not a cursor from a previous page"))
            })
            .transpose()?;
        if min_score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
            return Err(bad_argument("minScore", "must be between 0 and 1"));
        }
        let query = MatchQuery {
            filter: MatchFilter {
                business_id,
                flow_id,
                category,
                min_score,
                status: status.map(Into::into),
            },
            sort: match order.unwrap_or_default() {
                MatchOrder::Score => MatchSort::Score,
                MatchOrder::Savings => MatchSort::Savings,
                MatchOrder::Co2 => MatchSort::Co2,
            },
            limit,
            cursor,
        };
        let body = app.match_page(&viewer, visible, query).await.or_graphql()?;
        let page: MatchPageBody = serde_json::from_slice(&body).map_err(|error| {
            crate::error::graphql_error(symbiont_app::AppError::internal(
                "a match page read for GraphQL",
                error,
            ))
        })?;
        Ok(MatchConnection {
            nodes: page
                .items
                .into_iter()
                .map(MatchNode::from_view)
                .collect::<Result<_, _>>()?,
            page_info: PageInfo::of(page.next_cursor),
        })
    }

    /// The taxonomy's categories, or those of one group (`heat`, `water` …).
    async fn categories(
        &self,
        ctx: &Context<'_>,
        group: Option<String>,
    ) -> async_graphql::Result<Vec<CategoryNode>> {
        let listing = app(ctx)?.categories(group.as_deref());
        Ok(listing.items.into_iter().map(CategoryNode::of).collect())
    }

    /// One category with its compatibility rules.
    async fn category(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> async_graphql::Result<CategoryWithRules> {
        let app = app(ctx)?;
        let rules = app.category_rules(&code).or_graphql()?;
        Ok(CategoryWithRules {
            category: CategoryNode::of(rules.category),
            serves: Json(serde_json::to_value(&rules.serves).unwrap_or_default()),
            served_by: Json(serde_json::to_value(&rules.served_by).unwrap_or_default()),
        })
    }

    /// The platform's figures.
    async fn stats(&self, ctx: &Context<'_>) -> async_graphql::Result<Stats> {
        let stats = app(ctx)?.platform_stats().await.or_graphql()?;
        let by_status = &stats.matches.summary.by_status;
        let count = |status| by_status.get(&status).copied().unwrap_or(0);
        use symbiont_core::MatchStatus as S;
        Ok(Stats {
            businesses: stats.counts.businesses,
            sites: stats.counts.sites,
            offers: stats.counts.offers,
            needs: stats.counts.needs,
            live_matches: stats.matches.live,
            matches_by_status: MatchesByStatus {
                suggested: count(S::Suggested),
                contacted: count(S::Contacted),
                negotiating: count(S::Negotiating),
                agreed: count(S::Agreed),
                rejected: count(S::Rejected),
                expired: count(S::Expired),
            },
            potential: totals(stats.matches.summary.potential),
            agreed: totals(stats.matches.summary.agreed),
        })
    }

    /// Chains of 2–4 exchanges where a business's need is served and its output serves another.
    #[graphql(complexity = "page_weight(first) * child_complexity")]
    async fn network_chains(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<NetworkFilterInput>,
    ) -> async_graphql::Result<ChainConnection> {
        let query = network_query(first, after, filter)?;
        let viewer = Viewer::of(Requester::of(ctx).caller());
        let page = app(ctx)?
            .network_chains(&viewer, query)
            .await
            .or_graphql()?;
        Ok(ChainConnection {
            nodes: page
                .items
                .into_iter()
                .map(ChainNode::from_view)
                .collect::<Result<_, _>>()?,
            page_info: PageInfo::of(page.next_cursor),
        })
    }

    /// Connected groups of at least two exchanges, with their totals.
    #[graphql(complexity = "page_weight(first) * child_complexity")]
    async fn network_clusters(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<NetworkFilterInput>,
    ) -> async_graphql::Result<ClusterConnection> {
        let query = network_query(first, after, filter)?;
        let viewer = Viewer::of(Requester::of(ctx).caller());
        let page = app(ctx)?
            .network_clusters(&viewer, query)
            .await
            .or_graphql()?;
        Ok(ClusterConnection {
            nodes: page
                .items
                .into_iter()
                .map(ClusterNode::from_view)
                .collect::<Result<_, _>>()?,
            page_info: PageInfo::of(page.next_cursor),
        })
    }

    /// Businesses whose removal would lose the most value.
    #[graphql(complexity = "page_weight(first) * child_complexity")]
    async fn network_anchors(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<NetworkFilterInput>,
    ) -> async_graphql::Result<AnchorConnection> {
        let query = network_query(first, after, filter)?;
        let viewer = Viewer::of(Requester::of(ctx).caller());
        let page = app(ctx)?
            .network_anchors(&viewer, query)
            .await
            .or_graphql()?;
        Ok(AnchorConnection {
            nodes: page.items.into_iter().map(AnchorNode::from).collect(),
            page_info: PageInfo::of(page.next_cursor),
        })
    }
}
