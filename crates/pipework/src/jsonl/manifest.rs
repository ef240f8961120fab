//! The manifest: how a destination was made, kept beside it.
//!
//! A destination's rows say what was computed, not how: which column was
//! the key, which columns were copied from the source, what made the
//! answers, from which source. A resume that guessed those would reuse
//! answers made by another command, or mix two sets of kept columns in one
//! file. So a run records them in `DST.manifest`, one JSON object, written
//! (through a new file renamed over the old one, then synced with its
//! directory) before the first row is, and again at the end of the run with
//! the fingerprint of the source as it was read (see
//! [`SrcFingerprint`]).
//!
//! On resume the manifest is compared with this run's options before
//! anything is written: another operation, key column or set of kept
//! columns is [`Error::Changed`]; another call id is too, unless the run
//! accepts it ([`MapOptions::accept_new_call`](super::MapOptions::accept_new_call)),
//! and another call version (a script whose content changed) is a notice.
//! A destination with rows but no manifest (begun by abstractions, or by a
//! pipework older than the manifest) resumes by the rules of its rows alone,
//! with one notice ([`Error::NoManifest`]); the run then writes one.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dst_digest::DstDigest;
use super::error::{Changed, Error};
use super::options::MapOptions;
use super::replaced::sync_dir;
use super::src_fingerprint::SrcFingerprint;

/// The version written in every manifest; a newer one is refused.
const VERSION: u32 = 1;

/// The manifest that goes with `dst`: the same path with `.manifest` appended.
pub(crate) fn manifest_path(dst: &Path) -> PathBuf {
    let mut name = dst.as_os_str().to_owned();
    name.push(".manifest");
    PathBuf::from(name)
}

/// How a destination was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// The format's version: [`VERSION`].
    pub(crate) pipework_manifest: u32,
    /// `"map"` or `"flatmap"`.
    pub(crate) operation: String,
    /// The key column.
    pub(crate) key: String,
    /// The kept columns, as the options list them (without the key or repeats).
    pub(crate) keep: Vec<String>,
    /// What makes the answers (the CLI: the command line), if the caller said.
    pub(crate) call: Option<String>,
    /// A version of the call whose change is worth a notice only (the CLI:
    /// a digest of the script's content).
    pub(crate) call_version: Option<String>,
    /// The source as the last run that ended read it.
    pub(crate) src: Option<SrcFingerprint>,
    /// The destination as the last run that read all of its source left
    /// it (absent from manifests written before it was recorded).
    #[serde(default)]
    pub(crate) dst: Option<DstDigest>,
}

impl Manifest {
    /// What this run would record, with no source fingerprint yet.
    pub(crate) fn of_run(operation: &str, opts: &MapOptions) -> Manifest {
        let mut keep: Vec<String> = Vec::new();
        for column in &opts.keep_columns {
            if *column != opts.key && !keep.contains(column) {
                keep.push(column.clone());
            }
        }
        Manifest {
            pipework_manifest: VERSION,
            operation: operation.to_owned(),
            key: opts.key.clone(),
            keep,
            call: opts.call.clone(),
            call_version: opts.call_version.clone(),
            src: None,
            dst: None,
        }
    }

