//! The `spate` command line: `spate check` accepts Flume configurations and explains what is
//! wrong with bad ones; `spate agent` refuses to start on a bad command line or configuration,
//! runs its built-in pipeline without `-f`, and with `--io auto` runs on epoll where io_uring is
//! forbidden.

mod common;

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{
    prefill, recorded_position, wait_until, Agent, Collector, Dirs, LogWriter, Pipeline, BIN,
};

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
fn check_warns_about_an_unknown_key_naming_file_line_and_a_suggestion() {
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
    // Flume ignores the key and starts; spate warns and starts (`--strict` refuses).
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let location = format!("{}:14: warning: a1.sources.r1.batchSise", conf.display());
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

/// How the built-in pipeline's `logger` sink (`format = text`) shows an event without headers:
/// the whole line, as text.
fn logged_event(body: &str) -> String {
    format!("Event: {{ headers:{{}} body: {body} }}")
}

#[test]
fn agent_without_f_tails_logs_dir_to_the_log_and_stops_cleanly_on_sigint() {
    let dirs = Dirs::new();
    let app = dirs.log("app.log");
    // Longer than Flume's 16 bytes: the built-in pipeline shows whole lines.
    let bodies = [
        "first line, longer than sixteen bytes",
        "second line",
        "third line \u{e9}t\u{e9}",
    ];
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

/// x86_64's number of io_uring_setup(2).
const SYS_IO_URING_SETUP_X86_64: u32 = 425;
/// `AUDIT_ARCH_X86_64` of linux/audit.h: `EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;

/// A seccomp program that fails x86_64's io_uring_setup(2) with EPERM, as Docker's default
/// profile does, and allows every other system call (those of other ABIs included).
fn deny_io_uring_setup() -> Vec<libc::sock_filter> {
    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    // Offsets in `struct seccomp_data`.
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    let op = |code, k, jt, jf| libc::sock_filter { code, jt, jf, k };
    vec![
        op(LD_W_ABS, ARCH, 0, 0),
        // Another ABI: allow (jump to the last instruction).
        op(JEQ_K, AUDIT_ARCH_X86_64, 0, 3),
        op(LD_W_ABS, NR, 0, 0),
        op(JEQ_K, SYS_IO_URING_SETUP_X86_64, 0, 1),
        op(RET_K, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32, 0, 0),
        op(RET_K, libc::SECCOMP_RET_ALLOW, 0, 0),
    ]
}

/// Makes `command` run under the seccomp `filter`, installed in the child before exec.
fn under_seccomp(filter: Vec<libc::sock_filter>) -> impl FnOnce(&mut Command) {
    move |command| {
        let install = move || -> io::Result<()> {
            let prog = libc::sock_fprog {
                len: filter.len() as libc::c_ushort,
                filter: filter.as_ptr().cast_mut(),
            };
            // SAFETY: prctl(2) with PR_SET_NO_NEW_PRIVS takes plain integers.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) } != 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `prog` points to `filter`, which lives as long as this closure; the kernel
            // copies the program during the call.
            let set = unsafe {
                libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                    &prog as *const libc::sock_fprog,
                )
            };
            if set != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        };
        // SAFETY: the hook runs in the forked child before exec, where only async-signal-safe
        // work is allowed: it makes two system calls and allocates nothing (the program was
        // built before the fork, and an OS error is not allocated).
        unsafe { command.pre_exec(install) };
    }
}

/// Whether the seccomp tests can run here: the program is x86_64's, and the kernel must let an
/// unprivileged process install it. Otherwise the test says why and passes.
fn seccomp_test_applies() -> bool {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("skipped: the seccomp filter of this test is written for x86_64");
        return false;
    }
    let mut command = Command::new(BIN);
    command.arg("--version");
    under_seccomp(deny_io_uring_setup())(&mut command);
    match command.output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => panic!("`spate --version` under seccomp failed: {out:?}"),
        Err(e) => {
            eprintln!("skipped: cannot install a seccomp filter here: {e}");
            false
        }
    }
}

#[test]
fn io_auto_runs_on_epoll_with_one_warning_where_io_uring_is_forbidden() {
    const N: u64 = 1_000;
    if !seccomp_test_applies() {
        return;
    }
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, N, 100);
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    let mut agent = Agent::start_adjusted(
        &pipeline.text(),
        "auto",
        &[],
        under_seccomp(deny_io_uring_setup()),
    );
    collector.expect_unique(N, T, &agent);
    // Appended while it runs: tailing works on the fallback too, not only the first read.
    let mut writer = LogWriter::open(&dirs.log("app.log"), N);
    writer.write(N);
    collector.expect_unique(2 * N, T, &agent);
    agent.stop();
    collector.assert_exactly_once(2 * N, &agent);

    let stderr = agent.stderr();
    let mentions: Vec<&str> = stderr.lines().filter(|l| l.contains("io_uring")).collect();
    assert_eq!(
        mentions.len(),
        1,
        "expected one line about io_uring, the fallback warning\n{}",
        agent.diagnostics()
    );
    let warning = mentions[0];
    for expected in [
        "WARN",
        "io_uring setup failed: Operation not permitted",
        "seccomp",
        "running on the epoll backend",
    ] {
        assert!(
            warning.contains(expected),
            "the fallback warning lacks {expected:?}: {warning}"
        );
    }
    assert!(
        stderr.contains("backend=epoll"),
        "the agent does not say it runs on epoll\n{}",
        agent.diagnostics()
    );
}

#[test]
fn io_uring_where_it_is_forbidden_exits_2_with_a_clear_message() {
    if !seccomp_test_applies() {
        return;
    }
    let dirs = Dirs::new();
    prefill(&dirs.log("app.log"), 0, 10, 100);
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    let mut agent = Agent::start_adjusted(
        &pipeline.text(),
        "uring",
        &[],
        under_seccomp(deny_io_uring_setup()),
    );
    wait_until(T, || {
        agent.try_exit().is_some() || agent.stderr().contains("agent started")
    });
    assert!(
        agent.try_exit().is_some(),
        "`--io uring` runs without io_uring\n{}",
        agent.diagnostics()
    );
    let status = agent.try_exit().unwrap();
    assert_eq!(
        status.code(),
        Some(2),
        "exit code of `--io uring` without io_uring\n{}",
        agent.diagnostics()
    );
    let stderr = agent.stderr();
    for expected in [
        "io_uring is not available: io_uring setup failed: Operation not permitted",
        "seccomp",
        "run with `--io epoll`",
    ] {
        assert!(
            stderr.contains(expected),
            "the error lacks {expected:?}\n{}",
            agent.diagnostics()
        );
    }
    assert!(
        !stderr.contains("agent started") && collector.connections() == 0,
        "the agent started on another backend\n{}",
        agent.diagnostics()
    );
}
