//! Numbering keys 0, 1, 2... in order of first appearance.
//!
//! The reader looks up the key of every source row, and a resume looks up
//! the key of every destination row, so this map is on the hot path and
//! holds every distinct key for the whole run: its size is most of a run's
//! memory per key. Each key is stored once, as its canonical JSON text (what
//! `serde_json` writes for the parsed value) in one shared buffer, which
//! costs the text's bytes plus an 8-byte end, rather than a 32-byte `Value`
//! and a heap block of its own. Two keys are equal as JSON values exactly
//! when their canonical texts are equal (`1` and `1.0` differ, `"\u0061"`
//! and `"a"` do not), except `-0.0` and `0.0`, which `Value` holds equal and
//! which are written the same here. The table holds only the number of each
//! key, so it stays small, and as files usually repeat keys in a pattern,
//! the keys a lookup compares against are often close together in memory.

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
    /// The canonical text of every key, one after the other.
    text: Vec<u8>,
    /// Where each key's text ends in `text`, by number.
    ends: Vec<usize>,
    /// The canonical text of the key being looked up.
    scratch: Vec<u8>,
}

impl KeyIds {
    /// The number of `key`, and whether it is new (numbered by this call).
    pub(crate) fn id(&mut self, key: &Value) -> (usize, bool) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        canonical(key, &mut scratch);
        let found = self.id_of_text(&scratch);
        self.scratch = scratch;
        found
    }

    /// The number of `key`, if it has one.
    pub(crate) fn get(&mut self, key: &Value) -> Option<usize> {
        self.scratch.clear();
        canonical(key, &mut self.scratch);
        self.find(&self.scratch, self.hasher.hash_one(&self.scratch))
    }

    fn find(&self, text: &[u8], hash: u64) -> Option<usize> {
        let (all, ends) = (&self.text, &self.ends);
        self.table
            .find(hash, |&id| key_text(all, ends, id) == text)
            .copied()
    }

    fn id_of_text(&mut self, text: &[u8]) -> (usize, bool) {
        let hash = self.hasher.hash_one(text);
        if let Some(id) = self.find(text, hash) {
            return (id, false);
        }
        let id = self.ends.len();
        let (hasher, all, ends) = (&self.hasher, &self.text, &self.ends);
        self.table
            .insert_unique(hash, id, |&id| hasher.hash_one(key_text(all, ends, id)));
        self.text.extend_from_slice(text);
        self.ends.push(self.text.len());
        (id, true)
    }
}

fn key_text<'a>(text: &'a [u8], ends: &[usize], id: usize) -> &'a [u8] {
    let start = if id == 0 { 0 } else { ends[id - 1] };
    &text[start..ends[id]]
}

/// Writes the text that stands for `key`: equal for keys `Value` holds equal.
fn canonical(key: &Value, out: &mut Vec<u8>) {
    if let Value::Number(n) = key {
        if n.is_f64() && n.as_f64() == Some(0.0) {
            // `-0.0 == 0.0` as values, but they are written apart.
            out.extend_from_slice(b"0.0");
            return;
        }
    }
    // Writing a `Value` into a Vec cannot fail: no I/O, string keys.
    if let Err(e) = serde_json::to_writer(out, key) {
        unreachable!("serializing a key into memory failed: {e}");
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
            serde_json::from_str("\"\\u0031\\u0030\"").unwrap(),
            json!(-0.0),
            json!(0.0),
            json!(0),
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
                (1, false),
                (1, false),
                (4, true),
                (4, false),
                (5, true),
            ]
        );
        assert_eq!(ids.get(&json!(10.0)), Some(2));
        assert_eq!(ids.get(&json!("11")), None);
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
