//! Tests for `batch::batches`: batches over several epochs of an iterable.

use pipework::batch::{batches, Error};
use proptest::prelude::*;

fn collect<I>(iterable: I, size: usize, epochs: usize) -> Result<Vec<Vec<I::Item>>, Error>
where
    I: IntoIterator + Clone,
{
    batches(iterable, size, epochs)?.collect()
}

#[test]
fn epochs_that_divide_evenly_repeat_the_batches() {
    let out = collect(0..6, 2, 2).unwrap();
    assert_eq!(
        out,
        [
            vec![0, 1],
            vec![2, 3],
            vec![4, 5],
            vec![0, 1],
            vec![2, 3],
            vec![4, 5]
        ]
    );
}

#[test]
fn one_epoch_keeps_the_last_partial_batch() {
    assert_eq!(
        collect(0..5, 2, 1).unwrap(),
        [vec![0, 1], vec![2, 3], vec![4]]
    );
}

#[test]
fn batches_straddle_epoch_boundaries() {
    assert_eq!(
        collect(0..5, 2, 2).unwrap(),
        [vec![0, 1], vec![2, 3], vec![4, 0], vec![1, 2], vec![3, 4]]
    );
}

#[test]
fn size_zero_is_an_error() {
    assert_eq!(
        batches(0..5, 0, 1).unwrap_err(),
        Error::ZeroSize { helper: "batches" }
    );
}

#[test]
fn zero_epochs_is_an_error() {
    let err = batches(0..5, 2, 0).unwrap_err();
    assert_eq!(err, Error::ZeroEpochs);
    assert!(err.is_zero_argument());
}

/// An iterable whose passes get shorter: pass `k` yields `len - k` items.
#[derive(Clone)]
struct Shrinking {
    passes: std::rc::Rc<std::cell::Cell<usize>>,
    len: usize,
}

impl IntoIterator for Shrinking {
    type Item = usize;
    type IntoIter = std::ops::Range<usize>;
    fn into_iter(self) -> Self::IntoIter {
        let pass = self.passes.get();
        self.passes.set(pass + 1);
        0..self.len - pass
    }
}

#[test]
fn shorter_second_epoch_is_an_error_after_all_its_items() {
    let shrinking = Shrinking {
        passes: Default::default(),
        len: 5,
    };
    let out: Vec<Result<Vec<usize>, Error>> = batches(shrinking, 2, 3).unwrap().collect();
    // Epoch 0: 0..5, epoch 1: 0..4 (short): its last item is yielded in a
    // partial batch, then the error, then nothing.
    assert_eq!(
        out,
        [
            Ok(vec![0, 1]),
            Ok(vec![2, 3]),
            Ok(vec![4, 0]),
            Ok(vec![1, 2]),
            Ok(vec![3]),
            Err(Error::ShortEpoch {
                epoch: 1,
                expected: 5,
                got: 4
            }),
        ]
    );
    assert!(out[5].as_ref().unwrap_err().is_short_epoch());
}

#[test]
fn short_epoch_ending_on_a_batch_boundary_is_reported_at_once() {
    let shrinking = Shrinking {
        passes: Default::default(),
        len: 3,
    };
    // With batches of one, no batch is pending when the short pass ends.
    let out: Vec<Result<Vec<usize>, Error>> = batches(shrinking, 1, 2).unwrap().collect();
    assert_eq!(
        out,
        [
            Ok(vec![0]),
            Ok(vec![1]),
            Ok(vec![2]),
            Ok(vec![0]),
            Ok(vec![1]),
            Err(Error::ShortEpoch {
                epoch: 1,
                expected: 3,
                got: 2
            }),
        ]
    );
}

#[test]
fn one_shot_iterable_yields_one_epoch_with_its_partial_batch() {
    let (tx, rx) = crossbeam_channel::bounded(8);
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    drop(tx);
    let out = collect(OneShot(rx), 2, 2).unwrap();
    assert_eq!(out, [vec![0, 1], vec![2, 3], vec![4]]);
}

/// A channel receiver as an iterable: every clone drains the same queue,
/// so only the first pass sees the items.
#[derive(Clone)]
struct OneShot(crossbeam_channel::Receiver<i32>);

impl IntoIterator for OneShot {
    type Item = i32;
    type IntoIter = crossbeam_channel::IntoIter<i32>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[test]
fn empty_iterable_yields_nothing() {
    assert!(collect(Vec::<u8>::new(), 3, 5).unwrap().is_empty());
}

#[test]
fn works_over_a_borrowed_collection() {
    let data = vec!["a".to_string(), "b".to_string()];
    let out = collect(&data, 3, 2).unwrap();
    assert_eq!(out, [vec![&data[0], &data[1], &data[0]], vec![&data[1]]]);
}

proptest! {
    #[test]
    fn flattened_batches_are_the_input_repeated(
        input in proptest::collection::vec(any::<u8>(), 0..60),
        size in 1usize..10,
        epochs in 1usize..5,
    ) {
        let out = collect(input.clone(), size, epochs).unwrap();
        let flat: Vec<u8> = out.iter().flatten().copied().collect();
        let expected: Vec<u8> = std::iter::repeat_n(input.clone(), epochs).flatten().collect();
        prop_assert_eq!(out.len(), expected.len().div_ceil(size));
        prop_assert_eq!(flat, expected);
        if let Some((last, full)) = out.split_last() {
            prop_assert!(full.iter().all(|b| b.len() == size));
            prop_assert!(!last.is_empty() && last.len() <= size);
        }
    }
}
