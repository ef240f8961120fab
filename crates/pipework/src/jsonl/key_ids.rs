//! Numbering keys 0, 1, 2... in order of first appearance.
//!
//! The reader looks up the key of every source row, and a resume looks up
//! the key of every destination row, so this map is on the hot path and
//! holds every distinct key for the whole run: its size is most of a run's
//! memory per key. Each key is stored once, as its canonical text in one
//! shared buffer, which costs the text's bytes rather than a 32-byte `Value`
//! and a heap block of its own. Two keys are equal exactly when their
//! canonical texts are: a string is what `serde_json` writes for it
//! (`"\u0061"` and `"a"` are one key), a number the text
//! [`key_number`](super::key_number) gives its exact value (`1`, `1.0` and
//! `10e-1` are one key, `-0` and `0` too), and a string never equals a
//! number (`"10"` and `10` are two keys).
//!
//! The table is written here rather than taken from `hashbrown` because a
//! lookup among a million keys is a cache miss (and, on a virtual machine,
//! a page walk), and those misses were half of a rerun's time. Two things
//! cut them, and `hashbrown` allows neither:
//! - One random access per lookup. A slot is 8 bytes: a key's number and 32
//!   bits of its hash, so a probe rarely compares a text that is not the
//!   key's. The texts and their ends are stored by number, and keys are
//!   looked up in nearly the order they were numbered (a destination is
//!   written in source order), so those reads are close to sequential.
//! - Batches. [`KeyIds::number`] hashes a batch of keys and fetches the
//!   slot of each some keys ahead of probing it, so that the misses of a
//!   batch overlap instead of following one another.
//! - Guesses. Keys mostly come in the order they were numbered (a resume
//!   reads a destination written in source order, then the source), so
//!   the key after the last one found is checked first, in sequential
//!   memory; in a rerun, most lookups are such guesses.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use serde_json::Value;

use super::key_number;

/// Lookups whose slots are being fetched while one is probed: enough to
/// keep the memory busy, few enough that the slots are still in the cache
/// when their turn comes.
const AHEAD: usize = 16;

/// Keys by number, and numbers by key.
#[derive(Debug, Default)]
pub(crate) struct KeyIds {
    /// Seeded per map, so hostile keys cannot be chosen to collide.
    hasher: RandomState,
    /// Open addressing with linear probing, a power of two long and at most
    /// three quarters full: 0 for a free slot, else a key's number plus one
    /// in the low 32 bits and the high 32 bits of its hash above them.
    slots: Vec<u64>,
    /// Where the text of each key ends in `text`, by number; it starts where
    /// the previous key's ends.
    ends: Vec<u64>,
    /// The canonical text of every key, one after the other.
    text: Vec<u8>,
    /// The hashes of the batch being numbered.
    hashes: Vec<u64>,
    /// The number after that of the last key found or added. Keys are
    /// mostly looked up in the order they were numbered (a destination is
    /// written in source order, and a resume reads both), and checking this
    /// one first, then the last one again, costs no random access.
    guess: usize,
    /// The last key was one of those guesses: the next one likely is too,
    /// and fetching its slot ahead would be wasted.
    guessing: bool,
}

/// Canonical key texts gathered for one call of [`KeyIds::number`].
#[derive(Debug, Default)]
pub(crate) struct KeyBatch {
    text: Vec<u8>,
    /// Where each key's text ends in `text`.
    ends: Vec<usize>,
}

impl KeyBatch {
    /// Adds the key that `write` writes as canonical text (see
    /// [`canonical_raw`]), or nothing if it fails.
    pub(crate) fn push<E>(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = self.text.len();
        match write(&mut self.text) {
            Ok(()) => {
                self.ends.push(self.text.len());
                Ok(())
            }
            Err(e) => {
                self.text.truncate(start);
                Err(e)
            }
        }
    }

    /// Takes back the last key added.
    pub(crate) fn pop(&mut self) {
        if self.ends.pop().is_some() {
            self.text.truncate(self.ends.last().copied().unwrap_or(0));
        }
    }

