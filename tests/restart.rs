//! Where reading starts and resumes: after a graceful stop, after kill -9, from a position file
//! written by Flume, and with `skipToEnd`.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{line, prefill, recorded_position, Collector, Dirs, LogWriter, Pipeline};

const T: Duration = Duration::from_secs(90);

both_backends!(
    graceful_stop_mid_run_then_restart_loses_and_repeats_nothing,
    a_stop_is_prompt_while_reading_a_backlog,
    kill_9_mid_run_then_restart_loses_nothing,
    a_flume_position_file_is_honoured,
    a_reused_inode_is_read_from_the_start,
    a_matching_fingerprint_resumes_at_the_position,
    a_sharded_source_splits_the_files_and_resumes_every_one,
    an_idle_file_is_closed_and_reopened_where_it_was_left,
    a_closed_idle_file_renamed_away_still_delivers_its_last_lines,
    a_file_rotated_away_while_stopped_is_read_to_its_end_at_restart,
    skip_to_end_skips_what_files_held_at_start,
    skip_to_end_does_not_skip_what_the_position_file_records_as_undelivered,
);

/// Stops a running agent in the middle of a large file, for sure: with the collector not
/// reading, the agent gets ahead only by what the socket buffers (about 10 MB on loopback) and
/// the channel hold, and the stop finds the sink blocked in a write. Returns the lines delivered.
fn stop_mid_file(collector: &Collector, agent: &mut common::Agent) -> u64 {
    collector.expect_unique(10_000, T, agent);
    collector.pause();
    agent.terminate();
    assert!(
        common::wait_until(T, || agent.stderr().contains("stopping: sinks drain")),
        "the agent did not stop its sources\n{}",
        agent.diagnostics()
    );
    collector.resume();
    agent.wait_clean_exit();
    collector.unique()
}

fn graceful_stop_mid_run_then_restart_loses_and_repeats_nothing(backend: &str) {
    const N: u64 = 300_000;
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, 100);
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    let mut agent = pipeline.start(backend);
    let first = stop_mid_file(&collector, &mut agent);
    eprintln!("delivered before the stop: {first} of {N}");
    assert!(
        first < N,
        "the run ended before the stop; the test proves nothing"
    );
    // Written while the agent is down.
    let mut writer = LogWriter::open(&dirs.log("app.log"), N);
    writer.write(10_000);
    let n = writer.next;
    let mut agent = pipeline.start(backend);
    collector.expect_unique(n, T, &agent);
    agent.stop();
    collector.assert_exactly_once(n, &agent);
}

fn a_stop_is_prompt_while_reading_a_backlog(backend: &str) {
    const N: u64 = 200_000;
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, 100);
    let collector = Collector::start();
    // One event per source batch: the source is slower than the sink, the channel has room and
    // the source never waits to put, the case where it must still notice the stop.
    let mut agent = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port())
        .set("sources.r1.batchSize", "1")
        .start(backend);
    collector.expect_unique(N / 20, T, &agent);
    let asked = Instant::now();
    agent.stop();
    let took = asked.elapsed();
    let first = collector.unique();
    eprintln!("stopped {took:?} after SIGTERM with {first} of {N} delivered");
    assert!(
        first < N / 2,
        "the source read on to the end of a backlog after SIGTERM ({first} of {N} delivered, \
         stop took {took:?})"
    );
    // What was not read is delivered after a restart, once.
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    collector.expect_unique(N, T, &agent);
    agent.stop();
    collector.assert_exactly_once(N, &agent);
}

