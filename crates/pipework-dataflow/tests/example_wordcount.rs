//! Runs the `wordcount` example binary on the shipped corpus with one
//! worker, two threads and two processes, and checks each output against a
//! sequential count.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::cluster;
use support::example::wordcount_binary;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data")
}

/// The expected output lines, sorted, computed without the dataflow.
fn sequential_counts() -> Vec<String> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut lines = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        for word in std::fs::read_to_string(file)
            .unwrap()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let word = word.to_lowercase();
            let n = counts.entry(word.clone()).or_insert(0);
            *n += 1;
            lines.push(format!("{word}\t{n}"));
        }
    }
    lines.sort();
    lines
}

fn sorted_file(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

#[test]
fn wordcount_output_is_the_same_on_one_worker_two_threads_and_two_processes() {
    let binary = wordcount_binary();
    let expected = sequential_counts();
    assert!(
        expected.len() > 300,
        "the corpus should be a few hundred words"
    );
    let dir = tempfile::tempdir().unwrap();
    let input = corpus().display().to_string();

    for workers in ["1", "2"] {
        let output = dir.path().join(format!("w{workers}.tsv"));
        let status = Command::new(&binary)
            .args([
                "--input",
                &input,
                "--output",
                &output.display().to_string(),
                "-w",
                workers,
            ])
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(sorted_file(&output), expected, "-w {workers}");
    }

    let output = dir.path().join("two_processes.tsv");
    let outcomes = cluster::run_processes(
        &binary,
        &["--input", &input, "--output", &output.display().to_string()],
        &[],
        2,
        1,
        Duration::from_secs(60),
    );
    for outcome in &outcomes {
        assert!(outcome.succeeded(), "{outcome:?}");
    }
    assert_eq!(sorted_file(&output), expected, "2 processes");
}

#[test]
fn wordcount_reads_a_single_file_and_reports_bad_arguments() {
    let binary = wordcount_binary();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("one.tsv");
    let file = corpus().join("notes.md");
    let status = Command::new(&binary)
        .args([
            "--input",
            &file.display().to_string(),
            "--output",
            &output.display().to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let lines = sorted_file(&output);
    assert!(lines.contains(&"the\t3".to_string()), "{lines:?}");

    let bad = Command::new(&binary)
        .args([
            "--input",
            "x",
            "--output",
            &dir.path().join("never.tsv").display().to_string(),
            "-i",
            "5",
            "-a",
            "127.0.0.1:1;127.0.0.1:2",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("process id 5 is out of range"));

    // A missing input fails before the output file is created or truncated.
    let kept = dir.path().join("kept.tsv");
    std::fs::write(&kept, "earlier results\n").unwrap();
    let missing = Command::new(&binary)
        .args([
            "--input",
            "/no/such/input",
            "--output",
            &kept.display().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("input step `read`"));
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "earlier results\n");
}
