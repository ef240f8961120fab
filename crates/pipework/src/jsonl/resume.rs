//! What an earlier run of `map_by_key` left in the destination.
//!
//! Resume works from the keys present, not from a line count: for each key,
//! the number of rows already written and the result they carry (the row
//! without the key and the kept columns). Because a run writes each key's
//! rows in source order, the rows present for a key are always its first
//! occurrences in the source, so a rerun skips exactly those and writes the rest
//! from the stored result, without calling `f` again.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::error::Error;
use super::options::Common;
use super::read::{key_of, read};
use super::torn_line::repair;
use super::Row;

/// A key found in the destination.
#[derive(Debug)]
pub(crate) struct Resumed<O> {
    /// Rows of this key already written.
    pub(crate) rows: u64,
    /// The key's result, if the destination holds it.
    pub(crate) result: Option<O>,
}

/// Repairs a torn last line of `dst`, then counts its rows per key and keeps
/// the first result of each. A missing `dst` is an empty one.
pub(crate) fn scan_map_dst(
    dst: &Path,
    key: &str,
    keep_columns: &[String],
    common: &Common,
) -> Result<HashMap<Value, Resumed<Row>>, Error> {
    let mut keys: HashMap<Value, Resumed<Row>> = HashMap::new();
    if let Some(notice) = repair(dst)? {
        common.notify(&notice)?;
    }
    let rows = match read(dst) {
        Ok(rows) => rows,
        Err(Error::Io { cause, .. }) if cause.kind() == std::io::ErrorKind::NotFound => {
            return Ok(keys)
        }
        Err(e) => return Err(e),
    };
    for item in rows {
        let (line, mut row) = match item {
            Ok(item) => item,
            Err(e) if e.is_bad_input() => {
                common.skip_or_raise(e)?;
                continue;
            }
            Err(e) => return Err(e),
        };
        let value = match key_of(&row, key, dst, line) {
            Ok(value) => value,
            Err(e) => {
                common.skip_or_raise(e)?;
                continue;
            }
        };
        let entry = keys.entry(value).or_insert(Resumed {
            rows: 0,
            result: None,
        });
        entry.rows += 1;
        if entry.result.is_none() {
            row.remove(key);
            for column in keep_columns {
                row.remove(column);
            }
            entry.result = Some(row);
        }
    }
    Ok(keys)
}
