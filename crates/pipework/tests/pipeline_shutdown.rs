//! Shutting a threaded pipeline down: `stop`, `abort`, dropping a handle
//! (normal or daemon) or an outputs iterator; and after each of them (and
//! after an error), every item was dropped exactly once and no thread is
//! left running.

#[path = "support/drop_counter.rs"]
mod drop_counter;
#[path = "support/live_threads.rs"]
mod live_threads;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use drop_counter::{endless, DropCounter, Tally};
use live_threads::{tracked, tracked_iter, LiveThreads};
use pipework::pipeline::{BoxError, Error, OnError, Pipeline};

/// Generous: only a hang (or a drained endless source) takes this long.
const PROMPTLY: Duration = Duration::from_secs(5);

/// A gate a step waits at: opened (forever) when the gate is dropped.
fn gate() -> (Sender<()>, Receiver<()>) {
    bounded(0)
}

/// An iterator that drops `on_drop` (opening a gate) when it is dropped.
struct OpensOnDrop<I> {
    iter: I,
    _on_drop: Sender<()>,
}

impl<I: Iterator> Iterator for OpensOnDrop<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        self.iter.next()
    }
}

#[test]
fn stop_drains_every_queued_item() {
    let done = Arc::new(AtomicUsize::new(0));
    let count = done.clone();
    let (started_tx, started_rx) = bounded(0);
    let (gate_tx, gate_rx) = gate();
    let handle = Pipeline::new()
        .map(move |n: u64| {
            if n == 0 {
                started_tx.send(()).unwrap();
                let _ = gate_rx.recv(); // Err once the gate is dropped: open
            }
            count.fetch_add(1, Ordering::SeqCst);
        })
        .queue(100)
        .spawn()
        .unwrap();
    // Moved after the handle, so a failed assertion drops (opens) it before
    // the handle's drop drains the step: a failure, not a hang.
    let gate_tx = gate_tx;
    handle.put(0).unwrap();
    started_rx
        .recv_timeout(PROMPTLY)
        .expect("item 0 never started");
    handle.put_all(1..100).unwrap();
    assert_eq!(handle.stats()[0].queued, 99);
    drop(gate_tx);
    let report = handle.stop().unwrap();
    assert_eq!(report.outputs(), 100);
    assert_eq!(done.load(Ordering::SeqCst), 100);
}

#[test]
fn dropping_a_handle_processes_every_put_item() {
    let done = Arc::new(AtomicUsize::new(0));
    let count = done.clone();
    let (started_tx, started_rx) = bounded(0);
    let (gate_tx, gate_rx) = gate();
    let handle = Pipeline::new()
        .map(move |n: u64| {
            if n == 0 {
                started_tx.send(()).unwrap();
                let _ = gate_rx.recv();
            }
            n
        })
        .threads(2)
        .queue(200)
        .map(move |_| {
            count.fetch_add(1, Ordering::SeqCst);
        })
        .spawn()
        .unwrap();
    handle.put(0).unwrap();
    started_rx
        .recv_timeout(PROMPTLY)
        .expect("item 0 never started");
    handle.put_all(1..200).unwrap();
    drop(gate_tx);
    drop(handle);
    assert_eq!(done.load(Ordering::SeqCst), 200);
}

#[test]
fn dropping_a_daemon_handle_returns_while_a_step_is_blocked() {
    let (started_tx, started_rx) = bounded(0);
    let (gate_tx, gate_rx) = gate();
    let (done_tx, done_rx) = bounded(10);
    let handle = Pipeline::new()
        .map(move |n: u64| {
            if n == 0 {
                started_tx.send(()).unwrap();
                let _ = gate_rx.recv();
            }
            n
        })
        .map(move |n| done_tx.send(n).unwrap())
        .daemon()
        .spawn()
        .unwrap();
    handle.put_all(0..3).unwrap();
    started_rx
        .recv_timeout(PROMPTLY)
        .expect("item 0 never started");
    let dropping = Instant::now();
    drop(handle); // the step is blocked at the gate: this must not wait
    assert!(dropping.elapsed() < PROMPTLY);
    assert!(done_rx.try_recv().is_err(), "nothing passed the gate yet");
    // The abandoned threads go on by themselves once unblocked, and the
    // input was closed, so they end.
    drop(gate_tx);
    let got: Vec<u64> = done_rx.iter().collect();
    assert_eq!(got, [0, 1, 2]);
}

