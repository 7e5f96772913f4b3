//! The real Apache Flume 1.11 as a test peer: resolved from Maven Central and run by
//! `tests/peers/flume/flume.sh` (Java 17 and Maven needed; `.ci/run` has them).

use std::fs::{self, File};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

#[allow(unused_imports)]
use super::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/flume/flume.sh")
}

/// Resolves Flume once per test binary (quick when its jars are already there).
fn resolved() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let done = DONE.get_or_init(|| {
        let out = Command::new(script())
            .arg("resolve")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "resolving Flume 1.11 with Maven failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = done {
        panic!("{e}\n(these tests run against the real Apache Flume: they need Java 17 and Maven)");
    }
}

/// A running Flume agent.
#[derive(Debug)]
pub struct Flume {
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Flume {
    /// Starts agent `name` of `properties` and waits until it accepts connections on `port`.
    pub fn start(name: &str, properties: &str, port: u16) -> Flume {
        let mut flume = Flume::spawn(name, properties);
        let up = wait_until(Duration::from_secs(90), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "Flume never listened on {port}\n{}", flume.log_tail());
        if let Some(status) = flume
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            panic!("Flume exited: {status}\n{}", flume.log_tail());
        }
        flume
    }

    /// Starts agent `name` of `properties` (for an agent that listens on no port).
    pub fn spawn(name: &str, properties: &str) -> Flume {
        resolved();
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = dir.path().join("flume.properties");
        fs::write(&conf, properties).expect("write flume.properties");
        let log = File::create(dir.path().join("flume.log")).expect("flume.log");
        let child = Command::new(script())
            .arg("agent")
            .arg(name)
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start Flume");
        Flume {
            child: Some(child),
            dir,
        }
    }

    /// Whether Flume has exited (a configuration it refused, for example).
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// Stops Flume as its operator would (SIGTERM: its components stop in order, sinks flush)
    /// and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling a child process this handle owns (not yet waited for).
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let exited = wait_until(Duration::from_secs(30), || {
                c.try_wait().ok().flatten().is_some()
            });
            if !exited {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }

    /// Kills Flume with SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The end of Flume's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.path().join("flume.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(40);
        format!(
            "--- Flume log ---\n{}\n--- end of Flume log ---",
            lines[from..].join("\n")
        )
    }
}

impl Drop for Flume {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A Flume collector: avro source on `port` -> `channel` -> `file_roll` into `out` (one file,
/// never rolled). `source_extra` is added to the source's keys (e.g. compression).
pub fn flume_collector(port: u16, out: &Path, channel: &str, source_extra: &str) -> String {
    format!(
        "c.sources = r\n\
         c.channels = m\n\
         c.sinks = k\n\
         c.sources.r.type = avro\n\
         c.sources.r.bind = 127.0.0.1\n\
         c.sources.r.port = {port}\n\
         c.sources.r.channels = m\n\
         {source_extra}\n\
         {channel}\n\
         c.sinks.k.type = file_roll\n\
         c.sinks.k.sink.directory = {}\n\
         c.sinks.k.sink.rollInterval = 0\n\
         c.sinks.k.sink.batchSize = 1000\n\
         c.sinks.k.channel = m\n",
        out.display()
    )
}

/// A Flume edge: TAILDIR on `log` -> memory -> avro sink to 127.0.0.1:`port`, with
/// `sink_extra` added to the sink's keys (e.g. compression). Its positions go under `dir`.
pub fn flume_edge(log: &Path, dir: &Path, port: u16, sink_extra: &str) -> String {
    format!(
        "e.sources = t\n\
         e.channels = m\n\
         e.sinks = k\n\
         e.sources.t.type = TAILDIR\n\
         e.sources.t.filegroups = f1\n\
         e.sources.t.filegroups.f1 = {}\n\
         e.sources.t.positionFile = {}\n\
         e.sources.t.batchSize = 1000\n\
         e.sources.t.channels = m\n\
         e.channels.m.type = memory\n\
         e.channels.m.capacity = 100000\n\
         e.channels.m.transactionCapacity = 10000\n\
         e.sinks.k.type = avro\n\
         e.sinks.k.hostname = 127.0.0.1\n\
         e.sinks.k.port = {port}\n\
         e.sinks.k.batch-size = 1000\n\
         {sink_extra}\n\
         e.sinks.k.channel = m\n",
        log.display(),
        dir.join("flume-positions.json").display()
    )
}

/// A memory channel for [`flume_collector`].
pub const FLUME_MEMORY_CHANNEL: &str = "c.channels.m.type = memory\n\
     c.channels.m.capacity = 100000\n\
     c.channels.m.transactionCapacity = 10000";

/// How often each line number appears in the files of `dir` (lines as [`line`] writes them).
pub fn seq_counts(dir: &Path) -> std::collections::HashMap<u64, u32> {
    let mut counts = std::collections::HashMap::new();
    for entry in fs::read_dir(dir).expect("read output dir") {
        let text = fs::read_to_string(entry.expect("entry").path()).expect("read output");
        for l in text.lines() {
            if let Some(seq) = l.get(..16).and_then(|s| s.parse::<u64>().ok()) {
                *counts.entry(seq).or_insert(0) += 1;
            }
        }
    }
    counts
}
