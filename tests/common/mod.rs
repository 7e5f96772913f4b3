//! Harness of the behaviour tests: runs the `spate` binary against a TCP collector that counts
//! numbered lines, and writes logs the way applications and rotators do.
//!
//! * [`Agent`]: one `spate agent` process, its config and stderr in a temporary directory; killed
//!   on drop so a failing test leaks nothing.
//! * [`Collector`]: the one helper that runs the agent against a collecting receiver. It records
//!   the sequence number of every line `{seq:016} {payload}`, can pause reading, go down and come
//!   back on the same port.
//! * [`LogWriter`]: appends numbered lines through an `O_APPEND` descriptor it keeps open, like a
//!   logger; [`prefill`] writes a large file quickly.
//! * [`Pipeline`]: the agent configuration (TAILDIR -> memory -> tcp) with overridable keys.
//!
//! Tests wait on conditions with deadlines ([`wait_until`]), never on bare sleeps.
#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_spate");

/// Runs `$body(backend)` as two tests, `epoll` and `uring`; the uring one is skipped (with a
/// message) where `spate agent --io uring` cannot start. Attributes written before a name
/// (such as `#[ignore = "why"]`) go on both tests.
#[macro_export]
macro_rules! both_backends {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            $(#[$attr])*
            fn epoll() {
                super::$name("epoll");
            }
            #[test]
            $(#[$attr])*
            fn uring() {
                if !$crate::common::uring_available() {
                    eprintln!("skipped: io_uring is not available here");
                    return;
                }
                super::$name("uring");
            }
        }
    )*};
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `spate agent --io uring` can run here: io_uring not disabled by sysctl, and an agent
/// started with it does not exit with "io_uring is not available". Probed once per test binary.
pub fn uring_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let disabled = fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
            .map(|s| s.trim() != "0")
            .unwrap_or(false);
        if disabled {
            return false;
        }
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("logs")).unwrap();
        let config = format!(
            "a1.sources = r1\na1.channels = c1\na1.sinks = k1\n\
             a1.sources.r1.type = TAILDIR\na1.sources.r1.channels = c1\n\
             a1.sources.r1.filegroups = f1\n\
             a1.sources.r1.filegroups.f1 = {}/.*\n\
             a1.sources.r1.positionFile = {}\n\
             a1.channels.c1.type = memory\n\
             a1.sinks.k1.type = null\na1.sinks.k1.channel = c1\n",
            dir.path().join("logs").display(),
            dir.path().join("pos.json").display()
        );
        let mut agent = Agent::start(&config, "uring");
        let exited = wait_until(Duration::from_secs(2), || agent.try_exit().is_some());
        if exited && agent.stderr().contains("io_uring is not available") {
            return false;
        }
        if !exited {
            agent.stop();
        }
        true
    })
}

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

/// The agent configuration the tests run: `TAILDIR r1 -> memory c1 -> tcp k1`, every key
/// overridable with [`Pipeline::set`] (keys relative to `a1.`).
#[derive(Debug, Clone)]
pub struct Pipeline {
    keys: Vec<(String, String)>,
}

impl Pipeline {
    /// Tails `dir` files whose name matches `pattern` (a regex as it must be written in the
    /// properties file, e.g. `app\\.log`), position file `pos`, to 127.0.0.1:`port`.
    pub fn new(dir: &Path, pattern: &str, pos: &Path, port: u16) -> Pipeline {
        let mut p = Pipeline { keys: Vec::new() };
        for (k, v) in [
            ("sources", "r1"),
            ("channels", "c1"),
            ("sinks", "k1"),
            ("sources.r1.type", "TAILDIR"),
            ("sources.r1.channels", "c1"),
            ("sources.r1.filegroups", "f1"),
            ("sources.r1.batchSize", "500"),
            ("sources.r1.writePosInterval", "100"),
            ("sources.r1.pollInterval", "100"),
            ("sources.r1.idleTimeout", "1000"),
            ("channels.c1.type", "memory"),
            ("channels.c1.capacity", "10000"),
            ("channels.c1.transactionCapacity", "1000"),
            ("sinks.k1.type", "tcp"),
            ("sinks.k1.channel", "c1"),
            ("sinks.k1.hostname", "127.0.0.1"),
            ("sinks.k1.batch-size", "500"),
            ("sinks.k1.max-backoff", "400"),
        ] {
            p = p.set(k, v);
        }
        p.set(
            "sources.r1.filegroups.f1",
            &format!("{}/{pattern}", dir.display()),
        )
        .set("sources.r1.positionFile", &pos.display().to_string())
        .set("sinks.k1.port", &port.to_string())
    }

