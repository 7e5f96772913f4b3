//! Tests of agent resolution: the Flume user guide example, defaults, wiring and every error.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::channel::memory::MemoryChannelConfig;
use crate::sink::logger::LoggerSinkConfig;
use crate::sink::null::NullSinkConfig;
use crate::sink::tcp::{Framing, TcpSinkConfig};
use crate::source::taildir::{FileGroup, LineOverflow, Shards, TaildirConfig, WatchMode};

const FILE: &str = "agent.properties";

/// A minimal valid pipeline; 11 lines, so an appended line is line 12.
const BASE: &str = "\
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = TAILDIR
a1.sources.r1.channels = c1
a1.sources.r1.positionFile = /var/lib/spate/pos.json
a1.sources.r1.filegroups = f1
a1.sources.r1.filegroups.f1 = /var/log/app/.*\\\\.log
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
";

fn parse(text: &str) -> Result<AgentConfig, ConfigErrors> {
    parse_str(text, Some(Path::new(FILE)), "a1")
}

/// The configuration of `text`, which must have neither errors nor warnings.
fn ok(text: &str) -> AgentConfig {
    let c = parse(text).unwrap_or_else(|e| panic!("unexpected errors:\n{e}"));
    assert!(
        c.warnings.is_empty(),
        "unexpected warnings:\n{}",
        ConfigErrors(c.warnings.clone())
    );
    c
}

/// The errors of `text` (not its warnings).
fn errors(text: &str) -> Vec<ConfigError> {
    match parse(text) {
        Ok(c) => panic!("expected errors, got {c:#?}"),
        Err(e) => e.errors().cloned().collect(),
    }
}

/// The warnings of `text`, which must have no errors.
fn warnings(text: &str) -> Vec<ConfigError> {
    let c = parse(text).unwrap_or_else(|e| panic!("unexpected errors:\n{e}"));
    assert!(c.warnings.iter().all(ConfigError::is_warning));
    c.warnings
}

/// The single warning of `text` (which has no errors); its message contains `needle`.
fn only_warning(text: &str, needle: &str) -> ConfigError {
    let w = warnings(text);
    assert_eq!(
        w.len(),
        1,
        "expected one warning, got:\n{}",
        ConfigErrors(w.clone())
    );
    assert!(w[0].message.contains(needle), "`{needle}` not in: {}", w[0]);
    w.into_iter().next().unwrap()
}

/// `BASE` plus `extra` lines (starting at line 12).
fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

/// The single error of `text`, which must contain `needle` in its message.
fn only_error(text: &str, needle: &str) -> ConfigError {
    let errs = errors(text);
    assert_eq!(
        errs.len(),
        1,
        "expected one error, got:\n{}",
        ConfigErrors(errs.clone())
    );
    assert!(
        errs[0].message.contains(needle),
        "`{needle}` not in: {}",
        errs[0]
    );
    errs.into_iter().next().unwrap()
}

/// The error whose message contains `needle`, among possibly several.
fn find_error(text: &str, needle: &str) -> ConfigError {
    let errs = errors(text);
    errs.iter()
        .find(|e| e.message.contains(needle))
        .cloned()
        .unwrap_or_else(|| panic!("no error containing `{needle}` in:\n{}", ConfigErrors(errs)))
}

fn assert_at(e: &ConfigError, line: usize, key: &str) {
    assert_eq!(e.file.as_deref(), Some(Path::new(FILE)), "{e}");
    assert_eq!(e.line, Some(line), "{e}");
    assert_eq!(e.key.as_deref(), Some(key), "{e}");
}

fn assert_hint(e: &ConfigError, needle: &str) {
    let hint = e.hint.as_deref().unwrap_or_else(|| panic!("no hint: {e}"));
    assert!(hint.contains(needle), "`{needle}` not in hint: {hint}");
}

fn taildir(c: &AgentConfig) -> &TaildirConfig {
    c.sources[0].spec.get().expect("a TAILDIR source")
}

fn memory(c: &AgentConfig) -> &MemoryChannelConfig {
    c.channels[0].spec.get().expect("a memory channel")
}

/// The TAILDIR example of the Flume 1.11 user guide, plus the channel and sink it leaves out.
/// Its last line really says `a1.sources.ri.maxBatchCount` (a typo for `r1`).
const GUIDE: &str = "\
a1.sources = r1
a1.channels = c1
a1.sources.r1.type = TAILDIR
a1.sources.r1.channels = c1
a1.sources.r1.positionFile = /var/log/flume/taildir_position.json
a1.sources.r1.filegroups = f1 f2
a1.sources.r1.filegroups.f1 = /var/log/test1/example.log
a1.sources.r1.headers.f1.headerKey1 = value1
a1.sources.r1.filegroups.f2 = /var/log/test2/.*log.*
a1.sources.r1.headers.f2.headerKey1 = value2
a1.sources.r1.headers.f2.headerKey2 = value2-2
a1.sources.r1.fileHeader = true
a1.sources.ri.maxBatchCount = 1000
a1.sinks = k1
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
";

#[test]
fn user_guide_taildir_example_typo_is_reported() {
    // Flume starts on this file, ignoring `ri`; spate does too, with a warning.
    let e = only_warning(GUIDE, "configured but not listed");
    assert_at(&e, 13, "a1.sources.ri.maxBatchCount");
    assert_hint(&e, "did you mean `r1`?");
    assert_hint(&e, "add `ri` to `a1.sources = r1`");
    assert!(
        e.to_string()
            .starts_with("agent.properties:13: warning: a1.sources.ri.maxBatchCount: source `ri`"),
        "{e}"
    );
}

#[test]
fn user_guide_taildir_example_parses() {
    let c = ok(&GUIDE.replace("sources.ri.", "sources.r1."));
    let expected = AgentConfig {
        name: "a1".into(),
        warnings: vec![],
        sources: vec![SourceConfig {
            name: "r1".into(),
            channels: vec!["c1".into()],
            spec: Arc::new(TaildirConfig {
                filegroups: vec![
                    FileGroup {
                        name: "f1".into(),
                        dir: "/var/log/test1".into(),
                        pattern: "example.log".into(),
                        headers: vec![("headerKey1".into(), "value1".into())],
                    },
                    FileGroup {
                        name: "f2".into(),
                        dir: "/var/log/test2".into(),
                        pattern: ".*log.*".into(),
                        headers: vec![
                            ("headerKey1".into(), "value2".into()),
                            ("headerKey2".into(), "value2-2".into()),
                        ],
                    },
                ],
                position_file: "/var/log/flume/taildir_position.json".into(),
                byte_offset_header: false,
                skip_to_end: false,
                idle_timeout: Duration::from_millis(120_000),
                write_pos_interval: Duration::from_millis(250),
                batch_size: 100,
                max_batch_count: Some(1000),
                backoff_sleep_increment: Duration::from_millis(1_000),
                max_backoff_sleep: Duration::from_millis(5_000),
                cache_pattern_matching: true,
                inert_keys: vec![],
                file_header: true,
                file_header_key: "file".into(),
                max_line_length: 1_048_576,
                line_overflow: LineOverflow::Split,
                read_buffer_size: 262_144,
                poll_interval: Duration::from_millis(250),
                watcher: WatchMode::Inotify,
                shards: Shards::Count(1),
            }),
            interceptors: vec![],
            selector: crate::selector::SelectorConfig::default(),
        }],
        channels: vec![ChannelConfig {
            name: "c1".into(),
            spec: Arc::new(MemoryChannelConfig {
                capacity: 100,
                transaction_capacity: 100,
                keep_alive: Duration::from_secs(3),
                byte_capacity: 16_777_216,
                byte_capacity_buffer_percentage: 20,
            }),
        }],
        sinks: vec![SinkConfig {
            name: "k1".into(),
            channel: "c1".into(),
            spec: Arc::new(LoggerSinkConfig {
                max_bytes_to_log: 16,
                text: false,
            }),
        }],
        sinkgroups: vec![],
    };
    assert_eq!(c, expected);
}

#[test]
fn taildir_defaults() {
    let text = BASE.replace("a1.sources.r1.positionFile = /var/lib/spate/pos.json\n", "");
    let c = ok(&text);
    let t = taildir(&c);
    let home = std::env::var_os("HOME").expect("HOME set in tests");
    assert_eq!(
        t.position_file,
        Path::new(&home).join(".flume/taildir_position.json")
    );
    assert!(!t.byte_offset_header);
    assert!(!t.skip_to_end);
    assert_eq!(t.idle_timeout, Duration::from_millis(120_000));
    assert_eq!(t.write_pos_interval, Duration::from_millis(250));
    assert_eq!(t.batch_size, 100);
    assert_eq!(t.max_batch_count, None);
    assert_eq!(t.backoff_sleep_increment, Duration::from_millis(1_000));
    assert_eq!(t.max_backoff_sleep, Duration::from_millis(5_000));
    assert!(t.cache_pattern_matching);
    assert!(t.inert_keys.is_empty(), "{:?}", t.inert_keys);
    assert!(!t.file_header);
    assert_eq!(t.file_header_key, "file");
    assert_eq!(t.max_line_length, 1_048_576);
    assert_eq!(t.line_overflow, LineOverflow::Split);
    assert_eq!(t.read_buffer_size, 262_144);
    assert_eq!(t.poll_interval, Duration::from_millis(250));
    assert_eq!(t.filegroups[0].dir, Path::new("/var/log/app"));
    assert_eq!(t.filegroups[0].pattern, ".*\\.log");
    assert!(t.filegroups[0].headers.is_empty());
}

