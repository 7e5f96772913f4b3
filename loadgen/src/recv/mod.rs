//! `recv`: accept TCP connections, split frames, account every line and its latency.
//!
//! One thread serves every connection with `poll(2)`: the receiver's job is to be much faster
//! than the agent, and one core reading large chunks (memchr for frame ends, fixed-position parse,
//! a bitmap per stream) goes well past the agent's target. All connections share one read buffer,
//! so memory does not grow with the number of connections; only each connection's partial frame
//! is kept between reads (see [`framing`]).
//!
//! Two ways to run it:
//!
//! * [`run`], the `recv` command: serve on the calling thread until a stop condition holds
//!   (`--expect`, idle, `--max-seconds`) and return the report;
//! * [`RecvHandle::spawn`], for scenarios: serve on a thread of its own, publish live counts and
//!   the latency of each interval ([`RecvHandle::sample`]), stop listening and drop every
//!   connection on demand to play a collector outage ([`RecvHandle::pause`]), and return the
//!   report at [`RecvHandle::finish`].
//!
//! The receive time of a read is taken once per read, before it returns data; a line's latency
//! is therefore measured to the moment its bytes were handed over, not to when it was parsed.

pub mod framing;
pub mod tally;

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::prefill::now_ns;
use crate::report::model::Latency;
use framing::{Connection, Framing};
use tally::{latency_histogram, latency_summary, StreamSummary, Tally};

/// Bytes asked for per `read`.
pub const READ_BYTES: usize = 4 << 20;

/// Settings of one `recv` run.
#[derive(Debug, Clone)]
pub struct RecvConfig {
    pub listen: String,
    pub framing: Framing,
    /// Stop once this many unique lines arrived.
    pub expect: Option<u64>,
    /// Stop when no byte arrived for this long (counted from the first byte on).
    pub idle_timeout: Option<Duration>,
    /// Stop this long after start, whatever happens.
    pub max_time: Option<Duration>,
    /// Print progress to stderr this often.
    pub report_every: Option<Duration>,
    /// Longest frame body accepted (longer ones are malformed).
    pub max_frame: usize,
    /// When not 0, each connection's `SO_RCVLOWAT`: the kernel wakes the receiver only once
    /// this many bytes wait (what is left below it is swept up every [`LOWAT_SWEEP`]). For
    /// throughput runs on loopback, where every wake-up of the receiver is paid inside the
    /// sender's `send`; it delays data by up to [`LOWAT_SWEEP`], so not for latency.
    pub rcvlowat: usize,
}

/// The JSON line `recv` prints.
#[derive(Debug, Serialize)]
pub struct RecvReport {
    /// Lines that parsed, duplicates included.
    pub lines: u64,
    pub unique: u64,
    /// Bytes read from all connections (frames, framing and junk alike).
    pub bytes: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub malformed: u64,
    /// Unique lines whose send time was later than their receive time (recorded as 0 latency).
    pub clock_skew: u64,
    /// End-to-end latency of the unique lines (receive time minus the send time in the line);
    /// `None` when no line arrived.
    pub latency: Option<Latency>,
    /// From the first byte to the last byte.
    pub seconds: f64,
    pub events_per_sec: f64,
    /// Megabytes (10^6 bytes) per second.
    pub mb_per_sec: f64,
    pub connections: u64,
    /// CPU time (user + system) of the receiving thread, from its start to the report: what
    /// receiving these bytes cost, to compare with the sender's.
    pub cpu_seconds: f64,
    /// Why the receiver stopped: `expect`, `idle`, `max_seconds`, or `finish` (in-process).
    pub stopped_by: &'static str,
    pub streams: std::collections::BTreeMap<String, StreamSummary>,
}

/// How often the serving thread wakes up at the latest, and publishes live counts when a
/// [`RecvHandle`] watches it.
const TICK: Duration = Duration::from_millis(50);

/// With [`RecvConfig::rcvlowat`], how often every connection is read whatever it holds: the
/// bytes below the low-water mark at the end of a burst would otherwise wait for more.
pub const LOWAT_SWEEP: Duration = Duration::from_millis(1);

/// Binds, prints `listening on ADDR` to stderr, and receives until a stop condition holds.
pub fn run(cfg: &RecvConfig) -> Result<RecvReport> {
    let listener = bind(&cfg.listen)?;
    eprintln!("listening on {}", listener.local_addr()?);
    Receiver::new(cfg, listener, None).serve()
}