#[test]
fn abort_drops_queued_items_and_returns_promptly() {
    let tally = Tally::new();
    let (started_tx, started_rx) = bounded(0);
    let (gate_tx, gate_rx) = gate();
    let processed = Arc::new(AtomicUsize::new(0));
    let count = processed.clone();
    let mut pipeline = Pipeline::new()
        .map(move |item: DropCounter| {
            if item.value == 0 {
                started_tx.send(()).unwrap();
                let _ = gate_rx.recv();
            }
            count.fetch_add(1, Ordering::SeqCst);
            item
        })
        .queue(4)
        .map(|item| item)
        .queue(4);
    // The gate opens only when the feeder drops the source, which it does
    // once it sees the abort: so the step cannot process queued items
    // before the abort, and the endless source must not be drained.
    pipeline.put_iter(OpensOnDrop {
        iter: endless(&tally),
        _on_drop: gate_tx,
    });
    let handle = pipeline.spawn().unwrap();
    started_rx
        .recv_timeout(PROMPTLY)
        .expect("item 0 never started");
    let aborting = Instant::now();
    let report = handle.abort().unwrap();
    assert!(aborting.elapsed() < PROMPTLY);
    assert_eq!(processed.load(Ordering::SeqCst), 1);
    assert_eq!(report.steps()[0].input, 1);
    assert!(report.steps()[1].input <= 1);
    // Item 0, at most 4 queued, and at most one held by the feeder.
    assert!(tally.created() <= 6, "{} items pulled", tally.created());
    tally.assert_all_dropped();
}

#[test]
fn abort_of_a_pipeline_fed_by_an_endless_source_returns() {
    let tally = Tally::new();
    let mut pipeline = Pipeline::new().map(|n: DropCounter| n).threads(2);
    pipeline.put_iter(endless(&tally));
    let handle = pipeline.spawn().unwrap();
    // Abort once the feeder is pulling the endless source (an abort before
    // its first item would test nothing).
    let pulling = Instant::now() + PROMPTLY;
    while tally.created() == 0 {
        assert!(Instant::now() < pulling, "the feeder never pulled an item");
        std::thread::yield_now();
    }
    let (aborted_tx, aborted_rx) = bounded(1);
    std::thread::spawn(move || aborted_tx.send(handle.abort()));
    let report = aborted_rx
        .recv_timeout(PROMPTLY)
        .expect("abort drained the endless source")
        .unwrap();
    // Everything pulled was taken in, queued, or in the feeder's hand, and
    // all of it was dropped.
    let queue = pipework::pipeline::DEFAULT_QUEUE as u64;
    assert!(report.inputs() + queue + 1 >= tally.created() as u64);
    tally.assert_all_dropped();
}

#[test]
fn dropping_outputs_early_stops_the_pipeline() {
    let live = LiveThreads::new();
    let mut pipeline = Pipeline::new()
        .step(tracked(&live, |n: u64| Ok::<_, BoxError>(n)))
        .threads(3);
    pipeline.put_iter(tracked_iter(&live, 0u64..));
    let mut outputs = pipeline.outputs().unwrap();
    let first: Vec<u64> = outputs.by_ref().take(5).collect::<Result<_, _>>().unwrap();
    assert_eq!(first.len(), 5);
    let dropping = Instant::now();
    drop(outputs);
    assert!(dropping.elapsed() < PROMPTLY);
    assert_eq!(live.live(), 0, "threads left running");
    assert_eq!(live.entered(), 4);
}

mod no_leftovers {
    //! After each way a run can end, every item was dropped exactly once
    //! and every thread has ended.

    use super::*;

    /// feeder → "a" ×3 → chunk(7) ×2 → flatten → "b" ×4, with every
    /// thread registered in `live`.
    fn pipeline(live: &LiveThreads, fail_at: Option<u64>) -> Pipeline<DropCounter> {
        let fail = move |item: DropCounter| -> Result<DropCounter, BoxError> {
            if Some(item.value) == fail_at {
                return Err(format!("item {}", item.value).into());
            }
            Ok(item)
        };
        Pipeline::new()
            .step(tracked(live, fail))
            .name("a")
            .threads(3)
            .queue(8)
            .chunk(7)
            .threads(2)
            .queue(3)
            .flatten()
            .step(tracked(live, Ok::<_, BoxError>))
            .name("b")
            .threads(4)
            .queue(5)
    }

