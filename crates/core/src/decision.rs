//! People's decisions on matches: the match lifecycle. Matches themselves are derived (the engine
//! recomputes them); a decision is stored and survives rebuilds and restarts.
//!
//! `suggested → contacted → negotiating → agreed`, `rejected` from any open state, and `expired`
//! when the pair no longer satisfies the hard constraints (set by the system, never by a person;
//! the pair returns to its previous status if it becomes valid again).
//!
//! [`decide`] is the whole rule of a person's status change: who may make it (only the two
//! businesses of the pair; a contact request is accepted by the side that was asked) and which
//! transitions exist. It is a plain function over the current decision; callers store its result.

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

impl MatchDecision {
    /// Whether a person acted on the pair (contacted, negotiating, agreed, rejected, or one of
    /// these before it expired): such a pair stays proposed whatever its rank.
    pub fn pins_pair(&self) -> bool {
        let status = match self.status {
            MatchStatus::Expired => self.status_before_expiry.unwrap_or(MatchStatus::Suggested),
            status => status,
        };
        !matches!(status, MatchStatus::Suggested | MatchStatus::Expired)
    }
}

/// The live pair a person decides on: the match and its two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    pub match_id: Uuid,
    pub offer_flow_id: Uuid,
    pub need_flow_id: Uuid,
    pub offer_business_id: Uuid,
    pub need_business_id: Uuid,
}

/// Why a person's status change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    /// The person belongs to neither business of the pair (not even a platform admin decides).
    #[error("only members of the match's two businesses may change its status")]
    NotAParty,
    /// The side that asked for contact tried to accept its own request.
    #[error("the other business accepts a contact request (moves it to negotiating)")]
    OwnContactRequest,
    /// The lifecycle has no such step from the current status.
    #[error(
        "a {} match cannot become {}; allowed next: {}",
        from.as_str(),
        to.as_str(),
        allowed_after(*from)
    )]
    IllegalTransition { from: MatchStatus, to: MatchStatus },
    /// The person decided on a version of the decision that is no longer the current one.
    #[error(
        "If-Match asked for version {required}, but the resource is at version {current}; read it again"
    )]
    StaleVersion { required: i64, current: i64 },
}

fn allowed_after(from: MatchStatus) -> String {
    let allowed: Vec<&str> = from.next_statuses().iter().map(|s| s.as_str()).collect();
    if allowed.is_empty() {
        "none (final)".to_string()
    } else {
        allowed.join(", ")
    }
}

/// A person's request to move a pair to `status`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub status: MatchStatus,
    /// Replaces the note; the current one is kept when absent.
    pub note: Option<String>,
    /// The decision version the person saw (`If-Match`), if they sent one.
    pub required_version: Option<i64>,
}

