//! The engine's compact copy of a flow: only the fields matching reads, with the weekly profile
//! interned (many flows share "24/7" or "Mon-Fri 06:00-22:00", and a profile is 672 bytes).
//!
//! A `FlowInput` is turned into a `FlowRecord` here; free text, the stated quantity, timestamps and
//! free-form quality attributes are dropped.

// foldhash: a profile is 168 numbers, and SipHash over every flow's profile shows in the start-up.
use foldhash::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::NaiveDate;
use symbiont_core::geo::coarsen;
use symbiont_core::profile::HOURS_PER_WEEK;
use symbiont_core::{Direction, FlowStatus, GeoPoint, Quality};
use uuid::Uuid;

use crate::allocation::OfferLink;
use crate::boundary::FlowInput;
use crate::catalog::Catalog;
use crate::spatial::unit_vector;

/// A weekly profile shared by every flow that has the same 168 values.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub hours: [f32; HOURS_PER_WEEK],
    /// Σ of the hours: full-load hours per week.
    pub hours_per_week: f64,
    /// For a profile of whole hours only (every value 0 or 1, as schedules give), the hours that
    /// are on, one bit each: two such profiles' sums are a popcount.
    pub on_hours: Option<[u64; 3]>,
}

const LANES: usize = 8;

impl Profile {
    fn new(hours: [f32; HOURS_PER_WEEK]) -> Self {
        // Summed in the same lanes as `sums_with`, so a demand covered in every hour overlaps exactly 1.
        let mut lanes = [0.0f64; LANES];
        for chunk in hours.chunks_exact(LANES) {
            for k in 0..LANES {
                lanes[k] += f64::from(chunk[k]);
            }
        }
        let mut on_hours = Some([0u64; 3]);
        for (h, value) in hours.iter().enumerate() {
            match (value.to_bits(), on_hours.as_mut()) {
                (bits, Some(mask)) if bits == 1.0f32.to_bits() => mask[h / 64] |= 1 << (h % 64),
                (bits, Some(_)) if bits == 0.0f32.to_bits() => {}
                _ => on_hours = None,
            }
        }
        Self {
            hours,
            hours_per_week: lanes.iter().sum(),
            on_hours,
        }
    }

    /// `(Σ min(s_h, d_h), Σ min(a·s_h, b·d_h))` over the week, `self` supplying and `demand`
    /// demanding. Summed in eight fixed lanes so the compiler can vectorise it; the order is fixed,
    /// so the result is deterministic.
    pub fn sums_with(&self, demand: &Profile, a: f64, b: f64) -> (f64, f64) {
        if let (Some(supply), Some(wanted)) = (&self.on_hours, &demand.on_hours) {
            // Whole hours on both sides: each hour on at both gives min(a, b), the others nothing.
            let both: u32 = supply
                .iter()
                .zip(wanted)
                .map(|(s, d)| (s & d).count_ones())
                .sum();
            let both = f64::from(both);
            return (both, a.min(b) * both);
        }
        let mut covered = [0.0f64; LANES];
        let mut delivered = [0.0f64; LANES];
        for (s, d) in self
            .hours
            .chunks_exact(LANES)
            .zip(demand.hours.chunks_exact(LANES))
        {
            for k in 0..LANES {
                let (s, d) = (f64::from(s[k]), f64::from(d[k]));
                covered[k] += s.min(d);
                delivered[k] += (a * s).min(b * d);
            }
        }
        (covered.iter().sum(), delivered.iter().sum())
    }
}

// Equality and hashing by bit pattern, so interning is exact (and NaN cannot break the set).
impl PartialEq for Profile {
    fn eq(&self, other: &Self) -> bool {
        self.hours
            .iter()
            .zip(&other.hours)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Eq for Profile {}

impl Hash for Profile {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for h in &self.hours {
            state.write_u32(h.to_bits());
        }
    }
}

/// The set of distinct profiles in use.
#[derive(Debug, Default)]
pub(crate) struct ProfileInterner {
    set: HashSet<Arc<Profile>>,
}

impl ProfileInterner {
    pub fn intern(&mut self, hours: &[f32; HOURS_PER_WEEK]) -> Arc<Profile> {
        let profile = Profile::new(*hours);
        if let Some(existing) = self.set.get(&profile) {
            return Arc::clone(existing);
        }
        let shared = Arc::new(profile);
        self.set.insert(Arc::clone(&shared));
        shared
    }

