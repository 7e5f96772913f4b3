//! The in-test TCP collector that records the numbered lines it gets.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// Collector

/// How the collector cuts the stream into lines: the load generator's receiver's framings.
pub use spate_loadgen::recv::framing::Framing;
use spate_loadgen::recv::framing::{Connection, Frames};

#[derive(Debug, Default)]
struct Stats {
    /// How many times each sequence number arrived (saturating).
    counts: Vec<u8>,
    unique: u64,
    duplicates: u64,
    malformed: u64,
    /// Partial lines left by a closed connection (an agent killed mid-write).
    cut_short: u64,
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
                "collector: {} lines, {} unique, {} duplicates, {} malformed, {} cut short by a \
                 closed connection, {} connections",
                s.lines, s.unique, s.duplicates, s.malformed, s.cut_short, s.connections
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

/// Longest line the collector takes whole; longer ones count as malformed (the agent's own
/// limit, `maxLineLength`, is 1 MiB by default).
const MAX_FRAME: usize = 16 << 20;

fn read_conn(mut stream: TcpStream, shared: &Shared, stop: &AtomicBool) {
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    // Cut into frames by the load generator's receiver: the partial frame of a read is carried
    // in front of the next.
    let mut conn = Connection::new(shared.framing, MAX_FRAME);
    let at = Connection::carry_capacity(MAX_FRAME);
    let mut buf = vec![0u8; at + 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        if shared.paused.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let n = match stream.read(&mut buf[at..]) {
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
        let start = conn.prepend_pending(&mut buf, at);
        let mut stats = shared.stats.lock().unwrap();
        conn.consume(
            &buf[start..at + n],
            &mut Recorder(&mut stats, shared.keep_raw),
        );
        drop(stats);
        shared.changed.notify_all();
    }
    conn.close(&mut Recorder(
        &mut shared.stats.lock().unwrap(),
        shared.keep_raw,
    ));
    shared.changed.notify_all();
}

/// The collector's stats as the receiver's frame sink.
struct Recorder<'a>(&'a mut Stats, bool);

impl Frames for Recorder<'_> {
    fn frames<'b>(&mut self, frames: impl Iterator<Item = (&'b [u8], usize)>) {
        for (line, _) in frames {
            self.0.record(line, self.1);
        }
    }

    fn malformed(&mut self) {
        self.0.malformed += 1;
    }

    fn cut_short(&mut self) {
        self.0.cut_short += 1;
    }
}
