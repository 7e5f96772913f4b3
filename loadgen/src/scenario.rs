//! Scenario files: what load to offer, to which agent, and what counts as a pass.
//!
//! A scenario is a TOML file (the checked-in ones are in `loadgen/scenarios/`):
//!
//! ```toml
//! name = "tail-latency"
//! description = "128-byte lines appended at 100 k lines/s; end-to-end latency"
//!
//! [agent]                     # the system under test; default: spate, generated config
//! io = "auto"                 # spate's --io
//! [agent.properties]          # Flume keys relative to the agent, added or overriding
//! "sources.r1.batchSize" = "1000"
//!
//! [load]
//! kind = "file"               # file (tailed files) or tcp (sent to the receiver directly)
//! files = 1
//! rate = 100000               # lines/s over all files, or "max"
//! size = 128                  # or { min = 64, max = 512 }, "access", "app"
//! duration = "10s"            # or lines = N; prefill = true writes them before the agent starts
//! rotate = { every_bytes = 67108864, mode = "rename" }
//!
//! [receiver]
//! outage = { at = "5s", for = "10s" }
//!
//! [checks]
//! p99_ms = 1.0
//! ```
//!
//! Every table rejects unknown fields, and parse errors name the field and its line.
//! [`Scenario::validate`] then checks what the types cannot (a load needs a `lines` or a
//! `duration`, a prefill needs `lines`, ...), naming the field too.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize, Serializer};

use crate::gen::{LineSizes, Rate, RotateMode};
use crate::line::MAX_STREAM;
use crate::recv::framing::Framing;

/// A parsed scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub agent: AgentSection,
    pub load: LoadSection,
    #[serde(default)]
    pub receiver: ReceiverSection,
    #[serde(default)]
    pub checks: ChecksSection,
    #[serde(default)]
    pub report: ReportSection,
}

/// `[agent]`: the system under test.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    /// `spate` (default), `command` (any program, see [`crate::sut`]) or `none` (the load goes
    /// straight to the receiver: measures spate-loadgen itself).
    #[serde(default)]
    pub kind: AgentKind,
    /// The program and its arguments when `kind = "command"`, with placeholders.
    #[serde(default)]
    pub command: Vec<String>,
    /// spate's `--io`.
    #[serde(default = "default_io")]
    pub io: String,
    /// spate's `--workers`; its default (all cores) when absent.
    #[serde(default)]
    pub workers: Option<usize>,
    /// Flume keys relative to the agent, added to or overriding the generated configuration.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// How long to let the agent start before the load begins.
    #[serde(default = "default_settle", with = "human_duration")]
    pub settle: Duration,
    /// How long the agent may take to stop after SIGTERM before it is killed.
    #[serde(default = "default_stop_timeout", with = "human_duration")]
    pub stop_timeout: Duration,
}

impl Default for AgentSection {
    fn default() -> Self {
        AgentSection {
            kind: AgentKind::Spate,
            command: Vec::new(),
            io: default_io(),
            workers: None,
            properties: BTreeMap::new(),
            settle: default_settle(),
            stop_timeout: default_stop_timeout(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    #[default]
    Spate,
    Command,
    None,
}

/// `[load]`: what the generator offers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSection {
    #[serde(default)]
    pub kind: LoadKind,
    /// Files written (`file`) or connections opened (`tcp`).
    #[serde(default = "one")]
    pub files: usize,
    /// File names, `{i}` standing for the file's number.
    #[serde(default = "default_name")]
    pub name: String,
    /// Lines per second over all files, or `"max"`.
    #[serde(default = "max_rate", serialize_with = "serialize_rate")]
    pub rate: Rate,
    #[serde(default = "default_size", serialize_with = "serialize_size")]
    pub size: LineSizes,
    /// Total lines to write (exact).
    #[serde(default)]
    pub lines: Option<u64>,
    /// How long to write.
    #[serde(default, with = "human_duration_opt")]
    pub duration: Option<Duration>,
    /// Write every line before the agent starts (a backlog: throughput, not latency).
    #[serde(default)]
    pub prefill: bool,
    /// How often a fixed-rate load writes its due lines.
    #[serde(default = "default_tick", with = "human_duration")]
    pub tick: Duration,
    #[serde(default)]
    pub rotate: Option<RotateSection>,
    /// Seed of the shaped and random line sizes, so that runs repeat.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Framing of a `tcp` load.
    #[serde(default = "default_framing")]
    pub framing: Framing,
    /// Where a `tcp` load connects when the agent is a command (the agent's listening address);
    /// with `agent.kind = "none"` it goes to the receiver.
    #[serde(default)]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadKind {
    #[default]
    File,
    Tcp,
}

/// `rotate = { every_bytes = N, every = "30s", mode = "rename" | "copytruncate" }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateSection {
    #[serde(default)]
    pub every_bytes: Option<u64>,
    #[serde(default, with = "human_duration_opt")]
    pub every: Option<Duration>,
    #[serde(default)]
    pub mode: RotateMode,
}

/// `[receiver]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverSection {
    /// Framing the agent's sink uses.
    #[serde(default = "default_framing")]
    pub framing: Framing,
    /// Stop the receiver for a while, as a collector that goes down.
    #[serde(default)]
    pub outage: Option<Outage>,
}

