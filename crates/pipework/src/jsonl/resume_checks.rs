//! What a resume checks before it writes anything, and what a run records
//! for the next one.
//!
//! In order, each stopping the run with the destination as it was:
//! 1. the manifest (see [`manifest`](super::manifest)): the same operation,
//!    key column and kept columns, and the same call unless accepted;
//! 2. the source against the fingerprint the manifest holds (see
//!    [`src_fingerprint`](super::src_fingerprint)): unchanged as far as
//!    the last run read it, rows appended after that being fine;
//! 3. for a map, every destination row against the source rows by content
//!    (see [`row_match`](super::row_match)).
//!
//! Then this run's manifest is written, before the first row, and at the
//! end of a run that read the whole source, again with the source's new
//! fingerprint, while the run still holds the destination's lock.

use std::path::Path;

use super::error::Error;
use super::manifest::Manifest;
use super::options::MapOptions;
use super::src_fingerprint::SrcFingerprint;

/// Checks the manifest and the source's fingerprint; returns the manifest
/// to store once the rest of the checks pass.
pub(crate) fn check_manifest(
    operation: &str,
    src: &Path,
    dst: &Path,
    opts: &MapOptions,
) -> Result<Manifest, Error> {
    let mut run = Manifest::of_run(operation, opts);
    let has_rows = std::fs::metadata(dst).is_ok_and(|meta| meta.len() > 0);
    if !has_rows {
        // A fresh destination (or one emptied by hand): any old manifest
        // is about rows that are gone.
        return Ok(run);
    }
    match Manifest::load(dst)? {
        Some(old) => {
            for notice in old.check(&run, dst, opts)? {
                opts.common.notify(&notice)?;
            }
            if let Some(fingerprint) = old.src {
                if !opts.reconcile {
                    fingerprint.verify(src, dst)?;
                    run.src = Some(fingerprint);
                }
            }
            if opts.accept_new_call {
                return Ok(run);
            }
            // A call the caller did not name this time stays recorded.
            if run.call.is_none() {
                run.call = old.call;
                run.call_version = old.call_version;
            }
        }
        None => opts.common.notify(&Error::NoManifest {
            path: dst.to_path_buf(),
        })?,
    }
    Ok(run)
}

/// Records the fingerprint of `src` as it is now in `manifest`, and stores it.
pub(crate) fn record_src(mut manifest: Manifest, src: &Path, dst: &Path) -> Result<(), Error> {
    manifest.src = SrcFingerprint::of(src)?;
    manifest.store(dst)
}
