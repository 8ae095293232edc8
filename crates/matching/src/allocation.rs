//! Allocation of a scarce offer among the needs it matches (rule v1: greedy by score).
//!
//! Each match states `delivered_quantity`, what the offer could deliver to that need alone. When an
//! offer's annual amount cannot serve all its matched needs, `allocatable_quantity` says what each
//! need could get if the offer served its needs in order of score, highest first (ties: lower match
//! id first), each taking what it wants until the offer is exhausted. Amounts are compared in the
//! offer's unit (`wanted = delivered_annual_amount / conversion`) because needs of different
//! categories convert differently.
//!
//! The allocation of an offer depends only on that offer's own matches, which is what keeps it
//! incremental: a change re-allocates only the offers whose match set or figures changed. The engine
//! keeps each offer's matches in rank order with their `wanted` amount inline ([`OfferLink`]), so a
//! re-allocation is one pass over plain numbers and touches a match only where its share moved.
//! The rule does not split a need across several offers, and it compares annual amounts even for
//! pipe-bound resources whose needs might be served at different hours; a min-cost-flow allocation
//! over the whole graph is the step beyond (docs/matching.md, "Allocation").

use std::cmp::Ordering;

use uuid::Uuid;

use crate::boundary::Match;

/// How much of what it wants a match gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Share {
    /// All of it: `allocatable_quantity == delivered_quantity`.
    Full,
    /// Part of it: the match holding the offer's last remainder.
    Partial,
    /// Nothing: the offer is exhausted by higher-ranked needs.
    Zero,
}

/// A match as its offer sees it, for allocation: kept in rank order in the offer's record. The
/// engine keeps a match's allocation here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OfferLink {
    /// The pair's score (f32 holds it exactly: `pair::assess` rounds it so).
    pub score: f32,
    pub id: Uuid,
    /// Offer amount per year the need could take: `delivered_annual_amount / conversion`.
    pub wanted: f64,
    pub share: Share,
    /// Offer amount per year it gets (`wanted` when the share is full).
    pub taken: f64,
}

impl OfferLink {
    /// A new match takes all it wants until allocation says otherwise (as `evaluate` sets it).
    pub fn of(m: &Match) -> Self {
        Self::new(m.id, m.score, wanted(m))
    }

    pub fn new(id: Uuid, score: f64, wanted: f64) -> Self {
        Self {
            score: score as f32,
            id,
            wanted,
            share: Share::Full,
            taken: wanted,
        }
    }

    /// What the need gets, in the need's canonical unit, of a match delivering `delivered_quantity`.
    pub fn allocatable(&self, delivered_quantity: f64) -> f64 {
        match self.share {
            Share::Full => delivered_quantity,
            Share::Partial => delivered_quantity * (self.taken / self.wanted),
            Share::Zero => 0.0,
        }
    }
}

fn wanted(m: &Match) -> f64 {
    m.delivered_annual_amount / m.conversion
}

/// Higher score first, then lower match id.
pub(crate) fn rank(a: &Match, b: &Match) -> Ordering {
    b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id))
}

pub(crate) fn link_rank(a: &OfferLink, b: &OfferLink) -> Ordering {
    b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id))
}

/// The greedy walk over links in rank order: hands each link its share and the amount it takes,
/// with its index. The one place the allocation arithmetic lives (rebuild, incremental, reference).
pub(crate) fn walk(
    capacity: f64,
    links: &mut [OfferLink],
    mut each: impl FnMut(usize, &mut OfferLink, Share, f64),
) {
    let mut remaining = capacity.max(0.0);
    for (i, link) in links.iter_mut().enumerate() {
        let w = link.wanted;
        let taken = w.min(remaining);
        let share = if taken >= w {
            Share::Full
        } else if taken > 0.0 {
            Share::Partial
        } else {
            Share::Zero
        };
        each(i, link, share, taken);
        remaining = (remaining - taken).max(0.0);
    }
}

/// The allocatable quantity (need's canonical unit) of a match given its share.
pub(crate) fn allocatable(m: &Match, share: Share, taken: f64) -> f64 {
    match share {
        Share::Full => m.delivered_quantity,
        Share::Partial => m.delivered_quantity * (taken / wanted(m)),
        Share::Zero => 0.0,
    }
}

/// Allocates one offer among its matches, given in any order (`get`/`get_mut` reach the match of an
/// element): sorts them into rank order, sets each `allocatable_quantity` and returns the offer's
/// links in the same order.
pub(crate) fn allocate<T>(
    offer_annual_amount: f64,
    items: &mut [T],
    get: impl Fn(&T) -> &Match,
    get_mut: impl Fn(&mut T) -> &mut Match,
) -> Vec<OfferLink> {
    items.sort_by(|a, b| rank(get(a), get(b)));
    let mut links: Vec<OfferLink> = items.iter().map(|it| OfferLink::of(get(it))).collect();
    walk(offer_annual_amount, &mut links, |i, link, share, taken| {
        link.share = share;
        link.taken = taken;
        let m = get_mut(&mut items[i]);
        m.allocatable_quantity = allocatable(m, share, taken);
    });
    links
}