#[test]
fn taildir_every_key_set() {
    let c = ok(&with(
        "a1.sources.r1.byteOffsetHeader = TRUE
a1.sources.r1.skipToEnd = true
a1.sources.r1.idleTimeout = 1000
a1.sources.r1.writePosInterval = 500
a1.sources.r1.batchSize = 50
a1.sources.r1.maxBatchCount = 7
a1.sources.r1.backoffSleepIncrement = 10
a1.sources.r1.maxBackoffSleep = 20
a1.sources.r1.cachePatternMatching = False
a1.sources.r1.fileHeader = true
a1.sources.r1.fileHeaderKey = path
a1.sources.r1.maxLineLength = 4096
a1.sources.r1.lineOverflow = truncate
a1.sources.r1.readBufferSize = 4096
a1.sources.r1.pollInterval = 1000
a1.sources.r1.watcher = poll
a1.sources.r1.shards = 3
a1.sources.r1.selector.type = replicating
",
    ));
    let t = taildir(&c);
    assert!(t.byte_offset_header && t.skip_to_end && t.file_header && !t.cache_pattern_matching);
    assert_eq!(t.idle_timeout, Duration::from_secs(1));
    assert_eq!(t.write_pos_interval, Duration::from_millis(500));
    assert_eq!((t.batch_size, t.max_batch_count), (50, Some(7)));
    assert_eq!(t.backoff_sleep_increment, Duration::from_millis(10));
    assert_eq!(t.max_backoff_sleep, Duration::from_millis(20));
    assert_eq!(t.inert_keys, crate::source::taildir::config::INERT_KEYS);
    assert_eq!(t.file_header_key, "path");
    assert_eq!(
        (t.max_line_length, t.line_overflow),
        (4096, LineOverflow::Truncate)
    );
    assert_eq!(t.read_buffer_size, 4096);
    assert_eq!(t.poll_interval, Duration::from_secs(1));
    assert_eq!(t.watcher, WatchMode::Poll);
    assert_eq!(t.shards, Shards::Count(3));
}

#[test]
fn taildir_shards() {
    let auto = ok(&with("a1.sources.r1.shards = AUTO\n"));
    assert_eq!(taildir(&auto).shards, Shards::Auto);
    assert_eq!(Shards::Auto.resolve(4), 4);
    assert_eq!(
        Shards::Count(3).resolve(2),
        2,
        "never more shards than workers"
    );
    assert_eq!(Shards::Count(1).resolve(8), 1);
    for bad in ["0", "-1", "two", "1025"] {
        let e = only_error(
            &with(&format!("a1.sources.r1.shards = {bad}\n")),
            "invalid value",
        );
        assert!(e.message.contains("or `auto`"), "{e}");
        assert_eq!(e.key.as_deref(), Some("a1.sources.r1.shards"));
    }
}

#[test]
fn memory_channel_settings() {
    let c = ok(&with(
        "a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 1000
a1.channels.c1.keep-alive = 0
a1.channels.c1.byteCapacity = 1024
a1.channels.c1.byteCapacityBufferPercentage = 0
",
    ));
    let m = memory(&c);
    assert_eq!((m.capacity, m.transaction_capacity), (1000, 1000));
    assert_eq!(m.keep_alive, Duration::ZERO);
    assert_eq!(
        (m.byte_capacity, m.byte_capacity_buffer_percentage),
        (1024, 0)
    );
}

#[test]
fn sink_defaults_and_settings() {
    let null = ok(&BASE.replace("k1.type = logger", "k1.type = null"));
    assert_eq!(
        null.sinks[0].spec.get(),
        Some(&NullSinkConfig { batch_size: 100 })
    );
    let logger = ok(&with("a1.sinks.k1.maxBytesToLog = 64\n"));
    assert_eq!(
        logger.sinks[0].spec.get(),
        Some(&LoggerSinkConfig {
            max_bytes_to_log: 64,
            text: false,
        })
    );

    let tcp = BASE.replace("k1.type = logger", "k1.type = tcp");
    let c = ok(&format!(
        "{tcp}a1.sinks.k1.hostname = collector\na1.sinks.k1.port = 5140\n"
    ));
    let expected = TcpSinkConfig {
        hostname: "collector".into(),
        port: 5140,
        batch_size: 100,
        framing: Framing::Newline,
        connect_timeout: Duration::from_millis(20_000),
        request_timeout: Duration::from_millis(20_000),
        max_backoff: Duration::from_millis(5_000),
    };
    assert_eq!(c.sinks[0].spec.get(), Some(&expected));

    let c = ok(&format!(
        "{tcp}a1.sinks.k1.hostname = h\na1.sinks.k1.port = 1\na1.sinks.k1.batchSize = 10
a1.sinks.k1.framing = octet-counting\na1.sinks.k1.connect-timeout = 1\na1.sinks.k1.request-timeout = 2
a1.sinks.k1.max-backoff = 100\n"
    ));
    let t: &TcpSinkConfig = c.sinks[0].spec.get().expect("a tcp sink");
    assert_eq!(
        (t.port, t.batch_size, t.framing),
        (1, 10, Framing::OctetCounting)
    );
    assert_eq!(t.max_backoff, Duration::from_millis(100));
    assert_eq!(
        (t.connect_timeout, t.request_timeout),
        (Duration::from_millis(1), Duration::from_millis(2))
    );
}

#[test]
fn netcat_source_requires_bind_and_port() {
    let netcat = BASE
        .replace("r1.type = TAILDIR", "r1.type = netcat")
        .replace("a1.sources.r1.positionFile = /var/lib/spate/pos.json\n", "")
        .replace("a1.sources.r1.filegroups = f1\n", "")
        .replace(
            "a1.sources.r1.filegroups.f1 = /var/log/app/.*\\\\.log\n",
            "",
        );
    let errs = errors(&netcat);
    assert_eq!(errs.len(), 2, "{}", ConfigErrors(errs.clone()));
    let bind = errs
        .iter()
        .find(|e| e.key.as_deref() == Some("a1.sources.r1.bind"))
        .unwrap();
    assert_hint(bind, "a1.sources.r1.bind = 0.0.0.0");
    let port = errs
        .iter()
        .find(|e| e.key.as_deref() == Some("a1.sources.r1.port"))
        .unwrap();
    assert_hint(port, "a1.sources.r1.port = PORT");
    let e = only_error(
        &format!("{netcat}a1.sources.r1.bind =\na1.sources.r1.port = 4141\n"),
        "needs an address to `bind`",
    );
    assert_hint(&e, "e.g. 0.0.0.0");
    let e = only_error(
        &format!("{netcat}a1.sources.r1.bind = 0.0.0.0\na1.sources.r1.port = 65536\n"),
        "65536",
    );
    assert!(e.message.contains("from 0 to 65535"), "{e}");
    assert!(parse(&format!(
        "{netcat}a1.sources.r1.bind = 0.0.0.0\na1.sources.r1.port = 4141\n"
    ))
    .is_ok());
}

#[test]
fn tcp_sink_requires_host_and_port() {
    let tcp = BASE.replace("k1.type = logger", "k1.type = tcp");
    let errs = errors(&tcp);
    assert_eq!(errs.len(), 2, "{}", ConfigErrors(errs.clone()));
    assert!(errs
        .iter()
        .any(|e| e.key.as_deref() == Some("a1.sinks.k1.hostname")));
    let port = errs
        .iter()
        .find(|e| e.key.as_deref() == Some("a1.sinks.k1.port"))
        .unwrap();
    assert_eq!(port.line, Some(10)); // the sink's first key
    assert_hint(port, "a1.sinks.k1.port = PORT");
    for bad in ["0", "65536", "http"] {
        let e = only_error(
            &format!("{tcp}a1.sinks.k1.hostname = h\na1.sinks.k1.port = {bad}\n"),
            bad,
        );
        assert_at(&e, 13, "a1.sinks.k1.port");
        assert!(e.message.contains("from 1 to 65535"), "{e}");
    }
    let e = only_error(
        &format!(
            "{tcp}a1.sinks.k1.hostname = h\na1.sinks.k1.port = 1\na1.sinks.k1.framing = crlf\n"
        ),
        "expected newline or octet-counting",
    );
    assert_at(&e, 14, "a1.sinks.k1.framing");
    let e = only_error(
        &format!("{tcp}a1.sinks.k1.hostname = h\na1.sinks.k1.port = 1\na1.sinks.k1.batch-size = 5\na1.sinks.k1.batchSize = 5\n"),
        "both",
    );
    assert_at(&e, 14, "a1.sinks.k1.batch-size");
}

#[test]
fn avro_sink_keys_as_flume_reads_them() {
    let avro = BASE.replace("k1.type = logger", "k1.type = avro");
    let errs = errors(&avro);
    assert_eq!(errs.len(), 2, "{}", ConfigErrors(errs.clone()));
    assert!(errs
        .iter()
        .any(|e| e.key.as_deref() == Some("a1.sinks.k1.hostname")));
    let ok = format!("{avro}a1.sinks.k1.hostname = collector\na1.sinks.k1.port = 4141\n");
    assert!(parse(&ok).is_ok());
    let e = only_error(
        &format!("{ok}a1.sinks.k1.ssl = true\n"),
        "ssl is not supported",
    );
    assert_hint(&e, "TLS tunnel");
    let e = only_error(
        &format!("{ok}a1.sinks.k1.compression-type = gzip\n"),
        "expected none or deflate",
    );
    assert_at(&e, 14, "a1.sinks.k1.compression-type");
    let w = warnings(&format!("{ok}a1.sinks.k1.compression-level = 9\n"));
    assert!(
        w.iter()
            .any(|w| w.message.contains("compression-level has no effect")),
        "{}",
        ConfigErrors(w.clone())
    );
    // Netty's thread count and SSL's keys while ssl is off: accepted, no warning.
    assert!(warnings(&format!(
        "{ok}a1.sinks.k1.maxIoWorkers = 4\na1.sinks.k1.truststore = /etc/ts.jks\n"
    ))
    .is_empty());
}

