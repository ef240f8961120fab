//! Ctrl-C: the first one stops launching commands and lets running ones
//! finish; the second kills them. Either way the run ends cleanly (rows
//! written, file synced) and can be resumed.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The two stages of an interrupt: the first Ctrl-C cancels `stop` (start
/// nothing new), the second the `kill` token given to
/// [`listen`](Interrupt::listen) (kill running commands).
#[derive(Debug)]
pub(crate) struct Interrupt {
    /// Cancelled by the first Ctrl-C.
    pub(crate) stop: CancellationToken,
    listener: JoinHandle<()>,
}

impl Interrupt {
    /// Starts listening for Ctrl-C: the first cancels `stop`, the second
    /// `kill` (the token the commands' runner watches); `note` prints what
    /// happens.
    ///
    /// The handler is in place when this returns, before any command starts
    /// (not only once the listener task first runs, which on a busy machine
    /// can be later): a Ctrl-C from then on always stops the run cleanly.
    pub(crate) fn listen(
        kill: CancellationToken,
        note: impl Fn(&str) + Send + 'static,
    ) -> Interrupt {
        let stop = CancellationToken::new();
        let mut ctrl_c = CtrlC::install();
        let listener = tokio::spawn({
            let (stop, kill) = (stop.clone(), kill.clone());
            async move {
                if !ctrl_c.next().await {
                    return;
                }
                stop.cancel();
                note("interrupted: starting no new commands, waiting for the running ones (Ctrl-C again kills them)");
                if !ctrl_c.next().await {
                    return;
                }
                kill.cancel();
                note("interrupted again: killing the running commands");
            }
        });
        Interrupt { stop, listener }
    }

    /// True if a Ctrl-C arrived.
    pub(crate) fn happened(&self) -> bool {
        self.stop.is_cancelled()
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        // The listener only turns signals into token cancellations; once the
        // run is over there is nothing left for it to do.
        self.listener.abort();
    }
}

/// Ctrl-C presses, caught from when [`CtrlC::install`] ran.
struct CtrlC {
    #[cfg(unix)]
    sigint: Option<tokio::signal::unix::Signal>,
}

impl CtrlC {
    /// Installs the handler now (on Unix; elsewhere when first awaited).
    fn install() -> CtrlC {
        CtrlC {
            #[cfg(unix)]
            sigint: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok(),
        }
    }

    /// Waits for the next Ctrl-C; false if none can be caught.
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        return match &mut self.sigint {
            Some(sigint) => sigint.recv().await.is_some(),
            None => false,
        };
        #[cfg(not(unix))]
        return tokio::signal::ctrl_c().await.is_ok();
    }
}
