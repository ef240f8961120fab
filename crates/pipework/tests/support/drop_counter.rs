//! [`DropCounter`]: an item type that proves each item is dropped exactly
//! once (after crossbeam-channel's `tests/array.rs` `drops`).

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// How many [`DropCounter`]s one test made and dropped.
#[derive(Debug, Default)]
pub struct Tally {
    created: AtomicUsize,
    dropped: AtomicUsize,
}

impl Tally {
    /// A fresh tally, shared by the items of one test.
    pub fn new() -> Arc<Tally> {
        Arc::new(Tally::default())
    }

    /// Items made so far (clones included).
    pub fn created(&self) -> usize {
        self.created.load(Ordering::SeqCst)
    }

    /// Items dropped so far.
    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    /// Items made and not yet dropped.
    pub fn alive(&self) -> usize {
        self.created() - self.dropped()
    }

    /// Panics unless every item made was dropped. Safe code cannot drop a
    /// value twice (the pipeline has no `unsafe`), so equal counts mean each
    /// item was dropped exactly once.
    #[track_caller]
    pub fn assert_all_dropped(&self) {
        let (created, dropped) = (self.created(), self.dropped());
        assert!(created > 0, "the test made no items");
        assert_eq!(created, dropped, "{created} items made, {dropped} dropped");
    }
}

/// An item that counts itself into a [`Tally`] when made and when dropped.
#[derive(Debug)]
pub struct DropCounter {
    /// The item's payload.
    pub value: u64,
    tally: Arc<Tally>,
}

impl DropCounter {
    /// A new item counted into `tally`.
    pub fn new(value: u64, tally: &Arc<Tally>) -> Self {
        tally.created.fetch_add(1, Ordering::SeqCst);
        DropCounter {
            value,
            tally: tally.clone(),
        }
    }
}

impl Clone for DropCounter {
    fn clone(&self) -> Self {
        DropCounter::new(self.value, &self.tally)
    }
}

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.tally.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// An endless iterator of [`DropCounter`]s numbered from 0.
pub fn endless(tally: &Arc<Tally>) -> impl Iterator<Item = DropCounter> + Send + 'static {
    let tally = tally.clone();
    (0..).map(move |n| DropCounter::new(n, &tally))
}