#[test]
fn avro_source_keys_as_flume_reads_them() {
    let avro = BASE
        .replace("r1.type = TAILDIR", "r1.type = avro")
        .replace("a1.sources.r1.positionFile = /var/lib/spate/pos.json\n", "")
        .replace("a1.sources.r1.filegroups = f1\n", "")
        .replace(
            "a1.sources.r1.filegroups.f1 = /var/log/app/.*\\\\.log\n",
            "",
        );
    let errs = errors(&avro);
    assert_eq!(errs.len(), 2, "{}", ConfigErrors(errs.clone()));
    let ok = format!("{avro}a1.sources.r1.bind = 0.0.0.0\na1.sources.r1.port = 4141\n");
    assert!(parse(&ok).is_ok());
    for (key, needle) in [
        ("ssl = true", "ssl is not supported"),
        ("ipFilter = true", "ipFilter is not supported"),
        ("compression-type = snappy", "expected none or deflate"),
        ("max-frame-bytes = 10", "from 1024 to 1073741824"),
    ] {
        only_error(&format!("{ok}a1.sources.r1.{key}\n"), needle);
    }
    // Netty's threads and SSL's keys while ssl is off: accepted, no warning.
    assert!(warnings(&format!(
        "{ok}a1.sources.r1.threads = 8\na1.sources.r1.keystore = /etc/ks.jks\n"
    ))
    .is_empty());
}

#[test]
fn type_aliases_and_class_names() {
    for (src, ch, sink) in [
        ("taildir", "MEMORY", "LOGGER"),
        ("TailDir", "Memory", "Null"),
        (
            "org.apache.flume.source.taildir.TaildirSource",
            "org.apache.flume.channel.MemoryChannel",
            "org.apache.flume.sink.LoggerSink",
        ),
        ("TAILDIR", "memory", "org.apache.flume.sink.NullSink"),
    ] {
        let text = BASE
            .replace("r1.type = TAILDIR", &format!("r1.type = {src}"))
            .replace("c1.type = memory", &format!("c1.type = {ch}"))
            .replace("k1.type = logger", &format!("k1.type = {sink}"));
        ok(&text);
    }
}

#[test]
fn flume_types_not_supported_yet() {
    let e = only_error(
        &BASE.replace("r1.type = TAILDIR", "r1.type = exec"),
        "not supported by spate yet",
    );
    assert_at(&e, 4, "a1.sources.r1.type");
    assert!(e.message.contains("source type `exec`"), "{e}");
    assert_hint(&e, "spate supports source types: TAILDIR");

    let e = only_error(
        &BASE.replace("c1.type = memory", "c1.type = jdbc"),
        "not supported by spate yet",
    );
    assert_at(&e, 9, "a1.channels.c1.type");
    assert_hint(&e, "spate supports channel types: memory, file");

    for sink in [
        "hdfs",
        "thrift",
        "KAFKA",
        "org.apache.flume.sink.kafka.KafkaSink",
    ] {
        let e = only_error(
            &BASE.replace("k1.type = logger", &format!("k1.type = {sink}")),
            "not supported by spate yet",
        );
        assert_at(&e, 10, "a1.sinks.k1.type");
        assert_hint(&e, "spate supports sink types: avro, logger, null, tcp");
    }
}

#[test]
fn unknown_and_missing_types() {
    let e = only_error(
        &BASE.replace("r1.type = TAILDIR", "r1.type = TAILDR"),
        "unknown source type `TAILDR`",
    );
    assert_at(&e, 4, "a1.sources.r1.type");
    assert_hint(&e, "did you mean `TAILDIR`?");

    let e = only_error(
        &BASE.replace("a1.sinks.k1.type = logger\n", ""),
        "has no `type`",
    );
    assert_at(&e, 10, "a1.sinks.k1.type");
    assert_hint(
        &e,
        "add `a1.sinks.k1.type = avro` (spate supports: avro, logger, null, tcp)",
    );
}

#[test]
fn unknown_keys_are_warnings_with_suggestions() {
    // Flume ignores keys it does not read, and starts: so does spate, with a warning.
    let e = only_warning(
        &with("a1.sources.r1.batchsize = 10\n"),
        "unknown key `batchsize`",
    );
    assert_at(&e, 12, "a1.sources.r1.batchsize");
    assert_hint(&e, "did you mean `batchSize`?");

    let e = only_warning(
        &with("a1.channels.c1.transactioncapacity = 10\n"),
        "unknown key",
    );
    assert_hint(&e, "did you mean `transactionCapacity`?");

    let e = only_warning(
        &with("a1.sinks.k1.zzz = 1\n"),
        "unknown key `zzz` for a logger sink",
    );
    assert_at(&e, 12, "a1.sinks.k1.zzz");
    assert_hint(
        &e,
        "valid keys for a logger sink: type, channel, maxBytesToLog",
    );
}

#[test]
fn unsupported_features_are_errors() {
    let cases = [
        (
            "a1.configfilters = f1",
            "config filters are not supported by spate yet",
            "a1.configfilters",
        ),
        (
            "a1.configfilters.f1.type = env",
            "config filters are not supported",
            "a1.configfilters.f1.type",
        ),
    ];
    for (line, needle, key) in cases {
        let e = only_error(&with(&format!("{line}\n")), needle);
        assert_at(&e, 12, key);
        assert!(e.hint.is_some(), "{e}");
    }
    // The default selector, spelled out, is fine.
    ok(&with("a1.sources.r1.selector.type = REPLICATING\n"));
}

#[test]
fn bad_numbers_and_booleans() {
    let cases = [
        (
            "a1.sources.r1.batchSize = abc",
            "invalid value `abc`: expected an integer from 1 to 2147483647 (events)",
        ),
        (
            "a1.sources.r1.batchSize = 0",
            "invalid value `0`: expected an integer from 1 to",
        ),
        (
            "a1.sources.r1.idleTimeout = -5",
            "invalid value `-5`: expected an integer from 1 to 2147483647 (milliseconds)",
        ),
        ("a1.sources.r1.maxBatchCount = 1.5", "invalid value `1.5`"),
        (
            "a1.sources.r1.readBufferSize = 1024",
            "expected an integer from 4096 to 67108864 (bytes)",
        ),
        (
            "a1.channels.c1.keep-alive = x",
            "expected an integer from 0 to 2147483647 (seconds)",
        ),
        (
            "a1.channels.c1.byteCapacityBufferPercentage = 100",
            "expected an integer from 0 to 99 (percent)",
        ),
        (
            "a1.sources.r1.skipToEnd = yes",
            "`yes` is not a boolean: expected true or false",
        ),
        (
            "a1.sources.r1.lineOverflow = wrap",
            "invalid value `wrap`: expected split or truncate",
        ),
        ("a1.sources.r1.fileHeaderKey =", "empty value"),
    ];
    for (line, needle) in cases {
        let e = only_error(&with(&format!("{line}\n")), needle);
        let key = line.split(" =").next().unwrap();
        assert_at(&e, 12, key);
    }
}

#[test]
fn batch_size_larger_than_transaction_capacity() {
    let e = only_error(
        &with("a1.sources.r1.batchSize = 500\n"),
        "batchSize 500 is larger than the transactionCapacity 100 of channel `c1`",
    );
    assert_at(&e, 12, "a1.sources.r1.batchSize");
    assert_hint(&e, "a1.channels.c1.transactionCapacity");

    let e = only_error(
        &with("a1.channels.c1.transactionCapacity = 10\n"),
        "batchSize 100 (the default) is larger",
    );
    assert_at(&e, 4, "a1.sources.r1.batchSize");

    let null = BASE.replace("k1.type = logger", "k1.type = null");
    let e = only_error(
        &format!("{null}a1.sinks.k1.batchSize = 200\n"),
        "batchSize 200 is larger than the transactionCapacity 100",
    );
    assert_at(&e, 12, "a1.sinks.k1.batchSize");

    let tcp = BASE.replace("k1.type = logger", "k1.type = tcp");
    let e = only_error(
        &format!(
            "{tcp}a1.sinks.k1.hostname = h\na1.sinks.k1.port = 9\na1.sinks.k1.batch-size = 101\n"
        ),
        "batch-size 101 is larger than the transactionCapacity 100",
    );
    assert_at(&e, 14, "a1.sinks.k1.batch-size");
}

#[test]
fn transaction_capacity_larger_than_capacity() {
    let e = only_error(
        &with("a1.channels.c1.capacity = 50\na1.channels.c1.transactionCapacity = 60\na1.sources.r1.batchSize = 10\n"),
        "transactionCapacity 60 is larger than capacity 50",
    );
    assert_at(&e, 13, "a1.channels.c1.transactionCapacity");
    assert_hint(&e, "raise `a1.channels.c1.capacity` to at least 60");
}

#[test]
fn listed_but_not_configured() {
    let text = BASE.replace("a1.sinks = k1", "a1.sinks = k1 k2");
    let e = only_error(&text, "sink `k2` is listed but not configured");
    assert_at(&e, 3, "a1.sinks");
    assert_hint(&e, "add `a1.sinks.k2.type = ...`");
}

#[test]
fn configured_but_not_listed() {
    // Flume ignores a component it does not list (a way to turn one off): a warning.
    let e = only_warning(
        &with("a1.sinks.k9.type = null\na1.sinks.k9.channel = c1\n"),
        "sink `k9` is configured but not listed",
    );
    assert_at(&e, 12, "a1.sinks.k9.type");
    assert_hint(&e, "add `k9` to `a1.sinks = k1`");

    // Without a list at all, the agent would have no sink: an error.
    let text = BASE.replace("a1.sinks = k1\n", "");
    let e = only_error(&text, "agent `a1` lists no sinks");
    assert_at(&e, 9, "a1.sinks");
    assert_hint(&e, "k1 configured: add `a1.sinks = k1`");
    assert!(parse(&text).unwrap_err().warnings().next().is_none());
}

