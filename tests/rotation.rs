//! Rotation: renamed, copied-and-truncated, truncated and deleted files lose no line and repeat
//! none (copytruncate: none but the lines no tailer can see, written between the tailer's last
//! read and the truncate, unless the copy is in the file group too).

mod common;

use std::fs;
use std::time::Duration;

use common::{prefill, Collector, Dirs, LogWriter, Pipeline};

const T: Duration = Duration::from_secs(60);

both_backends!(
    rename_and_create_rotation_while_writing,
    copytruncate_rotation,
    copytruncate_in_the_middle_of_writing,
    truncation_to_zero_then_rewrite,
    a_file_deleted_while_being_read_is_read_to_its_end,
    copytruncate_with_the_copies_in_the_group_while_writing,
    rename_rotation_with_the_rotated_files_in_the_group,
    copytruncate_of_an_idle_file_with_the_copy_in_the_group,
    a_file_that_only_begins_like_another_is_read_whole,
);

fn rename_and_create_rotation_while_writing(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::start();
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    // Only app.log matches: a rotated file leaves the group and must be read to its end anyway.
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    for rotation in 1..=3 {
        writer.write_paced(3_000, 10, Duration::from_millis(100));
        writer.rename_to(&dirs.log(&format!("app.log.{rotation}")));
        // Like a logger that reopens its file only on its next check: the old descriptor
        // still writes into the renamed file.
        writer.write_paced(1_000, 5, Duration::from_millis(100));
        writer.reopen();
    }
    writer.write(2_000);
    let n = writer.next;
    collector.expect_unique(n, T, &agent);
    agent.stop();
    collector.assert_exactly_once(n, &agent);
}

fn copytruncate_rotation(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::start();
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    for rotation in 1..=3 {
        writer.write(5_000);
        // copytruncate is racy by nature: a line written after the copy and before the truncate
        // is in neither the copy nor the file, and no tailer can deliver it. A tailer also
        // detects the truncation by the file being shorter than its offset, so a file that
        // grows past the old offset before the tailer looks is indistinguishable from one that
        // only grew. The test therefore sequences them as a careful setup would: the collector
        // has everything before the copy, and the logger then writes at its steady pace.
        collector.expect_unique(writer.next, T, &agent);
        writer.copy_truncate(&dirs.log(&format!("app.log.{rotation}")));
        writer.write_paced(2_000, 20, Duration::from_millis(200));
    }
    let n = writer.next;
    collector.expect_unique(n, T, &agent);
    agent.stop();
    collector.assert_exactly_once(n, &agent);
}

/// copytruncate while the logger writes on, without waiting for the agent. The lines written
/// after the agent's last read and before the truncate are in the copy only, which is not
/// tailed: no tailer can deliver them. What must hold: only such an unread tail of the old
/// content is missing, everything written after the truncate arrives (the agent reads the
/// file again from its start, not from its old offset), and nothing arrives twice or torn.
fn copytruncate_in_the_middle_of_writing(backend: &str) {
    const BEFORE: u64 = 10_000;
    let dirs = Dirs::new();
    let collector = Collector::start();
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    writer.write_paced(BEFORE - 200, 40, Duration::from_millis(400));
    writer.write(200); // and the copy at once: the agent may not have read these yet
    writer.copy_truncate(&dirs.log("app.log.1"));
    writer.write_paced(10_000, 40, Duration::from_millis(400));
    let n = writer.next;
    if !common::wait_until(T, || collector.missing(BEFORE..n).is_empty()) {
        let missing = collector.missing(BEFORE..n);
        panic!(
            "{} lines written after the truncate are missing ({:?} to {:?})\n{}",
            missing.len(),
            missing.first(),
            missing.last(),
            agent.diagnostics()
        );
    }
    agent.stop();
    let lost = collector.missing(0..BEFORE);
    if let (Some(&first), Some(&last)) = (lost.first(), lost.last()) {
        assert!(
            last == BEFORE - 1 && lost.len() as u64 == BEFORE - first,
            "only an unread tail of the old content may be missing, not {lost:?}"
        );
    }
    eprintln!(
        "{backend}: {} lines lost in the copytruncate window",
        lost.len()
    );
    assert_eq!(collector.duplicates(), 0, "{}", collector.summary());
    assert_eq!(collector.malformed(), 0, "{}", collector.summary());
    assert!(
        collector.outside(0..n).is_empty(),
        "{}",
        collector.summary()
    );
}

fn truncation_to_zero_then_rewrite(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::start();
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    writer.write(1_000);
    collector.expect_unique(1_000, T, &agent);
    writer.truncate();
    writer.write(500);
    collector.expect_unique(1_500, T, &agent);
    agent.stop();
    collector.assert_exactly_once(1_500, &agent);
}

