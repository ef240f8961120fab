//! Finding CMD's program before any work starts, so that a missing command
//! is one clear error rather than a failure per key.

use std::path::{Path, PathBuf};

/// Finds the program: a path with a separator must exist; a bare name is
/// looked up in `PATH`. Either way it must be an executable file.
pub(crate) fn resolve(program: &Path) -> anyhow::Result<PathBuf> {
    if program.components().count() > 1 {
        return executable(program)
            .then(|| program.to_path_buf())
            .ok_or_else(|| {
                anyhow::anyhow!("command not found or not executable: {}", program.display())
            });
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
        .ok_or_else(|| anyhow::anyhow!("command not found in PATH: {}", program.display()))
}

#[cfg(unix)]
fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn executable(path: &Path) -> bool {
    path.is_file()
}
