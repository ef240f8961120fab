//! `pipework-bench report`, run as a user would: the real binary on a run
//! file written here (made-up lines in the shape a run prints; they are
//! test data, not measurements), into a temporary directory.

use std::path::Path;
use std::process::{Command, Output};

/// A meta line, a scenario at one size with a failed peer, and one at
/// three sizes with two systems.
const RUN: &str = r#"{"meta":{"cores":2,"cpu":"Test CPU","kernel":"6.0-test","date":"2026-01-01T00:00:00Z","commit":"abc1234","command":"pipework-bench --peers --scaling","runs":1}}
{"scenario":"pipeline-trivial","system":"pipework","items":1000000,"seconds":0.25,"items_per_s":4000000.0,"peak_rss_bytes":4194304,"ideal_seconds":null}
{"scenario":"pipeline-trivial","system":"crossbeam-threads","items":1000000,"seconds":1.0,"items_per_s":1000000.0,"peak_rss_bytes":3145728,"ideal_seconds":null}
{"scenario":"pipeline-trivial","system":"paipa","items":10000,"error":"exited with status 1: ModuleNotFoundError: No module named 'paipa'"}
{"scenario":"jsonl-map","system":"pipework","items":10000,"seconds":0.02,"items_per_s":500000.0,"peak_rss_bytes":8388608,"ideal_seconds":null}
{"scenario":"jsonl-map","system":"abstractions","items":10000,"seconds":0.2,"items_per_s":50000.0,"peak_rss_bytes":31457280,"ideal_seconds":null}
{"scenario":"jsonl-map","system":"pipework","items":100000,"seconds":0.1,"items_per_s":1000000.0,"peak_rss_bytes":9437184,"ideal_seconds":null}
{"scenario":"jsonl-map","system":"abstractions","items":100000,"seconds":2.0,"items_per_s":50000.0,"peak_rss_bytes":62914560,"ideal_seconds":null}
{"scenario":"jsonl-map","system":"pipework","items":1000000,"seconds":1.25,"items_per_s":800000.0,"peak_rss_bytes":10485760,"ideal_seconds":null}
{"scenario":"jsonl-map","system":"abstractions","items":1000000,"error":"not run at this size: too slow"}
"#;

fn report(run: &str, out: &Path) -> Output {
    let file = out.join("run.jsonl");
    std::fs::write(&file, run).unwrap();
    Command::new(env!("CARGO_BIN_EXE_pipework-bench"))
        .arg("report")
        .arg(&file)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// Runs the report on `RUN` into `dir` and returns the BENCHMARKS.md it
/// wrote, failing with its stderr if it did not succeed.
fn benchmarks_md(dir: &Path) -> String {
    let output = report(RUN, dir);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(dir.join("BENCHMARKS.md")).unwrap()
}

#[test]
fn report_writes_benchmarks_md_and_one_svg_per_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let text = benchmarks_md(dir.path());
    for name in [
        "pipeline-trivial",
        "jsonl-map",
        "pipework",
        "crossbeam-threads",
        "paipa",
        "abstractions",
        "abc1234",
        "Test CPU",
        "`pipework-bench --peers --scaling`",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    for scenario in ["pipeline-trivial", "jsonl-map"] {
        let chart = format!("benchmarks/{scenario}.svg");
        assert!(text.contains(&format!("]({chart})")), "no link to {chart}");
        let svg = std::fs::read_to_string(dir.path().join(&chart)).unwrap();
        assert!(
            svg.starts_with("<svg") || svg.starts_with("<?xml"),
            "{chart}: {svg:.80}"
        );
        assert!(svg.trim_end().ends_with("</svg>"), "{chart} is cut short");
    }
}

#[test]
fn report_rows_give_the_ratio_the_error_and_the_scaling_words() {
    let dir = tempfile::tempdir().unwrap();
    let text = benchmarks_md(dir.path());
    let row = |start: &str| {
        text.lines()
            .find(|line| line.starts_with(start))
            .unwrap_or_else(|| panic!("no row {start} in\n{text}"))
    };
    // pipework runs 4M/s, the baseline 1M/s: pipework is 4× faster.
    assert!(
        row("| crossbeam-threads |").ends_with("| 4.00× |"),
        "{text}"
    );
    assert!(
        row("| paipa |").contains("could not run: exited with status 1"),
        "{text}"
    );
    assert!(row("| abstractions | 1M |").contains("not run at this size: too slow"));
    // jsonl-map: each size against pipework's at the same size.
    assert!(row("| abstractions | 10k |").ends_with("| 10.00× |"));
    assert!(row("| abstractions | 100k |").ends_with("| 20.00× |"));
    // 800k/s at 1M is 20% below the best (1M/s at 100k); RSS ×1.25 over ×100.
    let words = row("- **pipework**:");
    assert!(words.contains("cost per item stays flat"), "{words}");
    assert!(words.contains("memory stays bounded"), "{words}");
}

#[test]
fn report_without_a_meta_line_says_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let without: String = RUN.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let output = report(&without, dir.path());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("BENCHMARKS.md")).unwrap();
    assert!(text.contains("| commit | unknown |"), "{text}");
    assert!(text.contains("| date | unknown |"), "{text}");
}

#[test]
fn report_refuses_a_file_that_is_not_a_run_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = report("== pipeline-trivial: stderr, not stdout\n", dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 1"), "{stderr}");
    assert!(!dir.path().join("BENCHMARKS.md").exists());
}
