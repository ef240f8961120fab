//! Record-by-record transformations: `map`, `try_map`, `filter`, `filter_map`, `flat_map`.

use crate::flow::Stream;
use crate::inputs::BoxError;

impl<'scope, T: 'static> Stream<'scope, T> {
    /// Transforms each item with `f`.
    ///
    /// `f` runs on the worker that holds the item. A panic in `f` stops every
    /// worker, and [`run`](crate::run) returns
    /// [`RunError::Panicked`](crate::RunError::Panicked) naming `step_id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use pipework_dataflow::connectors::{TestingSink, TestingSource};
    /// use pipework_dataflow::{run, Dataflow, ExecutionConfig};
    ///
    /// let out = TestingSink::new();
    /// let sink = out.clone();
    /// let flow = Dataflow::new("len", move |flow| {
    ///     flow.input("inp", TestingSource::new(vec!["a", "bcd"]))
    ///         .map("len", |s: &str| s.len())
    ///         .output("out", sink.clone());
    /// });
    /// run(&flow, &ExecutionConfig::single())?;
    /// assert_eq!(out.items(), vec![1, 3]);
    /// # Ok::<(), pipework_dataflow::RunError>(())
    /// ```
    pub fn map<U: 'static>(
        self,
        step_id: &str,
        mut f: impl FnMut(T) -> U + 'static,
    ) -> Stream<'scope, U> {
        self.unary_step(step_id, move |batch, out| {
            out.extend(batch.into_iter().map(&mut f));
            Ok(())
        })
    }

    /// Transforms each item with a fallible `f`.
    ///
    /// The first `Err` stops every worker, and [`run`](crate::run) returns
    /// [`RunError::Step`](crate::RunError::Step) naming `step_id` with the
    /// error as its source. Outputs of the failing batch are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use pipework_dataflow::connectors::{TestingSink, TestingSource};
    /// use pipework_dataflow::{run, Dataflow, ExecutionConfig};
    ///
    /// let out = TestingSink::new();
    /// let sink = out.clone();
    /// let flow = Dataflow::new("halves", move |flow| {
    ///     flow.input("inp", TestingSource::new(vec![2, 4]))
    ///         .try_map("half", |n: u32| if n % 2 == 0 { Ok(n / 2) } else { Err("odd") })
    ///         .filter("small", |n| *n < 100)
    ///         .output("out", sink.clone());
    /// });
    /// run(&flow, &ExecutionConfig::single())?;
    /// assert_eq!(out.items(), vec![1, 2]);
    /// # Ok::<(), pipework_dataflow::RunError>(())
    /// ```
    pub fn try_map<U, E>(
        self,
        step_id: &str,
        mut f: impl FnMut(T) -> Result<U, E> + 'static,
    ) -> Stream<'scope, U>
    where
        U: 'static,
        E: Into<BoxError>,
    {
        self.unary_step(step_id, move |batch, out| {
            for item in batch {
                out.push(f(item).map_err(Into::into)?);
            }
            Ok(())
        })
    }

    /// Keeps the items for which `predicate` is true.
    ///
    /// # Examples
    ///
    /// ```
    /// use pipework_dataflow::connectors::{TestingSink, TestingSource};
    /// use pipework_dataflow::{run, Dataflow, ExecutionConfig};
    ///
    /// let out = TestingSink::new();
    /// let sink = out.clone();
    /// let flow = Dataflow::new("evens", move |flow| {
    ///     flow.input("inp", TestingSource::new(vec![1, 2, 3, 4]))
    ///         .filter("even", |n: &u32| n % 2 == 0)
    ///         .output("out", sink.clone());
    /// });
    /// run(&flow, &ExecutionConfig::single())?;
    /// assert_eq!(out.items(), vec![2, 4]);
    /// # Ok::<(), pipework_dataflow::RunError>(())
    /// ```
    pub fn filter(
        self,
        step_id: &str,
        mut predicate: impl FnMut(&T) -> bool + 'static,
    ) -> Stream<'scope, T> {
        self.unary_step(step_id, move |mut batch, out| {
            batch.retain(|item| predicate(item));
            *out = batch;
            Ok(())
        })
    }

    /// Transforms each item and keeps the `Some` results.
    ///
    /// # Examples
    ///
    /// ```
    /// use pipework_dataflow::connectors::{TestingSink, TestingSource};
    /// use pipework_dataflow::{run, Dataflow, ExecutionConfig};
    ///
    /// let out = TestingSink::new();
    /// let sink = out.clone();
    /// let flow = Dataflow::new("halves", move |flow| {
    ///     flow.input("inp", TestingSource::new(vec![1, 2, 3, 4]))
    ///         .filter_map("half", |n: u32| (n % 2 == 0).then_some(n / 2))
    ///         .output("out", sink.clone());
    /// });
    /// run(&flow, &ExecutionConfig::single())?;
    /// assert_eq!(out.items(), vec![1, 2]);
    /// # Ok::<(), pipework_dataflow::RunError>(())
    /// ```
    pub fn filter_map<U: 'static>(
        self,
        step_id: &str,
        mut f: impl FnMut(T) -> Option<U> + 'static,
    ) -> Stream<'scope, U> {
        self.unary_step(step_id, move |batch, out| {
            out.extend(batch.into_iter().filter_map(&mut f));
            Ok(())
        })
    }

    /// Turns each item into zero or more items.
    ///
    /// # Examples
    ///
    /// ```
    /// use pipework_dataflow::connectors::{TestingSink, TestingSource};
    /// use pipework_dataflow::{run, Dataflow, ExecutionConfig};
    ///
    /// let out = TestingSink::new();
    /// let sink = out.clone();
    /// let flow = Dataflow::new("repeat", move |flow| {
    ///     flow.input("inp", TestingSource::new(vec![1, 2, 3, 4]))
    ///         .flat_map("repeat", |n: u32| std::iter::repeat(n).take(n as usize % 3))
    ///         .output("out", sink.clone());
    /// });
    /// run(&flow, &ExecutionConfig::single())?;
    /// assert_eq!(out.items(), vec![1, 2, 2, 4]);
    /// # Ok::<(), pipework_dataflow::RunError>(())
    /// ```
    pub fn flat_map<I>(
        self,
        step_id: &str,
        mut f: impl FnMut(T) -> I + 'static,
    ) -> Stream<'scope, I::Item>
    where
        I: IntoIterator,
        I::Item: 'static,
    {
        self.unary_step(step_id, move |batch, out| {
            for item in batch {
                out.extend(f(item));
            }
            Ok(())
        })
    }
}
