//! The agent configuration the tests run, and the events a logger sink logs.

use std::path::Path;

use spate_loadgen::sut::AgentProperties;

#[allow(unused_imports)]
use super::*;

/// The agent configuration the tests run: `TAILDIR r1 -> memory c1 -> tcp k1`, every key
/// overridable with [`Pipeline::set`] (keys relative to `a1.`, values as meant: the builder,
/// loadgen's [`AgentProperties`], escapes them for the properties file).
#[derive(Debug, Clone)]
pub struct Pipeline {
    props: AgentProperties,
}

impl Pipeline {
    /// Tails `dir` files whose name matches the regex `pattern` (e.g. `app\.log`), position
    /// file `pos`, to 127.0.0.1:`port`.
    pub fn new(dir: &Path, pattern: &str, pos: &Path, port: u16) -> Pipeline {
        let props = AgentProperties::tail_pipeline("a1", dir, pattern, pos, "tcp")
            .set("sources.r1.batchSize", 500)
            .set("sources.r1.writePosInterval", 100)
            .set("sources.r1.pollInterval", 100)
            .set("sources.r1.idleTimeout", 1000)
            .set("channels.c1.capacity", 10000)
            .set("channels.c1.transactionCapacity", 1000)
            .set("sinks.k1.hostname", "127.0.0.1")
            .set("sinks.k1.port", port)
            .set("sinks.k1.batch-size", 500)
            .set("sinks.k1.max-backoff", 400);
        Pipeline { props }
    }

    /// `netcat r1 -> memory c1 -> tcp k1`: the source listens on 127.0.0.1:`listen`, the sink
    /// sends to 127.0.0.1:`port`.
    pub fn netcat(listen: u16, port: u16) -> Pipeline {
        let unused = Path::new("/nonexistent");
        let props = Pipeline::new(unused, "x", unused, port)
            .props
            .remove_prefixed("sources.r1.")
            .set("sources.r1.type", "netcat")
            .set("sources.r1.channels", "c1")
            .set("sources.r1.bind", "127.0.0.1")
            .set("sources.r1.port", listen)
            .set("sources.r1.batchSize", 500);
        Pipeline { props }
    }

    /// `avro r1 -> memory c1 -> tcp k1`: the source listens on 127.0.0.1:`listen`, the sink
    /// sends to 127.0.0.1:`port`.
    pub fn avro(listen: u16, port: u16) -> Pipeline {
        let unused = Path::new("/nonexistent");
        let props = Pipeline::new(unused, "x", unused, port)
            .props
            .remove_prefixed("sources.r1.")
            .set("sources.r1.type", "avro")
            .set("sources.r1.channels", "c1")
            .set("sources.r1.bind", "127.0.0.1")
            .set("sources.r1.port", listen);
        Pipeline { props }
    }

    /// Sets `a1.<key> = value`, replacing an earlier value.
    pub fn set(self, key: &str, value: &str) -> Pipeline {
        Pipeline {
            props: self.props.set(key, value),
        }
    }

    pub fn text(&self) -> String {
        self.props.text()
    }

    pub fn start(&self, backend: &str) -> Agent {
        Agent::start(&self.text(), backend)
    }

    /// As [`Pipeline::new`], but into Flume's `logger` sink instead of tcp: the agent logs every
    /// event, headers included, on its stderr, where [`logged_events`] finds them. (The tcp sink
    /// writes bodies only.) Bodies up to 1024 bytes are logged whole.
    pub fn to_logger(dir: &Path, pattern: &str, pos: &Path) -> Pipeline {
        let props = Pipeline::new(dir, pattern, pos, 0)
            .props
            .remove_prefixed("sinks.k1.")
            .set("sinks.k1.type", "logger")
            .set("sinks.k1.channel", "c1")
            .set("sinks.k1.maxBytesToLog", 1024);
        Pipeline { props }
    }
}

/// One event as the `logger` sink logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// The headers in the order logged.
    pub headers: Vec<(String, String)>,
    /// The body, as far as `maxBytesToLog` shows it.
    pub body: Vec<u8>,
}

impl LoggedEvent {
    /// The value of header `key`, if the event has it.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The sequence number of a test line's body.
    pub fn seq(&self) -> Option<u64> {
        parse_seq(&self.body)
    }
}

/// The events the `logger` sink logged in `stderr`, in order: lines of the form
/// `Event: { headers:{k=v, k2=v2} body: 48 69  Hi }` (Flume's `EventHelper.dumpEvent`). The
/// body is taken from the hex dump, so it is exact. A last line still being written is left out.
pub fn logged_events(stderr: &str) -> Vec<LoggedEvent> {
    const START: &str = "Event: { headers:{";
    const BODY: &str = "} body: ";
    let mut events = Vec::new();
    for l in stderr.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        let Some(i) = l.find(START) else { continue };
        let rest = &l[i + START.len()..];
        let (headers, rest) = rest
            .split_once(BODY)
            .unwrap_or_else(|| panic!("logged event without a body: {l}"));
        let headers = headers
            .split(", ")
            .filter(|h| !h.is_empty())
            .map(|h| {
                let (k, v) = h
                    .split_once('=')
                    .unwrap_or_else(|| panic!("header without `=`: {l}"));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        // The hex dump ("48 69 ") ends where two spaces begin.
        let hex = &rest[..rest.find("  ").unwrap_or(0)];
        let body = hex
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|_| panic!("bad hex dump: {l}")))
            .collect();
        events.push(LoggedEvent { headers, body });
    }
    events
}
