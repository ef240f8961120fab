//! The replaced log of `map_by_key`: which keys' results replaced a kept
//! column.
//!
//! A key's later rows take `f`'s result from the key's first row in the
//! destination: that row minus the key and the kept columns, which are the
//! source's, unless `f` returned a field of that name. Nothing in the row
//! says which: JSON objects are unordered and the tools a destination goes
//! through (`jq -S`, Python's `json.dumps(sort_keys=True)`, pandas, a
//! database export) reorder their fields. So the run says it explicitly, in
//! `DST.replaced` beside the destination: one JSON line per key whose result
//! replaced kept columns, `{"key": K, "columns": ["name", ...]}`. Such
//! results are rare (most `f` never return a kept column's name), so the
//! log is usually absent and costs nothing; it is created with its first
//! record.
//!
//! A record is written (and, with [`Durability::Fsync`](super::Durability),
//! synced) before the key's first row, by the same thread, so a row in the
//! destination never lacks its record. The reverse can happen: a run killed
//! between the two, or a destination cut short by hand, leaves records of
//! keys with no row. Such a key is computed again and its new result may
//! replace other columns or none, so on resume every record of a key with
//! no row in the destination is dropped, by rewriting the log without it,
//! before anything is written.
//!
//! A destination without the log (begun by abstractions'
//! `map_by_key_jsonl_file`, which always reads kept columns back as the
//! source's, or by pipework before the log existed) is read as having no
//! replaced column: see the [module docs](super#what-a-resume-trusts).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::{kind_of, Error};
use super::key_ids::{canonical, KeyBatch, KeyIds};
use super::options::Common;
use super::picked::{Columns, Picked};
use super::torn_line::repair;

/// The replaced log that goes with `dst`: the same path with `.replaced`
/// appended.
pub(crate) fn replaced_log_path(dst: &Path) -> PathBuf {
    let mut name = dst.as_os_str().to_owned();
    name.push(".replaced");
    PathBuf::from(name)
}

/// By key number, the kept columns (indices in [`Columns::names`]) whose
/// value in the key's rows is `f`'s: only keys that have such columns.
pub(crate) type ReplacedColumns = HashMap<usize, Box<[usize]>>;

/// Appends the record of a key's first row, `base`, whose result replaces
/// the kept columns `replaced` (indices in `base`'s columns).
pub(crate) fn write_record(
    buf: &mut Vec<u8>,
    base: &Picked,
    replaced: impl Iterator<Item = usize>,
) {
    let columns = base.columns();
    // Every row the reader hands on has its key (a row without is bad input).
    let Some(key) = base.raw(0) else {
        return;
    };
    buf.extend_from_slice(b"{\"key\":");
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b",\"columns\":[");
    for (i, column) in replaced.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        let label = &columns.labels()[column];
        // A label is the name as a JSON string and a colon.
        buf.extend_from_slice(&label.as_bytes()[..label.len() - 1]);
    }
    buf.extend_from_slice(b"]}\n");
}

/// Reads the replaced log of `dst` for a resume whose destination holds the
/// keys `ids`: the replaced columns of each, among `columns`. Repairs a torn
/// last line, and drops the records of keys that have no row (see the
/// module docs).
pub(crate) fn load(
    dst: &Path,
    ids: &mut KeyIds,
    columns: &Columns,
    common: &Common,
) -> Result<ReplacedColumns, Error> {
    let log = replaced_log_path(dst);
    if let Some(notice) = repair(&log)? {
        common.notify(&notice)?;
    }
    let mut found = ReplacedColumns::new();
    let mut stale = false;
    let read = each_record(&log, ids, |_, id, record| match id {
        Some(id) => {
            let replaced: Box<[usize]> = record
                .columns
                .iter()
                .filter_map(|name| columns.kept_index(name))
                .collect();
            // A key recorded twice (by hand) is as its last record says.
            found.insert(id, replaced);
        }
        None => stale = true,
    });
    match read {
        Err(Error::Io { cause, .. }) if cause.kind() == std::io::ErrorKind::NotFound => {
            return Ok(found)
        }
        other => other?,
    }
    if stale {
        drop_stale(&log, ids)?;
    }
    found.retain(|_, replaced| !replaced.is_empty());
    Ok(found)
}

