//! Feeding a threaded pipeline: `put` and its backpressure, lazy
//! `put_iter` sources (before and while running), and external channels
//! given to `put_receiver`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, RecvTimeoutError};
use pipework::pipeline::Pipeline;

#[test]
fn a_full_first_queue_blocks_put() {
    let (started_tx, started_rx) = bounded(0);
    let (gate_tx, gate_rx) = bounded::<()>(0);
    let handle = Pipeline::new()
        .map(move |n: u64| {
            if n == 0 {
                started_tx.send(()).unwrap();
                let _ = gate_rx.recv();
            }
            n
        })
        .queue(2)
        .spawn()
        .unwrap();
    handle.put(0).unwrap();
    started_rx.recv().unwrap();
    handle.put_all([1, 2]).unwrap(); // fills the queue
    let (put_tx, put_rx) = bounded(1);
    std::thread::scope(|s| {
        s.spawn(|| {
            handle.put(3).unwrap();
            put_tx.send(()).unwrap();
        });
        // Nothing leaves the queue while the step is held at the gate, so
        // the put cannot return (a late scheduler only makes this pass).
        assert_eq!(
            put_rx.recv_timeout(Duration::from_millis(100)),
            Err(RecvTimeoutError::Timeout)
        );
        drop(gate_tx);
        put_rx.recv().unwrap();
    });
    assert_eq!(handle.stop().unwrap().outputs(), 4);
}

