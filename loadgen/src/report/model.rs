//! The data of a report, as plain serialisable structs.
//!
//! A scenario run ([`RunReport`]) and a capacity sweep ([`SweepReport`]) are gathered by the
//! runner and then rendered by [`super`] into `report.json` (these structs, serialised), a
//! readable `report.md` and SVG charts. Keeping the figures separate from their rendering lets the
//! tests check one without the other, and lets a later run compare two `report.json` files.
//!
//! Units are in the field names: `_ms` milliseconds, `_bytes` bytes, `_per_sec` per second,
//! `t` seconds since the load started.

use serde::{Deserialize, Serialize};

/// Where and on what the figures were measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    pub hostname: String,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// Online CPUs.
    pub cpus: usize,
    pub memory_bytes: u64,
    /// `uname -r`.
    pub kernel: String,
    /// `io_uring_disabled` sysctl, when the kernel has it.
    pub io_uring_disabled: Option<String>,
    /// The git commit of the working tree spate-loadgen was started in, if any (`-dirty` when it
    /// has uncommitted changes).
    pub commit: Option<String>,
    pub loadgen_version: String,
    /// UTC start time, RFC 3339.
    pub started_at: String,
}

/// The system under test: the command that was run and, for spate, the configuration it got.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SystemUnderTest {
    pub command: Vec<String>,
    /// The generated Flume properties file, when the runner wrote one.
    pub config: Option<String>,
    /// The process id sampled for CPU and RSS.
    pub pid: Option<u32>,
}

/// What the generator offered.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LoadSummary {
    /// `file` or `tcp`.
    pub kind: String,
    /// Files written (or connections opened).
    pub targets: usize,
    /// Lines per second asked for, over all targets; `None` for as fast as possible.
    pub target_rate: Option<f64>,
    /// Lines per second actually written, over the load's duration.
    pub achieved_rate: f64,
    pub lines: u64,
    pub bytes: u64,
    pub seconds: f64,
    /// Mean line size in bytes, newline included.
    pub mean_line_bytes: f64,
    /// Rotations performed (file loads only).
    pub rotations: u64,
}

/// What the receiver accounted for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Delivery {
    pub lines: u64,
    pub unique: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub malformed: u64,
    pub bytes: u64,
    /// From the first byte received to the last.
    pub seconds: f64,
    pub events_per_sec: f64,
    /// 10^6 bytes per second.
    pub mb_per_sec: f64,
    /// CPU seconds the receiver itself used: the measurement's own cost, to set beside the
    /// agent's.
    #[serde(default)]
    pub receiver_cpu_seconds: f64,
}

/// End-to-end latency (receive time minus the send time embedded in each line).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// CPU and memory of the system under test, sampled from /proc.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Resources {
    /// User plus system CPU seconds over the run.
    pub cpu_seconds: f64,
    /// Mean CPU use, in percent of one core.
    pub cpu_percent_mean: f64,
    /// CPU seconds spent per million events delivered.
    pub cpu_seconds_per_million_events: Option<f64>,
    /// Bytes delivered per CPU second (the "GB per agent CPU-second", in bytes).
    pub bytes_per_cpu_second: Option<f64>,
    pub peak_rss_bytes: u64,
    pub mean_rss_bytes: u64,
}

/// One point of the timeline, covering `(t - interval, t]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Sample {
    pub t: f64,
    /// Lines written and received during the interval, per second.
    pub written_per_sec: f64,
    pub received_per_sec: f64,
    pub received_mb_per_sec: f64,
    /// Lines written so far minus unique lines received so far.
    pub lag_lines: i64,
    /// Latency of the lines received during the interval; `None` when none arrived.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// CPU use of the system under test during the interval, in percent of one core.
    pub cpu_percent: Option<f64>,
    pub rss_bytes: Option<u64>,
}

/// Something that happened during the run, drawn as a marker on the charts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Mark {
    pub t: f64,
    pub what: String,
}

/// One pass/fail check of the run (zero loss, latency SLO, ...).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// Everything one scenario run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunReport {
    pub scenario: String,
    pub description: String,
    pub environment: Environment,
    pub system_under_test: SystemUnderTest,
    /// The scenario file as parsed, every default filled in.
    pub scenario_config: serde_json::Value,
    pub load: LoadSummary,
    pub delivery: Delivery,
    /// `None` when no line was received.
    pub latency: Option<Latency>,
    pub resources: Resources,
    pub timeline: Vec<Sample>,
    pub marks: Vec<Mark>,
    pub checks: Vec<Check>,
    /// Every check passed.
    pub passed: bool,
}

/// One offered rate of a sweep.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SweepStep {
    /// Lines per second offered.
    pub offered_rate: f64,
    /// Lines per second the generator achieved.
    pub achieved_rate: f64,
    /// Lines per second received.
    pub received_rate: f64,
    pub latency: Option<Latency>,
    pub cpu_percent_mean: f64,
    pub cpu_seconds_per_million_events: Option<f64>,
    pub peak_rss_bytes: u64,
    pub missing: u64,
    pub duplicates: u64,
    /// Lag (written minus received) at the end of the step.
    pub lag_lines_end: i64,
    /// Whether the agent kept up within the SLO at this rate.
    pub sustainable: bool,
    /// Why not, when it did not (loss, growing lag, p99 above the SLO, generator too slow).
    pub reason: Option<String>,
}

/// How much of the host an expected workload would use.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Headroom {
    pub expected_rate: f64,
    pub line_bytes: usize,
    /// Expected rate as a percentage of the highest sustainable rate.
    pub percent_used: f64,
    /// The plain-words statement for the report.
    pub statement: String,
}

/// A capacity sweep: the steps, and the highest rate sustained within the SLO.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SweepReport {
    pub scenario: String,
    pub environment: Environment,
    pub system_under_test: SystemUnderTest,
    pub scenario_config: serde_json::Value,
    pub slo_p99_ms: f64,
    /// Line size in bytes, newline included (mean, for size ranges).
    pub line_bytes: f64,
    pub steps: Vec<SweepStep>,
    /// The last sustainable step, if any.
    pub max_sustainable_rate: Option<f64>,
    pub max_sustainable_bytes_per_sec: Option<f64>,
    pub cpu_seconds_per_million_events: Option<f64>,
    pub p99_ms_at_max: Option<f64>,
    pub headroom: Option<Headroom>,
}
