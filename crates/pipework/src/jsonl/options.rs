//! Options of `map_by_key`, `flatmap_by_key` and `create_or_resume`.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::error::Error;
use super::report::Report;
use crate::internal::panic_message;
use crate::stream::task_set::TaskSet;

/// What to do with a bad input row or a failed call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnError {
    /// Stop and return the error: nothing more is read or started, calls
    /// already running finish and the rows whose results are known are
    /// written first. Rows already written stay in the destination.
    #[default]
    Raise,
    /// Report the error to the skip callback and go on. A failed key's rows are
    /// not written, so running again retries it.
    Skip,
}

/// How hard the writer tries to get rows onto the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Hand every finished row to the operating system at once (rows that are
    /// ready together go in one `write`), and `fsync` when the run ends, fails,
    /// is stopped or is dropped. Survives a crash or kill of the process.
    #[default]
    Flush,
    /// Also `fsync` after every write. Survives power loss up to the last row;
    /// costs a disk round trip per write.
    Fsync,
}

/// A callback for skipped rows and keys and for repairs.
pub type SkipCallback = Arc<dyn Fn(&Error) + Send + Sync>;
/// A callback called after every source row with the counts so far.
pub type ProgressCallback = Arc<dyn Fn(&Report) + Send + Sync>;

/// Settings shared by every `jsonl` function.
#[derive(Clone)]
pub(crate) struct Common {
    pub(crate) on_error: OnError,
    pub(crate) on_skip: SkipCallback,
    pub(crate) progress: Option<ProgressCallback>,
    pub(crate) stop: Option<CancellationToken>,
    pub(crate) durability: Durability,
    pub(crate) spawn_every_call: bool,
    /// A planted disk failure, for the liveness tests.
    #[cfg(test)]
    pub(crate) write_fault: Option<super::write_fault::WriteFault>,
}

impl Default for Common {
    fn default() -> Self {
        Common {
            on_error: OnError::Raise,
            on_skip: Arc::new(|error: &Error| eprintln!("warning: {error}")),
            progress: None,
            stop: None,
            durability: Durability::Flush,
            spawn_every_call: false,
            #[cfg(test)]
            write_fault: None,
        }
    }
}

impl Common {
    /// Applies `on_error` to an error about one row or key: returns it under
    /// `Raise`, reports it under `Skip`.
    pub(crate) fn skip_or_raise(&self, error: Error) -> Result<(), Error> {
        match self.on_error {
            OnError::Raise => Err(error),
            OnError::Skip => self.notify(&error),
        }
    }

    /// Reports an error or repair to the skip callback.
    pub(crate) fn notify(&self, error: &Error) -> Result<(), Error> {
        let callback = &self.on_skip;
        catch_unwind(AssertUnwindSafe(|| callback(error))).map_err(|payload| {
            Error::CallbackPanicked {
                callback: "on_skip",
                message: panic_message(payload.as_ref()),
            }
        })
    }

    /// Calls the progress callback, if any.
    pub(crate) fn progress(&self, report: &Report) -> Result<(), Error> {
        let Some(callback) = &self.progress else {
            return Ok(());
        };
        catch_unwind(AssertUnwindSafe(|| callback(report))).map_err(|payload| {
            Error::CallbackPanicked {
                callback: "progress",
                message: panic_message(payload.as_ref()),
            }
        })
    }

    /// The set that runs the user's calls, at most `limit` at once (see
    /// `spawn_every_call`). Called from within the run's runtime.
    pub(crate) fn calls<K, T>(&self, limit: usize) -> TaskSet<K, T> {
        let mut set = TaskSet::new(limit, tokio::runtime::Handle::current());
        if self.spawn_every_call {
            set.spawn_every_task();
        }
        set
    }

    /// Waits until the stop token is cancelled; never, if there is none.
    pub(crate) async fn stopped(&self) {
        match &self.stop {
            Some(token) => token.cancelled().await,
            None => std::future::pending().await,
        }
    }
}

impl fmt::Debug for Common {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Common")
            .field("on_error", &self.on_error)
            .field("progress", &self.progress.as_ref().map(|_| "Fn(&Report)"))
            .field("stop", &self.stop)
            .field("durability", &self.durability)
            .field("spawn_every_call", &self.spawn_every_call)
            .finish_non_exhaustive()
    }
}

