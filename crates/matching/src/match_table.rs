//! The live matches by id: a dense vector of (id, pair) and a hash table of positions in it.
//!
//! A plain map from id to pair holds its entries in its buckets, and a table of a quarter of a
//! million entries has half a million buckets (the load stays under 7/8 and the bucket count is a
//! power of two): 13 MB at 24 bytes a bucket. Here the buckets hold only a 4-byte position, and the
//! 24-byte entries sit packed in the vector: about 8.5 MB for the same matches. A lookup costs one
//! more memory access. Removal swaps the last entry into the hole and fixes its position.

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use uuid::Uuid;

/// A live match as stored: the slots of its offer and its need, and its score as its offer link
/// has it (so a list ranks a need's matches without searching their offers' links).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LivePair {
    pub offer: u32,
    pub need: u32,
    pub score: f32,
}

#[derive(Debug, Default)]
pub(crate) struct MatchTable {
    entries: Vec<(Uuid, LivePair)>,
    positions: HashTable<u32>,
    hasher: RandomState,
}

impl MatchTable {
    /// An empty table with room for `capacity` matches.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
            positions: HashTable::with_capacity(capacity),
            hasher: RandomState::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn get(&self, id: &Uuid) -> Option<&LivePair> {
        let at = self.position(id)?;
        Some(&self.entries[at].1)
    }

    pub fn contains_key(&self, id: &Uuid) -> bool {
        self.position(id).is_some()
    }

    /// Inserts or replaces; returns the pair it replaced.
    pub fn insert(&mut self, id: Uuid, pair: LivePair) -> Option<LivePair> {
        if let Some(at) = self.position(&id) {
            return Some(std::mem::replace(&mut self.entries[at].1, pair));
        }
        let Self {
            entries,
            positions,
            hasher,
        } = self;
        let at = u32::try_from(entries.len()).expect("fewer than 2^32 live matches");
        entries.push((id, pair));
        positions.insert_unique(hasher.hash_one(id), at, |&i| {
            hasher.hash_one(entries[i as usize].0)
        });
        None
    }

    pub fn remove(&mut self, id: &Uuid) -> Option<LivePair> {
        let Self {
            entries,
            positions,
            hasher,
        } = self;
        let found = positions
            .find_entry(hasher.hash_one(id), |&i| entries[i as usize].0 == *id)
            .ok()?;
        let (at, _) = found.remove();
        let at = at as usize;
        let (_, pair) = entries.swap_remove(at);
        if let Some(&(moved, _)) = entries.get(at) {
            // The last entry moved into the hole: point its bucket at its new place.
            let last = entries.len();
            if let Some(position) =
                positions.find_mut(hasher.hash_one(moved), |&i| i as usize == last)
            {
                *position = at as u32;
            }
        }
        Some(pair)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Uuid, &LivePair)> + '_ {
        self.entries.iter().map(|(id, pair)| (id, pair))
    }

    pub fn keys(&self) -> impl Iterator<Item = &Uuid> + '_ {
        self.entries.iter().map(|(id, _)| id)
    }

    pub fn values(&self) -> impl Iterator<Item = &LivePair> + '_ {
        self.entries.iter().map(|(_, pair)| pair)
    }

    /// Bytes held: the entries and the buckets (a position and a control byte each).
    pub fn memory_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(Uuid, LivePair)>()
            + self.positions.capacity() * 8 / 7 * (std::mem::size_of::<u32>() + 1)
    }

    fn position(&self, id: &Uuid) -> Option<usize> {
        self.positions
            .find(self.hasher.hash_one(id), |&i| {
                self.entries[i as usize].0 == *id
            })
            .map(|&i| i as usize)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn behaves_like_a_map_through_inserts_replacements_and_removals() {
        let mut table = MatchTable::default();
        let mut model: HashMap<Uuid, LivePair> = HashMap::new();
        let ids: Vec<Uuid> = (0..200u128).map(Uuid::from_u128).collect();
        // A fixed pseudo-random walk over inserts and removals of 200 ids.
        let mut state = 7u64;
        for step in 0..5_000u32 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let id = ids[(state >> 33) as usize % ids.len()];
            if state.is_multiple_of(3) {
                assert_eq!(
                    table.remove(&id),
                    model.remove(&id),
                    "remove at step {step}"
                );
            } else {
                let pair = LivePair {
                    offer: step,
                    need: step + 1,
                    score: 0.5,
                };
                assert_eq!(
                    table.insert(id, pair),
                    model.insert(id, pair),
                    "insert at step {step}"
                );
            }
            assert_eq!(table.len(), model.len());
        }
        for id in &ids {
            assert_eq!(table.get(id), model.get(id));
            assert_eq!(table.contains_key(id), model.contains_key(id));
        }
        let mut keys: Vec<Uuid> = table.keys().copied().collect();
        keys.sort();
        let mut expected: Vec<Uuid> = model.keys().copied().collect();
        expected.sort();
        assert_eq!(keys, expected);
    }
}
