//! Monitoring as operators use it: Flume's JSON endpoint against Flume's documented attributes,
//! Prometheus text that parses and has the documented families, counters that equal what a
//! collector received and survive a reload, `/health` following a dead collector, and a server
//! that hostile clients cannot stall.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{free_port, Agent, Collector, Dirs, LogWriter, Pipeline};

const T: Duration = Duration::from_secs(60);

both_backends!(
    counters_equal_what_the_collector_received,
    counters_survive_a_reload,
);

/// A port free now (the agent binds it a moment later).
/// `GET path` on 127.0.0.1:`port`: (status, body); an error status is an answer too.
fn get(port: u16, path: &str) -> (u16, String) {
    let url = format!("http://127.0.0.1:{port}{path}");
    match ureq::get(&url).timeout(Duration::from_secs(10)).call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// Waits until the agent answers on `port`.
/// Starts `pipeline` with Prometheus metrics on a free port (and `extra` arguments), and waits
/// until they are served; returns the agent and the port.
fn start_with_metrics(pipeline: &Pipeline, extra: &[&str]) -> (Agent, u16) {
    let port = free_port();
    let port_arg = port.to_string();
    let mut args = vec!["--metrics-addr", port_arg.as_str()];
    args.extend_from_slice(extra);
    let agent = Agent::start_with(&pipeline.text(), "epoll", &args);
    wait_listening(&agent, port);
    (agent, port)
}

fn wait_listening(agent: &Agent, port: u16) {
    assert!(
        common::wait_until(T, || TcpStream::connect(("127.0.0.1", port)).is_ok()),
        "nothing listens on {port}\n{}",
        agent.diagnostics()
    );
}

/// Flume's JSON body, parsed into component -> attribute -> value.
fn flume_json(port: u16) -> HashMap<String, HashMap<String, String>> {
    let (status, body) = get(port, "/metrics");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| {
        panic!("not a map of maps of strings, as Flume's: {e}\n{body}");
    })
}

fn attr(json: &HashMap<String, HashMap<String, String>>, group: &str, key: &str) -> u64 {
    json[group][key]
        .parse()
        .unwrap_or_else(|_| panic!("{group}.{key} = {:?}", json[group][key]))
}

/// Samples of a Prometheus scrape: (family, component) -> value.
fn prometheus(port: u16) -> (HashMap<(String, String), f64>, prometheus_parse::Scrape) {
    let (status, body) = get(port, "/metrics");
    assert_eq!(status, 200, "{body}");
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("not Prometheus text: {e}\n{body}"));
    let mut values = HashMap::new();
    for s in &scrape.samples {
        let value = match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => continue,
        };
        let component = s.labels.get("component").unwrap_or("").to_string();
        values.insert((s.metric.clone(), component), value);
    }
    (values, scrape)
}

