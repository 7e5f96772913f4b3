//! The whole agent in-process: TAILDIR on a 512 MiB file of 128-byte lines in the page cache ->
//! memory channel -> `null` sink, on two pinned workers, with each backend. One iteration starts
//! a fresh agent (no position file, so the file is read from its start), waits until the sink has
//! delivered and committed every line, and stops the agent; start and stop are part of the
//! measured time, and the file is large enough to make them a small part of it. Flume's default
//! sizes (`batchSize` 100, channel `capacity` 100, `readBufferSize` 256 KiB; the sink then runs on
//! its source's worker) and tuned ones (10,000, 100,000, 1 MiB; source and sink on separate
//! cores). Throughput is in bytes of the file.
//! Run: `cargo bench --bench pipeline`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use spate::agent::{Agent, AgentOptions};
use spate::config::AgentConfig;
use spate::runtime::Backend;
use spate_loadgen::sut::AgentProperties;

const LINES: usize = 4 << 20; // 512 MiB

/// An agent's sizes: TAILDIR `batchSize` (also the channel's `transactionCapacity` and the
/// sink's `batchSize`), channel `capacity`, TAILDIR `readBufferSize`.
struct Sizes {
    name: &'static str,
    batch: usize,
    capacity: usize,
    read: usize,
}

const SIZES: [Sizes; 2] = [
    Sizes {
        name: "flume-defaults",
        batch: 100,
        capacity: 100,
        read: 256 << 10,
    },
    Sizes {
        name: "tuned",
        batch: 10_000,
        capacity: 100_000,
        read: 1 << 20,
    },
];

/// The agent: TAILDIR on `logs/app.log`, positions in `positions/`, into a null sink.
fn config(logs: &Path, positions: &Path, sizes: &Sizes) -> AgentConfig {
    let text = AgentProperties::tail_pipeline(
        "a1",
        logs,
        r"app\.log",
        &positions.join("position.json"),
        "null",
    )
    .set("sources.r1.batchSize", sizes.batch)
    .set("sources.r1.readBufferSize", sizes.read)
    .set("channels.c1.capacity", sizes.capacity)
    .set("channels.c1.transactionCapacity", sizes.batch)
    .set("sinks.k1.batchSize", sizes.batch)
    .text();
    spate::config::parse_str(&text, None, "a1").expect("valid bench configuration")
}

/// Runs one agent from start to stop over the whole file; returns the time it took.
fn run_once(logs: &Path, sizes: &Sizes, backend: Backend) -> Duration {
    let positions = tempfile::tempdir().expect("temporary directory");
    let config = config(logs, positions.path(), sizes);
    let options = AgentOptions {
        backend,
        workers: 2,
        pin: true,
        drain_timeout: Duration::from_secs(10),
        metrics: spate::monitoring::Metrics::new("a1"),
    };
    let start = Instant::now();
    let agent = Agent::start(&config, &options).expect("the agent starts");
    let sink = agent.registry().sinks[0].1.clone();
    // Polled every millisecond: at most 1 ms late, about 1 % of an iteration.
    while sink.event_drain_success.get() < LINES as u64 {
        assert!(!agent.has_failed_worker(), "a worker exited");
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the agent delivered {} of {LINES} lines in two minutes",
            sink.event_drain_success.get()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let left = agent.stop().undelivered;
    let elapsed = start.elapsed();
    assert_eq!(left, 0, "nothing is left in the channel");
    assert_eq!(sink.event_drain_success.get(), LINES as u64);
    elapsed
}

fn pipeline(c: &mut Criterion) {
    let logs = tempfile::tempdir().expect("temporary directory");
    common::prefill(&logs.path().join("app.log"), LINES).expect("prefill the bench file");

    let mut group = c.benchmark_group("pipeline");
    group
        .throughput(Throughput::Bytes((LINES * common::LINE) as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for backend in common::backends() {
        for sizes in &SIZES {
            group.bench_function(BenchmarkId::new(backend.to_string(), sizes.name), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| run_once(logs.path(), sizes, backend))
                        .sum()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
