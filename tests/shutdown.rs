//! Stopping with the collector down: the agent waits for the drain at most `--drain-timeout`,
//! exits 0, records nothing undelivered as delivered, and a restart delivers every line.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use common::{prefill, recorded_position, wait_until, Agent, Collector, Dirs, Pipeline};

const T: Duration = Duration::from_secs(30);

both_backends!(a_stop_with_the_collector_down_ends_at_the_drain_timeout_and_loses_nothing);

fn a_stop_with_the_collector_down_ends_at_the_drain_timeout_and_loses_nothing(backend: &str) {
    const N: u64 = 1_000;
    const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);
    /// What a stop may take beyond the drain timeout: far below the default timeout (10 s),
    /// so an ignored `--drain-timeout` fails the test.
    const SLACK: Duration = Duration::from_secs(4);
    let dirs = Dirs::new();
    let app = dirs.log("app.log");
    prefill(&app, 0, N, 100);
    let inode = fs::metadata(&app).unwrap().ino();
    // A reserved port with nothing listening on it yet.
    let mut collector = Collector::start_down();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    let mut agent = Agent::start_with(
        &pipeline.text(),
        backend,
        &["--drain-timeout", &DRAIN_TIMEOUT.as_secs().to_string()],
    );
    assert!(
        wait_until(T, || agent.stderr().contains("delivery failed")),
        "the sink never tried to deliver\n{}",
        agent.diagnostics()
    );
    // Taken before the signal, so that `took` cannot miss any of the drain.
    let asked = Instant::now();
    agent.terminate();
    let exited = wait_until(DRAIN_TIMEOUT + SLACK, || agent.try_exit().is_some());
    let took = asked.elapsed();
    assert!(
        exited,
        "the agent did not stop within {:?} of SIGTERM (--drain-timeout {DRAIN_TIMEOUT:?})\n{}",
        DRAIN_TIMEOUT + SLACK,
        agent.diagnostics()
    );
    agent.wait_clean_exit();
    eprintln!("stopped {took:?} after SIGTERM with the collector down");
    assert!(
        took >= DRAIN_TIMEOUT,
        "the agent gave up on the drain after {took:?}, before --drain-timeout\n{}",
        agent.diagnostics()
    );
    assert!(
        agent.stderr().contains("drain timeout reached"),
        "no word of the undelivered events\n{}",
        agent.diagnostics()
    );
    assert_eq!(
        recorded_position(&dirs.pos(), inode),
        0,
        "the position file records undelivered lines as delivered\n{}",
        agent.diagnostics()
    );

    collector.come_up();
    let mut agent = pipeline.start(backend);
    collector.expect_unique(N, T, &agent);
    agent.stop();
    collector.assert_exactly_once(N, &agent);
    assert_eq!(
        recorded_position(&dirs.pos(), inode),
        fs::metadata(&app).unwrap().len(),
        "{}",
        agent.diagnostics()
    );
}