    /// Forgets `profile` if only the interner and the caller's reference still hold it.
    pub fn release(&mut self, profile: Arc<Profile>) {
        if Arc::strong_count(&profile) <= 2 {
            self.set.remove(&*profile);
        }
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn memory_bytes(&self) -> usize {
        self.set.len() * (std::mem::size_of::<Profile>() + 16) + self.set.capacity() * 9
    }
}

/// One flow as the engine keeps it.
#[derive(Debug, Clone)]
pub(crate) struct FlowRecord {
    pub id: Uuid,
    pub site_id: Uuid,
    pub business_id: Uuid,
    /// The owner is hidden from other businesses (the API redacts; the engine only carries it).
    pub anonymous: bool,
    pub direction: Direction,
    /// Index in the catalog; `None` when the taxonomy does not know the category.
    pub category: Option<u32>,
    pub status: FlowStatus,
    pub quality: Quality,
    pub canonical_quantity: f64,
    pub annual_amount: f64,
    pub profile: Arc<Profile>,
    /// Monthly factors of the profile's level (largest 1), when the flow is seasonal.
    /// Behind a pointer: most flows have none, and the inline array would add 48 bytes to every
    /// record.
    pub season: Option<Arc<[f32; 12]>>,
    pub price_eur_per_unit: Option<f64>,
    pub max_distance_km: Option<f64>,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    /// Where the site is: the figures (distance, transport cost) are measured from here.
    pub location: GeoPoint,
    /// Where the distance limit is checked from and where the flow sits in the spatial index: the
    /// site itself, or for an anonymous flow the centre of its grid cell, so that whether a match
    /// exists says no more about a hidden site than its redacted view does (ADR 0013).
    pub gate_location: GeoPoint,
    /// `gate_location` as a unit vector (the spatial index's coordinates).
    pub point: [f64; 3],
    /// Why the flow cannot be matched at all (unknown category, bad figures), if it cannot.
    pub defect: Option<&'static str>,
    /// Proposals this flow asks for, if not the configured number.
    pub max_proposals: Option<u32>,
    /// A need that accepts pairs costing more than they save.
    pub pays_for_co2: bool,
    /// Its best counterparts, best first: the pairs it proposes (at most its K, eligible only).
    pub best: Vec<Ranked>,
    /// For an offer: its live matches in rank order, with what allocation needs.
    pub offer_links: Vec<OfferLink>,
    /// For a need: the ids of its live matches.
    pub need_links: Vec<Uuid>,
}

/// A counterpart in a flow's best list: its slot and the pair's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ranked {
    /// The pair's score (f32 holds it exactly: `pair::assess` rounds it so).
    pub score: f32,
    pub other: u32,
}

impl FlowRecord {
    pub fn new(input: FlowInput, catalog: &Catalog, profiles: &mut ProfileInterner) -> Self {
        let FlowInput { flow, location } = input;
        let category = catalog.category_index(&flow.category);
        let profile = profiles.intern(flow.profile.hours());
        let quality = Quality {
            temperature_c: flow.quality.temperature_c,
            pressure_bar: flow.quality.pressure_bar,
            purity_pct: flow.quality.purity_pct,
            physical_form: flow.quality.physical_form,
            attributes: Default::default(),
        };
        let mut record = Self {
            id: flow.id,
            site_id: flow.site_id,
            business_id: flow.business_id,
            anonymous: flow.anonymous,
            direction: flow.direction,
            category,
            status: flow.status,
            quality,
            canonical_quantity: flow.canonical_quantity,
            annual_amount: flow.annual_amount,
            profile,
            season: flow.monthly_factors.map(|m| Arc::new(m.map(|f| f as f32))),
            price_eur_per_unit: flow.price_eur_per_unit,
            max_distance_km: flow.max_distance_km,
            valid_from: flow.valid_from,
            valid_until: flow.valid_until,
            location,
            gate_location: location,
            point: [0.0; 3],
            defect: None,
            max_proposals: flow.max_proposals,
            pays_for_co2: flow.pays_for_co2,
            best: Vec::new(),
            offer_links: Vec::new(),
            need_links: Vec::new(),
        };
        record.relocate(location);
        record
    }

