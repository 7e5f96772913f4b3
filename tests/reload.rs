//! Configuration reload, as Flume does it: the agent polls its configuration file and restarts on
//! a changed one, without losing a line; an invalid change is reported and the agent carries on.

mod common;

use std::fs;
use std::time::Duration;

use common::{Collector, Dirs, LogWriter, Pipeline};

const T: Duration = Duration::from_secs(60);

both_backends!(
    a_changed_configuration_is_picked_up_without_losing_a_line,
    an_invalid_change_is_reported_and_the_agent_keeps_running,
);

fn a_changed_configuration_is_picked_up_without_losing_a_line(backend: &str) {
    let dirs = Dirs::new();
    let first = Collector::start();
    let second = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), first.port());
    let mut agent =
        common::Agent::start_with(&pipeline.text(), backend, &["--reload-interval", "1"]);
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    writer.write(2_000);
    first.expect_unique(2_000, T, &agent);

    // Point the sink at the second collector.
    let changed = pipeline
        .clone()
        .set("sinks.k1.port", &second.port().to_string());
    fs::write(agent.config_path(), changed.text()).unwrap();
    assert!(
        common::wait_until(T, || agent.stderr().contains("the configuration changed")),
        "no reload\n{}",
        agent.diagnostics()
    );
    writer.write(3_000);
    second.expect_unique(3_000, T, &agent);
    agent.assert_running();
    agent.stop();

    // Every line reached one collector or the other; the restart resumed at the recorded
    // position, so nothing went to the second collector twice.
    assert!(first.missing(0..2_000).is_empty(), "{}", first.summary());
    assert!(
        second.missing(2_000..5_000).is_empty(),
        "{}",
        second.summary()
    );
    assert_eq!(second.duplicates(), 0, "{}", second.summary());
    assert!(
        second.outside(2_000..5_000).is_empty(),
        "the second collector got lines already delivered: {}",
        second.summary()
    );
}

fn an_invalid_change_is_reported_and_the_agent_keeps_running(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    let mut agent =
        common::Agent::start_with(&pipeline.text(), backend, &["--reload-interval", "1"]);
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    writer.write(1_000);
    collector.expect_unique(1_000, T, &agent);

    let broken = pipeline.clone().set("channels.c1.capacity", "lots");
    fs::write(agent.config_path(), broken.text()).unwrap();
    assert!(
        common::wait_until(T, || agent.stderr().contains("not valid")),
        "the invalid change was not reported\n{}",
        agent.diagnostics()
    );
    assert!(
        agent.stderr().contains("a1.channels.c1.capacity"),
        "the report names the key\n{}",
        agent.diagnostics()
    );
    writer.write(1_000);
    collector.expect_unique(2_000, T, &agent);
    agent.stop();
    collector.assert_exactly_once(2_000, &agent);
}
