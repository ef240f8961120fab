//! The first error of a run, kept while the others that race it are
//! dropped: an error caused by the shutdown that the first one started
//! would only hide the real cause.

use std::sync::Mutex;

use super::lock;

/// Holds the first error offered to it.
///
/// The threaded pipeline's [`Control`](crate::pipeline) and the dataflow's
/// failure flag both keep one, then cancel the run.
#[derive(Debug)]
pub struct FirstError<E> {
    first: Mutex<Option<E>>,
}

impl<E> Default for FirstError<E> {
    fn default() -> Self {
        FirstError {
            first: Mutex::new(None),
        }
    }
}

impl<E> FirstError<E> {
    /// Keeps `error` if no error is kept yet; returns whether it was kept.
    pub fn offer(&self, error: E) -> bool {
        let mut first = lock(&self.first);
        if first.is_some() {
            return false;
        }
        *first = Some(error);
        true
    }

    /// Takes the kept error out.
    pub fn take(&self) -> Option<E> {
        lock(&self.first).take()
    }

    /// Looks at the kept error, leaving it in place.
    pub fn inspect<R>(&self, look: impl FnOnce(Option<&E>) -> R) -> R {
        look(lock(&self.first).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::FirstError;

    #[test]
    fn keeps_the_first_error_only() {
        let first = FirstError::default();
        assert!(first.offer("disk full"));
        assert!(!first.offer("broken pipe after the cancel"));
        assert_eq!(first.inspect(|e| e.copied()), Some("disk full"));
        assert_eq!(first.take(), Some("disk full"));
        assert_eq!(first.take(), None);
        assert!(first.offer("next run"));
    }
}