    /// Keys in the batch.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Empties the batch, keeping its buffers.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    fn keys(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.text[start..end])
    }
}

impl KeyIds {
    /// The number of `key`, and whether it is new (numbered by this call):
    /// what [`number`](Self::number) does for a batch of keys.
    #[cfg(test)]
    pub(crate) fn id(&mut self, key: &Value) -> (usize, bool) {
        let mut text = Vec::new();
        canonical(key, &mut text);
        let hash = self.hasher.hash_one(&text);
        self.id_of_text(&text, hash)
    }

    /// The number of `key`, if it has one: what [`lookup`](Self::lookup)
    /// does for a batch of keys.
    #[cfg(test)]
    pub(crate) fn get(&mut self, key: &Value) -> Option<usize> {
        let mut text = Vec::new();
        canonical(key, &mut text);
        let hash = self.hasher.hash_one(&text);
        self.probe(&text, hash).ok()
    }

    /// Numbers the keys of `batch` in order, as looking them up one by one
    /// would, and calls `each(index in the batch, number, is new)`.
    pub(crate) fn number(&mut self, batch: &KeyBatch, mut each: impl FnMut(usize, usize, bool)) {
        self.visit(batch, |ids, index, key, hash| {
            let (id, new) = ids.id_of_text(key, hash);
            each(index, id, new);
        });
    }

    /// Looks up the keys of `batch` in order, numbering none, and calls
    /// `each(key's canonical text, its number if it has one)`.
    pub(crate) fn lookup(&mut self, batch: &KeyBatch, mut each: impl FnMut(&[u8], Option<usize>)) {
        self.visit(batch, |ids, _, key, hash| {
            each(key, ids.find(key, hash).ok())
        });
    }

    /// Hashes the keys of `batch`, then calls `visit(self, index, key,
    /// hash)` for each in order, fetching the slot of the key [`AHEAD`] of
    /// it meanwhile.
    fn visit(&mut self, batch: &KeyBatch, mut visit: impl FnMut(&mut Self, usize, &[u8], u64)) {
        let mut hashes = std::mem::take(&mut self.hashes);
        hashes.clear();
        hashes.extend(batch.keys().map(|key| self.hasher.hash_one(key)));
        if !self.guessing {
            for &hash in hashes.iter().take(AHEAD) {
                self.prefetch(hash);
            }
        }
        for (index, (key, &hash)) in batch.keys().zip(&hashes).enumerate() {
            match hashes.get(index + AHEAD) {
                Some(&later) if !self.guessing => self.prefetch(later),
                _ => {}
            }
            visit(self, index, key, hash);
        }
        self.hashes = hashes;
    }

