//! `/api/v1/stats`: the platform's counts and match totals.

use std::collections::HashMap;

use axum::extract::State;
use serde::Serialize;
use symbiont_app::live_matches;
use symbiont_app::stats::PlatformStats;
use symbiont_core::MatchStatus;

use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::state::SharedState;

/// Counts and totals of the whole platform.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub businesses: u64,
    pub sites: u64,
    pub flows: FlowCounts,
    pub matches: MatchCounts,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FlowCounts {
    pub offers: u64,
    pub needs: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MatchCounts {
    /// Matches the engine holds now.
    pub live: u64,
    pub by_status: MatchesByStatus,
    /// Each need's best live match, scaled to what allocation leaves it. A match with an anonymous
    /// side counts with its figures at the two sites' grid-cell centres, as strangers see it.
    pub potential: Totals,
    /// Live matches people agreed on.
    pub agreed: Totals,
}

/// Matches by lifecycle status: the live ones by their decision, and the expired ones.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MatchesByStatus {
    pub suggested: u64,
    pub contacted: u64,
    pub negotiating: u64,
    pub agreed: u64,
    pub rejected: u64,
    pub expired: u64,
}

/// Figures summed over matches.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub matches: u64,
    pub savings_eur_per_year: f64,
    pub co2_t_per_year: f64,
}

impl From<PlatformStats> for Stats {
    fn from(PlatformStats { counts, matches }: PlatformStats) -> Self {
        Stats {
            businesses: counts.businesses,
            sites: counts.sites,
            flows: FlowCounts {
                offers: counts.offers,
                needs: counts.needs,
            },
            matches: MatchCounts {
                live: matches.live as u64,
                by_status: MatchesByStatus::from(&matches.summary.by_status),
                potential: matches.summary.potential.into(),
                agreed: matches.summary.agreed.into(),
            },
        }
    }
}

impl From<&HashMap<MatchStatus, usize>> for MatchesByStatus {
    fn from(by_status: &HashMap<MatchStatus, usize>) -> Self {
        let count = |status| by_status.get(&status).copied().unwrap_or(0) as u64;
        MatchesByStatus {
            suggested: count(MatchStatus::Suggested),
            contacted: count(MatchStatus::Contacted),
            negotiating: count(MatchStatus::Negotiating),
            agreed: count(MatchStatus::Agreed),
            rejected: count(MatchStatus::Rejected),
            expired: count(MatchStatus::Expired),
        }
    }
}

impl From<live_matches::Totals> for Totals {
    fn from(totals: live_matches::Totals) -> Self {
        Totals {
            matches: totals.matches as u64,
            savings_eur_per_year: totals.savings_eur_per_year,
            co2_t_per_year: totals.co2_t_per_year,
        }
    }
}

/// Counts and totals for the whole platform.
#[utoipa::path(
    get,
    path = "/api/v1/stats",
    operation_id = "getStats",
    tag = "matches",
    summary = "Platform counts and totals",
    responses(
        (status = 200, description = "OK", body = Stats),
        (status = 400, response = crate::openapi::BadRequest),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn stats(
    State(state): State<SharedState>,
    query: QueryParams,
) -> Result<axum::Json<Stats>, ApiError> {
    query.finish()?;
    Ok(axum::Json(state.platform_stats().await?.into()))
}