impl Default for ReceiverSection {
    fn default() -> Self {
        ReceiverSection {
            framing: default_framing(),
            outage: None,
        }
    }
}

/// `outage = { at = "5s", for = "10s" }`, counted from the start of the load.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    #[serde(with = "human_duration")]
    pub at: Duration,
    #[serde(rename = "for", with = "human_duration")]
    pub lasts: Duration,
}

/// `[checks]`: what the run must show to pass.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksSection {
    /// Lines allowed to be lost (default 0).
    #[serde(default)]
    pub max_missing: u64,
    /// Duplicates allowed (at-least-once delivery resends after an outage); no limit if absent.
    #[serde(default)]
    pub max_duplicates: Option<u64>,
    /// End-to-end p99 latency limit, in milliseconds.
    #[serde(default)]
    pub p99_ms: Option<f64>,
    /// The generator must achieve at least this fraction of a fixed rate (default 0.95).
    #[serde(default = "default_rate_ratio")]
    pub min_rate_ratio: f64,
    /// How long after the load ends the last lines may take to arrive.
    #[serde(default = "default_drain", with = "human_duration")]
    pub drain_timeout: Duration,
    /// The agent must exit with status 0 on SIGTERM (default true).
    #[serde(default = "yes")]
    pub clean_exit: bool,
}

impl Default for ChecksSection {
    fn default() -> Self {
        ChecksSection {
            max_missing: 0,
            max_duplicates: None,
            p99_ms: None,
            min_rate_ratio: default_rate_ratio(),
            drain_timeout: default_drain(),
            clean_exit: true,
        }
    }
}

/// `[report]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSection {
    /// Time between two samples of the timeline.
    #[serde(default = "default_interval", with = "human_duration")]
    pub interval: Duration,
}

impl Default for ReportSection {
    fn default() -> Self {
        ReportSection {
            interval: default_interval(),
        }
    }
}

fn max_rate() -> Rate {
    Rate::Max
}

/// Writes a rate back the way a scenario file spells it.
fn serialize_rate<S: Serializer>(rate: &Rate, s: S) -> std::result::Result<S::Ok, S::Error> {
    match rate.per_sec() {
        None => s.serialize_str("max"),
        Some(r) => s.serialize_f64(r),
    }
}

/// Writes a size back the way a scenario file spells it.
fn serialize_size<S: Serializer>(size: &LineSizes, s: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    match *size {
        LineSizes::Fixed(n) => s.serialize_u64(n as u64),
        LineSizes::Uniform { min, max } => {
            let mut m = s.serialize_map(Some(2))?;
            m.serialize_entry("min", &min)?;
            m.serialize_entry("max", &max)?;
            m.end()
        }
        LineSizes::Access => s.serialize_str("access"),
        LineSizes::App => s.serialize_str("app"),
    }
}

