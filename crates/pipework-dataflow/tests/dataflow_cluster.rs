//! Cluster start-up and failure, with both "processes" as threads of this
//! test: a process whose `run` returns an error must not leave its peers
//! waiting, even though it lives on.

mod support;

use std::time::{Duration, Instant};

use pipework_dataflow::connectors::{TestingItem, TestingSink, TestingSource};
use pipework_dataflow::{run, ConfigError, Dataflow, ExecutionConfig, RunError};
use support::cluster::free_addresses;

fn counting_flow(fail_at: Option<u32>) -> Dataflow {
    Dataflow::new("cluster", move |flow| {
        flow.input("inp", TestingSource::new(0..50_000u32).batch_size(100))
            .try_map("check", move |x: u32| {
                if Some(x) == fail_at {
                    Err("bad item")
                } else {
                    Ok(x)
                }
            })
            .key_on("key", |x: &u32| (x % 10).to_string())
            .stateful_map("count", |n: Option<u32>, _x: u32| {
                (Some(n.unwrap_or(0) + 1), ())
            })
            .output("out", TestingSink::new());
    })
}

/// Runs process `id` of the cluster at `addresses` on its own thread.
fn spawn_process(
    flow: Dataflow,
    id: usize,
    threads: usize,
    addresses: &str,
    timeout: Duration,
) -> std::thread::JoinHandle<Result<(), RunError>> {
    let config = ExecutionConfig::cluster(threads, id, addresses)
        .unwrap()
        .connect_timeout(timeout);
    std::thread::spawn(move || run(&flow, &config))
}

/// Starts processes 0 and 1 of a two-process cluster on fresh addresses,
/// with `threads[i]` worker threads each and a 30 s connect timeout.
fn spawn_two(
    flow: impl Fn() -> Dataflow,
    threads: [usize; 2],
) -> [std::thread::JoinHandle<Result<(), RunError>>; 2] {
    let addresses = free_addresses(2);
    let timeout = Duration::from_secs(30);
    [
        spawn_process(flow(), 0, threads[0], &addresses, timeout),
        spawn_process(flow(), 1, threads[1], &addresses, timeout),
    ]
}

#[test]
fn worker_counts_must_agree_and_equal_counts_complete() {
    let [a, b] = spawn_two(|| counting_flow(None), [1, 2]);
    // Different worker counts are refused by both sides.
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    for result in [a, b] {
        let err = result.unwrap_err();
        assert!(
            matches!(
                err,
                RunError::Config(ConfigError::WorkerCountMismatch { .. })
            ),
            "{err}"
        );
    }
    let [a, b] = spawn_two(|| counting_flow(None), [2, 2]);
    a.join().unwrap().unwrap();
    b.join().unwrap().unwrap();
}

#[test]
fn a_failed_process_that_lives_on_does_not_leave_its_peer_waiting() {
    let started = Instant::now();
    let [a, b] = spawn_two(|| counting_flow(Some(20_000)), [1, 1]);
    let a = a.join().unwrap().unwrap_err();
    let b = b.join().unwrap().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(&a, RunError::Step { step, .. } if step == "check"),
        "{a}"
    );
    assert!(matches!(&b, RunError::PeerFailed { .. }), "{b}");
}

#[test]
fn a_peer_that_never_comes_is_a_connect_error_after_the_timeout() {
    let addresses = free_addresses(3);
    let started = Instant::now();
    // Process 0 waits for 1 and 2 to connect; process 2 tries to reach 0 and 1.
    let first = spawn_process(
        counting_flow(None),
        0,
        1,
        &addresses,
        Duration::from_millis(500),
    );
    let last = spawn_process(
        counting_flow(None),
        2,
        1,
        &addresses,
        Duration::from_millis(500),
    );
    let first = first.join().unwrap().unwrap_err();
    let last = last.join().unwrap().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(&first, RunError::Connect { process_id: 1, .. }),
        "{first}"
    );
    assert!(
        matches!(&last, RunError::Connect { process_id: 1, .. }),
        "{last}"
    );
    assert!(first.to_string().contains("did not connect"), "{first}");
}

#[test]
fn a_quiet_peer_is_told_at_once_when_a_process_fails() {
    // Process 0 reads the only partition; process 1 has nothing to do and
    // sends nothing while it waits, so only a closed connection can tell it
    // that process 0 failed.
    let flow = || {
        Dataflow::new("quiet", |flow| {
            let source = TestingSource::with_markers(vec![
                TestingItem::Pause(Duration::from_millis(300)),
                TestingItem::Item(1u32),
            ]);
            flow.input("inp", source)
                .try_map("check", |_x: u32| Err::<u32, _>("always bad"))
                .output("out", TestingSink::new());
        })
    };
    let started = Instant::now();
    let [a, b] = spawn_two(flow, [1, 1]);
    let a = a.join().unwrap().unwrap_err();
    let b = b.join().unwrap().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(&a, RunError::Step { step, .. } if step == "check"),
        "{a}"
    );
    assert!(matches!(&b, RunError::PeerFailed { .. }), "{b}");
}
