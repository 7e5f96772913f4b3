//! Flume's `avro` source: receives events from Flume's (or spate's) `avro` sinks over Avro IPC,
//! and answers each call OK only once the events are acknowledged by the channels: with a file
//! channel, on disk; with a memory channel, delivered by the sinks (Flume answers once they are
//! in the channel, which a crash can still lose).
//!
//! Each connection is a task on the source's worker: it reads frames (inflating them first with
//! `compression-type = deflate`), answers the handshake, decodes each call's events into one
//! batch, puts it, waits for its acknowledgement and answers `OK`. A channel that stays full for
//! its keep-alive makes the answer `FAILED`, as in Flume: the sender sends the batch again. A
//! frame larger than `max-frame-bytes` (checked before its bytes are awaited) or a malformed
//! frame, handshake or call closes that connection with a logged reason (`EventReadFail`); the
//! source and the other connections go on.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tracing::{debug, info, warn};

use crate::ack::{Ack, AckQueue};
use crate::avro::deflate::{Deflater, Inflater};
use crate::avro::frame::{self, DEFAULT_MAX_FRAME_BYTES};
use crate::avro::protocol::{self, ProtocolError, Status};
use crate::avro::wire::Reader;
use crate::component::{
    Component, ParseContext, Setting, SourceContext, SourceSpec, StartError, Started,
};
use crate::config::Props;
use crate::event::Batch;
use crate::lifecycle::{Control, Phase};
use crate::metrics::SourceCounters;
use crate::runtime::io::TcpConn;
use crate::runtime::{Backend, TaskFactory};
use crate::source::listener::{self, Reading};
use crate::source::Output;

/// Settings of an avro source.
#[derive(Debug, Clone, PartialEq)]
pub struct AvroSourceConfig {
    /// Key `bind` (required).
    pub bind: String,
    /// Key `port` (required), 0 to 65535 (0: any free port, for tests).
    pub port: u16,
    /// Key `compression-type` = `none` | `deflate`.
    pub deflate: bool,
    /// Key `max-frame-bytes` (spate's own), default 1 GiB: a larger frame closes its
    /// connection.
    pub max_frame_bytes: usize,
    /// Key `max-connections` (spate's own), default 1024.
    pub max_connections: usize,
    /// Flume keys set that have no effect in spate.
    pub inert_keys: Vec<&'static str>,
}

/// Every property an avro source accepts.
const KEYS: &[&str] = &[
    "type",
    "channels",
    "selector.type",
    "bind",
    "port",
    "threads",
    "compression-type",
    "ssl",
    "keystore",
    "keystore-password",
    "keystore-type",
    "exclude-protocols",
    "ipFilter",
    "ipFilterRules",
    "max-frame-bytes",
    "max-connections",
];

/// Flume keys accepted without effect: Netty's thread count (each connection is a task on the
/// source's worker), and SSL's keys while `ssl` is false.
const INERT_KEYS: &[&str] = &[
    "threads",
    "keystore",
    "keystore-password",
    "keystore-type",
    "exclude-protocols",
];

/// Bytes read from a connection at once.
const READ_SIZE: usize = 64 * 1024;

/// Reads an avro source's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn SourceSpec>> {
    let config = parse_avro(p);
    p.finish("an avro source", KEYS);
    Some(Arc::new(config?))
}

fn parse_avro(p: &mut Props<'_>) -> Option<AvroSourceConfig> {
    let bind = p.required(
        "bind",
        "the avro source needs an address to `bind`",
        "0.0.0.0",
    );
    let port = p.port("port", "the avro source needs a `port`", 0);
    let deflate = p.choice(
        "compression-type",
        false,
        &[("none", false), ("deflate", true)],
    );
    for (key, what) in [("ssl", "ssl"), ("ipFilter", "ipFilter")] {
        if p.bool(key, false) {
            let entry = p.get(key);
            let err = p
                .error(
                    key,
                    entry,
                    format!("{what} is not supported by spate's avro source yet"),
                )
                .hint(if key == "ssl" {
                    "use a TLS tunnel (stunnel, a service mesh) or leave `ssl` false"
                } else {
                    "filter with the host's firewall, or leave `ipFilter` false"
                });
            p.push(err);
        }
    }
    let mut inert_keys: Vec<&'static str> = INERT_KEYS
        .iter()
        .copied()
        .filter(|&k| p.get(k).is_some())
        .collect();
    if p.get("ipFilterRules").is_some() {
        inert_keys.push("ipFilterRules");
    }
    let max_frame_bytes = p
        .int(
            "max-frame-bytes",
            DEFAULT_MAX_FRAME_BYTES as u64,
            1024,
            DEFAULT_MAX_FRAME_BYTES as u64,
            "bytes",
        )
        .unwrap_or(DEFAULT_MAX_FRAME_BYTES as u64) as usize;
    let max_connections = p.positive("max-connections", 1024, "connections");
    Some(AvroSourceConfig {
        bind: bind?,
        port: port?,
        deflate,
        max_frame_bytes,
        max_connections,
        inert_keys,
    })
}