    /// Why the flow cannot be matched at all, from the fields the engine reads.
    fn find_defect(&self) -> Option<&'static str> {
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if self.category.is_none() {
            Some("its category is not in the taxonomy")
        } else if !self.location.is_valid() {
            Some("its site has no valid location")
        } else if !(positive(self.annual_amount) && positive(self.canonical_quantity)) {
            Some("its quantity is not a positive number")
        } else if self.max_distance_km.is_some_and(|d| !positive(d)) {
            Some("its maximum distance is not a positive number")
        } else if self.price_eur_per_unit.is_some_and(|p| !p.is_finite()) {
            Some("its price is not a number")
        } else {
            None
        }
    }

    /// Whether the flow belongs in the spatial index (and so can have matches).
    pub fn matchable(&self) -> bool {
        self.defect.is_none() && self.status == FlowStatus::Active
    }

    /// The tree this flow lives in when it is matchable.
    pub fn tree(&self) -> Option<usize> {
        self.category.map(|c| tree_of(c, self.direction))
    }

    pub fn relocate(&mut self, location: GeoPoint) {
        self.location = location;
        self.gate_location = if self.anonymous {
            coarsen(location)
        } else {
            location
        };
        self.point = if self.gate_location.is_valid() {
            unit_vector(self.gate_location)
        } else {
            [0.0; 3]
        };
        self.defect = self.find_defect();
    }

    /// A copy whose figures are measured from `location`, without the match links (only the pair
    /// figures are wanted). The distance limit is still checked from the flow's own gate, so the
    /// copy matches exactly when the flow does.
    pub fn relocated(&self, location: GeoPoint) -> Self {
        Self {
            best: Vec::new(),
            offer_links: Vec::new(),
            need_links: Vec::new(),
            profile: Arc::clone(&self.profile),
            quality: self.quality.clone(),
            season: self.season.clone(),
            location,
            ..*self
        }
    }

    /// Ids of the matches this flow is a side of.
    pub fn match_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.offer_links
            .iter()
            .map(|l| l.id)
            .chain(self.need_links.iter().copied())
    }

    pub fn heap_bytes(&self) -> usize {
        self.season
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<[f32; 12]>())
            + self.best.capacity() * std::mem::size_of::<Ranked>()
            + self.offer_links.capacity() * std::mem::size_of::<OfferLink>()
            + self.need_links.capacity() * std::mem::size_of::<Uuid>()
    }
}

/// The tree holding flows of `category` in `direction`.
pub(crate) fn tree_of(category: u32, direction: Direction) -> usize {
    category as usize * 2 + usize::from(direction == Direction::Need)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The popcount shortcut for whole-hour profiles gives the sums the hour-by-hour loop gives.
    #[test]
    fn whole_hour_profiles_sum_by_popcount_as_the_loop_does() {
        let weekdays =
            symbiont_core::WeeklyProfile::parse_schedule("Mon-Fri 06:00-22:00").expect("schedule");
        let nights =
            symbiont_core::WeeklyProfile::parse_schedule("daily 22:00-06:00").expect("schedule");
        let (supply, demand) = (
            Profile::new(*weekdays.hours()),
            Profile::new(*nights.hours()),
        );
        assert!(supply.on_hours.is_some() && demand.on_hours.is_some());
        let looped = |p: &Profile| Profile {
            on_hours: None,
            ..p.clone()
        };
        for (a, b) in [(1.0, 1.0), (3.5, 0.25), (0.1, 7.0)] {
            let fast = supply.sums_with(&demand, a, b);
            let slow = looped(&supply).sums_with(&looped(&demand), a, b);
            assert_eq!(fast.0, slow.0);
            assert!(
                (fast.1 - slow.1).abs() <= 1e-12 * slow.1.abs().max(1.0),
                "{fast:?} {slow:?}"
            );
        }
        let half = Profile::new([0.5; HOURS_PER_WEEK]);
        assert!(
            half.on_hours.is_none(),
            "a fractional profile takes the loop"
        );
    }
}
