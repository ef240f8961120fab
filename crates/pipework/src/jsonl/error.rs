//! Errors of the `jsonl` module.

use std::path::PathBuf;

use serde_json::Value;

use super::report::Report;

pub use crate::BoxError;

/// Everything that can go wrong while reading, resuming or writing a JSONL file.
///
/// Messages are complete on one line: the underlying error (`cause`) is part
/// of the message rather than a separate `source()`, so it is never printed
/// twice. Every variant says where: the file and 1-based line for bad input, the key
/// for a failed call. Under [`OnError::Skip`](super::OnError::Skip) the
/// variants that concern one row or one key are reported to the skip callback
/// instead of being returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening, reading, writing or syncing a file failed.
    #[error("{op} {}: {cause}", path.display())]
    Io {
        /// What was being done ("reading", "appending to", ...).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error (part of the message).
        cause: std::io::Error,
    },
    /// A line is not valid JSON.
    #[error("{}:{line}: invalid json: {cause}", path.display())]
    InvalidJson {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// What the parser said (part of the message).
        cause: serde_json::Error,
    },
    /// A line is valid JSON but not an object.
    #[error("{}:{line}: expected a json object, found {found}", path.display())]
    NotAnObject {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// The kind of value found ("array", "string", ...).
        found: &'static str,
    },
    /// A row has no key column.
    #[error("{}:{line}: missing key column {key:?}", path.display())]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// The name of the key column.
        key: String,
    },
    /// A row's key is not a string, number or boolean.
    #[error("{}:{line}: key column {key:?} holds {found}, expected a string, number or boolean", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// The name of the key column.
        key: String,
        /// The kind of value found ("null", "array", "object").
        found: &'static str,
    },
    /// `flatmap_by_key` found a key a second time in the source.
    #[error("{}:{line}: key {key} already appeared on line {first_line} (a flatmap needs unique keys)", path.display())]
    DuplicateKey {
        /// The source file.
        path: PathBuf,
        /// The 1-based line of the repeated key.
        line: u64,
        /// The key.
        key: Value,
        /// The line where the key first appeared.
        first_line: u64,
    },
    /// `create_or_resume` found a row whose key is not among the requested keys.
    #[error("{}:{line}: key {key} is not among the requested keys", path.display())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// The key.
        key: Value,
    },
    /// `create_or_resume` found more rows for a key than `key_count`.
    #[error("{}:{line}: key {key} has more than {key_count} rows", path.display())]
    TooManyRows {
        /// The file.
        path: PathBuf,
        /// The 1-based line of the row past the count.
        line: u64,
        /// The key.
        key: Value,
        /// The requested number of rows per key.
        key_count: usize,
    },
    /// The user function returned an error for a key.
    #[error("key {key}: {cause}")]
    Call {
        /// The key whose call failed.
        key: Value,
        /// The function's error (part of the message).
        cause: BoxError,
    },
    /// The user function panicked for a key.
    #[error("key {key}: the function panicked: {message}")]
    CallPanicked {
        /// The key whose call panicked.
        key: Value,
        /// The panic message.
        message: String,
    },
    /// The user function returned a row whose key column differs from the key.
    #[error("key {key}: the result sets the key column {column:?} to {found}")]
    KeyChanged {
        /// The key the function was called for.
        key: Value,
        /// The name of the key column.
        column: String,
        /// The value the function put there.
        found: Value,
    },
    /// A progress or skip callback panicked.
    #[error("the {callback} callback panicked: {message}")]
    CallbackPanicked {
        /// Which callback ("progress", "on_skip").
        callback: &'static str,
        /// The panic message.
        message: String,
    },
    /// A call's task ended without a result: it was cancelled from outside,
    /// which happens when the runtime shuts down. The run stops.
    #[error("a call was cancelled before it finished (is the runtime shutting down?)")]
    Cancelled,
    /// A torn last line (no newline, or not valid JSON) was cut off on resume.
    ///
    /// Never returned: only passed to the skip callback, whatever `on_error` is.
    #[error("{}:{line}: cut off a torn last line ({bytes} bytes) left by an interrupted run", path.display())]
    TornLine {
        /// The file that was repaired.
        path: PathBuf,
        /// The 1-based line number of the torn line.
        line: u64,
        /// How many bytes were cut.
        bytes: u64,
    },
    /// `flatmap_by_key` cut rows of a key that the done log does not record as complete.
    ///
    /// Never returned: only passed to the skip callback, whatever `on_error` is.
    #[error("{}: cut {bytes} bytes of rows whose key was not recorded as done in {}", path.display(), log.display())]
    UncommittedRows {
        /// The destination file.
        path: PathBuf,
        /// The done log.
        log: PathBuf,
        /// How many bytes were cut.
        bytes: u64,
    },
    /// `flatmap_by_key` dropped done-log records whose rows are missing from the
    /// destination (the destination lost its end, e.g. in a power loss).
    ///
    /// Never returned: only passed to the skip callback, whatever `on_error` is.
    #[error("{}: dropped {records} records of keys whose rows are missing from {}", log.display(), path.display())]
    LogAhead {
        /// The destination file.
        path: PathBuf,
        /// The done log.
        log: PathBuf,
        /// How many records were dropped.
        records: u64,
    },
    /// `flatmap_by_key` found a non-empty destination without its done log.
    #[error("{} exists but its done log {} does not; restore the log or remove the destination to start over", path.display(), log.display())]
    MissingDoneLog {
        /// The destination file.
        path: PathBuf,
        /// The expected done log.
        log: PathBuf,
    },
    /// Another run holds the destination: one writer per destination, so
    /// this run wrote nothing.
    #[error("{} is in use by another pipework run{}", path.display(), pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default())]
    Locked {
        /// The destination.
        path: PathBuf,
        /// The process holding it, as it wrote it in the lock file (`None`
        /// if it had not written it yet).
        pid: Option<u32>,
    },
    /// The destination exists but is not a regular file (a FIFO, a device,
    /// a socket, a directory, or a symlink to one): a run must be able to
    /// read it back, cut a torn line off it and sync it, so it is refused
    /// before anything (the lock file included) is created beside it.
    #[error("{} is {kind}, not a regular file: the destination must be a file the run can read back and sync", path.display())]
    NotAFile {
        /// The destination.
        path: PathBuf,
        /// What it is instead ("a FIFO", "a character device", ...).
        kind: &'static str,
    },
    /// The destination was made differently from how this run would make
    /// it (its manifest says how): reusing its rows would mix two kinds of
    /// row in one file, so nothing is written.
    #[error("{} was made with {what} {old}, and this run has {new}", path.display())]
    Changed {
        /// The destination.
        path: PathBuf,
        /// What differs.
        what: Changed,
        /// The destination's value (from its manifest).
        old: String,
        /// This run's value.
        new: String,
    },
    /// The source changed before the end of what the destination was made
    /// from: a row was edited, removed or moved (appending rows is fine).
    /// Nothing is written; reconciling rewrites the destination for the new
    /// source ([`MapOptions::reconcile`](super::MapOptions::reconcile)).
    #[error("{} changed since {} was made from it: the first difference is {} (the destination covers its first {covered_lines} lines; appending rows is fine, any other change needs reconciling)", path.display(), dst.display(), line_range(*first_line, *last_line))]
    SrcChanged {
        /// The source.
        path: PathBuf,
        /// The destination.
        dst: PathBuf,
        /// The first line of the first range of lines that differs (1-based).
        first_line: u64,
        /// The last line of that range.
        last_line: u64,
        /// Lines of the source the destination's manifest covers.
        covered_lines: u64,
    },
    /// A destination row stands for no source row: its key is not in the
    /// source, its kept values match none of the key's source rows, or it
    /// is one row too many for its key (a duplicate). Nothing is written;
    /// reconciling drops such rows.
    #[error("{}:{line}: the row of key {key} stands for no row of {}: {reason}", path.display(), src.display())]
    UnmatchedRow {
        /// The destination.
        path: PathBuf,
        /// Its 1-based line.
        line: u64,
        /// The row's key.
        key: Value,
        /// The source.
        src: PathBuf,
        /// Why it matches none.
        reason: &'static str,
    },
    /// The destination has rows but no manifest (begun by abstractions or
    /// an older pipework): it resumes by its rows alone, and a manifest is
    /// written.
    ///
    /// Never returned: only passed to the skip callback.
    #[error("{} has no manifest (begun by another tool or an older pipework): resuming by its key column alone; {} is written now", path.display(), super::manifest::manifest_path(path).display())]
    NoManifest {
        /// The destination.
        path: PathBuf,
    },
    /// The run accepted a call that differs from the one the destination's
    /// manifest names: rows already there keep the old call's answers.
    ///
    /// Never returned: only passed to the skip callback.
    #[error("{}: the call changed from {old} to {new}; rows already there keep the old answers, new keys get the new call's", path.display())]
    NewCallAccepted {
        /// The destination.
        path: PathBuf,
        /// The manifest's call.
        old: String,
        /// This run's call.
        new: String,
    },
    /// The call is the same but its version changed (for the CLI: the
    /// script's content): rows already there keep the answers of the old one.
    ///
    /// Never returned: only passed to the skip callback.
    #[error("{}: {call} changed since the destination was begun (version {old}, now {new}); rows already there keep the old answers", path.display())]
    CallVersionChanged {
        /// The destination.
        path: PathBuf,
        /// The call.
        call: String,
        /// The manifest's version.
        old: String,
        /// This run's version.
        new: String,
    },
    /// The run reached a state where nothing it waits for could ever happen.
    /// This is a bug in pipework, reported instead of waiting forever; the
    /// rows written so far stay, and a rerun resumes.
    #[error("the run could make no more progress ({state}); this is a bug in pipework, please report it")]
    Stalled {
        /// What the run held when it stalled.
        state: String,
    },
    /// An option is out of range (for example a concurrency of 0).
    #[error("invalid option {name}: {reason}")]
    InvalidOption {
        /// The option's name.
        name: &'static str,
        /// Why it is rejected.
        reason: &'static str,
    },
}

