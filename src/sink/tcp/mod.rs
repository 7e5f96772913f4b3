//! spate's `tcp` sink: ships event bodies over TCP, newline-framed or octet-counted (RFC 6587).
//!
//! With newline framing, a batch read from a file is written as it lies in the read buffer: one
//! `writev` covers every batch of the take, no byte is copied. Octet counting needs a length
//! before each body, so it frames the take into one reusable buffer first (one copy per take).
//!
//! A take is committed once `writev` has handed all its bytes to the kernel. When the connection
//! fails, the sink reconnects with a back-off doubling from 100 ms to `max-backoff` and writes
//! the whole take again: the collector may see duplicates of that take. Before writing after an
//! idle pause the sink checks whether the collector closed the connection meanwhile, because the
//! first write into a closed connection would succeed locally and be lost.
//!
//! What plain TCP cannot guarantee: takes committed before a failure may still have been in the
//! connection's buffers, and a collector that crashes (or is killed while hung) loses them. The
//! sink counts the bytes its kernel still held unacknowledged at the failure
//! (`BytesUnconfirmedCount`) and says so; what the collector's kernel had acknowledged but the
//! collector never read cannot be known at all. An acknowledged protocol (Flume's avro sink) is
//! the cure. A collector that stops answering is found within `request-timeout`: writes that
//! make no progress time out, and the kernel gives up on unacknowledged data and probes idle
//! connections (`TCP_USER_TIMEOUT`, keepalive) within the same time.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tracing::{debug, info, warn};

mod config;

pub use self::config::{parse, Framing, TcpSinkConfig};

use super::{Backoff, Deliver};
use crate::event::{Batch, Layout};
use crate::metrics::SinkCounters;
use crate::runtime::io::TcpConn;
use crate::runtime::Backend;

/// Resolves `host:port`: an IP literal at once, a name on a helper thread within `timeout`.
pub(crate) async fn resolve(host: &str, port: u16, timeout: Duration) -> io::Result<SocketAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let name = host.to_owned();
    std::thread::Builder::new()
        .name("spate-resolve".into())
        .spawn(move || {
            let found = (name.as_str(), port)
                .to_socket_addrs()
                .and_then(|mut addrs| {
                    addrs.next().ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::NotFound,
                            format!("{name} resolves to no address"),
                        )
                    })
                });
            // The sink may have given up waiting; then nobody needs the answer.
            let _ = tx.send(found);
        })?;
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(found)) => found,
        Ok(Err(_)) => Err(io::Error::other(
            "the resolver thread ended without an answer",
        )),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("resolving {host} took longer than {timeout:?}"),
        )),
    }
}

/// Delivers batches to one TCP endpoint.
#[derive(Debug)]
pub struct TcpSink {
    config: TcpSinkConfig,
    backend: Backend,
    counters: Arc<SinkCounters>,
    conn: Option<TcpConn>,
    /// The sink waited on an empty channel since the last write.
    was_idle: bool,
    /// Its channel's sources share its worker, so it may hold writes back for the batch they
    /// announce (see [`TcpSink::holding_back_for`]).
    may_hold_back: bool,
    /// The last write let the kernel hold its tail back (`MSG_MORE`) for the batch its source
    /// said was ready; sent by [`Deliver::idle`] if that batch does not come.
    held_back: bool,
    backoff: Backoff,
    /// Buffers of the write in progress.
    bufs: Vec<Bytes>,
    /// Where framed copies are built (octet counting, and bodies that are not plain lines).
    framed: BytesMut,
}

impl TcpSink {
    /// A sink for `config`; it connects on first delivery.
    pub fn new(config: TcpSinkConfig, backend: Backend, counters: Arc<SinkCounters>) -> Self {
        TcpSink {
            backoff: Backoff::new(config.max_backoff),
            config,
            backend,
            counters,
            conn: None,
            was_idle: false,
            may_hold_back: false,
            held_back: false,
            bufs: Vec::new(),
            framed: BytesMut::new(),
        }
    }

    /// Lets the sink write a batch whose source announced the next one
    /// ([`Batch::more_ready`]) with `MSG_MORE`, to be continued by that batch's write. Only
    /// for a sink on the worker of every source of its channel: the announced batch then comes
    /// within one turn of the scheduler. From another core it would come too late as a rule,
    /// and the held-back tail would cost a flush and gain nothing.
    pub fn holding_back_for(mut self, sources_on_this_worker: bool) -> Self {
        self.may_hold_back = sources_on_this_worker;
        self
    }

    /// The collector's address. A host name is looked up on a short-lived thread of its own,
    /// because `getaddrinfo` blocks (a slow DNS server would otherwise stall every source and sink
    /// of this worker), and the wait is bounded by `connect-timeout`.
    async fn resolve(&self) -> io::Result<SocketAddr> {
        resolve(
            &self.config.hostname,
            self.config.port,
            self.config.connect_timeout,
        )
        .await
    }