    /// Sets `a1.<key> = value`, replacing an earlier value.
    pub fn set(mut self, key: &str, value: &str) -> Pipeline {
        match self.keys.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.keys.push((key.to_owned(), value.to_owned())),
        }
        self
    }

    pub fn text(&self) -> String {
        self.keys
            .iter()
            .map(|(k, v)| format!("a1.{k} = {v}\n"))
            .collect()
    }

    pub fn start(&self, backend: &str) -> Agent {
        Agent::start(&self.text(), backend)
    }

    /// As [`Pipeline::new`], but into Flume's `logger` sink instead of tcp: the agent logs every
    /// event, headers included, on its stderr, where [`logged_events`] finds them. (The tcp sink
    /// writes bodies only.) Bodies up to 1024 bytes are logged whole.
    pub fn to_logger(dir: &Path, pattern: &str, pos: &Path) -> Pipeline {
        let mut p = Pipeline::new(dir, pattern, pos, 0);
        p.keys.retain(|(k, _)| !k.starts_with("sinks.k1."));
        p.set("sinks.k1.type", "logger")
            .set("sinks.k1.channel", "c1")
            .set("sinks.k1.maxBytesToLog", "1024")
    }
}

/// One event as the `logger` sink logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// The headers in the order logged.
    pub headers: Vec<(String, String)>,
    /// The body, as far as `maxBytesToLog` shows it.
    pub body: Vec<u8>,
}

impl LoggedEvent {
    /// The value of header `key`, if the event has it.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The sequence number of a test line's body.
    pub fn seq(&self) -> Option<u64> {
        parse_seq(&self.body)
    }
}

/// The events the `logger` sink logged in `stderr`, in order: lines of the form
/// `Event: { headers:{k=v, k2=v2} body: 48 69  Hi }` (Flume's `EventHelper.dumpEvent`). The
/// body is taken from the hex dump, so it is exact. A last line still being written is left out.
pub fn logged_events(stderr: &str) -> Vec<LoggedEvent> {
    const START: &str = "Event: { headers:{";
    const BODY: &str = "} body: ";
    let mut events = Vec::new();
    for l in stderr.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        let Some(i) = l.find(START) else { continue };
        let rest = &l[i + START.len()..];
        let (headers, rest) = rest
            .split_once(BODY)
            .unwrap_or_else(|| panic!("logged event without a body: {l}"));
        let headers = headers
            .split(", ")
            .filter(|h| !h.is_empty())
            .map(|h| {
                let (k, v) = h
                    .split_once('=')
                    .unwrap_or_else(|| panic!("header without `=`: {l}"));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        // The hex dump ("48 69 ") ends where two spaces begin.
        let hex = &rest[..rest.find("  ").unwrap_or(0)];
        let body = hex
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|_| panic!("bad hex dump: {l}")))
            .collect();
        events.push(LoggedEvent { headers, body });
    }
    events
}

/// A test's directories: `logs/` (tailed) and `state/` (position file).
#[derive(Debug)]
pub struct Dirs {
    root: tempfile::TempDir,
}

impl Dirs {
    pub fn new() -> Dirs {
        let root = tempfile::tempdir().expect("tempdir");
        fs::create_dir(root.path().join("logs")).unwrap();
        fs::create_dir(root.path().join("state")).unwrap();
        Dirs { root }
    }
    pub fn logs(&self) -> PathBuf {
        self.root.path().join("logs")
    }
    pub fn log(&self, name: &str) -> PathBuf {
        self.logs().join(name)
    }
    pub fn pos(&self) -> PathBuf {
        self.root.path().join("state/pos.json")
    }
    pub fn root(&self) -> &Path {
        self.root.path()
    }
}

impl Default for Dirs {
    fn default() -> Self {
        Dirs::new()
    }
}

/// The `pos` the position file at `path` (Flume's format) records for `inode`; 0 when the file
/// or the entry does not exist (yet).
pub fn recorded_position(path: &Path, inode: u64) -> u64 {
    let Ok(text) = fs::read_to_string(path) else {
        return 0; // not written yet
    };
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    entries
        .iter()
        .find(|e| e["inode"] == inode)
        .map_or(0, |e| e["pos"].as_u64().unwrap())
}

// ---------------------------------------------------------------------------------------------
// Lines and writers

