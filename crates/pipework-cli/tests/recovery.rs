//! `pipework recovery init`: the directory a dataflow's `-r` needs.

use crate::support::{assert_code, assert_stderr, Env};

#[test]
fn init_creates_the_partition_files() {
    let env = Env::new();
    let run = env.run(&["recovery", "init", "state/flow", "--parts", "3"]);
    assert_code(&run, 0);
    for index in 0..3 {
        assert!(env
            .path(&format!("state/flow/part-{index}.sqlite3"))
            .is_file());
    }
    assert!(!env.path("state/flow/part-3.sqlite3").exists());
}

#[test]
fn init_refuses_an_initialised_directory() {
    let env = Env::new();
    assert_code(&env.run(&["recovery", "init", "rec", "--parts", "2"]), 0);
    let again = env.run(&["recovery", "init", "rec", "--parts", "4"]);
    assert_code(&again, 2);
    assert_stderr(&again, "already initialised");
    assert!(!env.path("rec/part-2.sqlite3").exists());
}

#[test]
fn init_needs_at_least_one_part() {
    let env = Env::new();
    assert_code(&env.run(&["recovery", "init", "rec", "--parts", "0"]), 2);
    assert!(!env.path("rec").exists());
}
