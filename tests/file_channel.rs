//! The durable file channel in a whole agent: TAILDIR -> file -> tcp. The source's positions
//! follow what the channel has on disk, so what is in the channel when the agent stops, or is
//! killed, is delivered by the next start from the channel, not read again.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{free_port, prefill, Collector, Dirs, LogWriter, Pipeline, Sender, SmallDisk};

const T: Duration = Duration::from_secs(90);

both_backends!(
    every_line_arrives_once_through_the_file_channel,
    what_the_channel_held_at_a_stop_is_delivered_by_the_next_start,
    kill_9_loses_nothing_the_channel_acknowledged,
    kill_9_fifty_times_loses_nothing_a_sender_was_told_ok,
    below_minimum_required_space_puts_wait_and_resume,
    a_disk_full_to_the_last_byte_fails_puts_cleanly_and_resumes,
);

/// The test pipeline with a file channel in `root`.
fn pipeline(dirs: &Dirs, port: u16) -> Pipeline {
    let tail = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), port);
    file_channel(tail, dirs.root())
}

/// The file channel's keys, for a channel in `root`.
fn file_channel(pipeline: Pipeline, root: &Path) -> Pipeline {
    let dir = |name: &str| -> String { root.join(name).to_str().unwrap().to_string() };
    pipeline
        .set("channels.c1.type", "file")
        .set("channels.c1.checkpointDir", &dir("fc-checkpoint"))
        .set(
            "channels.c1.dataDirs",
            &format!("{},{}", dir("fc-data1"), dir("fc-data2")),
        )
        .set("channels.c1.capacity", "1000000")
        .set("channels.c1.minimumRequiredSpace", "1048576")
        .set("channels.c1.maxFileSize", "4194304")
        // Checkpoints while lines flow, so that kills land before, during and after them.
        .set("channels.c1.checkpointInterval", "50")
}

/// Segment files in the channel's data directories.
fn segments(root: &Path) -> usize {
    ["fc-data1", "fc-data2"]
        .iter()
        .filter_map(|d| std::fs::read_dir(root.join(d)).ok())
        .flatten()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".spate"))
        })
        .count()
}

fn every_line_arrives_once_through_the_file_channel(backend: &str) {
    const N: u64 = 200_000;
    let dirs = Dirs::new();
    let collector = Collector::start();
    let mut agent = pipeline(&dirs, collector.port()).start(backend);
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    writer.write(N);
    collector.expect_unique(N, T, &agent);
    agent.stop();
    collector.assert_exactly_once(N, &agent);
    // 20 MB went through 4 MiB segments: the taken ones are gone.
    let left = segments(dirs.root());
    assert!(left <= 2, "{left} segments left after everything was taken");
}

fn what_the_channel_held_at_a_stop_is_delivered_by_the_next_start(backend: &str) {
    const N: u64 = 100_000;
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, 100);
    // The collector is down: everything read goes into the channel and stays there.
    let mut collector = Collector::start_down();
    let pipeline = pipeline(&dirs, collector.port());
    let mut agent = common::Agent::start_with(&pipeline.text(), backend, &["--drain-timeout", "1"]);
    assert!(
        common::wait_until(T, || agent.stderr().contains("final positions")
            || common::recorded_position(&dirs.pos(), inode(&dirs)) == N * 100),
        "the source did not read the file into the channel\n{}",
        agent.diagnostics()
    );
    agent.stop();
    // The positions are past everything (it is on disk in the channel): a restart reads nothing
    // again, and the channel delivers it all.
    collector.come_up();
    let mut agent = pipeline.start(backend);
    collector.expect_unique(N, T, &agent);
    agent.stop();
    collector.assert_exactly_once(N, &agent);
    assert!(agent
        .stderr()
        .contains("replayed what was put and not taken"));
}

fn inode(dirs: &Dirs) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dirs.log("app.log")).unwrap().ino()
}

