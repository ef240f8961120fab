//! Which source row each destination row stands for, decided by content.
//!
//! A map's destination holds one row per source row. A resume must know
//! which source rows those are, to write exactly the others. Counting a
//! key's rows is not enough once files are edited: with a key's middle row
//! deleted from the destination, the count says "the first two" and the
//! third row is written twice while the second never comes back; with a kept
//! value edited in the source, the stale row still counts. So a row is
//! matched by what it holds: its key and its kept values.
//!
//! # How, within a resume's bounds
//!
//! Comparing rows one by one would hold every row in memory. Instead each
//! key gets a fingerprint on each side, a count and an order-independent
//! hash of its rows' kept values (the wrapping sum of each row's xxh3 hash
//! of its kept values' canonical text), which costs 16 bytes a key:
//! - the destination scan sums each key's rows ([`Resumed::kept_sums`]);
//! - one pass over the source, before anything is written, counts each
//!   destination key's source rows and sums the first as many of them as
//!   the destination has for it.
//!
//! A key whose sums and counts agree holds exactly its first `n` source
//! rows, and a rerun skips those, as it always did. The other keys, usually
//! none, are looked at in detail: a key with no source row at all (edited
//! or removed from the source, or added to the destination by hand), one
//! with more destination rows than source rows (a duplicate), one whose
//! sums differ (a deleted or edited row), and one whose result replaced
//! kept columns (whose values in the destination are then `f`'s, see
//! [`replaced`](super::replaced)). For them a second pass over each file
//! pairs rows with equal kept values, and the rerun skips the source lines
//! that found a partner, whatever their place among the key's rows.
//! A destination row left without a partner is [`Error::UnmatchedRow`],
//! naming its line, before anything is written; reconciling drops it.
//!
//! Values compare as JSON values: a kept value written `1.50` or `{"b": 1,
//! "a": 2}` in the source and `1.5` or `{"a":2,"b":1}` by the destination's
//! writer (pipework's, abstractions' `json.dumps`, `jq`) hash the same.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use xxhash_rust::xxh3::xxh3_64;

use super::error::Error;
use super::key_ids::{canonical, canonical_raw, KeyBatch, KeyIds};
use super::picked::{Columns, PickedBatch};
use super::read::{key_text_of_line, read_lines};
use super::read_ahead::read_ahead;
use super::replaced::ReplacedColumns;
use super::resume::Resumed;
use super::src_fingerprint::can_read_twice;

/// Lines parsed per chunk.
const CHUNK: usize = 1024;

/// What the engine needs to know of the keys looked at in detail.
#[derive(Debug, Default)]
pub(crate) struct Matched {
    /// The keys looked at in detail: their rows are skipped by source line,
    /// not by count.
    pub(crate) by_line: HashSet<usize>,
    /// The source lines of those keys that the destination holds.
    pub(crate) lines: HashSet<u64>,
}

/// The hash of a row's kept values (columns 1.. of `columns`), but those
/// in `skip`.
pub(crate) fn kept_hash(
    batch: &PickedBatch,
    row: usize,
    skip: &[usize],
    scratch: &mut Vec<u8>,
) -> u64 {
    scratch.clear();
    for column in 1..batch.columns().names().len() {
        if skip.contains(&column) {
            continue;
        }
        match batch.raw(row, column) {
            None => scratch.push(0),
            Some(raw) => {
                scratch.push(1);
                let start = scratch.len();
                value_text(raw, scratch);
                let len = (scratch.len() - start) as u64;
                scratch.extend_from_slice(&len.to_le_bytes());
            }
        }
    }
    xxh3_64(scratch)
}

/// Writes a text for the JSON value `raw` that is the same for equal values
/// whatever their spacing, escapes or field order.
fn value_text(raw: &str, out: &mut Vec<u8>) {
    let start = out.len();
    if let Some(Ok(())) = canonical_raw(raw, out) {
        return;
    }
    out.truncate(start);
    match serde_json::from_str::<Value>(raw) {
        // Writing a `Value` into memory cannot fail.
        Ok(value) => {
            let _ = serde_json::to_writer(&mut *out, &value);
        }
        Err(_) => out.extend_from_slice(raw.as_bytes()),
    }
}

/// The rows of a run of lines: their keys, lines and picked columns.
pub(crate) struct RowChunk {
    pub(crate) keys: KeyBatch,
    /// Each row's 1-based line.
    pub(crate) lines: Vec<u64>,
    /// The picked columns, if asked for (of lines that are not rows too).
    pub(crate) picked: Option<PickedBatch>,
    /// Each row's index in `picked`.
    pub(crate) rows: Vec<usize>,
    /// Each row's kept hash with no column skipped, if asked for.
    pub(crate) hashes: Vec<u64>,
}

