//! The loop under the by-key functions: which errors let the running calls
//! finish before the run ends, and which end it at once.
#![cfg(feature = "jsonl")]

mod support;

use std::time::Duration;

use pipework::jsonl::{map_by_key, Error, MapOptions, OnError, Row};
use support::rows;

/// Far longer than a run that ends at once needs; only a run that waits for
/// a call that never finishes takes this long.
const BOUND: Duration = Duration::from_secs(20);

/// A panicking callback is not an error about one row: the run ends at
/// once, without waiting for the call still running (a bad row would let it
/// finish), and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_skip_callback_ends_the_run_without_waiting_for_running_calls() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    std::fs::write(&src, "{\"key\": 1}\nnot json\n{\"key\": 2}\n").unwrap();
    // Key 1's call never finishes: only aborting it ends the run.
    let never = |_row: Row| std::future::pending::<Result<Row, std::io::Error>>();
    let opts = MapOptions::new("key")
        .on_error(OnError::Skip)
        .on_skip(|error| panic!("no skipping here: {error}"));
    let run = map_by_key(&src, &dst, never, opts);
    let result = tokio::time::timeout(BOUND, run)
        .await
        .expect("the run waited for a call that never finishes");
    match result.map_err(|failed| failed.error) {
        Err(Error::CallbackPanicked { callback, message }) => {
            assert_eq!(callback, "on_skip");
            assert!(message.starts_with("no skipping here: "), "{message}");
        }
        other => panic!("expected CallbackPanicked, got {other:?}"),
    }
    assert_eq!(rows(&dst), Vec::<Row>::new());
}