fn kill_9_loses_nothing_the_channel_acknowledged(backend: &str) {
    const N: u64 = 300_000;
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, 100);
    let collector = Collector::start();
    let pipeline = pipeline(&dirs, collector.port());
    for round in 0..3 {
        let mut agent = pipeline.start(backend);
        let target = (round + 1) * N / 4;
        common::wait_until(T, || collector.unique() >= target);
        agent.kill9();
        eprintln!("after kill {}: {}", round + 1, collector.summary());
    }
    let mut agent = pipeline.start(backend);
    collector.expect_unique(N, T, &agent);
    agent.stop();
    let missing = collector.missing(0..N);
    assert!(
        missing.is_empty(),
        "{} missing; {}",
        missing.len(),
        collector.summary()
    );
    // Duplicates are what the source reads again past its last recorded position (up to
    // writePosInterval of reading, while the channel acknowledged more), plus takes delivered
    // whose take record was not on disk yet. Bounding them is the job of the crash tests with a
    // source that cannot read again.
    eprintln!("after the last start: {}", collector.summary());
}

/// A source that cannot read again (netcat): the sender is told OK once a line is on disk, and
/// sends again what it was not told OK for. The agent is killed 50 times at random moments
/// (during replay, while the sender connects, while lines flow); after the last start every
/// line ever answered OK arrives, and duplicates stay within what was in flight at the kills.
fn kill_9_fifty_times_loses_nothing_a_sender_was_told_ok(backend: &str) {
    const KILLS: u64 = 50;
    let dirs = Dirs::new();
    let collector = Collector::start();
    let listen = free_port();
    let pipeline = file_channel(Pipeline::netcat(listen, collector.port()), dirs.root());
    let mut sender = Sender::start(listen, 100);
    let mut rng = seed();
    eprintln!("random seed {rng}");
    // Starts that replayed from a checkpoint and the log after it (the others read it all).
    let mut from_checkpoint = 0;
    for round in 0..KILLS {
        let mut agent = pipeline.start(backend);
        let wait = Duration::from_millis(next(&mut rng) % 400);
        std::thread::sleep(wait);
        agent.assert_running();
        agent.kill9();
        from_checkpoint += agent.stderr().matches("from_checkpoint=true").count();
        if round % 10 == 9 {
            eprintln!(
                "after kill {}: {}; {}",
                round + 1,
                sender.summary(),
                collector.summary()
            );
        }
    }
    let mut agent = pipeline.start(backend);
    // Some lines are answered by this last start, then the sender stops and takes its answers.
    let before = sender.acked();
    assert!(
        common::wait_until(T, || sender.acked() > before),
        "the last start answers nothing; {}\n{}",
        sender.summary(),
        agent.diagnostics()
    );
    sender.stop();
    let acked = sender.acked_seqs();
    assert!(
        acked.len() > 10_000,
        "too little went through to show anything: {}",
        sender.summary()
    );
    assert!(
        sender.other_answers().is_empty(),
        "{:?}",
        sender.other_answers()
    );
    let arrived = common::wait_until(T, || acked.iter().all(|&s| collector.has(s)));
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|&s| !collector.has(s))
        .collect();
    assert!(
        arrived,
        "{} lines answered OK never arrived (first {:?}); {}; {}\n{}",
        lost.len(),
        &lost[..lost.len().min(10)],
        sender.summary(),
        collector.summary(),
        agent.diagnostics()
    );
    agent.stop();
    eprintln!(
        "at the end: {}; {}; {from_checkpoint} starts from a checkpoint",
        sender.summary(),
        collector.summary()
    );
    assert!(
        from_checkpoint >= 5,
        "checkpoints were not exercised: {from_checkpoint} starts from one"
    );
    // A duplicate is a line delivered twice: one the sender sent again although the channel
    // had it (its OK was lost with the connection), or one a sink delivered whose take was not
    // yet on disk at a kill (the group commit after a sink's commit). Nothing else repeats.
    let bound = sender.resent() + KILLS * TAKES_IN_FLIGHT;
    assert!(
        collector.duplicates() <= bound,
        "{} duplicates, more than were in flight ({bound}); {}; {}",
        collector.duplicates(),
        sender.summary(),
        collector.summary()
    );
}