fn counters_equal_what_the_collector_received(backend: &str) {
    const N: u64 = 20_000;
    let dirs = Dirs::new();
    let collector = Collector::start();
    let (json_port, prom_port) = (free_port(), free_port());
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    let json_flag = format!("-Dflume.monitoring.port={json_port}");
    let prom = prom_port.to_string();
    let mut agent = Agent::start_with(
        &pipeline.text(),
        backend,
        &[
            "-Dflume.monitoring.type=http",
            &json_flag,
            "--metrics-addr",
            &prom,
        ],
    );
    wait_listening(&agent, json_port);
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    writer.write(N);
    collector.expect_unique(N, T, &agent);
    // The sink counts a delivery after the collector has it: wait for the commit.
    assert!(
        common::wait_until(T, || attr(
            &flume_json(json_port),
            "SINK.k1",
            "EventDrainSuccessCount"
        ) == N),
        "{:?}\n{}",
        flume_json(json_port),
        agent.diagnostics()
    );

    let json = flume_json(json_port);
    let fixture: HashMap<String, serde_json::Value> =
        serde_json::from_str(include_str!("fixtures/flume-json-metrics.json")).unwrap();
    for (group, kind) in [
        ("SOURCE.r1", "SOURCE"),
        ("CHANNEL.c1", "CHANNEL"),
        ("SINK.k1", "SINK"),
    ] {
        let attrs = json
            .get(group)
            .unwrap_or_else(|| panic!("no {group} in {json:?}"));
        for key in fixture[kind].as_array().unwrap() {
            let key = key.as_str().unwrap();
            assert!(
                attrs.contains_key(key),
                "{group} lacks Flume's {key}: {attrs:?}"
            );
        }
        assert_eq!(attrs["Type"], kind);
        assert_eq!(attrs["StopTime"], "0", "running");
        let start: u64 = attrs["StartTime"].parse().unwrap();
        assert!(
            start > 1_600_000_000_000,
            "StartTime in ms since the epoch: {start}"
        );
    }
    assert_eq!(json.len(), 3, "one entry per component: {json:?}");
    assert_eq!(collector.duplicates(), 0);
    assert_eq!(attr(&json, "SOURCE.r1", "EventReceivedCount"), N);
    assert_eq!(attr(&json, "SOURCE.r1", "EventAcceptedCount"), N);
    assert_eq!(attr(&json, "CHANNEL.c1", "EventPutSuccessCount"), N);
    assert_eq!(attr(&json, "CHANNEL.c1", "EventTakeSuccessCount"), N);
    assert_eq!(attr(&json, "CHANNEL.c1", "ChannelSize"), 0);
    assert_eq!(json["CHANNEL.c1"]["ChannelFillPercentage"], "0.0");
    assert_eq!(attr(&json, "CHANNEL.c1", "ChannelCapacity"), 10_000);
    assert_eq!(attr(&json, "SINK.k1", "EventDrainAttemptCount"), N);
    assert_eq!(attr(&json, "SINK.k1", "ConnectionCreatedCount"), 1);
    assert_eq!(attr(&json, "SOURCE.r1", "OpenConnectionCount"), 1);

    // The same figures in Prometheus text, under the documented families; the files are
    // published with the positions (every writePosInterval): the lag reaches 0 once the last
    // delivery is recorded.
    let published = |(values, _): &(HashMap<(String, String), f64>, _)| {
        let v = |f: &str| values.get(&(f.to_string(), "r1".to_string())).copied();
        v("spate_source_files") == Some(1.0) && v("spate_source_lag_bytes") == Some(0.0)
    };
    assert!(common::wait_until(T, || published(&prometheus(prom_port))));
    let (values, scrape) = prometheus(prom_port);
    let v = |family: &str, component: &str| -> f64 {
        *values
            .get(&(family.to_string(), component.to_string()))
            .unwrap_or_else(|| panic!("no {family}{{component={component:?}}}"))
    };
    assert_eq!(v("spate_source_event_accepted_total", "r1"), N as f64);
    assert_eq!(v("spate_sink_event_drain_success_total", "k1"), N as f64);
    assert_eq!(v("spate_channel_event_put_success_total", "c1"), N as f64);
    assert_eq!(v("spate_channel_size", "c1"), 0.0);
    assert_eq!(v("spate_sink_open_connections", "k1"), 1.0);
    assert_eq!(v("spate_running", ""), 1.0);
    assert_eq!(v("spate_source_lag_bytes", "r1"), 0.0, "all delivered");
    let bytes = v("spate_source_bytes_received_total", "r1");
    assert_eq!(
        bytes,
        fs::metadata(dirs.log("app.log")).unwrap().len() as f64 - N as f64,
        "bodies without newlines"
    );
    assert_eq!(v("spate_sink_bytes_delivered_total", "k1"), bytes);
    let latency = scrape
        .samples
        .iter()
        .find(|s| s.metric == "spate_sink_delivery_latency_seconds")
        .expect("a latency histogram");
    match &latency.value {
        prometheus_parse::Value::Histogram(buckets) => {
            assert_eq!(buckets.last().unwrap().count, N as f64, "{buckets:?}");
        }
        other => panic!("not a histogram: {other:?}"),
    }
    let documented = documented_families();
    // A histogram's `_sum` and `_count` series belong to its family.
    let family_of = |metric: &str| -> String {
        for suffix in ["_sum", "_count"] {
            if let Some(base) = metric.strip_suffix(suffix) {
                if documented.contains(base) {
                    return base.to_string();
                }
            }
        }
        metric.to_string()
    };
    let served: BTreeSet<String> = scrape
        .samples
        .iter()
        .map(|s| family_of(&s.metric))
        .collect();
    let groups_only: BTreeSet<&str> = ["spate_last_reload_success"]
        .into_iter()
        .chain(
            documented
                .iter()
                .map(String::as_str)
                .filter(|f| f.starts_with("spate_sinkgroup_")),
        )
        .collect();
    for family in &documented {
        assert!(
            served.contains(family) || groups_only.contains(family.as_str()),
            "docs/metrics.md documents {family}, which the scrape lacks"
        );
    }
    for family in &served {
        assert!(
            documented.contains(family),
            "{family} is served but not in docs/metrics.md"
        );
    }
    for s in &scrape.samples {
        assert_eq!(s.labels.get("agent"), Some("a1"), "{s:?}");
    }
    agent.stop();
}

