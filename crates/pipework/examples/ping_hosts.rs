//! paipa docs, "More ways to use pipelines": a pipeline fed from an external
//! queue by another part of the program, with 128 threads pinging hosts,
//! stopped explicitly; and a daemon pipeline that is abandoned at exit.
//!
//! Pings are simulated (a sleep and a made-up round trip), so no network is
//! needed.
//!
//! ```text
//! cargo run -p pipework --example ping_hosts
//! ```

use std::time::Duration;

use pipework::pipeline::{Error, Pipeline};

fn ping(host: String) -> (String, Duration) {
    let rtt = Duration::from_millis(5 + host.len() as u64 % 7);
    std::thread::sleep(rtt);
    (host, rtt)
}

fn main() -> Result<(), Error> {
    // The queue can be fed from another function, thread or scope.
    let (queue, in_queue) = crossbeam_channel::bounded::<String>(1024);
    let mut pipeline = Pipeline::new().map(ping).name("ping").threads(128);
    pipeline.put_receiver(in_queue);
    let handle = pipeline.spawn()?;

    let producer = std::thread::spawn(move || {
        for i in 0..1000 {
            if queue.send(format!("10.0.{}.{}", i / 256, i % 256)).is_err() {
                break;
            }
        }
        // Keeping `queue` alive would keep the pipeline waiting for more,
        // until `stop`; dropping it ends the input.
    });
    producer.join().expect("producer thread");
    let report = handle.stop()?;
    println!(
        "pinged {} hosts in {:.2?}",
        report.outputs(),
        report.elapsed()
    );

    // A daemon pipeline: dropping its handle returns at once; items still
    // queued when the process exits are lost. Only for work you can lose.
    let mut pipeline = Pipeline::new().map(ping).threads(4).daemon();
    pipeline.put_iter((0..100).map(|i| format!("host-{i}")));
    let handle = pipeline.spawn()?;
    std::thread::sleep(Duration::from_millis(20));
    drop(handle);
    println!("daemon pipeline abandoned");
    Ok(())
}