/// The decision that results from `change` on `pair`, whose current decision is `current` (none:
/// suggested, version 0), made by a person who is a member of the businesses `member_of` accepts.
pub fn decide(
    pair: &Pair,
    current: Option<&MatchDecision>,
    member_of: impl Fn(Uuid) -> bool,
    change: StatusChange,
    now: DateTime<Utc>,
) -> Result<MatchDecision, DecisionError> {
    let acts_for_offer = member_of(pair.offer_business_id);
    let acts_for_need = member_of(pair.need_business_id);
    if !acts_for_offer && !acts_for_need {
        return Err(DecisionError::NotAParty);
    }
    let version = current.map_or(0, |d| d.version);
    if let Some(required) = change.required_version
        && required != version
    {
        return Err(DecisionError::StaleVersion {
            required,
            current: version,
        });
    }
    let from = current.map_or(MatchStatus::Suggested, |d| d.status);
    let contacted_by = current.and_then(|d| d.contacted_by);
    // The side acting now: for a member of both, the side that was asked, if one was.
    let acting = match (acts_for_offer, acts_for_need) {
        (true, false) => pair.offer_business_id,
        (false, true) => pair.need_business_id,
        _ if contacted_by == Some(pair.offer_business_id) => pair.need_business_id,
        _ => pair.offer_business_id,
    };
    let status = change.status;
    if from == MatchStatus::Contacted
        && status == MatchStatus::Negotiating
        && contacted_by == Some(acting)
    {
        return Err(DecisionError::OwnContactRequest);
    }
    if !from.can_become(status) {
        return Err(DecisionError::IllegalTransition { from, to: status });
    }
    Ok(MatchDecision {
        match_id: pair.match_id,
        offer_flow_id: pair.offer_flow_id,
        need_flow_id: pair.need_flow_id,
        offer_business_id: pair.offer_business_id,
        need_business_id: pair.need_business_id,
        status,
        status_before_expiry: None,
        expired_reason: None,
        last_match: None,
        note: change.note.or_else(|| current.and_then(|d| d.note.clone())),
        contacted_by: if status == MatchStatus::Contacted {
            Some(acting)
        } else {
            contacted_by
        },
        version: version + 1,
        updated_at: now,
    })
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

    fn pair() -> Pair {
        Pair {
            match_id: Uuid::from_u128(1),
            offer_flow_id: Uuid::from_u128(2),
            need_flow_id: Uuid::from_u128(3),
            offer_business_id: Uuid::from_u128(10),
            need_business_id: Uuid::from_u128(20),
        }
    }

    fn change(status: MatchStatus) -> StatusChange {
        StatusChange {
            status,
            note: None,
            required_version: None,
        }
    }

    #[test]
    fn only_the_two_businesses_decide() {
        let outsider = decide(
            &pair(),
            None,
            |b| b == Uuid::from_u128(99),
            change(MatchStatus::Contacted),
            Utc::now(),
        );
        assert_eq!(outsider, Err(DecisionError::NotAParty));
    }

    #[test]
    fn a_contact_request_is_accepted_by_the_other_side_only() {
        let offer_side = |b| b == Uuid::from_u128(10);
        let need_side = |b| b == Uuid::from_u128(20);
        let contacted = decide(
            &pair(),
            None,
            offer_side,
            change(MatchStatus::Contacted),
            Utc::now(),
        )
        .expect("the offer side asks for contact");
        assert_eq!(contacted.contacted_by, Some(Uuid::from_u128(10)));
        assert_eq!(contacted.version, 1);
        let own = decide(
            &pair(),
            Some(&contacted),
            offer_side,
            change(MatchStatus::Negotiating),
            Utc::now(),
        );
        assert_eq!(own, Err(DecisionError::OwnContactRequest));
        let accepted = decide(
            &pair(),
            Some(&contacted),
            need_side,
            change(MatchStatus::Negotiating),
            Utc::now(),
        )
        .expect("the need side accepts");
        assert_eq!(accepted.status, MatchStatus::Negotiating);
        assert_eq!(accepted.contacted_by, Some(Uuid::from_u128(10)));
        // A member of both sides acts as the side that was asked.
        let both = decide(
            &pair(),
            Some(&contacted),
            |_| true,
            change(MatchStatus::Negotiating),
            Utc::now(),
        );
        assert!(both.is_ok());
    }

    #[test]
    fn illegal_steps_and_stale_versions_are_refused() {
        let member = |b| b == Uuid::from_u128(20);
        let skip = decide(
            &pair(),
            None,
            member,
            change(MatchStatus::Agreed),
            Utc::now(),
        );
        let error = skip.expect_err("suggested cannot become agreed");
        assert_eq!(
            error.to_string(),
            "a suggested match cannot become agreed; allowed next: contacted, rejected"
        );
        let stale = StatusChange {
            required_version: Some(4),
            ..change(MatchStatus::Contacted)
        };
        assert_eq!(
            decide(&pair(), None, member, stale, Utc::now()),
            Err(DecisionError::StaleVersion {
                required: 4,
                current: 0
            })
        );
    }
}
