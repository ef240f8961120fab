//! Crash-safe, resumable JSONL files: transform or generate a dataset with
//! expensive calls, get interrupted, run again, lose nothing and pay nothing twice.
//!
//! A JSONL file holds one JSON object per line; a row is a
//! [`Row`] (`serde_json::Map<String, Value>`). Three functions build on it:
//!
//! - [`map_by_key`]: call an async `f` once per distinct value of a key column
//!   and write one output row per source row (kept columns + key + `f`'s fields);
//! - [`flatmap_by_key`]: the same with 0..n output rows per (unique) key;
//! - [`create_or_resume`]: make a file with exactly `key_count` rows per key.
//!
//! ```
//! use pipework::jsonl::{map_by_key, MapOptions, Row};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
//! std::fs::write(&src, "{\"id\": 1, \"text\": \"a\"}\n{\"id\": 2, \"text\": \"bb\"}\n{\"id\": 1, \"text\": \"a\"}\n")?;
//!
//! let length = |row: Row| async move {
//!     let len = row["text"].as_str().map_or(0, str::len);
//!     let mut out = Row::new();
//!     out.insert("len".into(), len.into());
//!     Ok::<_, std::io::Error>(out)
//! };
//! // The first run computes keys 1 and 2; a second run finds them in `dst`
//! // and calls nothing.
//! let first = map_by_key(&src, &dst, length, MapOptions::new("id")).await?;
//! assert_eq!((first.keys_computed, first.rows_written), (2, 3));
//! let again = map_by_key(&src, &dst, length, MapOptions::new("id")).await?;
//! assert_eq!((again.keys_computed, again.rows_resumed), (0, 3));
//! # Ok(())
//! # }
//! ```
//!
//! # Keys
//!
//! The key column must hold a string, number or boolean. Keys compare as in
//! a Python `dict`: strings by their characters (`"\u0061"` is `"a"`),
//! numbers by exact value, whatever the spelling (`1`, `1.0`, `1e0` and
//! `10e-1` are one key; `-0`, `0` and `0.0` are one key; `1e2` is `100`),
//! and a string never equals a number (`10` and `"10"` are two keys). The
//! value is read from the number's text, digit by digit, so two integers
//! that differ are two keys however long (`10000000000000000000000` and
//! `10000000000000000000001`). Without the `exact-numbers` feature serde_json
//! holds a number that is no 64-bit integer as the nearest `f64` (and
//! refuses one beyond its range, such as `1e400`), and keys compare as that
//! `f64`. The key column of every output row is the source's key, spelt as
//! the source spells it; a result that sets it to another key is an error
//! ([`Error::KeyChanged`]), one that repeats it (`1.0` for `1`) is not.
//!
//! # Numbers
//!
//! The key and kept columns reach the destination as the source spells
//! them. With the `exact-numbers` feature (serde_json's `arbitrary_precision`,
//! which the `pipework` CLI turns on), the rows `f` gets hold every number
//! as its text too (`123456789012345678901234567890`,
//! `1.000000000000000000001`, `-0`, `1E400`), and so do errors naming a key.
//! Without it, they hold serde_json's `f64` or 64-bit integer. The feature
//! changes serde_json for the whole build (cargo unifies features): any
//! crate of the build that deserializes numbers through serde's untagged or
//! internally tagged enums, or a `#[serde(flatten)]`, sees them as maps.
//!
//! # Crash safety
//!
//! One thread appends to the destination. Every row is serialized in full and
//! handed to the operating system with its newline in the same `write`, as
//! soon as it is ready (rows that are ready together share a `write`); nothing
//! waits in a user-space buffer, so a killed process loses no finished row.
//! The file is `fsync`ed when the run ends, fails or is stopped;
//! [`Durability::Fsync`] also syncs after every write, to survive power loss.
//!
//! A kill in the middle of a `write`, or a power loss, can still leave a torn
//! last line (no newline, or not valid JSON). Resuming cuts it off and reports
//! it ([`Error::TornLine`]) to the skip callback. A bad line anywhere else is
//! bad input and handled by [`OnError`].
//!
//! # Resume
//!
//! Running the same call again resumes. `map_by_key` reads the destination
//! and works from the keys present, not from a line count: a key with rows in
//! the destination is never computed again (its result is taken from its first
//! row), a key that failed before is retried, and every source row ends up in
//! the destination exactly once. This works because a run writes each key's
//! rows in source order, so the rows present for a key are its first
//! occurrences. `flatmap_by_key` keeps a done log next to the destination
//! (`DST.done`, one line per finished key) because a key may have no rows at
//! all; `create_or_resume` counts rows per key.
//!
//! The check of an existing destination reads each line's key column only
//! (the rest of the line is checked as strictly as parsing it would be, but
//! nothing of it is built) and keeps, per key, a row count and where its
//! first row starts: never a result. A result is read back from that row
//! when a later source row of a key needs it. So a resume's memory grows with
//! the keys (about 100 bytes each: a rerun over 10M rows with 5M keys peaked
//! at 519 MB), not with the size of the destination,
//! and the progress callback hears how far the check is
//! ([`Report::checking`]) before the first row is placed.
//!
//! At most `concurrency` (or `limit`) keys are ever started but not yet
//! written, so a crash costs at most that many repeated calls.
//!
//! # What a resume checks
//!
//! A resume never guesses; before it writes anything it checks, and stops
//! with an error naming what changed (the destination left as it was):
//! - **How the destination was made.** `DST.manifest` (written and synced
//!   before the first row) records the operation, the key column, the kept
//!   columns and the call ([`MapOptions::call_id`]; the CLI passes its
//!   command line). Another key column, set of kept columns or call is
//!   [`Error::Changed`]; [`MapOptions::accept_new_call`] accepts a new call
//!   for the keys not answered yet, and a new [`MapOptions::call_version`]
//!   (the CLI: a script's content) is a notice. A destination without a
//!   manifest (begun by abstractions, or an older pipework) resumes by its
//!   rows alone, with a notice ([`Error::NoManifest`]).
//! - **The source.** The manifest also holds the source's fingerprint as
//!   the last complete run read it. Rows appended since are new work; any
//!   other change (an edited, removed, inserted or moved row) is
//!   [`Error::SrcChanged`] naming the first line that differs.
//! - **Each row, by content.** Which source row a destination row stands
//!   for is decided by its key and kept values, not by counting a key's
//!   rows: a row deleted from the destination is written again with its own
//!   values, and a destination row that stands for no source row (a key no
//!   longer in the source, a duplicate, a stale kept value) is
//!   [`Error::UnmatchedRow`] naming its line. Per-key counts and hashes keep
//!   this within a resume's bounds: see `row_match.rs`. A destination byte
//!   for byte as the last complete run left it (its length and hash are in
//!   the manifest too) over a source that still starts the same has
//!   nothing to match, and the rerun leaves the pass out: see
//!   `dst_digest.rs`.
//!
//! [`MapOptions::reconcile`] turns the last two errors (and a changed set
//! of kept columns) into a rewrite: the destination becomes exactly what a
//! fresh run over the source as it is now writes, reusing every answer it
//! holds, through a new file renamed over it. A source that is a stream
//! (a pipe, a FIFO) cannot be read twice: it gets neither the fingerprint
//! nor the matching by content (the CLI copies a stream to a file first).
//!
//! # What a resume trusts
//!
//! A destination means what its rows say, read as JSON objects, whose
//! fields have no order (RFC 8259): `jq -S`, Python's
//! `json.dumps(sort_keys=True)`, pandas or a database export may have
//! rewritten it. A resume of `map_by_key` trusts, of each row, only its key
//! and kept columns (which source row it stands for); of each key, that its
//! first row holds `f`'s result. That result is the row without
//! the key and without the kept columns, which are the source's, except the
//! kept columns `f` replaced (it returned a field of that name): those are
//! listed in `DST.replaced`, the replaced log, one line per key whose result
//! replaced some, written before the key's first row. A resume never infers
//! anything from the order of a row's fields, nor from its line number.
//!
//! The log, and not a rule that needs no record, because nothing else can
//! tell: a row with `"author": "ann"` may hold the source's author or an
//! `f` that returned it, and the two give a key's later rows different
//! authors. Making the source's value win would drop what `f` returned;
//! comparing with the source row would need every key's first source row
//! kept for the rest of the run. The log costs nothing where no result
//! replaces a kept column (most runs: it is not even created), and a line
//! per key where one does. Copy or move `DST.replaced` with the destination,
//! as `DST.done` for a flatmap: without it, a replaced column is read as
//! the source's.
//!
//! Rows written before the log existed, by pipework or by abstractions'
//! `map_by_key_jsonl_file`, are read the same way: a destination without a
//! log is taken to have no key whose result replaced a kept column. That is
//! what abstractions itself assumes when it resumes, and it holds for every
//! destination whose `f` never returned a kept column's name. The one layout
//! this cannot resume as its own run would have: a destination of an older
//! pipework (which put such a result's fields before the key, and read
//! that order back) where `f` returned a kept column and a key's later rows
//! were not written yet; they get the source's value instead of `f`'s.
//!
//! # Errors and skipping
//!
//! Bad input names the file and line: invalid JSON, a row that is not an
//! object, a missing key column, a key that is not a string, number or
//! boolean. With [`OnError::Raise`] (the default) the first bad row or failed
//! call stops the run and is returned; rows already written stay. Stopping
//! means: nothing more is read and no call starts, the calls already running
//! finish (they are paid for), every row whose result is known is written
//! (a failed key's rows are left out), and then the error comes back. With
//! [`OnError::Skip`] the error goes to the skip callback (stderr by default)
//! and the run goes on. Either way a failed key's rows are left out, so the
//! next run retries it. A panic in `f` is that key's error, never a hang.
//!
//! # Liveness
//!
//! Every run ends, whatever fails and in whatever order: with its report, or
//! with an error. A call that fails or panics, a writer that hits a full
//! disk or a failing `fsync` ([`Error::Io`] naming the destination and the
//! OS error), a reader that fails: each wakes everything that waits on it.
//! The engine's loop waits only for events that can still happen (a call
//! finishing, the writer acknowledging rows, more source rows, the stop
//! token); a state in which none of them can happen is returned as
//! [`Error::Stalled`], a bug report, instead of a hang. After a write error
//! the rows already written stay, and the same call resumes once the cause
//! is fixed.
//!
//! # One writer per destination
//!
//! Two runs appending to one destination would both compute and write
//! every row. Each run takes an exclusive advisory lock (`flock` on
//! `DST.lock`, which holds the holder's process id) before it reads the
//! destination, and keeps it until the destination is synced and closed; a
//! second run fails at once with [`Error::Locked`] and writes nothing. The
//! kernel releases the lock when a process dies, so a `kill -9` never leaves
//! a stale lock (the file may stay, unlocked; a run that ends removes it).
//!
//! # Stopping
//!
//! A [`CancellationToken`](tokio_util::sync::CancellationToken) passed with
//! `stop_token` stops a run gently: no new call starts, running calls finish
//! and are written, and the [`Report`] comes back with `stopped` set. Dropping
//! the future instead aborts running calls.
//!
//! # Memory and cost
//!
//! Source rows are read ahead in a bounded window (`read_ahead`), every
//! distinct key costs about 100 bytes (its canonical JSON text, its number
//! and counts), and a key whose result replaced kept columns and is only in
//! the destination about 50 more (which columns: see
//! [what a resume trusts](#what-a-resume-trusts)). A map keeps the results of keys whose first row is written,
//! for their later rows, in a cache bounded in bytes
//! ([`MapOptions::cache_bytes`], 16 MiB by default); a result that left it
//! is read back from the key's first row in the destination, as on resume.
//! Results not yet written stay in memory: at most `concurrency` keys', plus
//! those of the rows waiting or queued for the writer. A flatmap drops each
//! result once written. A reader thread
//! picks out the key and kept columns as JSON text (it parses a row whole only
//! for the first row of each key, which `f` gets), the async loop matches rows
//! with results, and a writer thread copies that text and each result,
//! serialized once, into its appends. A call is polled once where it starts
//! and becomes a task only if it has to wait, so a cheap or cached `f` costs no
//! task. On a shared 2-core machine `map_by_key` moved 100k rows with 10k keys
//! and a trivial `f` at about 1.8 million rows per second, `fsync` included.
//! For a one-off transformation of data already in memory, plain iterators
//! are simpler.
//!
//! Output rows list the key column first, then the kept columns in the order
//! given (a kept column `f` returns holds `f`'s value, in its place), then
//! `f`'s other fields. A resume writes its rows the same way, whatever the
//! order of the rows it read.

