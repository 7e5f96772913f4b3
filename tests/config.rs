//! Configuration robustness, seen from the command line: keys Flume ignores are warnings (the
//! agent starts, as Flume does; `--strict` refuses), and malformed files (too large, not UTF-8,
//! unsupported syntax, absurd sizes) are refused with the file and line.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{wait_until, Agent, Dirs, Pipeline, BIN};

const T: Duration = Duration::from_secs(30);

/// A valid agent (it checks, it is not run); line 14 is the last.
const VALID: &str = "\
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = TAILDIR
a1.sources.r1.channels = c1
a1.sources.r1.positionFile = /var/lib/spate/taildir_position.json
a1.sources.r1.filegroups = f1
a1.sources.r1.filegroups.f1 = /var/log/app/.*\\\\.log
a1.sources.r1.batchSize = 100
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
";

/// `spate ARGS -f FILE -n a1` with `bytes` written to FILE.
fn run_on(dir: &Path, args: &[&str], bytes: &[u8]) -> (Output, String) {
    let conf = dir.join("flume.properties");
    fs::write(&conf, bytes).unwrap();
    let conf = conf.to_str().unwrap().to_owned();
    let out = Command::new(BIN)
        .args(args)
        .args(["-f", &conf, "-n", "a1"])
        .output()
        .expect("run spate");
    (out, conf)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The user's misspelt key (line 15) and a key Flume's logger sink does not read (line 16).
fn with_ignored_keys() -> String {
    format!("{VALID}a1.sources.r1.batchSise = 1000\na1.sinks.k1.kafka.flumeBatchSize = 10\n")
}

#[test]
fn check_warns_about_keys_flume_ignores_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let (out, conf) = run_on(dir.path(), &["check"], with_ignored_keys().as_bytes());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{err}");
    for expected in [
        format!("{conf}:15: warning: a1.sources.r1.batchSise: unknown key `batchSise`"),
        "hint: did you mean `batchSize`?".to_string(),
        format!("{conf}:16: warning: a1.sinks.k1.kafka.flumeBatchSize: unknown key"),
    ] {
        assert!(err.contains(&expected), "no {expected:?} in:\n{err}");
    }
    // The pipeline is printed as for a configuration without warnings.
    assert!(
        stdout(&out).contains("source r1 (TAILDIR) -> c1"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn check_strict_refuses_a_configuration_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let (out, conf) = run_on(
        dir.path(),
        &["check", "--strict"],
        with_ignored_keys().as_bytes(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{err}");
    assert!(
        err.contains(&format!("{conf}:15: warning: a1.sources.r1.batchSise")),
        "{err}"
    );
    assert!(
        err.contains("--strict"),
        "the refusal does not say why:\n{err}"
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    // Without warnings, --strict changes nothing.
    let (out, _) = run_on(dir.path(), &["check", "--strict"], VALID.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn agent_strict_refuses_to_start_on_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let (out, conf) = run_on(
        dir.path(),
        &["agent", "--strict", "--io", "epoll"],
        with_ignored_keys().as_bytes(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{err}");
    assert!(
        err.contains(&format!("{conf}:15: warning: a1.sources.r1.batchSise")),
        "{err}"
    );
    assert!(err.contains("--strict"), "{err}");
}

#[test]
fn agent_starts_as_flume_would_and_logs_the_warnings_at_start_and_reload() {
    let dirs = Dirs::new();
    let pipeline = Pipeline::to_logger(&dirs.logs(), "app\\.log", &dirs.pos())
        .set("sinks.k1.batchSize", "100");
    let mut agent = Agent::start_with(&pipeline.text(), "epoll", &["--reload-interval", "1"]);
    let warned = "warning: a1.sinks.k1.batchSize: unknown key `batchSize` for a logger sink";
    assert!(
        wait_until(T, || agent.stderr().contains(warned)),
        "no warning at start\n{}",
        agent.diagnostics()
    );
    assert!(
        wait_until(T, || agent.stderr().contains("agent started")),
        "the agent did not start\n{}",
        agent.diagnostics()
    );
    agent.assert_running();
    // A reload logs the warnings of the new configuration. (The file is written again every
    // 2 s, in case the first write came before the agent took its first look at the file.)
    let changed = pipeline
        .set("sources.r1.skipToEnd", "true")
        .set("sources.r1.skipToENd", "true");
    let warned = "warning: a1.sources.r1.skipToENd: unknown key `skipToENd`";
    let mut polls = 0;
    let reloaded = wait_until(T, || {
        if polls % 200 == 0 {
            fs::write(agent.config_path(), changed.text()).unwrap();
        }
        polls += 1;
        agent.stderr().contains(warned)
    });
    assert!(reloaded, "no warning at reload\n{}", agent.diagnostics());
    agent.assert_running();
    agent.stop();
}

#[test]
fn an_oversized_file_is_refused_naming_the_file_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("huge.properties");
    // Sparse: 17 MiB of zero bytes on disk costs nothing.
    let f = fs::File::create(&conf).unwrap();
    f.set_len(17 << 20).unwrap();
    drop(f);
    let out = Command::new(BIN)
        .args(["check", "-f", conf.to_str().unwrap(), "-n", "a1"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(conf.to_str().unwrap()), "{err}");
    assert!(err.contains("16 MiB"), "the limit is not named:\n{err}");
    assert!(err.lines().count() <= 3, "{err}");
}

#[test]
fn a_latin1_comment_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"# Fichier de configuration g\xe9n\xe9r\xe9 (Latin-1)\n".to_vec();
    bytes.extend_from_slice(VALID.as_bytes());
    let (out, _) = run_on(dir.path(), &["check"], &bytes);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_non_utf8_value_names_its_line_and_byte() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = VALID.as_bytes().to_vec();
    bytes.extend_from_slice(b"a1.sources.r1.headers.f1.team = d\xe9v\n");
    let (out, conf) = run_on(dir.path(), &["check"], &bytes);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{conf}:15:")) && err.contains("0xE9"),
        "no line or byte in:\n{err}"
    );
    assert!(err.contains("UTF-8"), "{err}");
    assert!(!err.contains("check the path"), "a wrong hint:\n{err}");
}

#[test]
fn env_default_syntax_is_refused_as_unsupported_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{VALID}a1.sources.r1.fileHeaderKey = ${{env:SPATE_TEST_UNSET:-file}}\n");
    let (out, conf) = run_on(dir.path(), &["check"], text.as_bytes());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{conf}:15:")), "{err}");
    assert!(err.contains("not supported"), "{err}");
    assert!(
        !err.contains("is not set"),
        "misread as a variable name:\n{err}"
    );
}

#[test]
fn an_absurd_size_is_refused_with_the_allowed_range() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{VALID}a1.sources.r1.readBufferSize = 99999999999999\n");
    let (out, conf) = run_on(dir.path(), &["check"], text.as_bytes());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{conf}:15: a1.sources.r1.readBufferSize")),
        "{err}"
    );
    assert!(err.contains("from 4096 to 67108864"), "no range in:\n{err}");
}
