//! Sink configurations: logger, null and spate's own tcp sink.

use std::time::Duration;

use super::error::ConfigError;
use super::props::{Props, MAX_MILLIS};

/// One configured sink.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkConfig {
    /// The component name, as listed in `<agent>.sinks`.
    pub name: String,
    /// Flume key `channel` (required): the one channel this sink reads.
    pub channel: String,
    /// Flume key `type` and the type's own settings.
    pub kind: SinkKind,
}

/// The sink types spate implements.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkKind {
    /// `type = logger` (or `org.apache.flume.sink.LoggerSink`).
    Logger(LoggerSinkConfig),
    /// `type = null` (or `org.apache.flume.sink.NullSink`).
    Null(NullSinkConfig),
    /// `type = tcp`: spate's own sink (not in Flume), writing event bodies to a TCP peer.
    Tcp(TcpSinkConfig),
}

impl SinkKind {
    /// The most events the sink takes in one channel transaction, when it batches.
    pub fn batch_size(&self) -> Option<usize> {
        match self {
            SinkKind::Logger(_) => None,
            SinkKind::Null(n) => Some(n.batch_size),
            SinkKind::Tcp(t) => Some(t.batch_size),
        }
    }
}

/// Settings of the logger sink.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggerSinkConfig {
    /// Flume key `maxBytesToLog`, default 16: body bytes shown per event.
    pub max_bytes_to_log: usize,
}

/// Settings of the null sink (drops every event).
#[derive(Debug, Clone, PartialEq)]
pub struct NullSinkConfig {
    /// Flume key `batchSize`, default 100.
    pub batch_size: usize,
}

/// How the tcp sink delimits events on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `framing = newline` (default): each body followed by `\n`.
    Newline,
    /// `framing = octet-counting`: each body preceded by its length in decimal and a space
    /// (RFC 6587).
    OctetCounting,
}

/// Settings of spate's tcp sink. Key names follow Flume's avro sink.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpSinkConfig {
    /// Key `hostname` (required).
    pub hostname: String,
    /// Key `port` (required), 1 to 65535.
    pub port: u16,
    /// Key `batch-size` (alias `batchSize`), default 100.
    pub batch_size: usize,
    /// Key `framing` = `newline` | `octet-counting`, default `newline`.
    pub framing: Framing,
    /// Key `connect-timeout` (ms), default 20000.
    pub connect_timeout: Duration,
    /// Key `request-timeout` (ms), default 20000: a write that makes no progress this long
    /// fails and the sink reconnects.
    pub request_timeout: Duration,
    /// Key `max-backoff` (ms), default 5000, at least 100: the reconnect backoff doubles from
    /// 100 ms up to this.
    pub max_backoff: Duration,
}

/// Every property a logger sink accepts.
pub(crate) const LOGGER_KEYS: &[&str] = &["type", "channel", "maxBytesToLog"];
/// Every property a null sink accepts.
pub(crate) const NULL_KEYS: &[&str] = &["type", "channel", "batchSize"];
/// Every property a tcp sink accepts.
pub(crate) const TCP_KEYS: &[&str] = &[
    "type",
    "channel",
    "hostname",
    "port",
    "batch-size",
    "batchSize",
    "framing",
    "connect-timeout",
    "request-timeout",
    "max-backoff",
];

pub(crate) fn parse_logger(p: &mut Props<'_>) -> LoggerSinkConfig {
    LoggerSinkConfig {
        max_bytes_to_log: p.positive("maxBytesToLog", 16, "bytes"),
    }
}

pub(crate) fn parse_null(p: &mut Props<'_>) -> NullSinkConfig {
    NullSinkConfig {
        batch_size: p.positive("batchSize", 100, "events"),
    }
}

/// The property the tcp sink's batch size was read from (for error messages).
pub(crate) fn tcp_batch_key(p: &mut Props<'_>) -> &'static str {
    if p.get("batch-size").is_none() && p.get("batchSize").is_some() {
        "batchSize"
    } else {
        "batch-size"
    }
}

pub(crate) fn parse_tcp(p: &mut Props<'_>) -> Option<TcpSinkConfig> {
    let hostname = match p.get("hostname") {
        Some(e) if !e.value.is_empty() => Some(e.value.clone()),
        Some(e) => {
            let err = ConfigError::at(e, "the tcp sink needs a `hostname`")
                .hint(format!("give `{}` a value", p.shown("hostname")));
            p.push(err);
            None
        }
        None => {
            let hint = format!("add `{} = HOST`", p.shown("hostname"));
            let err = p.missing("hostname", "the tcp sink needs a `hostname`", hint);
            p.push(err);
            None
        }
    };
    let port = match p.get("port") {
        Some(_) => p.int("port", 0, 1, 65535, "TCP port").map(|n| n as u16),
        None => {
            let hint = format!("add `{} = PORT` (1 to 65535)", p.shown("port"));
            let err = p.missing("port", "the tcp sink needs a `port`", hint);
            p.push(err);
            None
        }
    };
    let batch_key = tcp_batch_key(p);
    if let (Some(a), Some(_)) = (p.get("batch-size"), p.get("batchSize")) {
        let err = ConfigError::at(a, "both `batch-size` and its alias `batchSize` are set")
            .hint(format!("keep only `{}`", p.shown("batch-size")));
        p.push(err);
    }
    let batch_size = p.positive(batch_key, 100, "events");
    let framing = p.choice(
        "framing",
        Framing::Newline,
        &[
            ("newline", Framing::Newline),
            ("octet-counting", Framing::OctetCounting),
        ],
    );
    let connect_timeout = p.millis("connect-timeout", 20_000, 1, MAX_MILLIS);
    let request_timeout = p.millis("request-timeout", 20_000, 1, MAX_MILLIS);
    let max_backoff = p.millis("max-backoff", 5_000, 100, MAX_MILLIS);
    Some(TcpSinkConfig {
        hostname: hostname?,
        port: port?,
        batch_size,
        framing,
        connect_timeout,
        request_timeout,
        max_backoff,
    })
}
