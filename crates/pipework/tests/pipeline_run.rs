//! Running a threaded pipeline: `run`, `spawn` + `stop`, the report's
//! counts, live stats, the outputs iterator, and the `Step` hooks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::bounded;
use pipework::pipeline::{
    BoxError, Emitter, Error, OnError, Pipeline, SkipEntry, Step, ThreadInfo,
};

#[derive(Debug, thiserror::Error)]
#[error("bad item {0}")]
struct Bad(u64);

#[test]
fn run_processes_every_item() {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let mut pipeline = Pipeline::new()
        .map(|n: u64| n + 1)
        .threads(4)
        .map(move |n| {
            counter.fetch_add(n as usize, Ordering::SeqCst);
        });
    pipeline.put_all(0..100);
    pipeline.finish();
    let report = pipeline.run().unwrap();
    assert_eq!(report.inputs(), 100);
    assert_eq!(report.outputs(), 100);
    assert_eq!(seen.load(Ordering::SeqCst), (1..=100).sum::<usize>());
}

#[test]
fn background_run_fed_from_another_thread() {
    let sum = Arc::new(AtomicUsize::new(0));
    let total = sum.clone();
    let handle = Pipeline::new()
        .map(|n: u64| n * 2)
        .threads(3)
        .map(move |n| {
            total.fetch_add(n as usize, Ordering::SeqCst);
        })
        .spawn()
        .unwrap();
    std::thread::scope(|s| {
        s.spawn(|| handle.put_all(0..500).unwrap());
        s.spawn(|| handle.put_all(500..1000).unwrap());
    });
    let report = handle.stop().unwrap();
    assert_eq!(report.inputs(), 1000);
    assert_eq!(report.outputs(), 1000);
    assert_eq!(sum.load(Ordering::SeqCst), 2 * (0..1000).sum::<usize>());
}

#[test]
fn handle_moved_to_another_thread_feeds_and_stops() {
    let handle = Pipeline::new().map(|n: u64| n).spawn().unwrap();
    let report = std::thread::spawn(move || {
        handle.put_all(0..10).unwrap();
        handle.stop()
    })
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(report.outputs(), 10);
}

#[test]
fn stop_returns_a_report_with_exact_counts() {
    // Per item n of 0..100:
    // - "double": n -> 2n;
    // - "skip_tens": skips multiples of 20 (n a multiple of 10): 10 skipped;
    // - "fan_out": emits 3 copies: 270 outputs;
    // - "flaky": fails every copy of 2n when n % 9 == 0 once (one retry
    //   succeeds), and always when n % 7 == 0 (skipped after 2 retries).
    let attempts = Arc::new(Mutex::new(
        std::collections::HashMap::<(u64, u64), u32>::new(),
    ));
    let log = attempts.clone();
    let mut pipeline = Pipeline::new()
        .map(|n: u64| 2 * n)
        .name("double")
        .threads(2)
        .filter_map(|n| (n % 20 != 0).then_some(n))
        .name("skip_tens")
        .flat_map(|n| (0..3).map(move |copy| (n, copy)))
        .name("fan_out")
        .threads(3)
        .try_map(move |(n, copy): (u64, u64)| {
            let half = n / 2;
            let mut log = log.lock().unwrap();
            let tries = log.entry((n, copy)).or_insert(0);
            *tries += 1;
            if half % 7 == 0 || (half % 9 == 0 && *tries == 1) {
                Err(Bad(half))
            } else {
                Ok(n)
            }
        })
        .name("flaky")
        .threads(4)
        .retries(2)
        .on_error(OnError::Skip);
    pipeline.put_all(0..100);
    let handle = pipeline.spawn().unwrap();
    let report = handle.stop().unwrap();

    let kept: Vec<u64> = (0..100).filter(|n| n % 10 != 0).collect();
    let sevens = kept.iter().filter(|n| *n % 7 == 0).count() as u64;
    let nines_only = kept.iter().filter(|n| *n % 9 == 0 && *n % 7 != 0).count() as u64;

    let step = |name| report.step(name).unwrap();
    assert_eq!((step("double").input, step("double").output), (100, 100));
    let skip = step("skip_tens");
    assert_eq!((skip.input, skip.output, skip.skipped), (100, 90, 10));
    let fan = step("fan_out");
    assert_eq!((fan.input, fan.output), (90, 270));
    let flaky = step("flaky");
    assert_eq!(flaky.input, 270);
    assert_eq!(flaky.failed, 3 * sevens);
    assert_eq!(flaky.retried, 3 * (2 * sevens + nines_only));
    assert_eq!(flaky.output, 270 - 3 * sevens);
    assert_eq!(flaky.skipped, 0);
    assert_eq!(report.outputs(), 270 - 3 * sevens);
    assert_eq!(report.failed(), 3 * sevens);
    for s in report.steps() {
        assert_eq!(s.threads_done, s.threads, "{}", s.name);
        assert_eq!(s.queued, 0, "{}", s.name);
    }
    assert_eq!(report.steps()[3].threads, 4);
    assert_eq!(
        report.steps()[3].capacity,
        pipework::pipeline::DEFAULT_QUEUE
    );
}

