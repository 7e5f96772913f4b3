//! The `spate` command line: `spate check` accepts Flume configurations and explains what is
//! wrong with bad ones; `spate agent` refuses to start on a bad command line or configuration.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::BIN;

/// The TAILDIR example of the Flume 1.11 user guide, with its typo fixed (the guide configures
/// `a1.sources.ri.maxBatchCount`, a source that is not listed) and a channel and sink added.
const USER_GUIDE: &str = "\
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = TAILDIR
a1.sources.r1.channels = c1
a1.sources.r1.positionFile = /var/log/flume/taildir_position.json
a1.sources.r1.filegroups = f1 f2
a1.sources.r1.filegroups.f1 = /var/log/test1/example.log
a1.sources.r1.headers.f1.headerKey1 = value1
a1.sources.r1.filegroups.f2 = /var/log/test2/.*log.*
a1.sources.r1.headers.f2.headerKey1 = value2
a1.sources.r1.headers.f2.headerKey2 = value2-2
a1.sources.r1.fileHeader = true
a1.sources.r1.maxBatchCount = 1000
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
";

fn run(args: &[&str], config: Option<(&Path, &str)>) -> Output {
    if let Some((path, text)) = config {
        std::fs::write(path, text).unwrap();
    }
    Command::new(BIN).args(args).output().expect("run spate")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_accepts_the_user_guide_example_and_prints_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("flume.conf");
    let out = run(
        &["check", "-f", conf.to_str().unwrap(), "-n", "a1"],
        Some((&conf, USER_GUIDE)),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    for expected in [
        "agent a1",
        "source r1 (TAILDIR) -> c1",
        "channel c1 (memory)",
        "sink k1 (logger) <- c1",
        "/var/log/test2",
        "maxBatchCount",
    ] {
        assert!(
            stdout.contains(expected),
            "`spate check` output lacks {expected:?}:\n{stdout}"
        );
    }
}

#[test]
fn check_rejects_an_unknown_key_naming_file_line_and_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("flume.conf");
    // Line 14: a misspelt batchSize.
    let config = USER_GUIDE.replace(
        "a1.sources.r1.maxBatchCount = 1000",
        "a1.sources.r1.batchSise = 1000",
    );
    let out = run(
        &["check", "-f", conf.to_str().unwrap(), "-n", "a1"],
        Some((&conf, &config)),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let location = format!("{}:14: a1.sources.r1.batchSise", conf.display());
    assert!(stderr.contains(&location), "no {location:?} in:\n{stderr}");
    assert!(
        stderr.contains("did you mean `batchSize`?"),
        "no suggestion in:\n{stderr}"
    );
}

#[test]
fn agent_without_a_name_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("flume.conf");
    let out = run(
        &["agent", "-f", conf.to_str().unwrap()],
        Some((&conf, USER_GUIDE)),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("missing -n/--name"),
        "unclear message:\n{stderr}"
    );
}

#[test]
fn unknown_component_type_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("flume.conf");
    let config = USER_GUIDE.replace("a1.sinks.k1.type = logger", "a1.sinks.k1.type = hdfs-ish");
    for command in ["check", "agent"] {
        let out = run(
            &[command, "-f", conf.to_str().unwrap(), "-n", "a1"],
            Some((&conf, &config)),
        );
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "`spate {command}` stderr: {stderr}"
        );
        assert!(
            stderr.contains("hdfs-ish") && stderr.contains("a1.sinks.k1.type"),
            "`spate {command}` does not name the type and key:\n{stderr}"
        );
    }
}
