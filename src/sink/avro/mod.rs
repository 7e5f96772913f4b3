//! Flume's `avro` sink: delivers to an avro source (a Flume collector, or a spate one) with
//! Avro IPC `appendBatch` calls, and commits a take only when every call was answered OK: the
//! receiver had committed its events to its channels.
//!
//! Each batch of a take is one call. On a new connection the first call goes alone, with the
//! handshake (Avro's server reads a handshake at the start of every request until one
//! succeeds); once it is answered the rest of the take's calls are written at once and their
//! replies read as they come (Flume's source answers in the order its threads finish, matched
//! by serial number), so a take of many batches costs one round trip, not one per batch.
//! A reply other than OK fails the take, which is delivered again whole: the receiver may then
//! see again the calls it had answered OK (at-least-once, as Flume's sink).

mod config;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use tracing::{info, warn};

pub use self::config::{parse, AvroSinkConfig};

use super::{Backoff, Deliver};
use crate::avro::deflate::{Deflater, Inflater};
use crate::avro::frame::{self, DEFAULT_MAX_FRAME_BYTES};
use crate::avro::protocol::{self, Match, ProtocolError, Status};
use crate::avro::wire::Reader;
use crate::event::Batch;
use crate::metrics::SinkCounters;
use crate::runtime::io::TcpConn;
use crate::runtime::Backend;

/// Largest read from the socket at once.
const READ_CHUNK: usize = 64 * 1024;

/// A connection to the receiver, and where it stands.
#[derive(Debug)]
struct Conn {
    tcp: TcpConn,
    opened: Instant,
    /// The handshake succeeded: calls go without one.
    handshaken: bool,
    deflater: Option<Deflater>,
    inflater: Option<Inflater>,
    /// Bytes read and not yet made into replies (inflated, with compression).
    received: BytesMut,
    /// Raw bytes read, before inflating.
    raw: BytesMut,
}

/// Delivers batches to one avro source.
#[derive(Debug)]
pub struct AvroSink {
    config: AvroSinkConfig,
    backend: Backend,
    counters: Arc<SinkCounters>,
    conn: Option<Conn>,
    serial: u32,
    backoff: Backoff,
    /// Where a call is encoded (then framed into `wire`, or compressed into it).
    message: BytesMut,
    /// The bytes of the calls to write.
    wire: BytesMut,
}

impl AvroSink {
    /// A sink for `config`; it connects on first delivery.
    pub fn new(config: AvroSinkConfig, backend: Backend, counters: Arc<SinkCounters>) -> Self {
        AvroSink {
            backoff: Backoff::new(config.max_backoff),
            config,
            backend,
            counters,
            conn: None,
            serial: 0,
            message: BytesMut::new(),
            wire: BytesMut::new(),
        }
    }

    async fn connect(&mut self) -> io::Result<()> {
        let c = &self.config;
        let attempt = async {
            let addr = super::tcp::resolve(&c.hostname, c.port, c.connect_timeout).await?;
            TcpConn::connect(addr, self.backend, c.connect_timeout).await
        };
        match attempt.await {
            Ok(tcp) => {
                self.counters.connection_created.add(1);
                if let Err(e) = tcp.set_dead_peer_timeout(c.request_timeout) {
                    warn!("cannot set TCP_USER_TIMEOUT and keepalive: {e}");
                }
                info!(host = %c.hostname, port = c.port, "connected");
                self.conn = Some(Conn {
                    tcp,
                    opened: Instant::now(),
                    handshaken: false,
                    deflater: c.compression_level.map(Deflater::new),
                    inflater: c.compression_level.map(|_| Inflater::default()),
                    received: BytesMut::new(),
                    raw: BytesMut::new(),
                });
                Ok(())
            }
            Err(e) => {
                self.counters.connection_failed.add(1);
                Err(io::Error::new(
                    e.kind(),
                    format!("connect to {}:{}: {e}", c.hostname, c.port),
                ))
            }
        }
    }

    fn close(&mut self) {
        if self.conn.take().is_some() {
            self.counters.connection_closed.add(1);
        }
    }

    /// Encodes an `appendBatch` call of `batch` (with the handshake when asked) and frames it
    /// into `wire`, compressed when configured.
    fn encode_call(&mut self, batch: &Batch, handshake: Option<bool>) -> u32 {
        self.serial = self.serial.wrapping_add(1);
        let serial = self.serial;
        let conn = self.conn.as_mut().expect("connected");
        let out = if conn.deflater.is_some() {
            &mut self.message
        } else {
            &mut self.wire
        };
        // The frame's header, then the message as its one buffer; its length is set after.
        out.put_u32(serial);
        out.put_u32(1);
        let len_at = out.len();
        out.put_u32(0);
        if let Some(with_protocol) = handshake {
            protocol::put_handshake_request(out, with_protocol);
        }
        protocol::put_call(out, protocol::APPEND_BATCH);
        protocol::put_events(out, batch);
        let len = (out.len() - len_at - 4) as u32;
        out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
        if let Some(d) = conn.deflater.as_mut() {
            d.deflate(&self.message, &mut self.wire);
            self.message.clear();
        }
        serial
    }