macro_rules! common_setters {
    () => {
        /// What to do with bad input rows and failed calls (default: [`OnError::Raise`]).
        pub fn on_error(mut self, on_error: OnError) -> Self {
            self.common.on_error = on_error;
            self
        }

        /// Called with every error skipped under [`OnError::Skip`] and with every
        /// repair made on resume ([`Error::TornLine`], [`Error::UncommittedRows`]).
        /// The default prints `warning: {error}` to stderr.
        pub fn on_skip(mut self, callback: impl Fn(&Error) + Send + Sync + 'static) -> Self {
            self.common.on_skip = Arc::new(callback);
            self
        }

        /// Called after every source row with the counts so far (default: none).
        pub fn progress(mut self, callback: impl Fn(&Report) + Send + Sync + 'static) -> Self {
            self.common.progress = Some(Arc::new(callback));
            self
        }

        /// A token that, once cancelled, stops the run gently: no new call is
        /// started, calls already running finish and their rows are written, the
        /// file is synced, and the function returns a [`Report`] with `stopped` set.
        pub fn stop_token(mut self, token: CancellationToken) -> Self {
            self.common.stop = Some(token);
            self
        }

        /// How hard to push rows to disk (default: [`Durability::Flush`]).
        pub fn durability(mut self, durability: Durability) -> Self {
            self.common.durability = durability;
            self
        }

        /// Runs every call as a task of its own from the start.
        ///
        /// By default a call's future is polled once where it starts, on the
        /// task that reads, orders and writes rows, and becomes a task only
        /// if it is not finished by then: a cached or trivial call then costs
        /// no task (a 100k-row map ran about 20% faster). A call that does
        /// blocking or CPU-heavy work before its first `.await` (starting a
        /// process, say) would do that work on the ordering task, one call
        /// at a time; set this so that it runs on the runtime's worker
        /// threads instead.
        pub fn spawn_every_call(mut self) -> Self {
            self.common.spawn_every_call = true;
            self
        }
    };
}

/// Options of [`map_by_key`](super::map_by_key) and [`flatmap_by_key`](super::flatmap_by_key).
///
/// ```
/// use pipework::jsonl::{MapOptions, OnError};
///
/// let opts = MapOptions::new("id")
///     .keep_columns(["title"])
///     .concurrency(32)
///     .on_error(OnError::Skip);
/// assert_eq!(opts.key_name(), "id");
/// ```
#[derive(Debug, Clone)]
pub struct MapOptions {
    pub(crate) key: String,
    pub(crate) keep_columns: Vec<String>,
    pub(crate) concurrency: usize,
    pub(crate) read_ahead: Option<usize>,
    pub(crate) cache_bytes: usize,
    pub(crate) call: Option<String>,
    pub(crate) call_version: Option<String>,
    pub(crate) accept_new_call: bool,
    pub(crate) reconcile: bool,
    pub(crate) common: Common,
}

/// The default of [`MapOptions::cache_bytes`].
pub const DEFAULT_CACHE_BYTES: usize = 16 << 20;

impl Default for MapOptions {
    /// Key column `"key"`, no kept columns, 16 concurrent calls.
    fn default() -> Self {
        MapOptions {
            key: "key".to_owned(),
            keep_columns: Vec::new(),
            concurrency: 16,
            read_ahead: None,
            cache_bytes: DEFAULT_CACHE_BYTES,
            call: None,
            call_version: None,
            accept_new_call: false,
            reconcile: false,
            common: Common::default(),
        }
    }
}

impl MapOptions {
    /// Options with `key` as the key column and defaults for the rest.
    pub fn new(key: impl Into<String>) -> Self {
        MapOptions {
            key: key.into(),
            ..MapOptions::default()
        }
    }

    /// The key column.
    pub fn key_name(&self) -> &str {
        &self.key
    }

