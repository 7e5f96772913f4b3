//! What an operator running spate under systemd and logrotate relies on: a crash loop resends
//! little (positions are recorded right after the first delivery); SIGHUP reloads and SIGUSR1
//! reports instead of killing; a second SIGTERM ends a drain at once; a second agent on the same
//! position file is refused; a final position write that fails says so, in the log and in the
//! exit status.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{prefill, recorded_position, wait_until, Agent, Collector, Dirs, Pipeline};

const T: Duration = Duration::from_secs(30);
const LINE: usize = 100;

both_backends!(
    a_kill_right_after_the_first_delivery_resends_nothing_delivered,
    sighup_reloads_a_changed_configuration_and_keeps_running_on_an_unchanged_one,
    sigusr1_logs_each_files_position_and_lag_and_sigpipe_is_ignored,
    a_second_stop_signal_ends_the_drain_at_once_and_keeps_what_was_delivered,
    a_second_agent_on_the_same_position_file_is_refused,
);

/// Flume's `writePosInterval` (3 s) and longer left a crash loop nothing recorded: every run was
/// killed before its first write, and the next run started again from the same place.
fn a_kill_right_after_the_first_delivery_resends_nothing_delivered(backend: &str) {
    const N: u64 = 200;
    let dirs = Dirs::new();
    let app = dirs.log("app.log");
    prefill(&app, 0, N, LINE);
    let inode = fs::metadata(&app).unwrap().ino();
    let collector = Collector::start();
    // One batch takes the whole file, and the interval is far longer than the test.
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port())
        .set("sources.r1.writePosInterval", "600000")
        .set("sources.r1.batchSize", "1000");
    let mut agent = pipeline.start(backend);
    collector.expect_unique(N, T, &agent);
    let size = fs::metadata(&app).unwrap().len();
    assert!(
        wait_until(Duration::from_secs(5), || recorded_position(
            &dirs.pos(),
            inode
        ) == size),
        "the first delivery was not recorded within 5 s (recorded {} of {size})\n{}",
        recorded_position(&dirs.pos(), inode),
        agent.diagnostics()
    );
    agent.kill9();

    let mut agent = pipeline.start(backend);
    prefill(&app, N, 10, LINE);
    collector.expect_unique(N + 10, T, &agent);
    agent.stop();
    collector.assert_exactly_once(N + 10, &agent);
}

fn sighup_reloads_a_changed_configuration_and_keeps_running_on_an_unchanged_one(backend: &str) {
    let dirs = Dirs::new();
    let app = dirs.log("app.log");
    prefill(&app, 0, 100, LINE);
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    // The file is not polled during the test: only the signal can trigger the reload.
    let mut agent = Agent::start_with(&pipeline.text(), backend, &["--reload-interval", "3600"]);
    collector.expect_unique(100, T, &agent);

    agent.signal(libc::SIGHUP);
    assert!(
        wait_until(T, || agent
            .stderr()
            .contains("the configuration is unchanged")),
        "no word of the SIGHUP\n{}",
        agent.diagnostics()
    );
    agent.assert_running();
    prefill(&app, 100, 100, LINE);
    collector.expect_unique(200, T, &agent);

    // What logrotate's postrotate does after a change: the agent restarts on the new file.
    let changed = pipeline.clone().set("sources.r1.batchSize", "50");
    fs::write(agent.config_path(), changed.text()).unwrap();
    agent.signal(libc::SIGHUP);
    assert!(
        wait_until(T, || agent.stderr().contains("the configuration changed")),
        "SIGHUP did not reload the changed configuration\n{}",
        agent.diagnostics()
    );
    prefill(&app, 200, 100, LINE);
    collector.expect_unique(300, T, &agent);
    agent.stop();
    collector.assert_exactly_once(300, &agent);
}

fn sigusr1_logs_each_files_position_and_lag_and_sigpipe_is_ignored(backend: &str) {
    let dirs = Dirs::new();
    let app = dirs.log("app.log");
    prefill(&app, 0, 100, LINE);
    let size = fs::metadata(&app).unwrap().len();
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    let mut agent = pipeline.start(backend);
    collector.expect_unique(100, T, &agent);

    agent.signal(libc::SIGPIPE);
    agent.signal(libc::SIGUSR1);
    let status_line = |agent: &Agent| {
        agent
            .stderr()
            .lines()
            .find(|l| l.contains("file status") && l.contains("app.log"))
            .map(str::to_owned)
    };
    assert!(
        wait_until(T, || status_line(&agent).is_some()),
        "SIGUSR1 logged no file status\n{}",
        agent.diagnostics()
    );
    let line = status_line(&agent).unwrap();
    for field in [
        format!("size={size}"),
        format!("delivered={size}"),
        "lag_bytes=0".to_owned(),
    ] {
        assert!(line.contains(&field), "{field} missing from: {line}");
    }
    let stderr = agent.stderr();
    assert!(
        stderr.contains("source status") && stderr.contains("sink status"),
        "no counters in the status\n{}",
        agent.diagnostics()
    );
    agent.assert_running();
    agent.stop();
}

