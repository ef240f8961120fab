//! What `pipework` gives a user who installs it: its version, shell
//! completions and man pages made from its own definition, and logs that
//! change nothing but stderr.

use std::process::{Command, Stdio};

use serde_json::json;

use crate::support::{assert_code, scripts, Env};

fn stdout_of(env: &Env, args: &[&str]) -> String {
    let output = env
        .pipework(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("pipework {args:?}: {e}"));
    assert!(output.status.success(), "pipework {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn version_names_the_release_and_the_commit_where_known() {
    let env = Env::new();
    let version = stdout_of(&env, &["--version"]);
    assert!(
        version.starts_with(&format!("pipework {}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
}

#[test]
fn bash_completes_an_option_from_the_clap_definition() {
    let env = Env::new();
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("skipped: no bash");
        return;
    }
    env.write("pipework.bash", &stdout_of(&env, &["completions", "bash"]));
    // What bash does on `pipework map --ti<TAB>`: the completion function
    // gets the words and fills COMPREPLY.
    let output = Command::new("bash")
        .args([
            "--norc",
            "-c",
            "source ./pipework.bash; COMP_WORDS=(pipework map --ti); COMP_CWORD=2; \
             COMP_LINE='pipework map --ti'; COMP_POINT=${#COMP_LINE}; \
             _pipework pipework --ti map; printf '%s\\n' \"${COMPREPLY[@]}\"",
        ])
        .current_dir(env.dir())
        .output()
        .unwrap_or_else(|e| panic!("bash: {e}"));
    let replies = String::from_utf8_lossy(&output.stdout);
    assert!(
        replies.lines().any(|line| line.trim() == "--timeout"),
        "{replies}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(
            !stdout_of(&env, &["completions", shell]).is_empty(),
            "{shell}"
        );
    }
}

#[test]
fn the_man_pages_render_without_warnings_and_cover_every_subcommand() {
    let env = Env::new();
    let page = stdout_of(&env, &["man"]);
    assert!(page.contains(".TH pipework"), "{page}");
    assert!(page.contains("Exit codes"), "the footer is in the page");
    stdout_of(&env, &["man", "--dir", "man"]);
    for name in [
        "pipework",
        "pipework-map",
        "pipework-flatmap",
        "pipework-generate",
        "pipework-status",
    ] {
        assert!(env.path(&format!("man/{name}.1")).is_file(), "{name}.1");
    }
    if Command::new("groff").arg("--version").output().is_err() {
        eprintln!("skipped rendering: no groff");
        return;
    }
    for name in ["pipework", "pipework-map"] {
        let output = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(env.path(&format!("man/{name}.1")))
            .output()
            .unwrap_or_else(|e| panic!("groff: {e}"));
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            "",
            "{name}.1 renders cleanly"
        );
    }
}

#[test]
fn a_debug_logged_run_writes_the_same_dst_and_logs_only_to_stderr() {
    let env = Env::new();
    let rows: Vec<_> = (0..20).map(|i| json!({"id": i % 7, "n": i})).collect();
    env.write_rows("in.jsonl", &rows);
    env.script("echo.sh", scripts::ECHO);
    let map = |dst: &str, extra: &[&str], log: Option<&str>| {
        let mut args = vec![
            "map", "in.jsonl", dst, "--key", "id", "--keep", "n", "--jobs", "1",
        ];
        args.extend_from_slice(extra);
        args.extend(["--", "./echo.sh"]);
        let mut command = env.pipework(&args);
        command.env_remove("RUST_LOG");
        if let Some(spec) = log {
            command.env("RUST_LOG", spec);
        }
        command.output().unwrap_or_else(|e| panic!("pipework: {e}"))
    };
    let quiet = map("quiet.jsonl", &[], None);
    assert!(quiet.status.success(), "{quiet:?}");
    let quiet_err = String::from_utf8_lossy(&quiet.stderr);
    assert!(
        !quiet_err.contains("DEBUG"),
        "no logs by default: {quiet_err}"
    );

    let logged = map("logged.jsonl", &[], Some("pipework=debug"));
    assert!(logged.status.success(), "{logged:?}");
    let verbose = map("verbose.jsonl", &["-v", "--log-format", "json"], None);
    assert!(verbose.status.success(), "{verbose:?}");
    let quiet_dst = std::fs::read(env.path("quiet.jsonl")).unwrap_or_default();
    for (name, output) in [("logged.jsonl", &logged), ("verbose.jsonl", &verbose)] {
        assert_eq!(
            std::fs::read(env.path(name)).unwrap_or_default(),
            quiet_dst,
            "{name}"
        );
        assert!(output.stdout.is_empty(), "nothing on stdout");
    }
    let text = String::from_utf8_lossy(&logged.stderr);
    assert!(
        text.contains("starting") && text.contains("echo.sh"),
        "{text}"
    );
    assert!(
        text.contains("exit=0") && text.contains("took_ms"),
        "{text}"
    );
    let json_lines: Vec<serde_json::Value> = String::from_utf8_lossy(&verbose.stderr)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let starts = json_lines
        .iter()
        .filter(|line| line["fields"]["message"] == "starting")
        .count();
    assert_eq!(starts, 7, "one start per key, as JSON: {json_lines:?}");
}

#[test]
fn a_retry_and_a_rate_wait_are_logged() {
    let env = Env::new();
    env.write_rows("in.jsonl", &[json!({"id": 1}), json!({"id": 2})]);
    env.script(
        "once.sh",
        "cat > /dev/null\nif [ ! -e failed ]; then : > failed; exit 5; fi\necho '{}'\n",
    );
    let run = env.run_by_id(
        "map",
        &[
            "-v",
            "--jobs",
            "1",
            "--retries",
            "1",
            "--retry-delay",
            "0.01",
            "--rate",
            "20/s",
        ],
        &["./once.sh"],
    );
    assert_code(&run, 0);
    assert!(
        run.stderr.contains("retrying after a wait"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("exit=5"), "{}", run.stderr);
    assert!(run.stderr.contains("rate limit"), "{}", run.stderr);
}

#[test]
fn a_reader_that_stops_early_is_a_success_not_an_error() {
    // `pipework man | grep -q TH`: the reader is gone before the page is
    // written. Closing the read end first makes that certain.
    let env = Env::new();
    env.write("src.jsonl", "{\"k\":1}\n");
    env.write("dst.jsonl", "{\"k\":1,\"v\":2}\n");
    for args in [
        &["man"][..],
        &["completions", "bash"],
        &["status", "src.jsonl", "dst.jsonl", "--key", "k"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = env
            .pipework(args)
            .stdin(Stdio::null())
            .stdout(writer)
            .output()
            .unwrap_or_else(|e| panic!("pipework {args:?}: {e}"));
        assert_eq!(output.status.code(), Some(0), "{args:?}: {output:?}");
        assert!(output.stderr.is_empty(), "{args:?}: {output:?}");
    }
}