#[test]
fn report_displays_every_step() {
    let mut pipeline = Pipeline::new()
        .map(|n: u8| n)
        .name("first")
        .map(|n| n)
        .name("second");
    pipeline.put(1);
    pipeline.finish();
    let text = pipeline.run().unwrap().to_string();
    assert!(text.contains("first") && text.contains("second"), "{text}");
}

#[test]
fn stats_are_readable_while_running() {
    let (started_tx, started_rx) = bounded::<()>(0);
    let (gate_tx, gate_rx) = bounded::<()>(0);
    let handle = Pipeline::new()
        .map(move |n: u64| {
            if n == 0 {
                started_tx.send(()).unwrap();
                gate_rx.recv().unwrap();
            }
            n
        })
        .name("gated")
        .queue(5)
        .spawn()
        .unwrap();
    // Moved after the handle, so a failed assertion drops it (the step then
    // fails on its `unwrap`) before the handle's drop waits for the step.
    let gate_tx = gate_tx;
    handle.put(0).unwrap();
    started_rx.recv().unwrap();
    handle.put_all(1..4).unwrap();
    let stats = handle.stats();
    assert_eq!(stats.len(), 1);
    let gated = &stats[0];
    assert_eq!(gated.name, "gated");
    assert_eq!((gated.input, gated.output), (1, 0));
    assert_eq!((gated.queued, gated.capacity), (3, 5));
    assert_eq!(gated.threads_done, 0);
    assert!(handle.is_alive());
    gate_tx.send(()).unwrap();
    let report = handle.stop().unwrap();
    assert_eq!(report.outputs(), 4);
}

#[test]
fn outputs_iterator_yields_every_output_then_has_a_report() {
    let mut pipeline = Pipeline::new().map(|n: u64| n * n).threads(4);
    pipeline.put_iter(0..50);
    let mut outputs = pipeline.outputs().unwrap();
    let mut got: Vec<u64> = outputs.by_ref().collect::<Result<_, _>>().unwrap();
    got.sort_unstable();
    assert_eq!(got, (0..50).map(|n| n * n).collect::<Vec<_>>());
    assert!(outputs.handle().is_none());
    assert_eq!(outputs.report().unwrap().outputs(), 50);
    assert!(outputs.next().is_none());
}

#[test]
fn outputs_handle_puts_more_while_running() {
    let mut outputs = Pipeline::new()
        .map(|n: u64| n + 1)
        .ordered()
        .outputs()
        .unwrap();
    let handle = outputs.handle().unwrap();
    handle.put_all(0..3).unwrap();
    handle.finish();
    let got: Vec<u64> = outputs.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(got, [1, 2, 3]);
}

#[test]
fn for_loop_over_a_pipeline() {
    let mut pipeline = Pipeline::new().map(|n: u64| n * 2).threads(4).ordered();
    pipeline.put_iter(0..10);
    let mut out = Vec::new();
    for item in pipeline {
        out.push(item.unwrap());
    }
    assert_eq!(out, (0..10).map(|n| n * 2).collect::<Vec<_>>());
}

#[test]
fn for_loop_over_a_misconfigured_pipeline_yields_its_error_once() {
    let mut pipeline = Pipeline::new().map(|n: u64| n).threads(0);
    pipeline.put(1);
    pipeline.finish();
    let items: Vec<_> = pipeline.into_iter().collect();
    assert_eq!(items.len(), 1);
    assert!(matches!(items[0], Err(Error::InvalidConfig(_))));
}

#[test]
fn run_without_finish_is_input_open() {
    let mut pipeline = Pipeline::new().map(|n: u64| n);
    pipeline.put(1);
    assert!(matches!(pipeline.run(), Err(Error::InputOpen)));
}

