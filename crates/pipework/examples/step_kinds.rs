//! paipa docs, "How to write steps": the same download step written three
//! ways — as a `Step` type with hooks, as a stateful per-thread step (paipa's
//! `iterstep` generator that counts what it did), and as a plain function
//! that skips empty entries (`funcstep` with `SkipEntry`).
//!
//! ```text
//! cargo run -p pipework --example step_kinds
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use pipework::pipeline::{BoxError, Emitter, Error, Pipeline, SkipEntry, Step, ThreadInfo};

/// Stands in for `requests.get(url)`.
fn get(url: &str) -> String {
    format!("<html>{url}</html>")
}

fn lots_of_urls() -> impl Iterator<Item = String> + Send {
    (0..5000).map(|i| {
        if i % 100 == 0 {
            String::new()
        } else {
            format!("http://example.com/{i}")
        }
    })
}

/// 1. A step type: skips empty URLs by returning `SkipEntry`.
struct DownloadUrl;

impl Step for DownloadUrl {
    type In = String;
    type Out = String;
    type State = ();

    fn thread_init(&self, _: &ThreadInfo) -> Result<(), BoxError> {
        Ok(())
    }

    fn process(
        &self,
        _: &mut (),
        url: String,
        out: &mut Emitter<'_, String>,
    ) -> Result<(), BoxError> {
        if url.is_empty() {
            return Err(SkipEntry.into());
        }
        out.emit(get(&url))?;
        Ok(())
    }
}

/// 2. A step with per-thread state: prints after every 1000 downloads of
///    each thread, which a plain function cannot do. Its `total` is shared
///    by all its threads.
#[derive(Default)]
struct CountingDownload {
    total: AtomicU64,
}

impl Step for CountingDownload {
    type In = String;
    type Out = String;
    type State = u64;

    fn thread_init(&self, _: &ThreadInfo) -> Result<u64, BoxError> {
        Ok(0)
    }

    fn process(
        &self,
        count: &mut u64,
        url: String,
        out: &mut Emitter<'_, String>,
    ) -> Result<(), BoxError> {
        if url.is_empty() {
            return Ok(()); // emit nothing: skipped
        }
        *count += 1;
        if count.is_multiple_of(1000) {
            println!("a thread downloaded 1000 urls");
        }
        self.total.fetch_add(1, Ordering::Relaxed);
        out.emit(get(&url))?;
        Ok(())
    }

    fn teardown(&self) -> Result<(), BoxError> {
        println!(
            "downloaded {} urls in all",
            self.total.load(Ordering::Relaxed)
        );
        Ok(())
    }
}

/// 3. A plain function, wrapped to skip empty entries.
fn skip_empty(f: fn(&str) -> String) -> impl Fn(String) -> Option<String> + Send + Sync {
    move |url| (!url.is_empty()).then(|| f(&url))
}

fn main() -> Result<(), Error> {
    let mut pipeline = Pipeline::new().step(DownloadUrl).threads(16);
    pipeline.put_iter(lots_of_urls());
    let report = pipeline.run()?;
    println!(
        "step type: {} pages, {} skipped",
        report.outputs(),
        report.steps()[0].skipped
    );

    let mut pipeline = Pipeline::new()
        .step(CountingDownload::default())
        .threads(16);
    pipeline.put_iter(lots_of_urls());
    println!("stateful step: {} pages", pipeline.run()?.outputs());

    let mut pipeline = Pipeline::new().filter_map(skip_empty(get)).threads(16);
    pipeline.put_iter(lots_of_urls());
    let report = pipeline.run()?;
    println!(
        "function step: {} pages, {} skipped",
        report.outputs(),
        report.steps()[0].skipped
    );
    Ok(())
}
