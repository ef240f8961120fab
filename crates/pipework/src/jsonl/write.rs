//! The appender: one blocking thread that owns the destination file.
//!
//! The async side hands it batches of finished rows over a bounded channel.
//! The thread serializes them, appends everything it has in one `write` (so
//! each line goes to the operating system whole, never in a user-space buffer
//! while the thread waits), optionally `fsync`s, then acknowledges the batch's
//! sequence number. The async side counts a key as safe only once its rows are
//! acknowledged, which is what bounds the work a crash can lose. When the
//! channel closes (end of run, error, or the run's future dropped) the thread
//! writes what it still holds, `fsync`s and ends.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::error::Error;
use super::lock::DstLock;
use super::options::{Common, Durability};
use super::picked::Picked;
use super::rendered::{write_merged, Rendered};
use super::replaced::{replaced_log_path, sync_dir, write_record};
use super::writeback;
use super::Row;
use crate::internal::lock;

/// Batches the channel holds before `send` waits.
const CHANNEL_BATCHES: usize = 4;
/// Bytes gathered from queued batches before they are written.
const MAX_WRITE: usize = 1 << 20;

/// The part of an output row taken from its source row: the key column and
/// the kept columns, as JSON text.
pub(crate) type Base = Picked;

/// One unit of output.
#[derive(Debug)]
pub(crate) enum Item {
    /// One line: `base` merged with `result`; `result` wins a name clash.
    /// `first_of` names the key whose first row this is, if the run wants
    /// to learn where that row starts (see [`Writer::first_rows`]).
    Merged {
        base: Base,
        result: Arc<Rendered>,
        first_of: Option<usize>,
    },
    /// Zero or more lines, each `base` merged with one of `rows`, then a done-log
    /// record saying `key` is complete.
    Group {
        base: Base,
        key: Value,
        rows: Arc<Vec<Rendered>>,
    },
    /// One line as it is.
    Plain(Row),
}

/// The done log of a flatmap: where it is and how long the destination is.
#[derive(Debug)]
pub(crate) struct DoneLog {
    pub(crate) path: PathBuf,
    pub(crate) dst_len: u64,
}

/// Where keys' first rows start in the destination: (key number, byte
/// offset) pairs, filled by the appender before it acknowledges them.
type FirstRows = Arc<Mutex<Vec<(usize, u64)>>>;

/// The async side's handle on the appender thread.
#[derive(Debug)]
pub(crate) struct Writer {
    tx: Option<mpsc::Sender<Vec<Item>>>,
    acked: watch::Receiver<u64>,
    first_rows: FirstRows,
    sent: u64,
    thread: JoinHandle<Result<(), Error>>,
}

impl Writer {
    /// Starts the appender thread for `dst` (created if missing). The thread
    /// keeps `lock` until it has synced and closed the destination, so the
    /// next run cannot start appending while this one still writes, even if
    /// this run's future was dropped.
    pub(crate) fn spawn(
        dst: &Path,
        log: Option<DoneLog>,
        common: &Common,
        lock: DstLock,
    ) -> Writer {
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let (ack_tx, acked) = watch::channel(0);
        let first_rows = FirstRows::default();
        let found = Arc::clone(&first_rows);
        let dst = dst.to_path_buf();
        let durability = common.durability;
        #[cfg(test)]
        let fault = common.write_fault;
        let thread = tokio::task::spawn_blocking(move || {
            let opened = Files::open(dst, log, durability);
            #[cfg(test)]
            let opened = opened.map(|files| Files { fault, ..files });
            let result = opened.and_then(|files| run(files, rx, ack_tx, &found));
            drop(lock);
            result
        });
        Writer {
            tx: Some(tx),
            acked,
            first_rows,
            sent: 0,
            thread,
        }
    }

    /// Queues a batch and returns its sequence number, or `None` if the thread
    /// has stopped (call [`finish`](Self::finish) for its error).
    pub(crate) async fn send(&mut self, batch: Vec<Item>) -> Option<u64> {
        let tx = self.tx.as_ref()?;
        tx.send(batch).await.ok()?;
        self.sent += 1;
        Some(self.sent)
    }

    /// The sequence number of the last batch written.
    pub(crate) fn acked(&self) -> u64 {
        *self.acked.borrow()
    }

    /// Takes the (key number, offset) of every key's first row written and
    /// acknowledged since the last call (and maybe of some written but not
    /// yet acknowledged: they are in the file all the same). A `pread` sees
    /// them at once, without an `fsync`.
    pub(crate) fn first_rows(&self) -> Vec<(usize, u64)> {
        std::mem::take(&mut *lock(&self.first_rows))
    }