    /// Asks the CPU to bring the home slot of the key with hash `hash` into
    /// its cache, without waiting for it.
    #[inline]
    fn prefetch(&self, hash: u64) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[self.home(hash >> 32)]);
        }
    }

    /// The text of key number `id`.
    fn text_of(&self, id: usize) -> &[u8] {
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.text[start as usize..self.ends[id] as usize]
    }

    /// Where the key with hash `hash` goes first: the top bits of its hash,
    /// so that the slot of a key depends on its tag only and growing the
    /// table never hashes a key again.
    fn home(&self, tag: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (tag >> (32 - bits)) as usize
    }

    /// The number of the key whose text is `text`, or else the free slot
    /// where it would go.
    fn probe(&self, text: &[u8], hash: u64) -> Result<usize, usize> {
        if self.slots.is_empty() {
            return Err(0);
        }
        let mask = self.slots.len() - 1;
        let tag = hash >> 32;
        let mut at = self.home(tag);
        // Ends at a free slot at the latest: a quarter of the slots are free.
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return Err(at);
            }
            if slot >> 32 == tag {
                let id = (slot as u32 - 1) as usize;
                if self.text_of(id) == text {
                    return Ok(id);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// [`probe`](Self::probe), after checking the guesses (see
    /// [`KeyIds::guess`]).
    fn find(&mut self, text: &[u8], hash: u64) -> Result<usize, usize> {
        for id in [self.guess, self.guess.wrapping_sub(1)] {
            if id < self.ends.len() && self.text_of(id) == text {
                self.guess = id + 1;
                self.guessing = true;
                return Ok(id);
            }
        }
        self.guessing = false;
        let found = self.probe(text, hash);
        if let Ok(id) = found {
            self.guess = id + 1;
        }
        found
    }

    /// # Panics
    ///
    /// At 2^31 keys: far beyond what the memory of a run allows anyway.
    fn id_of_text(&mut self, text: &[u8], hash: u64) -> (usize, bool) {
        let free = match self.find(text, hash) {
            Ok(id) => return (id, false),
            Err(free) => free,
        };
        let id = self.ends.len();
        assert!(id < 1 << 31, "fewer than 2^31 keys");
        self.text.extend_from_slice(text);
        self.ends.push(self.text.len() as u64);
        let slot = (hash >> 32) << 32 | (id as u64 + 1);
        if (id + 1) * 4 > self.slots.len() * 3 {
            self.grow();
            let Err(free) = self.probe(text, hash) else {
                unreachable!("a key was in the table before it was added")
            };
            self.slots[free] = slot;
        } else {
            self.slots[free] = slot;
        }
        self.guess = id + 1;
        (id, true)
    }

    /// Doubles the slots (16 at first) and places every key again. With
    /// fewer than 2^31 keys there are at most 2^32 slots, so a slot's home
    /// is always in its 32-bit tag.
    fn grow(&mut self) {
        let len = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![0; len]);
        let mask = len - 1;
        // Old slots in order land in new homes nearly in order: the writes
        // walk the new table instead of jumping about it.
        for slot in old.into_iter().filter(|&slot| slot != 0) {
            let mut at = self.home(slot >> 32);
            // Ends at a free slot: the new table is at most half full.
            while self.slots[at] != 0 {
                at = (at + 1) & mask;
            }
            self.slots[at] = slot;
        }
    }
}

/// Asks the CPU to bring `slot` into its cache, without waiting for it.
#[inline]
fn prefetch(slot: &u64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint: it reads nothing into the program and
        // cannot fault, and the pointer comes from a reference anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(slot).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = slot;
}

/// Writes the text that stands for `key`: equal exactly for equal keys. A
/// number's text is [`key_number`]'s canonical text for the number `key`
/// holds (all of its digits with `exact-numbers`, else the nearest `f64`
/// for what is not a 64-bit integer), so `1` and `1.0` are one key; strings
/// and booleans are written as JSON, so `10` and `"10"` are two.
pub(crate) fn canonical(key: &Value, out: &mut Vec<u8>) {
    if let Value::Number(n) = key {
        let text = n.to_string();
        if key_number::write_canonical(text.as_bytes(), out) {
            return;
        }
        unreachable!("serde_json wrote the number {text} as no JSON number");
    }
    // Writing a `Value` into a Vec cannot fail: no I/O, string keys.
    if let Err(e) = serde_json::to_writer(out, key) {
        unreachable!("serializing a key into memory failed: {e}");
    }
}

/// Whether `a` and `b` are one key (see [`canonical`]): a result may repeat
/// its key as `1.0` for the key `1`.
pub(crate) fn same_key(a: &Value, b: &Value) -> bool {
    let (mut a_text, mut b_text) = (Vec::new(), Vec::new());
    canonical(a, &mut a_text);
    canonical(b, &mut b_text);
    a_text == b_text
}

