//! Numbering keys 0, 1, 2... in order of first appearance.
//!
//! The reader looks up the key of every source row, and a resume looks up
//! the key of every destination row, so this map is on the hot path and
//! holds every distinct key for the whole run: its size is most of a run's
//! memory per key. Each key is stored once, as its canonical JSON text (what
//! `serde_json` writes for the parsed value) in one shared buffer, which
//! costs the text's bytes rather than a 32-byte `Value` and a heap block of
//! its own. Two keys are equal as JSON values exactly
//! when their canonical texts are equal (`1` and `1.0` differ, `"\u0061"`
//! and `"a"` do not), except `-0.0` and `0.0`, which `Value` holds equal and
//! which are written the same here. The table holds each key's number and
//! where its text is (16 bytes), so a lookup touches the table and the text
//! only: with a million keys each of those is a cache miss, and they are
//! most of a lookup's time.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use serde_json::Value;

/// Keys by number, and numbers by key.
#[derive(Debug, Default)]
pub(crate) struct KeyIds {
    /// Seeded per map, so hostile keys cannot be chosen to collide.
    hasher: RandomState,
    table: HashTable<Entry>,
    /// The canonical text of every key, one after the other.
    text: Vec<u8>,
    /// Keys numbered so far.
    len: usize,
    /// The canonical text of the key being looked up.
    scratch: Vec<u8>,
}

/// A key in the table: its number and where its text is.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: u64,
    len: u32,
    id: u32,
}

impl Entry {
    fn text(self, all: &[u8]) -> &[u8] {
        &all[self.start as usize..self.start as usize + self.len as usize]
    }
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
        let all = &self.text;
        self.table
            .find(hash, |entry| entry.text(all) == text)
            .map(|entry| entry.id as usize)
    }

    /// # Panics
    ///
    /// Past 2^32 keys, or for a key of 4 GiB or more: far beyond what the
    /// memory of a run allows anyway.
    fn id_of_text(&mut self, text: &[u8]) -> (usize, bool) {
        let hash = self.hasher.hash_one(text);
        if let Some(id) = self.find(text, hash) {
            return (id, false);
        }
        let id = self.len;
        let entry = Entry {
            start: self.text.len() as u64,
            len: u32::try_from(text.len()).expect("a key of less than 4 GiB"),
            id: u32::try_from(id).expect("fewer than 2^32 keys"),
        };
        let (hasher, all) = (&self.hasher, &self.text);
        self.table
            .insert_unique(hash, entry, |entry| hasher.hash_one(entry.text(all)));
        self.text.extend_from_slice(text);
        self.len += 1;
        (id, true)
    }
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
