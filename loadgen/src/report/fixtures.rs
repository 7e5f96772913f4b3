//! Reports built by hand for the tests of the rendering: a realistic run and sweep, and
//! degenerate ones (nothing measured) that must still render.

use super::model::*;

fn environment() -> Environment {
    Environment {
        hostname: "bench-01".to_owned(),
        cpu_model: "AMD EPYC 7B13".to_owned(),
        cpus: 2,
        memory_bytes: 8 * 1024 * 1024 * 1024,
        kernel: "6.1.0-18-amd64".to_owned(),
        io_uring_disabled: Some("0".to_owned()),
        commit: Some("e5f2845".to_owned()),
        loadgen_version: "0.1.0".to_owned(),
        started_at: "2025-01-01T12:00:00Z".to_owned(),
    }
}

fn system_under_test() -> SystemUnderTest {
    SystemUnderTest {
        command: vec![
            "spate".to_owned(),
            "--conf".to_owned(),
            "agent.properties".to_owned(),
            "--name".to_owned(),
            "a1".to_owned(),
        ],
        config: Some("a1.sources = r1\na1.sinks = k1\na1.channels = c1\n".to_owned()),
        pid: Some(4242),
    }
}

/// Sixty one-second samples at 100k lines/s; the receiver is away from t = 20 to t = 30, so
/// nothing is received then (no latency either), and the backlog drains afterwards with high
/// latency. The latency check fails and 1,234 lines are lost.
pub(crate) fn run() -> RunReport {
    let timeline = (1..=60_i32)
        .map(|i| {
            let t = f64::from(i);
            let away = (21..=30).contains(&i);
            let draining = (31..=40).contains(&i);
            let received = if away {
                0.0
            } else if draining {
                200_000.0
            } else {
                100_000.0
            };
            let latency = |base: f64| {
                (!away).then(|| {
                    if draining {
                        base * 400.0
                    } else {
                        base + f64::from(i % 7) * 0.1
                    }
                })
            };
            Sample {
                t,
                written_per_sec: 100_000.0,
                received_per_sec: received,
                received_mb_per_sec: received * 256.0 / 1e6,
                lag_lines: if away { i64::from(i - 20) * 100_000 } else { 0 },
                p50_ms: latency(2.0),
                p99_ms: latency(4.5),
                p999_ms: latency(8.0),
                max_ms: latency(12.0),
                cpu_percent: Some(if away { 5.0 } else { 35.0 + f64::from(i % 5) }),
                rss_bytes: Some(20_000_000 + u64::try_from(i).unwrap() * 10_000),
            }
        })
        .collect();
    RunReport {
        scenario: "tail_to_tcp receiver-outage".to_owned(),
        description: "Tail one file into TCP; the receiver goes away for ten seconds.".to_owned(),
        environment: environment(),
        system_under_test: system_under_test(),
        scenario_config: serde_json::json!({"rate": 100000, "seconds": 60}),
        load: LoadSummary {
            kind: "file".to_owned(),
            targets: 1,
            target_rate: Some(100_000.0),
            achieved_rate: 99_870.0,
            lines: 6_000_000,
            bytes: 1_536_000_000,
            seconds: 60.0,
            mean_line_bytes: 256.0,
            rotations: 3,
        },
        delivery: Delivery {
            lines: 5_998_800,
            unique: 5_998_766,
            missing: 1_234,
            duplicates: 34,
            out_of_order: 0,
            malformed: 0,
            bytes: 1_535_684_096,
            seconds: 60.2,
            events_per_sec: 99_646.0,
            mb_per_sec: 25.51,
            receiver_cpu_seconds: 2.5,
        },
        latency: Some(Latency {
            count: 5_998_800,
            mean_ms: 20.1,
            p50_ms: 3.456,
            p90_ms: 9.87,
            p99_ms: 1_234.5,
            p999_ms: 3_456.0,
            max_ms: 4_800.0,
        }),
        resources: Resources {
            cpu_seconds: 19.8,
            cpu_percent_mean: 33.0,
            cpu_seconds_per_million_events: Some(3.3),
            bytes_per_cpu_second: Some(77_560_000.0),
            peak_rss_bytes: 20_600_000,
            mean_rss_bytes: 20_300_000,
        },
        timeline,
        marks: vec![
            Mark {
                t: 20.0,
                what: "receiver stopped".to_owned(),
            },
            Mark {
                t: 30.0,
                what: "receiver back".to_owned(),
            },
        ],
        checks: vec![
            Check {
                name: "zero loss".to_owned(),
                ok: false,
                detail: "1,234 lines missing".to_owned(),
            },
            Check {
                name: "p99 ≤ 50 ms".to_owned(),
                ok: false,
                detail: "p99 was 1.23 s".to_owned(),
            },
            Check {
                name: "no duplicates after restart".to_owned(),
                ok: true,
                detail: String::new(),
            },
        ],
        passed: false,
    }
}