/// Writes the canonical text of a key given as the JSON text `raw` of a
/// string, number or boolean, as [`canonical`] writes it for the parsed
/// value, and checks it as strictly as parsing does. Most keys are plain
/// strings and short integers, whose text is already canonical: those are
/// copied without being parsed. `None` if `raw` is not a string, number or
/// boolean.
pub(crate) fn canonical_raw(raw: &str, out: &mut Vec<u8>) -> Option<Result<(), serde_json::Error>> {
    let bytes = raw.as_bytes();
    let plain = match bytes.first()? {
        // `raw` is valid JSON text: a string without escapes is written as it is.
        b'"' => !bytes.contains(&b'\\'),
        b't' | b'f' => true,
        b'n' | b'[' | b'{' => return None,
        // An integer of at most `PLAIN_DIGITS` digits is its own canonical
        // text, except `-0`, which is 0.
        b'-' => is_short_integer(&bytes[1..]) && bytes != b"-0",
        _ => is_short_integer(bytes),
    };
    if plain {
        out.extend_from_slice(bytes);
        return Some(Ok(()));
    }
    // With exact numbers, every number's text parses, and its value is the
    // text's: its canonical text comes straight from it.
    if cfg!(feature = "exact-numbers")
        && matches!(bytes[0], b'-' | b'0'..=b'9')
        && key_number::write_canonical(bytes, out)
    {
        return Some(Ok(()));
    }
    Some(serde_json::from_str::<Value>(raw).map(|key| canonical(&key, out)))
}