    /// Waits until more batches are written, or until the thread stops;
    /// `Err` means it stopped on an error (or has written everything and
    /// ended), which [`finish`](Self::finish) returns.
    pub(crate) async fn written(&mut self) -> Result<(), WriterStopped> {
        self.acked.changed().await.map_err(|_| WriterStopped)
    }

    /// Closes the channel, waits until every batch is written and synced, and
    /// returns the thread's error if it had one.
    pub(crate) async fn finish(mut self, dst: &Path) -> Result<(), Error> {
        self.tx = None;
        match self.thread.await {
            Ok(result) => result,
            Err(join) => Err(Error::io(
                "appending to",
                dst,
                std::io::Error::other(format!("the writer thread failed: {join}")),
            )),
        }
    }
}

/// The appender thread has ended: [`Writer::finish`] says why.
#[derive(Debug)]
pub(crate) struct WriterStopped;

struct Files {
    dst: File,
    dst_path: PathBuf,
    log: Option<(File, PathBuf)>,
    /// The replaced log (see [`replaced`](super::replaced)), opened with
    /// its first record.
    replaced: Option<File>,
    replaced_path: PathBuf,
    /// The destination's length as the done log counts it.
    dst_len: u64,
    /// Where the next write lands: the file's real length, which `dst_len`
    /// is not when a map has no done log.
    pos: u64,
    /// Keys' first rows serialized but not yet written, with their offsets.
    first_rows: Vec<(usize, u64)>,
    /// Bytes appended since the last request for early write-back (see [`writeback`]).
    unsynced: u64,
    durability: Durability,
    /// Bytes appended to the destination by this run.
    #[cfg(test)]
    appended: u64,
    #[cfg(test)]
    fault: Option<super::write_fault::WriteFault>,
}

/// What one `write` appends: to the destination, to the done log and to
/// the replaced log.
#[derive(Default)]
struct Appends {
    dst: Vec<u8>,
    log: Vec<u8>,
    replaced: Vec<u8>,
}

impl Appends {
    fn clear(&mut self) {
        self.dst.clear();
        self.log.clear();
        self.replaced.clear();
    }
}

fn run(
    mut files: Files,
    mut rx: mpsc::Receiver<Vec<Item>>,
    ack: watch::Sender<u64>,
    first_rows: &Mutex<Vec<(usize, u64)>>,
) -> Result<(), Error> {
    let mut buf = Appends {
        dst: Vec::with_capacity(64 * 1024),
        ..Appends::default()
    };
    let mut seq = 0;
    while let Some(batch) = rx.blocking_recv() {
        seq += 1;
        files.serialize(batch, &mut buf);
        while buf.dst.len() < MAX_WRITE {
            match rx.try_recv() {
                Ok(batch) => {
                    seq += 1;
                    files.serialize(batch, &mut buf);
                }
                Err(_) => break,
            }
        }
        files.write(&buf)?;
        buf.clear();
        // Before the acknowledgement, so that whoever sees it finds them.
        if !files.first_rows.is_empty() {
            lock(first_rows).append(&mut files.first_rows);
        }
        // Nobody may be listening any more (the run was dropped); the rows are
        // written all the same.
        ack.send_replace(seq);
    }
    files.sync()
}

fn append(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io("opening", path, e))
}

impl Files {
    fn open(
        dst_path: PathBuf,
        log: Option<DoneLog>,
        durability: Durability,
    ) -> Result<Files, Error> {
        let dst = append(&dst_path)?;
        let pos = dst
            .metadata()
            .map_err(|e| Error::io("reading the length of", &dst_path, e))?
            .len();
        let (log, dst_len) = match log {
            Some(DoneLog { path, dst_len }) => (Some((append(&path)?, path)), dst_len),
            None => (None, 0),
        };
        Ok(Files {
            dst,
            replaced_path: replaced_log_path(&dst_path),
            dst_path,
            log,
            replaced: None,
            dst_len,
            pos,
            first_rows: Vec::new(),
            unsynced: 0,
            durability,
            #[cfg(test)]
            appended: 0,
            #[cfg(test)]
            fault: None,
        })
    }