fn kill_9_mid_run_then_restart_loses_nothing(backend: &str) {
    const N: u64 = 1_000_000;
    const LEN: u64 = 100;
    const CAPACITY: u64 = 10_000;
    const BATCH: u64 = 500;
    const WRITE_POS_MS: u64 = 100;
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, LEN as usize);
    let inode = fs::metadata(dirs.log("app.log")).unwrap().ino();
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port())
        .set("channels.c1.capacity", &CAPACITY.to_string())
        .set("channels.c1.transactionCapacity", &BATCH.to_string())
        .set("sources.r1.batchSize", &BATCH.to_string())
        .set("sinks.k1.batch-size", &BATCH.to_string())
        .set("sources.r1.writePosInterval", &WRITE_POS_MS.to_string());
    let started = Instant::now();
    let mut agent = pipeline.start(backend);
    collector.expect_unique(N * 3 / 10, T, &agent);
    agent.kill9();
    let ran = started.elapsed();
    // Let the collector read what the killed agent had already handed to the kernel.
    let mut last = collector.lines();
    common::wait_until(T, || {
        std::thread::sleep(Duration::from_millis(200));
        let now = collector.lines();
        std::mem::replace(&mut last, now) == now
    });
    let first = collector.unique();
    assert!(
        first < N,
        "the run ended before the kill; the test proves nothing"
    );
    let pos = recorded_position(&dirs.pos(), inode);
    let rate = first as f64 / ran.as_secs_f64();
    eprintln!(
        "kill -9 after {ran:?}: {first} of {N} delivered ({rate:.0} lines/s), position file at \
         line {}",
        pos / LEN
    );
    // The position file is written every writePosInterval while the agent works, not only
    // when it catches up: a restart must not resend everything since the start.
    assert!(
        pos > 0,
        "no position recorded during a {ran:?} run (writePosInterval {WRITE_POS_MS} ms)"
    );
    assert_eq!(pos % LEN, 0, "position {pos} is not at a line boundary");
    let resume = pos / LEN;
    assert!(resume <= first, "position {pos} is ahead of delivery");

    let mut agent = pipeline.start(backend);
    collector.expect_unique(N, T, &agent);
    agent.stop();
    let missing = collector.missing(0..N);
    let dups = collector.duplicates();
    eprintln!(
        "after kill -9 and restart: {} missing, {dups} duplicates",
        missing.len()
    );
    assert!(
        missing.is_empty() && collector.outside(0..N).is_empty() && collector.malformed() == 0,
        "{} missing; {}",
        missing.len(),
        collector.summary()
    );
    // Exactly what was delivered past the recorded position is sent again.
    assert_eq!(dups, first - resume, "{}", collector.summary());
    // The position lags delivery by what is in flight (channel and one sink batch) plus what
    // was delivered since the last position write (one interval at the rate measured).
    let bound = CAPACITY + BATCH + (rate * 2.0 * WRITE_POS_MS as f64 / 1000.0) as u64;
    assert!(
        dups <= bound,
        "{dups} duplicates, more than channel capacity {CAPACITY} + batch size {BATCH} + two \
         writePosIntervals of delivery ({bound} in all)"
    );
}

fn a_flume_position_file_is_honoured(backend: &str) {
    const N: u64 = 1_000;
    const FROM: u64 = 400;
    let dirs = Dirs::new();
    let path = dirs.log("app.log");
    prefill(&path, 0, N, 90);
    let pos: usize = (0..FROM).map(|q| line(q, 90).len()).sum();
    let inode = fs::metadata(&path).unwrap().ino();
    // Exactly what Flume's TaildirSource writes (no spate sidecar).
    fs::write(
        dirs.pos(),
        format!(
            "[{{\"inode\":{inode},\"pos\":{pos},\"file\":\"{}\"}}]",
            path.display()
        ),
    )
    .unwrap();
    let collector = Collector::start();
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    collector.expect_unique(N - FROM, T, &agent);
    agent.stop();
    let before = collector.outside(FROM..N);
    assert!(
        before.is_empty(),
        "{} lines before the recorded position were sent (first {:?})",
        before.len(),
        &before[..before.len().min(5)]
    );
    assert!(collector.missing(FROM..N).is_empty() && collector.duplicates() == 0);
    assert_eq!(
        collector.malformed(),
        0,
        "the position was not at a line boundary"
    );
}

