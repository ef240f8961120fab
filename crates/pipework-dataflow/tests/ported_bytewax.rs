//! Tests ported from bytewax v0.21.1 (Apache-2.0,
//! https://github.com/bytewax/bytewax/tree/v0.21.1/pytests) and rewritten in
//! Rust. Each `mod` names the upstream test it ports. Tweaks, applied
//! throughout: `StopIteration` is `Ok(None)`; `datetime`s are `SystemTime`s;
//! partition keys of file sources are the path (bytewax prefixes a
//! filesystem id); fixtures are this crate's own files under
//! `tests/fixtures/`, with the same shape as upstream's.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use pipework_dataflow::inputs::{FixedPartitionedSource, SourceError, StatefulSourcePartition};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// 2023-01-01 at `h:m:s` UTC.
fn jan1(h: u64, m: u64, s: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_672_531_200 + h * 3600 + m * 60 + s)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Polling-source schedule tests share this poller.
struct Always;
impl pipework_dataflow::inputs::Poller for Always {
    type Item = bool;
    type State = ();
    fn next_item(&mut self) -> Result<pipework_dataflow::inputs::Polled<bool>, SourceError> {
        Ok(pipework_dataflow::inputs::Polled::Item(true))
    }
    fn snapshot(&self) {}
}

/// pytests/test_inputs.py::test_simple_polling_source_interval
mod test_simple_polling_source_interval {
    use super::*;
    use pipework_dataflow::inputs::SimplePollingPartition;

    #[test]
    fn next_awake_is_one_interval_after_a_poll() -> Result<(), SourceError> {
        let now = jan1(5, 0, 0);
        let mut part =
            SimplePollingPartition::new(now, Duration::from_secs(30 * 60), Some(now), Always);
        assert_eq!(part.next_batch()?, Some(vec![true]));
        assert_eq!(part.next_awake(), Some(jan1(5, 30, 0)));
        Ok(())
    }
}

/// pytests/test_inputs.py::test_simple_polling_source_retry
mod test_simple_polling_source_retry {
    use super::*;
    use pipework_dataflow::inputs::{Polled, Poller, SimplePollingPartition};

    struct RetrySoon;
    impl Poller for RetrySoon {
        type Item = bool;
        type State = ();
        fn next_item(&mut self) -> Result<Polled<bool>, SourceError> {
            Ok(Polled::Retry(Duration::from_secs(5)))
        }
        fn snapshot(&self) {}
    }

    #[test]
    fn retry_moves_next_awake_by_the_retry_delay() -> Result<(), SourceError> {
        let now = jan1(5, 0, 0);
        let mut part =
            SimplePollingPartition::new(now, Duration::from_secs(30 * 60), Some(now), RetrySoon);
        assert_eq!(part.next_batch()?, Some(vec![]));
        assert_eq!(part.next_awake(), Some(jan1(5, 0, 5)));
        Ok(())
    }
}

/// pytests/test_inputs.py::test_simple_polling_source_align_to
mod test_simple_polling_source_align_to {
    use super::*;
    use pipework_dataflow::inputs::SimplePollingPartition;

    #[test]
    fn first_awake_is_the_next_alignment_mark() {
        let part = SimplePollingPartition::new(
            jan1(5, 15, 0),
            Duration::from_secs(30 * 60),
            Some(jan1(4, 0, 0)),
            Always,
        );
        assert_eq!(part.next_awake(), Some(jan1(5, 30, 0)));
    }
}

/// pytests/test_inputs.py::test_simple_polling_source_align_to_start_on_align_awakes_immediately
mod test_simple_polling_source_align_to_start_on_align_awakes_immediately {
    use super::*;
    use pipework_dataflow::inputs::SimplePollingPartition;

    #[test]
    fn on_a_mark_the_first_awake_is_now() {
        let part = SimplePollingPartition::new(
            jan1(5, 0, 0),
            Duration::from_secs(30 * 60),
            Some(jan1(4, 0, 0)),
            Always,
        );
        assert_eq!(part.next_awake(), Some(jan1(5, 0, 0)));
    }
}

/// pytests/test_testing.py::test_testing_source
mod test_testing_source {
    use super::*;
    use pipework_dataflow::connectors::TestingSource;

    #[test]
    fn emits_one_item_per_batch_then_ends() -> Result<(), SourceError> {
        let inp = TestingSource::new(0..3);
        let mut part = inp.build_part(SystemTime::now(), "iterable", None)?;
        assert_eq!(part.next_batch()?, Some(vec![0]));
        assert_eq!(part.next_batch()?, Some(vec![1]));
        assert_eq!(part.next_batch()?, Some(vec![2]));
        assert_eq!(part.next_batch()?, None);
        part.close()
    }
}

/// pytests/test_testing.py::test_testing_source_resume_state
mod test_testing_source_resume_state {
    use super::*;
    use pipework_dataflow::connectors::TestingSource;

    #[test]
    fn rebuilt_partition_yields_the_rest() -> Result<(), SourceError> {
        let inp = TestingSource::new(0..3);
        let mut part = inp.build_part(SystemTime::now(), "iterable", None)?;
        assert_eq!(part.next_batch()?, Some(vec![0]));
        assert_eq!(part.next_batch()?, Some(vec![1]));
        let resume_state = part.snapshot();
        assert_eq!(resume_state, 2);
        assert_eq!(part.next_batch()?, Some(vec![2]));
        part.close()?;

        let inp = TestingSource::new(0..3);
        let mut part = inp.build_part(SystemTime::now(), "iterable", Some(resume_state))?;
        assert_eq!(part.snapshot(), resume_state);
        assert_eq!(part.next_batch()?, Some(vec![2]));
        assert_eq!(part.next_batch()?, None);
        part.close()
    }
}