fn bind(addr: &str) -> Result<TcpListener> {
    let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Counts published by a receiver running under a [`RecvHandle`].
#[derive(Debug, Clone)]
pub struct LiveCounts {
    pub lines: u64,
    pub unique: u64,
    pub bytes: u64,
    pub malformed: u64,
    /// Connections accepted so far.
    pub connections: u64,
    pub open_connections: usize,
    /// Whether the receiver is currently refusing connections ([`RecvHandle::pause`]).
    pub paused: bool,
}

/// What [`RecvHandle::sample`] returns: the counts so far and the latencies since the last sample.
#[derive(Debug)]
pub struct LiveSample {
    pub counts: LiveCounts,
    /// Latency of the unique lines received since the previous sample, in microseconds.
    pub interval: Histogram<u64>,
}

/// State shared between a [`RecvHandle`] and its serving thread.
#[derive(Debug)]
struct Shared {
    stop: AtomicBool,
    pause: AtomicBool,
    live: Mutex<LiveSample>,
}

/// A receiver serving on its own thread; see the module docs.
#[derive(Debug)]
pub struct RecvHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: JoinHandle<Result<RecvReport>>,
}

impl RecvHandle {
    /// Binds `cfg.listen` (on this thread, so a bad address is reported here) and starts serving.
    /// The stop conditions of `cfg` still apply; [`RecvHandle::finish`] stops it in any case.
    pub fn spawn(cfg: RecvConfig) -> Result<RecvHandle> {
        let listener = bind(&cfg.listen)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            pause: AtomicBool::new(false),
            live: Mutex::new(LiveSample {
                counts: LiveCounts {
                    lines: 0,
                    unique: 0,
                    bytes: 0,
                    malformed: 0,
                    connections: 0,
                    open_connections: 0,
                    paused: false,
                },
                interval: latency_histogram(3),
            }),
        });
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("recv".into())
            .spawn(move || Receiver::new(&cfg, listener, Some(theirs)).serve())
            .context("cannot start the receiver thread")?;
        Ok(RecvHandle {
            addr,
            shared,
            thread,
        })
    }

    /// The address it listens on (the real port when port 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counts so far and the latencies received since the previous call (at most
    /// [`TICK`] old).
    pub fn sample(&self) -> LiveSample {
        let mut live = self
            .shared
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let interval = std::mem::replace(&mut live.interval, latency_histogram(3));
        LiveSample {
            counts: live.counts.clone(),
            interval,
        }
    }

    /// The counts so far (at most [`TICK`] old), leaving the interval's latencies for
    /// [`RecvHandle::sample`].
    pub fn counts(&self) -> LiveCounts {
        let live = self
            .shared
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        live.counts.clone()
    }

    /// Closes the listening socket and every connection, as a collector that went down; until
    /// [`RecvHandle::resume`], connection attempts are refused.
    pub fn pause(&self) {
        self.shared.pause.store(true, Ordering::Relaxed);
    }

    /// Listens again on the same address.
    pub fn resume(&self) {
        self.shared.pause.store(false, Ordering::Relaxed);
    }

    /// Stops serving and returns the report. Frames still partial on open connections are not
    /// counted (they may yet have completed).
    pub fn finish(self) -> Result<RecvReport> {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| anyhow!("the receiver thread panicked"))?
    }
}

struct Peer {
    socket: TcpStream,
    conn: Connection,
}

/// What one read from a peer found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadOutcome {
    Data,
    /// Nothing to read now.
    Nothing,
    /// The peer closed (or failed) and was removed.
    Closed,
}

struct Receiver<'a> {
    cfg: &'a RecvConfig,
    /// `None` while paused.
    listener: Option<TcpListener>,
    addr: SocketAddr,
    control: Option<Arc<Shared>>,
    tally: Tally,
    /// Latency of every unique line so far, microseconds, 3 significant digits.
    latency: Histogram<u64>,
    /// The last interval's latencies on their way to `latency` and the shared state.
    scratch: Histogram<u64>,
    next_publish: Instant,
    peers: Vec<Peer>,
    buf: Vec<u8>,
    bytes: u64,
    connections: u64,
    started: Instant,
    first_byte: Option<Instant>,
    last_byte: Instant,
}

impl<'a> Receiver<'a> {
    fn new(cfg: &'a RecvConfig, listener: TcpListener, control: Option<Arc<Shared>>) -> Self {
        let now = Instant::now();
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        Receiver {
            cfg,
            listener: Some(listener),
            addr,
            control,
            tally: Tally::new(),
            latency: latency_histogram(3),
            scratch: latency_histogram(3),
            next_publish: now,
            peers: Vec::new(),
            buf: vec![0; Connection::carry_capacity(cfg.max_frame) + READ_BYTES],
            bytes: 0,
            connections: 0,
            started: now,
            first_byte: None,
            last_byte: now,
        }
    }

