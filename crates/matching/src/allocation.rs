//! Allocation of a scarce offer among the needs it matches (rule v1: greedy by score).
//!
//! Each match states `delivered_quantity`, what the offer could deliver to that need alone. When an
//! offer's annual amount cannot serve all its matched needs, `allocatable_quantity` says what each
//! need could get if the offer served its needs in order of score, highest first (ties: lower match
//! id first), each taking what it can until the offer is exhausted. Amounts are compared in the
//! offer's unit (`delivered_annual_amount / conversion`) because needs of different categories
//! convert differently.
//!
//! The allocation of an offer depends only on that offer's own matches, which is what keeps it
//! incremental: a change re-allocates only the offers whose match set or figures changed. It does not
//! split a need across several offers, and it compares annual amounts even for pipe-bound resources
//! whose needs might be served at different hours; a min-cost-flow allocation over the whole graph is
//! the step beyond (DESIGN §2.6).

use std::cmp::Ordering;

use crate::model::Match;

/// The allocatable quantity of each match of one offer, in the order given.
pub(crate) fn allocate(offer_annual_amount: f64, matches: &[&Match]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..matches.len()).collect();
    order.sort_by(|&a, &b| rank(matches[a], matches[b]));
    let mut remaining = offer_annual_amount.max(0.0);
    let mut allocatable = vec![0.0; matches.len()];
    for i in order {
        let m = matches[i];
        let wanted = m.delivered_annual_amount / m.conversion;
        let taken = wanted.min(remaining);
        allocatable[i] = if taken >= wanted {
            m.delivered_quantity
        } else {
            m.delivered_quantity * (taken / wanted)
        };
        remaining = (remaining - taken).max(0.0);
    }
    allocatable
}

/// Higher score first, then lower match id.
pub(crate) fn rank(a: &Match, b: &Match) -> Ordering {
    b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id))
}