/// pytests/test_testing.py::test_testing_source_batch_size
mod test_testing_source_batch_size {
    use super::*;
    use pipework_dataflow::connectors::TestingSource;

    #[test]
    fn batches_hold_up_to_batch_size_items() -> Result<(), SourceError> {
        let inp = TestingSource::new(0..5).batch_size(2);
        let mut part = inp.build_part(SystemTime::now(), "iterable", None)?;
        assert_eq!(part.next_batch()?, Some(vec![0, 1]));
        assert_eq!(part.next_batch()?, Some(vec![2, 3]));
        assert_eq!(part.next_batch()?, Some(vec![4]));
        part.close()
    }
}

/// pytests/test_testing.py::test_testing_source_eof
mod test_testing_source_eof {
    use super::*;
    use pipework_dataflow::connectors::{TestingItem, TestingSource};

    #[test]
    fn eof_ends_the_input_and_a_resume_continues_after_it() -> Result<(), SourceError> {
        use TestingItem::{Eof, Item};
        let inp =
            TestingSource::with_markers(vec![Item(0), Item(1), Item(2), Eof, Item(3), Item(4)])
                .batch_size(2);
        let mut part = inp.build_part(SystemTime::now(), "iterable", None)?;
        assert_eq!(part.next_batch()?, Some(vec![0, 1]));
        assert_eq!(part.next_batch()?, Some(vec![2]));
        assert_eq!(part.next_batch()?, None);
        part.close()?;
        let resume_state = part.snapshot();
        let mut part = inp.build_part(SystemTime::now(), "iterable", Some(resume_state))?;
        assert_eq!(part.next_batch()?, Some(vec![3, 4]));
        assert_eq!(part.next_batch()?, None);
        part.close()
    }
}

/// pytests/test_testing.py::test_testing_source_abort
mod test_testing_source_abort {
    use super::*;
    use pipework_dataflow::connectors::{TestingItem, TestingSource};

    #[test]
    fn abort_fails_once_and_a_resume_skips_it() -> Result<(), SourceError> {
        use TestingItem::{Abort, Item};
        let inp =
            TestingSource::with_markers(vec![Item(0), Item(1), Item(2), Abort, Item(3), Item(4)])
                .batch_size(2);
        let mut part = inp.build_part(SystemTime::now(), "iterable", None)?;
        assert_eq!(part.next_batch()?, Some(vec![0, 1]));
        let resume_state = part.snapshot();
        assert_eq!(part.next_batch()?, Some(vec![2]));
        assert!(part.next_batch().unwrap_err().is_abort());
        let mut part = inp.build_part(SystemTime::now(), "iterable", Some(resume_state))?;
        assert_eq!(part.next_batch()?, Some(vec![2, 3]));
        assert_eq!(part.next_batch()?, Some(vec![4]));
        assert_eq!(part.next_batch()?, None);
        part.close()
    }
}

/// pytests/connectors/test_files.py::test_file_input_resume_state
mod test_file_input_resume_state {
    use super::*;
    use pipework_dataflow::connectors::FileSource;

    #[test]
    fn snapshot_after_one2_resumes_at_one3() -> Result<(), SourceError> {
        let file_path = fixture("dir_input/partition-1.txt");
        let inp = FileSource::new(&file_path).batch_size(1);
        let key = inp.list_parts()?[0].clone();
        let mut part = inp.build_part(SystemTime::now(), &key, None)?;
        assert_eq!(part.next_batch()?, Some(strings(&["one1"])));
        assert_eq!(part.next_batch()?, Some(strings(&["one2"])));
        let resume_state = part.snapshot();
        assert_eq!(part.next_batch()?, Some(strings(&["one3"])));
        assert_eq!(part.next_batch()?, Some(strings(&["one4"])));
        part.close()?;

        let inp = FileSource::new(&file_path).batch_size(1);
        let mut part = inp.build_part(SystemTime::now(), &key, Some(resume_state))?;
        assert_eq!(part.snapshot(), resume_state);
        for expected in ["one3", "one4", "one5", "one6"] {
            assert_eq!(part.next_batch()?, Some(strings(&[expected])));
        }
        assert_eq!(part.next_batch()?, None);
        part.close()
    }
}

/// pytests/connectors/test_files.py::test_file_output_resume_state
mod test_file_output_resume_state {
    use super::*;
    use pipework_dataflow::connectors::FileSink;
    use pipework_dataflow::outputs::{FixedPartitionedSink, StatefulSinkPartition};

    #[test]
    fn resume_truncates_to_the_snapshot_offset() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let file_path = tmp.path().join("out.txt");
        let out = FileSink::new(&file_path);
        let key = out.list_parts()[0].clone();
        let mut part = out.build_part(&key, None)?;
        part.write_batch(strings(&["one1"]))?;
        part.write_batch(strings(&["one2"]))?;
        part.write_batch(strings(&["one3"]))?;
        let resume_state = part.snapshot()?;
        part.write_batch(strings(&["one4"]))?;
        part.close()?;

        let out = FileSink::new(&file_path);
        let mut part = out.build_part(&key, Some(resume_state))?;
        assert_eq!(part.snapshot()?, resume_state);
        part.write_batch(strings(&["two4"]))?;
        part.write_batch(strings(&["two5"]))?;
        part.close()?;
        assert_eq!(
            std::fs::read_to_string(&file_path)?,
            "one1\none2\none3\ntwo4\ntwo5\n"
        );
        Ok(())
    }
}
