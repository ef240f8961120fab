//! Tests for `batch::batch`: fixed-size batches of an iterator.

use pipework::batch::{batch, Error};
use proptest::prelude::*;

#[test]
fn last_batch_holds_the_rest() {
    let out: Vec<Vec<u32>> = batch(0..7, 3).unwrap().collect();
    assert_eq!(out, [vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
}

#[test]
fn exact_multiple_has_no_trailing_empty_batch() {
    let out: Vec<Vec<u32>> = batch(0..6, 3).unwrap().collect();
    assert_eq!(out, [vec![0, 1, 2], vec![3, 4, 5]]);
}

#[test]
fn empty_input_yields_no_batch() {
    assert_eq!(batch(Vec::<u8>::new(), 4).unwrap().count(), 0);
}

#[test]
fn size_zero_is_an_error() {
    let err = batch(0..3, 0).unwrap_err();
    assert_eq!(err, Error::ZeroSize { helper: "batch" });
    assert!(err.is_zero_argument());
    assert_eq!(
        err.to_string(),
        "batch: batch size must be at least 1, got 0"
    );
}

#[test]
fn endless_input_is_pulled_lazily() {
    let mut pulled = 0u64;
    let source = std::iter::from_fn(|| {
        pulled += 1;
        Some(pulled)
    });
    let first_two: Vec<Vec<u64>> = batch(source, 4).unwrap().take(2).collect();
    assert_eq!(first_two, [vec![1, 2, 3, 4], vec![5, 6, 7, 8]]);
    assert_eq!(pulled, 8);
}

#[test]
fn size_hint_counts_batches() {
    let b = batch(0..10, 4).unwrap();
    assert_eq!(b.size_hint(), (3, Some(3)));
}

proptest! {
    #[test]
    fn flattened_batches_equal_input(input in proptest::collection::vec(any::<u16>(), 0..200), size in 1usize..20) {
        let out: Vec<Vec<u16>> = batch(input.clone(), size).unwrap().collect();
        let flat: Vec<u16> = out.iter().flatten().copied().collect();
        prop_assert_eq!(flat, input.clone());
        prop_assert_eq!(out.len(), input.len().div_ceil(size));
        if let Some((last, full)) = out.split_last() {
            prop_assert!(full.iter().all(|b| b.len() == size));
            prop_assert!(!last.is_empty() && last.len() <= size);
        }
    }
}
