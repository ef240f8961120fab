//! Tests ported from paipa (stylight/python-paipa, MIT licensed, see its
//! `LICENSE.md`), rewritten in Rust by hand. Upstream:
//! <https://github.com/stylight/python-paipa>.
//!
//! Sources: `test/test_thread_pipeline.py` (the threaded pipeline),
//! `test/test_pipeline_debugger.py` (per-step stats), the doctests of `paipa/threaded/steps.py` (`TimedChunk`),
//! `paipa/iterables.py` (`chunk`, `flatten`) and `paipa/coroutines.py`
//! (`combine_pipeline`), and the examples of `doc/coroutine.rst`.
//!
//! Changes made in porting:
//! - paipa's `iterstep` hands a whole iterator to a generator; pipework's
//!   fan-out steps take one item at a time, so a generator with a running
//!   count becomes a [`Step`] whose per-thread state holds the count.
//! - paipa's `max_retries=1` retries twice (it re-enqueues while
//!   `retries <= max_retries`, from 0); here `.retries(1)` is one retry, and
//!   the skip-after-retries that paipa does by logging is `OnError::Skip`.
//! - The SIGALRM guard of `test_iterstep_failing` becomes a wall-clock
//!   bound on `run`, and the test also proves the lazy source was not
//!   drained, which upstream does not check.
//! - `TimedChunk` is [`Pipeline::timed_chunk`]; its doctest's background part
//!   waits for each lone item's chunk to come out instead of `time.sleep`.
//! - Not ported: `test_pipline_application` (paipa's tornado glue) and
//!   `test_meta_processing` (meta entries), which pipework does not have.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipework::pipeline::{BoxError, Emitter, Error, OnError, Pipeline, Step, ThreadInfo};

/// paipa's `FooException`.
#[derive(Debug, thiserror::Error)]
#[error("foo {0}")]
struct FooException(u64);

/// An iterator that counts how many items were pulled from it.
fn counted<I: Iterator + Send + 'static>(
    iter: I,
    pulls: &Arc<AtomicUsize>,
) -> impl Iterator<Item = I::Item> + Send + 'static {
    let pulls = pulls.clone();
    iter.inspect(move |_| {
        pulls.fetch_add(1, Ordering::SeqCst);
    })
}

/// `test/test_thread_pipeline.py::test_iterstep_failing_with_iterable_sourcestep`
mod iterstep_failing_with_iterable_sourcestep {
    use super::*;

    #[test]
    fn test() {
        // `_crasher` yields nothing and raises once it sees an item over 500.
        let mut pipeline = Pipeline::new()
            .try_flat_map(|i: u64| {
                if i > 500 {
                    Err(FooException(i))
                } else {
                    Ok(std::iter::empty::<u64>())
                }
            })
            .name("crasher");
        pipeline.put_iter(0u64..); // itertools.count()
        let error = pipeline.run().unwrap_err();
        assert!(
            matches!(&error, Error::StepFailed { step, .. } if step == "crasher"),
            "{error:?}"
        );
    }
}

/// `test/test_thread_pipeline.py::test_iterstep_failing`
mod iterstep_failing {
    use super::*;

    /// `failing_iterator`: passes items on, and fails once more than 1000
    /// came before (its `enumerate` count lives in the thread's state).
    struct FailingIterator;

    impl Step for FailingIterator {
        type In = u64;
        type Out = u64;
        type State = u64;

        fn thread_init(&self, _: &ThreadInfo) -> Result<u64, BoxError> {
            Ok(0)
        }

        fn process(
            &self,
            count: &mut u64,
            entry: u64,
            out: &mut Emitter<'_, u64>,
        ) -> Result<(), BoxError> {
            let seen = *count;
            *count += 1;
            if seen > 1000 {
                return Err(FooException(entry).into());
            }
            out.emit(entry)?;
            Ok(())
        }
    }