fn a_file_deleted_while_being_read_is_read_to_its_end(backend: &str) {
    const N: u64 = 200_000;
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, 100);
    let collector = Collector::start();
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    // Deleted as soon as the agent has it open (its first line arrived), long before the end.
    collector.expect_unique(1, T, &agent);
    fs::remove_file(dirs.log("app.log")).unwrap();
    assert!(
        collector.unique() < N / 2,
        "the file was read before it could be deleted; {}",
        collector.summary()
    );
    collector.expect_unique(N, T, &agent);
    agent.stop();
    collector.assert_exactly_once(N, &agent);
}

/// copytruncate as logrotate does it for `app.log`, with a file group that also matches the
/// copies (`app.log.*`, a common way to catch the old file's last lines). The logger writes on
/// while the copy is being made. A copy begins like the file it was copied from, so it is read
/// only from where that file had been read to: every line arrives exactly once.
fn copytruncate_with_the_copies_in_the_group_while_writing(backend: &str) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let dirs = Dirs::new();
    let collector = Collector::start();
    let app = dirs.log("app.log");
    let mut writer = LogWriter::open(&app, 0);
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log.*", &dirs.pos(), collector.port()).start(backend);
    for rotation in 1..=4 {
        writer.write_paced(4_000, 8, Duration::from_millis(200));
        // The copy is made in two parts, with lines written between them (a copy takes time
        // on a busy host); then the file is truncated, and the logger goes on at its start.
        let mut from = fs::File::open(&app).unwrap();
        let mut to = fs::File::create(dirs.log(&format!("app.log.{rotation}"))).unwrap();
        let half = from.metadata().unwrap().len() / 2;
        let mut part = vec![0; half as usize];
        from.read_exact(&mut part).unwrap();
        to.write_all(&part).unwrap();
        writer.write(300);
        from.seek(SeekFrom::Start(half)).unwrap();
        std::io::copy(&mut from, &mut to).unwrap();
        writer.truncate();
    }
    writer.write(2_000);
    let n = writer.next;
    collector.expect_unique(n, T, &agent);
    agent.stop();
    collector.assert_exactly_once(n, &agent);
}

/// Rename rotation with a file group that matches the rotated files too: the new `app.log` is
/// a new file and is read whole, and the renamed one, still in the group, is read to its end.
fn rename_rotation_with_the_rotated_files_in_the_group(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::start();
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log.*", &dirs.pos(), collector.port()).start(backend);
    for rotation in 1..=4 {
        writer.write_paced(3_000, 6, Duration::from_millis(150));
        writer.rename_to(&dirs.log(&format!("app.log.{rotation}")));
        writer.write(200);
        writer.reopen();
    }
    writer.write(2_000);
    let n = writer.next;
    collector.expect_unique(n, T, &agent);
    agent.stop();
    collector.assert_exactly_once(n, &agent);
}

/// copytruncate of a file closed for idleness, with the copy in the file group: the copy holds
/// only lines delivered already from the original, and none of them is sent again.
fn copytruncate_of_an_idle_file_with_the_copy_in_the_group(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::start();
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    writer.write(2_000);
    let mut agent = Pipeline::new(&dirs.logs(), "app\\.log.*", &dirs.pos(), collector.port())
        .set("sources.r1.idleTimeout", "300")
        .start(backend);
    collector.expect_unique(2_000, T, &agent);
    // Long enough for the file to be closed as idle (a sweep every 300 ms).
    std::thread::sleep(Duration::from_millis(1_500));
    writer.copy_truncate(&dirs.log("app.log.1"));
    writer.write(1_000);
    collector.expect_unique(3_000, T, &agent);
    agent.stop();
    collector.assert_exactly_once(3_000, &agent);
}

/// Two files that begin with the same lines but differ further on are not copies of one
/// another: each is read whole, as Flume reads them, and only the shared lines arrive twice.
fn a_file_that_only_begins_like_another_is_read_whole(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::start();
    // Ten shared lines: 640 bytes, more than the 256 a copy is first recognised by.
    prefill(&dirs.log("app.log.a"), 0, 10, 64);
    prefill(&dirs.log("app.log.a"), 10, 1_000, 64);
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log.*", &dirs.pos(), collector.port()).start(backend);
    collector.expect_unique(1_010, T, &agent);
    prefill(&dirs.log("app.log.b"), 0, 10, 64);
    prefill(&dirs.log("app.log.b"), 1_010, 1_000, 64);
    collector.expect_unique(2_010, T, &agent);
    agent.stop();
    let missing = collector.missing(0..2_010);
    assert!(missing.is_empty(), "missing: {missing:?}");
    assert_eq!(
        collector.duplicates(),
        10,
        "only the shared lines twice; {}",
        collector.summary()
    );
}
