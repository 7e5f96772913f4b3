//! [`AgentConfig::describe`]: the resolved pipeline as text, for `spate check`.

use std::time::Duration;

use super::{
    AgentConfig, ChannelKind, Framing, LineOverflow, Shards, SinkKind, SourceKind, TaildirConfig,
    TcpSinkConfig, WatchMode, DEFAULT_BYTE_CAPACITY,
};

impl AgentConfig {
    /// The resolved pipeline for `spate check`: every component with its type, wiring and every
    /// effective setting, defaults included, one `key = value` per line. spate extensions are
    /// marked `# spate extension`.
    pub fn describe(&self) -> String {
        let mut out = format!("agent {}\n", self.name);
        for src in &self.sources {
            let SourceKind::Taildir(t) = &src.kind;
            out += &format!(
                "source {} (TAILDIR) -> {}\n",
                src.name,
                src.channels.join(" ")
            );
            write_settings(&mut out, &taildir_settings(t));
        }
        for ch in &self.channels {
            let ChannelKind::Memory(m) = &ch.kind;
            out += &format!("channel {} (memory)\n", ch.name);
            let byte_note = if m.byte_capacity == DEFAULT_BYTE_CAPACITY {
                "Flume's default: 80% of flume-ng's default 20 MiB heap"
            } else {
                ""
            };
            write_settings(
                &mut out,
                &[
                    ("capacity".into(), m.capacity.to_string(), ""),
                    (
                        "transactionCapacity".into(),
                        m.transaction_capacity.to_string(),
                        "",
                    ),
                    ("keep-alive".into(), m.keep_alive.as_secs().to_string(), ""),
                    (
                        "byteCapacity".into(),
                        m.byte_capacity.to_string(),
                        byte_note,
                    ),
                    (
                        "byteCapacityBufferPercentage".into(),
                        m.byte_capacity_buffer_percentage.to_string(),
                        "",
                    ),
                ],
            );
        }
        for sink in &self.sinks {
            let (type_name, settings): (_, Vec<Setting>) = match &sink.kind {
                SinkKind::Logger(l) => (
                    "logger",
                    vec![("maxBytesToLog".into(), l.max_bytes_to_log.to_string(), "")],
                ),
                SinkKind::Null(n) => (
                    "null",
                    vec![("batchSize".into(), n.batch_size.to_string(), "")],
                ),
                SinkKind::Tcp(t) => ("tcp, a spate extension", tcp_settings(t)),
            };
            out += &format!("sink {} ({type_name}) <- {}\n", sink.name, sink.channel);
            write_settings(&mut out, &settings);
        }
        out
    }
}

/// One line of [`AgentConfig::describe`]: key, effective value, note (may be empty).
type Setting = (String, String, &'static str);

const EXTENSION: &str = "spate extension";

fn write_settings(out: &mut String, settings: &[Setting]) {
    for (key, value, note) in settings {
        if note.is_empty() {
            *out += &format!("  {key} = {value}\n");
        } else {
            *out += &format!("  {key} = {value}  # {note}\n");
        }
    }
}

fn taildir_settings(t: &TaildirConfig) -> Vec<Setting> {
    let ms = |d: Duration| d.as_millis().to_string();
    let names: Vec<&str> = t.filegroups.iter().map(|g| g.name.as_str()).collect();
    let mut v: Vec<Setting> = vec![("filegroups".into(), names.join(" "), "")];
    for g in &t.filegroups {
        let path = g.dir.join(&g.pattern).display().to_string();
        v.push((format!("filegroups.{}", g.name), path, ""));
        for (k, value) in &g.headers {
            v.push((format!("headers.{}.{k}", g.name), value.clone(), ""));
        }
    }
    let overflow = match t.line_overflow {
        LineOverflow::Split => "split",
        LineOverflow::Truncate => "truncate",
    };
    let max_batch_count = t
        .max_batch_count
        .map_or("unlimited".to_string(), |n| n.to_string());
    v.extend([
        (
            "positionFile".into(),
            t.position_file.display().to_string(),
            "",
        ),
        (
            "byteOffsetHeader".into(),
            t.byte_offset_header.to_string(),
            "",
        ),
        ("skipToEnd".into(), t.skip_to_end.to_string(), ""),
        ("idleTimeout".into(), ms(t.idle_timeout), ""),
        ("writePosInterval".into(), ms(t.write_pos_interval), ""),
        ("batchSize".into(), t.batch_size.to_string(), ""),
        ("maxBatchCount".into(), max_batch_count, ""),
        (
            "backoffSleepIncrement".into(),
            ms(t.backoff_sleep_increment),
            "",
        ),
        ("maxBackoffSleep".into(), ms(t.max_backoff_sleep), ""),
        (
            "cachePatternMatching".into(),
            t.cache_pattern_matching.to_string(),
            "",
        ),
        ("fileHeader".into(), t.file_header.to_string(), ""),
        ("fileHeaderKey".into(), t.file_header_key.clone(), ""),
        (
            "maxLineLength".into(),
            t.max_line_length.to_string(),
            EXTENSION,
        ),
        ("lineOverflow".into(), overflow.to_string(), EXTENSION),
        (
            "readBufferSize".into(),
            t.read_buffer_size.to_string(),
            EXTENSION,
        ),
        ("pollInterval".into(), ms(t.poll_interval), EXTENSION),
        (
            "watcher".into(),
            match t.watcher {
                WatchMode::Inotify => "inotify",
                WatchMode::Poll => "poll",
            }
            .into(),
            EXTENSION,
        ),
        (
            "shards".into(),
            match t.shards {
                Shards::Count(n) => n.to_string(),
                Shards::Auto => "auto".into(),
            },
            EXTENSION,
        ),
    ]);
    v
}

fn tcp_settings(t: &TcpSinkConfig) -> Vec<Setting> {
    let ms = |d: Duration| d.as_millis().to_string();
    let framing = match t.framing {
        Framing::Newline => "newline",
        Framing::OctetCounting => "octet-counting",
    };
    vec![
        ("hostname".into(), t.hostname.clone(), ""),
        ("port".into(), t.port.to_string(), ""),
        ("batch-size".into(), t.batch_size.to_string(), ""),
        ("framing".into(), framing.to_string(), ""),
        ("connect-timeout".into(), ms(t.connect_timeout), ""),
        ("request-timeout".into(), ms(t.request_timeout), ""),
        ("max-backoff".into(), ms(t.max_backoff), ""),
    ]
}
