//! Flume's `logger` sink: logs each event at INFO, as Flume's `LoggerSink` does: headers, then
//! the first `maxBytesToLog` bytes of the body in hex and as text.

use std::fmt::Write as _;
use std::sync::Arc;

use tracing::info;

use super::Deliver;
use crate::component::{Component, ParseContext, Setting, Sink, SinkContext, SinkSpec};
use crate::config::Props;
use crate::event::{Batch, Headers};

/// Settings of the logger sink.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggerSinkConfig {
    /// Flume key `maxBytesToLog`, default 16: body bytes shown per event.
    pub max_bytes_to_log: usize,
    /// spate extension, key `format`: `flume` (default) shows the body in hex and as ASCII, as
    /// Flume does; `text` shows it as text, bytes that are not printable escaped as `\xNN`.
    pub text: bool,
}

/// Every property a logger sink accepts.
const KEYS: &[&str] = &["type", "channel", "maxBytesToLog", "format"];

/// Reads a logger sink's settings (the registry's parser).
pub fn parse(p: &mut Props<'_>, _: &ParseContext<'_>) -> Option<Arc<dyn SinkSpec>> {
    let config = LoggerSinkConfig {
        max_bytes_to_log: p.positive("maxBytesToLog", 16, "bytes"),
        text: p.choice("format", false, &[("flume", false), ("text", true)]),
    };
    p.finish("a logger sink", KEYS);
    Some(Arc::new(config))
}

impl Component for LoggerSinkConfig {
    fn type_name(&self) -> &'static str {
        "logger"
    }

    fn describe(&self) -> Vec<Setting> {
        vec![
            Setting::new("maxBytesToLog", self.max_bytes_to_log),
            Setting::new("format", if self.text { "text" } else { "flume" }).extension(),
        ]
    }
}

impl SinkSpec for LoggerSinkConfig {
    /// Flume's logger sink takes 100 events per transaction; it has no key for it.
    fn batch_size(&self) -> usize {
        100
    }

    fn batch_keys(&self) -> &'static [&'static str] {
        &[]
    }

    fn build(&self, _: &SinkContext) -> Box<dyn Sink> {
        Box::new(LoggerSink::new(self.max_bytes_to_log).text(self.text))
    }
}

/// Logs every event; meant for trying a pipeline out, not for volume.
#[derive(Debug)]
pub struct LoggerSink {
    max_bytes: usize,
    text: bool,
    line: String,
}

impl LoggerSink {
    /// A logger sink showing at most `max_bytes` of each body.
    pub fn new(max_bytes: usize) -> Self {
        LoggerSink {
            max_bytes,
            text: false,
            line: String::new(),
        }
    }

    /// Shows bodies as text rather than in hex (`format = text`).
    pub fn text(mut self, text: bool) -> Self {
        self.text = text;
        self
    }
}

impl Deliver for LoggerSink {
    async fn deliver(&mut self, batches: &[Batch]) -> std::io::Result<()> {
        let empty = Headers::new();
        for batch in batches {
            let shared = batch.headers().unwrap_or(&empty);
            for (i, body) in batch.bodies().enumerate() {
                let mut headers = shared.clone();
                if let Some(per_event) = batch.event_headers() {
                    for (k, v) in per_event[i].iter() {
                        headers.insert(k, v);
                    }
                }
                if self.text {
                    text_event(&mut self.line, &headers, body, self.max_bytes);
                } else {
                    dump_event(&mut self.line, &headers, body, self.max_bytes);
                }
                info!(target: "spate::sink::logger", "{}", self.line);
            }
        }
        Ok(())
    }
}

/// Formats an event like Flume's `EventHelper.dumpEvent`.
/// `format = text`: the body as text, what is not printable UTF-8 escaped as `\xNN`.
fn text_event(out: &mut String, headers: &Headers, body: &[u8], max_bytes: usize) {
    out.clear();
    let shown = &body[..body.len().min(max_bytes)];
    let _ = write!(out, "Event: {{ headers:{headers} body: ");
    for chunk in shown.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                let _ = write!(out, "{}", c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
    if shown.len() < body.len() {
        let _ = write!(out, "... ({} more bytes)", body.len() - shown.len());
    }
    out.push_str(" }");
}

fn dump_event(out: &mut String, headers: &Headers, body: &[u8], max_bytes: usize) {
    out.clear();
    let shown = &body[..body.len().min(max_bytes)];
    let _ = write!(out, "Event: {{ headers:{headers} body: ");
    for b in shown {
        let _ = write!(out, "{b:02X} ");
    }
    out.push(' ');
    out.extend(shown.iter().map(|&b| {
        if b.is_ascii_graphic() || b == b' ' {
            b as char
        } else {
            '.'
        }
    }));
    out.push_str(" }");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumps_like_flume_with_the_body_cut_at_max_bytes() {
        let mut out = String::new();
        let headers: Headers = [("host", "web1")].into_iter().collect();
        dump_event(&mut out, &headers, b"Hello\x01 world", 7);
        assert_eq!(
            out,
            "Event: { headers:{host=web1} body: 48 65 6C 6C 6F 01 20  Hello.  }"
        );
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn text_format_shows_whole_lines_and_escapes_the_rest() {
        let mut out = String::new();
        let headers: Headers = [("file", "/var/log/a.log")].into_iter().collect();
        text_event(
            &mut out,
            &headers,
            b"GET /index.html 200 \xff\x01 caf\xc3\xa9",
            4096,
        );
        assert_eq!(out, "Event: { headers:{file=/var/log/a.log} body: GET /index.html 200 \\xFF\\u{1} caf\u{e9} }");
        text_event(&mut out, &Headers::new(), b"abcdef", 3);
        assert_eq!(out, "Event: { headers:{} body: abc... (3 more bytes) }");
    }
}
