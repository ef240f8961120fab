//! The one thread that starts every command of a run.
//!
//! On Linux each command is started with `PR_SET_PDEATHSIG = SIGKILL`, so
//! that a `kill -9` of pipework takes its running commands with it. The
//! kernel ties that signal to the *thread* that forked the child, not to the
//! process: fork from a tokio blocking-pool thread, which retires after
//! 10 s idle, and a healthy command is killed when it does. So commands are
//! forked here, on a thread that lives exactly as long as the [`Spawner`]
//! (the run): it ends when the spawner is dropped, which closes its queue.
//!
//! Only the leader gets the death signal; what it started itself is not
//! covered by it (see the crate README: "nothing it started outlives it").

use std::io;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

/// A request to start one command; the answer goes back on `reply`.
struct Request {
    command: Command,
    reply: oneshot::Sender<io::Result<Child>>,
}

/// Starts commands on its own long-lived thread.
#[derive(Debug)]
pub(crate) struct Spawner {
    requests: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl Spawner {
    /// Starts the spawning thread.
    pub(crate) fn start() -> io::Result<Spawner> {
        let (requests, queue) = mpsc::channel::<Request>();
        let thread = std::thread::Builder::new()
            .name("pipework-spawner".to_owned())
            .spawn(move || {
                // Ends when the spawner is dropped (every sender gone).
                for Request { command, reply } in queue {
                    let mut command = command;
                    let spawned = command.spawn();
                    if let Err(Ok(mut orphan)) = reply.send(spawned) {
                        // The call that asked was cancelled meanwhile: nobody
                        // will watch this command, so end it here. It is its
                        // group's leader and not yet reaped, so the group id
                        // is still its own.
                        kill_group(&orphan, libc::SIGKILL);
                        let _ = orphan.wait();
                    }
                }
            })?;
        Ok(Spawner {
            requests: Some(requests),
            thread: Some(thread),
        })
    }

    /// Starts `command` as the leader of a new process group (with the
    /// parent-death signal, on Linux).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a command started for a cancelled call is killed.
    pub(crate) async fn spawn(&self, mut command: Command) -> io::Result<Child> {
        prepare(&mut command);
        let (reply, answer) = oneshot::channel();
        let request = Request { command, reply };
        let gone = || io::Error::other("the thread that starts commands is gone");
        self.requests
            .as_ref()
            .ok_or_else(gone)?
            .send(request)
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has answered what was
        // already asked (each answer is one fork, never a wait).
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends `signal` to the group `child` leads. Only for a child not yet
/// reaped (see `group.rs`).
pub(crate) fn kill_group(child: &Child, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

/// Its own process group, so that a Ctrl-C in the terminal reaches only
/// pipework (which lets running commands finish) and so that the command's
/// whole tree can be signalled at once; and, on Linux, death with pipework.
fn prepare(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id();
        // SAFETY: the closure runs between fork and exec and calls only
        // async-signal-safe functions (prctl, getppid).
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // pipework died between the fork and the prctl: the signal
                // was missed, so do not start the command at all.
                if libc::getppid() as u32 != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
}
