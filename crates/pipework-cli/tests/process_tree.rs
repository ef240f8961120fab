//! Nothing a run starts outlives it: every kill (`--timeout`, a second
//! interrupt, a run stopped by an error) ends a command's whole process
//! group, a key ends when its command exits even if a background child holds
//! stdout open, and SIGTERM and SIGHUP stop a run as Ctrl-C does.
//!
//! Leftovers are found by working directory (`support/processes.rs`): every
//! command tree runs in the test's scratch directory. Each wait here is
//! bounded by the harness's patience; the commands sleep for 600 s, so a
//! run that waited for one of them, or a test that left one, fails.

use std::time::{Duration, Instant};

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::support::small_disk::SmallDisk;
use crate::support::{assert_code, by_id, Env};

/// How long a group on its way out may take: SIGTERM, the 2 s grace, then
/// SIGKILL, with room for a loaded machine.
const GONE_WITHIN: Duration = Duration::from_secs(15);

/// pipework has sent the last signal to every group before it exits, but a
/// process killed a moment ago may still be on its way out.
const SETTLE: Duration = Duration::from_secs(5);

/// Far below the 600 s every held command sleeps, far above what a run that
/// ends its groups needs on a busy 2-core machine.
const PROMPT: Duration = Duration::from_secs(30);

/// Runs a child and a background child, both for 600 s, unless `go` exists;
/// then answers `{"input": ROW}` (its background child still running, and
/// holding stdout open).
const HOLD: &str = r#"row=$(cat)
printf '%s\n' "$row" >> "$CALLS"
sleep 600 &
if [ ! -e go ]; then sleep 600; fi
printf '{"input":%s}\n' "$row"
"#;

fn keys(env: &Env, n: i64) {
    let rows: Vec<Value> = (0..n).map(|k| json!({"id": k})).collect();
    env.write_rows("in.jsonl", &rows);
}

/// Every source row is in DST exactly once, with the answer of `HOLD`.
fn assert_complete(env: &Env, n: i64) {
    let mut ids: Vec<i64> = env
        .rows("out.jsonl")
        .iter()
        .map(|row| {
            assert_eq!(row["input"]["id"], row["id"], "{row}");
            row["id"].as_i64().unwrap_or(-1)
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..n).collect::<Vec<_>>());
}

#[test]
fn timeout_ends_the_commands_children_too() {
    let env = Env::new();
    keys(&env, 3);
    env.script("hold.sh", HOLD);
    let started = Instant::now();
    let run = env.run_by_id(
        "map",
        &["--jobs", "3", "--timeout", "1", "--on-error", "skip"],
        &["./hold.sh"],
    );
    assert_code(&run, 1);
    assert!(run.stderr.contains("timed out after 1s"), "{}", run.stderr);
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    // pipework waits for every group before it exits: nothing is on its way.
    env.assert_nothing_left(SETTLE);
    assert!(env.rows("out.jsonl").is_empty());
}

#[test]
fn a_key_ends_when_its_command_exits_although_a_background_child_holds_stdout() {
    let env = Env::new();
    keys(&env, 3);
    env.script("hold.sh", HOLD);
    env.write("go", "");
    let started = Instant::now();
    let run = env.run_by_id("map", &["--jobs", "2"], &["./hold.sh"]);
    assert_code(&run, 0);
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    assert_complete(&env, 3);
    env.assert_nothing_left(SETTLE);
}

#[test]
fn flatmap_and_generate_end_their_commands_children_too() {
    let env = Env::new();
    keys(&env, 2);
    env.script("hold.sh", HOLD);
    env.write("go", "");
    let run = env.run_by_id("flatmap", &["--jobs", "2"], &["./hold.sh"]);
    assert_code(&run, 0);
    assert_eq!(env.rows("out.jsonl").len(), 2);
    env.assert_nothing_left(SETTLE);

    std::fs::remove_file(env.path("go")).unwrap_or_else(|e| panic!("rm go: {e}"));
    env.write("keys.txt", "a\nb\n");
    let run = env.run(&[
        "generate",
        "gen.jsonl",
        "--key",
        "topic",
        "--count",
        "1",
        "--keys",
        "keys.txt",
        "--timeout",
        "1",
        "--on-error",
        "skip",
        "--",
        "./hold.sh",
    ]);
    assert_code(&run, 1);
    env.assert_nothing_left(SETTLE);
}

/// Under `--on-error raise` a failed key winds the run down: the calls
/// already running finish (they are paid for), and what they left running
/// is ended with them.
#[test]
fn on_error_raise_leaves_nothing_of_the_calls_it_let_finish() {
    let env = Env::new();
    env.write_rows(
        "in.jsonl",
        &[json!({"id": 0}), json!({"id": 1}), json!({"id": "bad"})],
    );
    env.script(
        "cmd.sh",
        &HOLD.replace(
            "sleep 600 &",
            "case \"$row\" in *bad*) exit 3 ;; esac\nsleep 600 &",
        ),
    );
    env.write("go", "");
    let run = env.run_by_id("map", &["--jobs", "3"], &["./cmd.sh"]);
    assert_code(&run, 2);
    assert!(run.stderr.contains("key \"bad\""), "{}", run.stderr);
    env.assert_nothing_left(SETTLE);
}

