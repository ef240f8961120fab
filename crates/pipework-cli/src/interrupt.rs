//! Interrupts: Ctrl-C (SIGINT), SIGTERM (`kill`, `docker stop`, systemd)
//! and SIGHUP (a closed terminal, a dropped ssh session) all mean the same.
//! The first stops launching commands and lets running ones finish; the
//! second kills the running commands' process groups. Either way the run
//! ends cleanly (rows written, file synced, lock released), exits with
//! 128 + the first signal's number, and can be resumed.

use std::sync::{Arc, OnceLock};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A signal that interrupts a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Ctrl-C.
    Interrupt,
    /// `kill`'s default.
    Terminate,
    /// The terminal went away.
    Hangup,
}

impl Signal {
    const ALL: [Signal; 3] = [Signal::Interrupt, Signal::Terminate, Signal::Hangup];

    /// The exit code a run stopped by this signal ends with: 128 + its
    /// number, as a shell reports a process killed by it.
    pub(crate) fn exit_code(self) -> u8 {
        128 + match self {
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
            Signal::Hangup => 1,
        }
    }

    /// How messages name it.
    fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "Ctrl-C",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
        }
    }

    #[cfg(unix)]
    fn kind(self) -> tokio::signal::unix::SignalKind {
        use tokio::signal::unix::SignalKind;
        match self {
            Signal::Interrupt => SignalKind::interrupt(),
            Signal::Terminate => SignalKind::terminate(),
            Signal::Hangup => SignalKind::hangup(),
        }
    }
}

/// The two stages of an interrupt: the first signal cancels `stop` (start
/// nothing new), the second the `kill` token given to
/// [`listen`](Interrupt::listen) (kill running commands' groups).
#[derive(Debug)]
pub(crate) struct Interrupt {
    /// Cancelled by the first signal.
    pub(crate) stop: CancellationToken,
    /// The first signal, once one came.
    first: Arc<OnceLock<Signal>>,
    /// Ends when the run drops this (see `Drop`), or after the second signal.
    listener: JoinHandle<()>,
}

impl Interrupt {
    /// Starts listening for interrupts: the first cancels `stop`, the second
    /// `kill` (the token the commands' runner watches); `note` prints what
    /// happens.
    ///
    /// The handlers are in place when this returns, before any command
    /// starts (not only once the listener task first runs, which on a busy
    /// machine can be later): a signal from then on always stops the run
    /// cleanly.
    pub(crate) fn listen(
        kill: CancellationToken,
        note: impl Fn(&str) + Send + 'static,
    ) -> Interrupt {
        let stop = CancellationToken::new();
        let first = Arc::new(OnceLock::new());
        let mut signals = Signals::install();
        let listener = tokio::spawn({
            let (stop, kill, first) = (stop.clone(), kill.clone(), Arc::clone(&first));
            async move {
                let Some(signal) = signals.next().await else {
                    return;
                };
                let _ = first.set(signal);
                stop.cancel();
                note(&format!(
                    "interrupted by {}: starting no new commands, waiting for the running ones \
                     (Ctrl-C or SIGTERM again kills them)",
                    signal.name()
                ));
                let Some(signal) = signals.next().await else {
                    return;
                };
                kill.cancel();
                note(&format!(
                    "interrupted again by {}: killing the running commands (their whole process groups)",
                    signal.name()
                ));
            }
        });
        Interrupt {
            stop,
            first,
            listener,
        }
    }

    /// The first signal, if one arrived.
    pub(crate) fn happened(&self) -> Option<Signal> {
        self.first.get().copied()
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        // The listener only turns signals into token cancellations; once the
        // run is over there is nothing left for it to do.
        self.listener.abort();
    }
}

/// Interrupting signals, caught from when [`Signals::install`] ran.
struct Signals {
    #[cfg(unix)]
    streams: Vec<(Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Installs the handlers now (on Unix; elsewhere Ctrl-C, when first
    /// awaited). A signal whose handler cannot be installed keeps its
    /// default action.
    fn install() -> Signals {
        Signals {
            #[cfg(unix)]
            streams: Signal::ALL
                .into_iter()
                .filter_map(|signal| {
                    let stream = tokio::signal::unix::signal(signal.kind()).ok()?;
                    Some((signal, stream))
                })
                .collect(),
        }
    }

    /// Waits for the next interrupting signal; `None` if none can be caught.
    async fn next(&mut self) -> Option<Signal> {
        #[cfg(unix)]
        {
            if self.streams.is_empty() {
                return None;
            }
            let received = std::future::poll_fn(|cx| {
                for (signal, stream) in &mut self.streams {
                    if let std::task::Poll::Ready(got) = stream.poll_recv(cx) {
                        return std::task::Poll::Ready(got.map(|()| *signal));
                    }
                }
                std::task::Poll::Pending
            });
            received.await
        }
        #[cfg(not(unix))]
        {
            let _ = Signal::ALL;
            tokio::signal::ctrl_c()
                .await
                .ok()
                .map(|()| Signal::Interrupt)
        }
    }
}
