//! The recovery state of a `map_async` step: the inputs whose calls were
//! in flight when an epoch closed, one list per worker, and how a resumed
//! run (with any worker count) adopts them.
//!
//! Worker `i` stores its list under the state key `worker-i` (a JSON array
//! of the inputs, in arrival order; the key is discarded when the list is
//! empty). On a resume with `W` workers, worker `j` adopts the lists of
//! every old worker `i` with `i % W == j`, calls those inputs first, and
//! discards the old keys it adopted at its first snapshot, so that no list
//! is adopted twice.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use timely::dataflow::operators::Capability;

use crate::execution::{Failure, RunError};
use crate::operators::dirty::SnapSession;
use crate::recovery::{Record, RecoveryError, Resume};

/// The state key of worker `index`.
fn key_of(index: usize) -> String {
    format!("worker-{index}")
}

/// The worker index of a state key, if it is one.
fn index_of(key: &str) -> Option<usize> {
    let digits = key.strip_prefix("worker-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What one worker of the step snapshots, and what it has stored.
pub(super) struct StepSnapshot {
    step: String,
    key: String,
    resume: Arc<Resume>,
    /// The list stored under this worker's key (`None`: none).
    stored: Option<String>,
    /// Old workers' keys adopted here, to discard at the first snapshot.
    adopted: Vec<String>,
}

impl StepSnapshot {
    /// Adopts, for worker `index` of `workers`, the lists of the old
    /// workers it takes over; returns the state and their inputs (old
    /// worker by old worker, each list in order). A key that is not a
    /// worker's or a list that does not fit `T` fails the run.
    pub(super) fn adopt<T: DeserializeOwned>(
        step: &str,
        resume: Arc<Resume>,
        index: usize,
        workers: usize,
        failure: &Failure,
    ) -> (StepSnapshot, Vec<T>) {
        let invalid = |key: &str, message: String| {
            RunError::Recovery(RecoveryError::InvalidSnapshot {
                path: resume.path_of(step, key).to_path_buf(),
                step: step.to_owned(),
                key: key.to_owned(),
                message,
            })
        };
        let mut olds: Vec<(usize, &str, &str)> = Vec::new();
        for (key, json) in resume.states_of(step) {
            match index_of(key) {
                Some(old) if old % workers.max(1) == index => olds.push((old, key, json)),
                Some(_) => {}
                None => failure.fail(invalid(key, "not a worker's state key".to_owned())),
            }
        }
        olds.sort_unstable_by_key(|(old, ..)| *old);
        let own = key_of(index);
        let mut stored = None;
        let mut adopted = Vec::new();
        let mut inputs = Vec::new();
        for (_, key, json) in olds {
            match serde_json::from_str::<Vec<T>>(json) {
                Ok(list) => inputs.extend(list),
                Err(err) => failure.fail(invalid(key, err.to_string())),
            }
            if key == own {
                stored = Some(json.to_owned());
            } else {
                adopted.push(key.to_owned());
            }
        }
        let state = StepSnapshot {
            step: step.to_owned(),
            key: own,
            resume,
            stored,
            adopted,
        };
        (state, inputs)
    }

    /// Whether old keys were adopted that the first snapshot must discard.
    pub(super) fn has_adopted(&self) -> bool {
        !self.adopted.is_empty()
    }

    /// Sends the snapshot at `cap`'s epoch: this worker's list of `inputs`
    /// if it changed, and the discards of adopted keys the first time.
    ///
    /// # Errors
    ///
    /// [`RecoveryError::Serialize`] when an input cannot be serialized.
    pub(super) fn send<T: Serialize>(
        &mut self,
        output: &mut SnapSession<'_>,
        cap: &Capability<u64>,
        inputs: Vec<&T>,
    ) -> Result<(), RunError> {
        let list = if inputs.is_empty() {
            None
        } else {
            let json = serde_json::to_string(&inputs).map_err(|err| {
                RunError::Recovery(RecoveryError::Serialize {
                    step: self.step.clone(),
                    key: self.key.clone(),
                    message: err.to_string(),
                })
            })?;
            Some(json)
        };
        if list == self.stored && self.adopted.is_empty() {
            return Ok(());
        }
        let mut session = output.session(cap);
        for key in std::mem::take(&mut self.adopted) {
            session.give(Record::State {
                part: self.resume.part_of(&self.step, &key),
                step: self.step.clone(),
                key,
                state: None,
            });
        }
        if list != self.stored {
            session.give(Record::State {
                part: self.resume.part_of(&self.step, &self.key),
                step: self.step.clone(),
                key: self.key.clone(),
                state: list.clone(),
            });
            self.stored = list;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_keys_name_workers() {
        assert_eq!(index_of(&key_of(12)), Some(12));
        assert_eq!(index_of("worker-"), None);
        assert_eq!(index_of("worker-1x"), None);
        assert_eq!(index_of("part-1"), None);
    }
}
