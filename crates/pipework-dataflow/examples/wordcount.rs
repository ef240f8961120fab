//! Word count: the running count of every word in a file or a directory of
//! files, on one worker, N threads or several processes.
//!
//! The word count of issue 5, in the style of bytewax's classic word-count
//! example, over the input model of shared/seeds/bytewax-inputs-api.txt
//! (`FixedPartitionedSource`, the file connectors): the input is read by
//! partition (one per file), words are keyed and counted with a
//! `stateful_map` routed by key, and the lines go to one file.
//!
//! Words are lowercase runs of alphanumeric characters. For every word
//! occurrence the output gets a line `word<TAB>n`, where `n` is that word's
//! count so far, so the multiset of lines is the same whatever the layout
//! (only the order changes):
//!
//! ```text
//! cargo run --release -p pipework-dataflow --example wordcount -- \
//!     --input crates/pipework-dataflow/examples/data --output /tmp/counts.tsv
//! cargo run --release -p pipework-dataflow --example wordcount -- \
//!     --input crates/pipework-dataflow/examples/data --output /tmp/counts.tsv -w 2
//! # two processes (run each line in its own terminal):
//! ... --example wordcount -- --input DIR --output /tmp/counts.tsv -i 0 -a "127.0.0.1:2101;127.0.0.1:2102"
//! ... --example wordcount -- --input DIR --output /tmp/counts.tsv -i 1 -a "127.0.0.1:2101;127.0.0.1:2102"
//! sort /tmp/counts.tsv | tail -3
//! # with recovery: kill it at any moment and run it again (any -w) to resume
//! cargo run -p pipework-cli -- recovery init /tmp/wc-recovery --parts 3
//! ... --example wordcount -- --input DIR --output /tmp/counts.tsv -r /tmp/wc-recovery -s 0.5
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use pipework_dataflow::connectors::{DirSource, FileSink, FileSource, Line};
use pipework_dataflow::{run, Dataflow, ExecutionArgs};

/// Counts words in a file or a directory of files.
#[derive(Debug, Parser)]
struct Cli {
    /// A text file, or a directory whose files are all read.
    #[arg(long)]
    input: PathBuf,
    /// The file to write `word<TAB>count` lines to (replaced).
    #[arg(long)]
    output: PathBuf,
    #[command(flatten)]
    exec: ExecutionArgs,
}

/// The lowercase runs of alphanumeric characters in `line`.
fn words(line: &str) -> Vec<String> {
    line.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn wordcount(input: PathBuf, output: PathBuf) -> Dataflow {
    Dataflow::new("wordcount", move |flow| {
        let lines = if input.is_dir() {
            flow.input("read", DirSource::new(&input))
        } else {
            flow.input("read", FileSource::new(&input))
        };
        lines
            .flat_map("split", |line: Line| words(&line))
            .key_on("key", |word: &String| word.clone())
            .stateful_map("count", |seen: Option<u64>, _word: String| {
                let seen = seen.unwrap_or(0) + 1;
                (Some(seen), seen)
            })
            .map("format", |(word, count): (String, u64)| {
                (String::new(), format!("{word}\t{count}"))
            })
            .output_partitioned("write", FileSink::new(&output));
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.exec.to_config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("wordcount: {err}");
            return ExitCode::from(2);
        }
    };
    match run(&wordcount(cli.input, cli.output), &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wordcount: {err}");
            ExitCode::FAILURE
        }
    }
}
