//! Tests for the source traits, the polling source and the file, directory,
//! CSV and testing connectors, read partition by partition (no dataflow).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use pipework_dataflow::connectors::{
    CsvSource, DirSink, DirSource, FileSink, FileSource, TestingItem, TestingSource,
};
use pipework_dataflow::inputs::{
    FixedPartitionedSource, Polled, Poller, SimplePollingSource, SourceError,
    StatefulSourcePartition,
};
use pipework_dataflow::outputs::{FixedPartitionedSink, SinkError, StatefulSinkPartition};
use proptest::prelude::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn drain<P: StatefulSourcePartition>(part: &mut P) -> Result<Vec<P::Item>, SourceError> {
    let mut all = Vec::new();
    while let Some(batch) = part.next_batch()? {
        all.extend(batch);
    }
    Ok(all)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn file_source_strips_crlf_and_keeps_blank_lines() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("crlf.txt");
    std::fs::write(&path, "a\r\n\r\nb")?;
    let source = FileSource::new(&path);
    let mut part = source.build_part(SystemTime::now(), &source.list_parts()?[0], None)?;
    assert_eq!(drain(&mut part)?, strings(&["a", "", "b"]));
    Ok(())
}

#[test]
fn file_source_reads_lines_across_buffer_boundaries_and_resumes_between_them(
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("big.txt");
    let mut lines: Vec<String> = (0..5_000)
        .map(|i| format!("{i:05}-{}", "x".repeat(i % 97)))
        .collect();
    lines.insert(2_500, "y".repeat(200_000));
    std::fs::write(
        &path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )?;
    let source = FileSource::new(&path).batch_size(333);
    let key = source.list_parts()?[0].clone();
    let mut part = source.build_part(SystemTime::now(), &key, None)?;
    let mut seen = Vec::new();
    while seen.len() < 2_600 {
        seen.extend(part.next_batch()?.unwrap_or_default());
    }
    let mut resumed = source.build_part(SystemTime::now(), &key, Some(part.snapshot()))?;
    seen.extend(drain(&mut resumed)?);
    assert_eq!(seen, lines);
    Ok(())
}

#[test]
fn file_source_resumes_after_an_unterminated_last_line() -> Result<(), Box<dyn std::error::Error>> {
    // A file whose writer was cut off before its last newline: the last
    // line is still read, and the snapshot after it is the file's length,
    // so a resumed run finds nothing more instead of an invalid offset.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("in.txt");
    std::fs::write(&path, "a\nbc\ndef")?;
    let source = FileSource::new(&path);
    let key = source.list_parts()?[0].clone();
    let mut part = source.build_part(SystemTime::now(), &key, None)?;
    assert_eq!(drain(&mut part)?, strings(&["a", "bc", "def"]));
    assert_eq!(part.snapshot(), std::fs::metadata(&path)?.len());
    let mut resumed = source.build_part(SystemTime::now(), &key, Some(part.snapshot()))?;
    assert_eq!(drain(&mut resumed)?, Vec::<String>::new());
    Ok(())
}

#[test]
fn file_source_on_missing_file_is_not_found() {
    let source = FileSource::new("/definitely/not/here.txt");
    assert!(matches!(
        source.list_parts(),
        Err(SourceError::NotFound { .. })
    ));
}

#[test]
fn file_source_rejects_offset_past_the_end() -> Result<(), Box<dyn std::error::Error>> {
    let path = fixture("dir_input/partition-4.txt");
    let source = FileSource::new(&path);
    let err = source
        .build_part(SystemTime::now(), &source.list_parts()?[0], Some(10_000))
        .unwrap_err();
    assert!(
        matches!(err, SourceError::InvalidResumeState { .. }),
        "{err}"
    );
    Ok(())
}

#[test]
fn file_source_batches_by_batch_size() -> Result<(), Box<dyn std::error::Error>> {
    let source = FileSource::new(fixture("dir_input/partition-1.txt")).batch_size(4);
    let mut part = source.build_part(SystemTime::now(), &source.list_parts()?[0], None)?;
    assert_eq!(part.next_batch()?.map(|b| b.len()), Some(4));
    assert_eq!(part.next_batch()?.map(|b| b.len()), Some(2));
    assert_eq!(part.next_batch()?, None);
    Ok(())
}

#[test]
fn file_source_with_zero_batch_size_is_a_config_error() -> Result<(), Box<dyn std::error::Error>> {
    let source = FileSource::new(fixture("dir_input/partition-1.txt")).batch_size(0);
    let err = source
        .build_part(SystemTime::now(), &source.list_parts()?[0], None)
        .unwrap_err();
    assert!(matches!(err, SourceError::InvalidConfig { .. }));
    Ok(())
}

