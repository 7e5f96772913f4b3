//! One `spate agent` process under test.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

#[allow(unused_imports)]
use super::*;

/// One running `spate agent`.
#[derive(Debug)]
pub struct Agent {
    child: Child,
    status: Option<ExitStatus>,
    dir: tempfile::TempDir,
    stderr_path: PathBuf,
    pub backend: String,
}

impl Agent {
    /// Writes `config` to a temporary file and starts `spate agent -n a1` on `backend`
    /// (`epoll` or `uring`) with two workers.
    pub fn start(config: &str, backend: &str) -> Agent {
        Agent::start_with(config, backend, &[])
    }

    /// As [`Agent::start`], with more command-line arguments.
    pub fn start_with(config: &str, backend: &str, extra: &[&str]) -> Agent {
        Agent::start_adjusted(config, backend, extra, |_| {})
    }

    /// As [`Agent::start_with`]; `adjust` changes the command before it is spawned (for example
    /// to install a `pre_exec` hook).
    pub fn start_adjusted(
        config: &str,
        backend: &str,
        extra: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Agent {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("agent.properties");
        fs::write(&conf, config).expect("write config");
        let mut command = Command::new(BIN);
        command
            .arg("agent")
            .arg("-f")
            .arg(&conf)
            .args(["-n", "a1", "--io", backend, "--workers", "2"])
            .args(["--log-level", "info"])
            .args(extra);
        adjust(&mut command);
        Agent::spawn(command, dir, backend)
    }

    /// Starts `spate` with exactly `args` (no configuration file is written), after `adjust`
    /// changed the command (its working directory, say). `label` names the run in diagnostics.
    pub fn start_args(args: &[&str], label: &str, adjust: impl FnOnce(&mut Command)) -> Agent {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut command = Command::new(BIN);
        command.args(args);
        adjust(&mut command);
        Agent::spawn(command, dir, label)
    }

    /// Spawns `command` with its stderr kept in `dir`.
    fn spawn(mut command: Command, dir: tempfile::TempDir, backend: &str) -> Agent {
        let stderr_path = dir.path().join("stderr.log");
        let stderr = File::create(&stderr_path).expect("stderr file");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn spate");
        Agent {
            child,
            status: None,
            dir,
            stderr_path,
            backend: backend.to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The configuration file the agent was started with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("agent.properties")
    }

    /// What the agent wrote to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The exit status, if the agent exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Panics with the agent's stderr unless it is still running.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.try_exit() {
            panic!("agent exited early ({status})\n{}", self.diagnostics());
        }
    }

    /// SIGTERM, then waits (up to 30 s) for a clean exit (status 0).
    pub fn stop(&mut self) {
        self.terminate();
        self.wait_clean_exit();
    }

    /// Sends SIGTERM (a graceful stop) without waiting.
    pub fn terminate(&mut self) {
        self.signal(libc::SIGTERM);
    }

    /// Sends `signal` (SIGINT: Ctrl-C) without waiting; the agent must still be running.
    pub fn signal(&mut self, signal: libc::c_int) {
        self.assert_running();
        // SAFETY: kill(2) with our own child's pid, which has not been reaped yet.
        unsafe { libc::kill(self.pid() as libc::pid_t, signal) };
    }

    /// Waits (up to 30 s) for the agent to exit with status 0.
    pub fn wait_clean_exit(&mut self) {
        let exited = wait_until(Duration::from_secs(30), || self.try_exit().is_some());
        assert!(
            exited,
            "agent did not stop within 30 s of SIGTERM\n{}",
            self.diagnostics()
        );
        let status = self.status.unwrap();
        assert!(
            status.success(),
            "agent exited with {status} after it was asked to stop\n{}",
            self.diagnostics()
        );
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        self.assert_running();
        self.child.kill().expect("kill -9");
        self.status = Some(self.child.wait().expect("wait"));
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status =
            fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("agent /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"))
    }

    /// Resident set size now (VmRSS), KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// Peak resident set size (VmHWM), KiB.
    pub fn hwm_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    /// The agent's stderr, framed for a failure message.
    pub fn diagnostics(&self) -> String {
        format!(
            "--- agent ({}) stderr ---\n{}--- end of stderr ---",
            self.backend,
            tail(&self.stderr(), 60)
        )
    }

    /// The agent's temporary directory (config and stderr).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.diagnostics());
        }
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    let mut out = lines[start..].join("\n");
    out.push('\n');
    out
}
