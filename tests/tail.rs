//! Tailing: what is appended to matching files reaches the collector exactly once and unchanged.

mod common;

use std::fs;
use std::io::Write;
use std::time::{Duration, SystemTime};

use common::{line, prefill, Collector, Dirs, Framing, LogWriter, Pipeline};

const T: Duration = Duration::from_secs(60);

both_backends!(
    lines_written_after_start_are_delivered_exactly_once,
    files_created_later_are_picked_up,
    binary_and_invalid_utf8_lines_arrive_byte_identical,
    a_10_mb_line_is_split_into_max_line_length_pieces,
    a_thousand_files_are_each_delivered_exactly_once,
    the_poll_watcher_sees_new_files_appends_and_rotation,
    a_backlog_does_not_hold_back_another_ready_file,
    a_backlog_does_not_hold_back_appends_to_another_file,
);

fn lines_written_after_start_are_delivered_exactly_once(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::start();
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    writer.write_paced(10_000, 50, Duration::from_millis(500));
    collector.expect_unique(10_000, T, &agent);
    agent.stop();
    collector.assert_exactly_once(10_000, &agent);
}

fn files_created_later_are_picked_up(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::start();
    let mut agent =
        Pipeline::new(&dirs.logs(), ".*\\.log", &dirs.pos(), collector.port()).start(backend);
    // The agent has started when it has an (empty) position file.
    assert!(
        common::wait_until(T, || dirs.pos().exists()),
        "no position file\n{}",
        agent.diagnostics()
    );
    prefill(&dirs.log("a.log"), 0, 100, 80);
    collector.expect_unique(100, T, &agent);
    // A file that does not match is ignored; one created meanwhile is read.
    prefill(&dirs.log("a.txt"), 1_000, 100, 80);
    let mut b = LogWriter::open(&dirs.log("b.log"), 100);
    b.write(100);
    collector.expect_unique(200, T, &agent);
    agent.stop();
    collector.assert_exactly_once(200, &agent);
}

fn binary_and_invalid_utf8_lines_arrive_byte_identical(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::with(Framing::Newline, true, true);
    let mut payloads: Vec<Vec<u8>> = vec![
        (0u8..=255).filter(|&b| b != b'\n').collect(),
        vec![0xff, 0xfe, 0xfd],
        vec![0xc3, 0x28, 0xa0, 0xa1],
        vec![0xed, 0xa0, 0x80],
        b"\0\0\0".to_vec(),
        b"carriage return\r".to_vec(),
        "caf\u{e9} \u{1f980}".as_bytes().to_vec(),
        Vec::new(),
    ];
    payloads.extend((0..200u32).map(|i| i.to_le_bytes().iter().map(|b| b | 0x80).collect()));
    let expected: Vec<Vec<u8>> = payloads
        .iter()
        .enumerate()
        .map(|(seq, p)| {
            let mut l = format!("{seq:016} ").into_bytes();
            l.extend_from_slice(p);
            l
        })
        .collect();
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dirs.log("app.log"))
        .unwrap();
    for l in &expected {
        f.write_all(l).unwrap();
        f.write_all(b"\n").unwrap();
    }
    let n = expected.len() as u64;
    collector.expect_unique(n, T, &agent);
    agent.stop();
    let raw = collector.raw();
    assert_eq!(raw.len(), expected.len(), "{}", collector.summary());
    for (got, want) in raw.iter().zip(&expected) {
        assert_eq!(got, want, "line changed in transit");
    }
}

fn a_10_mb_line_is_split_into_max_line_length_pieces(backend: &str) {
    const MAX: usize = 1_048_576;
    let dirs = Dirs::new();
    let collector = Collector::with(Framing::Newline, true, true);
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    let mut big = format!("{:016} ", 1).into_bytes();
    big.extend((0..10 * MAX + 12_345 - big.len()).map(|i| b'A' + (i % 23) as u8));
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dirs.log("app.log"))
        .unwrap();
    f.write_all(&line(0, 100)).unwrap();
    f.write_all(&big).unwrap();
    f.write_all(b"\n").unwrap();
    f.write_all(&line(2, 100)).unwrap();
    // Line 0, 11 pieces of line 1, line 2.
    assert!(
        collector.wait_for_lines(13, T),
        "{}\n{}",
        collector.summary(),
        agent.diagnostics()
    );
    let hwm_mib = agent.hwm_kib() / 1024;
    agent.stop();
    let raw = collector.raw();
    assert_eq!(raw.len(), 13, "{}", collector.summary());
    assert_eq!(raw[0], line(0, 100)[..99]);
    assert_eq!(raw[12], line(2, 100)[..99]);
    let pieces = &raw[1..12];
    for (i, p) in pieces[..10].iter().enumerate() {
        assert_eq!(p.len(), MAX, "piece {i} is not maxLineLength long");
    }
    assert_eq!(pieces[10].len(), 12_345);
    assert_eq!(pieces.concat(), big, "the pieces do not rebuild the line");
    eprintln!("peak RSS with a 10 MB line: {hwm_mib} MiB");
    assert!(hwm_mib < 100, "peak RSS {hwm_mib} MiB for a 10 MB line");
}

