//! Numbering keys 0, 1, 2... in order of first appearance.
//!
//! The reader looks up the key of every source row, so this map is on the
//! hot path. A `HashMap<Value, usize>` spends most of each lookup waiting
//! for memory: its entries are 40 bytes, and a file with many keys spreads
//! them over more than the CPU caches hold. Here the table holds only the
//! number of each key and the keys themselves sit in a vector in
//! numbering order, so the table stays small and, as files usually repeat
//! keys in a pattern, the keys a lookup compares against are often close
//! together in memory.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use serde_json::Value;

/// Keys by number, and numbers by key.
#[derive(Debug, Default)]
pub(crate) struct KeyIds {
    /// Seeded per map, so hostile keys cannot be chosen to collide.
    hasher: RandomState,
    table: HashTable<usize>,
    keys: Vec<Value>,
}

impl KeyIds {
    /// The number of `key`, and whether it is new (numbered by this call).
    pub(crate) fn id(&mut self, key: &Value) -> (usize, bool) {
        let hash = self.hasher.hash_one(key);
        let keys = &self.keys;
        if let Some(&id) = self.table.find(hash, |&id| keys[id] == *key) {
            return (id, false);
        }
        let id = self.keys.len();
        let (hasher, keys) = (&self.hasher, &self.keys);
        self.table
            .insert_unique(hash, id, |&id| hasher.hash_one(&keys[id]));
        self.keys.push(key.clone());
        (id, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_keys_in_order_of_first_appearance_as_json_values() {
        let mut ids = KeyIds::default();
        let seen: Vec<(usize, bool)> = [
            json!(10),
            json!("10"),
            json!(10),
            json!(10.0),
            json!(true),
            json!("10"),
        ]
        .iter()
        .map(|key| ids.id(key))
        .collect();
        assert_eq!(
            seen,
            [
                (0, true),
                (1, true),
                (0, false),
                (2, true),
                (3, true),
                (1, false)
            ]
        );
    }

    #[test]
    fn many_keys_keep_their_numbers_as_the_table_grows() {
        let mut ids = KeyIds::default();
        for round in 0..2 {
            for i in 0..10_000u64 {
                let key = if i % 2 == 0 {
                    json!(i)
                } else {
                    json!(format!("k{i}"))
                };
                assert_eq!(ids.id(&key), (i as usize, round == 0), "key {key}");
            }
        }
    }
}
