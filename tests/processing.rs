//! Flume's processing layer end to end, with the real agent: interceptors and channel
//! selectors between a tailed file and tcp collectors, checked line by line.

mod common;

use std::time::Duration;

use common::{prefill, recorded_position, Collector, Dirs, LogWriter, Pipeline};

const T: Duration = Duration::from_secs(60);

both_backends!(
    multiplexing_splits_lines_by_a_header_taken_from_the_body,
    multiplexing_by_file_group_header_keeps_batches_whole,
    a_filter_that_drops_most_lines_still_moves_the_position,
    an_optional_channel_that_is_full_holds_nothing_back,
    kill_during_a_multiplexed_run_loses_nothing,
    failover_prefers_the_primary_again_once_it_is_back,
    load_balance_spreads_over_the_live_collectors,
);

/// Two channels, each to its own collector; `extra` configures the selector.
fn two_way(dirs: &Dirs, pattern: &str, a: &Collector, b: &Collector) -> Pipeline {
    Pipeline::new(&dirs.logs(), pattern, &dirs.pos(), a.port())
        .set("channels", "c1 c2")
        .set("sinks", "k1 k2")
        .set("sources.r1.channels", "c1 c2")
        .set("channels.c2.type", "memory")
        .set("channels.c2.capacity", "10000")
        .set("channels.c2.transactionCapacity", "1000")
        .set("sinks.k2.type", "tcp")
        .set("sinks.k2.channel", "c2")
        .set("sinks.k2.hostname", "127.0.0.1")
        .set("sinks.k2.port", &b.port().to_string())
        .set("sinks.k2.batch-size", "500")
}

/// Routes by the last digit of each line's sequence number, which a `regex_extractor` copies
/// into a header: every batch holds both kinds, so each is split.
fn by_last_digit(p: Pipeline) -> Pipeline {
    p.set("sources.r1.interceptors", "d")
        .set("sources.r1.interceptors.d.type", "regex_extractor")
        .set("sources.r1.interceptors.d.regex", "^\\d{15}(\\d)")
        .set("sources.r1.interceptors.d.serializers", "s")
        .set("sources.r1.interceptors.d.serializers.s.name", "digit")
        .set("sources.r1.selector.type", "multiplexing")
        .set("sources.r1.selector.header", "digit")
        .set("sources.r1.selector.mapping.0", "c1")
        .set("sources.r1.selector.mapping.1", "c1")
        .set("sources.r1.selector.mapping.2", "c1")
        .set("sources.r1.selector.mapping.3", "c1")
        .set("sources.r1.selector.mapping.4", "c1")
        .set("sources.r1.selector.default", "c2")
}

/// Asserts that `collector` got exactly the lines of `0..n` that `mine` picks, once each.
fn assert_exactly(collector: &Collector, n: u64, mine: impl Fn(u64) -> bool, what: &str) {
    let missing = collector.missing(0..n);
    let expected_missing: Vec<u64> = (0..n).filter(|&s| !mine(s)).collect();
    let wrongly_missing: Vec<&u64> = missing.iter().filter(|s| mine(**s)).take(10).collect();
    assert!(
        wrongly_missing.is_empty(),
        "{what}: lines missing, first {wrongly_missing:?}; {}",
        collector.summary()
    );
    assert_eq!(
        missing.len(),
        expected_missing.len(),
        "{what}: lines that are not its own arrived; {}",
        collector.summary()
    );
    assert!(
        collector.outside(0..n).is_empty(),
        "{what}: {}",
        collector.summary()
    );
    assert_eq!(collector.duplicates(), 0, "{what}: {}", collector.summary());
    assert_eq!(collector.malformed(), 0, "{what}: {}", collector.summary());
}

fn multiplexing_splits_lines_by_a_header_taken_from_the_body(backend: &str) {
    const N: u64 = 50_000;
    let dirs = Dirs::new();
    let (a, b) = (Collector::start(), Collector::start());
    prefill(&dirs.log("app.log"), 0, N, 64);
    let mut agent = by_last_digit(two_way(&dirs, "app\\.log", &a, &b)).start(backend);
    a.expect_unique(N / 2, T, &agent);
    b.expect_unique(N / 2, T, &agent);
    agent.stop();
    assert_exactly(&a, N, |s| s % 10 < 5, "c1");
    assert_exactly(&b, N, |s| s % 10 >= 5, "c2");
}

