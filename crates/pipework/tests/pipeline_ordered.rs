//! Ordered mode: outputs come out in input order through multi-threaded
//! steps, whatever order the threads finish in (random per-item delays
//! shuffle completion; they are never used to order anything).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use pipework::pipeline::{BoxError, Emitter, OnError, Pipeline, Step, ThreadInfo};
use rand::Rng;

/// Sleeps 0..max_us microseconds: threads finish items out of order.
fn jitter(max_us: u64) {
    let us = rand::rng().random_range(0..max_us);
    std::thread::sleep(Duration::from_micros(us));
}

#[derive(Debug, thiserror::Error)]
#[error("flaky on {0}")]
struct Flaky(u64);

#[test]
fn eight_threads_with_random_delays_keep_input_order() {
    let mut pipeline = Pipeline::new()
        .map(|n: u64| {
            jitter(500);
            n * 3
        })
        .threads(8)
        .ordered();
    pipeline.put_iter(0..400);
    let out: Vec<u64> = pipeline.into_iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(out, (0..400).map(|n| n * 3).collect::<Vec<_>>());
}

#[test]
fn several_multi_threaded_steps_keep_input_order() {
    let mut pipeline = Pipeline::new()
        .map(|n: u64| {
            jitter(300);
            n
        })
        .threads(8)
        .queue(3)
        .filter_map(|n| {
            jitter(300);
            (n % 3 != 0).then_some(n)
        })
        .threads(5)
        .queue(0)
        .map(|n| {
            jitter(300);
            n + 1
        })
        .threads(8)
        .ordered();
    pipeline.put_iter(0..300);
    let out: Vec<u64> = pipeline.into_iter().collect::<Result<_, _>>().unwrap();
    let expected: Vec<u64> = (0..300).filter(|n| n % 3 != 0).map(|n| n + 1).collect();
    assert_eq!(out, expected);
}

#[test]
fn a_fan_out_step_keeps_input_order() {
    // Each n emits n % 4 copies (0..3 outputs), then chunk + flatten.
    let mut pipeline = Pipeline::new()
        .flat_map(|n: u64| {
            jitter(400);
            (0..n % 4).map(move |k| (n, k))
        })
        .threads(8)
        .chunk(5)
        .flatten()
        .map(|x| {
            jitter(100);
            x
        })
        .threads(4)
        .ordered();
    pipeline.put_iter(0..300);
    let out: Vec<(u64, u64)> = pipeline.into_iter().collect::<Result<_, _>>().unwrap();
    let expected: Vec<(u64, u64)> = (0..300)
        .flat_map(|n| (0..n % 4).map(move |k| (n, k)))
        .collect();
    assert_eq!(out, expected);
}

#[test]
fn chunks_of_a_single_threaded_ordered_step_are_contiguous() {
    let mut pipeline = Pipeline::new()
        .map(|n: u64| {
            jitter(200);
            n
        })
        .threads(8)
        .chunk(3)
        .ordered();
    pipeline.put_iter(0..11);
    let out: Vec<Vec<u64>> = pipeline.into_iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(
        out,
        [vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8], vec![9, 10]]
    );
}

#[test]
fn retries_keep_input_order() {
    let attempts = Mutex::new(HashMap::<u64, u32>::new());
    let mut pipeline = Pipeline::new()
        .try_map(move |n: u64| {
            jitter(300);
            let mut attempts = attempts.lock().unwrap();
            let a = attempts.entry(n).or_insert(0);
            *a += 1;
            // Every 5th item fails twice, every 7th once.
            let fails = if n.is_multiple_of(5) {
                2
            } else {
                u32::from(n.is_multiple_of(7))
            };
            if *a <= fails {
                Err(Flaky(n))
            } else {
                Ok(n)
            }
        })
        .threads(8)
        .retries(2)
        .ordered();
    pipeline.put_iter(0..200);
    let mut outputs = pipeline.outputs().unwrap();
    let out: Vec<u64> = outputs.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(out, (0..200).collect::<Vec<_>>());
    let s = &outputs.report().unwrap().steps()[0];
    let retried = (0..200u64)
        .map(|n| if n % 5 == 0 { 2 } else { u64::from(n % 7 == 0) })
        .sum::<u64>();
    assert_eq!((s.output, s.retried, s.failed), (200, retried, 0));
}

