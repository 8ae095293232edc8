//! The platform's figures: how many businesses, sites, offers and needs the store holds, and what
//! the live matches add up to (by status, the potential of each need's best match, what people
//! agreed on).
//!
//! Summing the matches walks every one of them, so that part is cached under the engine's
//! generation ([`crate::response_cache`]); the entity counts are read from the store each time.

use serde::{Deserialize, Serialize};
use symbiont_store::Counts;

use crate::App;
use crate::error::AppError;
use crate::live_matches::MatchSummary;

/// The platform's figures at one moment.
#[derive(Debug, Clone)]
pub struct PlatformStats {
    pub counts: Counts,
    pub matches: MatchFigures,
}

/// What the live matches add up to. Serialized only into the response cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatchFigures {
    /// Matches the engine holds now.
    pub live: usize,
    pub summary: MatchSummary,
}

impl App {
    pub async fn platform_stats(&self) -> Result<PlatformStats, AppError> {
        let counts = self.store.counts().await?;
        let key = format!("{}:stats-matches", self.live_matches.state_key());
        let cached = self
            .cache
            .get(&key)
            .await
            .and_then(|bytes| serde_json::from_slice::<MatchFigures>(&bytes).ok());
        let matches = match cached {
            Some(matches) => matches,
            None => {
                let matches = MatchFigures {
                    live: self.live_matches.engine_stats().matches,
                    summary: self.live_matches.summary(),
                };
                match serde_json::to_vec(&matches) {
                    Ok(bytes) => self.cache.put(&key, bytes.into()).await,
                    Err(error) => tracing::warn!(%error, "match figures not cached"),
                }
                matches
            }
        };
        Ok(PlatformStats { counts, matches })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use symbiont_core::MatchStatus;

    use super::*;
    use crate::live_matches::Totals;

    #[test]
    fn cached_match_figures_read_back_as_written() {
        let figures = MatchFigures {
            live: 3,
            summary: MatchSummary {
                by_status: HashMap::from([(MatchStatus::Suggested, 2), (MatchStatus::Agreed, 1)]),
                potential: Totals {
                    matches: 2,
                    savings_eur_per_year: 1234.5,
                    co2_t_per_year: 0.1 + 0.2,
                },
                agreed: Totals::default(),
            },
        };
        let bytes = serde_json::to_vec(&figures).expect("serializes");
        let back: MatchFigures = serde_json::from_slice(&bytes).expect("reads back");
        assert_eq!(back.live, 3);
        assert_eq!(back.summary.by_status, figures.summary.by_status);
        assert_eq!(back.summary.potential.co2_t_per_year, 0.1 + 0.2);
        assert_eq!(back.summary.potential.matches, 2);
    }
}
