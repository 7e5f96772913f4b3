//! `spate-loadgen run` against the real agent: a short scenario must deliver every line, and
//! its report directory must hold what the docs promise (report.json that reads back, report.md,
//! the charts, the agent's log).

mod common;

use std::fs;
use std::path::Path;

use spate_loadgen::report::model::RunReport;
use spate_loadgen::run::{run, RunOptions};
use spate_loadgen::scenario::Scenario;

fn run_scenario(text: &str, out: &Path) -> RunReport {
    let sc = Scenario::parse(text).expect("valid scenario");
    run(
        &sc,
        &RunOptions {
            out: out.to_path_buf(),
            spate: Some(common::BIN.into()),
            progress: false,
            keep_files: false,
        },
    )
    .expect("the run completes")
}

/// `path` (absolute) as a path relative to the working directory, as a user would type it.
fn relative(path: &Path) -> std::path::PathBuf {
    let cwd = std::env::current_dir().unwrap();
    let mut rel = std::path::PathBuf::new();
    for _ in cwd.components().skip(1) {
        rel.push("..");
    }
    rel.join(path.strip_prefix("/").unwrap())
}

fn io() -> &'static str {
    if common::uring_available() {
        "uring"
    } else {
        "epoll"
    }
}

#[test]
fn a_short_scenario_with_rotation_delivers_every_line_and_writes_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let report = run_scenario(
        &format!(
            r#"
            name = "smoke"
            [agent]
            io = "{}"
            settle = "300ms"
            [agent.properties]
            "sources.r1.batchSize" = "500"
            "channels.c1.capacity" = "20000"
            "channels.c1.transactionCapacity" = "500"
            "sinks.k1.batch-size" = "500"
            [load]
            files = 2
            rate = 20000
            size = {{ min = 60, max = 300 }}
            duration = "3s"
            rotate = {{ every_bytes = 262144, mode = "rename" }}
            [report]
            interval = "250ms"
            "#,
            io()
        ),
        &out,
    );
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.ok).collect();
    assert!(report.passed, "failed checks: {failed:?}");
    assert!(report.load.rotations >= 2, "{:?}", report.load);
    assert!(report.load.lines >= 50_000, "{:?}", report.load);
    assert_eq!(report.delivery.unique, report.load.lines);
    assert_eq!(report.delivery.missing, 0);
    assert_eq!(report.delivery.malformed, 0);
    let latency = report.latency.as_ref().expect("latency measured");
    assert_eq!(latency.count, report.load.lines);
    assert!(latency.p50_ms <= latency.p99_ms && latency.p99_ms <= latency.max_ms);
    assert!(report.resources.cpu_seconds > 0.0, "{:?}", report.resources);
    assert!(report.delivery.receiver_cpu_seconds > 0.0);
    assert!(report.resources.peak_rss_bytes > 0);
    assert!(
        report.timeline.len() >= 10,
        "{} samples",
        report.timeline.len()
    );
    assert!(report.timeline.iter().any(|s| s.received_per_sec > 0.0));
    assert!(report.marks.iter().any(|m| m.what == "load finished"));

    // The directory: JSON that reads back to the same report, the summary, the charts, the log.
    let json = fs::read_to_string(out.join("report.json")).unwrap();
    let back: RunReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    let md = fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("smoke"), "{md}");
    for svg in ["throughput.svg", "latency.svg", "resources.svg"] {
        let text = fs::read_to_string(out.join(svg)).unwrap();
        assert!(
            text.trim_start().starts_with("<svg") || text.starts_with("<?xml"),
            "{svg}"
        );
    }
    let config = fs::read_to_string(out.join("agent.properties")).unwrap();
    assert!(config.contains("a1.sources.r1.batchSize = 500"), "{config}");
    assert!(out.join("agent.log").is_file());
    assert!(
        !out.join("work").exists(),
        "the generated files are removed"
    );
}

#[test]
fn a_collector_outage_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let report = run_scenario(
        r#"
        name = "outage"
        [agent]
        io = "epoll"
        settle = "300ms"
        [load]
        rate = 10000
        size = 128
        duration = "4s"
        [receiver]
        outage = { at = "1s", for = "1500ms" }
        [checks]
        drain_timeout = "20s"
        [report]
        interval = "250ms"
        "#,
        // A relative report directory: the agent's configuration still gets absolute paths.
        &relative(&out),
    );
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.ok).collect();
    assert!(
        report.passed,
        "failed checks: {failed:?}\nmarks: {:?}\ntimeline: {:?}\nagent.log:\n{}",
        report.marks,
        report.timeline,
        fs::read_to_string(out.join("agent.log")).unwrap_or_default()
    );
    assert_eq!(report.delivery.unique, report.load.lines);
    let marks: Vec<_> = report.marks.iter().map(|m| m.what.as_str()).collect();
    assert!(
        marks.contains(&"receiver stopped") && marks.contains(&"receiver back"),
        "{marks:?}"
    );
    // While the receiver was down nothing arrived, and the backlog grew.
    let during: Vec<_> = report
        .timeline
        .iter()
        .filter(|s| s.t > 1.3 && s.t < 2.4)
        .collect();
    assert!(!during.is_empty());
    assert!(
        during.iter().all(|s| s.received_per_sec == 0.0),
        "{during:?}"
    );
}