/// Writes a position file (Flume's format) and spate's sidecar for `path` at `pos`, with the
/// fingerprint of `prefix` as the sidecar's record of the file's first bytes.
fn write_positions(dirs: &Dirs, path: &Path, pos: usize, prefix: &[u8]) {
    let meta = fs::metadata(path).unwrap();
    let fp = spate::source::taildir::position::Fingerprint::of(prefix);
    fs::write(
        dirs.pos(),
        format!(
            "[{{\"inode\":{},\"pos\":{pos},\"file\":\"{}\"}}]",
            meta.ino(),
            path.display()
        ),
    )
    .unwrap();
    let mut sidecar = dirs.pos().into_os_string();
    sidecar.push(".spate");
    fs::write(
        sidecar,
        format!(
            "[{{\"inode\":{},\"dev\":{},\"fp_len\":{},\"fp\":{}}}]",
            meta.ino(),
            meta.dev(),
            fp.len,
            fp.hash
        ),
    )
    .unwrap();
}

/// The position file knows this inode, but the sidecar's fingerprint of its first bytes does not
/// match: the inode was reused by a new file, which is read from the start.
fn a_reused_inode_is_read_from_the_start(backend: &str) {
    const N: u64 = 1_000;
    let dirs = Dirs::new();
    let path = dirs.log("app.log");
    prefill(&path, 0, N, 90);
    let pos: usize = (0..400).map(|q| line(q, 90).len()).sum();
    write_positions(
        &dirs,
        &path,
        pos,
        b"the first bytes of the file that had this inode before",
    );
    let collector = Collector::start();
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    collector.expect_unique(N, T, &agent);
    agent.stop();
    collector.assert_exactly_once(N, &agent);
}

/// The counterpart: the sidecar's fingerprint matches, so reading resumes at the position.
fn a_matching_fingerprint_resumes_at_the_position(backend: &str) {
    const N: u64 = 1_000;
    const FROM: u64 = 400;
    let dirs = Dirs::new();
    let path = dirs.log("app.log");
    prefill(&path, 0, N, 90);
    let pos: usize = (0..FROM).map(|q| line(q, 90).len()).sum();
    let content = fs::read(&path).unwrap();
    write_positions(&dirs, &path, pos, &content[..256]);
    let collector = Collector::start();
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    collector.expect_unique(N - FROM, T, &agent);
    agent.stop();
    assert!(
        collector.outside(FROM..N).is_empty(),
        "lines before the position were sent"
    );
    assert!(collector.missing(FROM..N).is_empty() && collector.duplicates() == 0);
}

/// `shards = auto` on two workers: each file is read by one shard, both shards get files, and
/// the position file they share records every file, so a restart repeats nothing.
fn a_sharded_source_splits_the_files_and_resumes_every_one(backend: &str) {
    const FILES: u64 = 40;
    const LINES: u64 = 500;
    const MORE: u64 = 100;
    const LEN: usize = 80;
    let dirs = Dirs::new();
    for i in 0..FILES {
        prefill(&dirs.log(&format!("f{i:02}.log")), i * LINES, LINES, LEN);
    }
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), ".*\\.log", &dirs.pos(), collector.port())
        .set("sources.r1.shards", "auto");
    let mut agent = pipeline.start(backend);
    collector.expect_unique(FILES * LINES, T, &agent);
    let log = agent.stderr();
    for shard in 0..2 {
        let tailing = log
            .lines()
            .filter(|l| l.contains("tailing") && l.contains(&format!("shard={shard}")))
            .count();
        // 40 files all landing on one shard has a chance of 2^-39.
        assert!(tailing > 0, "shard {shard} tails no file\n{log}");
    }
    agent.stop();
    collector.assert_exactly_once(FILES * LINES, &agent);

    // Every file's final position, whichever shard read it.
    for i in 0..FILES {
        let path = dirs.log(&format!("f{i:02}.log"));
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(
            recorded_position(&dirs.pos(), meta.ino()),
            meta.len(),
            "{} is not recorded as read to its end",
            path.display()
        );
    }

    // Appended while the agent is down: only the new lines are sent after the restart.
    for i in 0..FILES {
        prefill(
            &dirs.log(&format!("f{i:02}.log")),
            FILES * LINES + i * MORE,
            MORE,
            LEN,
        );
    }
    let total = FILES * (LINES + MORE);
    let mut agent = pipeline.start(backend);
    collector.expect_unique(total, T, &agent);
    agent.stop();
    collector.assert_exactly_once(total, &agent);
}