fn default_io() -> String {
    "auto".into()
}
fn default_settle() -> Duration {
    Duration::from_secs(1)
}
fn default_stop_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_name() -> String {
    "app-{i}.log".into()
}
fn default_size() -> LineSizes {
    LineSizes::Fixed(128)
}
fn default_tick() -> Duration {
    Duration::from_millis(1)
}
fn default_framing() -> Framing {
    Framing::Newline
}
fn default_rate_ratio() -> f64 {
    0.95
}
fn default_drain() -> Duration {
    Duration::from_secs(30)
}
fn default_interval() -> Duration {
    Duration::from_secs(1)
}
fn one() -> usize {
    1
}
fn one_u64() -> u64 {
    1
}
fn yes() -> bool {
    true
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario {}", path.display()))?;
        Scenario::parse(&text).with_context(|| format!("bad scenario {}", path.display()))
    }

    /// Parses and validates scenario text.
    pub fn parse(text: &str) -> Result<Scenario> {
        let s: Scenario = toml::from_str(text)?;
        s.validate()?;
        Ok(s)
    }

    /// Checks what the types cannot; each error names the field.
    pub fn validate(&self) -> Result<()> {
        let l = &self.load;
        if self.name.trim().is_empty() {
            bail!("name: must not be empty");
        }
        if l.files == 0 {
            bail!("load.files: must be at least 1");
        }
        if l.files > usize::from(MAX_STREAM) + 1 {
            bail!(
                "load.files: at most {} (one stream id per file)",
                usize::from(MAX_STREAM) + 1
            );
        }
        if l.files > 1 && !l.name.contains("{i}") {
            bail!("load.name: with several files the name needs {{i}}, e.g. \"app-{{i}}.log\"");
        }
        if l.name.contains('/') {
            bail!("load.name: a file name, not a path");
        }
        l.size.check().context("load.size")?;
        l.rate.check().context("load")?;
        match (l.lines, l.duration) {
            (None, None) => bail!("load: give `lines` or `duration` (or both)"),
            (Some(0), _) => bail!("load.lines: must be at least 1"),
            (_, Some(d)) if d.is_zero() => bail!("load.duration: must be longer than 0"),
            _ => {}
        }
        if l.prefill {
            if l.lines.is_none() {
                bail!("load.prefill: a prefilled load needs `lines`");
            }
            if l.kind != LoadKind::File {
                bail!("load.prefill: only a file load can be prefilled");
            }
            if l.rotate.is_some() {
                bail!("load.rotate: a prefilled load is written before the agent starts; drop `rotate` or `prefill`");
            }
        }
        if l.tick.is_zero() {
            bail!("load.tick: must be longer than 0");
        }
        if let Some(r) = &l.rotate {
            if l.kind != LoadKind::File {
                bail!("load.rotate: only files rotate");
            }
            if r.every_bytes.is_none() && r.every.is_none() {
                bail!("load.rotate: give `every_bytes` or `every`");
            }
            if r.every_bytes == Some(0) || r.every.is_some_and(|d| d.is_zero()) {
                bail!("load.rotate: the rotation interval must be above 0");
            }
        }
        match (self.agent.kind, l.kind) {
            (AgentKind::Spate, LoadKind::Tcp) => bail!(
                "load.kind: spate has no network source yet; a tcp load needs agent.kind = \
                 \"command\" (an agent that listens) or \"none\" (straight to the receiver)"
            ),
            (AgentKind::None, LoadKind::File) => {
                bail!("agent.kind: \"none\" sends straight to the receiver, so load.kind must be \"tcp\"")
            }
            (AgentKind::Command, LoadKind::Tcp) if l.target.is_none() => bail!(
                "load.target: a tcp load into an agent needs the address it listens on, e.g. \"127.0.0.1:5141\""
            ),
            (AgentKind::Command, _) if self.agent.command.is_empty() => {
                bail!("agent.command: give the program and its arguments, e.g. [\"flume-ng\", \"agent\", \"-f\", \"{{config}}\", \"-n\", \"a1\"]")
            }
            _ => {}
        }
        if self.agent.workers == Some(0) {
            bail!("agent.workers: must be at least 1");
        }
        if !matches!(self.agent.io.as_str(), "auto" | "uring" | "epoll") {
            bail!(
                "agent.io: expected auto, uring or epoll, got {:?}",
                self.agent.io
            );
        }
        if let Some(o) = &self.receiver.outage {
            if o.lasts.is_zero() {
                bail!("receiver.outage.for: must be longer than 0");
            }
            if self.agent.kind == AgentKind::None {
                bail!("receiver.outage: needs an agent between the load and the receiver");
            }
        }
        let c = &self.checks;
        if !(0.0..=1.0).contains(&c.min_rate_ratio) {
            bail!("checks.min_rate_ratio: a fraction between 0 and 1");
        }
        if matches!(c.p99_ms, Some(p) if !(p.is_finite() && p > 0.0)) {
            bail!("checks.p99_ms: a positive number of milliseconds");
        }
        if self.report.interval < Duration::from_millis(100) {
            bail!("report.interval: at least 100ms");
        }
        Ok(())
    }

    /// The scenario as JSON, every default filled in, for the report.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Durations written as humantime strings (`"10s"`, `"1m 30s"`, `"250ms"`).
mod human_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "{e}: expected a duration such as \"10s\", \"250ms\" or \"1m 30s\""
            ))
        })
    }
}

