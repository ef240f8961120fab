//! Three slow async stages, run one after another and then as a buffered
//! pipeline.
//!
//! Ports the README example of asyncio-buffered-pipeline ("Usage / What
//! problem does this solve?"): a chain of three generators, each taking
//! 1 s per item over 10 items, runs in about 30 s; wrapping each stage with
//! `buffered_pipeline()` runs them in parallel, in about 12 s. Scaled down
//! here to 100 ms per item: about 3.0 s, then about 1.2 s.
//!
//! Run it with:
//!
//! ```text
//! cargo run -p pipework --example buffered_pipeline
//! ```

use std::time::{Duration, Instant};

use futures::{stream, Stream, StreamExt};
use pipework::stream::{BufferedPipeline, StagePanic};

/// What one item costs in each stage (the README's `asyncio.sleep(1)`).
const SLOW: Duration = Duration::from_millis(100);

type Item = Result<u64, StagePanic>;

fn gen_1() -> impl Stream<Item = Item> + Send + 'static {
    stream::iter(0..10).then(|value| async move {
        tokio::time::sleep(SLOW).await; // could be a slow HTTP request
        Ok(value)
    })
}

fn gen_2(
    it: impl Stream<Item = Item> + Send + 'static,
) -> impl Stream<Item = Item> + Send + 'static {
    it.then(|value| async move {
        tokio::time::sleep(SLOW).await; // could be a slow HTTP request
        Ok(value? * 2)
    })
}

fn gen_3(
    it: impl Stream<Item = Item> + Send + 'static,
) -> impl Stream<Item = Item> + Send + 'static {
    it.then(|value| async move {
        tokio::time::sleep(SLOW).await; // could be a slow HTTP request
        Ok(value? + 3)
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("unbuffered: each item goes through all three stages in turn");
    let start = Instant::now();
    let mut it_3 = Box::pin(gen_3(gen_2(gen_1())));
    while let Some(val) = it_3.next().await {
        println!("{}", val?);
    }
    println!("took {:.2?}\n", start.elapsed());

    println!("buffered: each stage runs on its own task, one item ahead");
    let start = Instant::now();
    let buffer_iterable = BufferedPipeline::new();
    let it_1 = buffer_iterable.buffered(gen_1())?;
    let it_2 = buffer_iterable.buffered(gen_2(it_1))?;
    let mut it_3 = buffer_iterable.buffered(gen_3(it_2))?;
    while let Some(val) = it_3.next().await {
        println!("{}", val?);
    }
    println!("took {:.2?}", start.elapsed());
    Ok(())
}