/// Emits two outputs per item, then fails the first attempt: in ordered
/// mode the outputs of a failed attempt are forgotten, so a retried item
/// still gives exactly two outputs.
struct EmitsThenFails {
    attempts: Mutex<HashMap<u64, u32>>,
}

impl Step for EmitsThenFails {
    type In = u64;
    type Out = (u64, u32);
    type State = ();

    fn thread_init(&self, _: &ThreadInfo) -> Result<(), BoxError> {
        Ok(())
    }

    fn process(
        &self,
        _: &mut (),
        n: u64,
        out: &mut Emitter<'_, (u64, u32)>,
    ) -> Result<(), BoxError> {
        jitter(200);
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let a = attempts.entry(n).or_insert(0);
            *a += 1;
            *a
        };
        out.emit((n, 0))?;
        out.emit((n, 1))?;
        if attempt == 1 && n.is_multiple_of(2) {
            return Err(Flaky(n).into());
        }
        Ok(())
    }
}

#[test]
fn a_retried_item_emits_only_its_last_attempts_outputs() {
    let mut pipeline = Pipeline::new()
        .step(EmitsThenFails {
            attempts: Mutex::new(HashMap::new()),
        })
        .threads(6)
        .retries(1)
        .ordered();
    pipeline.put_iter(0..100);
    let mut outputs = pipeline.outputs().unwrap();
    let out: Vec<(u64, u32)> = outputs.by_ref().collect::<Result<_, _>>().unwrap();
    let expected: Vec<(u64, u32)> = (0..100).flat_map(|n| [(n, 0), (n, 1)]).collect();
    assert_eq!(out, expected);
    let s = &outputs.report().unwrap().steps()[0];
    assert_eq!((s.input, s.output, s.retried), (100, 200, 50));
}

#[test]
fn skipped_failures_leave_the_rest_in_order() {
    let mut pipeline = Pipeline::new()
        .try_map(|n: u64| {
            jitter(300);
            if n.is_multiple_of(6) {
                Err(Flaky(n))
            } else {
                Ok(n)
            }
        })
        .threads(8)
        .on_error(OnError::Skip)
        .ordered();
    pipeline.put_iter(0..200);
    let out: Vec<u64> = pipeline.into_iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(out, (0..200).filter(|n| n % 6 != 0).collect::<Vec<_>>());
}

#[test]
fn items_sent_on_a_channel_while_running_come_out_in_send_order() {
    let (tx, rx) = crossbeam_channel::bounded(4);
    let mut pipeline = Pipeline::new()
        .map(|n: u64| {
            jitter(300);
            n
        })
        .threads(8)
        .queue(2)
        .ordered();
    pipeline.put_receiver(rx);
    pipeline.finish(); // the channel is the input: it ends when it disconnects
    let outputs = pipeline.outputs().unwrap();
    let producer = std::thread::spawn(move || {
        for n in 0..100 {
            tx.send(n).unwrap();
        }
    });
    let out: Vec<u64> = outputs.collect::<Result<_, _>>().unwrap();
    producer.join().unwrap();
    assert_eq!(out, (0..100).collect::<Vec<_>>());
}

#[test]
fn items_put_through_the_outputs_handle_come_out_in_put_order() {
    let mut outputs = Pipeline::new()
        .map(|n: u64| {
            jitter(300);
            n
        })
        .threads(8)
        .ordered()
        .outputs()
        .unwrap();
    let handle = outputs.handle().unwrap();
    handle.put_all(0..50).unwrap(); // fits the queues: nothing consumed yet
    handle.finish();
    let out: Vec<u64> = outputs.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(out, (0..50).collect::<Vec<_>>());
}