mod at_risk;
mod by_key;
mod checking;
mod create_or_resume;
mod done_log;
mod dst_digest;
mod error;
mod exact_value;
mod flatmap_by_key;
mod key_ids;
mod key_number;
#[cfg(test)]
mod liveness_proptest;
mod lock;
mod manifest;
mod map_by_key;
mod options;
mod picked;
mod read;
mod read_ahead;
mod reconcile;
mod rendered;
mod replaced;
mod report;
mod resume;
mod resume_checks;
mod row_match;
mod run_loop;
mod source;
mod src_fingerprint;
mod stored;
mod torn_line;
#[cfg(test)]
mod within;
mod write;
#[cfg(test)]
mod write_fault;
mod writeback;

/// One row of a JSONL file: a JSON object.
pub type Row = serde_json::Map<String, serde_json::Value>;

pub use self::checking::Checking;
pub use self::create_or_resume::create_or_resume;
pub use self::error::{BoxError, Changed, Error, Failed};
pub(crate) use self::exact_value::parse_value as parse_exact;
pub use self::flatmap_by_key::flatmap_by_key;
pub(crate) use self::key_ids::canonical_raw as canonical_key;
pub use self::map_by_key::map_by_key;
pub use self::options::{
    CreateOptions, Durability, MapOptions, OnError, ProgressCallback, SkipCallback,
    DEFAULT_CACHE_BYTES,
};
pub use self::read::{read, Rows};
pub use self::report::Report;
