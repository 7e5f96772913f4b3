//! The position writer's cost: one atomic write of the position file and its sidecar (JSON,
//! two `fdatasync`s, two renames) for 1 to 10,000 tailed files, on the disk that holds the
//! target directory. This is what each `writePosInterval` costs the writer thread (never a
//! worker), and what bounds how short the interval can usefully be.
//! Run: `cargo bench --bench position`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use spate::source::taildir::position::{save, Fingerprint, Identity, Position};

fn entries(files: u64) -> (Vec<Position>, Vec<Identity>) {
    let positions = (0..files)
        .map(|i| Position {
            inode: 1_000_000 + i,
            pos: 123_456_789 + i,
            file: format!("/var/log/app/service-{i:05}.log"),
        })
        .collect();
    let identities = (0..files)
        .map(|i| Identity {
            inode: 1_000_000 + i,
            dev: 64_769,
            fingerprint: Fingerprint::of(format!("first line of file {i}\n").as_bytes()),
        })
        .collect();
    (positions, identities)
}

fn write(c: &mut Criterion) {
    // Under the target directory: on the real disk, where `/tmp` may be a tmpfs whose
    // `fdatasync` costs nothing.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("bench directory");
    let path = dir.path().join("taildir_position.json");
    let mut group = c.benchmark_group("position/write");
    group.measurement_time(Duration::from_secs(5));
    for files in [1u64, 100, 1_000, 10_000] {
        let (positions, identities) = entries(files);
        group.throughput(Throughput::Elements(files));
        group.bench_function(BenchmarkId::from_parameter(files), |b| {
            b.iter(|| save(&path, &positions, &identities).expect("write"));
        });
    }
    group.finish();
}

criterion_group!(benches, write);
criterion_main!(benches);
