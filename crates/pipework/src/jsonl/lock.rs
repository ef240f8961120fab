//! One writer per destination: an exclusive advisory lock beside it.
//!
//! Two runs appending to the same destination would both compute every key
//! and both write every row. Each run therefore takes an exclusive `flock`
//! on `DST.lock` before it reads the destination, and keeps it until its
//! writer thread has written, synced and closed the destination. The kernel
//! releases the lock when the process dies, so a `kill -9` never leaves a
//! stale lock behind: the file may stay, but nobody holds it.
//!
//! The holder writes its process id into the file, so that a second run can
//! say who holds it. A run that ends normally removes the file. That removal
//! races with a run that opened the file just before it: such a run could
//! lock the removed file while a third run creates and locks a new one. So
//! after locking, a run checks that the path still names the file it locked,
//! and starts over if it does not.
//!
//! A lock file is found by its name, and one destination can have many: a
//! symlink to it, a hard link, `./out.jsonl` beside `out.jsonl`. So the lock
//! that makes a run the only writer is taken on the destination itself, on
//! its inode: every name of the file leads to it. The destination is created
//! (empty) to be locked if it does not exist yet, as the run's writer would
//! create it anyway; a name that does not lead to a file yet leads to the
//! one it creates (a dangling symlink creates its target). `DST.lock`
//! stays, to say who holds a destination when a second run comes by the
//! same name; one that comes by another name is refused as surely, without
//! the process id.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::error::Error;

/// How often the lock file may be replaced under a run trying to lock it
/// before the run gives up: each retry means another run came and went in
/// between, so this is never reached unless runs start and end in a tight loop.
const ATTEMPTS: usize = 16;

/// The exclusive lock on one destination, held until its last clone is
/// dropped (the writer holds one until it has closed the destination, the
/// run another until it has written the manifest).
#[derive(Debug, Clone)]
pub(crate) struct DstLock {
    /// Released when the last clone goes.
    _held: std::sync::Arc<Held>,
}

#[derive(Debug)]
struct Held {
    file: File,
    path: PathBuf,
    /// The destination, open and locked: the lock on the file's identity.
    dst: File,
}

/// Fails with [`Error::NotAFile`] if `dst` (through any symlinks) exists
/// and is not a regular file. One that does not exist yet is fine: the
/// writer creates it as a file.
fn refuse_special(dst: &Path) -> Result<(), Error> {
    let Ok(meta) = std::fs::metadata(dst) else {
        // Missing (or unreadable: opening it then says why).
        return Ok(());
    };
    if meta.is_file() {
        return Ok(());
    }
    Err(Error::NotAFile {
        path: dst.to_path_buf(),
        kind: file_kind(&meta.file_type()),
    })
}

/// How an error names a file that is not a regular one.
fn file_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// The lock file of `dst`: its name with `.lock` appended.
pub(crate) fn lock_path(dst: &Path) -> PathBuf {
    let mut name = dst.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl DstLock {
    /// Takes the lock on `dst`, or fails at once with [`Error::Locked`] if
    /// another run holds it. Never waits.
    ///
    /// A destination that exists but is not a regular file is refused
    /// first ([`Error::NotAFile`]), so no lock file is made beside a device.
    pub(crate) fn acquire(dst: &Path) -> Result<DstLock, Error> {
        refuse_special(dst)?;
        let path = lock_path(dst);
        for _ in 0..ATTEMPTS {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| Error::io("opening", &path, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::Locked {
                        path: dst.to_path_buf(),
                        pid: holder(&mut file),
                    })
                }
                Err(TryLockError::Error(e)) => return Err(Error::io("locking", &path, e)),
            }
            if !names_file(&path, &file) {
                continue;
            }
            // Taken before the pid is written: a run refused here must not
            // say it holds the destination.
            let dst_file = match lock_dst(dst) {
                Ok(dst_file) => dst_file,
                Err(e) => {
                    // Ours, locked: removed as a run that ends removes it.
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
            };
            file.set_len(0)
                .and_then(|()| writeln!(file, "{}", std::process::id()))
                .map_err(|e| Error::io("writing", &path, e))?;
            return Ok(DstLock {
                _held: std::sync::Arc::new(Held {
                    file,
                    path,
                    dst: dst_file,
                }),
            });
        }
        Err(replaced_under_us(&path))
    }
}

fn replaced_under_us(path: &Path) -> Error {
    Error::io(
        "locking",
        path,
        std::io::Error::other("the file kept being replaced by other runs"),
    )
}