/// What a [`RowChunk`] holds besides keys and lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Keys,
    Picked,
    Hashes,
}

/// Reads the rows of `path` in chunks, parsed on a thread of their own, and
/// hands each chunk to `each`. Lines that are not rows are left out: the
/// destination scan and the run report them.
pub(crate) fn each_chunk(
    path: &Path,
    columns: &Arc<Columns>,
    want: Want,
    mut each: impl FnMut(RowChunk),
) -> Result<(), Error> {
    let mut lines = read_lines(path)?;
    let mut buf = Vec::new();
    let mut failed = None;
    read_ahead(
        || {
            let mut chunk = RowChunk {
                keys: KeyBatch::default(),
                lines: Vec::with_capacity(CHUNK),
                picked: (want != Want::Keys).then(|| PickedBatch::new(Arc::clone(columns))),
                rows: Vec::new(),
                hashes: Vec::new(),
            };
            let mut scratch = Vec::new();
            for _ in 0..CHUNK {
                let Some(next) = lines.next_into(&mut buf) else {
                    break;
                };
                let line = match next {
                    Ok(line) => line,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                };
                let added = match &mut chunk.picked {
                    None => {
                        key_text_of_line(&buf, columns.key(), path, line, &mut chunk.keys).is_ok()
                    }
                    Some(picked) => match picked.pick(&buf).map(|row| (row, picked.key(row))) {
                        Ok((row, Some(key))) => {
                            chunk
                                .keys
                                .push(|text| {
                                    canonical(&key, text);
                                    Ok::<(), ()>(())
                                })
                                .unwrap_or(());
                            chunk.rows.push(row);
                            if want == Want::Hashes {
                                chunk.hashes.push(kept_hash(picked, row, &[], &mut scratch));
                            }
                            true
                        }
                        // Not a row: the scan or the run reports it.
                        _ => false,
                    },
                };
                if added {
                    chunk.lines.push(line);
                }
            }
            (!chunk.lines.is_empty()).then_some(chunk)
        },
        |next| {
            while let Some(chunk) = next() {
                each(chunk);
            }
        },
    );
    failed.map_or(Ok(()), Err)
}

/// Matches the rows of `dst` (as `resumed` counted and summed them) with
/// those of `src`, and looks at the keys that disagree in detail. Errors
/// with [`Error::UnmatchedRow`] for the first destination row that stands
/// for no source row (reconciling does not come here: it drops them).
pub(crate) fn match_rows(
    src: &Path,
    dst: &Path,
    columns: &Arc<Columns>,
    resumed: &mut Resumed,
) -> Result<Matched, Error> {
    let n = resumed.keys.len();
    if n == 0 || !can_read_twice(src) {
        return Ok(Matched::default());
    }
    let kept = columns.names().len() > 1;
    let mut src_rows = vec![0u64; n];
    let mut src_sums = vec![0u64; if kept { n } else { 0 }];
    {
        let (ids, keys) = (&mut resumed.ids, &resumed.keys);
        each_chunk(
            src,
            columns,
            if kept { Want::Hashes } else { Want::Keys },
            |chunk| {
                let mut index = 0;
                ids.lookup(&chunk.keys, |_, id| {
                    if let Some(id) = id.filter(|&id| id < n) {
                        src_rows[id] += 1;
                        if kept && src_rows[id] <= keys[id].rows {
                            src_sums[id] = src_sums[id].wrapping_add(chunk.hashes[index]);
                        }
                    }
                    index += 1;
                });
            },
        )?;
    }
    let mut by_line: HashSet<usize> = (0..n)
        .filter(|&id| {
            let stored = &resumed.keys[id];
            src_rows[id] == 0
                || stored.rows > src_rows[id]
                || (kept && src_sums[id] != resumed.kept_sums[id])
        })
        .collect();
    if kept {
        by_line.extend(resumed.replaced.keys().copied());
    }
    if by_line.is_empty() {
        return Ok(Matched::default());
    }
    pair_rows(
        src,
        dst,
        columns,
        &mut resumed.ids,
        &resumed.replaced,
        by_line,
    )
}

/// A destination row of a key looked at in detail, waiting for a partner.
struct Waiting {
    hash: u64,
    line: u64,
    key: Value,
}

