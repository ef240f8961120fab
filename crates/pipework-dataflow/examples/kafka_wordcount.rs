//! Kafka word count: the running count of every word in the messages of a
//! Kafka topic, written to a file, on one worker, N threads or several
//! processes, resumable with recovery.
//!
//! The word count of `wordcount.rs` over the Kafka connector of issue 11
//! (bytewax's `bytewax.connectors.kafka`): the topic is read by partition
//! (one dataflow partition per topic-partition, resumable by offset), each
//! message's payload is a line of text, words are counted with a
//! `stateful_map` routed by key, and `word<TAB>n` lines go to one file.
//! `--to-end` stops at the end of what the topic holds (a batch job);
//! without it the dataflow follows the topic until killed.
//!
//! `--mock` starts librdkafka's in-process mock cluster with `--topic`
//! holding the lines of `--mock-input` (the example texts by default), so
//! it runs without a Kafka server:
//!
//! ```text
//! cargo run --release -p pipework-dataflow --features kafka --example kafka_wordcount -- \
//!     --mock --topic lines --output /tmp/kafka-counts.tsv --to-end -w 2
//! sort -t$'\t' -k2 -n /tmp/kafka-counts.tsv | tail -1
//! # against a real cluster, with recovery: kill it and run it again to resume
//! cargo run -p pipework-cli -- recovery init /tmp/kwc-recovery --parts 3
//! ... --example kafka_wordcount -- --brokers localhost:9092 --topic lines \
//!     --output /tmp/kafka-counts.tsv -r /tmp/kwc-recovery -s 1
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use pipework_dataflow::connectors::{FileSink, KafkaMessage, KafkaSource};
use pipework_dataflow::inputs::BoxError;
use pipework_dataflow::{run, Dataflow, ExecutionArgs};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

/// Counts the words in the messages of a Kafka topic.
#[derive(Debug, Parser)]
struct Cli {
    /// Kafka brokers (librdkafka's `bootstrap.servers`).
    #[arg(long, default_value = "localhost:9092", conflicts_with = "mock")]
    brokers: String,
    /// The topic to read.
    #[arg(long)]
    topic: String,
    /// The file to write `word<TAB>count` lines to (replaced).
    #[arg(long)]
    output: PathBuf,
    /// Stop at the end of what the topic holds instead of following it.
    #[arg(long)]
    to_end: bool,
    /// Run against an in-process mock cluster whose topic (3 partitions)
    /// holds the lines of `--mock-input`.
    #[arg(long)]
    mock: bool,
    /// The text files whose lines the mock topic holds.
    #[arg(long, default_value = "crates/pipework-dataflow/examples/data")]
    mock_input: PathBuf,
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

fn text(payload: Option<&[u8]>) -> Result<String, BoxError> {
    Ok(String::from_utf8(payload.unwrap_or_default().to_vec())?)
}

fn kafka_wordcount(source: KafkaSource<String>, output: PathBuf) -> Dataflow {
    Dataflow::new("kafka_wordcount", move |flow| {
        flow.input("read", source.clone())
            .flat_map("split", |message: KafkaMessage<String>| {
                words(&message.payload)
            })
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

/// Writes every line of the files in `input` (a file or a directory) to
/// `topic`, round-robin over its partitions, and waits for delivery.
fn fill_topic(brokers: &str, topic: &str, input: &Path) -> Result<(), BoxError> {
    let files: Vec<PathBuf> = if input.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(input)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        files.sort();
        files
    } else {
        vec![input.to_path_buf()]
    };
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let mut n = 0;
    for file in files {
        for line in std::fs::read_to_string(&file)?.lines() {
            let record = BaseRecord::<(), str>::to(topic)
                .partition(n % 3)
                .payload(line);
            producer.send(record).map_err(|(err, _)| err)?;
            n += 1;
        }
    }
    producer.flush(std::time::Duration::from_secs(30))?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.exec.to_config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("kafka_wordcount: {err}");
            return ExitCode::from(2);
        }
    };
    // The mock cluster lives until the end of main.
    let mut _mock = None;
    let mut brokers = cli.brokers.clone();
    if cli.mock {
        let filled = MockCluster::new(1)
            .map_err(BoxError::from)
            .and_then(|mock| {
                mock.create_topic(&cli.topic, 3, 1)?;
                let servers = mock.bootstrap_servers();
                fill_topic(&servers, &cli.topic, &cli.mock_input)?;
                Ok((mock, servers))
            });
        match filled {
            Ok((mock, servers)) => {
                _mock = Some(mock);
                brokers = servers;
            }
            Err(err) => {
                eprintln!("kafka_wordcount: starting the mock cluster: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let source = KafkaSource::new(&brokers, [cli.topic.clone()])
        .stop_at_end(cli.to_end)
        .deserialize(text);
    match run(&kafka_wordcount(source, cli.output), &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kafka_wordcount: {err}");
            ExitCode::FAILURE
        }
    }
}