/// The families docs/metrics.md lists in its tables.
fn documented_families() -> BTreeSet<String> {
    let doc = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md")).unwrap();
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `spate_"))
        .map(|l| format!("spate_{}", &l[..l.find('`').unwrap()]))
        .collect()
}

fn counters_survive_a_reload(backend: &str) {
    let dirs = Dirs::new();
    let collector = Collector::start();
    let json_port = free_port();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port())
        .set("sources.r1.shards", "2")
        .set("sources", "r1 r2")
        .set("sources.r2.type", "TAILDIR")
        .set("sources.r2.channels", "c1")
        .set(
            "sources.r2.positionFile",
            dirs.root().join("pos2.json").to_str().unwrap(),
        )
        .set("sources.r2.filegroups", "f1")
        .set(
            "sources.r2.filegroups.f1",
            &format!("{}/other\\.log", dirs.logs().display()),
        );
    let json_flag = format!("-Dflume.monitoring.port={json_port}");
    let mut agent = Agent::start_with(
        &pipeline.text(),
        backend,
        &[
            "-Dflume.monitoring.type=http",
            &json_flag,
            "--reload-interval",
            "1",
        ],
    );
    wait_listening(&agent, json_port);
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    writer.write(3_000);
    collector.expect_unique(3_000, T, &agent);
    assert!(common::wait_until(T, || attr(
        &flume_json(json_port),
        "SINK.k1",
        "EventDrainSuccessCount"
    ) == 3_000));
    let before = flume_json(json_port);
    assert!(before.contains_key("SOURCE.r2"));

    // A reload that changes the sink's batch size, runs r1 on one shard (its counts are kept)
    // and removes r2.
    let changed = pipeline
        .clone()
        .set("sources.r1.shards", "1")
        .set("sources", "r1")
        .set("sinks.k1.batch-size", "400");
    let changed = changed
        .text()
        .lines()
        .filter(|l| !l.starts_with("a1.sources.r2."))
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(agent.config_path(), changed).unwrap();
    assert!(
        common::wait_until(T, || agent.stderr().contains("the configuration changed")),
        "no reload\n{}",
        agent.diagnostics()
    );
    writer.write(2_000);
    collector.expect_unique(5_000, T, &agent);
    assert!(
        common::wait_until(T, || attr(
            &flume_json(json_port),
            "SINK.k1",
            "EventDrainSuccessCount"
        ) == 5_000),
        "{:?}",
        flume_json(json_port)
    );
    let after = flume_json(json_port);
    assert_eq!(attr(&after, "SOURCE.r1", "EventAcceptedCount"), 5_000);
    assert_eq!(attr(&after, "CHANNEL.c1", "EventTakeSuccessCount"), 5_000);
    assert_eq!(
        after["SOURCE.r1"]["StartTime"], before["SOURCE.r1"]["StartTime"],
        "the same counters, begun at the first start"
    );
    assert!(
        !after.contains_key("SOURCE.r2"),
        "a removed source is gone: {after:?}"
    );
    // Gauges follow what is open now, not what every start opened.
    assert_eq!(
        attr(&after, "SOURCE.r1", "OpenConnectionCount"),
        1,
        "{after:?}"
    );
    let created = attr(&after, "SINK.k1", "ConnectionCreatedCount");
    let closed = attr(&after, "SINK.k1", "ConnectionClosedCount");
    assert_eq!(
        (created, closed),
        (2, 1),
        "the stop closed the first connection"
    );
    agent.stop();
}