fn a_thousand_files_are_each_delivered_exactly_once(backend: &str) {
    const FILES: u64 = 1_000;
    const LINES: u64 = 100;
    let dirs = Dirs::new();
    for i in 0..FILES {
        prefill(&dirs.log(&format!("f{i:04}.log")), i * LINES, LINES, 60);
    }
    let collector = Collector::start();
    let mut agent =
        Pipeline::new(&dirs.logs(), ".*\\.log", &dirs.pos(), collector.port()).start(backend);
    collector.expect_unique(FILES * LINES, T, &agent);
    agent.stop();
    collector.assert_exactly_once(FILES * LINES, &agent);
}

/// `watcher = poll` (for NFS and the like, where inotify reports nothing): the source finds new
/// files, appends and rotations by scanning on `pollInterval`.
fn the_poll_watcher_sees_new_files_appends_and_rotation(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::start();
    let mut agent = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port())
        .set("sources.r1.watcher", "poll")
        .set("sources.r1.pollInterval", "50")
        .start(backend);
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    writer.write(1_000);
    collector.expect_unique(1_000, T, &agent);
    writer.write(500);
    writer.rename_to(&dirs.log("app.log.1"));
    writer.write(500); // still to the renamed file, as a logger does until it reopens
    writer.reopen();
    writer.write(1_000);
    collector.expect_unique(3_000, T, &agent);
    agent.stop();
    collector.assert_exactly_once(3_000, &agent);
}

/// Lines in the backlog of the fairness tests: with 24-byte lines, 60 MB, which the agent ships
/// in seconds (a debug build, more than a second even in release), against a read turn of at
/// most 4 reads of 256 KiB.
const BACKLOG: u64 = 2_500_000;

/// Creates `big.log` holding lines `0..BACKLOG`, its modification time an hour back, so that
/// the source (which reads the least recently modified files first) starts with it.
fn big_backlog(dirs: &Dirs) {
    prefill(&dirs.log("big.log"), 0, BACKLOG, 24);
    fs::File::options()
        .append(true)
        .open(dirs.log("big.log"))
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

/// Waits until line `seq` arrives; asserts that the backlog's last line had not arrived by then.
fn expect_before_the_backlog_ends(collector: &Collector, seq: u64, agent: &common::Agent) {
    assert!(
        common::wait_until(T, || collector.has(seq)),
        "line {seq} never arrived; {}\n{}",
        collector.summary(),
        agent.diagnostics()
    );
    assert!(
        !collector.has(BACKLOG - 1),
        "line {seq} arrived only once the {BACKLOG}-line backlog had been shipped; {}",
        collector.summary()
    );
}

/// A file with a few lines, ready at start beside one with a large backlog that is read first,
/// is read after the backlog's first turn, not after the whole backlog: the per-file budget of
/// a turn keeps one busy file from starving the others.
fn a_backlog_does_not_hold_back_another_ready_file(backend: &str) {
    let dirs = Dirs::new();
    big_backlog(&dirs);
    prefill(&dirs.log("small.log"), BACKLOG, 1_000, 24);
    let collector = Collector::start();
    let mut agent =
        Pipeline::new(&dirs.logs(), ".*\\.log", &dirs.pos(), collector.port()).start(backend);
    expect_before_the_backlog_ends(&collector, BACKLOG + 999, &agent);
    collector.expect_unique(BACKLOG + 1_000, T, &agent);
    agent.stop();
    collector.assert_exactly_once(BACKLOG + 1_000, &agent);
}

/// Lines appended one by one to a quiet file while another file's large backlog is being
/// shipped each arrive before the backlog's end: the source keeps noticing appends to other
/// files while one file keeps it busy. (Reads of 64 KiB make the backlog take more turns.)
fn a_backlog_does_not_hold_back_appends_to_another_file(backend: &str) {
    const SLOW: u64 = 3;
    let dirs = Dirs::new();
    big_backlog(&dirs);
    let mut slow = LogWriter::open(&dirs.log("slow.log"), BACKLOG);
    let collector = Collector::start();
    let mut agent = Pipeline::new(&dirs.logs(), ".*\\.log", &dirs.pos(), collector.port())
        .set("sources.r1.readBufferSize", "65536")
        .start(backend);
    // The backlog is being shipped.
    collector.expect_unique(1, T, &agent);
    for _ in 0..SLOW {
        let seq = slow.next;
        slow.write(1);
        expect_before_the_backlog_ends(&collector, seq, &agent);
    }
    collector.expect_unique(BACKLOG + SLOW, T, &agent);
    agent.stop();
    collector.assert_exactly_once(BACKLOG + SLOW, &agent);
}