/// Whether process `pid` has `path` open.
fn holds_open(pid: u32, path: &Path) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == path))
}

/// Flume's `idleTimeout`: a file without news is closed, its position kept in the position
/// file, and an append reopens it there.
fn an_idle_file_is_closed_and_reopened_where_it_was_left(backend: &str) {
    let dirs = Dirs::new();
    let path = dirs.log("app.log");
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port())
        .set("sources.r1.idleTimeout", "300");
    let mut writer = LogWriter::open(&path, 0);
    writer.write(1_000);
    let mut agent = pipeline.start(backend);
    collector.expect_unique(1_000, T, &agent);
    assert!(
        common::wait_until(T, || !holds_open(agent.pid(), &path)),
        "the idle file was not closed\n{}",
        agent.diagnostics()
    );
    // Closed, and still recorded where it was left.
    let ino = fs::metadata(&path).unwrap().ino();
    let size = fs::metadata(&path).unwrap().len();
    assert!(
        common::wait_until(T, || recorded_position(&dirs.pos(), ino) == size),
        "the closed file's position is not kept\n{}",
        agent.diagnostics()
    );
    // Half a line reopens the file; it idles again with the half line unsent and is closed
    // once more. The rest of the line reopens it, and the line arrives whole, once.
    writer.write_head(20);
    assert!(
        common::wait_until(T, || holds_open(agent.pid(), &path)),
        "an append did not reopen the file\n{}",
        agent.diagnostics()
    );
    assert!(
        common::wait_until(T, || !holds_open(agent.pid(), &path)),
        "the file with half a line was not closed\n{}",
        agent.diagnostics()
    );
    writer.write_tail(20);
    writer.write(999);
    collector.expect_unique(2_000, T, &agent);
    agent.stop();
    collector.assert_exactly_once(2_000, &agent);

    writer.write(500);
    let mut agent = pipeline.start(backend);
    collector.expect_unique(2_500, T, &agent);
    agent.stop();
    collector.assert_exactly_once(2_500, &agent);
}

/// logrotate renames a quiet log that spate had closed, and the application writes a last line
/// through its old descriptor before reopening: that line must not be lost.
fn a_closed_idle_file_renamed_away_still_delivers_its_last_lines(backend: &str) {
    let dirs = Dirs::new();
    let path = dirs.log("app.log");
    let collector = Collector::start();
    let mut agent = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port())
        .set("sources.r1.idleTimeout", "300")
        .start(backend);
    let mut writer = LogWriter::open(&path, 0);
    writer.write(1_000);
    collector.expect_unique(1_000, T, &agent);
    assert!(
        common::wait_until(T, || !holds_open(agent.pid(), &path)),
        "the idle file was not closed\n{}",
        agent.diagnostics()
    );
    writer.rename_to(&dirs.log("app.log.1"));
    writer.write(100); // to the renamed file, through the old descriptor
    writer.reopen();
    writer.write(100);
    collector.expect_unique(1_200, T, &agent);
    agent.stop();
    collector.assert_exactly_once(1_200, &agent);
}

/// The agent stops with part of a file undelivered, and logrotate renames it while the agent is
/// down: at restart the rest of the renamed file is read, from its recorded position.
fn a_file_rotated_away_while_stopped_is_read_to_its_end_at_restart(backend: &str) {
    const N: u64 = 300_000;
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, 100);
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    let mut agent = pipeline.start(backend);
    let first = stop_mid_file(&collector, &mut agent);
    assert!(
        first < N,
        "the run ended before the stop; the test proves nothing"
    );
    // Rotated while the agent is down.
    fs::rename(dirs.log("app.log"), dirs.log("app.log.1")).unwrap();
    let mut writer = LogWriter::open(&dirs.log("app.log"), N);
    writer.write(10_000);
    let mut agent = pipeline.start(backend);
    collector.expect_unique(N + 10_000, T, &agent);
    assert!(
        agent
            .stderr()
            .contains("rotated away while spate was stopped"),
        "{}",
        agent.diagnostics()
    );
    agent.stop();
    collector.assert_exactly_once(N + 10_000, &agent);
}