#[test]
fn flume_paths_answer_as_flume_does() {
    let dirs = Dirs::new();
    let collector = Collector::start();
    let port = free_port();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    let flag = format!("-Dflume.monitoring.port={port}");
    let mut agent = Agent::start_with(
        &pipeline.text(),
        "epoll",
        &["-Dflume.monitoring.type=http", &flag],
    );
    wait_listening(&agent, port);
    let (status, body) = get(port, "/");
    assert_eq!(status, 200);
    assert!(body.contains("href=\"./metrics\""), "{body}");
    assert_eq!(
        get(port, "/METRICS").0,
        200,
        "Flume matches /metrics in any case"
    );
    assert_eq!(get(port, "/nothing").0, 404);
    let trace = ureq::request("TRACE", &format!("http://127.0.0.1:{port}/metrics")).call();
    assert!(
        matches!(trace, Err(ureq::Error::Status(403, _))),
        "{trace:?}"
    );
    let options = ureq::request("OPTIONS", &format!("http://127.0.0.1:{port}/")).call();
    assert!(
        matches!(options, Err(ureq::Error::Status(403, _))),
        "{options:?}"
    );
    agent.stop();
}

#[test]
fn health_follows_the_collector() {
    let dirs = Dirs::new();
    let mut collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    let (mut agent, port) = start_with_metrics(&pipeline, &["--health-timeout", "1"]);
    // Listening comes first, then the components start: ready once they run.
    assert!(
        common::wait_until(T, || get(port, "/ready")
            == (200, r#"{"status":"ready"}"#.into())),
        "{:?}",
        get(port, "/ready")
    );
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    writer.write(1_000);
    collector.expect_unique(1_000, T, &agent);
    assert_eq!(get(port, "/health"), (200, r#"{"status":"ok"}"#.into()));

    collector.go_down();
    writer.write(1_000);
    let mut last = (0, String::new());
    assert!(
        common::wait_until(T, || {
            last = get(port, "/health");
            last.0 == 503
        }),
        "still {last:?} with the collector down\n{}",
        agent.diagnostics()
    );
    let reason: serde_json::Value = serde_json::from_str(&last.1).unwrap();
    assert_eq!(reason["status"], "unhealthy", "{reason}");
    assert_eq!(reason["sinks"][0]["sink"], "k1", "{reason}");
    assert!(reason["sinks"][0]["delivering_for_ms"].as_u64().unwrap() > 1_000);

    collector.come_up();
    collector.expect_unique(2_000, T, &agent);
    assert!(
        common::wait_until(T, || get(port, "/health").0 == 200),
        "{:?}",
        get(port, "/health")
    );
    agent.stop();
}

#[test]
fn a_taken_port_is_a_start_error() {
    let dirs = Dirs::new();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), 9);
    let mut agent = Agent::start_with(
        &pipeline.text(),
        "epoll",
        &["--metrics-addr", &port.to_string()],
    );
    assert!(common::wait_until(T, || agent.try_exit().is_some()));
    assert_eq!(agent.try_exit().unwrap().code(), Some(2));
    let stderr = agent.stderr();
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    // An unsupported monitoring type is refused as clearly.
    let mut agent = Agent::start_with(
        &pipeline.text(),
        "epoll",
        &["-Dflume.monitoring.type=ganglia"],
    );
    assert!(common::wait_until(T, || agent.try_exit().is_some()));
    assert_eq!(agent.try_exit().unwrap().code(), Some(2));
    assert!(agent
        .stderr()
        .contains("spate serves Flume's JSON metrics (`http`) only"));
}

/// Slow, numerous and oversized clients neither stall the agent nor grow its memory.
#[test]
fn hostile_scrapers_cannot_stall_the_agent() {
    const N: u64 = 50_000;
    let dirs = Dirs::new();
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    let (mut agent, port) = start_with_metrics(&pipeline, &[]);
    get(port, "/metrics");
    let rss_before = agent.rss_kib();

    // A 1 GB request body, streamed as fast as the server takes it, for a few seconds.
    let big = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n")
            .unwrap();
        let chunk = vec![b'x'; 1 << 20];
        let started = Instant::now();
        let mut sent = 0u64;
        while started.elapsed() < Duration::from_secs(5) {
            match s.write(&chunk) {
                Ok(n) => sent += n as u64,
                Err(_) => break, // refused and closed, or not read: either is fine
            }
        }
        sent
    });

    std::thread::sleep(Duration::from_millis(300));
    // Slowloris: 200 connections that each send half a request head, a byte at a time.
    let mut slow: Vec<TcpStream> = (0..200)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    for s in &mut slow {
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n");
    }
    // 10,000 connections opened and held (as many as this process may open).
    raise_open_file_limit();
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..10_000 {
        match TcpStream::connect_timeout(
            &(std::net::Ipv4Addr::LOCALHOST, port).into(),
            Duration::from_secs(1),
        ) {
            Ok(s) => held.push(s),
            Err(_) => refused += 1,
        }
    }
    eprintln!("{refused} of 10,000 connection attempts failed");
    eprintln!(
        "holding {} connections and {} slow heads",
        held.len(),
        slow.len()
    );
    // Meanwhile the agent ships lines at full speed.
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    writer.write(N);
    collector.expect_unique(N, T, &agent);
    let sent = big.join().unwrap();
    eprintln!("the 1 GB client got {sent} bytes in before it was cut off or stalled");

    // The slow heads are dropped after the head timeout; a scrape then gets through, as soon
    // as the held connections are let go.
    drop(held);
    let mut answer = (0, String::new());
    assert!(
        common::wait_until(Duration::from_secs(30), || {
            let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                return false;
            };
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut text = String::new();
            let _ = s.read_to_string(&mut text);
            answer = (u16::from(text.starts_with("HTTP/1.1 200")), text);
            answer.0 == 1
        }),
        "no scrape answered after the abuse: {answer:?}\n{}",
        agent.diagnostics()
    );
    let mut buf = [0u8; 1];
    let closed = slow
        .iter_mut()
        .map(|s| {
            s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
            match s.read(&mut buf) {
                // Answered (an error status), or closed.
                Ok(n) => n <= buf.len(),
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        })
        .filter(|&c| c)
        .count();
    assert_eq!(closed, slow.len(), "slow heads are answered or closed");
    let rss_after = agent.rss_kib();
    assert!(
        rss_after < rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    agent.assert_running();
    agent.stop();
}

/// Lifts this process's soft limit on descriptors to the hard one, for the 10,000 connections.
fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read or write one `rlimit`, which `lim` is.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[test]
fn spate_stats_prints_a_line_per_interval_when_piped() {
    let dirs = Dirs::new();
    let collector = Collector::start();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port());
    let (mut agent, port) = start_with_metrics(&pipeline, &[]);
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    writer.write(1_000);
    collector.expect_unique(1_000, T, &agent);
    let addr = format!("127.0.0.1:{port}");
    let out = std::process::Command::new(common::BIN)
        .args(["stats", "--addr", &addr, "--interval", "1", "--count", "2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for line in &lines {
        assert!(line.contains("source  r1"), "{line}");
        assert!(line.contains("channel c1"), "{line}");
        assert!(line.contains("sink    k1"), "{line}");
        assert!(
            !line.contains('\x1b'),
            "no terminal codes when piped: {line:?}"
        );
    }
    assert!(
        lines[1].contains("out        0/s"),
        "idle by then: {}",
        lines[1]
    );
    agent.stop();

    // Nobody there: a clear error.
    let out = std::process::Command::new(common::BIN)
        .args(["stats", "--addr", &addr, "--count", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is the agent running with --metrics-addr"),
        "{stderr}"
    );
}

/// The lag is what an operator looks at when a collector is down: it must grow while the source
/// waits for room in a full channel (when it cannot publish anything), and fall back to 0.
#[test]
fn lag_shows_while_the_source_waits_for_a_full_channel() {
    let dirs = Dirs::new();
    let mut collector = Collector::start_down();
    let pipeline = Pipeline::new(&dirs.logs(), "app\\.log", &dirs.pos(), collector.port())
        .set("channels.c1.capacity", "1000");
    let (mut agent, port) = start_with_metrics(&pipeline, &[]);
    let mut writer = LogWriter::open(&dirs.log("app.log"), 0);
    writer.write(1_000);
    // Published once the first lines are read; then the channel fills and the source waits.
    std::thread::sleep(Duration::from_millis(500));
    writer.write(20_000);
    let lag = |port| {
        let (values, _) = prometheus(port);
        values
            .get(&("spate_source_lag_bytes".to_string(), "r1".to_string()))
            .copied()
            .unwrap_or(-1.0)
    };
    let size = std::fs::metadata(dirs.log("app.log")).unwrap().len() as f64;
    let mut seen = 0.0;
    assert!(
        common::wait_until(T, || {
            seen = lag(port);
            seen > size / 2.0
        }),
        "lag {seen} of a {size}-byte file with nothing delivered\n{}",
        agent.diagnostics()
    );
    collector.come_up();
    collector.expect_unique(21_000, T, &agent);
    assert!(
        common::wait_until(T, || lag(port) == 0.0),
        "lag {} after everything was delivered",
        lag(port)
    );
    agent.stop();
}