/// One record of the log.
struct Record {
    key: Value,
    columns: Vec<String>,
}

/// Calls `each(line, key number if the destination has the key, record)`
/// for every record of `log`, in order.
fn each_record(
    log: &Path,
    ids: &mut KeyIds,
    mut each: impl FnMut(&[u8], Option<usize>, Record),
) -> Result<(), Error> {
    let file = File::open(log).map_err(|e| Error::io("opening", log, e))?;
    let mut reader = BufReader::new(file);
    let (mut buf, mut batch) = (Vec::new(), KeyBatch::default());
    let mut line = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io("reading", log, e))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record = parse_record(&buf, log, line)?;
        batch.clear();
        batch.push(|text| {
            canonical(&record.key, text);
            Ok::<(), Error>(())
        })?;
        let mut id = None;
        ids.lookup(&batch, |_, found| id = found);
        each(&buf, id, record);
    }
}

fn parse_record(bytes: &[u8], log: &Path, line: u64) -> Result<Record, Error> {
    let value: Value = serde_json::from_slice(bytes).map_err(|cause| Error::InvalidJson {
        path: log.to_path_buf(),
        line,
        cause,
    })?;
    let Value::Object(mut record) = value else {
        return Err(Error::NotAnObject {
            path: log.to_path_buf(),
            line,
            found: kind_of(&value),
        });
    };
    let missing = |key: &str| Error::MissingKey {
        path: log.to_path_buf(),
        line,
        key: key.to_owned(),
    };
    let key = record.remove("key").ok_or_else(|| missing("key"))?;
    if matches!(key, Value::Null | Value::Array(_) | Value::Object(_)) {
        return Err(Error::BadKey {
            path: log.to_path_buf(),
            line,
            key: "key".to_owned(),
            found: kind_of(&key),
        });
    }
    let columns = match record.remove("columns") {
        Some(Value::Array(names)) => names
            .into_iter()
            .map(|name| match name {
                Value::String(name) => Some(name),
                _ => None,
            })
            .collect::<Option<Vec<String>>>(),
        _ => None,
    };
    let columns = columns.ok_or_else(|| missing("columns"))?;
    Ok(Record { key, columns })
}

/// Rewrites `log` with only the records of keys in `ids`, through a new file
/// renamed over it, so that a crash leaves the old log or the new one.
fn drop_stale(log: &Path, ids: &mut KeyIds) -> Result<(), Error> {
    let mut name = log.as_os_str().to_owned();
    name.push(".new");
    let new = PathBuf::from(name);
    let mut kept = Vec::new();
    each_record(log, ids, |line, id, _| {
        if id.is_some() {
            kept.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                kept.push(b'\n');
            }
        }
    })?;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&new)
        .map_err(|e| Error::io("creating", &new, e))?;
    file.write_all(&kept)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io("writing", &new, e))?;
    std::fs::rename(&new, log).map_err(|e| Error::io("replacing", log, e))?;
    sync_dir(log)
}

