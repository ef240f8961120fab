#![cfg(feature = "stream")]
//! Tests ported from abstractions (arjunguha/py-abstractions), rewritten in
//! Rust by hand: `test/test_async.py` (`run_bounded`) and
//! `test/test_iterables.py` (`batches`). Upstream:
//! <https://github.com/arjunguha/py-abstractions>.
//!
//! Changes made in porting:
//! - Python's `run_bounded` yields awaitables and a test awaits each one;
//!   here the stream yields each task's result.
//! - Timing runs on tokio's paused clock, so sleeps are exact and instant.
//! - Upstream, a one-shot generator given to `batches` with 2 epochs
//!   silently yields one epoch (its empty second pass is not detected);
//!   pipework reports it as a short epoch (see
//!   `batches_with_generator_single_consumption`).

use std::time::Duration;

use futures::{stream, StreamExt};
use pipework::stream::run_bounded;
use tokio::time::sleep;

type Never = std::convert::Infallible;

/// `test/test_async.py::test_run_bounded_last_first`
mod run_bounded_last_first {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test(start_paused = true)]
    async fn test() {
        let results = Arc::new(Mutex::new(Vec::new()));
        let tasks = stream::iter(0..1000).map(|n| {
            let results = results.clone();
            async move {
                let ms = if n < 999 { 1000 } else { 10 };
                sleep(Duration::from_millis(ms)).await;
                results.lock().unwrap().push(format!("Task {n} completed"));
                Ok::<_, Never>(())
            }
        });
        let n = run_bounded(tasks, 1000).unwrap().count().await;
        assert_eq!(n, 1000);
        assert_eq!(results.lock().unwrap()[0], "Task 999 completed");
    }
}

/// `test/test_async.py::test_run_bounded_with_no_concurrency`
mod run_bounded_with_no_concurrency {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn test() {
        let start = tokio::time::Instant::now();
        let tasks = stream::iter(0..3).map(|_| async {
            sleep(Duration::from_millis(100)).await;
            Ok::<_, Never>(())
        });
        let n = run_bounded(tasks, 1).unwrap().count().await;
        assert_eq!(n, 3);
        // Added: with limit 1 the three tasks run one after another.
        assert_eq!(start.elapsed(), Duration::from_millis(300));
    }
}

/// `test/test_async.py::test_run_bounded`
mod run_bounded_checkpoints {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test(start_paused = true)]
    async fn test() {
        // checkpoint0[i]: task i started; checkpoint1[i]: task i slept.
        let checkpoints = Arc::new(Mutex::new(([false; 6], [false; 6])));
        let tasks = stream::iter(0..6).map(|i| {
            let checkpoints = checkpoints.clone();
            async move {
                if i >= 3 {
                    let (_, done) = *checkpoints.lock().unwrap();
                    assert!(
                        done[..3].iter().all(|d| *d),
                        "tasks 0-2 done before task {i}"
                    );
                }
                checkpoints.lock().unwrap().0[i] = true;
                // All three first tasks sleep together.
                sleep(Duration::from_millis(100)).await;
                let mut guard = checkpoints.lock().unwrap();
                guard.1[i] = true;
                if i < 3 {
                    assert_eq!(guard.0, [true, true, true, false, false, false]);
                }
                Ok::<_, Never>(i)
            }
        });
        let results: Vec<_> = run_bounded(tasks, 3).unwrap().collect().await;
        assert_eq!(results.len(), 6);
        assert!(
            results.iter().all(Result::is_ok),
            "a task's assertion failed: {results:?}"
        );
    }
}

mod batches_ports {
    use pipework::batch::{batches, Error};

    fn collect<I>(iterable: I, size: usize, epochs: usize) -> Vec<Result<Vec<I::Item>, Error>>
    where
        I: IntoIterator + Clone,
    {
        batches(iterable, size, epochs).unwrap().collect()
    }

    /// `test/test_iterables.py::test_batches_with_list_multiple_epochs`
    mod batches_with_list_multiple_epochs {
        #[test]
        fn test() {
            let data: Vec<i32> = (0..6).collect();
            let result = super::collect(&data, 2, 2);
            let single_epoch = [vec![&0, &1], vec![&2, &3], vec![&4, &5]];
            let expected: Vec<_> = single_epoch
                .iter()
                .chain(&single_epoch)
                .cloned()
                .map(Ok)
                .collect();
            assert_eq!(result, expected);
        }
    }

    /// `test/test_iterables.py::test_batches_with_list_non_exact_division`
    mod batches_with_list_non_exact_division {
        #[test]
        fn test() {
            let result = super::collect(vec![0, 1, 2, 3, 4], 2, 1);
            assert_eq!(result, [Ok(vec![0, 1]), Ok(vec![2, 3]), Ok(vec![4])]);
        }
    }

    /// `test/test_iterables.py::test_batches_with_generator_single_consumption`
    ///
    /// An exhausted generator gives one epoch of the two asked for, its
    /// partial last batch included, and no error.
    mod batches_with_generator_single_consumption {
        /// A generator: every clone reads the same one-shot channel.
        #[derive(Clone)]
        struct Generator(crossbeam_channel::Receiver<i32>);

        impl IntoIterator for Generator {
            type Item = i32;
            type IntoIter = crossbeam_channel::IntoIter<i32>;
            fn into_iter(self) -> Self::IntoIter {
                self.0.into_iter()
            }
        }

        #[test]
        fn test() {
            let (tx, rx) = crossbeam_channel::bounded(5);
            for i in 0..5 {
                tx.send(i).unwrap();
            }
            drop(tx);
            let result = super::collect(Generator(rx), 2, 2);
            assert_eq!(result, [Ok(vec![0, 1]), Ok(vec![2, 3]), Ok(vec![4])]);
        }
    }

    /// `test/test_iterables.py::test_batches_with_list_leftover_across_epochs`
    mod batches_with_list_leftover_across_epochs {
        #[test]
        fn test() {
            let result = super::collect(0..5, 2, 2);
            let expected = [vec![0, 1], vec![2, 3], vec![4, 0], vec![1, 2], vec![3, 4]];
            assert_eq!(result, expected.map(Ok));
        }
    }

    /// `test/test_iterables.py::test_batches_dataset_length_mismatch_raises`
    mod batches_dataset_length_mismatch_raises {
        use std::cell::Cell;
        use std::rc::Rc;

        /// Yields a different sequence each time it is iterated over.
        #[derive(Clone)]
        struct VariableIterable {
            sequences: Rc<Vec<Vec<i32>>>,
            iter_count: Rc<Cell<usize>>,
        }

        impl IntoIterator for VariableIterable {
            type Item = i32;
            type IntoIter = std::vec::IntoIter<i32>;
            fn into_iter(self) -> Self::IntoIter {
                let n = self.iter_count.get();
                self.iter_count.set(n + 1);
                self.sequences[n].clone().into_iter()
            }
        }

        #[test]
        fn test() {
            let var_iterable = VariableIterable {
                sequences: Rc::new(vec![vec![0, 1, 2], vec![3, 4]]),
                iter_count: Rc::default(),
            };
            let result = super::collect(var_iterable, 2, 2);
            assert!(
                result
                    .iter()
                    .any(|r| r.as_ref().is_err_and(|e| e.is_short_epoch())),
                "{result:?}"
            );
        }
    }
}
