//! Failures in a threaded pipeline: step errors and panics, hook failures,
//! panicking sources, retries and the stop/skip policies, and what `put`,
//! `is_alive` and the outputs iterator do once a run has failed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;
use pipework::pipeline::{BoxError, Emitter, Error, OnError, Pipeline, Step, ThreadInfo};

/// Generous: only a hang (or a drained endless source) takes this long.
const PROMPTLY: Duration = Duration::from_secs(5);

/// An endless source, as far as a run that stops on its failure can tell:
/// it ends only after four times [`PROMPTLY`], so a run that never stops
/// fails its test then instead of hanging it.
fn endless() -> impl Iterator<Item = u64> + Send + 'static {
    let started = Instant::now();
    (0u64..).take_while(move |_| started.elapsed() < 4 * PROMPTLY)
}

#[derive(Debug, thiserror::Error)]
#[error("bad item {0}")]
struct Bad(u64);

#[test]
fn is_alive_turns_false_after_a_step_fails() {
    let handle = Pipeline::new()
        .try_map(|n: u64| if n == 3 { Err(Bad(n)) } else { Ok(n) })
        .name("picky")
        .queue(0)
        .spawn()
        .unwrap();
    handle.put_all(0..3).unwrap();
    assert!(handle.is_alive());
    handle.put(3).unwrap(); // a rendezvous: the step has taken it
                            // The step never takes another item, so this put waits until the
                            // failure stops the run, then gives the item back.
    assert_eq!(handle.put(4).unwrap_err().into_inner(), 4);
    assert!(!handle.is_alive());
    let error = handle.stop().unwrap_err();
    assert_eq!(error.step(), Some("picky"));
}

#[test]
fn a_step_error_names_the_step_and_keeps_its_source() {
    let mut pipeline = Pipeline::new()
        .map(|n: u64| n)
        .name("first")
        .try_map(|n: u64| if n == 5 { Err(Bad(n)) } else { Ok(n) })
        .name("checker");
    pipeline.put_all(0..10);
    pipeline.finish();
    let error = pipeline.run().unwrap_err();
    assert_eq!(error.to_string(), "step 'checker' failed: bad item 5");
    assert_eq!(error.step(), Some("checker"));
    assert!(!error.is_panic());
    let source = std::error::Error::source(&error).unwrap();
    assert_eq!(source.downcast_ref::<Bad>().unwrap().0, 5);
}

