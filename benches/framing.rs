//! Cutting a read buffer into batches of lines (`LineFramer::next_batch`): the per-byte work of
//! the TAILDIR source. Run: `cargo bench --bench framing`.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use spate::metrics::SourceCounters;
use spate::source::taildir::lines::{FrameState, Framed, LineFramer};
use spate::source::taildir::LineOverflow;

/// A 4 MiB buffer of `size`-byte lines, as one large read would produce.
fn buffer(size: usize) -> BytesMut {
    let mut line = vec![b'x'; size - 1];
    line.push(b'\n');
    let mut buf = BytesMut::with_capacity(4 << 20);
    while buf.len() + size <= 4 << 20 {
        buf.extend_from_slice(&line);
    }
    buf
}

fn framing(c: &mut Criterion) {
    let mut group = c.benchmark_group("framing");
    for (line_size, batch_size) in [(128, 100), (128, 10_000), (512, 1_000), (32, 1_000)] {
        let input = buffer(line_size);
        group.throughput(Throughput::Bytes(input.len() as u64));
        let framer = LineFramer {
            batch_size,
            max_line_length: 1 << 20,
            overflow: LineOverflow::Split,
        };
        let counters = SourceCounters::default();
        group.bench_with_input(
            BenchmarkId::new(format!("{line_size}B-lines"), format!("batch{batch_size}")),
            &input,
            |b, input| {
                b.iter_batched_ref(
                    || input.clone(),
                    |buf| {
                        let mut state = FrameState::default();
                        let mut events = 0;
                        while let Framed::Batch { batch, .. } =
                            framer.next_batch(buf, &mut state, &counters)
                        {
                            events += batch.len();
                        }
                        events
                    },
                    criterion::BatchSize::LargeInput,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, framing);
criterion_main!(benches);
