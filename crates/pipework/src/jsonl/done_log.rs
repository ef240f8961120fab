//! The done log of `flatmap_by_key`: which keys have all their rows written.
//!
//! A key of a flatmap may produce zero or many rows, so the destination alone
//! cannot tell a finished key from one cut short. Next to `DST` the run keeps
//! `DST.done`, one JSON line per finished key, appended right after that key's
//! rows: `{"key": K, "rows": N, "end": BYTES}` where `end` is the length of
//! `DST` once those rows were written. On resume, rows past the last recorded
//! `end` belong to no finished key and are cut off; records past the end of a
//! destination that lost data are dropped. Then both files agree again.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::checking::CheckProgress;
use super::error::{kind_of, Error};
use super::key_ids::{canonical, canonical_raw, KeyBatch};
use super::options::Common;
use super::picked::pick_fields;
use super::resume::Resumed;
use super::torn_line::repair;

/// Done keys numbered together (see [`KeyIds::number`](super::key_ids::KeyIds::number)).
const BATCH: usize = 1024;

/// The done log that goes with `dst`: the same path with `.done` appended.
pub(crate) fn done_log_path(dst: &Path) -> PathBuf {
    let mut name = dst.as_os_str().to_owned();
    name.push(".done");
    PathBuf::from(name)
}

/// Brings `dst` and its done log back into agreement and returns the finished
/// keys (each with one row and no stored result) and the length of `dst`.
pub(crate) fn reconcile(dst: &Path, log: &Path, common: &Common) -> Result<(Resumed, u64), Error> {
    if let Some(notice) = repair(log)? {
        common.notify(&notice)?;
    }
    let dst_len = match std::fs::metadata(dst) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(Error::io("reading", dst, e)),
    };
    let file = match File::open(log) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dst_len > 0 {
                return Err(Error::MissingDoneLog {
                    path: dst.to_path_buf(),
                    log: log.to_path_buf(),
                });
            }
            return Ok((Resumed::default(), 0));
        }
        Err(e) => return Err(Error::io("opening", log, e)),
    };

    let log_len = file
        .metadata()
        .map_err(|e| Error::io("reading", log, e))?
        .len();
    let mut progress = CheckProgress::start(common, log_len)?;
    let mut keys = Resumed::default();
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut buf = Vec::new();
    let mut batch = KeyBatch::default();
    let (mut line, mut offset, mut end) = (0u64, 0u64, 0u64);
    let mut kept_log_len = 0u64;
    let mut dropped = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io("reading", log, e))?;
        if n == 0 {
            break;
        }
        line += 1;
        offset += n as u64;
        progress.at(offset)?;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let record_end = read_record(&buf, log, line, &mut batch)?;
        if record_end > dst_len || dropped > 0 {
            batch.pop();
            dropped += 1;
            continue;
        }
        end = end.max(record_end);
        kept_log_len = offset;
        if batch.len() == BATCH {
            keys.done_batch(&batch);
            batch.clear();
        }
    }
    keys.done_batch(&batch);
    progress.finish()?;
    if dropped > 0 {
        truncate(log, kept_log_len)?;
        common.notify(&Error::LogAhead {
            path: dst.to_path_buf(),
            log: log.to_path_buf(),
            records: dropped,
        })?;
    }
    if dst_len > end {
        truncate(dst, end)?;
        common.notify(&Error::UncommittedRows {
            path: dst.to_path_buf(),
            log: log.to_path_buf(),
            bytes: dst_len - end,
        })?;
    }
    Ok((keys, end))
}

/// Adds the key of one record to `keys` and returns its `end`, parsing no
/// more of the line than that takes (the common case); a line that is not
/// a plain record is parsed whole, which says what is wrong with it.
fn read_record(bytes: &[u8], log: &Path, line: u64, keys: &mut KeyBatch) -> Result<u64, Error> {
    if let Ok([Some(key), Some(end)]) = pick_fields(bytes, ["key", "end"]) {
        let end = serde_json::from_str::<Value>(end.get()).ok();
        if let Some(end) = end.as_ref().and_then(Value::as_u64) {
            let added = keys.push(|text| match canonical_raw(key.get(), text) {
                Some(Ok(())) => Ok(()),
                _ => Err(()),
            });
            if added.is_ok() {
                return Ok(end);
            }
        }
    }
    let (key, end) = parse_record(bytes, log, line)?;
    keys.push(|text| {
        canonical(&key, text);
        Ok::<(), Error>(())
    })?;
    Ok(end)
}

fn parse_record(bytes: &[u8], log: &Path, line: u64) -> Result<(Value, u64), Error> {
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
    let key = record.remove("key").ok_or_else(|| Error::MissingKey {
        path: log.to_path_buf(),
        line,
        key: "key".to_owned(),
    })?;
    let end = record
        .get("end")
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::MissingKey {
            path: log.to_path_buf(),
            line,
            key: "end".to_owned(),
        })?;
    Ok((key, end))
}

fn truncate(path: &Path, len: u64) -> Result<(), Error> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io("opening", path, e))?;
    file.set_len(len)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io("truncating", path, e))
}