#[test]
fn sources_given_before_the_start_are_pulled_in_order() {
    let mut pipeline = Pipeline::new()
        .map(|n: u64| {
            jitter(200);
            n
        })
        .threads(4)
        .ordered();
    pipeline.put(0);
    pipeline.put_iter(1..5);
    pipeline.put_all([5, 6]);
    pipeline.put_iter(vec![7, 8]);
    let out: Vec<u64> = pipeline.into_iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(out, (0..9).collect::<Vec<_>>());
}

#[test]
fn thread_shutdown_outputs_come_after_every_item_in_ordered_mode() {
    // Per-thread chunks: each thread's last, partial chunk is emitted by
    // `thread_shutdown`, after all full chunks (released in input order).
    let mut pipeline = Pipeline::new()
        .map(|n: u64| {
            jitter(200);
            n
        })
        .threads(4)
        .chunk(4)
        .threads(3)
        .ordered();
    pipeline.put_iter(0..50);
    let out: Vec<Vec<u64>> = pipeline.into_iter().collect::<Result<_, _>>().unwrap();
    let mut all: Vec<u64> = out.iter().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..50).collect::<Vec<_>>());
    let first_partial = out.iter().position(|c| c.len() < 4).unwrap_or(out.len());
    assert!(
        out[first_partial..].iter().all(|c| c.len() < 4),
        "a full chunk came after a partial one: {out:?}"
    );
    assert!(
        out.len() - first_partial <= 3,
        "one tail per thread at most"
    );
}

/// While the oldest item of an ordered step is held, the other threads run
/// ahead by the documented window of `queue + threads` items and no
/// further: `window - 1` finished items wait for the held one, and each
/// other thread holds one more it could not hand over. The next item does
/// not start until the held one is done.
#[test]
fn a_held_item_lets_exactly_the_window_run_ahead() {
    /// Only a hang takes this long.
    const PROMPTLY: Duration = Duration::from_secs(10);
    for (threads, queue) in [(2usize, 0usize), (3, 2), (4, 1)] {
        let window = queue + threads;
        let ahead = (window - 1 + threads - 1) as u64;
        let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(0);
        let (started_tx, started_rx) = crossbeam_channel::unbounded::<u64>();
        let mut pipeline = Pipeline::new()
            .map(move |n: u64| {
                if n == 0 {
                    // Held until the test lets it go.
                    let _ = release_rx.recv();
                } else {
                    // The test outlives the run: this receiver is there.
                    let _ = started_tx.send(n);
                }
                n
            })
            .threads(threads)
            .queue(queue)
            .ordered();
        pipeline.put_iter(0u64..100);
        let outputs = pipeline.outputs().unwrap();
        let ran_ahead: Result<Vec<u64>, _> = (0..ahead)
            .map(|_| started_rx.recv_timeout(PROMPTLY))
            .collect();
        // Nothing else starts while item 0 is held, however long we look
        // (a late scheduler only makes this pass).
        let one_more = started_rx.recv_timeout(Duration::from_millis(300));
        // Released before any assertion, so a failing one cannot hang.
        drop(release_tx);
        let out: Vec<u64> = outputs.collect::<Result<_, _>>().unwrap();
        let mut ran_ahead = ran_ahead.unwrap_or_else(|e| {
            panic!("{threads} threads, queue {queue}: fewer than {ahead} items ran ahead: {e}")
        });
        ran_ahead.sort_unstable();
        assert_eq!(ran_ahead, (1..=ahead).collect::<Vec<_>>());
        assert_eq!(
            one_more.ok(),
            None,
            "{threads} threads, queue {queue}: an item past the window started"
        );
        assert_eq!(out, (0..100).collect::<Vec<_>>());
    }
}