#[test]
fn dir_source_has_one_partition_per_matching_file() -> Result<(), Box<dyn std::error::Error>> {
    let source = DirSource::new(fixture("dir_input"));
    let parts = source.list_parts()?;
    assert_eq!(parts.len(), 5);
    let mut lines = Vec::new();
    for part in &parts {
        let mut built = source.build_part(SystemTime::now(), part, None)?;
        lines.extend(drain(&mut built)?);
    }
    assert_eq!(lines.len(), 6 + 3 + 2 + 1 + 4);
    let only_two = DirSource::new(fixture("dir_input")).glob("partition-[12].txt");
    assert_eq!(
        only_two.list_parts()?,
        strings(&["partition-1.txt", "partition-2.txt"])
    );
    Ok(())
}

#[test]
fn dir_source_errors_name_the_path() {
    let missing = DirSource::new(fixture("bluster"));
    let err = missing.list_parts().unwrap_err();
    assert!(
        err.to_string().contains("bluster") && err.to_string().contains("does not exist"),
        "{err}"
    );
    let file = DirSource::new(fixture("dir_input/partition-1.txt"));
    let err = file.list_parts().unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
    let bad_glob = DirSource::new(fixture("dir_input")).glob("[");
    assert!(matches!(
        bad_glob.list_parts(),
        Err(SourceError::InvalidGlob { .. })
    ));
}

#[test]
fn dir_source_refuses_parts_outside_the_directory() {
    let source = DirSource::new(fixture("dir_input"));
    let err = source
        .build_part(SystemTime::now(), "../blank-lines.txt", None)
        .unwrap_err();
    assert!(matches!(err, SourceError::UnknownPart { .. }));
}

#[test]
fn csv_source_resumes_without_rereading_rows_and_keeps_the_header(
) -> Result<(), Box<dyn std::error::Error>> {
    let source = CsvSource::new(fixture("readings.csv")).batch_size(1);
    let key = source.list_parts()?[0].clone();
    let mut part = source.build_part(SystemTime::now(), &key, None)?;
    let first = part.next_batch()?.unwrap_or_default();
    assert_eq!(first[0]["sensor"], "boiler");
    let state = part.snapshot();
    let mut resumed = source.build_part(SystemTime::now(), &key, Some(state))?;
    let rest = drain(&mut resumed)?;
    let sensors: Vec<&str> = rest.iter().map(|row| row["sensor"].as_str()).collect();
    assert_eq!(sensors, vec!["intake", "exhaust"]);
    assert_eq!(rest[1]["reading"], "240.0");
    assert_eq!(rest[1].len(), 3);
    Ok(())
}

#[test]
fn csv_row_with_wrong_field_count_names_file_and_line() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "a,b\n1,2\n3\n")?;
    let source = CsvSource::new(&path);
    let mut part = source.build_part(SystemTime::now(), &source.list_parts()?[0], None)?;
    let err = drain(&mut part).unwrap_err();
    assert!(matches!(err, SourceError::Csv { line: 3, .. }), "{err}");
    assert!(err.to_string().contains("bad.csv:3"), "{err}");
    Ok(())
}

#[test]
fn csv_source_honours_the_delimiter() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("semi.csv");
    std::fs::write(&path, "a;b\n1;2\n")?;
    let source = CsvSource::new(&path).delimiter(b';');
    let mut part = source.build_part(SystemTime::now(), &source.list_parts()?[0], None)?;
    let rows = drain(&mut part)?;
    assert_eq!(rows[0]["b"], "2");
    Ok(())
}

#[test]
fn testing_source_pause_sets_an_awake_time_and_continues() -> Result<(), SourceError> {
    let source = TestingSource::with_markers(vec![
        TestingItem::Item(1),
        TestingItem::Pause(Duration::from_secs(60)),
        TestingItem::Item(2),
    ])
    .batch_size(5);
    let before = SystemTime::now();
    let mut part = source.build_part(before, "iterable", None)?;
    assert_eq!(part.next_batch()?, Some(vec![1]));
    let awake = part.next_awake().expect("a pause sets an awake time");
    assert!(awake >= before + Duration::from_secs(60));
    assert_eq!(part.next_batch()?, Some(vec![2]));
    assert_eq!(part.next_awake(), None);
    assert_eq!(part.next_batch()?, None);
    Ok(())
}