#[test]
fn nothing_listed() {
    let e = find_error(
        &BASE
            .replace("a1.sinks.k1.type = logger\na1.sinks.k1.channel = c1\n", "")
            .replace("a1.sinks = k1\n", ""),
        "lists no sinks",
    );
    assert_eq!(e.key.as_deref(), Some("a1.sinks"));
    let e = find_error(
        &BASE.replace("a1.sinks = k1", "a1.sinks ="),
        "lists no sinks",
    );
    assert_at(&e, 3, "a1.sinks");
    // As in Flume, a name listed twice is one component.
    let e = only_warning(
        &BASE.replace("a1.sinks = k1", "a1.sinks = k1 k1"),
        "listed twice",
    );
    assert_at(&e, 3, "a1.sinks");
    let e = only_warning(
        &BASE.replace("r1.channels = c1", "r1.channels = c1 c1"),
        "listed twice",
    );
    assert_at(&e, 5, "a1.sources.r1.channels");
    let e = only_warning(
        &BASE.replace("filegroups = f1", "filegroups = f1 f1"),
        "listed twice",
    );
    assert_at(&e, 7, "a1.sources.r1.filegroups");
}

#[test]
fn source_channels_wiring() {
    let e = only_error(
        &BASE.replace("a1.sources.r1.channels = c1\n", ""),
        "the source has no `channels`",
    );
    assert_at(&e, 4, "a1.sources.r1.channels");
    let text = BASE.replace("r1.channels = c1", "r1.channels = c1 c2");
    let e = only_error(&text, "channel `c2` is not listed in `a1.channels`");
    assert_at(&e, 5, "a1.sources.r1.channels");
    assert_hint(&e, "add `c2` to `a1.channels`");
    let e = find_error(
        &BASE.replace("r1.channels = c1", "r1.channels = c2"),
        "channel `c2` is not listed",
    );
    assert_hint(&e, "did you mean `c1`?");
}

#[test]
fn sink_channel_wiring() {
    let e = find_error(
        &BASE.replace("a1.sinks.k1.channel = c1\n", ""),
        "the sink has no `channel`",
    );
    assert_at(&e, 10, "a1.sinks.k1.channel");
    let e = find_error(
        &BASE.replace("k1.channel = c1", "k1.channels = c1"),
        "the sink has no `channel`",
    );
    assert_hint(&e, "(singular)");
    let text = BASE
        .replace("a1.channels = c1", "a1.channels = c1 c2")
        .replace("k1.channel = c1", "k1.channel = c1 c2");
    let e = find_error(
        &format!("{text}a1.channels.c2.type = memory\n"),
        "a sink reads exactly one channel, got 2",
    );
    assert_at(&e, 11, "a1.sinks.k1.channel");
}

#[test]
fn channel_without_writer_or_reader() {
    let text = BASE.replace("a1.channels = c1", "a1.channels = c1 c2");
    let errs = errors(&format!("{text}a1.channels.c2.type = memory\n"));
    assert_eq!(errs.len(), 2, "{}", ConfigErrors(errs.clone()));
    assert!(
        errs[0].message.contains("no source writes to channel `c2`"),
        "{}",
        errs[0]
    );
    assert_hint(&errs[0], "add `c2` to a source's channels");
    assert!(
        errs[1].message.contains("no sink reads channel `c2`"),
        "{}",
        errs[1]
    );
    assert_hint(&errs[1], "a1.sinks.<sink>.channel = c2");
    for e in &errs {
        assert_at(e, 12, "a1.channels.c2");
    }
}

#[test]
fn filegroup_errors() {
    let e = only_error(
        &BASE.replace("a1.sources.r1.filegroups = f1\na1.sources.r1.filegroups.f1 = /var/log/app/.*\\\\.log\n", ""),
        "a TAILDIR source needs `filegroups`",
    );
    assert_at(&e, 4, "a1.sources.r1.filegroups");

    let e = only_error(
        &BASE.replace("filegroups = f1", "filegroups = f1 f2"),
        "file group `f2` has no path",
    );
    assert_at(&e, 7, "a1.sources.r1.filegroups");
    assert_hint(&e, "a1.sources.r1.filegroups.f2 = ");

    // Flume ignores a group that is not listed: a warning.
    let e = only_warning(
        &with("a1.sources.r1.filegroups.f3 = /tmp/x\n"),
        "file group `f3` is not listed",
    );
    assert_at(&e, 12, "a1.sources.r1.filegroups.f3");
    assert_hint(&e, "add `f3` to `a1.sources.r1.filegroups`");

    let e = only_warning(
        &with("a1.sources.r1.headers.g1.k = v\n"),
        "file group `g1` is not listed",
    );
    assert_at(&e, 12, "a1.sources.r1.headers.g1.k");
    assert_hint(&e, "did you mean `f1`?");

    let e = only_error(
        &with("a1.sources.r1.headers.f1 = v\n"),
        "expected `headers.<group>.<header name>`",
    );
    assert_at(&e, 12, "a1.sources.r1.headers.f1");

    for (path, needle) in [
        ("logs/.*\\\\.log", "is not an absolute path"),
        ("app.log", "is not an absolute path"),
        ("/var/log/app/", "the file-name part is missing"),
        (
            "/var/log/(unclosed",
            "invalid regular expression `(unclosed`",
        ),
        ("/var/log/(?<=x)a", "invalid regular expression"),
    ] {
        let text = BASE.replace("/var/log/app/.*\\\\.log", path);
        let e = only_error(&text, needle);
        assert_at(&e, 8, "a1.sources.r1.filegroups.f1");
        assert!(e.hint.is_some(), "{e}");
    }
}

#[test]
fn directory_part_is_literal() {
    let c = ok(&BASE.replace("/var/log/app/.*\\\\.log", "/var/log/a.(b)/x[0-9]+"));
    let g = &taildir(&c).filegroups[0];
    assert_eq!(g.dir, Path::new("/var/log/a.(b)"));
    assert_eq!(g.pattern, "x[0-9]+");
    let c = ok(&BASE.replace("/var/log/app/.*\\\\.log", "/.*"));
    assert_eq!(taildir(&c).filegroups[0].dir, Path::new("/"));
}

#[test]
fn env_substitution() {
    std::env::set_var("SPATE_CONFIG_TEST_DIR", "/srv/logs");
    std::env::set_var("SPATE_CONFIG_TEST_BATCH", "50");
    let text = BASE
        .replace("/var/log/app/", "${env:SPATE_CONFIG_TEST_DIR}/")
        .replace(
            "a1.sources.r1.positionFile",
            "a1.sources.r1.batchSize = ${env:SPATE_CONFIG_TEST_BATCH}\na1.sources.r1.positionFile",
        );
    let c = ok(&text);
    assert_eq!(taildir(&c).filegroups[0].dir, Path::new("/srv/logs"));
    assert_eq!(taildir(&c).batch_size, 50);

    let e = only_error(
        &with("a1.sources.r1.fileHeaderKey = x${env:SPATE_CONFIG_TEST_UNSET_VAR}\n"),
        "environment variable `SPATE_CONFIG_TEST_UNSET_VAR` is not set",
    );
    assert_at(&e, 12, "a1.sources.r1.fileHeaderKey");
    assert_hint(&e, "set SPATE_CONFIG_TEST_UNSET_VAR");
    let e = only_error(
        &with("a1.sources.r1.fileHeaderKey = ${env:OOPS\n"),
        "unterminated",
    );
    assert_at(&e, 12, "a1.sources.r1.fileHeaderKey");

    // Flume has no default values: the syntax is refused, not taken for a variable name.
    let e = only_error(
        &with("a1.sources.r1.fileHeaderKey = ${env:SPATE_CONFIG_TEST_UNSET_VAR:-file}\n"),
        "unsupported syntax `${env:SPATE_CONFIG_TEST_UNSET_VAR:-file}`",
    );
    assert_at(&e, 12, "a1.sources.r1.fileHeaderKey");
    assert_hint(
        &e,
        "set SPATE_CONFIG_TEST_UNSET_VAR in the agent's environment",
    );
    let e = only_error(
        &with("a1.sources.r1.fileHeaderKey = ${env:SPATE_CONFIG_TEST_DIR:=x}\n"),
        "unsupported syntax",
    );
    assert_at(&e, 12, "a1.sources.r1.fileHeaderKey");

    // Keys are not substituted; another agent's unset variables do not matter.
    // (`:` ends a key in a .properties file, so it has to be escaped to appear in one.)
    let e = only_warning(
        &with("a1.sources.${env\\:SPATE_CONFIG_TEST_DIR}.type = x\n"),
        "not listed",
    );
    assert_eq!(
        e.key.as_deref(),
        Some("a1.sources.${env:SPATE_CONFIG_TEST_DIR}.type")
    );
    ok(&with("a2.sources = ${env:SPATE_CONFIG_TEST_UNSET_VAR}\n"));
}

#[test]
fn several_agents_in_one_file() {
    let a2 = BASE
        .replace("a1.", "a2.")
        .replace("r1.type = TAILDIR", "r1.type = taildir")
        .replace("k1.type = logger", "k1.type = null");
    let text = format!("{BASE}{a2}");
    let c1 = ok(&text);
    assert_eq!(c1.name, "a1");
    assert_eq!(c1.sinks[0].spec.type_name(), "logger");
    let c2 = parse_str(&text, Some(Path::new(FILE)), "a2").unwrap();
    assert_eq!(c2.name, "a2");
    assert_eq!(c2.sinks[0].spec.type_name(), "null");

    let errs = parse_str(&text, Some(Path::new(FILE)), "a3").unwrap_err().0;
    assert_eq!(errs.len(), 1);
    let e = &errs[0];
    assert!(e.message.contains("no configuration for agent `a3`"), "{e}");
    assert_eq!(e.file.as_deref(), Some(Path::new(FILE)));
    assert_hint(e, "agents defined: a1, a2");
    let errs = parse_str("", None, "a1").unwrap_err().0;
    assert_hint(&errs[0], "start with `a1.`");
}