    async fn connect(&mut self) -> io::Result<()> {
        let attempt = async {
            let addr = self.resolve().await?;
            TcpConn::connect(addr, self.backend, self.config.connect_timeout).await
        };
        match attempt.await {
            Ok(conn) => {
                self.counters.connection_created.add(1);
                if let Err(e) = conn.set_dead_peer_timeout(self.config.request_timeout) {
                    warn!("cannot set TCP_USER_TIMEOUT and keepalive: {e}; a collector that stops answering is found by write timeouts only");
                }
                info!(host = %self.config.hostname, port = self.config.port, "connected");
                self.conn = Some(conn);
                Ok(())
            }
            Err(e) => {
                self.counters.connection_failed.add(1);
                Err(io::Error::new(
                    e.kind(),
                    format!(
                        "connect to {}:{}: {e}",
                        self.config.hostname, self.config.port
                    ),
                ))
            }
        }
    }

    fn close(&mut self) {
        if self.conn.take().is_some() {
            self.counters.connection_closed.add(1);
        }
    }

    /// Closes a connection that failed or that the collector closed, counting and telling what
    /// the collector may not have received.
    fn lost(&mut self, why: &str) {
        let unconfirmed = self
            .conn
            .as_ref()
            .and_then(TcpConn::unacknowledged)
            .unwrap_or(0);
        self.counters.bytes_unconfirmed.add(unconfirmed);
        warn!(
            host = %self.config.hostname,
            port = self.config.port,
            unconfirmed_bytes = unconfirmed,
            "connection lost ({why}): {unconfirmed} bytes written were not acknowledged by the \
             collector's TCP. The take being written is sent again; lines of takes already \
             committed that the collector had not read are lost if it crashed, and plain TCP \
             cannot say how many (an acknowledged hop, Flume's avro sink, can)"
        );
        self.close();
    }

    /// Frames a take for writing: fills the sink's write list with the buffers one `writev`
    /// will send for `batches`, and returns it. Newline-framed lines are the batches' own
    /// chunks (no copy); everything else is framed into the sink's reusable buffer.
    ///
    /// Public so that `benches/tcp_framing.rs` can measure it without a connection.
    pub fn frame(&mut self, batches: &[Batch]) -> &[Bytes] {
        self.bufs.clear();
        for batch in batches {
            match (self.config.framing, batch.layout()) {
                (Framing::Newline, Layout::Lines) => self.bufs.push(batch.data().clone()),
                (Framing::Newline, Layout::Ends(_)) => {
                    for body in batch.bodies() {
                        self.framed.reserve(body.len() + 1);
                        self.framed.put_slice(body);
                        self.framed.put_u8(b'\n');
                    }
                    self.bufs.push(self.framed.split().freeze());
                }
                (Framing::OctetCounting, _) => {
                    let mut digits = itoa::Buffer::new();
                    for body in batch.bodies() {
                        let len = digits.format(body.len());
                        self.framed.reserve(len.len() + 1 + body.len());
                        self.framed.put_slice(len.as_bytes());
                        self.framed.put_u8(b' ');
                        self.framed.put_slice(body);
                    }
                    self.bufs.push(self.framed.split().freeze());
                }
            }
        }
        &self.bufs
    }
}

impl Drop for TcpSink {
    /// The connection closes with the sink (at stop): counted, as the counters outlive it.
    fn drop(&mut self) {
        self.close();
    }
}

impl Deliver for TcpSink {
    async fn deliver(&mut self, batches: &[Batch]) -> io::Result<()> {
        if self.was_idle && self.conn.as_ref().is_some_and(TcpConn::peer_closed) {
            debug!("collector closed the connection while idle; reconnecting");
            self.lost("closed by the collector");
        }
        self.was_idle = false;
        if self.conn.is_none() {
            self.connect().await?;
        }
        self.frame(batches);
        let more = self.may_hold_back && batches.last().is_some_and(Batch::more_ready);
        let timeout = self.config.request_timeout;
        let conn = self.conn.as_mut().expect("connected above");
        let write = conn.write_all(&mut self.bufs, more);
        let result = match tokio::time::timeout(timeout, write).await {
            Ok(res) => res,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no write progress for {timeout:?} (request-timeout)"),
            )),
        };
        self.bufs.clear();
        self.held_back = more && result.is_ok();
        if let Err(e) = &result {
            self.lost(&e.to_string());
        }
        result
    }

    fn holding_back(&self) -> bool {
        self.held_back
    }

    fn idle(&mut self) {
        self.was_idle = true;
        if std::mem::take(&mut self.held_back) {
            if let Some(conn) = &self.conn {
                // A failure here means a broken connection, which the next write reports.
                let _ = conn.flush();
            }
        }
    }

    fn retry_delay(&mut self) -> Duration {
        self.backoff.next_delay()
    }

    fn succeeded(&mut self) {
        self.backoff.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn resolves_literals_and_names_and_fails_clearly() {
        let t = Duration::from_secs(5);
        let v4 = resolve("127.0.0.1", 5140, t).await.unwrap();
        assert_eq!(v4, "127.0.0.1:5140".parse().unwrap());
        let v6 = resolve("::1", 5140, t).await.unwrap();
        assert_eq!(v6, "[::1]:5140".parse().unwrap());
        let named = resolve("localhost", 5140, t).await.unwrap();
        assert!(named.ip().is_loopback(), "{named}");
        assert_eq!(named.port(), 5140);
        // RFC 2606 reserves .invalid: it never resolves (quickly, or at the timeout).
        let started = std::time::Instant::now();
        let err = resolve("collector.invalid", 5140, Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(4), "bounded wait");
        assert!(!err.to_string().is_empty());
    }
}
