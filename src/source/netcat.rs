//! Flume's `netcat` source: each line a TCP client sends is an event, and with `ack-every-event`
//! the client is told `OK` for each one.
//!
//! The data cannot be read again, so `OK` means what the channel acknowledges: with a file
//! channel, that the event is on disk; with a memory channel, that a sink delivered it (Flume
//! says `OK` once the event is in the channel, which a crash of the agent can still lose). A
//! client that resends what it was not told `OK` for therefore loses nothing.
//!
//! Each connection is a task on the source's worker. It reads into one buffer, cuts the complete
//! lines into a batch (at most `batchSize` events: spate puts lines in batches where Flume puts
//! them one by one), puts the batch, waits for its acknowledgement, answers one `OK\n` per event
//! and reads on. A connection holds at most one read beyond one partial line, and there are at
//! most `max-connections` of them: memory is bounded whatever the clients send.
//!
//! Over-long lines are handled as Flume does: a line longer than `max-line-length` bytes with its
//! newline is answered `FAILED: Event exceeds the maximum length (N chars, including newline)`
//! and the connection is closed (the lines before it are put and answered first). It is counted
//! in `EventReadFail`, as is a last line left without its newline when a client closes (Flume
//! drops it silently).

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tracing::{debug, info, warn};

use crate::ack::{Ack, AckQueue};
use crate::component::{
    Component, ParseContext, Setting, SourceContext, SourceSpec, StartError, Started,
};
use crate::config::{Props, JAVA_INT_MAX, MAX_MILLIS};
use crate::event::Batch;
use crate::lifecycle::{Control, Phase};
use crate::metrics::SourceCounters;
use crate::runtime::io::TcpConn;
use crate::runtime::{Backend, TaskFactory};
use crate::source::listener::{self, listen, Reading};
use crate::source::Output;

/// Settings of a netcat source.
#[derive(Debug, Clone, PartialEq)]
pub struct NetcatConfig {
    /// Key `bind` (required): the address or host name to listen on.
    pub bind: String,
    /// Key `port` (required), 0 to 65535 (0: any free port, for tests).
    pub port: u16,
    /// Key `max-line-length`, default 512: the longest line, newline included, in bytes.
    pub max_line_length: usize,
    /// Key `ack-every-event`, default true: answer `OK\n` per event once it is acknowledged.
    pub ack_every_event: bool,
    /// Key `batchSize` (spate's own), default 100: the most lines put in one transaction.
    pub batch_size: usize,
    /// Key `max-connections` (spate's own), default 1024: connections beyond are closed at once.
    pub max_connections: usize,
    /// Key `idle-timeout` (spate's own, ms), default 0 (never): a connection that neither sends
    /// nor takes its answers for this long is closed.
    pub idle_timeout: Option<Duration>,
    /// Key `encoding`: accepted for Flume; spate passes the bytes as they come.
    pub encoding: Option<String>,
}

/// Every property a netcat source accepts.
const KEYS: &[&str] = &[
    "type",
    "channels",
    "selector.type",
    "bind",
    "port",
    "max-line-length",
    "ack-every-event",
    "encoding",
    "batchSize",
    "max-connections",
    "idle-timeout",
];

/// Bytes read from a connection at once.
const READ_SIZE: usize = 64 * 1024;

/// Reads a netcat source's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn SourceSpec>> {
    let config = parse_netcat(p);
    p.finish("a netcat source", KEYS);
    Some(Arc::new(config?))
}

fn parse_netcat(p: &mut Props<'_>) -> Option<NetcatConfig> {
    let bind = p.required(
        "bind",
        "the netcat source needs an address to `bind`",
        "0.0.0.0",
    );
    // 0: any free port (tests).
    let port = p.port("port", "the netcat source needs a `port`", 0);
    let max_line_length = p.int("max-line-length", 512, 2, JAVA_INT_MAX, "bytes")? as usize;
    let ack_every_event = p.bool("ack-every-event", true);
    let encoding = p.get("encoding").map(|e| e.value.clone());
    let batch_size = p.positive("batchSize", 100, "events");
    let max_connections = p.positive("max-connections", 1024, "connections");
    let idle = p.millis("idle-timeout", 0, 0, MAX_MILLIS);
    Some(NetcatConfig {
        bind: bind?,
        port: port?,
        max_line_length,
        ack_every_event,
        batch_size,
        max_connections,
        idle_timeout: (!idle.is_zero()).then_some(idle),
        encoding,
    })
}

