//! The options for paid calls: `--retries` (with `retry-after`), `--rate`,
//! `--max-failures`, and the failure log `DST.failed`. Time is asserted as
//! lower bounds only: a loaded machine makes runs slower, never faster.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::support::http::Service;
use crate::support::{assert_code, assert_stderr, Env};

/// Fails the first `fail` attempts of each key (`fail` is the row's
/// column, default 2), then answers; every attempt appends the key to
/// `$CALLS`. Attempts are counted in `tries.KEY`.
const FLAKY: &str = r#"row=$(cat)
key=$(printf '%s' "$row" | sed 's/.*"id":\([0-9]*\).*/\1/')
fail=$(printf '%s' "$row" | sed -n 's/.*"fail":\([0-9]*\).*/\1/p')
printf '%s\n' "$key" >> "$CALLS"
echo x >> "tries.$key"
n=$(wc -l < "tries.$key")
if [ "$n" -le "${fail:-2}" ]; then echo "attempt $n of key $key failed" >&2; exit 3; fi
printf '{"attempts":%s}\n' "$n"
"#;

fn keys(env: &Env, n: u64) {
    let rows: Vec<Value> = (0..n).map(|k| json!({"id": k})).collect();
    env.write_rows("in.jsonl", &rows);
}

/// How many times each key was called.
fn calls_per_key(env: &Env) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for key in env.calls() {
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// The failure log's lines.
fn failed(env: &Env) -> Vec<Value> {
    env.rows("out.jsonl.failed")
}

#[test]
fn retries_try_each_failed_call_again_exactly_as_often_as_asked() {
    let env = Env::new();
    keys(&env, 4);
    env.script("flaky.sh", FLAKY);
    let run = env.run_by_id(
        "map",
        &["--retries", "2", "--retry-delay", "0.01"],
        &["./flaky.sh"],
    );
    assert_code(&run, 0);
    assert_stderr(&run, "8 retried");
    assert!(
        calls_per_key(&env).values().all(|&n| n == 3),
        "{:?}",
        calls_per_key(&env)
    );
    assert!(env.rows("out.jsonl").iter().all(|row| row["attempts"] == 3));
    assert!(!env.path("out.jsonl.failed").exists());

    let env = Env::new();
    keys(&env, 4);
    env.script("flaky.sh", FLAKY);
    let run = env.run_by_id(
        "map",
        &[
            "--retries",
            "1",
            "--retry-delay",
            "0.01",
            "--on-error",
            "skip",
        ],
        &["./flaky.sh"],
    );
    assert_code(&run, 1);
    assert!(
        calls_per_key(&env).values().all(|&n| n == 2),
        "{:?}",
        calls_per_key(&env)
    );
    assert_stderr(&run, "4 failed keys are listed in out.jsonl.failed");
    let log = failed(&env);
    let logged: BTreeSet<u64> = log.iter().filter_map(|l| l["key"].as_u64()).collect();
    assert_eq!(logged, (0..4).collect());
    for line in &log {
        assert_eq!(line["attempts"], 2, "{line}");
        assert_eq!(line["exit"], 3, "{line}");
        assert!(
            line["stderr"].as_str().unwrap_or("").contains("attempt 2"),
            "{line}"
        );
    }

    // The rerun finds the keys' third attempts succeed: DST complete, the
    // log gone.
    let run = env.run_by_id("map", &["--on-error", "skip"], &["./flaky.sh"]);
    assert_code(&run, 0);
    assert_eq!(env.rows("out.jsonl").len(), 4);
    assert!(
        !env.path("out.jsonl.failed").exists(),
        "a complete run removes the log"
    );
}

#[test]
fn a_command_that_asks_to_retry_after_a_while_is_retried_no_sooner() {
    let env = Env::new();
    keys(&env, 1);
    env.script(
        "busy.sh",
        r#"cat > /dev/null
printf 'x\n' >> "$CALLS"
if [ ! -e asked ]; then : > asked; echo "slow down" >&2; echo "retry-after: 1.5" >&2; exit 75; fi
echo '{"ok":1}'
"#,
    );
    let started = Instant::now();
    let run = env.run_by_id(
        "map",
        &["--retries", "1", "--retry-delay", "0.01"],
        &["./busy.sh"],
    );
    assert_code(&run, 0);
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(env.calls().len(), 2);
}

#[test]
fn rate_spreads_call_starts_across_all_jobs() {
    let env = Env::new();
    keys(&env, 30);
    env.script(
        "ok.sh",
        "cat > /dev/null\nprintf 'x\\n' >> \"$CALLS\"\necho '{\"ok\":1}'\n",
    );
    let started = Instant::now();
    let run = env.run_by_id("map", &["--rate", "10/s", "--jobs", "8"], &["./ok.sh"]);
    assert_code(&run, 0);
    // 30 starts, one every 100 ms, the first at once: at least 2.9 s.
    assert!(
        started.elapsed() >= Duration::from_millis(2900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(env.calls().len(), 30);
}

#[test]
fn a_rate_limited_flaky_http_service_gets_every_key_without_being_flooded() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: curl is not installed");
        return;
    }
    // 429 above 20 requests a second, 500 for 5% of the rest.
    let service = Service::start(20, 0.05);
    let env = Env::new();
    keys(&env, 40);
    env.script(
        "fetch.sh",
        &format!(
            "key=$(sed 's/.*\"id\":\\([0-9]*\\).*/\\1/')\nprintf '%s\\n' \"$key\" >> \"$CALLS\"\n\
             exec curl --fail --silent --show-error --max-time 10 http://127.0.0.1:{}/item/$key\n",
            service.port
        ),
    );
    let run = env.run_by_id(
        "map",
        &[
            "--rate",
            "10/s",
            "--jobs",
            "8",
            "--retries",
            "3",
            "--retry-delay",
            "0.05",
        ],
        &["./fetch.sh"],
    );
    assert_code(&run, 0);
    let rows = env.rows("out.jsonl");
    assert_eq!(rows.len(), 40);
    for row in &rows {
        assert_eq!(row["path"], format!("/item/{}", row["id"]), "{row}");
    }
    assert!(
        service.busiest_second() <= 20,
        "{} requests in one second",
        service.busiest_second()
    );
}

#[test]
fn max_failures_stops_starting_calls_once_the_budget_is_spent() {
    let env = Env::new();
    keys(&env, 50);
    env.script(
        "fail.sh",
        "cat > /dev/null\nprintf 'x\\n' >> \"$CALLS\"\nexit 9\n",
    );
    let run = env.run_by_id(
        "map",
        &["--on-error", "skip", "--max-failures", "5", "--jobs", "2"],
        &["./fail.sh"],
    );
    assert_code(&run, 1);
    assert_stderr(&run, "--max-failures 5 failed keys");
    let calls = env.calls().len();
    assert!(
        (5..=5 + 2).contains(&calls),
        "{calls} calls for a budget of 5 and 2 jobs"
    );
    assert_eq!(failed(&env).len(), calls, "each failed key is logged");

    let env = Env::new();
    keys(&env, 200);
    env.script(
        "fail.sh",
        "cat > /dev/null\nprintf 'x\\n' >> \"$CALLS\"\nexit 9\n",
    );
    let run = env.run_by_id(
        "map",
        &["--on-error", "skip", "--max-failures", "50%", "--jobs", "3"],
        &["./fail.sh"],
    );
    assert_code(&run, 1);
    assert_stderr(&run, "50% of the keys tried");
    let calls = env.calls().len();
    assert!(
        (20..=20 + 3).contains(&calls),
        "{calls} calls: judged at 20 keys tried"
    );
}

#[test]
fn no_retry_starts_after_the_first_interrupt() {
    let env = Env::new();
    keys(&env, 2);
    env.script(
        "fail.sh",
        "cat > /dev/null\nprintf 'x\\n' >> \"$CALLS\"\nsleep 0.3\nexit 9\n",
    );
    let args = [
        "map",
        "in.jsonl",
        "out.jsonl",
        "--key",
        "id",
        "--jobs",
        "2",
        "--retries",
        "50",
        "--retry-delay",
        "0.5",
        "--on-error",
        "skip",
        "--",
        "./fail.sh",
    ];
    let mut run = env.start(&args);
    env.wait_for_calls(2);
    run.signal("TERM");
    let (status, stderr) = run.finish();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(
        env.calls().len() <= 4,
        "{} calls after the signal",
        env.calls().len()
    );
}

/// A search over outcomes: each key fails its first `fail` attempts (0 to
/// 4), the run allows `retries` (0 to 3): a key is written iff fail <=
/// retries, after exactly min(fail, retries) + 1 calls; the failure log
/// names exactly the others; the exit code says whether any failed.
#[test]
fn random_failures_and_retries_give_exactly_the_expected_calls_rows_and_log() {
    let seed: u64 = std::env::var("PIPEWORK_RETRY_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for trial in 0..4 {
        let env = Env::new();
        env.script("flaky.sh", FLAKY);
        let n = rng.random_range(1..10u64);
        let fails: Vec<u64> = (0..n).map(|_| rng.random_range(0..5)).collect();
        let rows: Vec<Value> = fails
            .iter()
            .enumerate()
            .map(|(id, fail)| json!({"id": id, "fail": fail}))
            .collect();
        env.write_rows("in.jsonl", &rows);
        let retries: u64 = rng.random_range(0..4);
        let jobs = rng.random_range(1..4u32).to_string();
        let retries_arg = retries.to_string();
        let context =
            format!("PIPEWORK_RETRY_SEED={seed} trial {trial}: retries {retries}, fails {fails:?}");
        let run = env.run_by_id(
            "map",
            &[
                "--retries",
                &retries_arg,
                "--retry-delay",
                "0.01",
                "--jobs",
                &jobs,
                "--on-error",
                "skip",
            ],
            &["./flaky.sh"],
        );
        let expect_failed: BTreeSet<u64> =
            (0..n).filter(|&k| fails[k as usize] > retries).collect();
        assert_code(&run, if expect_failed.is_empty() { 0 } else { 1 });
        let calls = calls_per_key(&env);
        for (k, fail) in fails.iter().enumerate() {
            let expected = (*fail).min(retries) as usize + 1;
            assert_eq!(
                calls.get(&k.to_string()).copied(),
                Some(expected),
                "{context}: key {k}"
            );
        }
        let written: BTreeSet<u64> = env
            .rows("out.jsonl")
            .iter()
            .filter_map(|row| row["id"].as_u64())
            .collect();
        assert_eq!(
            written,
            (0..n).filter(|k| !expect_failed.contains(k)).collect(),
            "{context}"
        );
        let logged: BTreeSet<u64> = failed(&env)
            .iter()
            .filter_map(|l| l["key"].as_u64())
            .collect();
        assert_eq!(logged, expect_failed, "{context}");
    }
}
