//! `recv`: accept TCP connections, split frames, account every line, print one JSON report.
//!
//! One thread serves every connection with `poll(2)`: the receiver's job is to be much faster
//! than the agent, and one core reading large chunks (memchr for frame ends, fixed-position parse,
//! a bitmap per stream) goes well past the agent's target. All connections share one read buffer,
//! so memory does not grow with the number of connections; only each connection's partial frame
//! is kept between reads (see [`framing`]).

pub mod framing;
pub mod tally;

use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use framing::{Connection, Framing};
use tally::{StreamSummary, Tally};

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
    pub idle_timeout: Duration,
    /// Stop this long after start, whatever happens.
    pub max_time: Option<Duration>,
    /// Print progress to stderr this often.
    pub report_every: Option<Duration>,
    /// Longest frame body accepted (longer ones are malformed).
    pub max_frame: usize,
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
    /// From the first byte to the last byte.
    pub seconds: f64,
    pub events_per_sec: f64,
    /// Megabytes (10^6 bytes) per second.
    pub mb_per_sec: f64,
    pub connections: u64,
    /// Why the receiver stopped: `expect`, `idle`, or `max_seconds`.
    pub stopped_by: &'static str,
    pub streams: std::collections::BTreeMap<String, StreamSummary>,
}

struct Peer {
    socket: TcpStream,
    conn: Connection,
}

/// Binds, prints `listening on ADDR` to stderr, and receives until a stop condition holds.
pub fn run(cfg: &RecvConfig) -> Result<RecvReport> {
    let listener = TcpListener::bind(&cfg.listen)
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    listener.set_nonblocking(true)?;
    eprintln!("listening on {}", listener.local_addr()?);
    Receiver::new(cfg).serve(&listener)
}

struct Receiver<'a> {
    cfg: &'a RecvConfig,
    tally: Tally,
    peers: Vec<Peer>,
    buf: Vec<u8>,
    bytes: u64,
    connections: u64,
    started: Instant,
    first_byte: Option<Instant>,
    last_byte: Instant,
}

impl<'a> Receiver<'a> {
    fn new(cfg: &'a RecvConfig) -> Self {
        let now = Instant::now();
        Receiver {
            cfg,
            tally: Tally::new(),
            peers: Vec::new(),
            buf: vec![0; Connection::carry_capacity(cfg.max_frame) + READ_BYTES],
            bytes: 0,
            connections: 0,
            started: now,
            first_byte: None,
            last_byte: now,
        }
    }

    fn serve(mut self, listener: &TcpListener) -> Result<RecvReport> {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut next_report = self.cfg.report_every.map(|d| (self.started + d, d));
        let mut last_progress = (self.started, 0u64, 0u64);
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

            fds.clear();
            fds.push(pollfd(listener.as_raw_fd()));
            fds.extend(self.peers.iter().map(|p| pollfd(p.socket.as_raw_fd())));
            let timeout = self.poll_timeout(now, next_report.map(|(at, _)| at));
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
            // Peers first, while `fds[1..]` still lines up with `self.peers`; backwards so that
            // removing a closed peer (swap_remove) only moves one already visited.
            for i in (0..fds.len() - 1).rev() {
                if fds[i + 1].revents != 0 {
                    self.read_peer(i);
                }
            }
            if fds[0].revents != 0 {
                self.accept(listener)?;
            }
        };
        Ok(self.report(stopped_by))
    }

    fn stop_reason(&self, now: Instant) -> Option<&'static str> {
        if matches!(self.cfg.expect, Some(n) if self.tally.unique >= n) {
            return Some("expect");
        }
        if self.first_byte.is_some() && now >= self.last_byte + self.cfg.idle_timeout {
            return Some("idle");
        }
        if matches!(self.cfg.max_time, Some(max) if now >= self.started + max) {
            return Some("max_seconds");
        }
        None
    }

    /// Milliseconds until the nearest deadline (idle, max time, progress report), -1 for none.
    fn poll_timeout(&self, now: Instant, report_at: Option<Instant>) -> libc::c_int {
        let deadlines = [
            self.first_byte
                .map(|_| self.last_byte + self.cfg.idle_timeout),
            self.cfg.max_time.map(|m| self.started + m),
            report_at,
        ];
        match deadlines.into_iter().flatten().min() {
            None => -1,
            Some(at) => {
                let wait = at.saturating_duration_since(now);
                // Round up so that we do not spin on a deadline a fraction of a ms away.
                wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
            }
        }
    }

    fn accept(&mut self, listener: &TcpListener) -> Result<()> {
        loop {
            match listener.accept() {
                Ok((socket, _)) => {
                    socket.set_nonblocking(true)?;
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
    fn read_peer(&mut self, i: usize) {
        let at = Connection::carry_capacity(self.cfg.max_frame);
        let before = Instant::now();
        match self.peers[i].socket.read(&mut self.buf[at..]) {
            Ok(n) if n > 0 => {
                self.first_byte.get_or_insert(before);
                self.last_byte = Instant::now();
                self.bytes += n as u64;
                let conn = &mut self.peers[i].conn;
                let start = conn.prepend_pending(&mut self.buf, at);
                conn.consume(&self.buf[start..at + n], &mut self.tally);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            // EOF or a reset: nothing more comes on this connection, and a new one never
            // continues its partial frame.
            Ok(_) | Err(_) => {
                let mut peer = self.peers.swap_remove(i);
                peer.conn.close(&mut self.tally);
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
            seconds,
            events_per_sec: rate(s.lines),
            mb_per_sec: rate(self.bytes) / 1e6,
            connections: self.connections,
            stopped_by,
            streams: s.streams,
        }
    }
}

fn pollfd(fd: libc::c_int) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}