mod human_duration_opt {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::human_duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::human_duration::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        format!("{:#}", Scenario::parse(text).unwrap_err())
    }

    #[test]
    fn a_minimal_scenario_gets_the_defaults() {
        let s = Scenario::parse("name = \"x\"\n[load]\nduration = \"2s\"\n").unwrap();
        assert_eq!(s.agent.kind, AgentKind::Spate);
        assert_eq!(s.load.rate, Rate::Max);
        assert_eq!(s.load.duration, Some(Duration::from_secs(2)));
        assert_eq!(s.load.files, 1);
        assert_eq!(s.checks.max_missing, 0);
        assert_eq!(s.report.interval, Duration::from_secs(1));
        // The JSON of the report carries every default.
        let json = s.to_json();
        assert_eq!(json["load"]["tick"], "1ms");
        assert_eq!(json["load"]["rate"], "max");
    }

    #[test]
    fn a_full_scenario_parses() {
        let s = Scenario::parse(
            r#"
            name = "rotation"
            description = "rotate while writing"
            [agent]
            io = "epoll"
            workers = 2
            properties = { "channels.c1.capacity" = "100000" }
            [load]
            files = 4
            rate = 20000
            size = { min = 64, max = 512 }
            lines = 100000
            rotate = { every_bytes = 1048576, mode = "copytruncate" }
            [receiver]
            outage = { at = "2s", for = "3s" }
            [checks]
            p99_ms = 5.5
            max_duplicates = 1000
            "#,
        )
        .unwrap();
        assert_eq!(s.load.rate.per_sec(), Some(20000.0));
        assert_eq!(
            s.load.rotate.as_ref().unwrap().mode,
            RotateMode::CopyTruncate
        );
        assert_eq!(
            s.receiver.outage.as_ref().unwrap().lasts,
            Duration::from_secs(3)
        );
        assert_eq!(s.agent.properties["channels.c1.capacity"], "100000");
    }

    #[test]
    fn errors_name_the_field() {
        let e = err("name = \"x\"\n[load]\nduration = \"2s\"\nrat = 5\n");
        assert!(e.contains("unknown field `rat`"), "{e}");
        assert!(e.contains("line 4"), "{e}");
        let e = err("name = \"x\"\n[load]\nduration = \"2 fortnights\"\n");
        assert!(e.contains("duration"), "{e}");
        let e = err("name = \"x\"\n[load]\nduration = \"2s\"\nrate = \"fast\"\n");
        assert!(e.contains("rate") && e.contains("\"max\""), "{e}");
        let e = err("name = \"x\"\n[load]\nduration = \"2s\"\nrate = -5\n");
        assert!(e.contains("rate"), "{e}");
        let e = err("name = \"x\"\n[load]\nrate = 5\n");
        assert!(e.contains("`lines` or `duration`"), "{e}");
        let e = err("name = \"x\"\n[load]\nduration = \"2s\"\nprefill = true\n");
        assert!(e.contains("load.prefill"), "{e}");
        let e = err("name = \"x\"\n[load]\nduration = \"2s\"\nfiles = 3\nname = \"a.log\"\n");
        assert!(e.contains("load.name"), "{e}");
        let e = err("name = \"x\"\n[load]\nduration = \"2s\"\nkind = \"tcp\"\n");
        assert!(e.contains("load.kind"), "{e}");
        let e = err("name = \"x\"\n[load]\nduration = \"2s\"\nsize = 10\n");
        assert!(e.contains("load.size"), "{e}");
        let e = err("name = \"x\"\n[agent]\nio = \"fast\"\n[load]\nduration = \"2s\"\n");
        assert!(e.contains("agent.io"), "{e}");
        let e = err("name = \"x\"\n[load]\nduration = \"2s\"\nrotate = { mode = \"rename\" }\n");
        assert!(e.contains("load.rotate"), "{e}");
        let e = err("[load]\nduration = \"2s\"\n");
        assert!(e.contains("missing field `name`"), "{e}");
    }

    #[test]
    fn the_readme_example_spells_every_field_right() {
        let readme = include_str!("../README.md");
        let start = readme
            .find("```toml\nname = \"my-case\"")
            .expect("the README has the example")
            + "```toml\n".len();
        let block = &readme[start..start + readme[start..].find("```").unwrap()];
        // Uncomment the optional fields: every one of them must be a real field.
        let uncommented: String = block
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let s: Scenario = toml::from_str(&uncommented).unwrap();
        let defaults: Scenario = toml::from_str(block).unwrap();
        assert_eq!(s.load.duration, Some(Duration::from_secs(20)));
        assert_eq!(s.receiver.outage.unwrap().lasts, Duration::from_secs(10));
        // The values shown as defaults are the defaults.
        let plain = Scenario::parse("name = \"my-case\"\n[load]\nlines = 1\n").unwrap();
        let mut shown = defaults.to_json();
        let mut real = plain.to_json();
        for j in [&mut shown, &mut real] {
            j["load"]["lines"] = serde_json::Value::Null;
        }
        assert_eq!(shown, real);
    }
}