    #[test]
    fn test() {
        let pulls = Arc::new(AtomicUsize::new(0));
        let mut pipeline = Pipeline::new()
            .step(FailingIterator)
            .name("failing_iterator")
            .retries(1);
        pipeline.put_iter(counted(0..1_000_000u64, &pulls));

        let started = Instant::now();
        let error = pipeline.run().unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "run took {:?}",
            started.elapsed()
        );
        match &error {
            Error::StepFailed { step, source } => {
                assert_eq!(step, "failing_iterator");
                let foo = source.downcast_ref::<FooException>().unwrap();
                // Items 0..=1000 pass; item 1001 fails, and so does its retry.
                assert_eq!(foo.0, 1001);
            }
            other => panic!("{other:?}"),
        }
        // The step took 1002 items; then at most a full queue plus the one
        // item the feeder holds were pulled (the memory bound in the docs).
        let pulled = pulls.load(Ordering::SeqCst);
        assert!(
            pulled <= 1002 + pipework::pipeline::DEFAULT_QUEUE + 1,
            "{pulled} items pulled from the lazy source"
        );
    }
}

/// `test/test_thread_pipeline.py::test_pipeline_crash`
mod pipeline_crash {
    use super::*;

    /// `Crasher`: fails on every item.
    struct Crasher;

    #[derive(Debug, thiserror::Error)]
    #[error("What are you looking at!?")]
    struct ValueError;

    impl Step for Crasher {
        type In = &'static str;
        type Out = &'static str;
        type State = ();

        fn thread_init(&self, _: &ThreadInfo) -> Result<(), BoxError> {
            Ok(())
        }

        fn process(
            &self,
            _: &mut (),
            _: &'static str,
            _: &mut Emitter<'_, &'static str>,
        ) -> Result<(), BoxError> {
            Err(ValueError.into())
        }
    }

