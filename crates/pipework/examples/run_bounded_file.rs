//! Run one task per line of a file, at most 4 at a time, streaming the file
//! line by line.
//!
//! Ports the `run_bounded` example of abstractions
//! (`abstractions.async_abstractions.run_bounded`): tasks are made from the
//! lines of `tasks.txt` as they are read, so the file never sits in memory
//! whole, at most `limit` tasks run at once, and results come out of order
//! (as each task completes). Each task here stands for a slow request: it
//! "looks up" a word, taking longer for longer words.
//!
//! Run it with (the file argument is optional):
//!
//! ```text
//! cargo run -p pipework --example run_bounded_file -- crates/pipework/examples/data/tasks.txt
//! ```

use std::path::PathBuf;
use std::time::Duration;

use futures::{stream, StreamExt};
use pipework::stream::{run_bounded, try_run_bounded};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The task for one line: a stand-in for an API call.
async fn task(line_number: usize, line: String) -> Result<String, std::io::Error> {
    let word = line.trim();
    tokio::time::sleep(Duration::from_millis(20 * word.len() as u64)).await;
    Ok(format!(
        "line {line_number}: {word:?} has {} letters",
        word.chars().count()
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data/tasks.txt"),
        PathBuf::from,
    );
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| format!("opening {}: {e}", path.display()))?;

    // The task generator: one task per line, read only when a task can start.
    let lines = BufReader::new(file).lines();
    let tasks = stream::unfold((lines, 0), |(mut lines, n)| async move {
        match lines.next_line().await {
            Ok(Some(line)) => Some((Ok(task(n + 1, line)), (lines, n + 1))),
            Ok(None) => None,
            Err(error) => Some((Err(error), (lines, n))),
        }
    });

    // `unfold` holds a future, so the stream must be pinned to call `next`.
    let mut results = std::pin::pin!(try_run_bounded(tasks, 4)?);
    while let Some(result) = results.next().await {
        match result {
            Ok(message) => println!("{message}"),
            Err(error) => eprintln!("error: {error}"),
        }
    }
    // The same with a source that cannot fail: `run_bounded`.
    let words = ["one", "three", "seven"].map(String::from);
    let tasks = stream::iter(words).enumerate().map(|(i, w)| task(i + 1, w));
    let total = run_bounded(tasks, 2)?.count().await;
    println!("{total} more tasks done from a list");
    Ok(())
}
