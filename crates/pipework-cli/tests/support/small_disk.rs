//! A tmpfs of a few kilobytes, for runs that fill their disk.

use std::path::Path;
use std::process::{Command, Stdio};

/// A small tmpfs, unmounted when dropped.
pub(crate) struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (as `mount` takes it), or says why it cannot.
    pub(crate) fn mount(size: &str) -> Result<SmallDisk, String> {
        if !cfg!(target_os = "linux") {
            return Err("tmpfs mounts are tried on Linux only".into());
        }
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| format!("running id: {e}"))?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("mounting a tmpfs needs root".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("running mount: {e}"))?;
        if !status.success() {
            return Err(format!("mount -t tmpfs failed ({status})"));
        }
        Ok(SmallDisk { dir })
    }

    /// [`SmallDisk::mount`], or `None` after printing why the test that
    /// wanted it is skipped.
    pub(crate) fn mount_or_skip(size: &str) -> Option<SmallDisk> {
        match SmallDisk::mount(size) {
            Ok(disk) => Some(disk),
            Err(why) => {
                eprintln!("skipped: {why}");
                None
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn grow(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .unwrap_or_else(|e| panic!("running mount: {e}"));
        assert!(status.success(), "remount failed: {status}");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}