#[test]
fn testing_source_abort_fires_once_across_rebuilds() -> Result<(), SourceError> {
    let source = TestingSource::with_markers(vec![
        TestingItem::Item(1),
        TestingItem::Abort,
        TestingItem::Item(2),
    ]);
    let mut part = source.build_part(SystemTime::now(), "iterable", None)?;
    assert_eq!(part.next_batch()?, Some(vec![1]));
    assert_eq!(part.next_batch()?, Some(vec![]));
    assert!(part.next_batch().unwrap_err().is_abort());
    let mut again = source
        .clone()
        .build_part(SystemTime::now(), "iterable", None)?;
    assert_eq!(drain(&mut again)?, vec![1, 2]);
    Ok(())
}

#[test]
fn file_sink_truncates_on_a_fresh_build() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("out.txt");
    std::fs::write(&path, "stale\nstale\n")?;
    let sink = FileSink::new(&path);
    let mut part = sink.build_part(&sink.list_parts()[0], None)?;
    part.write_batch(strings(&["fresh"]))?;
    part.close()?;
    assert_eq!(std::fs::read_to_string(&path)?, "fresh\n");
    Ok(())
}

#[test]
fn dir_sink_rejects_unknown_parts() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let sink = DirSink::new(dir.path(), 2);
    let err = sink.build_part("part_7", None).unwrap_err();
    assert!(
        matches!(&err, SinkError::UnknownPart { part } if part == "part_7"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(dir.path())?.count(), 0, "no file made");
    Ok(())
}

/// `DirSink` holds closures, so its `Debug` is written by hand: it still
/// names the directory and the file count.
#[test]
fn dir_sink_debug_names_its_directory_and_file_count() {
    let sink = DirSink::new("/data/out", 3).assign_file(|_| 0);
    assert_eq!(
        format!("{sink:?}"),
        r#"DirSink { dir: "/data/out", file_count: 3, .. }"#
    );
}

struct Counter {
    next: u32,
    stop_at: u32,
}

impl Poller for Counter {
    type Item = u32;
    type State = u32;
    fn next_item(&mut self) -> Result<Polled<u32>, SourceError> {
        if self.next >= self.stop_at {
            return Ok(Polled::Done);
        }
        self.next += 1;
        Ok(Polled::Item(self.next - 1))
    }
    fn snapshot(&self) -> u32 {
        self.next
    }
}

#[test]
fn polling_source_resumes_from_the_poller_snapshot() -> Result<(), SourceError> {
    let source = SimplePollingSource::new(Duration::from_secs(1), |resume: Option<u32>| {
        Ok(Counter {
            next: resume.unwrap_or(0),
            stop_at: 4,
        })
    });
    let t0 = SystemTime::UNIX_EPOCH;
    let mut part = source.build_part(t0, "singleton", None)?;
    assert_eq!(part.next_batch()?, Some(vec![0]));
    assert_eq!(part.next_batch()?, Some(vec![1]));
    assert_eq!(part.next_awake(), Some(t0 + Duration::from_secs(2)));
    let state = part.snapshot();
    let mut resumed = source.build_part(t0, "singleton", Some(state))?;
    assert_eq!(drain(&mut resumed)?, vec![2, 3]);
    assert!(matches!(
        source.build_part(t0, "other", None),
        Err(SourceError::UnknownPart { part }) if part == "other"
    ));
    Ok(())
}

#[test]
fn polling_source_aligns_to_a_mark_in_the_future() -> Result<(), SourceError> {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
    let source = SimplePollingSource::new(Duration::from_secs(60), |_: Option<u32>| {
        Ok(Counter {
            next: 0,
            stop_at: 1,
        })
    })
    .align_to(t0 + Duration::from_secs(90));
    let part = source.build_part(t0, "singleton", None)?;
    assert_eq!(part.next_awake(), Some(t0 + Duration::from_secs(30)));
    Ok(())
}

proptest! {
    /// Resuming a file read from the snapshot after any number of lines gives
    /// the same lines as reading it in one go.
    #[test]
    fn file_resume_after_any_line_equals_an_uninterrupted_read(
        lines in proptest::collection::vec("[a-z ]{0,8}", 0..30),
        cut in 0usize..30,
        batch in 1usize..5,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let source = FileSource::new(&path).batch_size(batch);
        let key = source.list_parts().unwrap()[0].clone();
        let mut part = source.build_part(SystemTime::now(), &key, None).unwrap();
        let mut seen = Vec::new();
        while seen.len() < cut.min(lines.len()) {
            match part.next_batch().unwrap() {
                Some(b) => seen.extend(b),
                None => break,
            }
        }
        let state = part.snapshot();
        let mut resumed = source.build_part(SystemTime::now(), &key, Some(state)).unwrap();
        seen.extend(drain(&mut resumed).unwrap());
        prop_assert_eq!(seen, lines);
    }
}