impl Component for NetcatConfig {
    fn type_name(&self) -> &'static str {
        "netcat"
    }

    fn describe(&self) -> Vec<Setting> {
        vec![
            Setting::new("bind", &self.bind),
            Setting::new("port", self.port),
            Setting::new("max-line-length", self.max_line_length).note("bytes, newline included"),
            Setting::new("ack-every-event", self.ack_every_event)
                .note("OK once the channel acknowledges the event"),
            Setting::new("batchSize", self.batch_size).note("spate's own"),
            Setting::new("max-connections", self.max_connections).note("spate's own"),
            Setting::millis("idle-timeout", self.idle_timeout.unwrap_or(Duration::ZERO))
                .note("spate's own; 0: never"),
        ]
    }
}

impl SourceSpec for NetcatConfig {
    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn start(&self, ctx: SourceContext<'_>) -> Result<Started, StartError> {
        if let Some(encoding) = &self.encoding {
            info!(
                source = %ctx.name,
                encoding,
                "`encoding` is kept for Flume compatibility but has no effect: spate passes the \
                 bytes of each line as they come"
            );
        }
        let listener = listen(&self.bind, self.port).map_err(StartError::new)?;
        let local = listener.local_addr().map_err(StartError::new)?;
        info!(source = %ctx.name, address = %local, "listening");
        let counters = ctx.counters[0].clone();
        let source = Netcat {
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

/// A started netcat source, moved onto its worker.
#[derive(Debug)]
struct Netcat {
    shared: Shared,
    listener: std::net::TcpListener,
}

/// What the connections of one source share on its worker.
#[derive(Debug)]
struct Shared {
    name: String,
    config: NetcatConfig,
    output: Output,
    counters: Arc<SourceCounters>,
}

impl Netcat {
    async fn run(self, backend: Backend, control: Control) {
        let Netcat { shared, listener } = self;
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

/// Where a connection's reading ended.
enum End {
    /// The client closed its side.
    Closed,
    /// The agent is stopping.
    Stop,
    /// The connection is to be closed: an error, an over-long line, idleness.
    Drop,
}

/// Serves one connection until the client closes it, it fails, or the agent stops.
async fn serve(
    mut conn: TcpConn,
    peer: SocketAddr,
    shared: Rc<Shared>,
    mut reading: Reading,
    mut control: Control,
) {
    let end = read_loop(&mut conn, peer, &shared, &mut control, &mut reading).await;
    reading.done();
    match end {
        End::Closed => debug!(source = %shared.name, %peer, "client closed the connection"),
        End::Stop => debug!(source = %shared.name, %peer, "closing: the agent stops"),
        End::Drop => {}
    }
    shared.counters.open_connection.sub(1);
}

/// Reads lines and puts them until the connection ends.
async fn read_loop(
    conn: &mut TcpConn,
    peer: SocketAddr,
    shared: &Shared,
    control: &mut Control,
    reading: &mut Reading,
) -> End {
    let config = &shared.config;
    let acks = AckQueue::new();
    let mut token = 0u64;
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    let mut closed = false;
    loop {
        // Put what is complete before reading more: the buffer holds one read beyond a
        // partial line at most.
        let cut = cut_lines(&buf, config.batch_size, config.max_line_length);
        if cut.lines > 0 {
            let data = buf.split_to(cut.len).freeze();
            let batch = Batch::from_lines(data, cut.lines as u32);
            token += 1;
            let put = put(shared, control, batch, &acks, token).await;
            match put {
                Put::Acknowledged if config.ack_every_event => {
                    if let Err(e) = answer(conn, ok_lines(cut.lines), config.idle_timeout).await {
                        debug!(source = %shared.name, %peer, "cannot answer OK: {e}");
                        return End::Drop;
                    }
                }
                Put::Acknowledged => {}
                Put::Stopped => return End::Stop,
            }
            continue;
        }
        if cut.overlong {
            shared.counters.event_read_fail.add(1);
            warn!(
                source = %shared.name,
                %peer,
                max_line_length = config.max_line_length,
                "line longer than max-line-length: the client is told FAILED and the \
                 connection closed, as Flume does (EventReadFail)"
            );
            let reply = format!(
                "FAILED: Event exceeds the maximum length ({} chars, including newline)\n",
                config.max_line_length
            );
            let _ = answer(conn, Bytes::from(reply), config.idle_timeout).await;
            return End::Drop;
        }
        if closed {
            if !buf.is_empty() {
                shared.counters.event_read_fail.add(1);
                warn!(
                    source = %shared.name,
                    %peer,
                    bytes = buf.len(),
                    "the client closed the connection in the middle of a line: that partial \
                     line is dropped (EventReadFail)"
                );
            }
            return End::Closed;
        }
        if control.phase() >= Phase::StopReading {
            reading.done();
            return End::Stop;
        }
        buf.reserve(READ_SIZE);
        let read = async {
            match config.idle_timeout {
                Some(t) => tokio::time::timeout(t, conn.read(buf)).await.ok(),
                None => Some(conn.read(buf).await),
            }
        };
        let got = tokio::select! {
            biased;
            got = read => got,
            _ = control.reached(Phase::StopReading) => {
                // Bytes the cancelled read took are not answered: the client sends them again.
                reading.done();
                return End::Stop;
            }
        };
        let Some((res, back)) = got else {
            debug!(source = %shared.name, %peer, "closing an idle connection (idle-timeout)");
            return End::Drop;
        };
        buf = back;
        match res {
            Ok(0) => closed = true,
            Ok(_) => {}
            Err(e) => {
                debug!(source = %shared.name, %peer, "read failed: {e}");
                if !buf.is_empty() {
                    shared.counters.event_read_fail.add(1);
                }
                return End::Drop;
            }
        }
    }
}

/// How a put ended.
enum Put {
    /// Every channel acknowledged it (or it went to none).
    Acknowledged,
    /// The agent stopped first: it is not answered.
    Stopped,
}

/// Puts `batch` and, if the client is to be answered, waits until every required channel
/// acknowledged it.
async fn put(
    shared: &Shared,
    control: &mut Control,
    batch: Batch,
    acks: &Arc<AckQueue>,
    token: u64,
) -> Put {
    let ack = shared.config.ack_every_event;
    let batch = if ack {
        batch.with_ack(Ack::new(acks.clone(), token))
    } else {
        batch
    };
    let copies = tokio::select! {
        biased;
        copies = shared.output.put(batch) => copies,
        _ = control.reached(Phase::StopReading) => return Put::Stopped,
    };
    if !ack {
        return Put::Acknowledged;
    }
    // One batch is in flight per connection, so every token that arrives is this one's (an
    // earlier batch's acks all came before its answer).
    let mut got = 0;
    loop {
        acks.drain(|t| {
            debug_assert_eq!(t, token);
            got += 1;
        });
        if got >= copies {
            return Put::Acknowledged;
        }
        tokio::select! {
            _ = acks.arrival() => {}
            // The sinks gave up: what was not acknowledged is not answered.
            _ = control.reached(Phase::Finish) => return Put::Stopped,
        }
    }
}

/// Writes `reply`, within the idle timeout if there is one.
async fn answer(conn: &mut TcpConn, reply: Bytes, idle: Option<Duration>) -> std::io::Result<()> {
    let mut bufs = vec![reply];
    match idle {
        Some(t) => tokio::time::timeout(t, conn.write_all(&mut bufs, false))
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
        None => conn.write_all(&mut bufs, false).await,
    }
}

/// `n` times `OK\n`.
fn ok_lines(n: usize) -> Bytes {
    const BATCH: usize = 1024;
    static OKS: [u8; 3 * BATCH] = {
        let mut a = [0u8; 3 * BATCH];
        let mut i = 0;
        while i < BATCH {
            a[3 * i] = b'O';
            a[3 * i + 1] = b'K';
            a[3 * i + 2] = b'\n';
            i += 1;
        }
        a
    };
    if n <= BATCH {
        Bytes::from_static(&OKS[..3 * n])
    } else {
        Bytes::from(b"OK\n".repeat(n))
    }
}

/// The complete lines at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
struct Cut {
    /// How many (at most the batch size).
    lines: usize,
    /// Their bytes, newlines included.
    len: usize,
    /// Whether the line after them is longer than the limit (complete or not).
    overlong: bool,
}

/// Finds the complete lines at the start of `buf`: at most `max_lines`, each at most
/// `max_line` bytes with its newline. Stops before an over-long line and says so.
fn cut_lines(buf: &[u8], max_lines: usize, max_line: usize) -> Cut {
    let mut lines = 0;
    let mut len = 0;
    for nl in memchr::memchr_iter(b'\n', buf) {
        if nl + 1 - len > max_line {
            return Cut {
                lines,
                len,
                overlong: true,
            };
        }
        lines += 1;
        len = nl + 1;
        if lines == max_lines {
            return Cut {
                lines,
                len,
                overlong: false,
            };
        }
    }
    // The partial line at the end cannot fit once it holds `max_line` bytes without a newline.
    let overlong = buf.len() - len >= max_line;
    Cut {
        lines,
        len,
        overlong,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn cuts_complete_lines_up_to_the_batch_size() {
        let buf = b"a\nbb\nccc\ndd";
        assert_eq!(
            cut_lines(buf, 10, 512),
            Cut {
                lines: 3,
                len: 9,
                overlong: false
            }
        );
        assert_eq!(
            cut_lines(buf, 2, 512),
            Cut {
                lines: 2,
                len: 5,
                overlong: false
            }
        );
    }

    #[test]
    fn a_line_of_exactly_the_limit_fits_and_one_more_byte_does_not() {
        // Flume's limit counts the newline: 4 bytes of text and `\n` fit in 5.
        assert_eq!(cut_lines(b"abcd\n", 10, 5).lines, 1);
        let over = cut_lines(b"ok\nabcde\n", 10, 5);
        assert_eq!(
            over,
            Cut {
                lines: 1,
                len: 3,
                overlong: true
            }
        );
        // Without its newline yet: 5 bytes can no longer end within 5.
        assert!(cut_lines(b"abcde", 10, 5).overlong);
        assert!(!cut_lines(b"abcd", 10, 5).overlong);
    }

    #[test]
    fn ok_lines_answers_one_ok_per_event() {
        assert_eq!(&ok_lines(1)[..], b"OK\n");
        assert_eq!(ok_lines(1024).len(), 3 * 1024);
        assert_eq!(ok_lines(5000), Bytes::from(b"OK\n".repeat(5000)));
    }

    proptest! {
        /// The cut is exactly the longest run of short lines, within the batch size.
        #[test]
        fn the_cut_agrees_with_a_plain_split(
            buf in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..300),
            max_lines in 1usize..20,
            max_line in 2usize..40,
        ) {
            let cut = cut_lines(&buf, max_lines, max_line);
            let mut lines = 0;
            let mut len = 0;
            let mut overlong = false;
            let mut rest = &buf[..];
            while lines < max_lines {
                match rest.iter().position(|&b| b == b'\n') {
                    Some(i) if i < max_line => {
                        lines += 1;
                        len += i + 1;
                        rest = &rest[i + 1..];
                    }
                    Some(_) => { overlong = true; break; }
                    None => { overlong = rest.len() >= max_line; break; }
                }
            }
            prop_assert_eq!(cut, Cut { lines, len, overlong });
        }
    }
}