/// Syncs the directory holding `path`, so that a rename in it lasts.
pub(crate) fn sync_dir(path: &Path) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| Error::io("syncing", dir, e))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::jsonl::picked::PickedBatch;

    fn columns() -> Arc<Columns> {
        Columns::new("id", &["a".to_owned(), "b".to_owned()])
    }

    /// The keys of a destination, numbered 0, 1, ... in this order.
    fn ids(keys: &[Value]) -> KeyIds {
        let mut ids = KeyIds::default();
        for key in keys {
            ids.id(key);
        }
        ids
    }

    /// The record `write_record` writes for the source row `line`.
    fn record(line: &str, replaced: &[usize]) -> String {
        let mut batch = PickedBatch::new(columns());
        let index = batch.pick(line.as_bytes()).unwrap();
        let batch = Arc::new(batch);
        let mut buf = Vec::new();
        write_record(
            &mut buf,
            &Picked::new(&batch, index),
            replaced.iter().copied(),
        );
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn a_record_names_the_key_as_the_source_wrote_it_and_the_columns() {
        assert_eq!(
            record(r#"{"b": 0, "id": "caf\u00e9"}"#, &[1, 2]),
            "{\"key\":\"caf\\u00e9\",\"columns\":[\"a\",\"b\"]}\n"
        );
        assert_eq!(
            record(r#"{"id": 1.50}"#, &[2]),
            "{\"key\":1.50,\"columns\":[\"b\"]}\n"
        );
    }

    /// Records are found by key as JSON values; a column no longer kept is
    /// no replaced column; records of keys with no row are dropped from
    /// the file, the others kept as they were; the last record of a key wins.
    #[test]
    fn loading_keeps_the_records_of_keys_in_dst_and_drops_the_rest_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        let log = replaced_log_path(&dst);
        let kept_lines = [
            record(r#"{"id": "caf\u00e9"}"#, &[1]),
            "{\"key\": 2, \"columns\": [\"b\", \"gone\"]}\n".to_owned(),
            "{\"key\": 3, \"columns\": [\"gone\"]}\n".to_owned(),
            "{\"key\": 2, \"columns\": [\"a\", \"b\"]}\n".to_owned(),
        ];
        let text = format!(
            "{}{{\"key\": 9, \"columns\": [\"a\"]}}\n{}\n{}{}{{\"key\": \"2\", \"columns\": [\"a\"]}}\n{}",
            kept_lines[0], kept_lines[1], kept_lines[2], kept_lines[3], "{\"key\": 1.5, \"columns\": [\"a\"]}\n"
        );
        std::fs::write(&log, text).unwrap();
        let mut ids = ids(&[json!(2), json!("café"), json!(3), json!(1)]);
        let found = load(&dst, &mut ids, &columns(), &Common::default()).unwrap();
        let mut found: Vec<_> = found.into_iter().collect();
        found.sort();
        assert_eq!(found, [(0, vec![1, 2].into()), (1, vec![1].into())]);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), kept_lines.concat());
        // Nothing stale: the file is left alone, byte for byte.
        let mut ids = self::ids(&[json!(2), json!("café"), json!(3)]);
        load(&dst, &mut ids, &columns(), &Common::default()).unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), kept_lines.concat());
        assert!(!dir.path().join("out.jsonl.replaced.new").exists());
    }

    #[test]
    fn no_log_is_no_replaced_column() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        let found = load(&dst, &mut ids(&[json!(1)]), &columns(), &Common::default()).unwrap();
        assert!(found.is_empty());
        assert!(!replaced_log_path(&dst).exists());
    }

    /// A torn last record (a kill while it was written) is cut off, and
    /// reported; a bad record before it is an error naming the log and line.
    #[test]
    fn a_torn_last_record_is_cut_and_a_bad_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        let log = replaced_log_path(&dst);
        let good = "{\"key\":1,\"columns\":[\"a\"]}\n";
        std::fs::write(&log, format!("{good}{{\"key\":2,\"colu")).unwrap();
        let notices = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&notices);
        let common = crate::jsonl::MapOptions::new("id")
            .on_skip(move |e| seen.lock().unwrap().push(e.to_string()))
            .common;
        let found = load(&dst, &mut ids(&[json!(1), json!(2)]), &columns(), &common).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), good);
        assert_eq!(notices.lock().unwrap().len(), 1);

        for (bad, what) in [
            ("[1]", "expected a json object"),
            ("{\"columns\": []}", "missing key column \"key\""),
            (
                "{\"key\": 1, \"columns\": [1]}",
                "missing key column \"columns\"",
            ),
            (
                "{\"key\": null, \"columns\": []}",
                "key column \"key\" holds null",
            ),
            ("{\"key\": 1 x", "invalid json"),
        ] {
            std::fs::write(&log, format!("{good}{bad}\n{good}")).unwrap();
            let error = load(&dst, &mut ids(&[json!(1)]), &columns(), &Common::default())
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(&format!("{}:2: {what}", log.display())),
                "{error}"
            );
        }
    }
}
