//! The receiver's user-space work per read: frame splitting (`framing::Connection::consume`),
//! parsing and exactly-once accounting (`Tally`), over 4 MiB of lines from 8 interleaved streams,
//! all of 128 bytes or of 100 to 156, in reads that cut lines anywhere (see `common`). Run:
//! `cargo bench -p spate-loadgen --bench recv`.
//!
//! Instruction counts, which machine noise does not move, come from the `recv_ir` example under
//! callgrind (see its docs).

mod common;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use spate_loadgen::recv::framing::Framing;

use common::{check, feed, Sizes, Workload};

fn recv(c: &mut Criterion) {
    let mut group = c.benchmark_group("recv");
    for sizes in [Sizes::Fixed, Sizes::Varied] {
        for (name, framing) in [
            ("newline", Framing::Newline),
            ("octet-counting", Framing::OctetCounting),
        ] {
            let w = Workload::new(framing, sizes);
            check(&w);
            group.throughput(Throughput::Bytes(w.measured.data.len() as u64));
            // `feed` rewrites only the carried bytes, in place and unchanged: one copy serves all.
            let mut data = w.measured.data.clone();
            group.bench_function(BenchmarkId::new(sizes.name(), name), |b| {
                b.iter_batched_ref(
                    || w.warmed(),
                    |(conn, tally)| {
                        feed(conn, tally, &mut data, &w.measured.reads);
                        tally.lines
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, recv);
criterion_main!(benches);