/// A run where nothing was measured: no samples, no line received, no checks.
pub(crate) fn empty_run() -> RunReport {
    RunReport {
        scenario: "nothing".to_owned(),
        passed: true,
        ..RunReport::default()
    }
}

fn step(offered: f64, p99: f64, cpu: f64, sustainable: bool, reason: Option<&str>) -> SweepStep {
    let received = if sustainable {
        offered
    } else {
        offered.min(150_000.0)
    };
    SweepStep {
        offered_rate: offered,
        achieved_rate: offered * 0.999,
        received_rate: received,
        latency: Some(Latency {
            count: 1000,
            mean_ms: p99 / 4.0,
            p50_ms: p99 / 5.0,
            p90_ms: p99 / 2.0,
            p99_ms: p99,
            p999_ms: p99 * 2.0,
            max_ms: p99 * 3.0,
        }),
        cpu_percent_mean: cpu,
        cpu_seconds_per_million_events: Some(cpu / 100.0 / received * 1e6),
        peak_rss_bytes: 20_000_000,
        missing: if reason == Some("loss") { 5_000 } else { 0 },
        duplicates: 0,
        lag_lines_end: if sustainable { 0 } else { 250_000 },
        sustainable,
        reason: reason.map(str::to_owned),
    }
}

/// A geometric sweep from 10k to 500k lines/s; 100k is the last rate within p99 ≤ 50 ms.
pub(crate) fn sweep() -> SweepReport {
    SweepReport {
        scenario: "tail_to_tcp capacity".to_owned(),
        environment: environment(),
        system_under_test: system_under_test(),
        scenario_config: serde_json::json!({"sweep": [10000, 500000]}),
        slo_p99_ms: 50.0,
        line_bytes: 256.0,
        steps: vec![
            step(10_000.0, 2.1, 4.0, true, None),
            step(20_000.0, 2.4, 8.0, true, None),
            step(50_000.0, 3.9, 19.0, true, None),
            step(100_000.0, 12.7, 38.0, true, None),
            step(200_000.0, 180.0, 71.0, false, Some("p99 above the SLO")),
            step(500_000.0, 2_400.0, 99.0, false, Some("loss")),
        ],
        max_sustainable_rate: Some(100_000.0),
        max_sustainable_bytes_per_sec: Some(25_600_000.0),
        cpu_seconds_per_million_events: Some(3.8),
        p99_ms_at_max: Some(12.7),
        headroom: None,
    }
}

/// A sweep with one step that received nothing, so no rate was sustainable.
pub(crate) fn empty_sweep() -> SweepReport {
    SweepReport {
        scenario: "nothing".to_owned(),
        slo_p99_ms: 50.0,
        line_bytes: 100.0,
        steps: vec![SweepStep {
            offered_rate: 1000.0,
            reason: Some("nothing received".to_owned()),
            ..SweepStep::default()
        }],
        ..SweepReport::default()
    }
}