    /// Reads the manifest of `dst`; `None` if there is none.
    pub(crate) fn load(dst: &Path) -> Result<Option<Manifest>, Error> {
        let path = manifest_path(dst);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("reading", &path, e)),
        };
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| Error::InvalidJson {
            path: path.clone(),
            line: 1,
            cause: e,
        })?;
        if manifest.pipework_manifest > VERSION {
            let newer = format!(
                "manifest version {} is newer than this pipework's ({VERSION}): upgrade pipework",
                manifest.pipework_manifest
            );
            return Err(Error::io("reading", &path, std::io::Error::other(newer)));
        }
        Ok(Some(manifest))
    }

    /// Writes the manifest of `dst` through a new file renamed over the old
    /// one, and syncs both, so that a crash leaves the old one or this one.
    pub(crate) fn store(&self, dst: &Path) -> Result<(), Error> {
        let path = manifest_path(dst);
        let mut name = path.as_os_str().to_owned();
        name.push(".new");
        let new = PathBuf::from(name);
        let mut text = serde_json::to_vec(self)
            .map_err(|e| Error::io("writing", &new, std::io::Error::other(e.to_string())))?;
        text.push(b'\n');
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&new)
            .map_err(|e| Error::io("creating", &new, e))?;
        file.write_all(&text)
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io("writing", &new, e))?;
        std::fs::rename(&new, &path).map_err(|e| Error::io("replacing", &path, e))?;
        sync_dir(&path)
    }

    /// Compares the manifest of an existing destination (`self`) with this
    /// run's (`run`): the first difference that stops the run, or the
    /// notices to give.
    pub(crate) fn check(
        &self,
        run: &Manifest,
        dst: &Path,
        opts: &MapOptions,
    ) -> Result<Vec<Error>, Error> {
        let changed = |what: Changed, old: String, new: String| Error::Changed {
            path: dst.to_path_buf(),
            what,
            old,
            new,
        };
        if self.operation != run.operation {
            return Err(changed(
                Changed::Operation,
                self.operation.clone(),
                run.operation.clone(),
            ));
        }
        if self.key != run.key {
            return Err(changed(
                Changed::KeyColumn,
                quoted(&self.key),
                quoted(&run.key),
            ));
        }
        if sorted(&self.keep) != sorted(&run.keep) && !opts.reconcile {
            return Err(changed(
                Changed::KeptColumns,
                list(&self.keep),
                list(&run.keep),
            ));
        }
        let mut notices = Vec::new();
        if let (Some(old), Some(new)) = (&self.call, &run.call) {
            if old != new {
                if !opts.accept_new_call {
                    return Err(changed(Changed::Call, old.clone(), new.clone()));
                }
                notices.push(Error::NewCallAccepted {
                    path: dst.to_path_buf(),
                    old: old.clone(),
                    new: new.clone(),
                });
            } else if let (Some(old), Some(new)) = (&self.call_version, &run.call_version) {
                if old != new {
                    notices.push(Error::CallVersionChanged {
                        path: dst.to_path_buf(),
                        call: new_call(run),
                        old: old.clone(),
                        new: new.clone(),
                    });
                }
            }
        }
        Ok(notices)
    }
}

fn new_call(run: &Manifest) -> String {
    run.call.clone().unwrap_or_default()
}

fn quoted(name: &str) -> String {
    serde_json::Value::from(name).to_string()
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names
        .iter()
        .map(|n| quoted(n))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sorted(names: &[String]) -> Vec<&String> {
    let mut names: Vec<&String> = names.iter().collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> MapOptions {
        MapOptions::new("id")
            .keep_columns(["a", "b"])
            .call_id("cmd 1")
    }

    #[test]
    fn a_stored_manifest_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        assert_eq!(Manifest::load(&dst).unwrap(), None);
        let manifest = Manifest::of_run("map", &opts());
        manifest.store(&dst).unwrap();
        assert_eq!(Manifest::load(&dst).unwrap(), Some(manifest));
        assert!(!dir.path().join("out.jsonl.manifest.new").exists());
    }

    #[test]
    fn each_change_is_named_with_both_values() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        let old = Manifest::of_run("map", &opts());
        let same = Manifest::of_run(
            "map",
            &MapOptions::new("id")
                .keep_columns(["b", "a", "a"])
                .call_id("cmd 1"),
        );
        assert!(old.check(&same, &dst, &opts()).unwrap().is_empty());
        let cases = [
            (
                Manifest::of_run("flatmap", &opts()),
                Changed::Operation,
                "\"map\"",
                "flatmap",
            ),
            (
                Manifest::of_run("map", &opts().key("other")),
                Changed::KeyColumn,
                "\"id\"",
                "\"other\"",
            ),
            (
                Manifest::of_run("map", &opts().keep_columns(["a"])),
                Changed::KeptColumns,
                "\"a\", \"b\"",
                "\"a\"",
            ),
            (
                Manifest::of_run("map", &opts().call_id("cmd 2")),
                Changed::Call,
                "cmd 1",
                "cmd 2",
            ),
        ];
        for (run, what, was, now) in cases {
            let error = old_check(&old, &run, &dst);
            match &error {
                Error::Changed { what: found, .. } => assert_eq!(*found, what),
                other => panic!("{other:?}"),
            }
            let message = error.to_string();
            assert!(
                message.contains(was.trim_matches('"')) && message.contains(now),
                "{message}"
            );
        }
    }

    fn old_check(old: &Manifest, run: &Manifest, dst: &Path) -> Error {
        old.check(run, dst, &opts()).unwrap_err()
    }

    #[test]
    fn an_accepted_call_and_a_new_version_are_notices() {
        let dst = Path::new("out.jsonl");
        let old = Manifest::of_run("map", &opts().call_version("v1"));
        let accepting = opts().call_id("cmd 2").accept_new_call();
        let notices = old
            .check(&Manifest::of_run("map", &accepting), dst, &accepting)
            .unwrap();
        assert!(matches!(notices[..], [Error::NewCallAccepted { .. }]));
        let edited = opts().call_version("v2");
        let notices = old
            .check(&Manifest::of_run("map", &edited), dst, &edited)
            .unwrap();
        assert!(matches!(notices[..], [Error::CallVersionChanged { .. }]));
    }
}
