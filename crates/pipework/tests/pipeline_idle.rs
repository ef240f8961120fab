//! The idle hook of threaded steps: `Step::idle` after `Step::idle_timeout`
//! without an item, once per quiet spell, and `timed_chunk` built on it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipework::pipeline::{BoxError, Emitter, Error, Pipeline, Step, ThreadInfo};

/// Far longer than any wait here needs.
const BOUND: Duration = Duration::from_secs(30);

/// Counts its idle calls and emits each as `u32::MAX`.
#[derive(Default)]
struct CountsIdle {
    idle: Arc<AtomicUsize>,
    fail_on_idle: bool,
}

impl Step for CountsIdle {
    type In = u32;
    type Out = u32;
    type State = ();

    fn thread_init(&self, _: &ThreadInfo) -> Result<(), BoxError> {
        Ok(())
    }

    fn process(&self, _: &mut (), item: u32, out: &mut Emitter<'_, u32>) -> Result<(), BoxError> {
        out.emit(item)?;
        Ok(())
    }

    fn idle_timeout(&self) -> Option<Duration> {
        Some(Duration::from_millis(10))
    }

    fn idle(&self, _: &mut (), out: &mut Emitter<'_, u32>) -> Result<(), BoxError> {
        self.idle.fetch_add(1, Ordering::SeqCst);
        if self.fail_on_idle {
            return Err("idle failed".into());
        }
        out.emit(u32::MAX)?;
        Ok(())
    }
}

/// The outputs of a run, taken on another thread so that each wait has a
/// bound: `next` fails the test when no output (nor the end) comes within
/// [`BOUND`] instead of hanging it.
struct BoundedOutputs<T>(mpsc::Receiver<Result<T, Error>>);

impl<T: Send + 'static> BoundedOutputs<T> {
    fn new(outputs: impl Iterator<Item = Result<T, Error>> + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for output in outputs {
                if tx.send(output).is_err() {
                    break;
                }
            }
        });
        BoundedOutputs(rx)
    }

    fn next(&self) -> Option<T> {
        match self.0.recv_timeout(BOUND) {
            Ok(output) => Some(output.unwrap()),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!("no output within {BOUND:?}"),
        }
    }
}

#[test]
fn idle_runs_once_per_quiet_spell_after_an_item() {
    let idle = Arc::new(AtomicUsize::new(0));
    let step = CountsIdle {
        idle: idle.clone(),
        fail_on_idle: false,
    };
    let outputs = Pipeline::new().step(step).outputs().unwrap();
    let input = outputs.input().unwrap();
    let outputs = BoundedOutputs::new(outputs);
    input.put(1).unwrap();
    assert_eq!(outputs.next(), Some(1));
    // The quiet spell after item 1 fires the hook once...
    assert_eq!(outputs.next(), Some(u32::MAX));
    // ...and not again until another item has come: wait several timeouts.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(idle.load(Ordering::SeqCst), 1);
    input.put(2).unwrap();
    assert_eq!(outputs.next(), Some(2));
    assert_eq!(outputs.next(), Some(u32::MAX));
    input.finish();
    assert_eq!(outputs.next(), None);
    assert_eq!(idle.load(Ordering::SeqCst), 2);
}

#[test]
fn an_idle_hook_error_stops_the_pipeline_naming_the_hook() {
    let step = CountsIdle {
        idle: Arc::default(),
        fail_on_idle: true,
    };
    let handle = Pipeline::new().step(step).name("ticker").spawn().unwrap();
    handle.put(1).unwrap();
    let deadline = Instant::now() + BOUND;
    while handle.is_alive() {
        assert!(
            Instant::now() < deadline,
            "the idle error did not stop the run"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    match handle.stop() {
        Err(Error::HookFailed { step, hook, .. }) => {
            assert_eq!((step.as_str(), hook), ("ticker", "idle"));
        }
        other => panic!("expected HookFailed, got {other:?}"),
    }
}

#[test]
fn timed_chunk_emits_full_chunks_without_waiting_and_the_rest_at_the_end() {
    let mut pipeline = Pipeline::new().timed_chunk(5, Duration::from_secs(3600));
    pipeline.put_all(0..12);
    pipeline.finish();
    let chunks: Vec<Vec<u32>> = pipeline.outputs().unwrap().map(Result::unwrap).collect();
    assert_eq!(
        chunks,
        [vec![0, 1, 2, 3, 4], vec![5, 6, 7, 8, 9], vec![10, 11]]
    );
}

#[test]
fn timed_chunk_rejects_a_zero_timeout_or_size() {
    for pipeline in [
        Pipeline::<u32>::new().timed_chunk(5, Duration::ZERO),
        Pipeline::<u32>::new().timed_chunk(0, Duration::from_secs(1)),
    ] {
        assert!(matches!(pipeline.spawn(), Err(Error::InvalidConfig { .. })));
    }
}

/// In an ordered pipeline an idle output would have no place in the input
/// order: the timer is off and chunks come out full or at the end.
#[test]
fn timed_chunk_in_an_ordered_pipeline_keeps_order_and_never_flushes_early() {
    let mut outputs = Pipeline::new()
        .timed_chunk(3, Duration::from_millis(5))
        .ordered()
        .outputs()
        .unwrap();
    let input = outputs.input().unwrap();
    input.put(1).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    input.put_all([2, 3, 4]).unwrap();
    input.finish();
    let chunks: Vec<Vec<u32>> = outputs.by_ref().map(Result::unwrap).collect();
    assert_eq!(chunks, [vec![1, 2, 3], vec![4]]);
}
