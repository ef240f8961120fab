//! A crash campaign for `pipework map`, `flatmap` and `generate`: each trial
//! SIGKILLs a run at random moments, reruns it until it completes, and then
//! holds the run to what a user relies on after crashes:
//!
//! - DST holds exactly the rows of a clean run, each once (compared as a
//!   multiset: rows are written in completion order, which no subcommand
//!   promises to keep);
//! - no work is done twice once its result is durably in DST. Per attempt:
//!   a key whose result was durably in DST before the attempt started is
//!   not called in it (for `generate`, a key gets at most as many calls as
//!   it had rows missing), read from the test command's call log; in all:
//!   calls ≤ units + jobs × kills, since a kill can lose at most the calls
//!   in flight;
//! - a rerun of the completed run calls nothing and leaves DST as it is.
//!
//! "Durably in DST" is what a rerun resumes from: for `map` a whole line
//! (newline-terminated: a torn last line is cut off on resume) with the key;
//! for `flatmap` a record in `DST.done` within DST's length (a key may print
//! no rows, and rows past the last record are cut off on resume); for
//! `generate` the number of whole lines with the key, up to `--count`.
//!
//! Each trial draws its job count and kill moments from its own seed,
//! printed on stderr (shown when a test fails, or with `--nocapture`).
//! `PIPEWORK_CRASH_SEED=S` makes the first trial's seed S (the next S+1,
//! ...): with `PIPEWORK_CRASH_TRIALS=1` it replays a failed trial's choices,
//! though not the machine's timing. `PIPEWORK_CRASH_TRIALS=N` sets the
//! trials per subcommand (default 3, a few seconds; a campaign: 200).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::support::killed_reruns::{kill_and_rerun, timed_clean_run, Attempt};
use crate::support::{assert_code, scripts, Env};

/// Distinct keys of `map` and `flatmap`, and topics of `generate`.
const KEYS: usize = 12;

/// Source rows of `map`: each key on three rows, so a key's rows are
/// written from one call.
const MAP_ROWS: usize = 3 * KEYS;

/// `generate --count`: rows per topic.
const GENERATED_PER_TOPIC: usize = 3;

/// Kills per trial before the last, uninterrupted run.
const KILL_ATTEMPTS: usize = 5;

/// The job counts a trial picks from: one job (kills land between calls
/// more often) up to more jobs than cores.
const JOB_COUNTS: [usize; 3] = [1, 2, 4];

/// For each key, how many more calls a run may make: a complete run's
/// calls for it less the results durably in DST.
type CallsLeft = BTreeMap<String, usize>;

/// One subcommand under test: how its scratch directory is prepared, its
/// arguments, and how to read what is durably done.
struct Subject {
    name: &'static str,
    /// Writes the input files and the test command.
    ready: fn(&Env),
    /// The arguments, given `--jobs`.
    args: fn(&str) -> Vec<String>,
    /// The key column of calls (and of DST's rows).
    key: &'static str,
    /// Every key, as JSON text.
    keys: fn() -> Vec<String>,
    /// Calls a complete run makes per key.
    calls_per_key: usize,
    /// Results durably in DST, per key (as JSON text).
    done: fn(&Env) -> HashMap<String, usize>,
}

impl Subject {
    /// Calls a clean run makes: the units of work.
    fn units(&self) -> usize {
        (self.keys)().len() * self.calls_per_key
    }

    /// What each key may still be called, as DST stands now.
    fn calls_left(&self, env: &Env) -> CallsLeft {
        let done = (self.done)(env);
        (self.keys)()
            .into_iter()
            .map(|key| {
                let had = done.get(&key).copied().unwrap_or(0);
                let left = self.calls_per_key.saturating_sub(had);
                (key, left)
            })
            .collect()
    }

    /// The key of a line of `calls.log` (the row the command got).
    fn called_key(&self, line: &str) -> String {
        let row: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("calls.log: {line:?}: {e}"));
        row[self.key].to_string()
    }
}