#[test]
fn run_of_an_empty_unfinished_pipeline_is_input_open() {
    let pipeline = Pipeline::<u64>::new().map(|n| n);
    assert!(matches!(pipeline.run(), Err(Error::InputOpen)));
}

#[test]
fn run_with_an_external_channel_is_input_open() {
    let (_tx, rx) = bounded::<u64>(1);
    let mut pipeline = Pipeline::new().map(|n: u64| n);
    pipeline.put_receiver(rx);
    pipeline.finish();
    assert!(matches!(pipeline.run(), Err(Error::InputOpen)));
}

#[test]
fn run_of_a_finished_pipeline_with_no_items_reports_zero() {
    let mut pipeline = Pipeline::<u64>::new().map(|n| n).threads(3);
    pipeline.finish();
    let report = pipeline.run().unwrap();
    assert_eq!((report.inputs(), report.outputs()), (0, 0));
}

#[test]
fn zero_threads_is_invalid_config() {
    let mut pipeline = Pipeline::new().map(|n: u64| n).threads(0);
    pipeline.finish();
    let error = pipeline.run().unwrap_err();
    assert!(
        matches!(&error, Error::InvalidConfig(why) if why.contains("thread")),
        "{error}"
    );
    assert!(matches!(
        Pipeline::new().map(|n: u64| n).threads(0).spawn(),
        Err(Error::InvalidConfig(_))
    ));
}

#[test]
fn zero_chunk_size_is_invalid_config() {
    let mut pipeline = Pipeline::new().chunk(0);
    pipeline.put(1u64);
    pipeline.finish();
    let error = pipeline.run().unwrap_err();
    assert!(
        matches!(&error, Error::InvalidConfig(why) if why.contains("chunk")),
        "{error}"
    );
}

#[test]
fn a_pipeline_without_steps_is_invalid_config() {
    let mut pipeline = Pipeline::<u64>::new();
    pipeline.finish();
    assert!(matches!(pipeline.run(), Err(Error::InvalidConfig(_))));
}

#[test]
fn a_setting_before_any_step_is_invalid_config() {
    let mut pipeline = Pipeline::<u64>::new().name("nothing").map(|n| n);
    pipeline.finish();
    let error = pipeline.run().unwrap_err();
    assert!(
        matches!(&error, Error::InvalidConfig(why) if why.contains("name")),
        "{error}"
    );
}

#[test]
fn invalid_config_runs_no_hook() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut pipeline = Pipeline::new()
        .step(Recorder::new(calls.clone()))
        .threads(0);
    pipeline.finish();
    assert!(matches!(pipeline.run(), Err(Error::InvalidConfig(_))));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// Counts every hook call, for `invalid_config_runs_no_hook`.
struct Recorder(Arc<AtomicUsize>);

impl Recorder {
    fn new(calls: Arc<AtomicUsize>) -> Self {
        Recorder(calls)
    }
}

impl Step for Recorder {
    type In = u64;
    type Out = u64;
    type State = ();

    fn setup(&self) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn thread_init(&self, _: &ThreadInfo) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn process(&self, _: &mut (), item: u64, out: &mut Emitter<'_, u64>) -> Result<(), BoxError> {
        out.emit(item)?;
        Ok(())
    }
}

mod hooks {
    //! The `Step` trait's hooks run in order, with the documented counts.

    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Event {
        Setup,
        ThreadInit(usize),
        Process(usize, u64),
        ThreadShutdown(usize, usize),
        Teardown,
    }

    /// Sums its items per thread and emits each thread's sum and item count
    /// from `thread_shutdown`; records every hook call.
    struct Summer {
        events: Arc<Mutex<Vec<Event>>>,
        /// Storage shared by the step's threads.
        items: Arc<AtomicUsize>,
    }

    struct ThreadSum {
        index: usize,
        sum: u64,
        count: usize,
    }

    impl Summer {
        fn record(&self, e: Event) {
            self.events.lock().unwrap().push(e);
        }
    }

    impl Step for Summer {
        type In = u64;
        type Out = (u64, usize);
        type State = ThreadSum;

        fn setup(&self) -> Result<(), BoxError> {
            self.record(Event::Setup);
            Ok(())
        }

        fn thread_init(&self, thread: &ThreadInfo) -> Result<ThreadSum, BoxError> {
            assert_eq!(thread.step(), "summer");
            assert_eq!(thread.threads(), 4);
            self.record(Event::ThreadInit(thread.index()));
            Ok(ThreadSum {
                index: thread.index(),
                sum: 0,
                count: 0,
            })
        }