    fn serve(mut self) -> Result<RecvReport> {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut next_report = self.cfg.report_every.map(|d| (self.started + d, d));
        let mut last_progress = (self.started, 0u64, 0u64);
        let mut next_sweep = (self.cfg.rcvlowat > 0).then(|| self.started + LOWAT_SWEEP);
        let stopped_by = loop {
            let now = Instant::now();
            if let Some(stop) = self.stop_reason(now) {
                break stop;
            }
            if let Some((at, every)) = next_report {
                if now >= at {
                    last_progress = self.progress(now, last_progress);
                    next_report = Some((at + every, every));
                }
            }
            self.follow_pause();
            self.publish(now);

            fds.clear();
            // While paused there is no listener: poll then only sleeps until the next tick.
            let listening = self.listener.as_ref().map(|l| pollfd(l.as_raw_fd()));
            fds.extend(self.peers.iter().map(|p| pollfd(p.socket.as_raw_fd())));
            fds.extend(listening);
            let timeout = self.poll_timeout(now, next_report.map(|(at, _)| at), next_sweep);
            // SAFETY: `fds` is a valid, initialised slice of pollfd for the duration of the call
            // and its length is passed alongside; poll only writes the `revents` fields.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err).context("poll failed");
            }
            // Below the low-water mark poll reports nothing: read every peer now and then.
            let sweep = next_sweep.is_some_and(|at| Instant::now() >= at);
            if sweep {
                next_sweep = Some(Instant::now() + LOWAT_SWEEP);
            }
            // Peers first, while `fds[..peers]` still lines up with `self.peers`; backwards so
            // that removing a closed peer (swap_remove) only moves one already visited.
            for i in (0..self.peers.len()).rev() {
                if fds[i].revents != 0 || sweep {
                    self.read_peer(i);
                }
            }
            if listening.is_some() && fds.last().is_some_and(|l| l.revents != 0) {
                self.accept()?;
            }
        };
        Ok(self.report(stopped_by))
    }

    fn stop_reason(&self, now: Instant) -> Option<&'static str> {
        if matches!(&self.control, Some(c) if c.stop.load(Ordering::Relaxed)) {
            return Some("finish");
        }
        if matches!(self.cfg.expect, Some(n) if self.tally.unique >= n) {
            return Some("expect");
        }
        if matches!((self.first_byte, self.cfg.idle_timeout), (Some(_), Some(idle)) if now >= self.last_byte + idle)
        {
            return Some("idle");
        }
        if matches!(self.cfg.max_time, Some(max) if now >= self.started + max) {
            return Some("max_seconds");
        }
        None
    }

    /// Under a handle: drops the listener and every connection when asked to pause, listens
    /// again when asked to resume.
    fn follow_pause(&mut self) {
        let Some(control) = &self.control else { return };
        let pause = control.pause.load(Ordering::Relaxed);
        if pause && self.listener.is_some() {
            // A clean stop: accept nothing more, read what the connections already delivered,
            // then close them. (A crash would discard the unread bytes in the socket buffers,
            // which an agent without delivery acknowledgements cannot know about.)
            self.listener = None;
            for i in (0..self.peers.len()).rev() {
                while self.read_peer(i) == ReadOutcome::Data {}
            }
            for mut peer in self.peers.drain(..) {
                peer.conn.close(&mut self.tally);
            }
        } else if !pause && self.listener.is_none() {
            // The port was ours a moment ago; if something else took it, try again next tick.
            self.listener = bind(&self.addr.to_string()).ok();
        }
    }

    /// Once per [`TICK`] (and at the end): adds the interval's latencies to the run's total and,
    /// under a handle, moves them and the counts to the shared state.
    fn publish(&mut self, now: Instant) {
        if now < self.next_publish {
            return;
        }
        self.next_publish = now + TICK;
        self.tally.take_interval(&mut self.scratch);
        // Histograms made by `latency_histogram` share their bounds, so adding cannot fail.
        let _ = self.latency.add(&self.scratch);
        let Some(control) = &self.control else {
            self.scratch.reset();
            return;
        };
        let mut live = control.live.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = live.interval.add(&self.scratch);
        self.scratch.reset();
        live.counts = LiveCounts {
            lines: self.tally.lines,
            unique: self.tally.unique,
            bytes: self.bytes,
            malformed: self.tally.malformed,
            connections: self.connections,
            open_connections: self.peers.len(),
            paused: self.listener.is_none(),
        };
    }

    /// Milliseconds until the nearest deadline (idle, max time, progress report, sweep, tick).
    fn poll_timeout(
        &self,
        now: Instant,
        report_at: Option<Instant>,
        sweep_at: Option<Instant>,
    ) -> libc::c_int {
        let idle = self.first_byte.and(self.cfg.idle_timeout);
        let deadlines = [
            idle.map(|idle| self.last_byte + idle),
            self.cfg.max_time.map(|m| self.started + m),
            report_at,
            sweep_at,
            Some(now + TICK),
        ];
        let at = deadlines.into_iter().flatten().min().unwrap_or(now + TICK);
        let wait = at.saturating_duration_since(now);
        // Round up so that we do not spin on a deadline a fraction of a ms away.
        wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
    }

    fn accept(&mut self) -> Result<()> {
        let Some(listener) = &self.listener else {
            return Ok(());
        };
        loop {
            match listener.accept() {
                Ok((socket, _)) => {
                    socket.set_nonblocking(true)?;
                    if self.cfg.rcvlowat > 0 {
                        set_rcvlowat(&socket, self.cfg.rcvlowat)
                            .context("setting SO_RCVLOWAT (--rcvlowat)")?;
                    }
                    self.connections += 1;
                    self.peers.push(Peer {
                        socket,
                        conn: Connection::new(self.cfg.framing, self.cfg.max_frame),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A connection that failed before we took it (e.g. reset): not ours to count.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => return Err(e).context("accept failed"),
            }
        }
    }

    /// One read from peer `i`; frames go to the tally, a closed peer is removed.
    fn read_peer(&mut self, i: usize) -> ReadOutcome {
        let at = Connection::carry_capacity(self.cfg.max_frame);
        let before = Instant::now();
        match self.peers[i].socket.read(&mut self.buf[at..]) {
            Ok(n) if n > 0 => {
                self.first_byte.get_or_insert(before);
                self.last_byte = Instant::now();
                self.bytes += n as u64;
                self.tally.set_clock(now_ns());
                let conn = &mut self.peers[i].conn;
                let start = conn.prepend_pending(&mut self.buf, at);
                conn.consume(&self.buf[start..at + n], &mut self.tally);
                ReadOutcome::Data
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => ReadOutcome::Data,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => ReadOutcome::Nothing,
            // EOF or a reset: nothing more comes on this connection, and a new one never
            // continues its partial frame.
            Ok(_) | Err(_) => {
                let mut peer = self.peers.swap_remove(i);
                peer.conn.close(&mut self.tally);
                ReadOutcome::Closed
            }
        }
    }

    /// Prints a progress line to stderr; returns the new reference point.
    fn progress(&self, now: Instant, last: (Instant, u64, u64)) -> (Instant, u64, u64) {
        let (t0, lines0, bytes0) = last;
        let dt = now.duration_since(t0).as_secs_f64().max(1e-9);
        eprintln!(
            "{{\"progress_seconds\":{:.3},\"lines\":{},\"unique\":{},\"bytes\":{},\"malformed\":{},\
             \"open_connections\":{},\"events_per_sec\":{:.0},\"mb_per_sec\":{:.1}}}",
            now.duration_since(self.started).as_secs_f64(),
            self.tally.lines,
            self.tally.unique,
            self.bytes,
            self.tally.malformed,
            self.peers.len(),
            (self.tally.lines - lines0) as f64 / dt,
            (self.bytes - bytes0) as f64 / dt / 1e6,
        );
        (now, self.tally.lines, self.bytes)
    }

    fn report(mut self, stopped_by: &'static str) -> RecvReport {
        // Anything still open at the stop keeps its partial frame: it may yet complete, so it is
        // neither a line nor malformed. Drop the sockets before summarising.
        self.peers.clear();
        self.next_publish = self.started;
        self.publish(Instant::now());
        let s = self.tally.summary(self.cfg.expect);
        let seconds = self.first_byte.map_or(0.0, |first| {
            self.last_byte.duration_since(first).as_secs_f64()
        });
        let rate = |x: u64| {
            if seconds > 0.0 {
                x as f64 / seconds
            } else {
                0.0
            }
        };
        RecvReport {
            lines: s.lines,
            unique: s.unique,
            bytes: self.bytes,
            missing: s.missing,
            duplicates: s.duplicates,
            out_of_order: s.out_of_order,
            malformed: s.malformed,
            clock_skew: self.tally.clock_skew,
            latency: latency_summary(&self.latency),
            seconds,
            events_per_sec: rate(s.lines),
            mb_per_sec: rate(self.bytes) / 1e6,
            connections: self.connections,
            cpu_seconds: thread_cpu_seconds(),
            stopped_by,
            streams: s.streams,
        }
    }
}

/// User plus system CPU time of the calling thread.
fn thread_cpu_seconds() -> f64 {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a live, writable rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Asks the kernel to report `socket` readable only once `bytes` wait (Linux caps it at half
/// the receive buffer, which it grows to fit).
fn set_rcvlowat(socket: &TcpStream, bytes: usize) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: the socket is open; the option value is a live c_int whose size is passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn pollfd(fd: libc::c_int) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}
