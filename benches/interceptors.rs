//! Each interceptor's cost on one batch of 10,000 128-byte lines (the tuned TAILDIR batch), and
//! the chain `[timestamp, host, static]` of the loadgen case `tail-interceptors`. Throughput is
//! in bytes of the batch. Run: `cargo bench --bench interceptors`.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use spate::event::{Batch, Headers};
use spate::interceptor::Chain;

const LINES: u64 = 10_000;

/// Lines as the load generator writes them: sequence, a timestamp, a stream id, filler.
fn batch() -> Batch {
    let mut data = Vec::with_capacity(LINES as usize * 128);
    for seq in 0..LINES {
        let head = format!("{seq:016} {:019} 0000 ", 1_733_230_000_000_000_000u64 + seq);
        data.extend_from_slice(head.as_bytes());
        data.extend(std::iter::repeat_n(
            b'a' + (seq % 26) as u8,
            127 - head.len(),
        ));
        data.push(b'\n');
    }
    let headers: Headers = [("file", "/var/log/app/app.log")].into_iter().collect();
    Batch::from_lines(Bytes::from(data), LINES as u32).with_headers(std::sync::Arc::new(headers))
}

/// The chain configured by `keys` (lines under `a1.sources.r1.`).
fn chain(keys: &str) -> Chain {
    let mut text = String::from(
        "a1.sources = r1\na1.channels = c1\na1.sinks = k1\na1.sources.r1.type = TAILDIR\n\
         a1.sources.r1.channels = c1\na1.sources.r1.positionFile = /tmp/p.json\n\
         a1.sources.r1.filegroups = f\na1.sources.r1.filegroups.f = /var/log/x.log\n\
         a1.channels.c1.type = memory\na1.sinks.k1.type = null\na1.sinks.k1.channel = c1\n",
    );
    for line in keys.lines() {
        text.push_str(&format!("a1.sources.r1.{}\n", line.trim()));
    }
    let config = spate::config::parse_str(&text, None, "a1").expect("a valid configuration");
    Chain::build(&config.sources[0].interceptors).expect("it builds")
}

fn interceptors(c: &mut Criterion) {
    let cases = [
        ("timestamp", "interceptors = i\ninterceptors.i.type = timestamp"),
        ("host", "interceptors = i\ninterceptors.i.type = host"),
        ("static", "interceptors = i\ninterceptors.i.type = static\ninterceptors.i.key = dc\ninterceptors.i.value = eu-1"),
        ("remove_header", "interceptors = i\ninterceptors.i.type = remove_header\ninterceptors.i.matching = fi.*"),
        ("search_replace", "interceptors = i\ninterceptors.i.type = search_replace\ninterceptors.i.searchPattern = (\\\\d{4}) \ninterceptors.i.replaceString = stream-$1 "),
        ("regex_filter-keep10%", "interceptors = i\ninterceptors.i.type = regex_filter\ninterceptors.i.regex = ^\\\\d{15}0 "),
        ("regex_extractor", "interceptors = i\ninterceptors.i.type = regex_extractor\ninterceptors.i.regex = ^(\\\\d{16})\ninterceptors.i.serializers = s\ninterceptors.i.serializers.s.name = seq"),
        ("uuid", "interceptors = i\ninterceptors.i.type = org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder"),
        ("timestamp+host+static", "interceptors = t h s\ninterceptors.t.type = timestamp\ninterceptors.h.type = host\ninterceptors.s.type = static"),
    ];
    let input = batch();
    let mut group = c.benchmark_group("interceptors");
    group.throughput(Throughput::Bytes(input.data().len() as u64));
    for (name, keys) in cases {
        let chain = chain(keys);
        group.bench_function(BenchmarkId::new(name, "10000x128B"), |b| {
            b.iter_batched(
                || input.clone(),
                |batch| chain.apply(batch),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    // regex_filter over 100,000 lines (ten batches), keeping one line in ten.
    let batches: Vec<Batch> = (0..10).map(|_| batch()).collect();
    let filter = chain(
        "interceptors = i\ninterceptors.i.type = regex_filter\ninterceptors.i.regex = ^\\\\d{15}0 ",
    );
    let mut group = c.benchmark_group("regex_filter");
    group.throughput(Throughput::Elements(10 * LINES));
    group.bench_function("100000-lines-keep10%", |b| {
        b.iter_batched(
            || batches.clone(),
            |batches| batches.into_iter().filter_map(|b| filter.apply(b)).count(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, interceptors);
criterion_main!(benches);