fn map() -> Subject {
    Subject {
        name: "map",
        ready: |env| {
            let rows: Vec<Value> = (0..MAP_ROWS)
                .map(|n| json!({"id": n % KEYS, "n": n}))
                .collect();
            env.write_rows("in.jsonl", &rows);
            env.script("cmd.sh", scripts::GATED_SLOW_ECHO);
        },
        args: |jobs| by_id_args("map", &["--keep", "n", "--jobs", jobs]),
        key: "id",
        keys: numbered_keys,
        calls_per_key: 1,
        done: |env| {
            let mut done = HashMap::new();
            for row in whole_rows(&env.path("out.jsonl")) {
                done.insert(row["id"].to_string(), 1);
            }
            done
        },
    }
}

fn flatmap() -> Subject {
    Subject {
        name: "flatmap",
        ready: |env| {
            let rows: Vec<Value> = (0..KEYS)
                .map(|k| json!({"id": k, "parts": k % 3}))
                .collect();
            env.write_rows("in.jsonl", &rows);
            env.script("cmd.sh", scripts::GATED_SLOW_PARTS);
        },
        args: |jobs| by_id_args("flatmap", &["--keep", "parts", "--jobs", jobs]),
        key: "id",
        keys: numbered_keys,
        calls_per_key: 1,
        done: |env| {
            let dst_len = std::fs::metadata(env.path("out.jsonl")).map_or(0, |m| m.len());
            let mut done = HashMap::new();
            for record in whole_rows(&env.path("out.jsonl.done")) {
                if record["end"].as_u64().is_some_and(|end| end <= dst_len) {
                    done.insert(record["key"].to_string(), 1);
                }
            }
            done
        },
    }
}

fn generate() -> Subject {
    Subject {
        name: "generate",
        ready: |env| {
            let topics: String = topics().iter().map(|t| format!("{t}\n")).collect();
            env.write("keys.txt", &topics);
            env.script("cmd.sh", scripts::GATED_SLOW_TOPIC);
        },
        args: |jobs| {
            let count = GENERATED_PER_TOPIC.to_string();
            [
                "generate",
                "out.jsonl",
                "--key",
                "topic",
                "--count",
                &count,
                "--keys",
                "keys.txt",
                "--jobs",
                jobs,
                "--",
                "./cmd.sh",
            ]
            .map(str::to_owned)
            .to_vec()
        },
        key: "topic",
        keys: || topics().iter().map(|t| json!(t).to_string()).collect(),
        calls_per_key: GENERATED_PER_TOPIC,
        done: |env| {
            let mut done = HashMap::new();
            for row in whole_rows(&env.path("out.jsonl")) {
                *done.entry(row["topic"].to_string()).or_insert(0) += 1;
            }
            done
        },
    }
}