fn multiplexing_by_file_group_header_keeps_batches_whole(backend: &str) {
    let dirs = Dirs::new();
    let (a, b) = (Collector::start(), Collector::start());
    prefill(&dirs.log("ca.log"), 0, 10_000, 64);
    prefill(&dirs.log("az.log"), 10_000, 10_000, 64);
    let logs = dirs.logs();
    let mut agent = two_way(&dirs, "ca\\.log", &a, &b)
        .set("sources.r1.filegroups", "f1 f2")
        .set(
            "sources.r1.filegroups.f2",
            &format!("{}/az\\.log", logs.display()),
        )
        .set("sources.r1.headers.f1.state", "CA")
        .set("sources.r1.headers.f2.state", "AZ")
        .set("sources.r1.selector.type", "multiplexing")
        .set("sources.r1.selector.header", "state")
        .set("sources.r1.selector.mapping.CA", "c1")
        .set("sources.r1.selector.mapping.AZ", "c2")
        .start(backend);
    a.expect_unique(10_000, T, &agent);
    b.expect_unique(10_000, T, &agent);
    agent.stop();
    assert_exactly(&a, 20_000, |s| s < 10_000, "CA");
    assert_exactly(&b, 20_000, |s| s >= 10_000, "AZ");
}

fn a_filter_that_drops_most_lines_still_moves_the_position(backend: &str) {
    const N: u64 = 100_000;
    let dirs = Dirs::new();
    let collector = Collector::start();
    let log = dirs.log("app.log");
    prefill(&log, 0, N, 64);
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port())
        .set("sources.r1.interceptors", "f")
        .set("sources.r1.interceptors.f.type", "regex_filter")
        .set("sources.r1.interceptors.f.regex", "^\\d{15}0 ");
    let mut agent = pipeline.start(backend);
    collector.expect_unique(N / 10, T, &agent);
    // Every line was read and handled, 9 in 10 dropped: the position is the file's end, also
    // where the last lines were dropped.
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&log).unwrap());
    let end = N * 64;
    assert!(
        common::wait_until(T, || recorded_position(&dirs.pos(), inode) == end),
        "position {} of {end}",
        recorded_position(&dirs.pos(), inode)
    );
    agent.stop();
    let stderr = agent.stderr();
    assert!(
        stderr.contains(&format!("(\"EventFilteredCount\", {})", N - N / 10)),
        "{stderr}"
    );
    // A restart sends nothing again.
    let mut agent = pipeline.start(backend);
    std::thread::sleep(Duration::from_millis(500));
    agent.stop();
    assert_exactly(&collector, N, |s| s % 10 == 0, "filtered");
}

fn an_optional_channel_that_is_full_holds_nothing_back(backend: &str) {
    const N: u64 = 100_000;
    let dirs = Dirs::new();
    let a = Collector::start();
    // c2's collector never listens: its channel fills and stays full.
    let b = Collector::start_down();
    prefill(&dirs.log("app.log"), 0, N, 64);
    let mut agent = two_way(&dirs, "app\\.log", &a, &b)
        .set("channels.c2.capacity", "1000")
        .set("sources.r1.selector.optional", "c2")
        .start(backend);
    a.expect_unique(N, T, &agent);
    agent.terminate();
    agent.wait_clean_exit();
    assert_exactly(&a, N, |_| true, "required");
    let stderr = agent.stderr();
    assert!(stderr.contains("optional channel full"), "{stderr}");
}

fn kill_during_a_multiplexed_run_loses_nothing(backend: &str) {
    const N: u64 = 300_000;
    let dirs = Dirs::new();
    let (a, b) = (Collector::start(), Collector::start());
    prefill(&dirs.log("app.log"), 0, N, 64);
    let pipeline = by_last_digit(two_way(&dirs, "app\\.log", &a, &b));
    let mut agent = pipeline.start(backend);
    assert!(
        common::wait_until(T, || a.unique() + b.unique() >= N / 4),
        "{}",
        a.summary()
    );
    agent.kill9();
    let mut agent = pipeline.start(backend);
    a.expect_unique(N / 2, T, &agent);
    b.expect_unique(N / 2, T, &agent);
    agent.stop();
    // Resent lines are allowed after a kill; lost or misrouted ones are not.
    for (c, mine, what) in [
        (&a, (|s| s % 10 < 5) as fn(u64) -> bool, "c1"),
        (&b, |s| s % 10 >= 5, "c2"),
    ] {
        let missing = c.missing(0..N);
        assert!(
            missing.iter().all(|s| !mine(*s)),
            "{what} lost lines; {}",
            c.summary()
        );
        assert_eq!(
            missing.len() as u64,
            N / 2,
            "{what} got lines of the other; {}",
            c.summary()
        );
    }
}