#[test]
fn put_iter_pulls_only_when_the_queue_has_room() {
    let pulls = Arc::new(AtomicUsize::new(0));
    let counter = pulls.clone();
    let (gate_tx, gate_rx) = bounded::<()>(0);
    let (started_tx, started_rx) = bounded(0);
    let mut pipeline = Pipeline::new()
        .map(move |n: u64| {
            if n == 0 {
                started_tx.send(()).unwrap();
                let _ = gate_rx.recv();
            }
            n
        })
        .queue(5);
    pipeline.put_iter((0u64..).inspect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    let handle = pipeline.spawn().unwrap();
    started_rx.recv().unwrap();
    // While the step holds item 0, the feeder can fill the queue (5) and
    // hold one more item: never more than 7 pulls, however long we look.
    let (mut most_pulled, mut most_queued) = (0, 0);
    for _ in 0..100 {
        most_pulled = most_pulled.max(pulls.load(Ordering::SeqCst));
        most_queued = most_queued.max(handle.stats()[0].queued);
        std::thread::yield_now();
    }
    // Opened before asserting: a failed assertion must not leave the step
    // at the gate and the endless source feeding a handle being dropped.
    drop(gate_tx);
    let report = handle.abort().unwrap();
    assert!(most_pulled <= 7, "{most_pulled} pulled");
    assert!(most_queued <= 5, "{most_queued} queued");
    // The abort stopped the feeder: what it pulled and the step did not
    // take was at most a full queue and the one item in its hand.
    let pulled = pulls.load(Ordering::SeqCst) as u64;
    assert!(
        pulled <= report.inputs() + 5 + 1,
        "{pulled} pulled, {} taken in",
        report.inputs()
    );
}

#[test]
fn put_iter_while_running_is_pulled_to_its_end_by_stop() {
    let handle = Pipeline::new().map(|n: u64| n).threads(3).spawn().unwrap();
    handle.put_iter(0..500).unwrap();
    handle.put_iter(500..1000).unwrap();
    handle.put(1000).unwrap();
    let report = handle.stop().unwrap();
    assert_eq!(report.inputs(), 1001);
}

#[test]
fn put_iter_and_put_before_the_start_make_one_input() {
    let mut pipeline = Pipeline::new().map(|n: u64| n);
    pipeline.put(7);
    pipeline.put_iter(std::iter::empty());
    pipeline.put_iter(0..10);
    let report = pipeline.run().unwrap(); // no finish: the iterator ends it
    assert_eq!(report.inputs(), 11);
}

mod put_receiver {
    use super::*;

    #[test]
    fn a_finished_pipeline_runs_until_the_channel_disconnects() {
        let (tx, rx) = bounded(3);
        let mut pipeline = Pipeline::new().map(|n: u64| n * 2).threads(2);
        pipeline.put_receiver(rx);
        pipeline.finish();
        let outputs = pipeline.outputs().unwrap();
        let producer = std::thread::spawn(move || {
            for n in 0..100 {
                tx.send(n).unwrap();
            }
        });
        let mut out: Vec<u64> = outputs.collect::<Result<_, _>>().unwrap();
        producer.join().unwrap();
        out.sort_unstable();
        assert_eq!(out, (0..100).map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn stop_ends_a_pipeline_whose_channel_is_still_open() {
        let (tx, rx) = bounded::<u64>(10);
        let mut pipeline = Pipeline::new().map(|n: u64| n);
        pipeline.put_receiver(rx);
        let handle = pipeline.spawn().unwrap();
        for n in 0..5 {
            tx.send(n).unwrap();
        }
        let report = handle.stop().unwrap();
        // What was sent before the stop was taken in; the sender is still
        // connected, and the pipeline no longer reads from it.
        assert_eq!(report.inputs(), 5);
        assert!(tx.send(5).is_err(), "the pipeline dropped its receiver");
    }

    #[test]
    fn stop_takes_in_everything_sent_before_it_on_a_closed_channel() {
        for _ in 0..20 {
            let (tx, rx) = bounded::<u64>(100);
            let mut pipeline = Pipeline::new().map(|n: u64| n).threads(2);
            pipeline.put_receiver(rx);
            let handle = pipeline.spawn().unwrap();
            for n in 0..100 {
                tx.send(n).unwrap();
            }
            drop(tx);
            assert_eq!(handle.stop().unwrap().inputs(), 100);
        }
    }

    #[test]
    fn abort_ends_a_pipeline_whose_channel_is_still_open() {
        let (tx, rx) = bounded::<u64>(1);
        let mut pipeline = Pipeline::new().map(|n: u64| n);
        pipeline.put_receiver(rx);
        let handle = pipeline.spawn().unwrap();
        tx.send(1).unwrap();
        let report = handle.abort().unwrap();
        // The channel is still open, yet the pipeline let go of it: a send
        // finds no receiver, and nothing more was taken in.
        assert_eq!(tx.send(2), Err(crossbeam_channel::SendError(2)));
        assert!(report.inputs() <= 1, "{} taken in", report.inputs());
    }

    #[test]
    fn several_channels_and_puts_feed_one_pipeline() {
        let (tx1, rx1) = bounded(1);
        let (tx2, rx2) = bounded(1);
        let mut pipeline = Pipeline::new().map(|n: u64| n);
        pipeline.put_receiver(rx1);
        pipeline.put_receiver(rx2);
        pipeline.finish();
        let outputs = pipeline.outputs().unwrap();
        let a = std::thread::spawn(move || (0..50).for_each(|n| tx1.send(n).unwrap()));
        let b = std::thread::spawn(move || (50..100).for_each(|n| tx2.send(n).unwrap()));
        let mut out: Vec<u64> = outputs.collect::<Result<_, _>>().unwrap();
        a.join().unwrap();
        b.join().unwrap();
        out.sort_unstable();
        assert_eq!(out, (0..100).collect::<Vec<_>>());
    }
}

#[test]
fn an_input_puts_from_another_thread_while_the_outputs_are_consumed() {
    let mut outputs = Pipeline::new()
        .map(|x: u64| x * 10)
        .threads(3)
        .outputs()
        .unwrap();
    let input = outputs.input().unwrap();
    let producer = std::thread::spawn(move || {
        for x in 0..1000 {
            input.put(x).unwrap();
        }
        input.finish();
    });
    let mut got: Vec<u64> = outputs.by_ref().map(Result::unwrap).collect();
    producer.join().unwrap();
    got.sort_unstable();
    assert_eq!(got, (0..1000).map(|x| x * 10).collect::<Vec<_>>());
    let report = outputs.report().unwrap();
    assert_eq!(report.steps()[0].output, 1000);
    assert!(outputs.input().is_none(), "no input once the outputs ended");
}

#[test]
fn an_input_does_not_keep_the_pipeline_open_and_fails_once_it_is_finished() {
    let handle = Pipeline::new().map(|x: u64| x + 1).spawn().unwrap();
    let input = handle.input();
    let other = input.clone();
    input.put_all([1, 2, 3]).unwrap();
    assert!(!other.is_finished());
    // `stop` finishes the input: the clones left behind do not hold it open.
    let report = handle.stop().unwrap();
    assert_eq!(report.steps()[0].input, 3);
    assert!(other.is_finished());
    assert_eq!(other.put(4).unwrap_err().into_inner(), 4);
}

#[test]
fn finishing_through_an_input_finishes_the_handle_too() {
    let handle = Pipeline::new().map(|x: u64| x).spawn().unwrap();
    let input = handle.input();
    handle.put(1).unwrap();
    input.finish();
    assert_eq!(handle.put(2).unwrap_err().into_inner(), 2);
    assert_eq!(input.put(3).unwrap_err().into_inner(), 3);
    let report = handle.stop().unwrap();
    assert_eq!(report.steps()[0].input, 1);
}

#[test]
fn an_input_blocked_on_a_full_queue_returns_its_item_when_the_pipeline_is_aborted() {
    let (gate_tx, gate_rx) = bounded::<()>(0);
    let handle = Pipeline::new()
        .map(move |x: u64| {
            let _ = gate_rx.recv();
            x
        })
        .queue(1)
        .spawn()
        .unwrap();
    // Moved here, after the handle, so it is dropped first if an assertion
    // fails: the step then goes on, and the handle's drop does not hang.
    let gate_tx = gate_tx;
    let input = handle.input();
    let (put_tx, put_rx) = bounded(1);
    let producer = std::thread::spawn(move || {
        let mut x = 0;
        loop {
            if let Err(e) = input.put(x) {
                put_tx.send(e.into_inner()).unwrap();
                return;
            }
            x += 1;
        }
    });
    // Wait until the step holds item 0 and the queue item 1: item 2 then
    // waits in `put`, and nothing but the abort can end that wait.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while {
        let step = &handle.stats()[0];
        (step.input, step.queued) != (1, 1)
    } {
        assert!(
            std::time::Instant::now() < deadline,
            "the queue never filled"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        put_rx.try_recv().is_err(),
        "put returned while the queue was full"
    );
    // The step is still stuck in user code, so only the abort can free the put.
    let aborted = std::thread::spawn(move || handle.abort());
    let given_back = put_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the blocked put never returned");
    assert_eq!(given_back, 2);
    drop(gate_tx);
    aborted.join().unwrap().unwrap();
    producer.join().unwrap();
}
