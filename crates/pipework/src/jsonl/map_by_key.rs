//! `map_by_key`: one call per distinct key, one output row per source row.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::by_key::{self, Shape};
use super::error::{BoxError, Error, Failed};
use super::key_ids::same_key;
use super::lock::DstLock;
use super::manifest::Manifest;
use super::options::MapOptions;
use super::picked::Columns;
use super::reconcile::reconcile_map;
use super::rendered::Rendered;
use super::replaced;
use super::report::Report;
use super::resume::scan_map_dst;
use super::resume_checks::{check_manifest, record_src, Checked};
use super::row_match::{match_rows, Matched};
use super::write::{Base, Item};
use super::Row;

pub(crate) struct Map;

impl Shape for Map {
    type Out = Row;
    type Kept = Rendered;
    const UNIQUE_KEYS: bool = false;
    const REUSES_RESULTS: bool = true;

    fn check(out: &Row, key: &Value, column: &str) -> Result<(), Error> {
        check_key(out, key, column)
    }

    fn keep(out: Row, columns: &Columns) -> Rendered {
        Rendered::new(&out, columns)
    }

    fn stored(row: Row) -> Row {
        row
    }

    fn item(base: Base, _key: &Value, kept: &Arc<Rendered>, first_of: Option<usize>) -> Item {
        Item::Merged {
            base,
            result: Arc::clone(kept),
            first_of,
        }
    }

    fn lines(_kept: &Rendered) -> u64 {
        1
    }

    fn size(kept: &Rendered) -> usize {
        kept.size()
    }

    fn replaced(kept: &Rendered) -> Box<[usize]> {
        kept.replaced_columns().collect()
    }
}

