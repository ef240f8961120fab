//! What `pipework` is given: SRC as a stream (a pipe, `-`, `/dev/stdin`, a
//! FIFO, process substitution), a DST it cannot own, option values it cannot
//! honour, commands that cannot start. Each gets its rows or a clear error
//! (exit 2, never a panic or a hang), and leaves nothing behind.

use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::support::{assert_code, assert_stderr, scripts, Env, Run};

fn source(env: &Env) -> Vec<Value> {
    let rows = vec![
        json!({"id": 1, "n": 0}),
        json!({"id": 2, "n": 1}),
        json!({"id": 1, "n": 2}),
    ];
    env.write_rows("in.jsonl", &rows);
    env.script("echo.sh", scripts::ECHO);
    rows
}

/// `pipework ARGS` with SRC's bytes arriving through a real pipe on stdin.
fn run_piped(env: &Env, args: &[&str]) -> Run {
    let mut cat = Command::new("cat")
        .arg(env.path("in.jsonl"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cat: {e}"));
    let mut command = env.pipework(args);
    command.stdin(Stdio::from(cat.stdout.take().expect("piped")));
    let run = env.run_command(command);
    let _ = cat.wait();
    run
}

/// DST holds every source row once, in source order, with CMD's answer.
fn assert_rows(env: &Env, dst: &str, rows: &[Value]) {
    let out = env.rows(dst);
    let ns: Vec<&Value> = out.iter().map(|row| &row["n"]).collect();
    let expected: Vec<&Value> = rows.iter().map(|row| &row["n"]).collect();
    assert_eq!(ns, expected, "{out:?}");
}

/// No spool (`.DST.src-…`) and no lock file is left in the directory.
fn assert_no_leftovers(env: &Env) {
    let left: Vec<String> = std::fs::read_dir(env.dir())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".src-") || name.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_piped_src_as_dash_and_as_dev_stdin_gives_every_row_and_resumes() {
    for src in ["-", "/dev/stdin"] {
        let env = Env::new();
        let rows = source(&env);
        let args = [
            "map",
            src,
            "out.jsonl",
            "--key",
            "id",
            "--keep",
            "n",
            "--",
            "./echo.sh",
        ];
        let run = run_piped(&env, &args);
        assert_code(&run, 0);
        assert_stderr(&run, "3/3 rows");
        assert_rows(&env, "out.jsonl", &rows);
        assert_eq!(env.calls().len(), 2, "{src}: one call per key");
        // The same stream again: nothing to do, nothing paid twice.
        let again = run_piped(&env, &args);
        assert_code(&again, 0);
        assert_stderr(&again, "3 already there");
        assert_eq!(env.calls().len(), 2, "{src}: the rerun called nothing");
        assert_rows(&env, "out.jsonl", &rows);
        assert_no_leftovers(&env);
    }
}

#[test]
fn a_fifo_and_process_substitution_as_src_give_every_row() {
    let env = Env::new();
    let rows = source(&env);
    let made = Command::new("mkfifo").arg(env.path("src.fifo")).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    // The writer comes after pipework has opened the FIFO (or is waiting
    // in open for one): either way the rows arrive.
    let mut writer = Command::new("sh")
        .args(["-c", "sleep 0.3; cat in.jsonl > src.fifo"])
        .current_dir(env.dir())
        .spawn()
        .unwrap_or_else(|e| panic!("sh: {e}"));
    let run = env.run(&[
        "flatmap",
        "src.fifo",
        "fifo.jsonl",
        "--key",
        "n",
        "--keep",
        "n",
        "--",
        "./echo.sh",
    ]);
    let _ = writer.wait();
    assert_code(&run, 0);
    assert_rows(&env, "fifo.jsonl", &rows);

    let mut command = Command::new("bash");
    command
        .args([
            "-c",
            "exec \"$0\" map <(cat in.jsonl) sub.jsonl --key id --keep n -- ./echo.sh",
        ])
        .arg(env!("CARGO_BIN_EXE_pipework"))
        .current_dir(env.dir())
        .env("CALLS", env.path("calls.log"));
    let run = env.run_command(command);
    assert_code(&run, 0);
    assert_rows(&env, "sub.jsonl", &rows);
    assert_no_leftovers(&env);
}

#[test]
fn an_error_in_a_streamed_src_names_the_stream_and_its_line() {
    let env = Env::new();
    env.write("in.jsonl", "{\"id\": 1}\n\nnot json\n");
    env.script("echo.sh", scripts::ECHO);
    let run = run_piped(
        &env,
        &["map", "-", "out.jsonl", "--key", "id", "--", "./echo.sh"],
    );
    assert_code(&run, 2);
    assert_stderr(&run, "standard input:3: invalid json");
    assert!(!run.stderr.contains(".src-"), "{}", run.stderr);
    assert_no_leftovers(&env);
}

#[test]
fn a_dst_that_is_not_a_file_is_refused_at_once() {
    let env = Env::new();
    source(&env);
    let made = Command::new("mkfifo").arg(env.path("dst.fifo")).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    std::os::unix::fs::symlink("/dev/full", env.path("full.jsonl"))
        .unwrap_or_else(|e| panic!("symlink: {e}"));
    for (dst, kind) in [
        ("dst.fifo", "a FIFO"),
        ("/dev/full", "a character device"),
        ("full.jsonl", "a character device"),
    ] {
        let run = env.run(&["map", "in.jsonl", dst, "--key", "id", "--", "./echo.sh"]);
        assert_code(&run, 2);
        assert_stderr(&run, &format!("{dst} is {kind}, not a regular file"));
        assert!(
            !std::path::Path::new(&format!("{dst}.lock")).exists(),
            "{dst}"
        );
    }
    assert!(env.calls().is_empty(), "no command ran");
    assert_no_leftovers(&env);
}

#[test]
fn option_values_that_cannot_be_honoured_are_usage_errors() {
    let env = Env::new();
    source(&env);
    for (option, value, says) in [
        ("--timeout", "1e20", "longer than a year"),
        ("--timeout", "-1", "-1 is not a positive number of seconds"),
        ("--timeout", "0", "not a positive number"),
        ("--timeout", "soon", "not a number of seconds"),
        ("--jobs", "-1", "-1 is not in 1..="),
        ("--jobs", "0", "0 is not in 1..="),
        ("--jobs", "99999999999", "is not in 1..="),
    ] {
        let run = env.run(&[
            "map",
            "in.jsonl",
            "out.jsonl",
            "--key",
            "id",
            option,
            value,
            "--",
            "./echo.sh",
        ]);
        assert_code(&run, 2);
        assert_stderr(&run, says);
        assert!(!run.stderr.contains("-- -1"), "{}", run.stderr);
    }
    env.write("keys.txt", "a\n");
    for (option, value) in [("--count", "-1"), ("--count", "10000000000")] {
        let run = env.run(&[
            "generate",
            "g.jsonl",
            "--key",
            "k",
            "--keys",
            "keys.txt",
            option,
            value,
            "--",
            "./echo.sh",
        ]);
        assert_code(&run, 2);
        assert_stderr(&run, "is not in 0..=");
    }
    let run = env.run(&["recovery", "init", "r", "--parts", "0"]);
    assert_code(&run, 2);
    assert!(env.calls().is_empty());
}

#[test]
fn each_kind_of_command_that_cannot_start_is_named_before_any_work() {
    let env = Env::new();
    source(&env);
    env.script("crlf.sh", "\r\necho '{}'\r\n");
    // `script` writes "#!/bin/sh\n" first: make the CRLF one by hand.
    env.write("crlf.sh", "#!/bin/sh\r\necho '{}'\r\n");
    env.script("bare.sh", "");
    env.write("bare.sh", "echo '{}'\n");
    env.script("nointerp.sh", "");
    env.write("nointerp.sh", "#!/opt/no/such/python\nprint('{}')\n");
    env.write("plain.sh", "#!/bin/sh\necho '{}'\n");
    std::fs::create_dir(env.path("adir")).unwrap_or_else(|e| panic!("{e}"));
    for (cmd, says) in [
        ("./crlf.sh", "carriage return"),
        ("./bare.sh", "no #! line"),
        ("./nointerp.sh", "/opt/no/such/python"),
        ("./plain.sh", "not executable"),
        ("./adir", "is a directory"),
        ("./missing.sh", "command not found"),
        ("no-such-command-anywhere", "command not found in PATH"),
    ] {
        let run = env.run(&["map", "in.jsonl", "out.jsonl", "--key", "id", "--", cmd]);
        assert_code(&run, 2);
        assert_stderr(&run, says);
        assert_stderr(&run, cmd.trim_start_matches("./"));
    }
    assert!(
        !env.path("out.jsonl").exists(),
        "nothing was started or written"
    );
}

#[test]
fn the_progress_total_skips_blank_lines_and_flatmap_says_what_it_added() {
    let env = Env::new();
    env.write("in.jsonl", "{\"id\": 1}\n\n   \n{\"id\": 2}\n");
    env.script("two.sh", scripts::TWO_LINES);
    let run = env.run_by_id("flatmap", &[], &["./two.sh"]);
    assert_code(&run, 0);
    assert_stderr(&run, "2/2 rows");
    assert_stderr(&run, "4 rows added to DST");
    assert_eq!(env.rows("out.jsonl").len(), 4);

    // Another SRC altogether: into a new DST.
    for made in ["out.jsonl", "out.jsonl.manifest", "out.jsonl.done"] {
        let _ = std::fs::remove_file(env.path(made));
    }
    env.write("in.jsonl", "{\"id\": 1}\n{\"id\": 1}\n");
    let run = env.run_by_id("flatmap", &[], &["./two.sh"]);
    assert_code(&run, 2);
    assert_stderr(&run, "a flatmap needs unique keys");
    assert!(!run.stderr.contains("flatmap_by_key"), "{}", run.stderr);
}

#[test]
fn generate_takes_each_key_exactly_as_written() {
    let env = Env::new();
    env.write("keys.txt", "a\nb \n\n  \nc\r\n");
    env.script("echo.sh", scripts::ECHO);
    let run = env.run(&[
        "generate",
        "g.jsonl",
        "--key",
        "k",
        "--count",
        "1",
        "--keys",
        "keys.txt",
        "--",
        "./echo.sh",
    ]);
    assert_code(&run, 0);
    let mut keys: Vec<String> = env
        .rows("g.jsonl")
        .iter()
        .map(|row| row["k"].as_str().unwrap_or("?").to_owned())
        .collect();
    keys.sort();
    assert_eq!(keys, ["a", "b ", "c"]);
}