        fn process(
            &self,
            state: &mut ThreadSum,
            item: u64,
            _: &mut Emitter<'_, (u64, usize)>,
        ) -> Result<(), BoxError> {
            self.items.fetch_add(1, Ordering::SeqCst);
            self.record(Event::Process(state.index, item));
            state.sum += item;
            state.count += 1;
            Ok(())
        }

        fn thread_shutdown(
            &self,
            state: ThreadSum,
            out: &mut Emitter<'_, (u64, usize)>,
        ) -> Result<(), BoxError> {
            self.record(Event::ThreadShutdown(state.index, state.count));
            out.emit((state.sum, state.count))?;
            Ok(())
        }

        fn teardown(&self) -> Result<(), BoxError> {
            self.record(Event::Teardown);
            Ok(())
        }
    }

    #[test]
    fn hooks_run_in_order_with_their_counts() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let items = Arc::new(AtomicUsize::new(0));
        let summer = Summer {
            events: events.clone(),
            items: items.clone(),
        };
        let mut pipeline = Pipeline::new().step(summer).name("summer").threads(4);
        pipeline.put_iter(1..=100);
        let outputs: Vec<(u64, usize)> = pipeline.into_iter().collect::<Result<_, _>>().unwrap();

        // thread_shutdown emitted one (sum, count) per thread.
        assert_eq!(outputs.len(), 4);
        assert_eq!(outputs.iter().map(|o| o.0).sum::<u64>(), 5050);
        assert_eq!(outputs.iter().map(|o| o.1).sum::<usize>(), 100);
        assert_eq!(items.load(Ordering::SeqCst), 100);

        let events = events.lock().unwrap().clone();
        assert_eq!(events.first(), Some(&Event::Setup));
        assert_eq!(events.last(), Some(&Event::Teardown));
        let count = |f: &dyn Fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
        assert_eq!(count(&|e| *e == Event::Setup), 1);
        assert_eq!(count(&|e| *e == Event::Teardown), 1);
        assert_eq!(count(&|e| matches!(e, Event::Process(..))), 100);
        for index in 0..4 {
            let pos = |f: &dyn Fn(&Event) -> bool| events.iter().position(f);
            let init = pos(&|e| *e == Event::ThreadInit(index)).unwrap();
            let shutdown =
                pos(&|e| matches!(e, Event::ThreadShutdown(i, _) if *i == index)).unwrap();
            assert_eq!(count(&|e| *e == Event::ThreadInit(index)), 1);
            assert_eq!(
                count(&|e| matches!(e, Event::ThreadShutdown(i, _) if *i == index)),
                1
            );
            // Every item of this thread came between its init and shutdown.
            let processed: Vec<usize> = events
                .iter()
                .enumerate()
                .filter(|(_, e)| matches!(e, Event::Process(i, _) if *i == index))
                .map(|(p, _)| p)
                .collect();
            assert!(processed.iter().all(|&p| init < p && p < shutdown));
            let Event::ThreadShutdown(_, n) = events[shutdown] else {
                unreachable!()
            };
            assert_eq!(n, processed.len());
        }
    }

    #[test]
    fn skip_entry_from_a_step_counts_as_skipped_not_failed() {
        struct Evens;
        impl Step for Evens {
            type In = u64;
            type Out = u64;
            type State = ();
            fn thread_init(&self, _: &ThreadInfo) -> Result<(), BoxError> {
                Ok(())
            }
            fn process(
                &self,
                _: &mut (),
                n: u64,
                out: &mut Emitter<'_, u64>,
            ) -> Result<(), BoxError> {
                if n % 2 == 1 {
                    return Err(SkipEntry.into());
                }
                out.emit(n)?;
                Ok(())
            }
        }
        let mut pipeline = Pipeline::new().step(Evens).retries(3);
        pipeline.put_all(0..10);
        pipeline.finish();
        let report = pipeline.run().unwrap();
        let s = &report.steps()[0];
        assert_eq!(
            (s.input, s.output, s.skipped, s.failed, s.retried),
            (10, 5, 5, 0, 0)
        );
    }
}

#[cfg(feature = "progress")]
#[test]
fn a_pipeline_with_a_progress_bar_runs_and_reports() {
    let mut pipeline = Pipeline::new()
        .map(|n: u64| n + 1)
        .name("inc")
        .threads(2)
        .progress();
    pipeline.put_iter(0..1000);
    let report = pipeline.run().unwrap();
    assert_eq!(report.outputs(), 1000);
    assert_eq!(report.step("inc").unwrap().input, 1000);
}