    fn source(
        live: &LiveThreads,
        tally: &Arc<Tally>,
        n: usize,
    ) -> impl Iterator<Item = DropCounter> + Send + 'static {
        tracked_iter(live, endless(tally).take(n))
    }

    #[test]
    fn after_stop() {
        let (tally, live) = (Tally::new(), LiveThreads::new());
        let mut p = pipeline(&live, None);
        p.put_iter(source(&live, &tally, 500));
        let report = p.spawn().unwrap().stop().unwrap();
        assert_eq!(report.outputs(), 500);
        tally.assert_all_dropped();
        assert_eq!(tally.created(), 500);
        assert_eq!(live.live(), 0);
        assert_eq!(live.entered(), 3 + 4 + 1);
    }

    #[test]
    fn after_run() {
        let (tally, live) = (Tally::new(), LiveThreads::new());
        let mut p = pipeline(&live, None);
        p.put_all((0..300).map(|n| DropCounter::new(n, &tally)));
        p.finish();
        assert_eq!(p.run().unwrap().outputs(), 300);
        tally.assert_all_dropped();
        assert_eq!(live.live(), 0);
    }

    #[test]
    fn after_abort() {
        let (tally, live) = (Tally::new(), LiveThreads::new());
        let mut p = pipeline(&live, None);
        let (pulled_tx, pulled_rx) = bounded(1);
        p.put_iter(tracked_iter(
            &live,
            endless(&tally).inspect(move |item| {
                if item.value == 100 {
                    pulled_tx.send(()).unwrap();
                }
            }),
        ));
        let handle = p.spawn().unwrap();
        pulled_rx.recv().unwrap(); // items are in flight in every step
        handle.abort().unwrap();
        tally.assert_all_dropped();
        assert_eq!(live.live(), 0);
    }

    #[test]
    fn after_an_error() {
        let (tally, live) = (Tally::new(), LiveThreads::new());
        let mut p = pipeline(&live, Some(250));
        p.put_iter(tracked_iter(&live, endless(&tally)));
        let error = p.run().unwrap_err();
        assert_eq!(error.step(), Some("a"));
        tally.assert_all_dropped();
        assert_eq!(live.live(), 0);
        assert_eq!(live.entered(), 3 + 4 + 1);
    }

    #[test]
    fn after_a_panic() {
        let (tally, live) = (Tally::new(), LiveThreads::new());
        let mut p = Pipeline::new()
            .step(tracked(
                &live,
                |item: DropCounter| -> Result<DropCounter, BoxError> {
                    assert!(item.value != 100, "boom at 100");
                    Ok(item)
                },
            ))
            .threads(4)
            .step(tracked(&live, Ok::<_, BoxError>))
            .threads(2);
        p.put_iter(tracked_iter(&live, endless(&tally)));
        let error = p.run().unwrap_err();
        assert!(error.is_panic(), "{error}");
        tally.assert_all_dropped();
        assert_eq!(live.live(), 0);
    }

    #[test]
    fn after_retries_and_skips() {
        let (tally, live) = (Tally::new(), LiveThreads::new());
        let mut p = Pipeline::new()
            .step(tracked(
                &live,
                |item: DropCounter| -> Result<DropCounter, BoxError> {
                    if item.value.is_multiple_of(5) {
                        return Err("fifth".into());
                    }
                    Ok(item)
                },
            ))
            .threads(3)
            .retries(2)
            .on_error(OnError::Skip);
        p.put_iter(tracked_iter(&live, endless(&tally).take(100)));
        let report = p.run().unwrap();
        assert_eq!(report.outputs(), 80);
        assert_eq!(report.failed(), 20);
        // A step with retries keeps a spare clone of the item before each
        // attempt that may still be retried (the attempt consumes the
        // item): every item gets one, the failing ones a second.
        assert_eq!(tally.created(), 100 + 100 + 20);
        tally.assert_all_dropped();
        assert_eq!(live.live(), 0);
    }

    #[test]
    fn after_dropping_the_handle() {
        let (tally, live) = (Tally::new(), LiveThreads::new());
        let handle = pipeline(&live, None).spawn().unwrap();
        handle
            .put_all((0..200).map(|n| DropCounter::new(n, &tally)))
            .unwrap();
        drop(handle);
        tally.assert_all_dropped();
        assert_eq!(live.live(), 0);
    }

    #[test]
    fn after_dropping_outputs_early() {
        let (tally, live) = (Tally::new(), LiveThreads::new());
        let mut p = pipeline(&live, None);
        p.put_iter(tracked_iter(&live, endless(&tally)));
        let mut outputs = p.outputs().unwrap();
        let some: Vec<DropCounter> = outputs.by_ref().take(20).collect::<Result<_, _>>().unwrap();
        drop(outputs);
        drop(some);
        tally.assert_all_dropped();
        assert_eq!(live.live(), 0);
    }

    #[test]
    fn after_an_error_in_ordered_mode() {
        let (tally, live) = (Tally::new(), LiveThreads::new());
        let mut p = pipeline(&live, Some(250)).ordered();
        p.put_iter(tracked_iter(&live, endless(&tally)));
        let mut outputs = p.outputs().unwrap();
        let mut last = None;
        for item in outputs.by_ref() {
            last = Some(item.map(|i| i.value));
        }
        assert!(
            matches!(last, Some(Err(Error::StepFailed { .. }))),
            "{last:?}"
        );
        drop(outputs);
        tally.assert_all_dropped();
        assert_eq!(live.live(), 0);
    }

    #[test]
    fn after_a_put_is_refused() {
        let tally = Tally::new();
        let handle = Pipeline::new().map(|i: DropCounter| i).spawn().unwrap();
        handle.finish();
        let refused = handle.put(DropCounter::new(7, &tally)).unwrap_err();
        assert_eq!(refused.into_inner().value, 7);
        handle.stop().unwrap();
        tally.assert_all_dropped();
    }
}

