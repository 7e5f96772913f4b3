//! The `spate` command line: `spate check` accepts Flume configurations and explains what is
//! wrong with bad ones; `spate agent` refuses to start on a bad command line or configuration,
//! and runs its built-in pipeline without `-f`.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{recorded_position, wait_until, Agent, Dirs, BIN};

const T: Duration = Duration::from_secs(30);

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

/// How the `logger` sink shows an event without headers whose body fits in `maxBytesToLog`
/// (16 by default): as Flume's `EventHelper.dumpEvent`, the bytes in hex, then as text.
fn logged_event(body: &str) -> String {
    let hex: String = body.bytes().map(|b| format!("{b:02X} ")).collect();
    format!("Event: {{ headers:{{}} body: {hex} {body} }}")
}

#[test]
fn agent_without_f_tails_logs_dir_to_the_log_and_stops_cleanly_on_sigint() {
    let dirs = Dirs::new();
    let app = dirs.log("app.log");
    // Each body within the logger's default 16 bytes, so that it is shown whole.
    let bodies = ["first line", "second line", "third line"];
    fs::write(&app, bodies.join("\n") + "\n").unwrap();
    // Not `*.log`: the built-in pipeline leaves it alone.
    fs::write(dirs.log("notes.txt"), "not a log\n").unwrap();
    let mut agent = Agent::start_args(&["agent"], "built-in", |c| {
        c.current_dir(dirs.root());
    });
    let expected: Vec<String> = bodies.iter().map(|b| logged_event(b)).collect();
    let logged = wait_until(T, || {
        let stderr = agent.stderr();
        expected.iter().all(|e| stderr.contains(e.as_str()))
    });
    assert!(
        logged,
        "the built-in pipeline did not log the lines of logs/app.log as {expected:#?}\n{}",
        agent.diagnostics()
    );
    agent.signal(libc::SIGINT);
    agent.wait_clean_exit();

    let stderr = agent.stderr();
    let at: Vec<usize> = expected
        .iter()
        .map(|e| stderr.find(e.as_str()).unwrap())
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "lines logged out of order\n{}",
        agent.diagnostics()
    );
    assert_eq!(
        stderr.matches("Event: {").count(),
        bodies.len(),
        "logged other events than the three lines of logs/app.log\n{}",
        agent.diagnostics()
    );
    // The final positions are written at the stop, where the README says.
    let inode = fs::metadata(&app).unwrap().ino();
    let size = fs::metadata(&app).unwrap().len();
    assert_eq!(
        recorded_position(&dirs.log(".spate_position.json"), inode),
        size,
        "logs/.spate_position.json does not record app.log as read to its end\n{}",
        agent.diagnostics()
    );
}