    /// Sets the key column: rows with equal values in it share one call.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Source columns copied to every output row (default: none). The key
    /// column is always copied.
    pub fn keep_columns<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.keep_columns = columns.into_iter().map(Into::into).collect();
        self
    }

    /// How many calls run at once (default 16; 0 is rejected when the run starts).
    ///
    /// This also bounds the work a crash can lose: at most `concurrency` keys
    /// are ever computed-but-not-yet-written.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// How many source rows may wait for their key's result before reading
    /// pauses (default: `max(1024, 16 × concurrency)`; 0 is rejected).
    pub fn read_ahead(mut self, rows: usize) -> Self {
        self.read_ahead = Some(rows);
        self
    }

    /// How many bytes of results `map_by_key` keeps in memory, once their
    /// key's first row is written, for the key's later rows (default
    /// [`DEFAULT_CACHE_BYTES`], 16 MiB). A result counts as its serialized
    /// size plus about 100 bytes. Past the bound the oldest results are
    /// dropped and read back from the destination when a later row needs
    /// them: a smaller bound costs reads (from the page cache, usually), a
    /// larger one memory. Results not yet written stay in memory whatever
    /// the bound (at most `concurrency` keys, plus the rows queued for the
    /// writer). A flatmap keeps no results, keys being unique.
    pub fn cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// Names what makes the results (default: nothing), recorded in the
    /// destination's manifest: a resume whose call id differs from the
    /// manifest's stops with [`Error::Changed`] before writing anything,
    /// unless [`accept_new_call`](Self::accept_new_call) is set. The CLI
    /// passes the command line. Any text that changes when the answers
    /// would will do: a model name and prompt version, an endpoint.
    pub fn call_id(mut self, id: impl Into<String>) -> Self {
        self.call = Some(id.into());
        self
    }

    /// A version of the call whose change is worth a notice but does not
    /// stop a resume ([`Error::CallVersionChanged`], to the skip callback):
    /// the CLI passes a digest of the script the command runs.
    pub fn call_version(mut self, version: impl Into<String>) -> Self {
        self.call_version = Some(version.into());
        self
    }

    /// Resumes although the call id differs from the manifest's: the rows
    /// already there keep the old call's answers, the keys not yet answered
    /// get the new call's ([`Error::NewCallAccepted`] says so to the skip
    /// callback), and the manifest records the new id.
    pub fn accept_new_call(mut self) -> Self {
        self.accept_new_call = true;
        self
    }

    /// Rewrites the destination to exactly what a fresh run over the
    /// source as it is now would write, reusing every answer it holds
    /// (a key's answer is taken from its first row), instead of stopping
    /// when the source changed ([`Error::SrcChanged`]), when destination
    /// rows stand for no source row ([`Error::UnmatchedRow`], dropped), or
    /// when the kept columns changed. The new destination is written beside
    /// the old one and renamed over it: a crash at any point leaves one or
    /// the other. `map_by_key` only; `flatmap_by_key` refuses it.
    pub fn reconcile(mut self) -> Self {
        self.reconcile = true;
        self
    }

    common_setters!();

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.concurrency == 0 {
            return Err(Error::InvalidOption {
                name: "concurrency",
                reason: "must be at least 1",
            });
        }
        if self.read_ahead == Some(0) {
            return Err(Error::InvalidOption {
                name: "read_ahead",
                reason: "must be at least 1",
            });
        }
        Ok(())
    }

    pub(crate) fn read_ahead_rows(&self) -> usize {
        self.read_ahead
            .unwrap_or_else(|| (self.concurrency.saturating_mul(16)).max(1024))
    }
}

/// Options of [`create_or_resume`](super::create_or_resume).
///
/// ```
/// use pipework::jsonl::{CreateOptions, OnError};
///
/// let opts = CreateOptions::default().limit(8).on_error(OnError::Skip);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub(crate) limit: usize,
    pub(crate) common: Common,
}

impl Default for CreateOptions {
    /// 16 concurrent calls of `generate`.
    fn default() -> Self {
        CreateOptions {
            limit: 16,
            common: Common::default(),
        }
    }
}

impl CreateOptions {
    /// How many calls of `generate` run at once (default 16; 0 is rejected
    /// when the run starts).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    common_setters!();

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.limit == 0 {
            return Err(Error::InvalidOption {
                name: "limit",
                reason: "must be at least 1",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_replaces_the_key_column() {
        let opts = MapOptions::new("id").key("url");
        assert_eq!(opts.key_name(), "url");
    }

    /// The callbacks cannot be printed, but whether they are set can, with
    /// every plain setting.
    #[test]
    fn debug_shows_the_settings() {
        let opts = MapOptions::new("id")
            .on_error(OnError::Skip)
            .progress(|_| ());
        let text = format!("{opts:?}");
        for part in [
            "key: \"id\"",
            "on_error: Skip",
            "progress: Some(\"Fn(&Report)\")",
            "spawn_every_call: false",
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }
    }
}
