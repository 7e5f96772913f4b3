//! The TAILDIR read path over a file in the page cache: `TailedFile::fill` (an `fstat`, then one
//! `ReadFile::read_at` of up to `readBufferSize` appended to the file's buffer: an io_uring read
//! or a `pread`) and `LineFramer::next_batch` cutting that buffer into batches, until the whole
//! 128 MiB file of 128-byte lines is read. Both backends, with Flume's default sizes
//! (`readBufferSize` 256 KiB, `batchSize` 100) and tuned ones (1 MiB, 10,000).
//!
//! Batches are dropped as soon as they are cut, as if delivered at once, so every read reuses
//! the buffer's allocation; the `pipeline` bench covers batches that stay in flight. Throughput
//! is in bytes of the file. Run: `cargo bench --bench taildir_read`.

mod common;

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use spate::event::Headers;
use spate::metrics::SourceCounters;
use spate::runtime::io::ReadFile;
use spate::runtime::{block_on, Backend};
use spate::source::taildir::file::{FileId, Fill, TailedFile};
use spate::source::taildir::lines::{Framed, LineFramer};
use spate::source::taildir::LineOverflow;

const LINES: usize = 1 << 20; // 128 MiB

/// Reads the whole file at `path` as the source reads one file, and returns the events cut.
async fn read_file(
    path: &Path,
    backend: Backend,
    framer: &LineFramer,
    read_size: usize,
    counters: &SourceCounters,
) -> usize {
    let file = ReadFile::open(path, backend).expect("open the bench file");
    let stat = file.stat().expect("fstat the bench file");
    let id = FileId {
        dev: stat.dev,
        ino: stat.ino,
    };
    let headers = Arc::new(Headers::new());
    let mut tailed = TailedFile::new(
        0,
        id,
        path.to_owned(),
        file,
        0,
        spate::source::taildir::copies::Head::EMPTY,
        headers,
    );
    let mut events = 0;
    loop {
        loop {
            match framer.next_batch(&mut tailed.buf, &mut tailed.frame, counters) {
                Framed::Batch { batch, len } => {
                    tailed.buf_pos += len as u64;
                    events += batch.len();
                }
                Framed::Skipped(n) => tailed.buf_pos += n as u64,
                Framed::NeedMore => break,
            }
        }
        match tailed.fill(read_size).await.expect("read the bench file") {
            Fill::Data(_) => {}
            Fill::Eof => return events,
            Fill::Truncated => panic!("nothing truncates the bench file"),
        }
    }
}

fn taildir_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("app.log");
    common::prefill(&path, LINES).expect("prefill the bench file");
    let counters = SourceCounters::default();

    let mut group = c.benchmark_group("taildir_read");
    group
        .throughput(Throughput::Bytes((LINES * common::LINE) as u64))
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    for backend in common::backends() {
        for (sizes, read_size, batch_size) in [
            ("flume-defaults", 256 << 10, 100),
            ("tuned", 1 << 20, 10_000),
        ] {
            let framer = LineFramer {
                batch_size,
                max_line_length: 1 << 20,
                overflow: LineOverflow::Split,
            };
            let events = block_on(
                backend,
                read_file(&path, backend, &framer, read_size, &counters),
            )
            .expect("runtime");
            assert_eq!(events, LINES, "every line is read once");
            group.bench_function(BenchmarkId::new(backend.to_string(), sizes), |b| {
                b.iter_custom(|iters| {
                    block_on(backend, async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            black_box(
                                read_file(&path, backend, &framer, read_size, &counters).await,
                            );
                        }
                        start.elapsed()
                    })
                    .expect("runtime")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, taildir_read);
criterion_main!(benches);
