//! Reconciling: rewriting a map's destination for the source as it is now.
//!
//! When the source was edited (not just appended to), or the destination
//! holds rows that stand for no source row, or the kept columns changed, a
//! resume stops rather than guess (see [`resume_checks`](super::resume_checks)).
//! [`MapOptions::reconcile`](super::MapOptions::reconcile) asks instead for
//! what a fresh run over the source would write, paying only for keys the
//! destination has no answer for: a fresh run into `DST.reconciling`
//! beside the destination, whose keys take their answer from the old
//! destination (the key's first row there, without its key and the kept
//! columns it was made with) and call `f` only when it has none.
//!
//! Once that run has read the whole source and synced its file, its
//! replaced log is renamed over `DST.replaced` (or the old one removed),
//! the new file over `DST`, and the manifest records the new columns and
//! source. A crash before the renames leaves the old destination as it
//! was (and `DST.reconciling`, removed by the next reconcile); a crash
//! between them is caught by the next resume (the manifest then disagrees,
//! and reconciling again is safe).

use std::future::Future;
use std::path::{Path, PathBuf};

use super::by_key::{self, OldAnswers};
use super::error::{BoxError, Error, Failed};
use super::lock::DstLock;
use super::manifest::Manifest;
use super::map_by_key::Map;
use super::options::MapOptions;
use super::picked::Columns;
use super::replaced::{self, replaced_log_path, sync_dir};
use super::report::Report;
use super::resume::{scan_map_dst, Resumed, Stored};
use super::resume_checks::{check_manifest, record_src};
use super::row_match::Matched;
use super::stored::StoredRows;
use super::Row;

/// Where a reconciling run writes the new destination.
pub(crate) fn reconciling_path(dst: &Path) -> PathBuf {
    let mut name = dst.as_os_str().to_owned();
    name.push(".reconciling");
    PathBuf::from(name)
}

/// Rewrites `dst` for `src` as it is now (see the module docs); `lock` is
/// the run's hold on `dst`.
pub(crate) async fn reconcile_map<F, Fut, E>(
    src: &Path,
    dst: &Path,
    f: F,
    opts: &MapOptions,
    lock: DstLock,
) -> Result<Report, Failed>
where
    F: FnMut(Row) -> Fut,
    Fut: Future<Output = Result<Row, E>> + Send + 'static,
    E: Into<BoxError>,
{
    let new = reconciling_path(dst);
    let (resumed, old, manifest) = {
        let (src, dst, new, opts) = (
            src.to_path_buf(),
            dst.to_path_buf(),
            new.clone(),
            opts.clone(),
        );
        tokio::task::spawn_blocking(move || prepare(&src, &dst, &new, &opts))
            .await
            .map_err(|_| Error::Cancelled)??
    };
    let held = lock.clone();
    let result = by_key::run::<Map, _, _, _>(
        src,
        &new,
        f,
        opts,
        resumed,
        Matched::default(),
        Some(old),
        None,
        lock,
    )
    .await;
    let (src, dst) = (src.to_path_buf(), dst.to_path_buf());
    let done = tokio::task::spawn_blocking(move || {
        let done = match &result {
            Ok(report) if !report.stopped => replace(&src, &dst, &new, manifest),
            // The old destination stays; the partial new one goes.
            _ => {
                remove_new(&new);
                Ok(())
            }
        };
        drop(held);
        (result, done)
    })
    .await
    .map_err(|_| Error::Cancelled)?;
    match done {
        (Ok(report), Err(error)) => Err(Failed { error, report }),
        (result, _) => result,
    }
}

/// Checks what can be checked, reads the old destination's keys and where
/// their answers are, and clears what an interrupted reconcile left.
fn prepare(
    src: &Path,
    dst: &Path,
    new: &Path,
    opts: &MapOptions,
) -> Result<(Resumed, OldAnswers, Manifest), Error> {
    let old_keep = Manifest::load(dst)?.map_or_else(|| opts.keep_columns.clone(), |old| old.keep);
    let manifest = check_manifest("map", src, dst, opts)?.manifest;
    let columns = Columns::new(&opts.key, &old_keep);
    let mut found = scan_map_dst(dst, &columns, &opts.common)?;
    let replaced = replaced::load(dst, &mut found.ids, &columns, &opts.common)?;
    remove_new(new);
    let resumed = Resumed {
        ids: found.ids,
        // Nothing is in the new file yet; every answer is in the old one.
        keys: found
            .keys
            .iter()
            .map(|stored| Stored {
                rows: 0,
                at: stored.at,
            })
            .collect(),
        ..Resumed::default()
    };
    let old = OldAnswers {
        stored: StoredRows::new(dst),
        columns,
        replaced,
    };
    Ok((resumed, old, manifest))
}

/// Renames the new destination and its replaced log over the old ones,
/// then records the source in the manifest.
fn replace(src: &Path, dst: &Path, new: &Path, manifest: Manifest) -> Result<(), Error> {
    let (new_log, log) = (replaced_log_path(new), replaced_log_path(dst));
    if new_log.exists() {
        std::fs::rename(&new_log, &log).map_err(|e| Error::io("replacing", &log, e))?;
    } else if log.exists() {
        std::fs::remove_file(&log).map_err(|e| Error::io("removing", &log, e))?;
    }
    std::fs::rename(new, dst).map_err(|e| Error::io("replacing", dst, e))?;
    sync_dir(dst)?;
    record_src(manifest, src, dst, false)
}

/// Removes a new destination (and its replaced log), if there is one.
fn remove_new(new: &Path) {
    // Missing is fine; anything else shows when the new file is written.
    let _ = std::fs::remove_file(new);
    let _ = std::fs::remove_file(replaced_log_path(new));
}