impl Component for AvroSourceConfig {
    fn type_name(&self) -> &'static str {
        "avro"
    }

    fn describe(&self) -> Vec<Setting> {
        let mut s = vec![
            Setting::new("bind", &self.bind),
            Setting::new("port", self.port),
            Setting::new(
                "compression-type",
                if self.deflate { "deflate" } else { "none" },
            ),
            Setting::new("ssl", false),
            Setting::new("max-frame-bytes", self.max_frame_bytes).note("spate's own"),
            Setting::new("max-connections", self.max_connections).note("spate's own"),
        ];
        for k in &self.inert_keys {
            s.push(Setting::new(*k, "(set)").note("no effect in spate"));
        }
        s
    }
}

impl SourceSpec for AvroSourceConfig {
    /// The sender chooses each call's size; what the source puts is that call.
    fn batch_size(&self) -> usize {
        1
    }

    fn batch_keys(&self) -> &'static [&'static str] {
        &[]
    }

    fn start(&self, ctx: SourceContext<'_>) -> Result<Started, StartError> {
        let listener = listener::listen(&self.bind, self.port).map_err(StartError::new)?;
        let local = listener.local_addr().map_err(StartError::new)?;
        info!(source = %ctx.name, address = %local, "listening");
        let counters = ctx.counters[0].clone();
        let source = Avro {
            shared: Shared {
                name: ctx.name.to_string(),
                config: self.clone(),
                output: ctx.output.with_counters(counters.clone()),
                counters,
            },
            listener,
        };
        let backend = ctx.backend;
        let control = ctx.lifecycle.control();
        let task: TaskFactory = Box::new(move || Box::pin(source.run(backend, control)));
        Ok(Started {
            tasks: vec![task],
            finish: None,
        })
    }
}

/// A started avro source, moved onto its worker.
#[derive(Debug)]
struct Avro {
    shared: Shared,
    listener: std::net::TcpListener,
}

/// What the connections of one source share on its worker.
#[derive(Debug)]
struct Shared {
    name: String,
    config: AvroSourceConfig,
    output: Output,
    counters: Arc<SourceCounters>,
}

impl Avro {
    async fn run(self, backend: Backend, control: Control) {
        let Avro { shared, listener } = self;
        let shared = Rc::new(shared);
        let (name, max) = (shared.name.clone(), shared.config.max_connections);
        let counters = shared.counters.clone();
        listener::serve_connections(
            &name,
            listener,
            backend,
            max,
            &counters,
            control,
            |conn, peer, reading, control| serve(conn, peer, shared.clone(), reading, control),
        )
        .await;
    }
}

/// One connection's state.
struct Connection<'a> {
    conn: TcpConn,
    peer: SocketAddr,
    shared: &'a Shared,
    handshaken: bool,
    inflater: Option<Inflater>,
    deflater: Option<Deflater>,
    /// Frames' bytes (inflated).
    plain: BytesMut,
    acks: Arc<AckQueue>,
    token: u64,
}

/// Why a connection ends.
enum End {
    Closed,
    Stop,
    Drop,
}

async fn serve(
    conn: TcpConn,
    peer: SocketAddr,
    shared: Rc<Shared>,
    mut reading: Reading,
    mut control: Control,
) {
    let mut c = Connection {
        conn,
        peer,
        shared: &shared,
        handshaken: false,
        inflater: shared.config.deflate.then(Inflater::default),
        deflater: shared.config.deflate.then(|| Deflater::new(6)),
        plain: BytesMut::new(),
        acks: AckQueue::new(),
        token: 0,
    };
    match c.run(&mut control, &mut reading).await {
        End::Closed => debug!(source = %shared.name, %peer, "client closed the connection"),
        End::Stop => debug!(source = %shared.name, %peer, "closing: the agent stops"),
        End::Drop => {}
    }
    reading.done();
    shared.counters.open_connection.sub(1);
}