/// Opens `dst` (creating it empty if missing) and locks the file itself,
/// so that a run coming by another name (a symlink, a hard link) finds it
/// locked too. The holder then came by another name, whose lock file this
/// run cannot know: the error names no process.
fn lock_dst(dst: &Path) -> Result<File, Error> {
    for _ in 0..ATTEMPTS {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(dst)
            .map_err(|e| Error::io("opening", dst, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    path: dst.to_path_buf(),
                    pid: None,
                })
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("locking", dst, e)),
        }
        // A destination renamed over meanwhile (a reconciling run replaces
        // it whole) is another file: lock that one.
        if names_file(dst, &file) {
            return Ok(file);
        }
    }
    Err(replaced_under_us(dst))
}

impl Drop for Held {
    fn drop(&mut self) {
        // Remove the file while still holding the lock (a run that opens it
        // now finds it gone or replaced once it locks it, see above). Failure
        // only leaves an unlocked file behind, which the next run reuses.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.dst.unlock();
        let _ = self.file.unlock();
    }
}

/// The process id the holder wrote, if it has written it yet.
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// True if `path` still names `file` (and not a newer file, or nothing).
#[cfg(unix)]
fn names_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(at_path), Ok(locked)) => at_path.dev() == locked.dev() && at_path.ino() == locked.ino(),
        _ => false,
    }
}

/// Elsewhere a file open by another process cannot be removed, so the race
/// above does not arise.
#[cfg(not(unix))]
fn names_file(_path: &Path, _file: &File) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        let first = DstLock::acquire(&dst).unwrap();
        match DstLock::acquire(&dst) {
            Err(Error::Locked { path, pid }) => {
                assert_eq!(path, dst);
                assert_eq!(pid, Some(std::process::id()));
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        assert!(!lock_path(&dst).exists(), "the lock file is removed");
        let again = DstLock::acquire(&dst).unwrap();
        drop(again);
    }

    #[test]
    #[cfg(unix)]
    fn a_destination_that_is_not_a_file_is_refused_and_nothing_is_made_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        let mut cases = vec![
            (PathBuf::from("/dev/null"), "a character device"),
            (link, "a character device"),
            (dir.path().to_path_buf(), "a directory"),
        ];
        if made.is_ok_and(|status| status.success()) {
            cases.push((fifo, "a FIFO"));
        }
        for (dst, expected) in cases {
            match DstLock::acquire(&dst) {
                Err(Error::NotAFile { path, kind }) => {
                    assert_eq!((path.as_path(), kind), (dst.as_path(), expected));
                }
                other => panic!("{}: expected NotAFile, got {other:?}", dst.display()),
            }
            assert!(!lock_path(&dst).exists(), "{}", dst.display());
        }
    }

    /// One destination, three names: the file, a symlink to it and a hard
    /// link. A run holding one of them holds them all, and the refused run
    /// leaves no lock file of its own behind.
    #[test]
    #[cfg(unix)]
    fn a_destination_is_locked_under_every_name_it_has() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        std::fs::write(&dst, "").unwrap();
        let (link, hard) = (dir.path().join("link"), dir.path().join("hard"));
        std::os::unix::fs::symlink("out.jsonl", &link).unwrap();
        std::fs::hard_link(&dst, &hard).unwrap();
        for (held, other) in [(&dst, &link), (&link, &hard), (&hard, &dst), (&dst, &hard)] {
            let lock = DstLock::acquire(held).unwrap();
            match DstLock::acquire(other) {
                Err(Error::Locked { path, pid: None }) => assert_eq!(&path, other),
                found => panic!(
                    "{} while {} is held: {found:?}",
                    other.display(),
                    held.display()
                ),
            }
            assert!(!lock_path(other).exists(), "{}", other.display());
            drop(lock);
            drop(DstLock::acquire(other).unwrap());
        }
    }

    /// A symlink to a destination that does not exist yet locks the file
    /// it creates, which the target's own name then finds locked.
    #[test]
    #[cfg(unix)]
    fn a_dangling_symlink_locks_the_file_it_leads_to() {
        let dir = tempfile::tempdir().unwrap();
        let (dst, link) = (dir.path().join("out.jsonl"), dir.path().join("link"));
        std::os::unix::fs::symlink("out.jsonl", &link).unwrap();
        let lock = DstLock::acquire(&link).unwrap();
        assert!(dst.is_file());
        assert!(matches!(DstLock::acquire(&dst), Err(Error::Locked { .. })));
        drop(lock);
    }

    #[test]
    fn a_lock_file_left_by_a_dead_run_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out.jsonl");
        std::fs::write(lock_path(&dst), "999999\n").unwrap();
        let lock = DstLock::acquire(&dst).unwrap();
        let text = std::fs::read_to_string(lock_path(&dst)).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        drop(lock);
    }

    #[test]
    fn a_lock_on_a_removed_file_is_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let file = File::create(&path).unwrap();
        assert!(names_file(&path, &file));
        std::fs::remove_file(&path).unwrap();
        assert!(!names_file(&path, &file));
        File::create(&path).unwrap();
        assert!(!names_file(&path, &file));
    }
}