/// `SUBCOMMAND in.jsonl out.jsonl --key id OPTIONS... -- ./cmd.sh`.
fn by_id_args(subcommand: &str, options: &[&str]) -> Vec<String> {
    crate::support::by_id(subcommand, options, &["./cmd.sh"])
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// The keys 0..KEYS as JSON text.
fn numbered_keys() -> Vec<String> {
    (0..KEYS).map(|k| k.to_string()).collect()
}

/// The topics of `generate`.
fn topics() -> Vec<String> {
    (0..KEYS / 2).map(|t| format!("topic-{t}")).collect()
}

/// The newline-terminated lines of a JSONL file, parsed (none if the file
/// is missing). A torn last line is left out, as a resume cuts it off; a
/// whole line that is not JSON fails the test: only the last line may be torn.
fn whole_rows(path: &Path) -> Vec<Value> {
    let text = std::fs::read(path).unwrap_or_default();
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    // After the last newline: empty, or a torn line.
    lines.pop();
    lines
        .into_iter()
        .map(|line| {
            serde_json::from_slice(line).unwrap_or_else(|e| {
                panic!(
                    "{}: a whole line that is not JSON: {:?}: {e}",
                    path.display(),
                    String::from_utf8_lossy(line)
                )
            })
        })
        .collect()
}

/// A row as text with every object's fields sorted, so rows compare by
/// content whatever order their fields were written in.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(fields) => {
            let sorted: BTreeMap<&String, String> =
                fields.iter().map(|(k, v)| (k, canonical(v))).collect();
            let inner: Vec<String> = sorted
                .iter()
                .map(|(k, v)| format!("{}:{v}", json!(k)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

/// DST's rows as a sorted multiset of canonical texts.
fn row_multiset(env: &Env) -> Vec<String> {
    let mut rows: Vec<String> = env.rows("out.jsonl").iter().map(canonical).collect();
    rows.sort();
    rows
}

/// Checks one attempt's calls (their keys) against what each key could
/// still be called when it started: fails naming a key called more often,
/// such as a key whose result was durably in DST being computed again.
fn check_attempt(left: &CallsLeft, called: &[String]) -> Result<(), String> {
    let mut calls: BTreeMap<&str, usize> = BTreeMap::new();
    for key in called {
        *calls.entry(key).or_insert(0) += 1;
    }
    for (key, n) in calls {
        match left.get(key) {
            None => {
                return Err(format!(
                    "key {key} called {n}×, but it is no key of the run"
                ))
            }
            Some(&allowed) if n > allowed => {
                return Err(format!(
                    "key {key} called {n}× though DST already held its results \
                     but {allowed} were left to compute"
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Checks a trial's calls in all: a complete run's, plus at most one lost
/// call per job at each kill (the calls in flight).
fn check_total_calls(calls: usize, units: usize, jobs: usize, kills: usize) -> Result<(), String> {
    let bound = units + jobs * kills;
    if calls > bound {
        return Err(format!(
            "{calls} calls for {units} units of work with {jobs} jobs after {kills} kills \
             (at most {bound})"
        ));
    }
    Ok(())
}

/// Trials per subcommand: `PIPEWORK_CRASH_TRIALS`, or a few.
fn trials() -> u64 {
    std::env::var("PIPEWORK_CRASH_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

/// The first trial's seed: `PIPEWORK_CRASH_SEED`, or a random one.
fn first_seed() -> u64 {
    std::env::var("PIPEWORK_CRASH_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| rand::rng().random())
}

/// Runs the campaign's trials for one subcommand.
fn campaign(subject: &Subject) {
    let first = first_seed();
    // A clean run per job count, timed (the kills are scaled by it) and
    // kept as the rows every trial must end with.
    let mut clean: HashMap<usize, (Duration, Vec<String>)> = HashMap::new();
    for trial in 0..trials() {
        let seed = first.wrapping_add(trial);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let jobs = *JOB_COUNTS.choose(&mut rng).unwrap_or(&1);
        let context = format!(
            "{} trial {trial}: PIPEWORK_CRASH_SEED={seed} --jobs {jobs}",
            subject.name
        );
        eprintln!("{context}");
        let args_owned = (subject.args)(&jobs.to_string());
        let args: Vec<&str> = args_owned.iter().map(String::as_str).collect();
        let (clean_time, clean_rows) = clean
            .entry(jobs)
            .or_insert_with(|| {
                let (time, env) = timed_clean_run(subject.ready, &args);
                (time, row_multiset(&env))
            })
            .clone();

        let env = Env::new();
        (subject.ready)(&env);
        let reruns = kill_and_rerun(
            &env,
            &args,
            &mut rng,
            clean_time,
            jobs,
            KILL_ATTEMPTS,
            |env| subject.calls_left(env),
        );
        let kills = reruns.kills();
        assert!(kills >= 1, "{context}: the run was never interrupted");
        for (n, Attempt { before, calls, .. }) in reruns.attempts.iter().enumerate() {
            // An empty line is a command that pipework started and was
            // killed before it wrote the row (a pipe write of one row is
            // all or nothing): it got no input and computed nothing.
            let called: Vec<String> = calls
                .iter()
                .filter(|line| !line.is_empty())
                .map(|line| subject.called_key(line))
                .collect();
            if let Err(e) = check_attempt(before, &called) {
                panic!(
                    "{context}, attempt {n}: {e}\nattempts: {:#?}",
                    reruns.attempts
                );
            }
        }
        let calls = env.calls().len();
        if let Err(e) = check_total_calls(calls, subject.units(), jobs, kills) {
            panic!("{context}: {e}");
        }
        assert_eq!(
            row_multiset(&env),
            clean_rows,
            "{context}: DST after {kills} kills is not a clean run's rows"
        );

        // Complete means complete: a rerun has nothing left to do.
        assert_code(&env.run(&args), 0);
        assert_eq!(env.calls().len(), calls, "{context}: the rerun called");
        assert_eq!(row_multiset(&env), clean_rows, "{context}: the rerun wrote");
        // How often a run resumed a DST with some of the work in it: the
        // starts the per-attempt check has something to hold them to.
        let resumed_partial = reruns
            .attempts
            .iter()
            .filter(|a| (1..subject.units()).contains(&a.before.values().sum()))
            .count();
        eprintln!(
            "{context}: {kills} kills, {calls} calls, {resumed_partial} resumes of a partial DST, passed"
        );
    }
}

#[test]
fn map_survives_random_sigkills() {
    campaign(&map());
}

#[test]
fn flatmap_survives_random_sigkills() {
    campaign(&flatmap());
}

#[test]
fn generate_survives_random_sigkills() {
    campaign(&generate());
}

/// The per-attempt check fires on the failure it is for: a call log (as
/// if made up) in which a key is called again after its result was durably
/// written; and it passes the calls a resume may make.
#[test]
fn a_key_called_after_its_result_was_durable_is_caught() {
    let left: CallsLeft = [("0", 1), ("1", 0), ("2", 1)]
        .map(|(k, n)| (k.to_owned(), n))
        .into();
    let keys = |ks: &[&str]| ks.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
    assert_eq!(check_attempt(&left, &keys(&["2", "0"])), Ok(()));
    let err = check_attempt(&left, &keys(&["0", "1", "2"])).unwrap_err();
    assert!(err.contains("key 1 called 1×"), "{err}");
    let err = check_attempt(&left, &keys(&["0", "0"])).unwrap_err();
    assert!(err.contains("key 0 called 2×"), "{err}");
    assert!(check_attempt(&left, &keys(&["7"])).is_err());

    // generate: a topic with one of three rows durable may get two calls.
    let left: CallsLeft = [("\"t\"".to_owned(), 2)].into();
    assert_eq!(check_attempt(&left, &keys(&["\"t\"", "\"t\""])), Ok(()));
    assert!(check_attempt(&left, &keys(&["\"t\""; 3])).is_err());

    assert_eq!(check_total_calls(14, 12, 2, 1), Ok(()));
    assert!(check_total_calls(15, 12, 2, 1).is_err());
}

/// What counts as durable is what a resume keeps: a torn last line of DST
/// is not, nor is a flatmap's done record past DST's end.
#[test]
fn only_what_a_resume_keeps_counts_as_durable() {
    let env = Env::new();
    std::fs::write(
        env.path("out.jsonl"),
        "{\"id\":0,\"n\":0}\n{\"id\":0,\"n\":12}\n{\"id\":1,\"n\":1",
    )
    .unwrap_or_else(|e| panic!("write: {e}"));
    let left = map().calls_left(&env);
    assert_eq!(left["0"], 0);
    assert_eq!(left["1"], 1, "the torn line's key is still to compute");
    assert_eq!(left.len(), KEYS);

    let len = std::fs::metadata(env.path("out.jsonl")).map_or(0, |m| m.len());
    env.write(
        "out.jsonl.done",
        &format!(
            "{}\n{}\n",
            json!({"key": 0, "rows": 2, "end": 32}),
            json!({"key": 1, "rows": 1, "end": len + 1})
        ),
    );
    let left = flatmap().calls_left(&env);
    assert_eq!((left["0"], left["1"], left["2"]), (0, 1, 1));

    env.write_rows(
        "out.jsonl",
        &[json!({"topic": "topic-0"}), json!({"topic": "topic-0"})],
    );
    let left = generate().calls_left(&env);
    assert_eq!(left["\"topic-0\""], 1);
    assert_eq!(left["\"topic-1\""], GENERATED_PER_TOPIC);
}
