//! `send` without `--file`: generated numbered lines over one or more TCP connections, at a
//! steady rate or as fast as possible, newline-framed or octet-counted (RFC 6587).
//!
//! This is the load of an agent's syslog/TCP source. Connection `c` carries stream
//! `first_stream + c` with sequence numbers from 0. Connections are opened before the first line
//! (a refused connect is retried for [`CONNECT_FOR`], so the sender may start before the agent
//! listens), written to with blocking `write`s in turn, and closed for writing at the end so the
//! receiver sees each stream end.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use super::driver::{self, Plan, Target};
use super::file::DEFAULT_TICK;
use super::pool::LinePool;
use super::{Counters, GenReport, LineSizes, Rate};
use crate::recv::framing::Framing;

/// How long a refused connect is retried.
pub const CONNECT_FOR: Duration = Duration::from_secs(5);
/// Pause between connect attempts.
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// A TCP load: where, how many connections, how framed, how fast, what lines, for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpLoad {
    /// `host:port` to connect to.
    pub addr: String,
    /// Number of connections, one stream each.
    pub connections: usize,
    pub framing: Framing,
    /// Lines per second over all connections.
    pub rate: Rate,
    pub sizes: LineSizes,
    /// Stop after exactly this many lines in total.
    pub lines: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Pacing granularity at a fixed rate.
    pub tick: Duration,
    /// Stream id of connection 0; connection `c` gets `first_stream + c`.
    pub first_stream: u16,
    /// Seed of the line sizes and bodies.
    pub seed: u64,
}

impl TcpLoad {
    /// One newline-framed connection to `addr`, 128-byte lines as fast as possible, no limit.
    pub fn new(addr: impl Into<String>) -> TcpLoad {
        TcpLoad {
            addr: addr.into(),
            connections: 1,
            framing: Framing::Newline,
            rate: Rate::Max,
            sizes: LineSizes::Fixed(128),
            lines: None,
            duration: None,
            tick: DEFAULT_TICK,
            first_stream: 0,
            seed: 0,
        }
    }

    fn plan(&self) -> Plan {
        Plan {
            rate: self.rate,
            tick: self.tick,
            lines: self.lines,
            duration: self.duration,
            first_stream: self.first_stream,
            seed: self.seed,
        }
    }

    /// Checks the config (not the address, which [`send_lines`] resolves); errors name the field.
    pub fn check(&self) -> Result<()> {
        self.plan().check(self.connections, "connections")?;
        self.sizes.check()
    }
}

/// Connects, sends the load (see the module docs) until `cfg.lines` are sent, `cfg.duration` has
/// passed, or `stop` is set, and closes the connections; `counters` follow it live.
pub fn send_lines(cfg: &TcpLoad, counters: &Counters, stop: &AtomicBool) -> Result<GenReport> {
    cfg.check()?;
    let addrs: Vec<SocketAddr> = cfg
        .addr
        .to_socket_addrs()
        .with_context(|| format!("addr: cannot resolve {:?}", cfg.addr))?
        .collect();
    let mut conns = (0..cfg.connections)
        .map(|index| {
            Ok(Connection {
                socket: connect(&cfg.addr, &addrs, stop)?,
                addr: &cfg.addr,
                index,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut pool = LinePool::new(&cfg.sizes, cfg.framing, cfg.seed);
    let report = driver::drive(&mut conns, &mut pool, &cfg.plan(), counters, stop)?;
    for c in &conns {
        // The peer may have closed already; everything was written, so that is not an error.
        let _ = c.socket.shutdown(Shutdown::Write);
    }
    Ok(report)
}

/// Connects to one of `addrs`, retrying refusals for [`CONNECT_FOR`] (or until `stop`).
fn connect(name: &str, addrs: &[SocketAddr], stop: &AtomicBool) -> Result<TcpStream> {
    let started = Instant::now();
    loop {
        let err = match TcpStream::connect(addrs) {
            Ok(socket) => {
                // Paced batches are small: send each at once, it carries its own timestamp.
                socket
                    .set_nodelay(true)
                    .with_context(|| format!("setting TCP_NODELAY on the connection to {name}"))?;
                return Ok(socket);
            }
            Err(e) => e,
        };
        if started.elapsed() >= CONNECT_FOR || stop.load(Relaxed) {
            return Err(anyhow!(err).context(format!(
                "cannot connect to {name} (tried for {} s)",
                started.elapsed().as_secs()
            )));
        }
        std::thread::sleep(RETRY_EVERY);
    }
}

/// One connection being written.
struct Connection<'a> {
    socket: TcpStream,
    addr: &'a str,
    index: usize,
}

impl Target for Connection<'_> {
    fn put(&mut self, frames: &[u8], _: &Counters) -> Result<()> {
        self.socket.write_all(frames).map_err(|e: io::Error| {
            anyhow!(e).context(format!(
                "sending to {} on connection {}",
                self.addr, self.index
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    #[test]
    fn sends_to_a_listener_and_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut cfg = TcpLoad::new(listener.local_addr().unwrap().to_string());
        cfg.lines = Some(1000);
        cfg.sizes = LineSizes::Fixed(64);
        let reader = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut data = Vec::new();
            s.read_to_end(&mut data).unwrap();
            data
        });
        let counters = Counters::default();
        let r = send_lines(&cfg, &counters, &AtomicBool::new(false)).unwrap();
        assert_eq!((r.lines, r.bytes, r.targets), (1000, 64_000, 1));
        let data = reader.join().unwrap();
        assert_eq!(data.len(), 64_000, "all of it, then end of stream");
    }

    #[test]
    fn a_refused_connect_gives_up_with_the_address() {
        // A port that was free a moment ago; a set stop flag ends the retries at once.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cfg = TcpLoad::new(format!("127.0.0.1:{port}"));
        cfg.lines = Some(1);
        let err = send_lines(&cfg, &Counters::default(), &AtomicBool::new(true))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("cannot connect to 127.0.0.1:{port}")),
            "{err}"
        );
    }

    #[test]
    fn bad_configs_name_the_field() {
        let mut cfg = TcpLoad::new("127.0.0.1:1");
        cfg.connections = 0;
        let err = send_lines(&cfg, &Counters::default(), &AtomicBool::new(false)).unwrap_err();
        assert!(err.to_string().starts_with("connections: "), "{err}");
        let mut cfg = TcpLoad::new("127.0.0.1");
        cfg.lines = Some(1);
        let err = send_lines(&cfg, &Counters::default(), &AtomicBool::new(false)).unwrap_err();
        assert!(err.to_string().starts_with("addr: "), "{err}");
    }
}