/// A writer that fails (here: a full disk) aborts the running calls at
/// once: their whole groups are killed, and the run exits 4 (I/O).
#[test]
fn a_failed_writer_kills_the_running_commands_groups() {
    let Some(disk) = SmallDisk::mount_or_skip("12k") else {
        return;
    };
    let env = Env::new();
    env.write_rows(
        "in.jsonl",
        &[json!({"id": "big"}), json!({"id": 1}), json!({"id": 2})],
    );
    // The first key answers with more than the disk holds; the others hold.
    env.script(
        "cmd.sh",
        &HOLD.replace(
            "sleep 600 &",
            "case \"$row\" in *big*) printf '{\"pad\":\"%070000d\"}\\n' 0; exit 0 ;; esac\nsleep 600 &",
        ),
    );
    let dst = disk.path().join("out.jsonl");
    let dst = dst.to_string_lossy();
    let started = Instant::now();
    let run = env.run(&[
        "map", "in.jsonl", &dst, "--key", "id", "--jobs", "3", "--", "./cmd.sh",
    ]);
    assert_code(&run, 4);
    assert!(
        run.stderr.contains("No space left on device"),
        "{}",
        run.stderr
    );
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    env.assert_nothing_left(SETTLE);
}

/// A signal twice while three commands (and their children) sleep: the
/// second kills every group, the exit code is 128 + the first signal, and
/// the rerun completes every row exactly once.
fn twice_kills_every_group_and_a_rerun_completes(signal: &str, code: i32) {
    let env = Env::new();
    keys(&env, 5);
    env.script("hold.sh", HOLD);
    let args = by_id("map", &["--jobs", "3"], &["./hold.sh"]);
    let mut run = env.start(&args);
    env.wait_for_calls(3);
    run.signal(signal);
    run.wait_for_stderr("starting no new commands");
    run.wait_for_stderr("again kills them");
    let started = Instant::now();
    run.signal(signal);
    let (status, stderr) = run.finish();
    assert_eq!(status.code(), Some(code), "{stderr}");
    assert!(started.elapsed() < PROMPT, "took {:?}", started.elapsed());
    assert!(stderr.contains("killing the running commands"), "{stderr}");
    env.assert_nothing_left(SETTLE);
    assert!(env.rows("out.jsonl").is_empty());
    assert_eq!(
        env.calls().len(),
        3,
        "nothing started after the first signal"
    );

    env.write("go", "");
    assert_code(&env.run(&args), 0);
    assert_complete(&env, 5);
    assert_eq!(env.calls().len(), 3 + 5, "the rerun called each key once");
    env.assert_nothing_left(SETTLE);
}

#[test]
fn ctrl_c_twice_kills_every_group() {
    twice_kills_every_group_and_a_rerun_completes("INT", 130);
}

#[test]
fn sigterm_twice_kills_every_group() {
    twice_kills_every_group_and_a_rerun_completes("TERM", 143);
}

#[test]
fn sighup_twice_kills_every_group() {
    twice_kills_every_group_and_a_rerun_completes("HUP", 129);
}

#[test]
fn one_sigterm_lets_running_commands_finish_and_exits_143() {
    let env = Env::new();
    keys(&env, 4);
    env.script("hold.sh", HOLD);
    let args = by_id("map", &["--jobs", "2"], &["./hold.sh"]);
    let mut run = env.start(&args);
    env.wait_for_calls(2);
    run.signal("TERM");
    run.wait_for_stderr("interrupted by SIGTERM");
    // The held commands are still running: only their own end finishes them.
    assert!(!run.has_exited());
    // Each held command sleeps twice (in the foreground and in the
    // background); ending those sleeps lets it answer.
    let deadline = Instant::now() + PROMPT;
    let sleeps = || {
        env.processes()
            .into_iter()
            .filter(|found| found.cmdline == "sleep 600")
            .collect::<Vec<_>>()
    };
    while sleeps().len() < 4 {
        assert!(Instant::now() < deadline, "{:?}", env.processes());
        std::thread::sleep(Duration::from_millis(10));
    }
    for found in sleeps() {
        let _ = std::process::Command::new("kill")
            .arg(found.pid.to_string())
            .status();
    }
    let (status, stderr) = run.finish();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert_eq!(env.rows("out.jsonl").len(), 2, "{stderr}");
    env.assert_nothing_left(SETTLE);
}

/// `kill -9` of pipework: the commands it started die with it (on Linux,
/// by their parent-death signal). Their own children are not covered (see
/// the README); the scratch directory's cleanup ends those.
#[test]
#[cfg(target_os = "linux")]
fn kill_9_of_pipework_takes_its_commands_with_it() {
    let env = Env::new();
    keys(&env, 3);
    env.script("hold.sh", HOLD);
    let mut run = env.start_by_id("map", &["--jobs", "3"], &["./hold.sh"]);
    env.wait_for_calls(3);
    run.signal("KILL");
    let _ = run.finish();
    let deadline = Instant::now() + GONE_WITHIN;
    let leaders = || {
        env.processes()
            .into_iter()
            .filter(|found| found.cmdline.contains("hold.sh"))
            .collect::<Vec<_>>()
    };
    while !leaders().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(leaders(), []);
}

