//! The collector end: the tcp sink waits for a collector that is not there yet, survives one
//! that goes away and comes back, holds back (with bounded memory) when it stops reading, and
//! frames events as configured.

mod common;

use std::time::{Duration, Instant};

use common::{Collector, Dirs, Framing, LogWriter, Pipeline};

const T: Duration = Duration::from_secs(60);
/// How long the collector stays away or paused: long enough for the sink's back-off to reach
/// its maximum (`max-backoff` is 400 ms in these tests) several times.
const DOWNTIME: Duration = Duration::from_secs(3);

both_backends!(
    collector_not_listening_at_start,
    collector_goes_down_while_idle_and_comes_back,
    collector_pauses_reading_memory_stays_bounded,
    octet_counting_framing,
);

/// Waits until the agent has logged a failed delivery (it tried and found no collector).
fn wait_for_failed_delivery(agent: &common::Agent) {
    assert!(
        common::wait_until(T, || agent.stderr().contains("delivery failed")),
        "the agent never reported a failed delivery\n{}",
        agent.diagnostics()
    );
}

fn collector_not_listening_at_start(backend: &str) {
    // 50 MB written while there is no collector: the channel (10,000 events) fills, the source
    // stops reading, and memory stays bounded by the channel, not by what was written.
    const N: u64 = 500_000;
    const LIMIT_MIB: u64 = 24;
    let dirs = Dirs::new();
    let mut collector = Collector::start_down();
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    writer.line_len = 100;
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    let down_since = Instant::now();
    writer.write_paced(N, 20, Duration::from_millis(500));
    wait_for_failed_delivery(&agent);
    // The outage itself (not a synchronisation): the collector stays away this long.
    std::thread::sleep(DOWNTIME.saturating_sub(down_since.elapsed()));
    let down_hwm_mib = agent.hwm_kib() / 1024;
    collector.come_up();
    collector.expect_unique(N, T, &agent);
    agent.stop();
    collector.assert_exactly_once(N, &agent);
    assert!(
        down_hwm_mib < LIMIT_MIB,
        "VmHWM {down_hwm_mib} MiB while the collector was down (limit {LIMIT_MIB} MiB)"
    );
}

fn collector_goes_down_while_idle_and_comes_back(backend: &str) {
    let dirs = Dirs::new();
    let mut collector = Collector::start();
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    let mut agent =
        Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port()).start(backend);
    writer.write(5_000);
    // Everything so far arrived: the sink is idle on an open connection.
    collector.expect_unique(5_000, T, &agent);
    collector.go_down();
    // Written during the outage: the first write after idling must not go into the closed
    // connection and be lost.
    writer.write_paced(5_000, 30, DOWNTIME);
    wait_for_failed_delivery(&agent);
    collector.come_up();
    collector.expect_unique(10_000, T, &agent);
    agent.stop();
    collector.assert_exactly_once(10_000, &agent);
    assert!(collector.connections() >= 2, "{}", collector.summary());
}

fn collector_pauses_reading_memory_stays_bounded(backend: &str) {
    // 100 MB written while the collector reads nothing, against a limit of a quarter of that:
    // an agent that buffered what it read would fail (with a channel large enough to take it
    // all, VmHWM was 104 MiB). What it may hold is the channel (2 MiB of bodies here), one
    // read buffer, and its own code and heap (13-14 MiB measured in all).
    const N: u64 = 1_000_000;
    const LIMIT_MIB: u64 = 24;
    let dirs = Dirs::new();
    let collector = Collector::start();
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    writer.line_len = 100;
    let mut agent = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port())
        .set("channels.c1.capacity", "10000")
        .set("channels.c1.byteCapacity", "2097152")
        .start(backend);
    writer.write(1_000);
    collector.expect_unique(1_000, T, &agent);
    collector.pause();
    let paused = Instant::now();
    writer.write_paced(N - 1_000, 30, DOWNTIME);
    let mut peak = 0;
    common::wait_until(DOWNTIME.saturating_sub(paused.elapsed()), || {
        peak = peak.max(agent.rss_kib());
        false
    });
    agent.assert_running();
    let held = collector.unique();
    collector.resume();
    collector.expect_unique(N, T, &agent);
    let hwm_mib = agent.hwm_kib() / 1024;
    agent.stop();
    eprintln!(
        "paused collector: {held} of {N} read before it resumed; RSS peak while paused {} MiB, \
         VmHWM {hwm_mib} MiB",
        peak / 1024
    );
    collector.assert_exactly_once(N, &agent);
    assert!(
        hwm_mib < LIMIT_MIB,
        "VmHWM {hwm_mib} MiB with a paused collector (limit {LIMIT_MIB} MiB)"
    );
}

fn octet_counting_framing(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::with(Framing::OctetCounting, false, true);
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    let mut agent = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port())
        .set("sinks.k1.framing", "octet-counting")
        .start(backend);
    writer.write_paced(10_000, 10, Duration::from_millis(200));
    collector.expect_unique(10_000, T, &agent);
    agent.stop();
    collector.assert_exactly_once(10_000, &agent);
}
