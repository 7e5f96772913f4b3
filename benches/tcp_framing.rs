//! What the tcp sink does to a take before its `writev` (`TcpSink::frame`): with newline framing,
//! list the batches' own chunks for the write (no copy); with octet counting (RFC 6587), copy
//! every body behind its decimal length into the sink's reusable buffer.
//!
//! A take holds 100, 1,000 or 10,000 events of 128-byte lines, cut into batches of 100 lines
//! (TAILDIR's default `batchSize`), so newline framing costs one buffer per batch and octet
//! counting one copy per event. Throughput is in bytes of the take.
//! Run: `cargo bench --bench tcp_framing`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use spate::event::Batch;
use spate::metrics::SinkCounters;
use spate::runtime::Backend;
use spate::sink::tcp::TcpSink;
use spate::sink::tcp::{Framing, TcpSinkConfig};

const LINE: usize = 128;
const LINES_PER_BATCH: usize = 100;

/// A take of `events` lines, in batches of [`LINES_PER_BATCH`] cut from one buffer, as TAILDIR
/// cuts them from one read.
fn take(events: usize) -> Vec<Batch> {
    let mut line = vec![b'x'; LINE - 1];
    line.push(b'\n');
    let read = Bytes::from(line.repeat(events));
    let batch_bytes = LINE * LINES_PER_BATCH;
    (0..events / LINES_PER_BATCH)
        .map(|i| {
            let chunk = read.slice(i * batch_bytes..(i + 1) * batch_bytes);
            Batch::from_lines(chunk, LINES_PER_BATCH as u32)
        })
        .collect()
}

/// A sink that frames as `framing`; it never connects, because framing needs no connection.
fn sink(framing: Framing, batch_size: usize) -> TcpSink {
    let config = TcpSinkConfig {
        hostname: "127.0.0.1".into(),
        port: 9,
        batch_size,
        framing,
        connect_timeout: Duration::from_secs(20),
        request_timeout: Duration::from_secs(20),
        max_backoff: Duration::from_secs(5),
    };
    TcpSink::new(config, Backend::Epoll, Arc::new(SinkCounters::default()))
}

fn tcp_framing(c: &mut Criterion) {
    let mut group = c.benchmark_group("tcp_framing");
    for (name, framing) in [
        ("newline", Framing::Newline),
        ("octet-counting", Framing::OctetCounting),
    ] {
        for events in [100, 1_000, 10_000] {
            let take = take(events);
            let mut sink = sink(framing, events);
            group.throughput(Throughput::Bytes((events * LINE) as u64));
            group.bench_function(BenchmarkId::new(name, events), |b| {
                b.iter(|| sink.frame(&take).len())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, tcp_framing);
criterion_main!(benches);