#[test]
fn unknown_agent_key() {
    let e = only_warning(
        &with("a1.source.r1.type = TAILDIR\n"),
        "unknown agent key `source.r1.type`",
    );
    assert_at(&e, 12, "a1.source.r1.type");
    assert_hint(&e, "did you mean `a1.sources`?");
    let e = only_warning(
        &with("a1.sources.r1 = x\n"),
        "expected a component property",
    );
    assert_at(&e, 12, "a1.sources.r1");
}

#[test]
fn duplicate_key_later_wins_with_a_warning_naming_both_lines() {
    let text = with("a1.sources.r1.batchSize = 10\na1.sources.r1.batchSize = 20\n");
    let c = parse(&text).unwrap();
    assert_eq!(taildir(&c).batch_size, 20);
    let w = only_warning(&text, "set twice in this file: line 13 replaces line 12");
    assert_at(&w, 13, "a1.sources.r1.batchSize");
    let e = only_error(
        &with("a1.sources.r1.batchSize = 10\na1.sources.r1.batchSize = 0\n"),
        "invalid value `0`",
    );
    assert_eq!(e.line, Some(13));
    // Another agent's keys are not this agent's business.
    ok(&with("a2.sources = x\na2.sources = y\n"));
}

#[test]
fn properties_syntax_in_a_config() {
    let text = "\
# Flume agent
! also a comment
a1.sources : r1
a1.channels c1
a1.sinks=k1
a1.sources.r1.type = TAILDIR
a1.sources.r1.channels = c1
a1.sources.r1.positionFile = /var/lib/\\u0073pate/pos.json
a1.sources.r1.filegroups = f1 \\
                           f2
a1.sources.r1.filegroups.f1 = /var/log/app/.*\\\\.log
a1.sources.r1.filegroups.f2 = /var/log/app/x\\.log
a1.sources.r1.headers.f1.k = tab\\tseparated   
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
";
    let c = ok(text);
    let t = taildir(&c);
    assert_eq!(t.position_file, Path::new("/var/lib/spate/pos.json"));
    let names: Vec<_> = t.filegroups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["f1", "f2"]);
    assert_eq!(t.filegroups[0].pattern, ".*\\.log");
    // As in Java, `\.` is just `.`.
    assert_eq!(t.filegroups[1].pattern, "x.log");
    assert_eq!(
        t.filegroups[0].headers,
        [("k".to_string(), "tab\tseparated".to_string())]
    );
    // The line after a continuation keeps counting: line 11 is f1's path.
    let e = only_error(
        &text.replace("/var/log/app/.*", "relative/.*"),
        "not an absolute path",
    );
    assert_at(&e, 11, "a1.sources.r1.filegroups.f1");
}

#[test]
fn all_errors_reported_sorted_by_line() {
    let text = "\
a1.sinks.k1.type = hdfs
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = TAILDIR
a1.sources.r1.channels = c1
a1.sources.r1.positionFile = /p
a1.sources.r1.filegroups = f1
a1.sources.r1.filegroups.f1 = /var/log/[
a1.sources.r1.batchSize = many
a1.sinks.k1.channel = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 0
";
    let errs = errors(text);
    let lines: Vec<_> = errs.iter().map(|e| e.line.unwrap()).collect();
    assert_eq!(lines, [1, 9, 10, 13], "{}", ConfigErrors(errs.clone()));
    let shown = ConfigErrors(errs).to_string();
    assert!(shown.starts_with("agent.properties:1: a1.sinks.k1.type: sink type `hdfs` is not supported by spate yet\n  hint: "), "{shown}");
}

#[test]
fn several_files_merged_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.properties");
    let over = dir.path().join("override.properties");
    std::fs::write(&base, BASE).unwrap();
    std::fs::write(
        &over,
        "a1.sources.r1.batchSize = 10\na1.channels.c1.capacity = 500\n",
    )
    .unwrap();
    let c = load(&[base.clone(), over.clone()], "a1").unwrap();
    assert_eq!(taildir(&c).batch_size, 10);
    assert_eq!(memory(&c).capacity, 500);

    // Errors name the file the key came from, in the order the files were given.
    std::fs::write(
        &over,
        "a1.sources.r1.batchSize = 1000\na1.sinks.k1.bogus = 1\n",
    )
    .unwrap();
    let errs = load(&[base.clone(), over.clone()], "a1").unwrap_err().0;
    assert_eq!(errs.len(), 2);
    assert!(errs
        .iter()
        .all(|e| e.file.as_deref() == Some(over.as_path())));
    assert_eq!((errs[0].line, errs[1].line), (Some(1), Some(2)));
    assert!(!errs[0].is_warning() && errs[1].is_warning());
    std::fs::write(&over, "a1.sources.r1.batchSize = zero\n").unwrap();
    let errs = load(&[over.clone(), base.clone()], "a1").unwrap_err().0;
    assert_eq!(errs[0].to_string().lines().next().unwrap(), format!("{}:1: a1.sources.r1.batchSize: invalid value `zero`: expected an integer from 1 to 2147483647 (events)", over.display()));

    let missing = dir.path().join("missing.properties");
    let errs = load(&[base.clone(), missing.clone()], "a1").unwrap_err().0;
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].file.as_deref(), Some(missing.as_path()));
    assert!(errs[0].message.contains("cannot read"), "{}", errs[0]);
    assert!(load(&[], "a1").is_err());
}

#[test]
fn default_config_loads() {
    let c = load_default().unwrap();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(c.name, "a1");
    let t = taildir(&c);
    assert_eq!(t.filegroups[0].dir, cwd.join("logs"));
    assert_eq!(t.filegroups[0].pattern, ".*\\.log");
    assert!(
        regex::Regex::new(&format!("^(?:{})$", t.filegroups[0].pattern))
            .unwrap()
            .is_match("app.log")
    );
    assert_eq!(t.position_file, cwd.join("logs/.spate_position.json"));
    let m = memory(&c);
    assert_eq!((m.capacity, m.transaction_capacity), (10_000, 1_000));
    assert!(t.batch_size <= m.transaction_capacity);
    assert_eq!(
        c.sinks[0].spec.get(),
        Some(&LoggerSinkConfig {
            max_bytes_to_log: 4096,
            text: true,
        })
    );
    // Only the embedded default may use relative paths.
    let e = only_error_agent(DEFAULT_CONFIG, "not an absolute path");
    assert_eq!(e.key.as_deref(), Some("a1.sources.r1.filegroups.f1"));
}

fn only_error_agent(text: &str, needle: &str) -> ConfigError {
    let errs = parse_str(text, None, "a1").unwrap_err().0;
    assert_eq!(errs.len(), 1, "{}", ConfigErrors(errs.clone()));
    assert!(errs[0].message.contains(needle), "{}", errs[0]);
    errs[0].clone()
}

#[test]
fn describe_shows_every_effective_setting() {
    let tcp = BASE.replace("a1.sinks = k1", "a1.sinks = k1 k2")
        + "a1.sinks.k2.type = tcp\na1.sinks.k2.channel = c1\na1.sinks.k2.hostname = h\na1.sinks.k2.port = 9\na1.sources.r1.headers.f1.topic = app\n";
    let d = ok(&tcp).describe();
    let expected = "\
agent a1
source r1 (TAILDIR) -> c1
  filegroups = f1
  filegroups.f1 = /var/log/app/.*\\.log
  headers.f1.topic = app
  positionFile = /var/lib/spate/pos.json
  byteOffsetHeader = false
  skipToEnd = false
  idleTimeout = 120000
  writePosInterval = 250
  batchSize = 100
  maxBatchCount = unlimited
  backoffSleepIncrement = 1000
  maxBackoffSleep = 5000
  cachePatternMatching = true
  fileHeader = false
  fileHeaderKey = file
  maxLineLength = 1048576  # spate extension
  lineOverflow = split  # spate extension
  readBufferSize = 262144  # spate extension
  pollInterval = 250  # spate extension
  watcher = inotify  # spate extension
  shards = 1  # spate extension
  selector.type = replicating
channel c1 (memory)
  capacity = 100
  transactionCapacity = 100
  keep-alive = 3
  byteCapacity = 16777216  # Flume's default: 80% of flume-ng's default 20 MiB heap
  byteCapacityBufferPercentage = 20
  # sources' positions advance past events when a sink commits them
sink k1 (logger) <- c1
  maxBytesToLog = 16
  format = flume  # spate extension
sink k2 (tcp, a spate extension) <- c1
  hostname = h
  port = 9
  batch-size = 100
  framing = newline
  connect-timeout = 20000
  request-timeout = 20000
  max-backoff = 5000
";
    assert_eq!(d, expected);
}

#[test]
fn fan_out_to_several_channels_in_list_order() {
    let text = BASE
        .replace("a1.channels = c1", "a1.channels = c2 c1")
        .replace("r1.channels = c1", "r1.channels = c1 c2")
        .replace("a1.sinks = k1", "a1.sinks = k1 k2");
    let c = ok(&format!(
        "{text}a1.channels.c2.type = memory\na1.channels.c2.transactionCapacity = 100\na1.sinks.k2.type = null\na1.sinks.k2.channel = c2\n"
    ));
    assert_eq!(c.sources[0].channels, ["c1", "c2"]);
    let names: Vec<_> = c.channels.iter().map(|ch| ch.name.as_str()).collect();
    assert_eq!(names, ["c2", "c1"]);
}

