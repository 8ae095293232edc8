//! People's decisions on matches: the match lifecycle. Matches themselves are derived (the engine
//! recomputes them); a decision is stored and survives rebuilds and restarts.
//!
//! `suggested → contacted → negotiating → agreed`, `rejected` from any open state, and `expired`
//! when the pair no longer satisfies the hard constraints (set by the system, never by a person;
//! the pair returns to its previous status if it becomes valid again).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    #[default]
    Suggested,
    Contacted,
    Negotiating,
    Agreed,
    Rejected,
    Expired,
}

impl MatchStatus {
    pub const ALL: [MatchStatus; 6] = [
        MatchStatus::Suggested,
        MatchStatus::Contacted,
        MatchStatus::Negotiating,
        MatchStatus::Agreed,
        MatchStatus::Rejected,
        MatchStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MatchStatus::Suggested => "suggested",
            MatchStatus::Contacted => "contacted",
            MatchStatus::Negotiating => "negotiating",
            MatchStatus::Agreed => "agreed",
            MatchStatus::Rejected => "rejected",
            MatchStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a person may move a match from `self` to `next`.
    pub fn can_become(self, next: MatchStatus) -> bool {
        use MatchStatus::*;
        matches!(
            (self, next),
            (Suggested, Contacted)
                | (Contacted, Negotiating)
                | (Negotiating, Agreed)
                | (Suggested | Contacted | Negotiating, Rejected)
        )
    }

    /// The statuses a person may move to from here (for error messages and clients).
    pub fn next_statuses(self) -> Vec<MatchStatus> {
        Self::ALL
            .into_iter()
            .filter(|n| self.can_become(*n))
            .collect()
    }
}

/// The stored state of one offer–need pair that someone acted on, or that expired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchDecision {
    pub match_id: Uuid,
    pub offer_flow_id: Uuid,
    pub need_flow_id: Uuid,
    pub offer_business_id: Uuid,
    pub need_business_id: Uuid,
    pub status: MatchStatus,
    /// What the status was before the pair expired, to restore it if the pair holds again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_before_expiry: Option<MatchStatus>,
    /// Why the pair expired, in words ("offer paused", "distance now 14.2 km > 10 km").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_reason: Option<String>,
    /// The match as it last was (score, savings, explanation), kept so an expired match can be shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_match: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The business that asked for contact (moved the match to `contacted`); the other business
    /// accepts by moving it on to `negotiating`, which also reveals anonymous parties to each other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacted_by: Option<Uuid>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_moves_forward_only() {
        use MatchStatus::*;
        assert!(Suggested.can_become(Contacted));
        assert!(Negotiating.can_become(Agreed));
        assert!(Contacted.can_become(Rejected));
        assert!(!Suggested.can_become(Agreed));
        assert!(!Agreed.can_become(Rejected));
        assert!(!Rejected.can_become(Suggested));
        assert!(
            !Suggested.can_become(Expired),
            "only the system expires a match"
        );
        assert_eq!(Suggested.next_statuses(), [Contacted, Rejected]);
    }
}