/// What differs between a destination's manifest and a run, in
/// [`Error::Changed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Changed {
    /// `map` against `flatmap`.
    Operation,
    /// The key column.
    KeyColumn,
    /// The set of kept columns.
    KeptColumns,
    /// The call id ([`MapOptions::call_id`](super::MapOptions::call_id)).
    Call,
}

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Changed::Operation => "operation",
            Changed::KeyColumn => "key column",
            Changed::KeptColumns => "kept columns",
            Changed::Call => "call",
        })
    }
}

fn line_range(first: u64, last: u64) -> String {
    if first == last {
        format!("at line {first}")
    } else {
        format!("within lines {first}-{last}")
    }
}

/// A run that ended with an error, and what it had done by then.
///
/// Returned by [`map_by_key`](super::map_by_key),
/// [`flatmap_by_key`](super::flatmap_by_key) and
/// [`create_or_resume`](super::create_or_resume): the rows the report counts
/// as written stay in the destination (a rerun resumes after them). Its
/// message is the error's; `?` turns it into the [`Error`] alone.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
#[non_exhaustive]
pub struct Failed {
    /// What ended the run.
    pub error: Error,
    /// The counts up to the error (all zero for an error before the run
    /// started, such as a bad option or a locked destination).
    pub report: Report,
}