#[test]
fn errors_without_a_file_show_the_line() {
    let errs = parse_str(&with("a1.sources.r1.batchSize = x\n"), None, "a1").unwrap_err();
    assert_eq!(
        errs.to_string(),
        "line 12: a1.sources.r1.batchSize: invalid value `x`: expected an integer from 1 to 2147483647 (events)"
    );
    let errs: &dyn std::error::Error = &errs;
    assert!(!errs.to_string().is_empty());
}

#[test]
fn describe_file_group_in_root_directory() {
    let c = ok(&BASE.replace("/var/log/app/.*\\\\.log", "/app-.*"));
    assert!(
        c.describe().contains("\n  filegroups.f1 = /app-.*\n"),
        "{}",
        c.describe()
    );
}

#[test]
fn unreadable_file_is_the_only_error() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("part.properties");
    std::fs::write(&part, "a1.sources = r1\n").unwrap();
    let missing: PathBuf = dir.path().join("nope.properties");
    let errs = load(&[part, missing.clone()], "a1").unwrap_err().0;
    assert_eq!(errs.len(), 1, "{}", ConfigErrors(errs.clone()));
    assert_eq!(errs[0].file.as_deref(), Some(missing.as_path()));
    assert_hint(&errs[0], "-f");
}

#[test]
fn a_file_over_the_size_limit_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.properties");
    std::fs::write(&big, BASE).unwrap();
    // Sparse beyond the text: the size is what counts, not what is on disk.
    let f = std::fs::OpenOptions::new().append(true).open(&big).unwrap();
    f.set_len(MAX_FILE_SIZE + 1).unwrap();
    let errs = load(std::slice::from_ref(&big), "a1").unwrap_err().0;
    assert_eq!(errs.len(), 1, "{}", ConfigErrors(errs.clone()));
    assert_eq!(errs[0].file.as_deref(), Some(big.as_path()));
    assert_eq!(
        errs[0].message,
        format!(
            "the configuration file is larger than 16 MiB ({} bytes), the most spate reads",
            MAX_FILE_SIZE + 1
        )
    );
    // At the limit, it is read.
    f.set_len(MAX_FILE_SIZE).unwrap();
    let c = load(&[big], "a1").unwrap();
    assert_eq!(c.name, "a1");
}

#[test]
fn a_stream_over_the_size_limit_is_refused() {
    // /dev/zero has no size to check first: it is read up to the limit, no further.
    let zero = Path::new("/dev/zero");
    let errs = load(&[zero.to_path_buf()], "a1").unwrap_err().0;
    assert_eq!(errs.len(), 1, "{}", ConfigErrors(errs.clone()));
    assert!(
        errs[0].message.contains("larger than 16 MiB"),
        "{}",
        errs[0]
    );
}

#[test]
fn absurd_sizes_are_refused_with_the_allowed_range() {
    let tcp = BASE.replace(
        "a1.sinks.k1.type = logger\n",
        "a1.sinks.k1.type = tcp\na1.sinks.k1.hostname = h\na1.sinks.k1.port = 9\n",
    );
    let null = BASE.replace("k1.type = logger", "k1.type = null");
    let cases: &[(&str, &str, &str)] = &[
        (
            BASE,
            "sources.r1.batchSize",
            "from 1 to 2147483647 (events)",
        ),
        (
            BASE,
            "sources.r1.idleTimeout",
            "from 1 to 2147483647 (milliseconds)",
        ),
        (
            BASE,
            "sources.r1.writePosInterval",
            "from 1 to 2147483647 (milliseconds)",
        ),
        (
            BASE,
            "sources.r1.backoffSleepIncrement",
            "from 1 to 31536000000 (milliseconds)",
        ),
        (
            BASE,
            "sources.r1.maxBackoffSleep",
            "from 1 to 31536000000 (milliseconds)",
        ),
        (
            BASE,
            "sources.r1.pollInterval",
            "from 1 to 31536000000 (milliseconds)",
        ),
        (
            BASE,
            "sources.r1.maxLineLength",
            "from 1 to 268435456 (bytes)",
        ),
        (
            BASE,
            "sources.r1.readBufferSize",
            "from 4096 to 67108864 (bytes)",
        ),
        (
            BASE,
            "channels.c1.capacity",
            "from 1 to 2147483647 (events)",
        ),
        (
            BASE,
            "channels.c1.transactionCapacity",
            "from 1 to 2147483647 (events)",
        ),
        (
            BASE,
            "channels.c1.keep-alive",
            "from 0 to 2147483647 (seconds)",
        ),
        (
            BASE,
            "channels.c1.byteCapacity",
            "from 1 to 1099511627776 (bytes)",
        ),
        (
            BASE,
            "sinks.k1.maxBytesToLog",
            "from 1 to 2147483647 (bytes)",
        ),
        (&null, "sinks.k1.batchSize", "from 1 to 2147483647 (events)"),
        (&tcp, "sinks.k1.batch-size", "from 1 to 2147483647 (events)"),
        (
            &tcp,
            "sinks.k1.connect-timeout",
            "from 1 to 31536000000 (milliseconds)",
        ),
        (
            &tcp,
            "sinks.k1.request-timeout",
            "from 1 to 31536000000 (milliseconds)",
        ),
        (
            &tcp,
            "sinks.k1.max-backoff",
            "from 100 to 31536000000 (milliseconds)",
        ),
    ];
    for (base, key, range) in cases {
        let line = base.lines().count() + 1;
        let text = format!("{base}a1.{key} = 99999999999999\n");
        let e = only_error(&text, "invalid value `99999999999999`");
        assert_at(&e, line, &format!("a1.{key}"));
        assert!(
            e.message.ends_with(&format!("expected an integer {range}")),
            "{key}: {e}"
        );
    }
}

/// Every error and warning of `text`, whether it parses or not.
fn everything(text: &str) -> Vec<ConfigError> {
    match parse(text) {
        Ok(c) => c.warnings,
        Err(e) => e.0,
    }
}

#[test]
fn long_values_are_shortened_in_messages() {
    let long = "x".repeat(10_000);
    let path = "/var/log/app/.*\\\\.log";
    let cases = [
        with(&format!("a1.sources.r1.batchSize = {long}\n")),
        with(&format!("a1.sources.r1.skipToEnd = {long}\n")),
        with(&format!("a1.sources.r1.lineOverflow = {long}\n")),
        with(&format!("a1.sources.r1.shards = {long}\n")),
        with(&format!("a1.sources.r1.fileHeaderKey = ${{env:{long}}}\n")),
        with(&format!(
            "a1.sources.r1.fileHeaderKey = ${{env:{long}:-x}}\n"
        )),
        with(&format!("a1.sources.r1.{long} = 1\n")),
        with(&format!("a1.sources.r1.headers.{long}.k = v\n")),
        with(&format!("a1.sources.r1.filegroups.{long} = /x\n")),
        with(&format!("a1.sinks.{long}.type = null\n")),
        with(&format!("a1.{long} = 1\n")),
        BASE.replace("r1.type = TAILDIR", &format!("r1.type = {long}")),
        BASE.replace(
            "c1.type = memory",
            &format!("c1.type = org.apache.flume.{long}"),
        ),
        BASE.replace("k1.channel = c1", &format!("k1.channel = {long}")),
        BASE.replace("r1.channels = c1", &format!("r1.channels = c1 {long}")),
        BASE.replace("a1.sinks = k1", &format!("a1.sinks = k1 {long}")),
        BASE.replace("a1.sinks = k1", &format!("a1.sinks = k1 {long} {long}")),
        BASE.replace("filegroups = f1", &format!("filegroups = f1 {long}")),
        BASE.replace(path, &format!("/var/log/{long}(")),
        BASE.replace(path, &long),
        BASE.replace(path, &format!("/{long}/")),
        BASE.replace("a1.sinks = k1\n", "")
            .replace("a1.sinks.k1.", &format!("a1.sinks.k{long}.")),
    ];
    for (i, text) in cases.iter().enumerate() {
        let all = everything(text);
        assert!(!all.is_empty(), "case {i}: nothing reported");
        for e in all {
            let shown = e.to_string();
            assert!(
                shown.len() <= 1000,
                "case {i}: {} bytes: {}…",
                shown.len(),
                &shown[..300]
            );
        }
    }
    // Another agent's name is not shown whole either.
    let errs = parse_str(&format!("{long}.sources = r1\n"), None, "a1").unwrap_err();
    assert!(
        errs.to_string().len() <= 1000,
        "{}",
        &errs.to_string()[..300]
    );
}

/// Runs `parse` on `text` and returns what it found and how long it took.
fn timed(text: &str) -> (Vec<ConfigError>, Duration) {
    let start = std::time::Instant::now();
    let found = everything(text);
    (found, start.elapsed())
}

