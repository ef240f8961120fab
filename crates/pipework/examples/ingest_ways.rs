//! paipa docs, "More ways to use pipelines": putting items in before the
//! run, pulling a generator lazily, running in the background and checking
//! that the pipeline is alive.
//!
//! ```text
//! cargo run -p pipework --example ingest_ways
//! ```

use std::time::Duration;

use pipework::pipeline::{Error, Pipeline};

fn download(url: String) -> usize {
    std::thread::sleep(Duration::from_millis(2));
    url.len()
}

fn main() -> Result<(), Error> {
    let urls = || (0..200).map(|i| format!("http://example.com/{i}"));

    // 1. Put everything in, say it is all, run. Everything waits in memory.
    let mut pipeline = Pipeline::new().map(download).threads(8);
    pipeline.put("http://example.com/0".to_string());
    pipeline.put_all(urls());
    pipeline.finish();
    let report = pipeline.run()?;
    println!("put_all + finish + run: {} items", report.outputs());

    // 2. Pull a generator lazily on a source thread: memory stays flat, and
    //    the pipeline ends when the generator does (no finish needed).
    let mut pipeline = Pipeline::new().map(download).threads(8);
    pipeline.put_iter(urls());
    let report = pipeline.run()?;
    println!("put_iter + run: {} items", report.outputs());

    // 3. In the background: paipa's `with pipeline:` block. The caller
    //    goes on with other work; `stop` waits until everything is done.
    let mut pipeline = Pipeline::new().map(download).threads(8);
    pipeline.put_iter(urls());
    let handle = pipeline.spawn()?;
    if handle.is_alive() {
        println!("I feel fine!");
    }
    let report = handle.stop()?;
    println!("put_iter + spawn + stop: {} items", report.outputs());

    // 4. Feeding a background pipeline while it runs.
    let handle = Pipeline::new().map(download).threads(8).spawn()?;
    for url in urls() {
        handle.put(url).map_err(|_| Error::InputClosed)?;
    }
    let report = handle.stop()?;
    println!("spawn + put + stop: {} items", report.outputs());
    Ok(())
}
