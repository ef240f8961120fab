//! [`consume`]: drive an iterator for its side effects.

/// Advances `iter` by `n` items, or to its end when `n` is `None`, dropping
/// the items; returns how many were consumed. The end of an iterator
/// pipeline whose last step does the work (paipa's `consume`).
///
/// # Examples
///
/// ```
/// let mut it = 0..10;
/// assert_eq!(pipework::iter::consume(&mut it, Some(3)), 3);
/// assert_eq!(it.next(), Some(3));
/// assert_eq!(pipework::iter::consume(it, None), 6);
/// ```
pub fn consume<I: IntoIterator>(iter: I, n: Option<usize>) -> usize {
    let iter = iter.into_iter();
    match n {
        Some(n) => iter.take(n).fold(0, |count, _| count + 1),
        None => iter.fold(0, |count, _| count + 1),
    }
}
