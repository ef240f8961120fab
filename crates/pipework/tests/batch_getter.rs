//! Tests for `batch::batch_getter` and `batch::batch_getter_ex`.

use std::cell::RefCell;
use std::collections::VecDeque;

use pipework::batch::{batch_getter, batch_getter_ex, Error, Get, GetError};
use proptest::prelude::*;

/// A queue the test fills, read through a non-blocking getter.
#[derive(Default)]
struct Queue {
    items: VecDeque<u32>,
    closed: bool,
}

impl Queue {
    fn get(&mut self) -> Get<u32> {
        match self.items.pop_front() {
            Some(item) => Get::Item(item),
            None if self.closed => Get::End,
            None => Get::NotYet,
        }
    }
}

#[test]
fn yields_what_is_there_then_empty_then_rest_then_ends() {
    let queue = RefCell::new(Queue {
        items: (0..5).collect(),
        closed: false,
    });
    let mut batches = batch_getter(|| queue.borrow_mut().get(), 3).unwrap();
    assert_eq!(batches.next(), Some(vec![0, 1, 2]));
    assert_eq!(batches.next(), Some(vec![3, 4]));
    assert_eq!(batches.next(), Some(vec![]));
    queue.borrow_mut().items.push_back(5);
    queue.borrow_mut().closed = true;
    assert_eq!(batches.next(), Some(vec![5]));
    assert_eq!(batches.next(), None);
    assert_eq!(batches.next(), None, "fused after the end");
}

#[test]
fn end_with_a_partial_batch_yields_it() {
    let queue = RefCell::new(Queue {
        items: (0..2).collect(),
        closed: true,
    });
    let out: Vec<Vec<u32>> = batch_getter(|| queue.borrow_mut().get(), 5)
        .unwrap()
        .collect();
    assert_eq!(out, [vec![0, 1]]);
}

#[test]
fn option_getter_treats_none_as_not_yet() {
    let mut items = vec![1, 2].into_iter();
    let mut batches = batch_getter(|| Get::from(items.next()), 4).unwrap();
    assert_eq!(batches.next(), Some(vec![1, 2]));
    assert_eq!(batches.next(), Some(vec![]));
}

#[test]
fn getter_size_zero_is_an_error() {
    let err = batch_getter(|| Get::<u8>::End, 0).unwrap_err();
    assert_eq!(
        err,
        Error::ZeroSize {
            helper: "batch_getter"
        }
    );
}

#[test]
fn ex_reads_a_crossbeam_channel() {
    let (tx, rx) = crossbeam_channel::bounded(16);
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    let mut batches = batch_getter_ex(|| rx.try_recv(), 3).unwrap();
    assert_eq!(batches.next(), Some(Ok(vec![0, 1, 2])));
    assert_eq!(batches.next(), Some(Ok(vec![3, 4])));
    assert_eq!(batches.next(), Some(Ok(vec![])));
    tx.send(5).unwrap();
    drop(tx);
    assert_eq!(batches.next(), Some(Ok(vec![5])));
    assert_eq!(batches.next(), None);
}

#[test]
fn ex_reads_a_std_channel() {
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    tx.send('a').unwrap();
    drop(tx);
    let out: Vec<_> = batch_getter_ex(|| rx.try_recv(), 2).unwrap().collect();
    assert_eq!(out, [Ok(vec!['a'])]);
}

#[derive(Debug, PartialEq)]
enum Fetch {
    Empty,
    Closed,
    Broken(&'static str),
}

impl GetError for Fetch {
    fn is_not_yet(&self) -> bool {
        *self == Fetch::Empty
    }
    fn is_end(&self) -> bool {
        *self == Fetch::Closed
    }
}

#[test]
fn ex_real_error_comes_after_the_partial_batch_then_ends() {
    let mut script: VecDeque<Result<u8, Fetch>> =
        [Ok(1), Ok(2), Err(Fetch::Broken("disk")), Ok(3)].into();
    let out: Vec<_> = batch_getter_ex(|| script.pop_front().unwrap_or(Err(Fetch::Closed)), 5)
        .unwrap()
        .collect();
    assert_eq!(out, [Ok(vec![1, 2]), Err(Fetch::Broken("disk"))]);
}

#[test]
fn ex_real_error_with_nothing_pending_comes_at_once() {
    let mut script: VecDeque<Result<u8, Fetch>> = [Err(Fetch::Broken("net"))].into();
    let mut batches =
        batch_getter_ex(|| script.pop_front().unwrap_or(Err(Fetch::Closed)), 5).unwrap();
    assert_eq!(batches.next(), Some(Err(Fetch::Broken("net"))));
    assert_eq!(batches.next(), None);
}

#[test]
fn ex_size_zero_is_an_error() {
    let err = batch_getter_ex(|| Err::<u8, _>(Fetch::Closed), 0).unwrap_err();
    assert_eq!(
        err,
        Error::ZeroSize {
            helper: "batch_getter_ex"
        }
    );
}

/// One getter call's outcome in a generated script.
#[derive(Debug, Clone)]
enum Step {
    Item(u16),
    NotYet,
}

proptest! {
    #[test]
    fn getter_batches_flatten_to_the_items_and_respect_size(
        script in proptest::collection::vec(
            prop_oneof![any::<u16>().prop_map(Step::Item), Just(Step::NotYet)], 0..100),
        size in 1usize..8,
    ) {
        let expected: Vec<u16> = script.iter().filter_map(|s| match s {
            Step::Item(x) => Some(*x),
            Step::NotYet => None,
        }).collect();
        let mut steps = script.into_iter();
        let out: Vec<Vec<u16>> = batch_getter(|| match steps.next() {
            Some(Step::Item(x)) => Get::Item(x),
            Some(Step::NotYet) => Get::NotYet,
            None => Get::End,
        }, size).unwrap().collect();
        prop_assert!(out.iter().all(|b| b.len() <= size));
        let flat: Vec<u16> = out.into_iter().flatten().collect();
        prop_assert_eq!(flat, expected);
    }
}

#[cfg(feature = "stream")]
#[test]
fn ex_reads_a_tokio_channel() {
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    let mut batches = batch_getter_ex(|| rx.try_recv(), 5).unwrap();
    assert_eq!(batches.next(), Some(Ok(vec![1, 2])));
    assert_eq!(batches.next(), Some(Ok(vec![])));
    drop(tx);
    assert_eq!(batches.next(), None);
}
