//! The `wordcount` example as a binary the tests can start.

// Each test binary that includes `support` uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the `wordcount` example in the tests' own profile (a no-op when it
/// is up to date) and returns its path.
pub(crate) fn wordcount_binary() -> PathBuf {
    let me = std::env::current_exe().unwrap();
    let profile_dir = me.parent().and_then(Path::parent).unwrap().to_path_buf();
    let mut build = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    build.args(["build", "-p", "pipework-dataflow", "--example", "wordcount"]);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    assert!(
        build.status().unwrap().success(),
        "building the example failed"
    );
    profile_dir.join("examples").join("wordcount")
}