/// Line `seq` as the tests write it: `{seq:016} {payload}\n`, `len` bytes in all (at least 18).
pub fn line(seq: u64, len: usize) -> Vec<u8> {
    let mut l = format!("{seq:016} ").into_bytes();
    let fill = len.saturating_sub(l.len() + 1).max(1);
    l.extend(std::iter::repeat_n(b'a' + (seq % 26) as u8, fill));
    l.push(b'\n');
    l
}

/// Writes lines `start..start + n` (each `len` bytes) to `path`, appending.
pub fn prefill(path: &Path, start: u64, n: u64, len: usize) {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for prefill");
    let mut w = BufWriter::with_capacity(1 << 20, f);
    for seq in start..start + n {
        w.write_all(&line(seq, len)).unwrap();
    }
    w.flush().unwrap();
}

/// Appends numbered lines through one `O_APPEND` descriptor kept open, like a logger.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    file: File,
    /// The sequence number of the next line.
    pub next: u64,
    pub line_len: usize,
}

impl LogWriter {
    /// Opens (creating) `path` for appending; the first line written is `first_seq`.
    pub fn open(path: &Path, first_seq: u64) -> LogWriter {
        LogWriter {
            path: path.to_owned(),
            file: open_append(path),
            next: first_seq,
            line_len: 64,
        }
    }

    /// Appends `n` lines, in writes of at most 64 KiB (whole lines).
    pub fn write(&mut self, n: u64) {
        let mut buf = Vec::with_capacity(64 * 1024);
        for _ in 0..n {
            buf.extend_from_slice(&line(self.next, self.line_len));
            self.next += 1;
            if buf.len() >= 60 * 1024 {
                self.file.write_all(&buf).unwrap();
                buf.clear();
            }
        }
        self.file.write_all(&buf).unwrap();
    }

    /// Writes the first `cut` bytes of the next line only: a line still being written.
    pub fn write_head(&mut self, cut: usize) {
        let l = line(self.next, self.line_len);
        self.file.write_all(&l[..cut]).unwrap();
    }

    /// Writes the rest of the line begun by [`LogWriter::write_head`].
    pub fn write_tail(&mut self, cut: usize) {
        let l = line(self.next, self.line_len);
        self.file.write_all(&l[cut..]).unwrap();
        self.next += 1;
    }

    /// Appends `n` lines in `chunks` writes spread over about `over` (a steady logger).
    pub fn write_paced(&mut self, n: u64, chunks: u64, over: Duration) {
        let per = n / chunks;
        for i in 0..chunks {
            let count = if i + 1 == chunks { n - per * i } else { per };
            self.write(count);
            std::thread::sleep(over / chunks as u32);
        }
    }

    /// Rotation by rename: moves the file to `to`; this writer keeps its descriptor, so it
    /// still writes to the renamed file until [`LogWriter::reopen`].
    pub fn rename_to(&self, to: &Path) {
        fs::rename(&self.path, to).expect("rename for rotation");
    }

    /// Opens the writer's path again (creating a new file after a rename).
    pub fn reopen(&mut self) {
        self.file = open_append(&self.path);
    }

    /// copytruncate: copies the file to `to`, then truncates it to 0. The writer continues at
    /// the new end, as O_APPEND does.
    pub fn copy_truncate(&self, to: &Path) {
        fs::copy(&self.path, to).expect("copy");
        self.file.set_len(0).expect("truncate");
    }

    /// Truncates the file to 0 (the writer continues at offset 0).
    pub fn truncate(&self) {
        self.file.set_len(0).expect("truncate");
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open_append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append")
}

// ---------------------------------------------------------------------------------------------
// Collector

/// How the collector cuts the stream into lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Newline,
    /// RFC 6587 octet counting: `LEN SP MSG`.
    OctetCounting,
}

#[derive(Debug, Default)]
struct Stats {
    /// How many times each sequence number arrived (saturating).
    counts: Vec<u8>,
    unique: u64,
    duplicates: u64,
    malformed: u64,
    lines: u64,
    /// Every line, without its terminator, when keeping raw lines.
    raw: Vec<Vec<u8>>,
    connections: u64,
}

impl Stats {
    fn record(&mut self, line: &[u8], keep_raw: bool) {
        self.lines += 1;
        if keep_raw {
            self.raw.push(line.to_vec());
        }
        match parse_seq(line) {
            Some(seq) => {
                let seq = seq as usize;
                if seq >= self.counts.len() {
                    self.counts.resize((seq + 1).max(self.counts.len() * 2), 0);
                }
                let c = &mut self.counts[seq];
                if *c == 0 {
                    self.unique += 1;
                } else {
                    self.duplicates += 1;
                }
                *c = c.saturating_add(1);
            }
            None => self.malformed += 1,
        }
    }
}