fn a_second_stop_signal_ends_the_drain_at_once_and_keeps_what_was_delivered(backend: &str) {
    const N: u64 = 500;
    let dirs = Dirs::new();
    let app = dirs.log("app.log");
    prefill(&app, 0, N, LINE);
    let delivered = fs::metadata(&app).unwrap().len();
    let inode = fs::metadata(&app).unwrap().ino();
    let mut collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    // A drain that would outlast the test: only the second signal can end it.
    let mut agent = Agent::start_with(&pipeline.text(), backend, &["--drain-timeout", "600"]);
    collector.expect_unique(N, T, &agent);
    collector.go_down();
    prefill(&app, N, N, LINE);
    assert!(
        wait_until(T, || agent.stderr().contains("delivery failed")),
        "the sink never tried to deliver\n{}",
        agent.diagnostics()
    );
    agent.terminate();
    assert!(
        wait_until(T, || agent.stderr().contains("sinks drain the channels")),
        "the drain did not start\n{}",
        agent.diagnostics()
    );
    let asked = Instant::now();
    agent.terminate();
    assert!(
        wait_until(Duration::from_secs(10), || agent.try_exit().is_some()),
        "a second SIGTERM did not end the drain\n{}",
        agent.diagnostics()
    );
    agent.wait_clean_exit();
    eprintln!("stopped {:?} after the second SIGTERM", asked.elapsed());
    assert!(agent.stderr().contains("stop requested again"));
    assert_eq!(
        recorded_position(&dirs.pos(), inode),
        delivered,
        "the final positions must record what was delivered, and nothing more\n{}",
        agent.diagnostics()
    );

    collector.come_up();
    let mut agent = pipeline.start(backend);
    collector.expect_unique(2 * N, T, &agent);
    agent.stop();
    collector.assert_exactly_once(2 * N, &agent);
}

fn a_second_agent_on_the_same_position_file_is_refused(backend: &str) {
    let dirs = Dirs::new();
    let app = dirs.log("app.log");
    prefill(&app, 0, 100, LINE);
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    let mut first = pipeline.start(backend);
    collector.expect_unique(100, T, &first);

    let mut second = pipeline.start(backend);
    assert!(
        wait_until(T, || second.try_exit().is_some()),
        "the second agent runs beside the first\n{}",
        second.diagnostics()
    );
    assert_eq!(second.try_exit().unwrap().code(), Some(2));
    let said = second.stderr();
    assert!(
        said.contains(&dirs.pos().display().to_string())
            && said.contains(&format!("pid {}", first.pid())),
        "the refusal names neither the file nor the holder\n{said}"
    );
    // The first agent is unharmed, and once it stops the file is free again.
    prefill(&app, 100, 100, LINE);
    collector.expect_unique(200, T, &first);
    first.stop();
    let mut third = pipeline.start(backend);
    prefill(&app, 200, 100, LINE);
    collector.expect_unique(300, T, &third);
    third.stop();
    collector.assert_exactly_once(300, &third);
}

/// A small file system of its own, unmounted when dropped: lets a test fill a disk.
struct TmpFs {
    dir: tempfile::TempDir,
}

