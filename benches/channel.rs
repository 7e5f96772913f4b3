//! The memory channel's transaction cycle, put -> take -> commit, with batches of 1 to 4096
//! events, on one thread and across two threads pinned to two cores. Throughput is in events.
//! Run: `cargo bench --bench channel`.

use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use spate::channel::memory::MemoryChannelConfig;
use spate::channel::MemoryChannel;
use spate::component::Channel;
use spate::event::Batch;

fn config() -> MemoryChannelConfig {
    MemoryChannelConfig {
        capacity: 1 << 20,
        transaction_capacity: 4096,
        keep_alive: Duration::from_secs(3),
        byte_capacity: 1 << 30,
        byte_capacity_buffer_percentage: 20,
    }
}

/// A batch of `events` 128-byte lines; cloning it, as each put does, is one reference count.
fn batch(events: usize) -> Batch {
    let mut line = vec![b'x'; 127];
    line.push(b'\n');
    Batch::from_lines(Bytes::from(line.repeat(events)), events as u32)
}

fn one_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("channel/one-thread");
    for events in [1, 16, 256, 4096] {
        let template = batch(events);
        let channel = MemoryChannel::new("c1", &config());
        let mut taken = Vec::new();
        group.throughput(Throughput::Elements(events as u64));
        group.bench_function(BenchmarkId::from_parameter(events), |b| {
            b.iter(|| {
                channel.try_put(template.clone()).expect("room");
                channel.take(events, &mut taken);
                channel.commit(&mut taken);
            })
        });
    }
    group.finish();
}

/// A source thread putting `BATCHES` batches and a sink thread taking and committing them, each
/// pinned to its own core as the agent pins its workers: the cost of the cross-core hand-off.
/// Both threads are spawned per iteration; against 10,000 puts that adds a few percent at one
/// event per batch and nothing visible above.
fn two_threads(c: &mut Criterion) {
    const BATCHES: usize = 10_000;
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let [source_core, sink_core, ..] = cores[..] else {
        eprintln!("channel/two-threads skipped: this process may run on fewer than two cores");
        return;
    };
    let mut group = c.benchmark_group("channel/two-threads");
    for events in [1, 16, 256, 4096] {
        let template = batch(events);
        group.throughput(Throughput::Elements((events * BATCHES) as u64));
        group.bench_function(BenchmarkId::from_parameter(events), |b| {
            b.iter(|| {
                let channel = MemoryChannel::new("c1", &config());
                std::thread::scope(|s| {
                    s.spawn(|| {
                        core_affinity::set_for_current(sink_core);
                        let mut taken = Vec::new();
                        let mut received = 0;
                        while received < events * BATCHES {
                            received += channel.take(4096, &mut taken);
                            channel.commit(&mut taken);
                        }
                    });
                    s.spawn(|| {
                        core_affinity::set_for_current(source_core);
                        for _ in 0..BATCHES {
                            let mut b = template.clone();
                            while let Err(back) = channel.try_put(b) {
                                b = back;
                                std::hint::spin_loop();
                            }
                        }
                    });
                });
            })
        });
    }
    group.finish();
}

criterion_group!(benches, one_thread, two_threads);
criterion_main!(benches);
