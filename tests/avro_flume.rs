//! spate's avro sink against the real Apache Flume 1.11: a Flume collector (avro source ->
//! channel -> file_roll) receives what spate's TAILDIR -> memory -> avro edge reads, every
//! line once, with and without compression; and a durable collector killed and restarted
//! mid-run loses nothing.

mod common;

use std::time::Duration;

use common::{flume_collector, free_port, prefill, seq_counts, Dirs, Flume, Pipeline};

const T: Duration = Duration::from_secs(120);

both_backends!(
    a_flume_collector_receives_every_line_once,
    a_flume_collector_receives_every_line_once_compressed,
);

fn a_flume_collector_receives_every_line_once(backend: &str) {
    every_line_once(backend, false);
}

fn a_flume_collector_receives_every_line_once_compressed(backend: &str) {
    every_line_once(backend, true);
}

fn every_line_once(backend: &str, deflate: bool) {
    const N: u64 = 100_000;
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, 100);
    let out = dirs.root().join("flume-out");
    std::fs::create_dir(&out).unwrap();
    let port = free_port();
    let compression = if deflate {
        "c.sources.r.compression-type = deflate"
    } else {
        ""
    };
    let mut flume = Flume::start(
        "c",
        &flume_collector(port, &out, common::FLUME_MEMORY_CHANNEL, compression),
        port,
    );
    let mut edge = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), port)
        .set("sinks.k1.type", "avro")
        .set("sinks.k1.batch-size", "1000");
    if deflate {
        edge = edge
            .set("sinks.k1.compression-type", "deflate")
            .set("sinks.k1.compression-level", "6");
    }
    let mut agent = edge.start(backend);
    // TAILDIR's position passes a line once the sink delivered it: Flume answered OK.
    let delivered = common::wait_until(T, || {
        common::recorded_position(&dirs.pos(), inode(&dirs)) == N * 100
    });
    assert!(delivered, "{}\n{}", agent.diagnostics(), flume.log_tail());
    agent.stop();
    assert!(
        agent
            .stderr()
            .contains(&format!("(\"EventDrainSuccessCount\", {N})")),
        "{}",
        agent.diagnostics()
    );
    // Flume's file_roll flushes each batch it commits; what is still in Flume's channel at a
    // stop is not written (and its memory channel loses it), so wait for all of it first.
    common::wait_until(T, || seq_counts(&out).len() as u64 == N);
    flume.stop();
    let counts = seq_counts(&out);
    let missing: Vec<u64> = (0..N).filter(|s| !counts.contains_key(s)).collect();
    let twice = counts.values().filter(|&&c| c > 1).count();
    assert!(
        missing.is_empty() && twice == 0 && counts.len() as u64 == N,
        "{} missing (first {:?}), {twice} more than once, {} distinct\n{}",
        missing.len(),
        &missing[..missing.len().min(10)],
        counts.len(),
        flume.log_tail()
    );
}

fn inode(dirs: &Dirs) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dirs.log("app.log")).unwrap().ino()
}

#[test]
fn a_flume_collector_killed_and_restarted_loses_nothing() {
    const N: u64 = 300_000;
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, 100);
    let out = dirs.root().join("flume-out");
    std::fs::create_dir(&out).unwrap();
    let port = free_port();
    // A durable collector: what it answered OK is in its file channel.
    let channel = format!(
        "c.channels.m.type = file\n\
         c.channels.m.checkpointDir = {}\n\
         c.channels.m.dataDirs = {}\n\
         c.channels.m.transactionCapacity = 10000\n\
         c.channels.m.minimumRequiredSpace = 1048576",
        dirs.root().join("flume-cp").display(),
        dirs.root().join("flume-data").display()
    );
    let collector = flume_collector(port, &out, &channel, "");
    let mut flume = Flume::start("c", &collector, port);
    let mut agent = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), port)
        .set("sinks.k1.type", "avro")
        .set("sinks.k1.batch-size", "1000")
        .start("epoll");
    let some = common::wait_until(T, || {
        let p = common::recorded_position(&dirs.pos(), inode(&dirs));
        p > 0 && p < N * 100
    });
    assert!(
        some,
        "nothing delivered before the kill\n{}",
        agent.diagnostics()
    );
    flume.kill9();
    std::thread::sleep(Duration::from_millis(500));
    let mut flume = Flume::start("c", &collector, port);
    let delivered = common::wait_until(T, || {
        common::recorded_position(&dirs.pos(), inode(&dirs)) == N * 100
    });
    assert!(delivered, "{}\n{}", agent.diagnostics(), flume.log_tail());
    agent.stop();
    // What Flume answered OK is in its file channel; file_roll writes it out in its time.
    common::wait_until(T, || seq_counts(&out).len() as u64 == N);
    flume.stop();
    let connects = agent.stderr().matches("connected host").count();
    assert!(
        connects >= 2,
        "the sink never reconnected\n{}",
        agent.diagnostics()
    );
    let counts = seq_counts(&out);
    let missing: Vec<u64> = (0..N).filter(|s| !counts.contains_key(s)).collect();
    let duplicates: u64 = counts.values().map(|&c| u64::from(c) - 1).sum();
    eprintln!("{} distinct lines, {duplicates} duplicates", counts.len());
    assert!(
        missing.is_empty(),
        "{} lines lost (first {:?})\n{}",
        missing.len(),
        &missing[..missing.len().min(10)],
        flume.log_tail()
    );
    // What was in flight at the kill: the sink's take, and file_roll's uncommitted batch.
    assert!(duplicates <= 10_000, "{duplicates} duplicates");
}

both_backends!(
    a_spate_collector_receives_every_line_of_a_flume_edge_once,
    a_spate_collector_receives_every_line_of_a_flume_edge_once_compressed,
);

fn a_spate_collector_receives_every_line_of_a_flume_edge_once(backend: &str) {
    from_flume_edge(backend, false);
}

fn a_spate_collector_receives_every_line_of_a_flume_edge_once_compressed(backend: &str) {
    from_flume_edge(backend, true);
}

/// Flume 1.11 edge (TAILDIR -> memory -> avro sink) -> spate collector (avro source -> memory
/// -> tcp) -> the test's collector: every line once.
fn from_flume_edge(backend: &str, deflate: bool) {
    const N: u64 = 100_000;
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, 100);
    let collector = common::Collector::start();
    let listen = free_port();
    let mut spate = Pipeline::avro(listen, collector.port());
    if deflate {
        spate = spate.set("sources.r1.compression-type", "deflate");
    }
    let mut agent = spate.start(backend);
    assert!(
        common::wait_until(T, || std::net::TcpStream::connect(("127.0.0.1", listen))
            .is_ok()),
        "{}",
        agent.diagnostics()
    );
    let compression = if deflate {
        "e.sinks.k.compression-type = deflate\ne.sinks.k.compression-level = 6"
    } else {
        ""
    };
    let mut flume = Flume::spawn(
        "e",
        &common::flume_edge(&dirs.log("app.log"), dirs.root(), listen, compression),
    );
    let arrived = common::wait_until(T, || collector.unique() == N || flume.exited());
    assert!(
        arrived,
        "{}; {}\n{}",
        collector.summary(),
        agent.diagnostics(),
        flume.log_tail()
    );
    agent.stop();
    assert_eq!(collector.duplicates(), 0, "{}", collector.summary());
    assert!(
        agent
            .stderr()
            .contains(&format!("(\"EventAcceptedCount\", {N})")),
        "{}",
        agent.diagnostics()
    );
}
