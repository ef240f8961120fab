//! Parsing a file on one thread while another consumes what it parsed.
//!
//! A resume's checks and the source reader spend most of their time
//! parsing lines, and the rest numbering keys, which must happen in file
//! order. On two cores, parsing on a thread of its own, a few chunks ahead
//! of the numbering, overlaps the two: the 2M-row rerun's wall time dropped
//! by about a third. The chunks ahead are bounded, so memory is too.

use std::sync::mpsc;

/// Chunks the parsing thread may have ready ahead of the consumer.
const CHUNKS_AHEAD: usize = 4;

/// Calls `fill` on a thread of its own until it returns `None`, and hands
/// its chunks in order to `drain` on the calling thread, which takes them by
/// calling the function it is given (`None` once `fill` has ended). Returns
/// what `drain` returns, after the parsing thread has ended: if `drain`
/// returns early, the thread ends at its next chunk.
///
/// # Panics
///
/// If `fill` panics (it runs no user code), or if no thread can be started.
pub(crate) fn read_ahead<C: Send, R>(
    mut fill: impl FnMut() -> Option<C> + Send,
    drain: impl FnOnce(&mut dyn FnMut() -> Option<C>) -> R,
) -> R {
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel(CHUNKS_AHEAD);
        let filling = move || {
            while let Some(chunk) = fill() {
                // Ends when the consumer takes the chunk or is gone.
                if tx.send(chunk).is_err() {
                    return;
                }
            }
        };
        // Named for profiles and debuggers. Like `scope.spawn`, this panics
        // if the system cannot start a thread.
        let named = std::thread::Builder::new().name("pipework:parse".into());
        if let Err(e) = named.spawn_scoped(scope, filling) {
            panic!("starting the parsing thread: {e}");
        }
        // Each wait ends when the thread sends a chunk or ends.
        let result = drain(&mut || rx.recv().ok());
        // Dropping the receiver ends a thread still filling chunks, which the
        // scope then joins.
        drop(rx);
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_arrive_in_order_and_all_of_them() {
        let mut next = 0;
        let got = read_ahead(
            || {
                next += 1;
                (next <= 100).then_some(next)
            },
            |take| std::iter::from_fn(take).collect::<Vec<_>>(),
        );
        assert_eq!(got, (1..=100).collect::<Vec<_>>());
    }

    #[test]
    fn a_consumer_that_stops_early_ends_the_filling_thread() {
        // An endless filler: only the consumer's leaving can end it.
        let got = read_ahead(|| Some(1), |take| take().into_iter().sum::<i32>());
        assert_eq!(got, 1);
    }
}