/// Sinks k1..kn, one per collector, all reading c1, in group `g` with `processor`.
fn grouped(dirs: &Dirs, collectors: &[&Collector], processor: &[(&str, &str)]) -> Pipeline {
    let names: Vec<String> = (1..=collectors.len()).map(|i| format!("k{i}")).collect();
    let mut p = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collectors[0].port())
        .set("sinks", &names.join(" "))
        .set("sinkgroups", "g")
        .set("sinkgroups.g.sinks", &names.join(" "));
    for (i, c) in collectors.iter().enumerate().skip(1) {
        let k = &names[i];
        p = p
            .set(&format!("sinks.{k}.type"), "tcp")
            .set(&format!("sinks.{k}.channel"), "c1")
            .set(&format!("sinks.{k}.hostname"), "127.0.0.1")
            .set(&format!("sinks.{k}.port"), &c.port().to_string())
            .set(&format!("sinks.{k}.batch-size"), "500")
            .set(&format!("sinks.{k}.max-backoff"), "400");
    }
    for (k, v) in processor {
        p = p.set(&format!("sinkgroups.g.{k}"), v);
    }
    p
}

/// Every line of `0..n` arrived at exactly one of `collectors`, once.
fn assert_each_line_once_across(collectors: &[&Collector], n: u64) {
    let mut seen = vec![0u32; n as usize];
    for c in collectors {
        let missing: std::collections::HashSet<u64> = c.missing(0..n).into_iter().collect();
        for s in 0..n {
            if !missing.contains(&s) {
                seen[s as usize] += 1;
            }
        }
        assert_eq!(c.duplicates(), 0, "{}", c.summary());
        assert!(c.outside(0..n).is_empty(), "{}", c.summary());
    }
    let lost: Vec<u64> = (0..n).filter(|&s| seen[s as usize] == 0).take(10).collect();
    let twice: Vec<u64> = (0..n).filter(|&s| seen[s as usize] > 1).take(10).collect();
    assert!(lost.is_empty(), "lost, first {lost:?}");
    assert!(twice.is_empty(), "at two collectors, first {twice:?}");
}

fn failover_prefers_the_primary_again_once_it_is_back(backend: &str) {
    let dirs = Dirs::new();
    let mut primary = Collector::start_down();
    let backup = Collector::start();
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    let mut agent = grouped(
        &dirs,
        &[&primary, &backup],
        &[
            ("processor.type", "failover"),
            ("processor.priority.k1", "10"),
            ("processor.priority.k2", "5"),
            ("processor.maxpenalty", "2000"),
        ],
    )
    .start(backend);
    // The primary is down: the backup gets everything.
    writer.write(10_000);
    backup.expect_unique(10_000, T, &agent);
    primary.come_up();
    // Once its penalty (at most 2 s) is over, the primary is preferred again.
    let mut n = 10_000;
    let back = common::wait_until(T, || {
        writer.write(100);
        n += 100;
        std::thread::sleep(Duration::from_millis(50));
        primary.unique() > 0
    });
    assert!(
        back,
        "the primary never got a line again; {}",
        agent.diagnostics()
    );
    let before = backup.unique();
    writer.write(10_000);
    n += 10_000;
    assert!(
        common::wait_until(T, || primary.unique() + backup.unique() >= n),
        "{} / {}",
        primary.summary(),
        backup.summary()
    );
    agent.stop();
    assert_eq!(
        backup.unique(),
        before,
        "the backup got lines while the primary was up"
    );
    assert_each_line_once_across(&[&primary, &backup], n);
}

fn load_balance_spreads_over_the_live_collectors(backend: &str) {
    const N: u64 = 60_000;
    let dirs = Dirs::new();
    let (a, b) = (Collector::start(), Collector::start());
    let down = Collector::start_down();
    prefill(&dirs.log("app.log"), 0, N, 64);
    let mut agent = grouped(
        &dirs,
        &[&a, &b, &down],
        &[
            ("processor.type", "load_balance"),
            ("processor.backoff", "true"),
        ],
    )
    .start(backend);
    assert!(
        common::wait_until(T, || a.unique() + b.unique() >= N),
        "{} / {}; {}",
        a.summary(),
        b.summary(),
        agent.diagnostics()
    );
    agent.stop();
    assert_each_line_once_across(&[&a, &b], N);
    assert!(
        a.unique() > N / 10 && b.unique() > N / 10,
        "{} / {}",
        a.summary(),
        b.summary()
    );
    assert_eq!(down.unique(), 0);
}
