//! paipa docs, "How to write a co-routine pipeline": single-threaded
//! iterator pipelines — the simple example, the products example (filter,
//! chunk into batches, send, flatten), and per-step debugging statistics.
//!
//! ```text
//! cargo run -p pipework --example coroutine_pipeline
//! ```

use std::time::Duration;

use pipework::iter::{
    combine, consume, BoxIter, IterStep, IteratorExt, StatsRecorder, ZeroChunkSize,
};

#[derive(Debug, Clone)]
struct Product {
    id: u32,
    available: bool,
}

fn get_products() -> impl Iterator<Item = Product> {
    (0..10_000).map(|id| Product {
        id,
        available: id % 3 != 0,
    })
}

fn send_chunk(url: &str, chunk: &[Product]) {
    // To some microservice perhaps; here we only pretend.
    let _ = (url, chunk.len());
}

fn main() -> Result<(), ZeroChunkSize> {
    // Simple example: a list of steps chosen at run time.
    let remove_odd: IterStep<'_, u32> = Box::new(|it: BoxIter<'_, u32>| -> BoxIter<'_, u32> {
        Box::new(it.filter(|n| n % 2 == 0))
    });
    let total: u32 = combine(0..100, vec![remove_odd]).sum();
    println!("{total}"); // 2450

    // More involved: steps that change the item type chain as adapters.
    let url = "http://batch.example";
    let sent = get_products()
        .filter(|p| p.available) // only_available
        .chunk(2048)? // batches of 2048
        .inspect(|chunk| send_chunk(url, chunk)) // send_in_batch
        .flatten() // flatten it out again for later steps
        .map(|p| p.id);
    println!("sent {} products", consume(sent, None));

    // Debugging: count, time and throughput of every step.
    let stats = StatsRecorder::new();
    let pipeline = (10_000u32..19_999)
        .stats(&stats, "source")
        .map(|n| n.to_string())
        .stats(&stats, "cast")
        .map(|s| s.chars().rev().collect::<String>())
        .stats(&stats, "flip")
        .map(|s| {
            std::thread::sleep(Duration::from_micros(50));
            vec![s]
        })
        .stats(&stats, "flap")
        .flatten()
        .stats(&stats, "flatten");
    consume(pipeline, None);
    for step in stats.snapshot() {
        println!("{step}");
    }
    Ok(())
}
