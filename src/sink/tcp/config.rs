//! The tcp sink's configuration. Key names follow Flume's avro sink.

use std::sync::Arc;
use std::time::Duration;

use super::TcpSink;
use crate::component::{Component, ParseContext, Setting, Sink, SinkContext, SinkSpec};
use crate::config::{ConfigError, Props, MAX_MILLIS};

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

/// Every property a tcp sink accepts.
const KEYS: &[&str] = &[
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

/// Reads a tcp sink's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn SinkSpec>> {
    let config = parse_tcp(p);
    p.finish("a tcp sink", KEYS);
    Some(Arc::new(config?))
}

/// The property the tcp sink's batch size was read from (for error messages).
fn batch_key(p: &mut Props<'_>) -> &'static str {
    if p.get("batch-size").is_none() && p.get("batchSize").is_some() {
        "batchSize"
    } else {
        "batch-size"
    }
}

fn parse_tcp(p: &mut Props<'_>) -> Option<TcpSinkConfig> {
    let hostname = p.required("hostname", "the tcp sink needs a `hostname`", "HOST");
    let port = p.port("port", "the tcp sink needs a `port`", 1);
    let batch_key = batch_key(p);
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

impl Component for TcpSinkConfig {
    fn type_name(&self) -> &'static str {
        "tcp"
    }

    fn spate_extension(&self) -> bool {
        true
    }

    fn describe(&self) -> Vec<Setting> {
        let framing = match self.framing {
            Framing::Newline => "newline",
            Framing::OctetCounting => "octet-counting",
        };
        vec![
            Setting::new("hostname", &self.hostname),
            Setting::new("port", self.port),
            Setting::new("batch-size", self.batch_size),
            Setting::new("framing", framing),
            Setting::millis("connect-timeout", self.connect_timeout),
            Setting::millis("request-timeout", self.request_timeout),
            Setting::millis("max-backoff", self.max_backoff),
        ]
    }
}

impl SinkSpec for TcpSinkConfig {
    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn batch_keys(&self) -> &'static [&'static str] {
        &["batch-size", "batchSize"]
    }

    fn build(&self, ctx: &SinkContext) -> Box<dyn Sink> {
        Box::new(
            TcpSink::new(self.clone(), ctx.backend, ctx.counters.clone())
                .holding_back_for(ctx.sources_on_this_worker),
        )
    }
}