impl Failed {
    /// The error alone.
    pub fn into_error(self) -> Error {
        self.error
    }
}

/// An error before the run started: nothing done.
impl From<Error> for Failed {
    fn from(error: Error) -> Failed {
        Failed {
            error,
            report: Report::default(),
        }
    }
}

impl From<Failed> for Error {
    fn from(failed: Failed) -> Error {
        failed.error
    }
}

impl Error {
    /// Returns the key this error is about, if it concerns one key's call.
    pub fn key(&self) -> Option<&Value> {
        match self {
            Error::Call { key, .. }
            | Error::CallPanicked { key, .. }
            | Error::KeyChanged { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Returns true if this error is about bad input: a line that could not be
    /// used (invalid JSON, not an object, a missing or bad key, a duplicate,
    /// unknown or surplus key).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::InvalidJson { .. }
                | Error::NotAnObject { .. }
                | Error::MissingKey { .. }
                | Error::BadKey { .. }
                | Error::DuplicateKey { .. }
                | Error::UnknownKey { .. }
                | Error::TooManyRows { .. }
        )
    }

    pub(crate) fn io(op: &'static str, path: &std::path::Path, cause: std::io::Error) -> Error {
        Error::Io {
            op,
            path: path.to_path_buf(),
            cause,
        }
    }
}

/// The name of a JSON value's kind, for messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