/// Digits only, few enough to fit in an `i64` or `u64` whatever they are.
fn is_short_integer(digits: &[u8]) -> bool {
    !digits.is_empty()
        && digits.len() <= key_number::PLAIN_DIGITS
        && digits.iter().all(u8::is_ascii_digit)
}
#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_keys_in_order_of_first_appearance_numbers_by_value() {
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
                (0, false),
                (2, true),
                (1, false),
                (1, false),
                (3, true),
                (3, false),
                (3, false),
            ]
        );
        assert_eq!(ids.get(&json!(10.0)), Some(0));
        assert_eq!(ids.get(&json!(1e1)), Some(0));
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

    /// Writes the canonical text of `raw` both ways: from the text, and
    /// from the parsed value (`None` where the text is not a key or parses
    /// to no value).
    fn both_ways(raw: &str) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let mut fast = Vec::new();
        let fast = match canonical_raw(raw, &mut fast) {
            Some(Ok(())) => Some(fast),
            _ => None,
        };
        let slow = match serde_json::from_str::<Value>(raw) {
            Ok(key @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
                let mut slow = Vec::new();
                canonical(&key, &mut slow);
                Some(slow)
            }
            _ => None,
        };
        (fast, slow)
    }

    /// A batch reused after `clear` holds only the keys pushed since, and a
    /// failed push or a `pop` leaves no trace of the key.
    #[test]
    fn a_batch_counts_its_keys_and_starts_empty_again_after_clear() {
        let mut batch = KeyBatch::default();
        let push = |batch: &mut KeyBatch, text: &[u8]| {
            batch.push(|out| {
                out.extend_from_slice(text);
                Ok::<(), ()>(())
            })
        };
        push(&mut batch, b"\"a\"").unwrap();
        push(&mut batch, b"1").unwrap();
        let failed = batch.push(|out| {
            out.extend_from_slice(b"half");
            Err(())
        });
        assert_eq!((failed, batch.len()), (Err(()), 2));
        push(&mut batch, b"2").unwrap();
        batch.pop();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.keys().collect::<Vec<_>>(), [&b"\"a\""[..], b"1"]);
        batch.clear();
        assert_eq!(batch.len(), 0);
        push(&mut batch, b"3").unwrap();
        assert_eq!(batch.keys().collect::<Vec<_>>(), [&b"3"[..]]);
    }

    #[test]
    fn a_key_text_is_canonical_as_its_parsed_value_is() {
        for raw in [
            "0",
            "-0",
            "-0.0",
            "0.0",
            "7",
            "-7",
            "1.0",
            "1e3",
            "1E3",
            "-1.5e-3",
            "123456789012345678",
            "-123456789012345678",
            "1234567890123456789",
            "-1234567890123456789",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "1e400",
            "true",
            "false",
            r#""""#,
            r#""a""#,
            r#""\u0061""#,
            r#""caf\u00e9""#,
            r#""é""#,
            r#""a\"b""#,
            r#""\/""#,
            r#""\ud800""#,
            r#""\ud83d\ude00""#,
            "null",
            "[1]",
            r#"{"a":1}"#,
        ] {
            let (fast, slow) = both_ways(raw);
            assert_eq!(fast, slow, "{raw}");
        }
    }

    /// Canonical keys of `keys`, as `KeyIds::id` sees them.
    fn key(k: u16) -> Value {
        Value::from(format!("k{k}"))
    }

    proptest::proptest! {
        #[test]
        fn any_number_or_string_text_is_canonical_as_its_value(
            raw in proptest::prop_oneof![
                r"-?(0|[1-9][0-9]{0,21})(\.[0-9]{1,3})?([eE][-+]?[0-9]{1,3})?",
                r#""([a-z/é]|\\u00[0-7][0-9a-f]|\\ud83d\\ude0[0-9]|\\[nt/"\\])*""#,
            ]
        ) {
            let (fast, slow) = both_ways(&raw);
            proptest::prop_assert_eq!(fast, slow, "{}", raw);
        }

        /// Batches of any sizes number keys in order of first appearance and
        /// find them again, whatever the order: random, or in runs of
        /// consecutive numbers as a resume's keys come (the guesses' case).
        #[test]
        fn batches_number_and_find_keys_in_order_of_first_appearance(
            keys in key_sequence(),
            probes in key_sequence(),
            cuts in proptest::collection::vec(1usize..70, 1..40),
        ) {
            let mut model: HashMap<u16, usize> = HashMap::new();
            let mut expected = Vec::new();
            for &k in &keys {
                let fresh = model.len();
                let id = *model.entry(k).or_insert(fresh);
                expected.push((id, id == fresh));
            }
            let mut ids = KeyIds::default();
            let mut got = Vec::new();
            for now in batches(&keys, &cuts) {
                let mut numbered = vec![(usize::MAX, false); now.len()];
                ids.number(&batch_of(now), |index, id, new| numbered[index] = (id, new));
                got.extend(numbered);
            }
            proptest::prop_assert_eq!(got, expected);
            let mut found = Vec::new();
            for now in batches(&probes, &cuts) {
                ids.lookup(&batch_of(now), |_, id| found.push(id));
            }
            let wanted: Vec<Option<usize>> = probes.iter().map(|k| model.get(k).copied()).collect();
            proptest::prop_assert_eq!(found, wanted);
        }
    }

    /// Keys 0..400 in a random order, or in runs of consecutive numbers.
    fn key_sequence() -> impl proptest::strategy::Strategy<Value = Vec<u16>> {
        use proptest::strategy::Strategy;
        proptest::prop_oneof![
            proptest::collection::vec(0u16..400, 0..2000),
            proptest::collection::vec((0u16..400, 1u16..60), 0..60).prop_map(|runs| {
                runs.into_iter()
                    .flat_map(|(start, len)| (start..start + len).map(|k| k % 400))
                    .collect()
            }),
        ]
    }

    /// `keys` cut into batches of the sizes `cuts` gives, in turn.
    fn batches<'a>(keys: &'a [u16], cuts: &'a [usize]) -> impl Iterator<Item = &'a [u16]> {
        let mut rest = keys;
        cuts.iter().cycle().map_while(move |&cut| {
            if rest.is_empty() {
                return None;
            }
            let (now, later) = rest.split_at(cut.min(rest.len()));
            rest = later;
            Some(now)
        })
    }

    fn batch_of(keys: &[u16]) -> KeyBatch {
        let mut batch = KeyBatch::default();
        for &k in keys {
            let pushed = batch.push(|text| {
                canonical(&key(k), text);
                Ok::<(), ()>(())
            });
            assert!(pushed.is_ok());
        }
        batch
    }
}