/// The second pass over both files, for the keys `by_line` only: pairs
/// destination and source rows of equal kept values.
fn pair_rows(
    src: &Path,
    dst: &Path,
    columns: &Arc<Columns>,
    ids: &mut KeyIds,
    replaced: &ReplacedColumns,
    by_line: HashSet<usize>,
) -> Result<Matched, Error> {
    let mut waiting: HashMap<usize, Vec<Waiting>> = HashMap::new();
    let mut scratch = Vec::new();
    let no_skip: Box<[usize]> = Box::default();
    each_chunk(dst, columns, Want::Picked, |chunk| {
        let picked = chunk.picked.as_ref().expect("asked for");
        let mut index = 0;
        ids.lookup(&chunk.keys, |_, id| {
            if let Some(id) = id.filter(|id| by_line.contains(id)) {
                let skip = replaced.get(&id).unwrap_or(&no_skip);
                let row = chunk.rows[index];
                let key = picked
                    .raw(row, 0)
                    .and_then(|raw| serde_json::from_str(raw).ok());
                waiting.entry(id).or_default().push(Waiting {
                    hash: kept_hash(picked, row, skip, &mut scratch),
                    line: chunk.lines[index],
                    key: key.unwrap_or(Value::Null),
                });
            }
            index += 1;
        });
    })?;
    let mut lines = HashSet::new();
    let mut repeats: HashSet<u64> = HashSet::new();
    each_chunk(src, columns, Want::Picked, |chunk| {
        let picked = chunk.picked.as_ref().expect("asked for");
        let mut index = 0;
        ids.lookup(&chunk.keys, |_, id| {
            if let Some(rows) = id.and_then(|id| waiting.get_mut(&id).map(|rows| (id, rows))) {
                let (id, rows) = rows;
                let skip = replaced.get(&id).unwrap_or(&no_skip);
                let hash = kept_hash(picked, chunk.rows[index], skip, &mut scratch);
                if let Some(at) = rows.iter().position(|row| row.hash == hash) {
                    rows.swap_remove(at);
                    lines.insert(chunk.lines[index]);
                    repeats.insert(hash);
                }
            }
            index += 1;
        });
    })?;
    let mut left: Vec<(usize, Waiting)> = waiting
        .into_iter()
        .flat_map(|(id, rows)| rows.into_iter().map(move |row| (id, row)))
        .collect();
    left.sort_by_key(|(_, row)| row.line);
    if let Some((_, row)) = left.first() {
        let reason = if repeats.contains(&row.hash) {
            "it repeats another row of its key, and the source has fewer rows with these values"
        } else {
            "no source row has its key and kept values (the source was edited, or the row was added to the destination)"
        };
        return Err(Error::UnmatchedRow {
            path: dst.to_path_buf(),
            line: row.line,
            key: row.key.clone(),
            src: src.to_path_buf(),
            reason,
        });
    }
    Ok(Matched { by_line, lines })
}

/// For a flatmap: errors with [`Error::UnmatchedRow`] for the first row of
/// `dst` whose key is recorded done but is not in `src` (its rows stand for
/// no source row). A flatmap's rows are not matched by kept values: `f`
/// may return a kept column's name, and no log says which.
pub(crate) fn check_done_keys(
    src: &Path,
    dst: &Path,
    columns: &Arc<Columns>,
    resumed: &mut Resumed,
) -> Result<(), Error> {
    let n = resumed.keys.len();
    if n == 0 || !can_read_twice(src) {
        return Ok(());
    }
    let mut in_src = vec![false; n];
    let ids = &mut resumed.ids;
    each_chunk(src, columns, Want::Keys, |chunk| {
        ids.lookup(&chunk.keys, |_, id| {
            if let Some(id) = id.filter(|&id| id < n) {
                in_src[id] = true;
            }
        });
    })?;
    if in_src.iter().all(|&found| found) {
        return Ok(());
    }
    let mut first = None;
    each_chunk(dst, columns, Want::Picked, |chunk| {
        if first.is_some() {
            return;
        }
        let picked = chunk.picked.as_ref().expect("asked for");
        let mut index = 0;
        ids.lookup(&chunk.keys, |_, id| {
            if first.is_none() && id.is_some_and(|id| id < n && !in_src[id]) {
                let raw = picked.raw(chunk.rows[index], 0);
                let key = raw.and_then(|raw| serde_json::from_str(raw).ok());
                first = Some((chunk.lines[index], key.unwrap_or(Value::Null)));
            }
            index += 1;
        });
    })?;
    match first {
        // Every missing key's rows were cut from the destination: nothing stands for them.
        None => Ok(()),
        Some((line, key)) => Err(Error::UnmatchedRow {
            path: dst.to_path_buf(),
            line,
            key,
            src: src.to_path_buf(),
            reason: "its key is recorded done but is not in the source (the source was edited, or the row was added to the destination)",
        }),
    }
}