/// Errors if `src` and `dst` are the same file: appending to the file being
/// read would never end, and a rerun would find the source's rows "done".
/// The same file, not the same name: two hard links, or a symlink, are one
/// file (compared by device and inode; a `dst` that does not exist yet is
/// no file at all).
pub(crate) fn check_distinct(src: &Path, dst: &Path) -> Result<(), Error> {
    if same_file(src, dst) {
        return Err(Error::InvalidOption {
            name: "dst",
            reason: "the destination is the source file",
        });
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Errors if `row` sets the key column to something other than `key`.
pub(crate) fn check_key(row: &Row, key: &Value, column: &str) -> Result<(), Error> {
    match row.get(column) {
        Some(found) if !same_key(found, key) => Err(Error::KeyChanged {
            key: key.clone(),
            column: column.to_owned(),
            found: found.clone(),
        }),
        _ => Ok(()),
    }
}

/// Calls `f` once per distinct value of the key column of `src` and writes
/// one row per source row to `dst`, resuming what an earlier run left there.
///
/// `f` gets the first source row with each key. Each output row holds the
/// row's `keep_columns`, its key, and the fields of `f`'s result for that key
/// (`f`'s value wins when a name clashes; a result that changes the key
/// is [`Error::KeyChanged`]). Rows are written in source order, each as soon as
/// it and every row before it are known; see the [module docs](super) for
/// crash safety and resume.
///
/// Up to `opts.concurrency` calls run at once, each as its own tokio task (so
/// `f`'s futures must be `Send + 'static`; they run in parallel on a
/// multi-threaded runtime). A panic in `f` is that key's error.
///
/// Memory: the read-ahead window of source rows, about 100 bytes per
/// distinct key, the results not yet written (at most `opts.concurrency`
/// keys', plus those of rows waiting or queued for the writer), and a cache
/// of written results for later rows of their keys, bounded by
/// [`MapOptions::cache_bytes`]; a result that left the cache is read back
/// from its key's first row in `dst`. A rerun over a complete destination
/// holds no result.
///
/// Column order: the key, the kept columns, then `f`'s other fields. A kept
/// column that `f` returns holds `f`'s value in every row of the key, and
/// the key goes in the replaced log `DST.replaced` (written before its
/// first row), so that a resume reading the key's result back from that row
/// knows the value is `f`'s whatever the order of the row's fields (see
/// [what a resume trusts](super#what-a-resume-trusts)). The key's value
/// always comes from the source.
///
/// # Errors
///
/// Under [`OnError::Raise`](super::OnError::Raise): the first bad row of
/// `src` ([`Error::InvalidJson`], [`Error::NotAnObject`], [`Error::MissingKey`],
/// [`Error::BadKey`]) or of `dst` when resuming, or the first failed call
/// ([`Error::Call`], [`Error::CallPanicked`], [`Error::KeyChanged`]). No
/// call starts after it; the calls still running finish, and every row whose
/// result is known is written before the error is returned (see the
/// [module docs](super#errors-and-skipping)). Under [`OnError::Skip`](super::OnError::Skip) these are
/// reported and the run goes on. Always: [`Error::Io`] (a write error such
/// as a full disk ends the run at once, naming the file and the OS error),
/// [`Error::Locked`] if another run holds `dst` (nothing is written),
/// [`Error::InvalidOption`] (a concurrency or read-ahead of 0, or `dst` being
/// `src`), and [`Error::Stalled`] instead of a hang should the run ever have
/// nothing left to wait for.
///
/// # Cancel safety
///
/// Dropping the future aborts the running calls; the rows already handed to
/// the writer thread are still written and synced by it, in the background.
/// For a gentle stop that lets running calls finish, use
/// [`MapOptions::stop_token`].
///
/// # Examples
///
/// ```
/// use pipework::jsonl::{map_by_key, MapOptions, Row};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
/// std::fs::write(&src, concat!(
///     "{\"key\": 10, \"other\": \"A\", \"discarded\": \"X\"}\n",
///     "{\"key\": 20, \"other\": \"B\", \"discarded\": \"Y\"}\n",
///     "{\"key\": 10, \"other\": \"C\", \"discarded\": \"Z\"}\n",
/// ))?;
///
/// let compute = |row: Row| async move {
///     let key = row["key"].as_i64().unwrap_or(0);
///     let mut out = Row::new();
///     out.insert("result".into(), json!(key + 1));
///     Ok::<_, std::io::Error>(out)
/// };
/// let opts = MapOptions::new("key").keep_columns(["other"]);
/// let report = map_by_key(&src, &dst, compute, opts).await?;
/// assert_eq!((report.rows_written, report.keys_computed), (3, 2));
///
/// let out = std::fs::read_to_string(&dst)?;
/// assert_eq!(out, concat!(
///     "{\"key\":10,\"other\":\"A\",\"result\":11}\n",
///     "{\"key\":20,\"other\":\"B\",\"result\":21}\n",
///     "{\"key\":10,\"other\":\"C\",\"result\":11}\n",
/// ));
/// # Ok(())
/// # }
/// ```
pub async fn map_by_key<F, Fut, E>(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    f: F,
    opts: MapOptions,
) -> Result<Report, Failed>
where
    F: FnMut(Row) -> Fut,
    Fut: Future<Output = Result<Row, E>> + Send + 'static,
    E: Into<BoxError>,
{
    opts.validate()?;
    let (src, dst) = (src.as_ref(), dst.as_ref());
    check_distinct(src, dst)?;
    let lock = DstLock::acquire(dst)?;
    let has_rows = std::fs::metadata(dst).is_ok_and(|meta| meta.len() > 0);
    if opts.reconcile && has_rows {
        return reconcile_map(src, dst, f, &opts, lock).await;
    }
    let (resumed, matched, manifest) = {
        let (src, dst, opts) = (src.to_path_buf(), dst.to_path_buf(), opts.clone());
        tokio::task::spawn_blocking(move || {
            let Checked {
                manifest,
                as_left,
                stored,
            } = check_manifest("map", &src, &dst, &opts)?;
            let columns = Columns::new(&opts.key, &opts.keep_columns);
            let mut resumed = scan_map_dst(&dst, &columns, &opts.common)?;
            resumed.replaced = replaced::load(&dst, &mut resumed.ids, &columns, &opts.common)?;
            let matched = if as_left {
                Matched::default()
            } else {
                match_rows(&src, &dst, &columns, &mut resumed)?
            };
            if !stored {
                manifest.store(&dst)?;
            }
            Ok::<_, Error>((resumed, matched, manifest))
        })
        .await
        .map_err(|_| Error::Cancelled)??
    };
    let held = lock.clone();
    let report =
        by_key::run::<Map, _, _, _>(src, dst, f, &opts, resumed, matched, None, None, lock).await?;
    finish(src, dst, manifest, held, report).await
}

/// Records the source's fingerprint in the manifest at the end of a run
/// that read all of it (one not stopped), before the lock (`held`) is
/// released.
pub(crate) async fn finish(
    src: &Path,
    dst: &Path,
    manifest: Manifest,
    held: DstLock,
    report: Report,
) -> Result<Report, Failed> {
    let (src, dst) = (src.to_path_buf(), dst.to_path_buf());
    let (stopped, wrote_nothing) = (report.stopped, report.rows_written == 0);
    let recorded = tokio::task::spawn_blocking(move || {
        // A stopped run did not read all of the source; the manifest keeps
        // the fingerprint it had.
        let recorded = if stopped {
            Ok(())
        } else {
            record_src(manifest, &src, &dst, wrote_nothing)
        };
        drop(held);
        recorded
    })
    .await
    .map_err(|_| Error::Cancelled)
    .and_then(|recorded| recorded);
    match recorded {
        Ok(()) => Ok(report),
        Err(error) => Err(Failed { error, report }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The source under another name is still the source: a symlink or a
    /// hard link to it is refused as the destination, a copy is not.
    #[test]
    #[cfg(unix)]
    fn the_source_is_refused_as_the_destination_under_any_name() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in.jsonl");
        std::fs::write(&src, "{\"id\": 1}\n").unwrap();
        let (link, hard, copy) = (
            dir.path().join("link"),
            dir.path().join("hard"),
            dir.path().join("copy"),
        );
        std::os::unix::fs::symlink("in.jsonl", &link).unwrap();
        std::fs::hard_link(&src, &hard).unwrap();
        std::fs::copy(&src, &copy).unwrap();
        for dst in [&src, &link, &hard] {
            assert!(
                matches!(
                    check_distinct(&src, dst),
                    Err(Error::InvalidOption { name: "dst", .. })
                ),
                "{}",
                dst.display()
            );
        }
        check_distinct(&src, &copy).unwrap();
        check_distinct(&src, &dir.path().join("missing")).unwrap();
    }
}