    fn serialize(&mut self, batch: Vec<Item>, out: &mut Appends) {
        let buf = &mut out.dst;
        for item in batch {
            match item {
                Item::Merged {
                    base,
                    result,
                    first_of,
                } => {
                    if let Some(id) = first_of {
                        self.first_rows.push((id, self.pos + buf.len() as u64));
                        if result.replaced_columns().next().is_some() {
                            write_record(&mut out.replaced, &base, result.replaced_columns());
                        }
                    }
                    write_merged(buf, &base, &result);
                    buf.push(b'\n');
                }
                Item::Group { base, key, rows } => {
                    for row in rows.iter() {
                        write_merged(buf, &base, row);
                        buf.push(b'\n');
                    }
                    let end = self.dst_len + buf.len() as u64;
                    let record = serde_json::json!({"key": key, "rows": rows.len(), "end": end});
                    write_value(&mut out.log, &record);
                    out.log.push(b'\n');
                }
                Item::Plain(row) => {
                    write_value(buf, &row);
                    buf.push(b'\n');
                }
            }
        }
    }

    /// Appends `out`: the replaced log's records before the rows they
    /// describe, so that a row never lacks its record (see
    /// [`replaced`](super::replaced)); the done log's after them.
    fn write(&mut self, out: &Appends) -> Result<(), Error> {
        let sync = self.durability == Durability::Fsync;
        if !out.replaced.is_empty() {
            let path = &self.replaced_path;
            let log = match &mut self.replaced {
                Some(log) => log,
                None => {
                    let log = append(path)?;
                    if sync {
                        // So that the new file's name survives a power loss too.
                        sync_dir(path)?;
                    }
                    self.replaced.insert(log)
                }
            };
            write_all(log, path, &out.replaced, sync)?;
        }
        let (buf, log_buf) = (&out.dst[..], &out.log[..]);
        #[cfg(test)]
        if let Some(fault) = self.fault {
            fault
                .before_write(&mut self.dst, self.appended, buf)
                .map_err(|e| Error::io("appending to", &self.dst_path, e))?;
            self.appended += buf.len() as u64;
        }
        write_all(&mut self.dst, &self.dst_path, buf, sync)?;
        self.dst_len += buf.len() as u64;
        self.pos += buf.len() as u64;
        self.unsynced += buf.len() as u64;
        if !sync && self.unsynced >= writeback::STEP {
            writeback::start(&self.dst);
            self.unsynced = 0;
        }
        if let Some((log, path)) = &mut self.log {
            write_all(log, path, log_buf, sync)?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), Error> {
        #[cfg(test)]
        if let Some(fault) = self.fault {
            fault
                .sync(&self.dst)
                .map_err(|e| Error::io("syncing", &self.dst_path, e))?;
        }
        self.dst
            .sync_all()
            .map_err(|e| Error::io("syncing", &self.dst_path, e))?;
        if let Some((log, path)) = &mut self.log {
            log.sync_all().map_err(|e| Error::io("syncing", path, e))?;
        }
        if let Some(log) = &mut self.replaced {
            log.sync_all()
                .map_err(|e| Error::io("syncing", &self.replaced_path, e))?;
        }
        Ok(())
    }
}

fn write_all(file: &mut File, path: &Path, bytes: &[u8], sync: bool) -> Result<(), Error> {
    if bytes.is_empty() {
        return Ok(());
    }
    file.write_all(bytes)
        .map_err(|e| Error::io("appending to", path, e))?;
    if sync {
        file.sync_data()
            .map_err(|e| Error::io("syncing", path, e))?;
    }
    Ok(())
}

/// Appends `value` as compact JSON.
pub(crate) fn write_value<T: serde::Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) {
    // Serializing strings, maps and `Value`s into a Vec cannot fail: the keys
    // are strings and writing to a Vec does no I/O.
    if let Err(e) = serde_json::to_writer(&mut *buf, value) {
        unreachable!("serializing json into memory failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(n: u64) -> Item {
        let row = serde_json::json!({ "n": n });
        Item::Plain(row.as_object().unwrap().clone())
    }

    /// Batches that queued while the thread was busy are written in one go,
    /// in order, and the acknowledgement after them names the last one: the
    /// run counts every one of them as written.
    #[test]
    fn batches_written_together_are_acknowledged_up_to_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let files = Files::open(path.clone(), None, Durability::Flush).unwrap();
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let (ack_tx, acked) = watch::channel(0);
        tx.try_send(vec![plain(0), plain(1)]).unwrap();
        tx.try_send(vec![plain(2)]).unwrap();
        tx.try_send(vec![plain(3)]).unwrap();
        drop(tx);
        run(files, rx, ack_tx, &Mutex::default()).unwrap();
        assert_eq!(*acked.borrow(), 3);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
    }
}
