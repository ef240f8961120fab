//! The harness's command line and its output format, run as a user would:
//! the real binary, Rust systems only, quick sizes.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pipework-bench"))
}

#[test]
fn unknown_scenario_exits_2_and_lists_the_scenarios() {
    let output = bench().arg("no-such-scenario").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("unknown scenario `no-such-scenario`"),
        "{stderr}"
    );
    for name in [
        "pipeline-trivial",
        "run-bounded-sleep",
        "dataflow-file",
        "dataflow-recovery",
    ] {
        assert!(stderr.contains(name), "{name} missing from {stderr}");
    }
}

#[test]
fn list_names_every_contract_scenario() {
    let output = bench().arg("--list").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    for name in [
        "pipeline-trivial",
        "pipeline-io",
        "pipeline-endless-rss",
        "run-bounded-trivial",
        "run-bounded-sleep",
        "buffered-trivial",
        "buffered-sleep",
        "jsonl-map",
        "dataflow-file",
        "dataflow-recovery",
    ] {
        assert!(stdout.contains(name), "{name} missing from {stdout}");
    }
}

#[test]
fn quick_run_prints_one_contract_line_per_rust_system() {
    let output = bench()
        .args(["--quick", "pipeline-trivial", "dataflow-file"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // The first line says where and how the run was made; the report
    // command reads it.
    let meta = lines.remove(0);
    let meta = meta["meta"].as_object().unwrap_or_else(|| panic!("{meta}"));
    for field in ["cpu", "kernel", "date", "commit", "command"] {
        assert!(
            meta[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}: {meta:?}"
        );
    }
    assert!(meta["command"]
        .as_str()
        .unwrap()
        .ends_with("--quick pipeline-trivial dataflow-file"));
    assert_eq!(meta["runs"].as_u64(), Some(1));
    let systems: BTreeSet<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["scenario"].as_str().unwrap(),
                l["system"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(systems.contains(&("pipeline-trivial", "crossbeam-threads")));
    assert!(systems.contains(&("dataflow-file", "bufread-loop")));
    // Without --peers no Python system runs.
    assert!(!systems
        .iter()
        .any(|(_, s)| ["paipa", "bytewax"].contains(s)));
    for line in &lines {
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "scenario",
            "system",
            "items",
            "seconds",
            "items_per_s",
            "peak_rss_bytes",
            "ideal_seconds",
        ];
        expected.sort_unstable();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, expected, "{line}");
        let items = line["items"].as_f64().unwrap();
        let seconds = line["seconds"].as_f64().unwrap();
        let rate = line["items_per_s"].as_f64().unwrap();
        assert!(seconds > 0.0, "{line}");
        assert!((rate - items / seconds).abs() <= rate * 0.01, "{line}");
        assert!(line["peak_rss_bytes"].as_u64().unwrap() > 1 << 20, "{line}");
    }
    assert_eq!(lines[0]["items"].as_u64(), Some(100_000));
}

#[test]
fn several_runs_give_the_fastest_and_slowest_beside_the_median() {
    let output = bench()
        .args(["--quick", "--runs", "2", "pipeline-trivial"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let figures: Vec<Value> = stdout
        .lines()
        .skip(1)
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(!figures.is_empty());
    for line in &figures {
        let [min, median, max] =
            ["seconds_min", "seconds", "seconds_max"].map(|key| line[key].as_f64().unwrap());
        assert!(min <= median && median <= max, "{line}");
    }
}

#[test]
fn child_refuses_a_system_the_scenario_does_not_have() {
    let output = bench()
        .args(["__run", "pipeline-trivial", "no-such-system", "10"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("has no system `no-such-system`"),
        "{stderr}"
    );
}

#[test]
fn zero_runs_is_a_usage_error() {
    let output = bench()
        .args(["--runs", "0", "dataflow-file"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}

#[test]
fn scaling_sizes_and_quick_sizes_together_are_a_usage_error() {
    let output = bench()
        .args(["--scaling", "--quick", "jsonl-map"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}
