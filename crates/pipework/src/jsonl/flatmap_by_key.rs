//! `flatmap_by_key`: one call per key, zero or more output rows per call.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::by_key::{self, Shape};
use super::done_log::{done_log_path, reconcile};
use super::error::{BoxError, Error, Failed};
use super::lock::DstLock;
use super::map_by_key::{check_distinct, check_key, finish};
use super::options::MapOptions;
use super::picked::Columns;
use super::rendered::Rendered;
use super::report::Report;
use super::resume_checks::{check_manifest, Checked};
use super::row_match::{check_done_keys, Matched};
use super::write::{Base, DoneLog, Item};
use super::Row;

struct FlatMap;

impl Shape for FlatMap {
    type Out = Vec<Row>;
    type Kept = Vec<Rendered>;
    const UNIQUE_KEYS: bool = true;
    const REUSES_RESULTS: bool = false;

    fn check(out: &Vec<Row>, key: &Value, column: &str) -> Result<(), Error> {
        out.iter().try_for_each(|row| check_key(row, key, column))
    }

    fn keep(out: Vec<Row>, columns: &Columns) -> Vec<Rendered> {
        out.iter().map(|row| Rendered::new(row, columns)).collect()
    }

    /// A key's rows are whole only with its done-log record, which carries
    /// no result: a resume never reads one back (keys are unique), and one
    /// stored row is a result of one row.
    fn stored(row: Row) -> Vec<Row> {
        vec![row]
    }

    fn item(base: Base, key: &Value, kept: &Arc<Vec<Rendered>>, _: Option<usize>) -> Item {
        Item::Group {
            base,
            key: key.clone(),
            rows: Arc::clone(kept),
        }
    }

    fn lines(kept: &Vec<Rendered>) -> u64 {
        kept.len() as u64
    }

    /// Keys are unique: a result is dropped once written, never cached.
    fn size(kept: &Vec<Rendered>) -> usize {
        kept.iter().map(Rendered::size).sum()
    }

    /// Never read back: the done log says a key is done, not its result.
    fn replaced(_: &Vec<Rendered>) -> Box<[usize]> {
        Box::default()
    }
}

/// Calls `f` once per source row (keys must be unique in `src`) and writes
/// the zero or more rows it returns to `dst`, resuming an earlier run.
///
/// Each output row holds the source row's `keep_columns`, its key, and the
/// fields of one of `f`'s rows (`f` wins on a clash; changing the key is
/// [`Error::KeyChanged`]). A key's rows are written together, in source order
/// of the keys, followed by a record in the done log `DST.done` (see the
/// [module docs](super)); a key that returned no rows is recorded too, so it
/// is never called again. A key seen twice in `src` is
/// [`Error::DuplicateKey`].
///
/// Concurrency, memory and panics are as for
/// [`map_by_key`](super::map_by_key), except that no result is kept once its
/// rows are written.
///
/// # Errors
///
/// As [`map_by_key`](super::map_by_key), plus [`Error::DuplicateKey`] (a bad
/// row, handled by `on_error`) and [`Error::MissingDoneLog`] when `dst` is not
/// empty but `DST.done` is missing (always returned: without the log the run
/// cannot tell finished keys from cut ones).
///
/// # Cancel safety
///
/// As [`map_by_key`](super::map_by_key).
///
/// # Examples
///
/// ```
/// use pipework::jsonl::{flatmap_by_key, MapOptions, Row};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
/// std::fs::write(&src, "{\"key\": 10}\n{\"key\": 20}\n")?;
///
/// let split = |row: Row| async move {
///     let key = row["key"].as_i64().unwrap_or(0);
///     let rows = (1..=2)
///         .map(|i| json!({"result": key + i}).as_object().cloned().unwrap_or_default())
///         .collect::<Vec<Row>>();
///     Ok::<_, std::io::Error>(rows)
/// };
/// let report = flatmap_by_key(&src, &dst, split, MapOptions::new("key")).await?;
/// assert_eq!(report.lines_written, 4);
/// assert_eq!(std::fs::read_to_string(&dst)?.lines().count(), 4);
/// # Ok(())
/// # }
/// ```
pub async fn flatmap_by_key<F, Fut, E>(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    f: F,
    opts: MapOptions,
) -> Result<Report, Failed>
where
    F: FnMut(Row) -> Fut,
    Fut: Future<Output = Result<Vec<Row>, E>> + Send + 'static,
    E: Into<BoxError>,
{
    opts.validate()?;
    let (src, dst) = (src.as_ref(), dst.as_ref());
    check_distinct(src, dst)?;
    if opts.reconcile {
        return Err(Error::InvalidOption {
            name: "reconcile",
            reason: "a flatmap cannot reconcile (a key's rows are not read back): move DST away to start over",
        }
        .into());
    }
    let lock = DstLock::acquire(dst)?;
    let log = done_log_path(dst);
    let (resumed, dst_len, manifest) = {
        let (src, dst, log, opts) = (
            src.to_path_buf(),
            dst.to_path_buf(),
            log.clone(),
            opts.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let Checked {
                manifest,
                as_left,
                stored,
            } = check_manifest("flatmap", &src, &dst, &opts)?;
            let (mut resumed, dst_len) = reconcile(&dst, &log, &opts.common)?;
            let columns = Columns::new(&opts.key, &opts.keep_columns);
            if !as_left {
                check_done_keys(&src, &dst, &columns, &mut resumed)?;
            }
            if !stored {
                manifest.store(&dst)?;
            }
            Ok::<_, Error>((resumed, dst_len, manifest))
        })
        .await
        .map_err(|_| Error::Cancelled)??
    };
    let log = DoneLog { path: log, dst_len };
    let held = lock.clone();
    let report = by_key::run::<FlatMap, _, _, _>(
        src,
        dst,
        f,
        &opts,
        resumed,
        Matched::default(),
        None,
        Some(log),
        lock,
    )
    .await?;
    finish(src, dst, manifest, held, report).await
}