impl Connection<'_> {
    async fn run(&mut self, control: &mut Control, reading: &mut Reading) -> End {
        let mut raw = BytesMut::new();
        loop {
            // Answer every whole frame before reading more.
            match frame::decode(&mut self.plain, self.shared.config.max_frame_bytes) {
                Ok(Some(f)) => match self.call(f.serial, f.message, control).await {
                    Ok(true) => continue,
                    Ok(false) => return End::Stop,
                    Err(why) => return self.refuse(&why),
                },
                Ok(None) => {}
                Err(e) => return self.refuse(&e.to_string()),
            }
            if control.phase() >= Phase::StopReading {
                reading.done();
                return End::Stop;
            }
            let into = if self.inflater.is_some() {
                &mut raw
            } else {
                &mut self.plain
            };
            into.reserve(READ_SIZE);
            let buf = std::mem::take(into);
            let (res, back) = tokio::select! {
                biased;
                got = self.conn.read(buf) => got,
                _ = control.reached(Phase::StopReading) => {
                    // A call read but not answered is sent again by the client.
                    reading.done();
                    return End::Stop;
                }
            };
            *into = back;
            match res {
                Ok(0) => {
                    if !self.plain.is_empty() {
                        self.shared.counters.event_read_fail.add(1);
                    }
                    return End::Closed;
                }
                Ok(_) => {
                    if let Some(z) = self.inflater.as_mut() {
                        if let Err(e) = z.inflate(&raw, &mut self.plain) {
                            return self.refuse(&e.to_string());
                        }
                        raw.clear();
                    }
                }
                Err(e) => {
                    debug!(source = %self.shared.name, peer = %self.peer, "read failed: {e}");
                    return End::Drop;
                }
            }
        }
    }

    /// Closes the connection for a malformed or oversized frame, saying why.
    fn refuse(&self, why: &str) -> End {
        self.shared.counters.event_read_fail.add(1);
        warn!(
            source = %self.shared.name,
            peer = %self.peer,
            "closing the connection: {why} (EventReadFail)"
        );
        End::Drop
    }

    /// Answers one call. `Ok(false)`: the agent stops before the events were acknowledged (no
    /// answer: the client sends them again).
    async fn call(
        &mut self,
        serial: u32,
        message: Bytes,
        control: &mut Control,
    ) -> Result<bool, String> {
        let mut r = Reader::new(message);
        let mut reply = Vec::new();
        if !self.handshaken {
            let accepted = protocol::accept_handshake(&mut r).map_err(|e| e.to_string())?;
            reply = accepted.response;
            if !accepted.proceed {
                self.send(serial, &reply).await?;
                return Ok(true);
            }
            self.handshaken = true;
        }
        let name = protocol::read_call(&mut r).map_err(|e| e.to_string())?;
        let batch = if name == protocol::APPEND {
            Some(protocol::read_event(&mut r).map_err(|e| e.to_string())?)
        } else {
            protocol::read_events(&mut r).map_err(|e: ProtocolError| e.to_string())?
        };
        let status = match batch {
            None => Status::Ok,
            Some(batch) => match self.put(batch, control).await {
                Some(status) => status,
                None => return Ok(false),
            },
        };
        protocol::put_status(&mut reply, status);
        self.send(serial, &reply).await?;
        Ok(true)
    }

    /// Puts `batch` and waits for every required channel's acknowledgement: `Failed` when a
    /// channel stayed full for its keep-alive, `None` when the agent stops first.
    async fn put(&mut self, batch: Batch, control: &mut Control) -> Option<Status> {
        self.token += 1;
        let token = self.token;
        let batch = batch.with_ack(Ack::new(self.acks.clone(), token));
        let copies = tokio::select! {
            biased;
            copies = self.shared.output.try_put(batch) => copies,
            _ = control.reached(Phase::StopReading) => return None,
        };
        let Some(copies) = copies else {
            return Some(Status::Failed);
        };
        let mut got = 0;
        loop {
            // Tokens of an earlier call that failed half-way are stale: not this call's.
            self.acks.drain(|t| {
                if t == token {
                    got += 1;
                }
            });
            if got >= copies {
                return Some(Status::Ok);
            }
            tokio::select! {
                _ = self.acks.arrival() => {}
                _ = control.reached(Phase::Finish) => return None,
            }
        }
    }

    /// Frames (and compresses) a reply and writes it.
    async fn send(&mut self, serial: u32, reply: &[u8]) -> Result<(), String> {
        let mut framed = BytesMut::new();
        frame::encode(serial, &[reply], &mut framed);
        let bytes = match self.deflater.as_mut() {
            Some(d) => {
                let mut z = BytesMut::new();
                d.deflate(&framed, &mut z);
                z.freeze()
            }
            None => framed.freeze(),
        };
        let mut bufs = vec![bytes];
        self.conn
            .write_all(&mut bufs, false)
            .await
            .map_err(|e| format!("cannot answer: {e}"))
    }
}