fn below_minimum_required_space_puts_wait_and_resume(backend: &str) {
    disk_fills_up(backend, 4 << 20, 1 << 20, "below minimumRequiredSpace");
}

fn a_disk_full_to_the_last_byte_fails_puts_cleanly_and_resumes(backend: &str) {
    disk_fills_up(backend, 0, 0, "No space left on device");
}

/// netcat -> file channel on a 32 MiB disk -> tcp, with `minimum` bytes required free. Another
/// program fills the disk up to `leave` bytes free: puts fail (the channel logs `expect`), the
/// sender is held back, the agent runs on. The space comes back: the sender is answered again,
/// and every line it was told OK for arrives.
fn disk_fills_up(backend: &str, minimum: u64, leave: u64, expect: &str) {
    let Some(disk) = SmallDisk::mount(32 << 20) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let collector = Collector::start();
    let listen = free_port();
    let pipeline = file_channel(Pipeline::netcat(listen, collector.port()), disk.path())
        .set("channels.c1.minimumRequiredSpace", &minimum.to_string())
        .set("channels.c1.maxFileSize", "1048576");
    let mut agent = pipeline.start(backend);
    let mut sender = Sender::start(listen, 200);
    assert!(
        common::wait_until(T, || sender.acked() > 50_000),
        "nothing flows; {}\n{}",
        sender.summary(),
        agent.diagnostics()
    );
    disk.fill("filler", leave);
    assert!(
        common::wait_until(T, || agent.stderr().contains(expect)),
        "the channel never said `{expect}`; {}\n{}",
        sender.summary(),
        agent.diagnostics()
    );
    agent.assert_running();
    // Held back: puts are refused, so nothing more is answered once what was on disk is.
    let mut last = sender.acked();
    assert!(
        common::wait_until(T, || {
            std::thread::sleep(Duration::from_millis(300));
            let now = sender.acked();
            std::mem::replace(&mut last, now) == now
        }),
        "the sender was still answered while the disk was full; {}",
        sender.summary()
    );
    let held = sender.acked();
    std::fs::remove_file(disk.path().join("filler")).unwrap();
    assert!(
        common::wait_until(T, || sender.acked() > held + 50_000),
        "nothing flows after the space came back; {}\n{}",
        sender.summary(),
        agent.diagnostics()
    );
    sender.stop();
    let acked = sender.acked_seqs();
    let arrived = common::wait_until(T, || acked.iter().all(|&s| collector.has(s)));
    let lost = acked.iter().filter(|&&s| !collector.has(s)).count();
    assert!(
        arrived,
        "{lost} lines answered OK never arrived; {}; {}\n{}",
        sender.summary(),
        collector.summary(),
        agent.diagnostics()
    );
    agent.stop();
    eprintln!("{}; {}", sender.summary(), collector.summary());
}

/// Events a sink may have delivered at a kill without their take on disk yet: a few of its
/// batches (the test pipeline's sinks take 500 events at a time).
const TAKES_IN_FLIGHT: u64 = 4 * 500;

