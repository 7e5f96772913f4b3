//! The avro sink's configuration: Flume's keys and defaults.

use std::sync::Arc;
use std::time::Duration;

use super::AvroSink;
use crate::component::{Component, ParseContext, Setting, Sink, SinkContext, SinkSpec};
use crate::config::{ConfigError, Props, MAX_MILLIS};

/// Settings of an avro sink.
#[derive(Debug, Clone, PartialEq)]
pub struct AvroSinkConfig {
    /// Key `hostname` (required).
    pub hostname: String,
    /// Key `port` (required), 1 to 65535.
    pub port: u16,
    /// Key `batch-size`, default 100: most events per take.
    pub batch_size: usize,
    /// Key `connect-timeout` (ms), default 20000.
    pub connect_timeout: Duration,
    /// Key `request-timeout` (ms), default 20000: how long a call waits for its reply.
    pub request_timeout: Duration,
    /// Key `reset-connection-interval` (seconds), default none: the connection is closed and
    /// opened again this often (to spread load behind a load balancer).
    pub reset_connection_interval: Option<Duration>,
    /// Key `compression-type` = `none` | `deflate`, with `compression-level` (0–9, default 6).
    pub compression_level: Option<u32>,
    /// Key `max-backoff` (ms), spate's own, default 5000: the reconnect back-off doubles from
    /// 100 ms up to this.
    pub max_backoff: Duration,
    /// Flume keys set that have no effect in spate.
    pub inert_keys: Vec<&'static str>,
}

/// Every property an avro sink accepts.
const KEYS: &[&str] = &[
    "type",
    "channel",
    "hostname",
    "port",
    "batch-size",
    "connect-timeout",
    "request-timeout",
    "reset-connection-interval",
    "compression-type",
    "compression-level",
    "ssl",
    "trust-all-certs",
    "truststore",
    "truststore-password",
    "truststore-type",
    "exclude-protocols",
    "maxIoWorkers",
    "max-backoff",
];

/// Flume keys accepted without effect: SSL's, while `ssl` is false (`ssl = true` is refused:
/// not supported yet), and Netty's I/O thread count (spate's sink runs on its worker).
const INERT_KEYS: &[&str] = &[
    "trust-all-certs",
    "truststore",
    "truststore-password",
    "truststore-type",
    "exclude-protocols",
    "maxIoWorkers",
];

/// Reads an avro sink's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn SinkSpec>> {
    let config = parse_avro(p);
    p.finish("an avro sink", KEYS);
    Some(Arc::new(config?))
}

fn parse_avro(p: &mut Props<'_>) -> Option<AvroSinkConfig> {
    let hostname = p.required("hostname", "the avro sink needs a `hostname`", "HOST");
    let port = p.port("port", "the avro sink needs a `port`", 1);
    let batch_size = p.positive("batch-size", 100, "events");
    let connect_timeout = p.millis("connect-timeout", 20_000, 1, MAX_MILLIS);
    let request_timeout = p.millis("request-timeout", 20_000, 1, MAX_MILLIS);
    let reset_connection_interval = match p.get("reset-connection-interval") {
        Some(e) if e.value.trim() == "none" => None,
        Some(_) => p
            .int(
                "reset-connection-interval",
                0,
                0,
                MAX_MILLIS / 1000,
                "seconds",
            )
            .filter(|&s| s > 0)
            .map(Duration::from_secs),
        None => None,
    };
    let deflate = p.choice(
        "compression-type",
        false,
        &[("none", false), ("deflate", true)],
    );
    let level = p.int("compression-level", 6, 0, 9, "").unwrap_or(6) as u32;
    if p.bool("ssl", false) {
        let entry = p.get("ssl");
        let err = p
            .error(
                "ssl",
                entry,
                "ssl is not supported by spate's avro sink yet",
            )
            .hint("use a TLS tunnel (stunnel, a service mesh) or leave `ssl` false");
        p.push(err);
    }
    let max_backoff = p.millis("max-backoff", 5_000, 100, MAX_MILLIS);
    let inert_keys = INERT_KEYS
        .iter()
        .copied()
        .filter(|&k| p.get(k).is_some())
        .collect();
    if let (Some(e), false) = (p.get("compression-level"), deflate) {
        p.push(
            ConfigError::at(e, "compression-level has no effect without compression")
                .hint(format!("set `{}` = deflate", p.shown("compression-type")))
                .warning(),
        );
    }
    Some(AvroSinkConfig {
        hostname: hostname?,
        port: port?,
        batch_size,
        connect_timeout,
        request_timeout,
        reset_connection_interval,
        compression_level: deflate.then_some(level),
        max_backoff,
        inert_keys,
    })
}

impl Component for AvroSinkConfig {
    fn type_name(&self) -> &'static str {
        "avro"
    }

    fn describe(&self) -> Vec<Setting> {
        let mut s = vec![
            Setting::new("hostname", &self.hostname),
            Setting::new("port", self.port),
            Setting::new("batch-size", self.batch_size),
            Setting::millis("connect-timeout", self.connect_timeout),
            Setting::millis("request-timeout", self.request_timeout),
            Setting::new(
                "reset-connection-interval",
                self.reset_connection_interval
                    .map_or("none".to_string(), |d| d.as_secs().to_string()),
            ),
            Setting::new(
                "compression-type",
                if self.compression_level.is_some() {
                    "deflate"
                } else {
                    "none"
                },
            ),
        ];
        if let Some(level) = self.compression_level {
            s.push(Setting::new("compression-level", level));
        }
        s.push(Setting::new("ssl", false));
        s.push(Setting::millis("max-backoff", self.max_backoff).note("spate's own"));
        for k in &self.inert_keys {
            s.push(Setting::new(*k, "(set)").note("no effect in spate"));
        }
        s
    }
}

impl SinkSpec for AvroSinkConfig {
    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn batch_keys(&self) -> &'static [&'static str] {
        &["batch-size"]
    }

    fn build(&self, ctx: &SinkContext) -> Box<dyn Sink> {
        Box::new(AvroSink::new(
            self.clone(),
            ctx.backend,
            ctx.counters.clone(),
        ))
    }
}
