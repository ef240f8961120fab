//! paipa docs, "Introduction": download some URLs on three threads and print
//! them on one.
//!
//! The network is replaced by a fake fetcher (a short sleep and a made-up
//! page) so the example runs anywhere; swap `fetch` for a real HTTP client.
//!
//! ```text
//! cargo run -p pipework --example crawl_urls
//! ```

use std::time::Duration;

use pipework::pipeline::Pipeline;

struct Response {
    url: String,
    content: String,
}

/// Stands in for `requests.get(url)`.
fn fetch(url: &str) -> Result<Response, std::io::Error> {
    std::thread::sleep(Duration::from_millis(50));
    Ok(Response {
        url: url.to_string(),
        content: format!(
            "<html><body>page {}</body></html>",
            url.rsplit('/').next().unwrap_or("")
        ),
    })
}

fn main() -> Result<(), pipework::pipeline::Error> {
    let mut pipeline = Pipeline::new()
        .try_map(|url: String| fetch(&url))
        .name("download")
        .threads(3)
        // One printing thread, so the console output stays readable.
        .map(|resp: Response| {
            println!("== Fetched {} {}", resp.url, "=".repeat(20));
            println!("{}", resp.content);
            resp
        })
        .name("print");
    pipeline.put("http://example.com/2".to_string());
    pipeline.put("http://example.com/4".to_string());
    pipeline.put("http://example.com/6".to_string());
    pipeline.finish();
    let report = pipeline.run()?;
    // The order of the pages varies from run to run: downloads race.
    eprint!("{report}");
    Ok(())
}