/// A seed for the kill times, printed so that a failure can be replayed.
fn seed() -> u64 {
    std::env::var("SPATE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

/// xorshift64: the next pseudo-random number.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn spate_channel_verify_reports_what_a_start_would_do() {
    const N: u64 = 20_000;
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, 100);
    // The collector never comes up: everything stays in the channel.
    let collector = Collector::start_down();
    let pipeline = pipeline(&dirs, collector.port());
    let mut agent = common::Agent::start_with(&pipeline.text(), "epoll", &["--drain-timeout", "1"]);
    assert!(
        common::wait_until(T, || common::recorded_position(&dirs.pos(), inode(&dirs))
            == N * 100),
        "{}",
        agent.diagnostics()
    );
    agent.stop();
    let data: Vec<String> = ["fc-data1", "fc-data2"]
        .iter()
        .map(|d| dirs.root().join(d).to_str().unwrap().to_string())
        .collect();
    let checkpoint_dir = dirs.root().join("fc-checkpoint");
    let verify_with = |checkpoint: bool| {
        let mut cmd = std::process::Command::new(common::BIN);
        cmd.args(["channel", "verify"]);
        if checkpoint {
            cmd.arg("--checkpoint").arg(&checkpoint_dir);
        }
        let out = cmd.args(&data).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    };
    let verify = || verify_with(false);
    let (code, text) = verify();
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("a start would queue {N} events")),
        "{text}"
    );
    assert!(text.ends_with("clean\n"), "{text}");

    // The stop wrote a checkpoint that covers the whole log.
    let (code, text) = verify_with(true);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "a start reads the 0 bytes of log after it and queues {N} events"
        )),
        "{text}"
    );
    assert!(
        text.contains("the checkpoint agrees with the log"),
        "{text}"
    );
    let checkpoint_file = checkpoint_dir.join("spate-checkpoint");
    let sound = std::fs::read(&checkpoint_file).unwrap();
    let mut damaged = sound.clone();
    damaged[20] ^= 0x01;
    std::fs::write(&checkpoint_file, &damaged).unwrap();
    let (code, text) = verify_with(true);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("is damaged: its checksum does not match: a start reads the whole log"),
        "{text}"
    );
    std::fs::write(&checkpoint_file, &sound).unwrap();

    // A flipped byte inside a record, and half a record at the end of the newest segment.
    let mut segs: Vec<_> = data
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "spate"))
        .collect();
    segs.sort_by_key(|p| p.file_name().unwrap().to_owned());
    let first = &segs[0];
    let mut bytes = std::fs::read(first).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(first, &bytes).unwrap();
    let last = segs.last().unwrap();
    let mut tail = std::fs::read(last).unwrap();
    tail.extend_from_slice(&bytes[16..60]);
    std::fs::write(last, &tail).unwrap();
    let (code, text) = verify();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("damaged records"), "{text}");
    assert!(text.contains("a torn write of 44 bytes"), "{text}");
    // Verifying changed nothing.
    assert_eq!(std::fs::read(last).unwrap(), tail);

    // Not a channel: a clear error.
    let flume = dirs.root().join("flume-data");
    std::fs::create_dir(&flume).unwrap();
    std::fs::write(flume.join("log-1"), b"").unwrap();
    let out = std::process::Command::new(common::BIN)
        .args(["channel", "verify"])
        .arg(&flume)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Apache Flume"));
}

/// With the collector down, the channel grows on disk, not in memory: the agent's peak RSS
/// stays far below what the channel holds. What the channel keeps in memory is bounded by
/// `MAX_PENDING_BYTES` (puts not yet written, 16 MiB) and `CACHED_BYTES` (durable batches kept
/// for takes, 16 MiB); the source's buffers come on top, and the writer gives the allocator's
/// free memory back as it goes (without that, glibc kept 100–250 MiB resident here).
#[test]
fn a_channel_larger_than_memory_allows_keeps_rss_bounded() {
    const N: u64 = 10_000_000; // 1 GB of lines
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, 100);
    let collector = Collector::start_down();
    let pipeline = pipeline(&dirs, collector.port())
        .set("sources.r1.batchSize", "10000")
        .set("channels.c1.transactionCapacity", "10000")
        .set("channels.c1.capacity", "10000000");
    let mut agent = common::Agent::start_with(&pipeline.text(), "epoll", &["--drain-timeout", "1"]);
    assert!(
        common::wait_until(T, || common::recorded_position(&dirs.pos(), inode(&dirs))
            == N * 100),
        "the source did not read the file into the channel\n{}",
        agent.diagnostics()
    );
    let hwm_mib = agent.hwm_kib() / 1024;
    agent.stop();
    let on_disk: u64 = ["fc-data1", "fc-data2"]
        .iter()
        .flat_map(|d| std::fs::read_dir(dirs.root().join(d)).unwrap())
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    eprintln!(
        "channel on disk: {} MiB; agent peak RSS {hwm_mib} MiB",
        on_disk >> 20
    );
    assert!(
        on_disk >= N * 100,
        "the channel holds every line ({on_disk} bytes)"
    );
    assert!(
        hwm_mib < 100,
        "peak RSS {hwm_mib} MiB for a channel of {} MiB on disk",
        on_disk >> 20
    );
}
