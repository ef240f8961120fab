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
//!    (see [`row_match`](super::row_match)), unless the destination is
//!    byte for byte as the last complete run left it (see
//!    [`dst_digest`](super::dst_digest)): then there is nothing to match.
//!
//! Then this run's manifest is written, before the first row, and at the
//! end of a run that read the whole source, again with the source's new
//! fingerprint and the destination's digest, while the run still holds the
//! destination's lock.

use std::path::Path;

use super::dst_digest::DstDigest;
use super::error::Error;
use super::manifest::Manifest;
use super::options::MapOptions;
use super::src_fingerprint::{can_read_twice, SrcFingerprint};

/// What [`check_manifest`] found.
pub(crate) struct Checked {
    /// The manifest to store once the rest of the checks pass.
    pub(crate) manifest: Manifest,
    /// Whether the destination is byte for byte as the last run that read
    /// all of its source left it, and the source still starts as that run
    /// read it: its rows then stand for their keys' first source rows, and
    /// matching them by content can be left out.
    pub(crate) as_left: bool,
    /// Whether the manifest on disk already says what `manifest` does, so
    /// storing it again before the first row can be left out.
    pub(crate) stored: bool,
}

/// Checks the manifest and the source's fingerprint.
pub(crate) fn check_manifest(
    operation: &str,
    src: &Path,
    dst: &Path,
    opts: &MapOptions,
) -> Result<Checked, Error> {
    let mut run = Manifest::of_run(operation, opts);
    let has_rows = std::fs::metadata(dst).is_ok_and(|meta| meta.len() > 0);
    if !has_rows {
        // A fresh destination (or one emptied by hand): any old manifest
        // is about rows that are gone.
        return Ok(Checked {
            manifest: run,
            as_left: false,
            stored: false,
        });
    }
    let (mut as_left, mut stored) = (false, false);
    match Manifest::load(dst)? {
        Some(old) => {
            for notice in old.check(&run, dst, opts)? {
                opts.common.notify(&notice)?;
            }
            if let Some(fingerprint) = &old.src {
                if !opts.reconcile {
                    fingerprint.verify(src, dst)?;
                    run.src = Some(fingerprint.clone());
                    // A stream's fingerprint is not checked, so neither is
                    // its destination left unmatched.
                    if let (Some(digest), true) = (&old.dst, can_read_twice(src)) {
                        as_left = digest.matches(dst)?;
                    }
                    if as_left {
                        // The digest stays true until a row is written,
                        // and a row written makes it false: it can stay.
                        run.dst.clone_from(&old.dst);
                    }
                }
            }
            if !opts.accept_new_call && run.call.is_none() {
                // A call the caller did not name this time stays recorded.
                run.call_version.clone_from(&old.call_version);
                run.call.clone_from(&old.call);
            }
            stored = run == old;
        }
        None => opts.common.notify(&Error::NoManifest {
            path: dst.to_path_buf(),
        })?,
    }
    Ok(Checked {
        manifest: run,
        as_left,
        stored,
    })
}

/// Records in `manifest` the fingerprint of `src` and the digest of `dst`
/// as they are now, at the end of a run that read all of `src`, and stores
/// it; `wrote_nothing` says the run wrote no row, and then a manifest whose
/// digest still holds (see [`Checked::as_left`]) over a source of the
/// length it covers is already right.
pub(crate) fn record_src(
    mut manifest: Manifest,
    src: &Path,
    dst: &Path,
    wrote_nothing: bool,
) -> Result<(), Error> {
    if let (true, Some(fingerprint), Some(digest)) = (wrote_nothing, &manifest.src, &manifest.dst) {
        let len = |path: &Path| std::fs::metadata(path).map(|meta| meta.len()).ok();
        if len(src) == Some(fingerprint.bytes) && len(dst) == Some(digest.bytes) {
            return Ok(());
        }
    }
    manifest.src = SrcFingerprint::of(src)?;
    manifest.dst = match manifest.src {
        Some(_) => Some(DstDigest::of(dst)?),
        None => None,
    };
    manifest.store(dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pre-pass is left out only while the destination is byte for byte
    /// as the last complete run left it over a source that still starts
    /// the same: appends to the source keep it out, any edit of the
    /// destination brings it back.
    #[test]
    fn rows_go_unmatched_only_over_the_destination_a_complete_run_left() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
        std::fs::write(&src, "{\"id\":1}\n{\"id\":2}\n").unwrap();
        std::fs::write(&dst, "{\"id\":1,\"v\":1}\n{\"id\":2,\"v\":2}\n").unwrap();
        let opts = MapOptions::new("id");
        let checked = |opts: &MapOptions| {
            let checked = check_manifest("map", &src, &dst, opts).unwrap();
            (checked.as_left, checked.stored)
        };
        // No manifest yet: matched, and one is written.
        assert_eq!(checked(&opts), (false, false));
        record_src(Manifest::of_run("map", &opts), &src, &dst, false).unwrap();
        assert_eq!(checked(&opts), (true, true));
        std::fs::write(&src, "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n").unwrap();
        assert_eq!(checked(&opts), (true, true));
        // Another call is stored, but the rows still need no matching.
        let other = MapOptions::new("id").call_id("other").accept_new_call();
        assert_eq!(checked(&other), (true, false));
        std::fs::write(&dst, "{\"id\":1,\"v\":1}\n{\"id\":2,\"v\":3}\n").unwrap();
        assert_eq!(checked(&opts), (false, false));
    }
}
