//! The file channel's put path: batches of 100 to 10,000 events of 128 and 1024 bytes put and
//! made durable (each acknowledged only after its `fdatasync`), on the disk holding the temporary
//! directory. Throughput is in bytes of bodies; after each size, the commit latency of its
//! puts (from `try_put` to the acknowledgement) is printed as p50 and p99.
//! Run: `cargo bench --bench file_channel` (set `TMPDIR` to measure another disk).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use spate::ack::{Ack, AckQueue};
use spate::channel::file::{FileChannel, FileChannelConfig};
use spate::component::Channel;
use spate::event::Batch;
use spate::runtime::{select_backend, IoMode};

/// Batches put per measured iteration.
const BATCHES: usize = 16;

fn batch(events: usize, size: usize) -> Batch {
    let mut line = vec![b'x'; size - 1];
    line.push(b'\n');
    Batch::from_lines(Bytes::from(line.repeat(events)), events as u32)
}

fn config(root: &std::path::Path) -> FileChannelConfig {
    FileChannelConfig {
        checkpoint_dir: root.join("cp"),
        backup_checkpoint_dir: None,
        checkpoint_interval: Duration::from_secs(30),
        checkpoint_on_close: true,
        data_dirs: vec![root.join("data")],
        capacity: 100_000_000,
        transaction_capacity: 10_000,
        max_file_size: 256 << 20,
        minimum_required_space: 0,
        keep_alive: Duration::from_secs(3),
        inert_keys: Vec::new(),
    }
}

fn put_durable(c: &mut Criterion) {
    let backend = select_backend(IoMode::Auto).expect("a backend");
    let mut group = c.benchmark_group("file_channel/put");
    group.sample_size(10);
    for size in [128, 1024] {
        for events in [100, 1_000, 10_000] {
            let root = tempfile::tempdir().expect("temporary directory");
            let channel = FileChannel::open("c1", &config(root.path()), Arc::default(), backend)
                .expect("the channel opens");
            let template = batch(events, size);
            let acks = AckQueue::new();
            let mut latencies: Vec<Duration> = Vec::new();
            let mut taken = Vec::new();
            group.throughput(Throughput::Bytes((events * size * BATCHES) as u64));
            group.bench_function(BenchmarkId::new(format!("{size}B"), events), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let mut sent = Vec::with_capacity(BATCHES);
                        for i in 0..BATCHES {
                            let put = template
                                .clone()
                                .with_ack(Ack::new(Arc::clone(&acks), i as u64));
                            sent.push(Instant::now());
                            // Refused while the writer holds 64 MiB not yet on disk: the
                            // channel's back-pressure, waited out as a source would.
                            let mut put = put;
                            while let Err(back) = channel.try_put(put) {
                                put = back;
                                std::thread::sleep(Duration::from_micros(100));
                            }
                        }
                        let mut acked = 0;
                        while acked < BATCHES {
                            acks.drain(|token| {
                                latencies.push(sent[token as usize].elapsed());
                                acked += 1;
                            });
                            if acked < BATCHES {
                                std::thread::sleep(Duration::from_micros(50));
                            }
                        }
                        total += start.elapsed();
                        // Take what was put, so that segments are deleted as in a pipeline.
                        while channel.take(10_000, &mut taken) > 0 {
                            channel.commit(&mut taken);
                        }
                    }
                    total
                })
            });
            if latencies.is_empty() {
                continue; // filtered out
            }
            latencies.sort();
            let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
            eprintln!(
                "file_channel/put/{size}B/{events}: commit latency p50 {:?}, p99 {:?} ({} puts)",
                pct(0.5),
                pct(0.99),
                latencies.len()
            );
        }
    }
    group.finish();
}

criterion_group!(benches, put_durable);
criterion_main!(benches);