/// Waits until the agent logs that it tails `path`; returns the offset it starts reading at.
fn wait_tailing(agent: &common::Agent, path: &Path) -> u64 {
    let key = format!("file={} ", path.display());
    let mut pos = None;
    let found = common::wait_until(T, || {
        pos = agent
            .stderr()
            .lines()
            .find(|l| l.contains("tailing") && l.contains(&key))
            .and_then(|l| l.split_once(" pos=")?.1.split(' ').next()?.parse().ok());
        pos.is_some()
    });
    assert!(
        found,
        "the agent does not tail {}\n{}",
        path.display(),
        agent.diagnostics()
    );
    pos.unwrap()
}

/// `skipToEnd = true` with no position file: what the files held at start is skipped, what is
/// appended is delivered, and a file created later is read from its start (as in Flume, where
/// only the first scan skips).
fn skip_to_end_skips_what_files_held_at_start(backend: &str) {
    let dirs = Dirs::new();
    prefill(&dirs.log("a.log"), 0, 1_000, 80);
    let collector = Collector::start();
    let mut agent = Pipeline::new(&dirs.logs(), ".*\\.log", &dirs.pos(), collector.port())
        .set("sources.r1.skipToEnd", "true")
        .start(backend);
    let size = fs::metadata(dirs.log("a.log")).unwrap().len();
    assert_eq!(wait_tailing(&agent, &dirs.log("a.log")), size);
    let mut writer = LogWriter::open(&dirs.log("a.log"), 1_000);
    writer.write(500);
    prefill(&dirs.log("b.log"), 2_000, 100, 80);
    collector.expect_unique(600, T, &agent);
    agent.stop();
    // a.log's lines arrive in order, so a skipped line that was sent came before line 1000.
    let sent = collector.outside(1_000..2_100);
    assert!(
        sent.is_empty(),
        "{} lines that a.log held at start were sent (first {:?})",
        sent.len(),
        &sent[..sent.len().min(5)]
    );
    assert!(
        collector.missing(1_000..1_500).is_empty() && collector.missing(2_000..2_100).is_empty(),
        "{}",
        collector.summary()
    );
    assert_eq!(collector.duplicates(), 0);
}

/// A restart with `skipToEnd = true` resumes a file the position file knows at its recorded
/// position, so lines written while the agent was down are delivered; only files the position
/// file does not know start at their end.
fn skip_to_end_does_not_skip_what_the_position_file_records_as_undelivered(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), ".*\\.log", &dirs.pos(), collector.port())
        .set("sources.r1.skipToEnd", "true");
    let mut writer = LogWriter::open(&dirs.log("a.log"), 0);
    writer.write(100);
    let mut agent = pipeline.start(backend);
    wait_tailing(&agent, &dirs.log("a.log"));
    writer.write(900);
    collector.expect_unique(900, T, &agent);
    agent.stop();

    // While the agent is down: a.log (known) grows, c.log (unknown) appears.
    writer.write(1_000);
    prefill(&dirs.log("c.log"), 5_000, 100, 80);
    let mut agent = pipeline.start(backend);
    assert_eq!(
        wait_tailing(&agent, &dirs.log("a.log")),
        fs::metadata(dirs.log("a.log")).unwrap().len() - 1_000 * 64,
        "a.log does not resume at its recorded position"
    );
    let c_size = fs::metadata(dirs.log("c.log")).unwrap().len();
    assert_eq!(wait_tailing(&agent, &dirs.log("c.log")), c_size);
    prefill(&dirs.log("c.log"), 5_100, 100, 80);
    collector.expect_unique(2_000, T, &agent);
    agent.stop();
    assert!(
        collector.missing(100..2_000).is_empty() && collector.missing(5_100..5_200).is_empty(),
        "{}",
        collector.summary()
    );
    assert_eq!(
        collector.unique(),
        2_000,
        "lines skipped at the first start, or c.log's first lines, were sent: {}",
        collector.summary()
    );
    assert_eq!(collector.duplicates(), 0, "{}", collector.summary());
}