/// What a command does, chosen per key by the `mode` column; once `go`
/// exists, each answers at once (but `background` still leaves a child).
const MODES: &str = r#"row=$(cat)
printf '%s\n' "$row" >> "$CALLS"
case "$row" in
  *'"quick"'*) ;;
  *'"background"'*) sleep 600 & ;;
  *'"hold"'*) [ -e go ] || sleep 600 ;;
  *'"stubborn"'*) trap '' TERM; [ -e go ] || sleep 600 ;;
  *'"subshell"'*) ( [ -e go ] || sleep 600 ) ;;
  *'"flood"'*) head -c 300000 /dev/zero | tr '\0' x >&2; [ -e go ] || sleep 600 ;;
  *'"fail"'*) [ -e go ] || exit 3 ;;
esac
printf '{"ok":1}\n'
"#;

const MODE_NAMES: [&str; 7] = [
    "quick",
    "background",
    "hold",
    "stubborn",
    "subshell",
    "flood",
    "fail",
];

const SIGNALS: [&str; 3] = ["INT", "TERM", "HUP"];

/// How a trial stops its run.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// `--timeout 1`, under `--on-error skip` or `raise` (where a timeout or
    /// a failing key stops the run and kills the other running groups).
    Timeout { raise: bool },
    /// Two signals, each after a random pause.
    Twice(&'static str, &'static str, Duration, Duration),
}

/// A search over what the commands do (fork, hold, ignore SIGTERM, flood
/// stderr, fail) and how the run is stopped (a timeout, two signals at
/// random moments, an error under `--on-error raise`): however it ends, no
/// process is left, and a rerun writes every row exactly once.
#[test]
fn random_stops_leave_no_process_and_a_rerun_completes() {
    let trials: u64 = std::env::var("PIPEWORK_KILL_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6);
    let seed: u64 = std::env::var("PIPEWORK_KILL_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut pick = |from: &[&'static str]| *from.choose(&mut rng).unwrap_or(&from[0]);
    for trial in 0..trials {
        let env = Env::new();
        let n = 3 + trial % 5;
        let rows: Vec<Value> = (0..n)
            .map(|k| json!({"id": k, "mode": pick(&MODE_NAMES)}))
            .collect();
        env.write_rows("in.jsonl", &rows);
        env.script("cmd.sh", MODES);
        let subcommand = pick(&["map", "flatmap"]);
        let jobs = pick(&["1", "2", "3"]);
        let stop = if pick(&["timeout", "signals"]) == "timeout" {
            Stop::Timeout {
                raise: pick(&["raise", "skip"]) == "raise",
            }
        } else {
            let pauses = ["0", "50", "200", "600"];
            let (first, second) = (pick(&SIGNALS), pick(&SIGNALS));
            let (before_first, before_second) = (pick(&pauses), pick(&pauses));
            let ms = |text: &str| Duration::from_millis(text.parse().unwrap_or(0));
            Stop::Twice(first, second, ms(before_first), ms(before_second))
        };
        let context = format!("PIPEWORK_KILL_SEED={seed}, trial {trial}: {subcommand} -j {jobs} {stop:?} over {rows:?}");
        let mut args = vec![
            subcommand,
            "in.jsonl",
            "out.jsonl",
            "--key",
            "id",
            "--jobs",
            jobs,
        ];
        match stop {
            Stop::Timeout { raise } => {
                args.extend([
                    "--timeout",
                    "1",
                    "--on-error",
                    if raise { "raise" } else { "skip" },
                ]);
            }
            Stop::Twice(..) => args.extend(["--on-error", "skip"]),
        }
        args.extend(["--", "./cmd.sh"]);

        let mut run = env.start(&args);
        env.wait_for_calls(1);
        if let Stop::Twice(first, second, before_first, before_second) = stop {
            std::thread::sleep(before_first);
            run.signal(first);
            std::thread::sleep(before_second);
            run.signal(second);
        }
        let (status, stderr) = run.finish();
        assert!(status.code().is_some(), "{context}: {status}\n{stderr}");
        let left = crate::support::processes::wait_until_gone(env.dir(), SETTLE);
        assert!(left.is_empty(), "{context}: left {left:#?}\n{stderr}");

        env.write("go", "");
        let rerun = env.run(&[
            subcommand,
            "in.jsonl",
            "out.jsonl",
            "--key",
            "id",
            "--",
            "./cmd.sh",
        ]);
        assert_code(&rerun, 0);
        let mut ids: Vec<u64> = env
            .rows("out.jsonl")
            .iter()
            .map(|row| row["id"].as_u64().unwrap_or(u64::MAX))
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..n).collect::<Vec<_>>(), "{context}");
        let left = crate::support::processes::wait_until_gone(env.dir(), SETTLE);
        assert!(left.is_empty(), "{context}: the rerun left {left:#?}");
    }
}
