//! Turning the death of another process into a short error.
//!
//! timely's network threads panic by design when a connection breaks
//! (`timely communication error: …`), and the panic then spreads through
//! the worker threads (`MergeQueue poisoned.`) and the join guards (`Send
//! thread panic`). Those are the symptoms of one event, a peer that failed
//! or exited, and [`run`](super::run) reports it as
//! [`RunError::PeerFailed`]. While a cluster runs, a panic hook:
//!
//! - keeps these panics off stderr (no backtraces of threads we own),
//!   passing every other panic to the hook that was there before, so a
//!   panic in user code is still printed;
//! - records, from the name of the network thread that saw the break
//!   (`timely:recv-N` / `timely:send-N`), which process failed and at which
//!   address, as the run's first error;
//! - if such a panic happens on a worker thread that is already unwinding,
//!   or Rust is about to abort because a destructor panicked during
//!   unwinding ("panic in a destructor during cleanup") after the run
//!   failed, prints the run's error and ends the process with exit code 1
//!   instead of aborting.

use std::cell::Cell;
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};

use pipework::internal::panic_message;

use super::failure::Failure;
use super::{Cluster, RunError};

/// The panics that are consequences of a broken connection to a peer.
const SYMPTOMS: [&str; 5] = [
    "timely communication error",
    "MergeQueue poisoned",
    "Send thread panic",
    "Recv thread panic",
    "Worker panic",
];

/// The message of the panic Rust raises just before it aborts because a
/// destructor panicked during unwinding.
const ABORTING: &str = "panic in a destructor during cleanup";

/// A cluster run in progress in this process.
struct Watched {
    id: u64,
    process_id: usize,
    addresses: Vec<String>,
    failure: Arc<Failure>,
}

static WATCHED: Mutex<Vec<Watched>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static INSTALL: Once = Once::new();

thread_local! {
    /// Set on a worker thread that unwinds to stop after a failure.
    static UNWINDING: Cell<bool> = const { Cell::new(false) };
}

/// Watches a cluster run until dropped.
#[derive(Debug)]
pub(crate) struct PeerWatch {
    id: u64,
}

impl PeerWatch {
    /// Starts watching the run of `cluster` whose failures go to `failure`.
    pub(crate) fn start(cluster: &Cluster, failure: &Arc<Failure>) -> Self {
        INSTALL.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !on_panic(info) {
                    previous(info);
                }
            }));
        });
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        lock().push(Watched {
            id,
            process_id: cluster.process_id(),
            addresses: cluster.addresses().to_vec(),
            failure: Arc::clone(failure),
        });
        PeerWatch { id }
    }
}

impl Drop for PeerWatch {
    fn drop(&mut self) {
        lock().retain(|watched| watched.id != self.id);
    }
}

/// Marks the calling worker thread as unwinding after a failure (`true`),
/// or as starting afresh (`false`).
pub(crate) fn mark_unwinding(unwinding: bool) {
    UNWINDING.with(|flag| flag.set(unwinding));
}

fn lock() -> std::sync::MutexGuard<'static, Vec<Watched>> {
    pipework::internal::lock(&WATCHED)
}

/// Handles a panic that is a symptom of a failed peer while a cluster
/// runs; returns false to leave any other panic to the previous hook.
fn on_panic(info: &PanicHookInfo<'_>) -> bool {
    let message = panic_message(info.payload());
    if message.contains(ABORTING) {
        // Rust is about to abort: a destructor panicked while a thread
        // unwound. After a recorded failure of the run, that is part of
        // the same failure; leave with its error instead.
        let watched = lock();
        if let Some(error) = watched.iter().find_map(|run| run.failure.peek()) {
            leave(&error);
        }
        return false;
    }
    if !SYMPTOMS.iter().any(|symptom| message.contains(symptom)) {
        return false;
    }
    let watched = lock();
    if watched.is_empty() {
        return false;
    }
    // With one cluster run in this process, the network thread's name
    // says which peer broke the connection.
    if let [run] = watched.as_slice() {
        let peer = std::thread::current()
            .name()
            .and_then(|name| {
                name.strip_prefix("timely:recv-")
                    .or_else(|| name.strip_prefix("timely:send-"))
            })
            .and_then(|index| index.parse::<usize>().ok());
        if let Some(peer) = peer.filter(|peer| *peer != run.process_id) {
            let address = run.addresses.get(peer).map_or("?", String::as_str);
            let detail = message
                .strip_prefix("timely communication error: ")
                .unwrap_or(&message);
            run.failure.fail(RunError::PeerFailed {
                message: format!("process {peer} at {address}: {detail}"),
            });
        }
    }
    if UNWINDING.with(Cell::get) {
        // A second panic while unwinding would abort the process: leave
        // now, with the run's error, as `run`'s caller would have.
        let error = watched
            .first()
            .and_then(|run| run.failure.peek())
            .unwrap_or_else(|| format!("a peer process failed or exited: {message}"));
        leave(&error);
    }
    true
}

/// Prints `error` as the program's last word and exits with code 1.
fn leave(error: &str) -> ! {
    eprintln!("{}: {error}", program_name());
    std::process::exit(1)
}

fn program_name() -> String {
    std::env::args()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "pipework".to_owned())
}