#[test]
fn panicking_while_holding_a_handle_fed_forever_does_not_hang() {
    let (tally, live) = (Tally::new(), LiveThreads::new());
    let (pulled_tx, pulled_rx) = bounded(1);
    let source = tracked_iter(
        &live,
        endless(&tally).inspect(move |item| {
            if item.value == 100 {
                // Received once, by the caller below.
                let _ = pulled_tx.send(());
            }
        }),
    );
    let step = tracked(&live, Ok::<DropCounter, BoxError>);
    let caller = std::thread::spawn(move || {
        let mut pipeline = Pipeline::new().step(step).threads(2);
        pipeline.put_iter(source);
        let _handle = pipeline.spawn().expect("spawn");
        pulled_rx.recv().expect("the source was pulled");
        panic!("the caller fails while the pipeline runs");
    });
    // Joined on another thread, so a drop that drains the endless source
    // fails this test instead of hanging it.
    let (joined_tx, joined_rx) = bounded(1);
    std::thread::spawn(move || joined_tx.send(caller.join()));
    let payload = joined_rx
        .recv_timeout(PROMPTLY)
        .expect("dropping the handle while unwinding hung")
        .unwrap_err();
    // The caller's own panic reaches `join`, not one from the handle's drop,
    // and the drop aborted the run: no thread left, every item dropped.
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"the caller fails while the pipeline runs")
    );
    assert_eq!(live.live(), 0);
    tally.assert_all_dropped();
}

/// Threads of an ordered step that wait for room in its window (its
/// oldest item still runs) are woken when another step fails: they wait on
/// a condvar, not a channel, so nothing else would wake them and the run
/// would wait for them forever.
#[test]
fn a_failure_wakes_threads_waiting_for_room_in_an_ordered_window() {
    let (started_tx, started_rx) = bounded::<u64>(16);
    let (gate_tx, gate_rx) = gate();
    let mut pipeline = Pipeline::new()
        .try_map(move |n: u64| {
            if n == 5 {
                // Fails once the next step's window is full: with 3 threads
                // and no queue, items 1 and 2 wait finished, and two threads
                // hold items 3 and 4 they cannot hand over.
                for _ in 1..=4 {
                    let _ = started_rx.recv_timeout(PROMPTLY);
                }
                // Time for those two threads to go to sleep in the window
                // (a late scheduler only makes this pass).
                std::thread::sleep(Duration::from_millis(100));
                return Err(format!("bad item {n}"));
            }
            Ok(n)
        })
        .name("check")
        .map(move |n: u64| {
            // Item 0 runs until the feeder drops its source, which it does
            // once the failure has cancelled the run.
            if n == 0 {
                let _ = gate_rx.recv();
            } else {
                // Room for every item that can start; none is lost.
                let _ = started_tx.try_send(n);
            }
            n
        })
        .name("window")
        .threads(3)
        .queue(0)
        // A last step: the window orders what it hands on to a queue (the
        // last step's outputs, discarded by `run`, need no order).
        .map(|n: u64| n)
        .ordered();
    pipeline.put_iter(OpensOnDrop {
        iter: 0u64..,
        _on_drop: gate_tx,
    });
    let (done_tx, done_rx) = bounded(1);
    std::thread::spawn(move || done_tx.send(pipeline.run()));
    let error = done_rx
        .recv_timeout(PROMPTLY)
        .expect("threads asleep in the window were never woken")
        .unwrap_err();
    assert_eq!(error.to_string(), "step 'check' failed: bad item 5");
}
