//! What a DST's manifest records of CMD, so that a resume with another
//! command stops instead of mixing two commands' answers in one file.
//!
//! The call id is the command line, exactly as given (a JSON array of its
//! words). The call version is a digest of the content of each file the
//! command line names (the script, a prompt file): editing the script
//! keeps the id, so a resume goes on, but says that the rows already there
//! came from the old script. Only files up to [`MAX_DIGESTED`] are read:
//! a binary such as `/usr/bin/python3` changes with upgrades, not with the
//! user's intent, and reading it on every run would cost.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;

use pipework::jsonl::MapOptions;
use xxhash_rust::xxh3::Xxh3;

use crate::args::MapArgs;

/// Files larger than this are not digested.
const MAX_DIGESTED: u64 = 4 << 20;

/// `opts` with the command's id and version, and the flags that accept a
/// change of command or ask to reconcile.
pub(crate) fn with_call(mut opts: MapOptions, args: &MapArgs) -> MapOptions {
    opts = opts.call_id(call_id(&args.run.cmd));
    if let Some(version) = call_version(&args.run.cmd) {
        opts = opts.call_version(version);
    }
    if args.accept_new_command {
        opts = opts.accept_new_call();
    }
    if args.reconcile {
        opts = opts.reconcile();
    }
    opts
}

/// The command line as a JSON array of its words.
fn call_id(cmd: &[OsString]) -> String {
    let words: Vec<String> = cmd
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    serde_json::Value::from(words).to_string()
}

/// `word=digest` for each word of the command line that names a regular
/// file of at most [`MAX_DIGESTED`] bytes, or `None` if none does.
fn call_version(cmd: &[OsString]) -> Option<String> {
    let parts: Vec<String> = cmd
        .iter()
        .filter_map(|word| {
            let digest = digest(Path::new(word))?;
            Some(format!("{}={digest:016x}", word.to_string_lossy()))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn digest(path: &Path) -> Option<u64> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_DIGESTED {
        return None;
    }
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Xxh3::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Some(hasher.digest()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_changes_with_a_named_file_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s.sh");
        std::fs::write(&script, "echo 1\n").unwrap();
        let cmd: Vec<OsString> = vec!["sh".into(), script.clone().into(), "--flag".into()];
        let before = call_version(&cmd).unwrap();
        assert_eq!(call_version(&cmd).unwrap(), before);
        std::fs::write(&script, "echo 2\n").unwrap();
        assert_ne!(call_version(&cmd).unwrap(), before);
        assert_eq!(call_version(&["echo".into(), "hi".into()]), None);
        assert_eq!(call_id(&cmd[..1]), "[\"sh\"]");
    }
}