    /// Writes what `wire` holds.
    async fn write(&mut self) -> io::Result<()> {
        let timeout = self.config.request_timeout;
        let conn = self.conn.as_mut().expect("connected");
        let mut bufs: Vec<Bytes> = vec![self.wire.split().freeze()];
        match tokio::time::timeout(timeout, conn.tcp.write_all(&mut bufs, false)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no write progress for {timeout:?} (request-timeout)"),
            )),
        }
    }

    /// Reads the next reply: its call's serial number and the message. Replies may come in
    /// any order (Flume's avro source answers calls as its threads finish them).
    async fn reply(&mut self) -> io::Result<(u32, Bytes)> {
        let timeout = self.config.request_timeout;
        let conn = self.conn.as_mut().expect("connected");
        let read = async {
            loop {
                if let Some(f) = frame::decode(&mut conn.received, DEFAULT_MAX_FRAME_BYTES)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
                {
                    return Ok((f.serial, f.message));
                }
                let into = if conn.inflater.is_some() {
                    &mut conn.raw
                } else {
                    &mut conn.received
                };
                into.reserve(READ_CHUNK);
                let buf = std::mem::take(into);
                let (n, buf) = conn.tcp.read(buf).await;
                *into = buf;
                match n? {
                    0 => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the receiver closed the connection",
                        ))
                    }
                    _ => {
                        if let Some(z) = conn.inflater.as_mut() {
                            z.inflate(&conn.raw, &mut conn.received)
                                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                            conn.raw.clear();
                        }
                    }
                }
            }
        };
        match tokio::time::timeout(timeout, read).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no reply within {timeout:?} (request-timeout)"),
            )),
        }
    }

    /// Sends the first call of a new connection with the handshake; with its text when the
    /// receiver does not know the protocol by its hash. Returns the call's status.
    async fn handshake_call(&mut self, batch: &Batch) -> io::Result<Status> {
        for with_protocol in [false, true] {
            let serial = self.encode_call(batch, Some(with_protocol));
            self.write().await?;
            let (answered, reply) = self.reply().await?;
            if answered != serial {
                return Err(unexpected(answered));
            }
            let mut r = Reader::new(reply);
            match protocol::read_handshake_response(&mut r).map_err(invalid)? {
                Match::None => continue, // not processed: again, with the protocol
                Match::Both | Match::Client => {
                    self.conn.as_mut().expect("connected").handshaken = true;
                    return protocol::read_status(&mut r).map_err(remote);
                }
            }
        }
        Err(invalid(ProtocolError::HandshakeRefused))
    }

    async fn send(&mut self, batches: &[Batch]) -> io::Result<()> {
        let mut rest = batches;
        let handshaken = self.conn.as_ref().is_some_and(|c| c.handshaken);
        if !handshaken {
            let Some((first, later)) = rest.split_first() else {
                return Ok(());
            };
            check(self.handshake_call(first).await?)?;
            rest = later;
        }
        if rest.is_empty() {
            return Ok(());
        }
        let mut pending: Vec<u32> = rest.iter().map(|b| self.encode_call(b, None)).collect();
        self.write().await?;
        let mut failed = None;
        while !pending.is_empty() {
            let (serial, reply) = self.reply().await?;
            let Some(i) = pending.iter().position(|&s| s == serial) else {
                return Err(unexpected(serial));
            };
            pending.swap_remove(i);
            let status = protocol::read_status(&mut Reader::new(reply)).map_err(remote)?;
            if let Err(e) = check(status) {
                failed.get_or_insert(e);
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

fn unexpected(serial: u32) -> io::Error {
    invalid(format!(
        "a reply to call {serial}, which is not waiting for one"
    ))
}

fn invalid(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// An error reply keeps the connection; a malformed one does not.
fn remote(e: ProtocolError) -> io::Error {
    match e {
        ProtocolError::Remote(msg) => io::Error::other(format!("the receiver answered: {msg}")),
        e => invalid(e),
    }
}

fn check(status: Status) -> io::Result<()> {
    match status {
        Status::Ok => Ok(()),
        Status::Failed => Err(io::Error::other(
            "the receiver answered FAILED (its channel is full, or refused the events)",
        )),
        Status::Unknown => Err(io::Error::other("the receiver answered UNKNOWN")),
    }
}

impl Drop for AvroSink {
    fn drop(&mut self) {
        self.close();
    }
}

impl Deliver for AvroSink {
    async fn deliver(&mut self, batches: &[Batch]) -> io::Result<()> {
        if let (Some(every), Some(c)) = (self.config.reset_connection_interval, &self.conn) {
            if c.opened.elapsed() >= every {
                info!("reset-connection-interval reached: reconnecting");
                self.close();
            }
        }
        if self.conn.is_none() {
            self.connect().await?;
        }
        self.wire.clear();
        self.message.clear();
        let result = self.send(batches).await;
        if let Err(e) = &result {
            // A reply that says FAILED leaves a sound connection; anything else does not.
            if e.kind() != io::ErrorKind::Other {
                warn!(host = %self.config.hostname, port = self.config.port, "connection lost: {e}");
                self.close();
            }
        }
        result
    }

    fn retry_delay(&mut self) -> Duration {
        self.backoff.next_delay()
    }

    fn succeeded(&mut self) {
        self.backoff.reset();
    }
}
