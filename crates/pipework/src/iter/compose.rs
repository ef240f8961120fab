//! [`combine`]: build one iterator from a source and a list of steps.

/// An iterator whose type is not spelled out: what a step takes and returns.
pub type BoxIter<'a, T> = Box<dyn Iterator<Item = T> + 'a>;

/// One step of an iterator pipeline: takes the iterator so far, returns a
/// new one (paipa's coroutine step, a generator taking an iterator).
pub type IterStep<'a, T> = Box<dyn FnOnce(BoxIter<'a, T>) -> BoxIter<'a, T> + 'a>;

/// Chains `steps` onto `source`, first step first (paipa's
/// `combine_pipeline`). Nothing runs until the result is pulled.
///
/// A list holds steps of one item type; for steps that change the type,
/// chain iterator adapters directly (`source.map(..).chunk(..)`), which is
/// the same thing with the types checked per step.
///
/// # Examples
///
/// ```
/// use pipework::iter::{combine, BoxIter, IterStep};
///
/// let remove_odd: IterStep<'_, u32> = Box::new(|it: BoxIter<'_, u32>| -> BoxIter<'_, u32> {
///     Box::new(it.filter(|n| n % 2 == 0))
/// });
/// let total: u32 = combine(0..100, vec![remove_odd]).sum();
/// assert_eq!(total, 2450);
/// ```
pub fn combine<'a, I>(source: I, steps: Vec<IterStep<'a, I::Item>>) -> BoxIter<'a, I::Item>
where
    I: IntoIterator,
    I::IntoIter: 'a,
{
    steps
        .into_iter()
        .fold(Box::new(source.into_iter()), |it, step| step(it))
}