/// The sequence number of a test line, if it has the `{seq:016} ` prefix.
pub fn parse_seq(line: &[u8]) -> Option<u64> {
    if line.len() < 17 || line[16] != b' ' || !line[..16].iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(&line[..16]).ok()?.parse().ok()
}

#[derive(Debug)]
struct Shared {
    stats: Mutex<Stats>,
    changed: Condvar,
    paused: AtomicBool,
    framing: Framing,
    keep_raw: bool,
}

/// One listening period: the acceptor thread and a flag that ends it and its connections.
#[derive(Debug)]
struct Up {
    stop: Arc<AtomicBool>,
    acceptor: JoinHandle<()>,
}

/// An in-test TCP receiver on 127.0.0.1 that records the lines it gets.
#[derive(Debug)]
pub struct Collector {
    port: u16,
    shared: Arc<Shared>,
    up: Option<Up>,
}

impl Collector {
    /// Listening, newline framing, counting only.
    pub fn start() -> Collector {
        Collector::with(Framing::Newline, false, true)
    }

    /// A collector with a reserved port that is not listening yet (see [`Collector::come_up`]).
    pub fn start_down() -> Collector {
        Collector::with(Framing::Newline, false, false)
    }

    /// `keep_raw`: also keep every line (for byte-exact checks; not for millions of lines).
    pub fn with(framing: Framing, keep_raw: bool, listening: bool) -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind collector");
        let port = listener.local_addr().unwrap().port();
        let mut c = Collector {
            port,
            shared: Arc::new(Shared {
                stats: Mutex::new(Stats::default()),
                changed: Condvar::new(),
                paused: AtomicBool::new(false),
                framing,
                keep_raw,
            }),
            up: None,
        };
        if listening {
            c.up = Some(c.serve(listener));
        }
        c
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn serve(&self, listener: TcpListener) -> Up {
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let shared = self.shared.clone();
        let stop2 = stop.clone();
        let acceptor = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        shared.stats.lock().unwrap().connections += 1;
                        let shared = shared.clone();
                        let stop = stop2.clone();
                        conns.push(std::thread::spawn(move || {
                            read_conn(stream, &shared, &stop)
                        }));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("collector accept: {e}"),
                }
            }
            drop(listener);
            for c in conns {
                let _ = c.join();
            }
        });
        Up { stop, acceptor }
    }

    /// Closes the listener and every connection; returns once they are closed.
    pub fn go_down(&mut self) {
        if let Some(up) = self.up.take() {
            up.stop.store(true, Ordering::Relaxed);
            up.acceptor.join().expect("collector acceptor panicked");
        }
    }

    /// Listens again on the same port.
    pub fn come_up(&mut self) {
        assert!(self.up.is_none(), "collector is already up");
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("collector cannot bind port {} again: {e}", self.port));
        self.up = Some(self.serve(listener));
    }

    /// Stops reading (connections stay open; the agent's writes back up).
    pub fn pause(&self) {
        self.shared.paused.store(true, Ordering::Relaxed);
    }

    pub fn resume(&self) {
        self.shared.paused.store(false, Ordering::Relaxed);
    }

    fn stats<T>(&self, f: impl FnOnce(&Stats) -> T) -> T {
        f(&self.shared.stats.lock().unwrap())
    }

    pub fn unique(&self) -> u64 {
        self.stats(|s| s.unique)
    }
    pub fn duplicates(&self) -> u64 {
        self.stats(|s| s.duplicates)
    }
    pub fn malformed(&self) -> u64 {
        self.stats(|s| s.malformed)
    }
    pub fn lines(&self) -> u64 {
        self.stats(|s| s.lines)
    }
    pub fn connections(&self) -> u64 {
        self.stats(|s| s.connections)
    }
    /// Every line received (only with `keep_raw`).
    pub fn raw(&self) -> Vec<Vec<u8>> {
        self.stats(|s| s.raw.clone())
    }
    /// Whether sequence number `seq` arrived.
    pub fn has(&self, seq: u64) -> bool {
        self.stats(|s| s.counts.get(seq as usize).is_some_and(|&c| c > 0))
    }

    /// The sequence numbers of `range` that never arrived.
    pub fn missing(&self, range: std::ops::Range<u64>) -> Vec<u64> {
        self.stats(|s| {
            range
                .filter(|&q| s.counts.get(q as usize).is_none_or(|&c| c == 0))
                .collect()
        })
    }

    /// Received sequence numbers outside `range`.
    pub fn outside(&self, range: std::ops::Range<u64>) -> Vec<u64> {
        self.stats(|s| {
            (0..s.counts.len() as u64)
                .filter(|q| !range.contains(q) && s.counts[*q as usize] > 0)
                .collect()
        })
    }

    /// Waits until `n` distinct sequence numbers arrived; false after `timeout`.
    pub fn wait_for_unique(&self, n: u64, timeout: Duration) -> bool {
        self.wait_for(timeout, |s| s.unique >= n)
    }

    /// Waits until `n` lines (of any form) arrived; false after `timeout`.
    pub fn wait_for_lines(&self, n: u64, timeout: Duration) -> bool {
        self.wait_for(timeout, |s| s.lines >= n)
    }

    fn wait_for(&self, timeout: Duration, cond: impl Fn(&Stats) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut stats = self.shared.stats.lock().unwrap();
        while !cond(&stats) {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            stats = self
                .shared
                .changed
                .wait_timeout(stats, deadline - now)
                .unwrap()
                .0;
        }
        true
    }

    /// Counts, for failure messages.
    pub fn summary(&self) -> String {
        self.stats(|s| {
            format!(
                "collector: {} lines, {} unique, {} duplicates, {} malformed, {} connections",
                s.lines, s.unique, s.duplicates, s.malformed, s.connections
            )
        })
    }

    /// Waits for `n` distinct sequence numbers; panics with the counts and the agent's stderr.
    pub fn expect_unique(&self, n: u64, timeout: Duration, agent: &Agent) {
        if !self.wait_for_unique(n, timeout) {
            panic!(
                "expected {n} distinct lines within {timeout:?}; {}\n{}",
                self.summary(),
                agent.diagnostics()
            );
        }
    }

    /// Asserts that exactly `0..n` arrived, each once.
    pub fn assert_exactly_once(&self, n: u64, agent: &Agent) {
        let missing = self.missing(0..n);
        let extra = self.outside(0..n);
        let dups = self.duplicates();
        assert!(
            missing.is_empty() && extra.is_empty() && dups == 0 && self.malformed() == 0,
            "expected lines 0..{n} exactly once: {} missing (first {:?}), {} unexpected, {dups} \
             duplicates; {}\n{}",
            missing.len(),
            &missing[..missing.len().min(10)],
            extra.len(),
            self.summary(),
            agent.diagnostics()
        );
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.go_down();
    }
}