    #[test]
    fn test() {
        let mut pipeline = Pipeline::new().step(Crasher).name("Crasher").retries(0);
        pipeline.put("Hey you!");
        pipeline.finish();
        match pipeline.run() {
            Err(Error::StepFailed { step, source }) => {
                assert_eq!(step, "Crasher");
                assert!(source.is::<ValueError>(), "{source}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// `test/test_thread_pipeline.py::test_pipeline`
mod pipeline {
    use super::*;

    /// `Download` and `Upload`: steps that pass items on as they are.
    struct PassOn;

    impl Step for PassOn {
        type In = u64;
        type Out = u64;
        type State = ();

        fn thread_init(&self, _: &ThreadInfo) -> Result<(), BoxError> {
            Ok(())
        }

        fn process(
            &self,
            _: &mut (),
            entry: u64,
            out: &mut Emitter<'_, u64>,
        ) -> Result<(), BoxError> {
            out.emit(entry)?;
            Ok(())
        }
    }

    /// `process`: fails on 17.
    fn process(response: u64) -> Result<u64, FooException> {
        if response == 17 {
            Err(FooException(response))
        } else {
            Ok(response)
        }
    }

    /// Download ×10 → process (one retry, then skip) → chunk(10) ×2 →
    /// flatten → Upload ×40.
    fn mixed() -> Pipeline<u64> {
        Pipeline::new()
            .step(PassOn)
            .name("Download")
            .threads(10)
            .try_map(process)
            .name("process")
            .retries(1)
            .on_error(OnError::Skip)
            .chunk(10)
            .threads(2)
            .flatten()
            .step(PassOn)
            .name("Upload")
            .threads(40)
    }

    #[track_caller]
    fn assert_999(report: &pipework::pipeline::Report) {
        assert_eq!(report.outputs(), 999, "{report}");
        let process = report.step("process").unwrap();
        assert_eq!(
            (
                process.input,
                process.output,
                process.retried,
                process.failed
            ),
            (1000, 999, 1, 1),
            "{report}"
        );
        assert_eq!(report.failed(), 1);
        assert_eq!(report.step("Upload").unwrap().input, 999);
    }

    #[test]
    fn put_iter_then_run() {
        let mut pipeline = mixed();
        pipeline.put_iter(0..1000);
        let report = pipeline.run().unwrap();
        assert_999(&report);
    }

    #[test]
    fn put_all_finish_then_run() {
        let mut pipeline = mixed();
        pipeline.put_all(0..1000);
        pipeline.finish();
        let report = pipeline.run().unwrap();
        assert_999(&report);
    }

    /// Upstream's second pipeline: Download ×10 → process → Upload ×40.
    #[test]
    fn without_chunking_put_all_finish_then_run() {
        let mut pipeline = Pipeline::new()
            .step(PassOn)
            .name("Download")
            .threads(10)
            .try_map(process)
            .name("process")
            .retries(1)
            .on_error(OnError::Skip)
            .step(PassOn)
            .name("Upload")
            .threads(40);
        pipeline.put_all(0..1000);
        pipeline.finish();
        let report = pipeline.run().unwrap();
        assert_999(&report);
    }

    /// Not upstream: the items themselves, not only their count.
    #[test]
    fn exactly_the_items_but_17_reach_the_end() {
        let mut pipeline = mixed();
        pipeline.put_iter(0..1000);
        let mut out: Vec<u64> = pipeline.into_iter().collect::<Result<_, _>>().unwrap();
        out.sort_unstable();
        let expected: Vec<u64> = (0..1000).filter(|&n| n != 17).collect();
        assert_eq!(out, expected);
    }
}

/// `paipa/threaded/steps.py`, the doctest of `TimedChunk`.
mod timed_chunk_doctest {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("Argh!")]
    struct RuntimeError;

    /// `crash_when_17`: passes chunks on, fails on `[17]`.
    fn crash_when_17(chunk: Vec<u64>) -> Result<Vec<u64>, RuntimeError> {
        if chunk == [17] {
            Err(RuntimeError)
        } else {
            Ok(chunk)
        }
    }

    #[test]
    fn chunks_of_five_then_run() {
        let result = Arc::new(Mutex::new(Vec::new()));
        let sink = result.clone();
        let mut pipeline = Pipeline::new()
            .timed_chunk(5, Duration::from_secs(1))
            .try_map(crash_when_17)
            .map(move |chunk| sink.lock().unwrap().push(chunk));
        for ixx in 0..10 {
            pipeline.put(ixx);
        }
        pipeline.finish();
        pipeline.run().unwrap();
        assert_eq!(
            *result.lock().unwrap(),
            [vec![0, 1, 2, 3, 4], vec![5, 6, 7, 8, 9]]
        );
    }

    /// The background part: items put with pauses longer than the timeout
    /// each come out as a chunk of one; the run is alive while items pass
    /// and not alive once the crashing step failed; what came before the
    /// crash was delivered.
    #[test]
    fn background_trickle_flushes_each_item_then_crashes_on_17() {
        let result = Arc::new(Mutex::new(Vec::new()));
        let sink = result.clone();
        let pipeline = Pipeline::new()
            .timed_chunk(5, Duration::from_millis(20))
            .try_map(crash_when_17)
            .name("crash_when_17")
            .map(move |chunk| sink.lock().unwrap().push(chunk));
        let handle = pipeline.spawn().unwrap();
        let chunks = |n: usize| {
            let deadline = Instant::now() + Duration::from_secs(30);
            while result.lock().unwrap().len() < n {
                assert!(Instant::now() < deadline, "no chunk came out on the timer");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        handle.put(1).unwrap();
        chunks(1);
        handle.put(2).unwrap();
        chunks(2);
        assert!(handle.is_alive());
        handle.put(17).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while handle.is_alive() {
            assert!(Instant::now() < deadline, "the crash did not stop the run");
            std::thread::sleep(Duration::from_millis(5));
        }
        handle.finish();
        let error = handle.stop().unwrap_err();
        assert_eq!(error.step(), Some("crash_when_17"));
        assert_eq!(*result.lock().unwrap(), [vec![1], vec![2]]);
    }
}

/// `paipa/iterables.py`, the doctests of `chunk` and `flatten`.
mod iterables_doctests {
    use pipework::iter::{chunk, IteratorExt};

    #[test]
    fn chunk_of_3_over_1_to_8() {
        let chunks: Vec<Vec<u32>> = chunk(1..=8, 3).unwrap().collect();
        assert_eq!(chunks, [vec![1, 2, 3], vec![4, 5, 6], vec![7, 8]]);
    }

    #[test]
    fn chunk_of_32_over_64_gives_2() {
        assert_eq!((0..64).chunk(32).unwrap().count(), 2);
    }

    #[test]
    fn chunk_of_0_is_an_error() {
        assert!(chunk(0..10, 0).is_err());
    }

    #[test]
    fn flatten_undoes_chunks() {
        let nested = vec![vec![1, 2, 3], vec![4, 5, 6], (7..10).collect()];
        let flat: Vec<u32> = nested.into_iter().flatten().collect();
        assert_eq!(flat, (1..10).collect::<Vec<_>>());
    }
}

/// `doc/coroutine.rst`, "Simple example", and `paipa/coroutines.py`, the
/// doctest of `combine_pipeline`.
mod coroutine_pipeline {
    use pipework::iter::{combine, consume, BoxIter, IterStep};

    #[test]
    fn remove_odd_over_0_to_100_sums_to_2450() {
        let remove_odd: IterStep<'_, u32> = Box::new(|it: BoxIter<'_, u32>| -> BoxIter<'_, u32> {
            Box::new(it.filter(|n| n % 2 == 0))
        });
        let total: u32 = combine(0..100, vec![remove_odd]).sum();
        assert_eq!(total, 2450);
    }

    #[test]
    fn step_remover_identity_step_halves_1000() {
        fn step<'a>() -> IterStep<'a, u32> {
            Box::new(|it| it)
        }
        let remover: IterStep<'_, u32> = Box::new(|it: BoxIter<'_, u32>| -> BoxIter<'_, u32> {
            Box::new(
                it.enumerate()
                    .filter(|(count, _)| count % 2 == 0)
                    .map(|(_, entry)| entry),
            )
        });
        let gen = combine(0..1000, vec![step(), remover, step(), step()]);
        assert_eq!(consume(gen, None), 500);
    }
}

/// `test/test_pipeline_debugger.py::test_pipeline_debugger`
mod pipeline_debugger {
    use pipework::iter::{consume, IteratorExt, StatsRecorder};

    #[test]
    fn test() {
        // paipa's debugger tracks the source and each step; its logging
        // reporter writes one line per tracked stage.
        let stats = StatsRecorder::new();
        let pipeline = (0..10u32)
            .stats(&stats, "range")
            .map(u64::from) // `lambda x: x`, widened
            .stats(&stats, "lambda");
        assert_eq!(consume(pipeline, None), 10);
        let snapshot = stats.snapshot();
        let names: Vec<&str> = snapshot.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["range", "lambda"]);
        assert!(snapshot.iter().all(|s| s.count == 10));
        stats.log();
    }
}

/// `doc/coroutine.rst`, "Debugging pipelines" (without its 1 ms sleep).
mod debugging_pipelines {
    use pipework::iter::{consume, IteratorExt, StatsRecorder};

    #[test]
    fn every_stage_counts_every_entry() {
        let stats = StatsRecorder::new();
        let pipeline = (10_000..19_999u32)
            .stats(&stats, "list")
            .map(|entry| entry.to_string()) // cast(str)
            .stats(&stats, "caster")
            .map(|entry| entry.chars().rev().collect::<String>()) // flip
            .stats(&stats, "flip")
            .map(|entry| vec![entry]) // flap
            .stats(&stats, "flap")
            .map(|entry| entry.into_iter().next()) // flatten
            .stats(&stats, "flatten");
        assert_eq!(consume(pipeline, None), 9999);
        for s in stats.snapshot() {
            assert_eq!(s.count, 9999, "{s}");
            assert!(s.throughput() > 0.0, "{s}");
            assert!(s.to_string().starts_with(&s.name));
        }
    }
}