impl TmpFs {
    /// A tmpfs of `kib` KiB, or `None` (with a note) where mounting is not allowed.
    fn mount(kib: u64) -> Option<TmpFs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(TmpFs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system to the last byte.
    fn fill(&self) {
        let mut block = vec![0u8; 4096];
        let mut f = fs::File::create(self.path().join("filler")).unwrap();
        use std::io::Write;
        while f.write_all(&block).is_ok() {}
        block.truncate(1);
        while f.write_all(&block).is_ok() {}
    }
}

impl Drop for TmpFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

both_backends!(a_full_disk_at_stop_is_an_error_that_says_what_will_be_sent_again);

fn a_full_disk_at_stop_is_an_error_that_says_what_will_be_sent_again(backend: &str) {
    const N: u64 = 300;
    let Some(disk) = TmpFs::mount(256) else {
        return;
    };
    let dirs = Dirs::new();
    let app = dirs.log("app.log");
    prefill(&app, 0, N, LINE);
    let pos: PathBuf = disk.path().join("taildir_position.json");
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &pos, collector.port())
        .set("sources.r1.writePosInterval", "600000");
    let mut agent = pipeline.start(backend);
    collector.expect_unique(N, T, &agent);
    // The first delivery is recorded; what follows is not, the disk being full by then.
    let inode = fs::metadata(&app).unwrap().ino();
    let first = fs::metadata(&app).unwrap().len();
    assert!(
        wait_until(T, || recorded_position(&pos, inode) == first),
        "{}",
        agent.diagnostics()
    );
    let recorded_first = fs::read_to_string(&pos).unwrap();
    disk.fill();
    prefill(&app, N, N, LINE);
    collector.expect_unique(2 * N, T, &agent);
    agent.terminate();
    assert!(
        wait_until(T, || agent.try_exit().is_some()),
        "{}",
        agent.diagnostics()
    );
    let status = agent.try_exit().unwrap();
    let said = agent.stderr();
    assert_eq!(
        status.code(),
        Some(1),
        "a lost final write must not exit 0\n{said}"
    );
    assert!(
        said.contains("final positions NOT written")
            && said.contains("delivered lines will be sent again"),
        "{said}"
    );
    assert_eq!(fs::read_to_string(&pos).unwrap(), recorded_first);
    let litter: Vec<String> = fs::read_dir(disk.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(litter.is_empty(), "temporary files left behind: {litter:?}");
}

both_backends!(
    a_missing_directory_is_said_at_start_and_read_once_it_appears,
    a_symlink_loop_is_named_once_and_hides_no_other_file,
    a_deleted_file_read_to_its_end_is_closed_at_once,
    an_over_long_line_is_reported_while_running,
);

fn a_missing_directory_is_said_at_start_and_read_once_it_appears(backend: &str) {
    let dirs = Dirs::new();
    let later = dirs.root().join("later");
    let collector = Collector::start();
    let mut agent =
        Pipeline::new(&later, "app\\.log", &dirs.pos(), collector.port()).start(backend);
    assert!(
        common::wait_until(T, || agent
            .stderr()
            .contains("the file group's directory does not exist (yet)")),
        "{}",
        agent.diagnostics()
    );
    fs::create_dir(&later).unwrap();
    prefill(&later.join("app.log"), 0, 1_000, LINE);
    collector.expect_unique(1_000, T, &agent);
    agent.stop();
    collector.assert_exactly_once(1_000, &agent);
}

fn a_symlink_loop_is_named_once_and_hides_no_other_file(backend: &str) {
    const FILES: u64 = 30;
    let dirs = Dirs::new();
    std::os::unix::fs::symlink("loop-b.log", dirs.log("loop-a.log")).unwrap();
    std::os::unix::fs::symlink("loop-a.log", dirs.log("loop-b.log")).unwrap();
    for i in 0..FILES {
        prefill(&dirs.log(&format!("{i:02}.log")), i * 10, 10, LINE);
    }
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), ".*\\.log", &dirs.pos(), collector.port());
    let mut agent = pipeline.start(backend);
    collector.expect_unique(FILES * 10, T, &agent);
    // A new file makes the source list the directory again: the loop is not named again.
    prefill(&dirs.log("new.log"), FILES * 10, 10, LINE);
    collector.expect_unique(FILES * 10 + 10, T, &agent);
    agent.stop();
    let said = agent.stderr();
    let named = |name: &str| {
        said.lines()
            .filter(|l| l.contains("skipped: cannot look at it") && l.contains(name))
            .count()
    };
    assert_eq!(
        (named("loop-a.log"), named("loop-b.log")),
        (1, 1),
        "{}",
        agent.diagnostics()
    );
    collector.assert_exactly_once(FILES * 10 + 10, &agent);
}

/// The descriptors of `pid` that point at deleted files.
fn deleted_open_files(pid: u32) -> Vec<String> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| fs::read_link(e.path()).ok())
                .map(|t| t.display().to_string())
                .filter(|t| t.ends_with("(deleted)"))
                .collect()
        })
        .unwrap_or_default()
}

fn a_deleted_file_read_to_its_end_is_closed_at_once(backend: &str) {
    let dirs = Dirs::new();
    let app = dirs.log("app.log");
    prefill(&app, 0, 1_000, LINE);
    let collector = Collector::start();
    // Flume's idleTimeout: the file must not be held open for the two minutes it allows.
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port())
        .set("sources.r1.idleTimeout", "120000");
    let mut agent = pipeline.start(backend);
    collector.expect_unique(1_000, T, &agent);
    fs::remove_file(&app).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || deleted_open_files(agent.pid())
            .is_empty()),
        "a deleted file is still held open: {:?}\n{}",
        deleted_open_files(agent.pid()),
        agent.diagnostics()
    );
    agent.stop();
    collector.assert_exactly_once(1_000, &agent);
}

fn an_over_long_line_is_reported_while_running(backend: &str) {
    let dirs = Dirs::new();
    let app = dirs.log("app.log");
    prefill(&app, 0, 10, LINE);
    fs::OpenOptions::new()
        .append(true)
        .open(&app)
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(&[b'x'; 1000])?;
            f.write_all(b"\n")
        })
        .unwrap();
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port())
        .set("sources.r1.maxLineLength", "300");
    let mut agent = pipeline.start(backend);
    collector.expect_unique(10, T, &agent);
    assert!(
        wait_until(T, || agent
            .stderr()
            .contains("lines longer than maxLineLength (300 bytes)")),
        "the split was not reported while running\n{}",
        agent.diagnostics()
    );
    agent.assert_running();
    agent.stop();
}
