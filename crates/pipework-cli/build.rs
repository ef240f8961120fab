//! Puts the commit the binary is built from into `pipework --version`, as
//! `0.1.0 (abc1234)`, where the build can tell: a git checkout with `git`
//! on PATH. Elsewhere (a packaged source tarball) the version stays bare.

use std::process::Command;

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|commit| !commit.is_empty());
    let full = match commit {
        Some(commit) => format!("{version} ({commit})"),
        None => version.to_owned(),
    };
    println!("cargo:rustc-env=PIPEWORK_VERSION={full}");
    // A checkout changes HEAD; a commit changes the branch file it names.
    let head = "../../.git/HEAD";
    if let Ok(text) = std::fs::read_to_string(head) {
        println!("cargo:rerun-if-changed={head}");
        if let Some(branch) = text.trim().strip_prefix("ref: ") {
            let branch = format!("../../.git/{branch}");
            if std::path::Path::new(&branch).exists() {
                println!("cargo:rerun-if-changed={branch}");
            }
        }
    }
}