fn read_conn(mut stream: TcpStream, shared: &Shared, stop: &AtomicBool) {
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        if shared.paused.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                continue
            }
            Err(_) => break,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut stats = shared.stats.lock().unwrap();
        let used = match shared.framing {
            Framing::Newline => Some(cut_lines(&buf, |l| stats.record(l, shared.keep_raw))),
            Framing::OctetCounting => cut_octets(&buf, |l| stats.record(l, shared.keep_raw)),
        };
        if used.is_none() {
            stats.malformed += 1;
        }
        drop(stats);
        shared.changed.notify_all();
        match used {
            Some(used) => drop(buf.drain(..used)),
            None => break,
        }
    }
}

/// Calls `f` with each whole line of `buf`; returns the bytes used.
fn cut_lines(buf: &[u8], mut f: impl FnMut(&[u8])) -> usize {
    let mut start = 0;
    while let Some(i) = buf[start..].iter().position(|&b| b == b'\n') {
        f(&buf[start..start + i]);
        start += i + 1;
    }
    start
}

/// Calls `f` with each whole `LEN SP MSG` frame's MSG; returns the bytes used, or `None` when
/// the stream does not start with a length prefix (the caller counts it and drops the
/// connection: there is no way to resynchronise).
fn cut_octets(buf: &[u8], mut f: impl FnMut(&[u8])) -> Option<usize> {
    let mut start = 0;
    loop {
        let rest = &buf[start..];
        let Some(sp) = rest.iter().take(20).position(|&b| b == b' ') else {
            return (rest.len() < 20).then_some(start);
        };
        let len: usize = std::str::from_utf8(&rest[..sp]).ok()?.parse().ok()?;
        if rest.len() < sp + 1 + len {
            return Some(start);
        }
        f(&rest[sp + 1..sp + 1 + len]);
        start += sp + 1 + len;
    }
}
