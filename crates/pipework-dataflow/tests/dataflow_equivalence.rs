//! Property: a keyed dataflow gives the same multiset of outputs on one
//! worker as on several threads, and the same as a sequential computation.

mod support;

use std::collections::HashMap;

use pipework_dataflow::connectors::{TestingSink, TestingSource};
use pipework_dataflow::{Dataflow, ExecutionConfig};
use proptest::prelude::*;
use support::bounded_run::run;

/// Running sums per key, as the dataflow computes them, in any order.
fn dataflow_sums(
    items: &[(u8, i64)],
    batch: usize,
    config: &ExecutionConfig,
) -> Vec<(String, i64)> {
    let out = TestingSink::new();
    let sink = out.clone();
    let input: Vec<(u8, i64)> = items.to_vec();
    let flow = Dataflow::new("sums", move |flow| {
        flow.input("inp", TestingSource::new(input.clone()).batch_size(batch))
            .filter("drop_zero", |(_, v): &(u8, i64)| *v != 0)
            .key_on("key", |(k, _): &(u8, i64)| format!("k{k}"))
            .map("value", |(key, (_, v)): (String, (u8, i64))| (key, v))
            .stateful_map("sum", |sum: Option<i64>, v: i64| {
                let sum = sum.unwrap_or(0) + v;
                (Some(sum), sum)
            })
            .output("out", sink.clone());
    });
    run(&flow, config).unwrap();
    let mut got = out.items();
    got.sort();
    got
}

fn sequential_sums(items: &[(u8, i64)]) -> Vec<(String, i64)> {
    let mut sums: HashMap<u8, i64> = HashMap::new();
    let mut out = Vec::new();
    for (k, v) in items.iter().filter(|(_, v)| *v != 0) {
        let sum = sums.entry(*k).or_insert(0);
        *sum += v;
        out.push((format!("k{k}"), *sum));
    }
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn one_worker_equals_three_threads_equals_sequential(
        items in proptest::collection::vec((0u8..6, -5i64..5), 0..200),
        batch in 1usize..20,
    ) {
        let expected = sequential_sums(&items);
        prop_assert_eq!(dataflow_sums(&items, batch, &ExecutionConfig::single()), expected.clone());
        prop_assert_eq!(dataflow_sums(&items, batch, &ExecutionConfig::threads(3).unwrap()), expected);
    }
}