#[test]
fn a_failing_step_stops_pulling_an_endless_source() {
    let pulls = Arc::new(AtomicUsize::new(0));
    let counter = pulls.clone();
    let checks = Arc::new(AtomicUsize::new(0));
    let checked = checks.clone();
    let mut pipeline = Pipeline::new()
        .map(|n: u64| n)
        .threads(4)
        .queue(10)
        .try_map(move |n: u64| {
            checked.fetch_add(1, Ordering::SeqCst);
            if n == 300 {
                Err(Bad(n))
            } else {
                Ok(n)
            }
        })
        .queue(10);
    pipeline.put_iter(endless().inspect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    let started = Instant::now();
    let error = pipeline.run().unwrap_err();
    assert!(started.elapsed() < PROMPTLY);
    assert!(
        matches!(&error, Error::StepFailed { source, .. } if source.to_string() == "bad item 300"),
        "{error}"
    );
    // Every item pulled was checked, or was in flight when the check failed:
    // at most two full queues, one item per thread of the first step and one
    // in the feeder's hand. (Counting from 301 would be wrong: with four
    // threads before it, the checker may see 300 early or late.)
    let (pulled, checked) = (pulls.load(Ordering::SeqCst), checks.load(Ordering::SeqCst));
    assert!(
        pulled <= checked + 10 + 4 + 10 + 1,
        "{pulled} pulled, {checked} checked"
    );
}

mod panics {
    use super::*;

    #[test]
    fn a_panic_in_a_step_is_step_panicked_naming_the_step() {
        let mut pipeline = Pipeline::new()
            .map(|n: u64| n)
            .threads(2)
            .map(|n: u64| {
                assert!(n != 77, "cannot take {n}");
                n
            })
            .name("fragile")
            .threads(8)
            .map(|n| n)
            .threads(2);
        pipeline.put_iter(endless());
        let started = Instant::now();
        let error = pipeline.run().unwrap_err();
        assert!(started.elapsed() < PROMPTLY);
        match &error {
            Error::StepPanicked { step, message } => {
                assert_eq!(step, "fragile");
                assert_eq!(message, "cannot take 77");
            }
            other => panic!("{other:?}"),
        }
        assert!(error.is_panic());
        assert_eq!(error.to_string(), "step 'fragile' panicked: cannot take 77");
    }

    #[test]
    fn a_panic_with_a_non_string_payload_is_reported() {
        let mut pipeline = Pipeline::new().map(|n: u64| {
            if n == 1 {
                std::panic::panic_any(42_u32);
            }
            n
        });
        pipeline.put_all(0..3);
        pipeline.finish();
        match pipeline.run() {
            Err(Error::StepPanicked { message, .. }) => assert!(!message.is_empty()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outputs_end_with_the_panic_after_the_items_before_it() {
        let mut pipeline = Pipeline::new()
            .map(|n: u64| {
                assert!(n < 5, "too big");
                n
            })
            .name("small")
            .ordered();
        pipeline.put_iter(endless());
        let items: Vec<_> = pipeline.into_iter().collect();
        let (last, firsts) = items.split_last().unwrap();
        let firsts: Vec<u64> = firsts.iter().map(|i| *i.as_ref().unwrap()).collect();
        assert_eq!(firsts, [0, 1, 2, 3, 4]);
        assert!(matches!(last, Err(Error::StepPanicked { step, .. }) if step == "small"));
    }

    #[test]
    fn a_panic_in_a_put_iter_iterator_is_source_panicked() {
        let mut pipeline = Pipeline::new().map(|n: u64| n).threads(2);
        pipeline.put_iter(endless().inspect(|&n| {
            assert!(n != 50, "source broke at {n}");
        }));
        match pipeline.run() {
            Err(error @ Error::SourcePanicked { .. }) => {
                assert!(error.is_panic());
                assert_eq!(error.step(), None);
                assert!(error.to_string().contains("source broke at 50"), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_panic_in_an_iterator_put_while_running_is_source_panicked() {
        let handle = Pipeline::new().map(|n: u64| n).spawn().unwrap();
        handle
            .put_iter((0u64..10).inspect(|&n| {
                assert!(n != 5, "late source broke");
            }))
            .unwrap();
        let error = handle.stop().unwrap_err();
        assert!(
            matches!(&error, Error::SourcePanicked { message } if message == "late source broke")
        );
    }

    #[test]
    fn panics_are_retried_like_errors() {
        let tries = Arc::new(AtomicUsize::new(0));
        let count = tries.clone();
        let mut pipeline = Pipeline::new()
            .map(move |n: u64| {
                assert!(count.fetch_add(1, Ordering::SeqCst) >= 2, "not yet");
                n
            })
            .retries(2);
        pipeline.put(9);
        pipeline.finish();
        let report = pipeline.run().unwrap();
        let s = &report.steps()[0];
        assert_eq!((s.input, s.output, s.retried, s.failed), (1, 1, 2, 0));
    }

    /// Runs `f` on its own thread; panics if it takes more than
    /// [`PROMPTLY`] (a hang), instead of hanging the test.
    fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = bounded(1);
        std::thread::spawn(move || tx.send(f()));
        rx.recv_timeout(PROMPTLY).expect("the pipeline hung")
    }

    /// An item whose `Clone` panics on 5.
    #[derive(Debug)]
    struct NoCloneFor5(u64);

    impl Clone for NoCloneFor5 {
        fn clone(&self) -> Self {
            assert!(self.0 != 5, "cannot clone 5");
            NoCloneFor5(self.0)
        }
    }

    #[test]
    fn a_panic_cloning_an_item_for_a_retry_is_step_panicked_not_a_hang() {
        for ordered in [false, true] {
            let result = within(move || {
                let mut pipeline = Pipeline::new()
                    .map(|item: NoCloneFor5| item.0)
                    .name("cloned")
                    .threads(2)
                    .retries(1)
                    .map(|n| n);
                if ordered {
                    pipeline = pipeline.ordered();
                }
                pipeline.put_iter((0..1000).map(NoCloneFor5));
                pipeline.run()
            });
            match result {
                Err(Error::StepPanicked { step, message }) => {
                    assert_eq!(step, "cloned");
                    assert_eq!(message, "cannot clone 5");
                }
                other => panic!("ordered {ordered}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_panic_cloning_an_item_under_skip_fails_only_that_item() {
        let mut pipeline = Pipeline::new()
            .map(|item: NoCloneFor5| item.0)
            .retries(1)
            .on_error(OnError::Skip);
        pipeline.put_iter((0..10).map(NoCloneFor5));
        let report = within(move || pipeline.run()).unwrap();
        assert_eq!((report.outputs(), report.failed()), (9, 1));
    }

    /// An item whose `Drop` panics on 5.
    #[derive(Debug, Clone)]
    struct NoDropFor5(u64);

    impl Drop for NoDropFor5 {
        fn drop(&mut self) {
            if self.0 == 5 && !std::thread::panicking() {
                panic!("cannot drop 5");
            }
        }
    }

    #[test]
    fn a_panic_dropping_an_item_outside_the_step_is_step_panicked_not_a_hang() {
        // The step forgets its item, so the only drop of 5 is pipework's
        // drop of the unused retry copy, outside the step's own code.
        let result = within(|| {
            let mut pipeline = Pipeline::new()
                .map(|item: NoDropFor5| {
                    let n = item.0;
                    std::mem::forget(item);
                    n
                })
                .name("forgetful")
                .retries(1);
            pipeline.put_iter((0..1000).map(NoDropFor5));
            pipeline.run()
        });
        match result {
            Err(Error::StepPanicked { step, message }) => {
                assert_eq!(step, "forgetful");
                assert_eq!(message, "cannot drop 5");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn panics_are_skipped_under_skip() {
        let mut pipeline = Pipeline::new()
            .map(|n: u64| {
                assert!(!n.is_multiple_of(4), "multiple of 4");
                n
            })
            .threads(3)
            .on_error(OnError::Skip);
        pipeline.put_all(0..40);
        pipeline.finish();
        let report = pipeline.run().unwrap();
        assert_eq!((report.outputs(), report.failed()), (30, 10));
    }
}

mod hooks {
    //! A lifecycle hook that fails or panics is `Error::HookFailed`.

    use super::*;

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Hook {
        Setup,
        ThreadInit,
        ThreadShutdown,
        Teardown,
    }

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum How {
        Error,
        Panic,
    }

    /// Fails in `hook` (on thread 1 for per-thread hooks); records which
    /// hooks ran.
    struct FailsIn {
        hook: Option<(Hook, How)>,
        ran: Arc<Mutex<Vec<Hook>>>,
    }

    impl FailsIn {
        fn at(&self, hook: Hook, thread: Option<usize>) -> Result<(), BoxError> {
            self.ran.lock().unwrap().push(hook);
            match self.hook {
                Some((h, how)) if h == hook && thread.is_none_or(|t| t == 1) => match how {
                    How::Error => Err(format!("{hook:?} refused").into()),
                    How::Panic => panic!("{hook:?} exploded"),
                },
                _ => Ok(()),
            }
        }
    }

    impl Step for FailsIn {
        type In = u64;
        type Out = u64;
        type State = usize;

        fn setup(&self) -> Result<(), BoxError> {
            self.at(Hook::Setup, None)
        }

        fn thread_init(&self, thread: &ThreadInfo) -> Result<usize, BoxError> {
            self.at(Hook::ThreadInit, Some(thread.index()))?;
            Ok(thread.index())
        }

        fn process(
            &self,
            _: &mut usize,
            n: u64,
            out: &mut Emitter<'_, u64>,
        ) -> Result<(), BoxError> {
            out.emit(n)?;
            Ok(())
        }

        fn thread_shutdown(&self, index: usize, _: &mut Emitter<'_, u64>) -> Result<(), BoxError> {
            self.at(Hook::ThreadShutdown, Some(index))
        }

        fn teardown(&self) -> Result<(), BoxError> {
            self.at(Hook::Teardown, None)
        }
    }

    fn run_failing(hook: Hook, how: How) -> (Result<pipework::pipeline::Report, Error>, Vec<Hook>) {
        let ran = Arc::new(Mutex::new(Vec::new()));
        let mut pipeline = Pipeline::new()
            .map(|n: u64| n)
            .step(FailsIn {
                hook: Some((hook, how)),
                ran: ran.clone(),
            })
            .name("hooked")
            .threads(3);
        pipeline.put_iter(0..100);
        let result = pipeline.run();
        let ran = ran.lock().unwrap().clone();
        (result, ran)
    }

    #[track_caller]
    fn assert_hook_failed(
        result: &Result<pipework::pipeline::Report, Error>,
        hook: &str,
        how: How,
    ) {
        match result {
            Err(Error::HookFailed {
                step,
                hook: failed,
                source,
            }) => {
                assert_eq!(step, "hooked");
                assert_eq!(*failed, hook);
                let word = if how == How::Panic {
                    "exploded"
                } else {
                    "refused"
                };
                assert!(source.to_string().contains(word), "{source}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn setup_failing_stops_the_start() {
        for how in [How::Error, How::Panic] {
            let (result, ran) = run_failing(Hook::Setup, how);
            assert_hook_failed(&result, "setup", how);
            assert_eq!(ran, [Hook::Setup], "no other hook runs");
        }
    }

    #[test]
    fn setup_failing_tears_down_the_steps_set_up_before() {
        let ran = Arc::new(Mutex::new(Vec::new()));
        let pipeline = Pipeline::new()
            .step(FailsIn {
                hook: None,
                ran: ran.clone(),
            })
            .name("fine")
            .step(FailsIn {
                hook: Some((Hook::Setup, How::Error)),
                ran: ran.clone(),
            })
            .name("broken");
        let error = pipeline.spawn().unwrap_err();
        assert_eq!(error.step(), Some("broken"));
        assert_eq!(
            *ran.lock().unwrap(),
            [Hook::Setup, Hook::Setup, Hook::Teardown]
        );
    }

    #[test]
    fn thread_init_failing_is_hook_failed() {
        for how in [How::Error, How::Panic] {
            let (result, _) = run_failing(Hook::ThreadInit, how);
            assert_hook_failed(&result, "thread_init", how);
        }
    }

    #[test]
    fn thread_init_failing_with_an_endless_source_does_not_hang() {
        let mut pipeline = Pipeline::new()
            .step(FailsIn {
                hook: Some((Hook::ThreadInit, How::Panic)),
                ran: Arc::default(),
            })
            .name("hooked")
            .threads(2);
        pipeline.put_iter(endless());
        let started = Instant::now();
        assert_hook_failed(&pipeline.run(), "thread_init", How::Panic);
        assert!(started.elapsed() < PROMPTLY);
    }

    #[test]
    fn thread_shutdown_failing_is_hook_failed() {
        for how in [How::Error, How::Panic] {
            let (result, _) = run_failing(Hook::ThreadShutdown, how);
            assert_hook_failed(&result, "thread_shutdown", how);
        }
    }

    #[test]
    fn teardown_failing_is_hook_failed_after_every_item() {
        for how in [How::Error, How::Panic] {
            let (result, ran) = run_failing(Hook::Teardown, how);
            assert_hook_failed(&result, "teardown", how);
            assert_eq!(ran.last(), Some(&Hook::Teardown));
            assert_eq!(
                ran.iter().filter(|h| **h == Hook::ThreadShutdown).count(),
                3
            );
        }
    }

    #[test]
    fn the_first_failure_is_reported_when_another_step_fails_after_it() {
        // "checker" fails on item 5; "hooked" fails later, in its teardown,
        // which always runs after its threads have stopped, so after the
        // first failure. The run reports the first, upstream or downstream.
        let checker = |n: u64| if n == 5 { Err(Bad(n)) } else { Ok(n) };
        let hooked = || FailsIn {
            hook: Some((Hook::Teardown, How::Error)),
            ran: Arc::default(),
        };
        let downstream = Pipeline::new()
            .try_map(checker)
            .name("checker")
            .step(hooked())
            .name("hooked");
        let upstream = Pipeline::new()
            .step(hooked())
            .name("hooked")
            .threads(2)
            .try_map(checker)
            .name("checker");
        for mut pipeline in [downstream, upstream] {
            pipeline.put_iter(0..100);
            let error = pipeline.run().unwrap_err();
            assert_eq!(error.to_string(), "step 'checker' failed: bad item 5");
        }
    }
}

mod retries_and_policies {
    use super::*;

    /// Fails each item's first `fails` attempts.
    fn flaky(fails: usize) -> impl Fn(u64) -> Result<u64, Bad> + Send + Sync + 'static {
        let attempts = Mutex::new(std::collections::HashMap::<u64, usize>::new());
        move |n| {
            let mut attempts = attempts.lock().unwrap();
            let a = attempts.entry(n).or_insert(0);
            *a += 1;
            if *a <= fails {
                Err(Bad(n))
            } else {
                Ok(n)
            }
        }
    }

    #[test]
    fn an_item_succeeding_within_its_retries_passes() {
        let mut pipeline = Pipeline::new().try_map(flaky(2)).threads(2).retries(2);
        pipeline.put_all(0..10);
        pipeline.finish();
        let report = pipeline.run().unwrap();
        let s = &report.steps()[0];
        assert_eq!((s.input, s.output, s.retried, s.failed), (10, 10, 20, 0));
    }

    #[test]
    fn an_item_failing_past_its_retries_stops_the_run() {
        let mut pipeline = Pipeline::new().try_map(flaky(3)).name("flaky").retries(2);
        pipeline.put(1);
        pipeline.finish();
        match pipeline.run() {
            Err(Error::StepFailed { step, source }) => {
                assert_eq!(step, "flaky");
                assert!(source.is::<Bad>());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn skip_counts_failed_items_and_goes_on() {
        let mut pipeline = Pipeline::new()
            .try_map(|n: u64| {
                if n.is_multiple_of(3) {
                    Err(Bad(n))
                } else {
                    Ok(n)
                }
            })
            .on_error(OnError::Skip)
            .map(|n| n * 10);
        pipeline.put_iter(0..30);
        let mut out: Vec<u64> = pipeline.into_iter().collect::<Result<_, _>>().unwrap();
        out.sort_unstable();
        let expected: Vec<u64> = (0..30).filter(|n| n % 3 != 0).map(|n| n * 10).collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn the_default_policy_is_stop_and_retries_default_to_zero() {
        assert_eq!(OnError::default(), OnError::Stop);
        let tries = Arc::new(AtomicUsize::new(0));
        let count = tries.clone();
        let mut pipeline = Pipeline::new().try_map(move |n: u64| {
            count.fetch_add(1, Ordering::SeqCst);
            Err::<u64, _>(Bad(n))
        });
        pipeline.put(0);
        pipeline.finish();
        let error = pipeline.run().unwrap_err();
        assert!(
            matches!(&error, Error::StepFailed { source, .. } if source.to_string() == "bad item 0"),
            "{error}"
        );
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }

    /// An item that fails after another item's failure has stopped the run
    /// is not retried: the run is over, and the first failure is the one
    /// reported.
    #[test]
    fn an_item_failing_after_the_run_failed_is_not_retried() {
        let (gate_tx, gate_rx) = bounded::<()>(0);
        let (started_tx, started_rx) = bounded::<()>(1);
        let held_calls = Arc::new(AtomicUsize::new(0));
        let calls = held_calls.clone();
        let handle = Pipeline::new()
            .try_map(move |n: u64| {
                if n == 0 {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let _ = started_tx.try_send(());
                    // Held until the run has failed (or the test gives up).
                    let _ = gate_rx.recv();
                }
                Err::<u64, _>(Bad(n))
            })
            .name("failing")
            .threads(2)
            .retries(3)
            .spawn()
            .unwrap();
        handle.put(0).unwrap();
        let started = started_rx.recv_timeout(PROMPTLY);
        // Item 1 fails its four attempts on the other thread: the run fails.
        handle.put(1).unwrap();
        let deadline = Instant::now() + PROMPTLY;
        while handle.is_alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let failed = !handle.is_alive();
        // Item 0 fails now, with the run already failed.
        drop(gate_tx);
        let error = handle.stop().unwrap_err();
        started.expect("item 0 did not start");
        assert!(failed, "item 1's failure did not stop the run");
        assert!(
            matches!(&error, Error::StepFailed { step, source } if step == "failing" && source.to_string() == "bad item 1"),
            "{error}"
        );
        assert_eq!(
            held_calls.load(Ordering::SeqCst),
            1,
            "item 0 was retried after the run had failed"
        );
    }

    #[test]
    fn the_reported_error_is_the_failing_steps_not_the_stopped_emit_upstream() {
        // "spray" emits endlessly into "sink", which fails on its 10th item:
        // spray's emit then returns `Stopped`, which must not replace the
        // sink's error.
        let mut pipeline = Pipeline::new()
            .flat_map(|_: u64| endless())
            .name("spray")
            .queue(1)
            .try_map(|n: u64| if n == 9 { Err(Bad(n)) } else { Ok(n) })
            .name("sink")
            .queue(1);
        pipeline.put(0);
        pipeline.finish();
        let error = pipeline.run().unwrap_err();
        assert_eq!(error.step(), Some("sink"), "{error}");
    }

    #[test]
    fn a_step_that_gives_up_with_stopped_is_not_a_failure() {
        struct Forward;
        impl Step for Forward {
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
                for k in 0.. {
                    out.emit(n + k)?; // `?` on `Stopped` once the run is over
                }
                Ok(())
            }
        }
        let (seen_tx, seen_rx) = bounded::<()>(0);
        let mut pipeline = Pipeline::new()
            .step(Forward)
            .name("forward")
            .map(move |n| {
                if n == 100 {
                    seen_tx.send(()).unwrap();
                }
            })
            .queue(0);
        pipeline.put(0);
        pipeline.finish();
        let handle = pipeline.spawn().unwrap();
        seen_rx.recv().unwrap(); // "forward" is in the middle of its item
                                 // Its emit now fails with `Stopped`, which is not the step failing.
        let report = handle.abort().unwrap();
        let forward = report.step("forward").unwrap();
        assert_eq!((forward.input, forward.failed), (1, 0));
    }
}

mod put_after_failure {
    use super::*;

    #[test]
    fn a_put_blocked_on_a_full_queue_gets_its_item_back_when_a_step_fails() {
        let (gate_tx, gate_rx) = bounded::<()>(0);
        let (started_tx, started_rx) = bounded::<()>(1);
        let handle = Pipeline::new()
            .try_map(move |n: u64| {
                // Only the first send is awaited (a second means item 0's
                // failure did not stop the run: the test then fails on put).
                let _ = started_tx.try_send(());
                let _ = gate_rx.recv();
                Err::<u64, _>(Bad(n))
            })
            .queue(1)
            .spawn()
            .unwrap();
        handle.put(0).unwrap();
        started_rx
            .recv_timeout(PROMPTLY)
            .expect("item 0 never started");
        handle.put(1).unwrap(); // the queue is now full
        std::thread::scope(|s| {
            let producer = s.spawn(|| handle.put(2));
            drop(gate_tx); // item 0 fails: the run stops
            assert_eq!(producer.join().unwrap().unwrap_err().into_inner(), 2);
        });
        let error = handle.stop().unwrap_err();
        assert!(
            matches!(&error, Error::StepFailed { source, .. } if source.to_string() == "bad item 0"),
            "{error}"
        );
    }

    #[test]
    fn put_after_finish_gives_the_item_back() {
        let handle = Pipeline::new().map(|s: String| s.len()).spawn().unwrap();
        handle.put("kept".to_string()).unwrap();
        handle.finish();
        let refused = handle.put("late".to_string()).unwrap_err();
        assert_eq!(refused.into_inner(), "late");
        assert!(matches!(
            handle.put_iter(vec!["x".to_string()]),
            Err(Error::InputClosed)
        ));
        let refused = handle
            .put_all(["a".to_string(), "b".to_string()])
            .unwrap_err();
        assert_eq!(refused.0, "a");
        assert_eq!(handle.stop().unwrap().outputs(), 1);
    }

    #[test]
    fn put_error_describes_itself() {
        let handle = Pipeline::new().map(|n: u64| n).spawn().unwrap();
        handle.finish();
        let refused = handle.put(1).unwrap_err();
        assert_eq!(format!("{refused:?}"), "PutError { .. }");
        assert!(refused.to_string().contains("no longer accepts input"));
        handle.stop().unwrap();
    }
}

mod outputs_on_failure {
    use super::*;

    #[test]
    fn outputs_yield_the_error_last_then_end() {
        let mut pipeline = Pipeline::new()
            .try_map(|n: u64| if n == 20 { Err(Bad(n)) } else { Ok(n) })
            .name("upto20")
            .ordered();
        pipeline.put_iter(endless());
        let mut outputs = pipeline.outputs().unwrap();
        let mut oks = Vec::new();
        let error = loop {
            match outputs.next().unwrap() {
                Ok(n) => oks.push(n),
                Err(e) => break e,
            }
        };
        assert_eq!(oks, (0..20).collect::<Vec<_>>());
        assert_eq!(error.step(), Some("upto20"));
        assert!(outputs.next().is_none());
        assert!(outputs.next().is_none());
        assert!(outputs.report().is_none());
        assert!(outputs.handle().is_none());
    }
}