#[test]
fn a_long_name_among_long_names_is_checked_in_bounded_time() {
    // The case: a 10,000-character name compared with 100,000 characters of names.
    let names: Vec<String> = (0..10)
        .map(|i| format!("c{i}{}", "x".repeat(10_000)))
        .collect();
    let text = BASE
        .replace(
            "a1.channels = c1",
            &format!("a1.channels = c1 {}", names.join(" ")),
        )
        .replace(
            "r1.channels = c1",
            &format!("r1.channels = c1 y{}", "x".repeat(10_000)),
        );
    let (found, took) = timed(&text);
    assert!(found.iter().any(|e| e.message.contains("is not listed")));
    // A sanity bound only (the structure is tested in props.rs): it took 16 s before.
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn many_components_are_checked_in_bounded_time() {
    // 20,000 names listed, 20,000 others configured: every check is linear in them.
    let n = 20_000;
    let mut text = String::from(BASE);
    let listed: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
    text = text.replace(
        "a1.sinks = k1",
        &format!("a1.sinks = k1 {}", listed.join(" ")),
    );
    for i in 0..n {
        text.push_str(&format!("a1.sinks.u{i}.type = null\n"));
    }
    let (found, took) = timed(&text);
    assert!(found.len() >= n, "{}", found.len());
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn one_mistake_is_one_report() {
    let tcp = BASE.replace(
        "a1.sinks.k1.type = logger\n",
        "a1.sinks.k1.type = tcp\na1.sinks.k1.hostname = h\na1.sinks.k1.port = 9\n",
    );
    let capacity = with("a1.channels.c1.capacity = 1000\n");
    let cases: Vec<(String, &str)> = vec![
        // A name misspelt in a list, or where a component is configured.
        (
            BASE.replace("a1.channels = c1", "a1.channels = c2"),
            "channel `c2` is listed but not configured",
        ),
        (
            BASE.replace("a1.sources = r1", "a1.sources = r2"),
            "source `r2` is listed but not configured",
        ),
        (
            BASE.replace("a1.channels.c1.type", "a1.channels.cl.type"),
            "channel `c1` is listed but not configured",
        ),
        (
            capacity.replace("a1.channels.c1.type", "a1.channels.cl.type"),
            "the channel has no `type`",
        ),
        (
            BASE.replace("k1.channel = c1", "k1.channel = c2"),
            "channel `c2` is not listed",
        ),
        (
            BASE.replace("r1.channels = c1", "r1.channels = c2"),
            "channel `c2` is not listed",
        ),
        (
            BASE.replace("a1.channels = c1", "a1.channels = c9")
                .replace("k1.channel = c1", "k1.channel = c9")
                + "a1.channels.c9.type = memory\n",
            "channel `c1` is not listed",
        ),
        (
            BASE.replace("a1.sinks = k1", "a1.sink = k1"),
            "lists no sinks",
        ),
        (
            BASE.replace("a1.channels = c1", "a1.channel = c1"),
            "lists no channels",
        ),
        (
            BASE.replace("r1.filegroups = f1", "r1.filegroups = f2"),
            "file group `f2` has no path",
        ),
        // A misspelt required key.
        (
            BASE.replace("r1.type = ", "r1.typ = "),
            "the source has no `type`",
        ),
        (
            BASE.replace("r1.channels = ", "r1.channel = "),
            "the source has no `channels`",
        ),
        (
            BASE.replace("r1.filegroups = ", "r1.filegroup = "),
            "needs `filegroups`",
        ),
        (
            tcp.replace("k1.hostname", "k1.hostnme"),
            "needs a `hostname`",
        ),
        (tcp.replace("k1.port", "k1.prt"), "needs a `port`"),
        // A value that cannot be read.
        (
            BASE.replace(
                "k1.type = logger",
                "k1.type = ${env:SPATE_CONFIG_TEST_UNSET_VAR}",
            ),
            "is not set",
        ),
        (
            BASE.replace(
                "r1.channels = c1",
                "r1.channels = ${env:SPATE_CONFIG_TEST_UNSET_VAR}",
            ),
            "is not set",
        ),
        (
            BASE.replace(
                "a1.channels = c1",
                "a1.channels = ${env:SPATE_CONFIG_TEST_UNSET_VAR}",
            ),
            "is not set",
        ),
        (
            BASE.replace(
                "k1.channel = c1",
                "k1.channel = ${env:SPATE_CONFIG_TEST_UNSET_VAR}",
            ),
            "is not set",
        ),
        (
            BASE.replace("c1.type = memory", "c1.type = \\u00"),
            "malformed",
        ),
        (
            with("a1.channels.c1.transactionCapacity = 500\na1.channels.c1.capacity = lots\n"),
            "invalid value `lots`",
        ),
        (
            with("a1.channels.c1.transactionCapacity = 10\na1.sources.r1.batchSize = lots\n"),
            "invalid value `lots`",
        ),
    ];
    let mut failures = Vec::new();
    for (i, (text, needle)) in cases.iter().enumerate() {
        let all = everything(text);
        if all.len() != 1 || all[0].is_warning() || !all[0].message.contains(needle) {
            failures.push(format!(
                "case {i}: expected one error containing `{needle}`, got:\n{}",
                ConfigErrors(all)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Bytes that are not UTF-8, in a list or a type.
    for (from, to) in [
        ("a1.channels = c1", "a1.channels = c1\u{e9}"),
        ("= memory", "= memory\u{e9}"),
    ] {
        let bytes: Vec<u8> = BASE
            .replace(from, to)
            .bytes()
            .flat_map(|b| {
                if b == 0xC3 {
                    None
                } else if b == 0xA9 {
                    Some(0xE9)
                } else {
                    Some(b)
                }
            })
            .collect();
        let (entries, errors) = properties::parse(&bytes, Some(Path::new(FILE)));
        let mut errs = errors;
        let found = match agent::build(
            merge(entries, "a1", &mut errs),
            errs,
            "a1",
            None,
            &[PathBuf::from(FILE)],
        ) {
            Ok(c) => c.warnings,
            Err(e) => e.0,
        };
        assert_eq!(found.len(), 1, "{}", ConfigErrors(found.clone()));
        assert!(found[0].message.contains("not UTF-8"), "{}", found[0]);
    }
}

#[test]
fn a_misspelt_required_key_is_reported_at_its_line() {
    let e = only_error(
        &BASE.replace("r1.type = ", "r1.typ = "),
        "the source has no `type`",
    );
    assert_at(&e, 4, "a1.sources.r1.typ");
    assert_hint(&e, "did you mean `type`?");
    let e = only_error(
        &BASE.replace("a1.sinks = k1", "a1.sink = k1"),
        "lists no sinks",
    );
    assert_at(&e, 3, "a1.sink");
    assert_hint(&e, "did you mean `a1.sinks`?");
    let e = only_error(
        &BASE.replace("a1.channels = c1", "a1.channels = c2"),
        "listed but not configured",
    );
    assert_at(&e, 2, "a1.channels");
    assert_hint(&e, "did you mean `c1`?");
    let e = only_error(
        &BASE.replace("r1.filegroups = f1", "r1.filegroups = f2"),
        "has no path",
    );
    assert_hint(&e, "did you mean `f1`?");
}

#[test]
fn two_sources_cannot_share_a_position_file() {
    let second = "a1.sources = r1 r2
a1.sources.r2.type = TAILDIR
a1.sources.r2.channels = c1
a1.sources.r2.filegroups = g
a1.sources.r2.filegroups.g = /var/log/other/.*
a1.sources.r2.positionFile = /var/lib/spate/pos.json
";
    let text = BASE.replace("a1.sources = r1\n", "") + second;
    let e = only_error(&text, "uses the same positionFile as source `r1`");
    assert_at(&e, 16, "a1.sources.r2.positionFile");
    assert_hint(&e, "its own `positionFile`");
    // Both left at the default: said at the second source's type.
    let text = text
        .replace("a1.sources.r1.positionFile = /var/lib/spate/pos.json\n", "")
        .replace("a1.sources.r2.positionFile = /var/lib/spate/pos.json\n", "");
    let e = only_error(&text, "uses the same positionFile");
    assert_eq!(e.key.as_deref(), Some("a1.sources.r2.positionFile"));
    assert_eq!(e.line, Some(11));
}

#[test]
fn interceptors_are_read_in_order_with_their_defaults() {
    let c = ok(&with(
        "a1.sources.r1.interceptors = ts h st rm f ex sr id
a1.sources.r1.interceptors.ts.type = timestamp
a1.sources.r1.interceptors.h.type = org.apache.flume.interceptor.HostInterceptor$Builder
a1.sources.r1.interceptors.st.type = STATIC
a1.sources.r1.interceptors.st.key = dc
a1.sources.r1.interceptors.st.value = eu-1
a1.sources.r1.interceptors.rm.type = remove_header
a1.sources.r1.interceptors.rm.matching = tmp.*
a1.sources.r1.interceptors.f.type = regex_filter
a1.sources.r1.interceptors.f.regex = DEBUG
a1.sources.r1.interceptors.f.excludeEvents = true
a1.sources.r1.interceptors.ex.type = regex_extractor
a1.sources.r1.interceptors.ex.regex = ^(\\d+) (\\w+)
a1.sources.r1.interceptors.ex.serializers = s1 s2
a1.sources.r1.interceptors.ex.serializers.s1.name = n
a1.sources.r1.interceptors.ex.serializers.s2.name = w
a1.sources.r1.interceptors.sr.type = search_replace
a1.sources.r1.interceptors.sr.searchPattern = (\\d+)
a1.sources.r1.interceptors.sr.replaceString = #$1
a1.sources.r1.interceptors.id.type = org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder
",
    ));
    let chain = &c.sources[0].interceptors;
    let names: Vec<&str> = chain.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["ts", "h", "st", "rm", "f", "ex", "sr", "id"]);
    let types: Vec<&str> = chain.iter().map(|i| i.spec.type_name()).collect();
    assert_eq!(
        types[..7],
        [
            "timestamp",
            "host",
            "static",
            "remove_header",
            "regex_filter",
            "regex_extractor",
            "search_replace"
        ]
    );
    use crate::interceptor::{
        host::HostConfig, static_header::StaticConfig, timestamp::TimestampConfig, uuid::UuidConfig,
    };
    let ts: &TimestampConfig = chain[0].spec.get().unwrap();
    assert_eq!(
        (ts.header_name.as_str(), ts.preserve_existing),
        ("timestamp", false)
    );
    let h: &HostConfig = chain[1].spec.get().unwrap();
    assert_eq!(
        (h.host_header.as_str(), h.use_ip, h.preserve_existing),
        ("host", true, false)
    );
    let st: &StaticConfig = chain[2].spec.get().unwrap();
    assert_eq!(
        (st.key.as_str(), st.value.as_str(), st.preserve_existing),
        ("dc", "eu-1", true)
    );
    let id: &UuidConfig = chain[7].spec.get().unwrap();
    assert_eq!(
        (
            id.header_name.as_str(),
            id.preserve_existing,
            id.prefix.as_str()
        ),
        ("id", true, "")
    );
    let d = c.describe();
    assert!(
        d.contains("  interceptors = ts h st rm f ex sr id\n"),
        "{d}"
    );
    assert!(
        d.contains("  interceptors.st.type = static\n  interceptors.st.key = dc\n"),
        "{d}"
    );
    assert!(d.contains("  interceptors.f.excludeEvents = true\n"), "{d}");
}

#[test]
fn interceptor_mistakes_are_errors_at_their_line() {
    let e = only_error(
        &with("a1.sources.r1.interceptors = i1\n"),
        "interceptor `i1` is listed but not configured",
    );
    assert_at(&e, 12, "a1.sources.r1.interceptors");
    let e = only_error(
        &with("a1.sources.r1.interceptors = i1\na1.sources.r1.interceptors.i1.headerName = t\n"),
        "the interceptor has no `type`",
    );
    assert_eq!(e.key.as_deref(), Some("a1.sources.r1.interceptors.i1.type"));
    let e = only_error(
        &with("a1.sources.r1.interceptors = i1\na1.sources.r1.interceptors.i1.type = timestamps\n"),
        "unknown interceptor type `timestamps`",
    );
    assert_hint(&e, "did you mean `timestamp`?");
    let e = only_error(
        &with("a1.sources.r1.interceptors = f\na1.sources.r1.interceptors.f.type = regex_filter\na1.sources.r1.interceptors.f.regex = a(b\n"),
        "invalid regular expression",
    );
    assert_at(&e, 14, "a1.sources.r1.interceptors.f.regex");
    assert_hint(&e, "unclosed group");
    let e = only_error(
        &with("a1.sources.r1.interceptors = s\na1.sources.r1.interceptors.s.type = search_replace\na1.sources.r1.interceptors.s.searchPattern = (a)\na1.sources.r1.interceptors.s.replaceString = $2\n"),
        "invalid replacement: no group 2",
    );
    assert_eq!(
        e.key.as_deref(),
        Some("a1.sources.r1.interceptors.s.replaceString")
    );
    // Configured but not listed: ignored, as Flume does, with a warning.
    let c = parse(&with("a1.sources.r1.interceptors.x.type = timestamp\n")).unwrap();
    assert!(c.sources[0].interceptors.is_empty());
    assert!(c.warnings.iter().any(|w| w
        .message
        .contains("interceptor `x` is configured but not listed")));
}

#[test]
fn selectors_are_read_and_checked_against_the_sources_channels() {
    let two = BASE
        .replace("a1.channels = c1", "a1.channels = c1 c2")
        .replace(
            "a1.sources.r1.channels = c1",
            "a1.sources.r1.channels = c1 c2",
        )
        .replace("a1.sinks = k1", "a1.sinks = k1 k2")
        + "a1.channels.c2.type = memory\na1.sinks.k2.type = null\na1.sinks.k2.channel = c2\n";
    let c = ok(&format!(
        "{two}a1.sources.r1.selector.type = multiplexing
a1.sources.r1.selector.header = state
a1.sources.r1.selector.mapping.CA = c1
a1.sources.r1.selector.mapping.AZ = c2
a1.sources.r1.selector.optional.CA = c1 c2
a1.sources.r1.selector.default = c1
"
    ));
    let expected = crate::selector::SelectorConfig::Multiplexing {
        header: "state".into(),
        mapping: vec![
            ("CA".into(), vec!["c1".into()]),
            ("AZ".into(), vec!["c2".into()]),
        ],
        // c1 is required for CA: not optional too.
        optional: vec![("CA".into(), vec!["c2".into()])],
        default: vec!["c1".into()],
    };
    assert_eq!(c.sources[0].selector, expected);
    let c = ok(&format!("{two}a1.sources.r1.selector.optional = c2\n"));
    assert_eq!(
        c.sources[0].selector,
        crate::selector::SelectorConfig::Replicating {
            optional: vec!["c2".into()]
        }
    );
    let e = only_error(
        &format!("{two}a1.sources.r1.selector.type = multiplexing\na1.sources.r1.selector.mapping.CA = c3\n"),
        "channel `c3` is not one of the source's channels",
    );
    assert_eq!(e.key.as_deref(), Some("a1.sources.r1.selector.mapping.CA"));
    let e = only_error(
        &format!("{two}a1.sources.r1.selector.type = multiplex\n"),
        "unknown channel selector",
    );
    assert_hint(&e, "did you mean `multiplexing`?");
    let e = only_error(
        &format!("{two}a1.sources.r1.selector.type = multiplexing\na1.sources.r1.selector.mapping.CA = c1 c1\n"),
        "channel `c1` is named twice",
    );
    assert_eq!(e.key.as_deref(), Some("a1.sources.r1.selector.mapping.CA"));
}

#[test]
fn sink_groups_are_read_and_checked() {
    let three = BASE.replace("a1.sinks = k1", "a1.sinks = k1 k2 k3")
        + "a1.sinks.k2.type = null\na1.sinks.k2.channel = c1\na1.sinks.k3.type = null\na1.sinks.k3.channel = c1\n";
    let c = ok(&format!(
        "{three}a1.sinkgroups = g1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = failover
a1.sinkgroups.g1.processor.priority.k1 = 10
a1.sinkgroups.g1.processor.priority.k2 = 5
"
    ));
    use crate::sink::group::Processor;
    assert_eq!(c.sinkgroups[0].sinks, ["k1", "k2"]);
    assert_eq!(
        c.sinkgroups[0].processor,
        Processor::Failover {
            priority: vec![10, 5],
            max_penalty: Duration::from_millis(30_000)
        }
    );
    assert!(c
        .describe()
        .contains("sinkgroup g1\n  sinks = k1 k2\n  processor.type = failover\n"));
    let c = ok(&format!(
        "{three}a1.sinkgroups = g\na1.sinkgroups.g.sinks = k1 k2 k3\na1.sinkgroups.g.processor.type = load_balance\n"
    ));
    assert_eq!(
        c.sinkgroups[0].processor,
        Processor::LoadBalance {
            random: false,
            backoff: false,
            max_timeout: Duration::from_millis(30_000)
        }
    );

    let group = |body: &str| format!("{three}a1.sinkgroups = g1 g2\n{body}");
    let e = only_error(
        &group("a1.sinkgroups.g1.sinks = k1 k2\na1.sinkgroups.g1.processor.type = failover\na1.sinkgroups.g2.sinks = k2 k3\na1.sinkgroups.g2.processor.type = failover\n"),
        "sink `k2` is in sink groups `g1` and `g2`",
    );
    assert_eq!(e.key.as_deref(), Some("a1.sinkgroups.g2.sinks"));
    let e = only_error(
        &format!("{three}a1.sinkgroups = g1\na1.sinkgroups.g1.sinks = k1\na1.sinkgroups.g1.processor.type = failover\n"),
        "has one sink",
    );
    assert_eq!(e.line, Some(17));
    let e = only_error(
        &format!("{three}a1.sinkgroups = g1\na1.sinkgroups.g1.sinks = k1 k9\na1.sinkgroups.g1.processor.type = failover\n"),
        "sink `k9` is not a sink of the agent",
    );
    assert_hint(&e, "did you mean");
    let e = only_error(
        &format!("{three}a1.sinkgroups = g1\na1.sinkgroups.g1.sinks = k1 k2\na1.sinkgroups.g1.processor.type = failsafe\n"),
        "unknown sink processor `failsafe`",
    );
    assert_hint(&e, "did you mean `failover`?");
    let e = only_error(
        &format!("{three}a1.sinkgroups = g1\na1.sinkgroups.g1.sinks = k1 k2\n"),
        "the default processor runs a single sink",
    );
    assert_eq!(e.line, Some(17));
}

#[test]
fn a_channel_that_delivers_itself_needs_no_sink() {
    // Flume's Kafka channel is written to by a source and read by Kafka's consumers: an agent
    // of a source and such a channel is complete.
    let sinkless = BASE
        .replace("a1.sinks = k1\n", "")
        .replace("a1.sinks.k1.type = logger\na1.sinks.k1.channel = c1\n", "")
        .replace("c1.type = memory", "c1.type = test_self_delivering");
    let c = ok(&sinkless);
    assert!(c.sinks.is_empty());
    assert!(c
        .describe()
        .contains("  # delivers its events itself: no sink needs to read it\n"));
    // Beside a memory channel, which a sink must read, the agent needs one.
    let text = BASE
        .replace("a1.channels = c1", "a1.channels = c1 c2")
        .replace(
            "a1.sources.r1.channels = c1",
            "a1.sources.r1.channels = c1 c2",
        )
        + "a1.channels.c2.type = test_self_delivering\n";
    let c = ok(&text);
    assert_eq!(c.sinks.len(), 1);
    let mixed = text
        .replace("a1.sinks = k1\n", "")
        .replace("a1.sinks.k1.type = logger\na1.sinks.k1.channel = c1\n", "");
    find_error(&mixed, "lists no sinks");
    // A memory channel alone still needs its sink.
    let e = only_error(
        &BASE
            .replace("a1.sinks = k1\n", "")
            .replace("a1.sinks.k1.type = logger\na1.sinks.k1.channel = c1\n", ""),
        "lists no sinks",
    );
    assert_eq!(e.key.as_deref(), Some("a1.sinks"));
}

#[test]
fn spate_check_says_when_positions_advance() {
    let text = ok(BASE).describe();
    let channel = &text[text.find("channel c1 (memory)\n").unwrap()..];
    let channel = &channel[..channel.find("\nsink ").unwrap()];
    assert!(
        channel.ends_with("  # sources' positions advance past events when a sink commits them"),
        "{channel}"
    );
}
