//! `spate-loadgen`: writes numbered lines, sends them, and receives them with exactly-once
//! accounting, to measure spate's throughput (and, from the timestamp in every line, latency).
//!
//! ```text
//! spate-loadgen prefill --file /tmp/in.log --lines 10000000 --size 128
//! spate-loadgen recv --listen 127.0.0.1:5140 --expect 10000000 &
//! spate-loadgen send --file /tmp/in.log --addr 127.0.0.1:5140
//! spate-loadgen send --lines 1000000 --rate 50000 --size access --connections 4
//! spate-loadgen write --dir /tmp/logs --files 100 --rate 20000 --duration 60s --rotate-bytes 64M
//! ```
//!
//! Each command prints one JSON line to stdout; diagnostics go to stderr. The line format is in
//! [`line`].

use spate_loadgen::scenario::Scenario;
use spate_loadgen::{gen, prefill, recv, run, send, sweep};

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use spate_loadgen::gen::{Counters, GenReport, LineSizes, Rate, RotateMode};
use spate_loadgen::recv::framing::Framing;

#[derive(Debug, Parser)]
#[command(name = "spate-loadgen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write numbered lines to a file, fast.
    Prefill(PrefillArgs),
    /// Receive lines over TCP and check that each arrived exactly once.
    Recv(RecvArgs),
    /// Send generated lines over TCP connections, or stream a file over one (sendfile).
    Send(SendArgs),
    /// Write numbered lines into log files at a steady rate, with rotation.
    Write(WriteArgs),
    /// Run a scenario against an agent and write a report directory.
    Run(RunArgs),
    /// Find the highest rate the agent sustains within a p99 latency SLO.
    Sweep(SweepArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The scenario file (see loadgen/scenarios/).
    scenario: PathBuf,
    /// Report directory (report.json, report.md, SVG charts, agent.log).
    #[arg(long)]
    out: PathBuf,
    /// The spate binary (default: next to spate-loadgen, then the PATH).
    #[arg(long)]
    spate: Option<PathBuf>,
    /// Override the scenario's rate: lines per second, or "max".
    #[arg(long)]
    rate: Option<String>,
    /// Override the scenario's agent.io (spate's --io: auto, uring, epoll).
    #[arg(long)]
    io: Option<String>,
    /// Override the scenario's agent.workers (spate's --workers).
    #[arg(long)]
    workers: Option<usize>,
    /// Keep the generated log files and position file in OUT/work.
    #[arg(long)]
    keep_files: bool,
    /// No progress bar or progress lines.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct SweepArgs {
    /// The scenario file whose load is swept (its rate and duration are replaced).
    scenario: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// The latency SLO: highest acceptable p99, e.g. 2ms or 0.5ms.
    #[arg(long)]
    slo_p99: String,
    /// First rate, lines per second.
    #[arg(long, default_value_t = 10_000.0)]
    start: f64,
    /// Each step multiplies the rate by this.
    #[arg(long, default_value_t = 1.5)]
    factor: f64,
    /// Highest rate to offer.
    #[arg(long)]
    max_rate: Option<f64>,
    /// Load duration of each step.
    #[arg(long, default_value = "10s")]
    step: String,
    /// Bisections between the last sustainable and the first unsustainable rate.
    #[arg(long, default_value_t = 2)]
    refine: u32,
    /// Your expected workload, events per second: the report says how much of the host it uses.
    #[arg(long)]
    expected: Option<f64>,
    /// Event size in bytes, newline included, for every step (overrides the scenario).
    #[arg(long)]
    size: Option<usize>,
    #[arg(long)]
    spate: Option<PathBuf>,
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct PrefillArgs {
    /// File to write (created if missing, truncated unless --append).
    #[arg(long)]
    file: PathBuf,
    /// Number of lines.
    #[arg(long)]
    lines: u64,
    /// Bytes per line including the newline (at least 43).
    #[arg(long)]
    size: usize,
    /// Stream id written in every line (0..=9999).
    #[arg(long, default_value_t = 0)]
    stream: u16,
    /// First sequence number.
    #[arg(long, default_value_t = 0)]
    start_seq: u64,
    /// Append to the file instead of truncating it.
    #[arg(long)]
    append: bool,
}

#[derive(Debug, Args)]
struct RecvArgs {
    /// Address to listen on; port 0 picks a free port (printed as `listening on ADDR`).
    #[arg(long, default_value = "127.0.0.1:5140")]
    listen: String,
    /// How frames are delimited.
    #[arg(long, value_enum, default_value_t = Framing::Newline)]
    framing: Framing,
    /// Stop once this many unique lines arrived.
    #[arg(long)]
    expect: Option<u64>,
    /// Stop when no data arrived for this many seconds (after the first byte).
    #[arg(long, default_value_t = 10.0)]
    idle_timeout: f64,
    /// Stop after this many seconds in any case.
    #[arg(long)]
    max_seconds: Option<f64>,
    /// Print progress to stderr every this many seconds.
    #[arg(long)]
    report_every: Option<f64>,
    /// Longest frame accepted, in bytes; longer ones count as malformed.
    #[arg(long, default_value_t = 1 << 20)]
    max_line: usize,
    /// Wake up only once this many bytes wait on a connection (SO_RCVLOWAT); the rest is read
    /// every millisecond. For throughput runs on loopback, where each wake-up of the receiver
    /// is paid by the sender; it delays lines by up to 1 ms, so leave it off to measure latency.
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    rcvlowat: usize,
}

#[derive(Debug, Args)]
struct SendArgs {
    /// File to send as it is, over one connection; without it, lines are generated.
    #[arg(long, conflicts_with_all = ["connections", "framing", "lines", "duration", "rate",
                                      "size", "tick", "first_stream", "seed"])]
    file: Option<PathBuf>,
    /// Address to connect to.
    #[arg(long, default_value = "127.0.0.1:5140")]
    addr: String,
    /// Connections, one stream each (generated lines only).
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// How lines are framed on the wire (generated lines only).
    #[arg(long, value_enum, default_value_t = Framing::Newline)]
    framing: Framing,
    #[command(flatten)]
    load: LoadArgs,
}

/// What `send` (without `--file`) and `write` generate, and for how long.
#[derive(Debug, Args)]
struct LoadArgs {
    /// Stop after exactly this many lines in total.
    #[arg(long)]
    lines: Option<u64>,
    /// Stop after this long (`10s`, `5m`, `1h 30m`).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Lines per second over all targets, or `max`.
    #[arg(long, default_value = "max")]
    rate: Rate,
    /// Line size: bytes (`128`), a range (`64-512`), or shaped like `access` or `app` logs.
    #[arg(long, default_value = "128")]
    size: LineSizes,
    /// Pacing granularity at a fixed rate.
    #[arg(long, default_value = "1ms", value_parser = humantime::parse_duration)]
    tick: Duration,
    /// Stream id of the first target; target i gets FIRST_STREAM + i.
    #[arg(long, default_value_t = 0)]
    first_stream: u16,
    /// Seed of the line sizes and bodies.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Debug, Args)]
struct WriteArgs {
    /// Existing directory to create the files in.
    #[arg(long)]
    dir: PathBuf,
    /// Number of files.
    #[arg(long, default_value_t = 1)]
    files: usize,
    /// File name; `{i}` is replaced by the file's index (required with more than one file).
    #[arg(long, default_value = gen::file::DEFAULT_NAME)]
    name: String,
    /// Rotate a file once it holds this many bytes (suffixes K, M, G: powers of 1024).
    #[arg(long, value_parser = parse_bytes)]
    rotate_bytes: Option<u64>,
    /// Rotate a file once it is this old.
    #[arg(long, value_parser = humantime::parse_duration)]
    rotate_every: Option<Duration>,
    /// How to rotate (default rename).
    #[arg(long, value_enum)]
    rotate_mode: Option<RotateMode>,
    #[command(flatten)]
    load: LoadArgs,
}

/// Parses a byte count with an optional binary suffix: `1048576`, `512K`, `64M`, `1G`.
fn parse_bytes(s: &str) -> Result<u64, String> {
    let (digits, shift) = match s.trim().char_indices().last() {
        Some((i, 'k' | 'K')) => (&s.trim()[..i], 10),
        Some((i, 'm' | 'M')) => (&s.trim()[..i], 20),
        Some((i, 'g' | 'G')) => (&s.trim()[..i], 30),
        _ => (s.trim(), 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("expected a byte count like 1048576, 512K, 64M or 1G, got {s:?}"))
}

/// Runs a generator while printing a progress line to stderr every second.
fn with_progress(
    counters: &Counters,
    run: impl FnOnce() -> Result<GenReport>,
) -> Result<GenReport> {
    let (done, finished) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            let started = Instant::now();
            let mut last = (started, 0u64, 0u64);
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                finished.recv_timeout(Duration::from_secs(1))
            {
                let now = Instant::now();
                let (lines, bytes) = (counters.lines.load(Relaxed), counters.bytes.load(Relaxed));
                let dt = now.duration_since(last.0).as_secs_f64().max(1e-9);
                eprintln!(
                    "{{\"progress_seconds\":{:.3},\"lines\":{lines},\"bytes\":{bytes},\
                     \"rotations\":{},\"lines_per_sec\":{:.0},\"mb_per_sec\":{:.1}}}",
                    now.duration_since(started).as_secs_f64(),
                    counters.rotations.load(Relaxed),
                    (lines - last.1) as f64 / dt,
                    (bytes - last.2) as f64 / dt / 1e6,
                );
                last = (now, lines, bytes);
            }
        });
        let report = run();
        drop(done);
        report
    })
}

/// `write` and generated `send` need an end: a run without one could only be killed, and would
/// never print its report.
fn check_limit(command: &str, load: &LoadArgs) -> Result<()> {
    if load.lines.is_none() && load.duration.is_none() {
        bail!("{command} needs --lines or --duration (or both)");
    }
    Ok(())
}

fn seconds(name: &str, s: f64) -> Result<Duration> {
    match Duration::try_from_secs_f64(s) {
        Ok(d) if s > 0.0 => Ok(d),
        _ => bail!("--{name} must be a positive number of seconds, got {s}"),
    }
}

/// A duration such as `10s` or `250ms`.
fn duration(name: &str, s: &str) -> Result<Duration> {
    humantime::parse_duration(s)
        .map_err(|e| anyhow::anyhow!("--{name}: {e}: expected e.g. 10s, 250ms, 1m"))
}

/// `2ms`, `0.5ms`, `1.5` (milliseconds) -> milliseconds.
fn millis(name: &str, s: &str) -> Result<f64> {
    let t = s.trim();
    let v = if let Some(us) = t.strip_suffix("us") {
        us.trim().parse::<f64>().map(|v| v / 1000.0)
    } else if let Some(ms) = t.strip_suffix("ms") {
        ms.trim().parse::<f64>()
    } else if let Some(sec) = t.strip_suffix('s') {
        sec.trim().parse::<f64>().map(|v| v * 1000.0)
    } else {
        t.parse::<f64>()
    };
    match v {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => bail!("--{name}: expected a positive latency such as 2ms, 500us or 0.5ms, got {s:?}"),
    }
}

fn run_scenario(a: RunArgs) -> Result<bool> {
    let mut sc = Scenario::load(&a.scenario)?;
    run::stop_on_signals()?;
    if let Some(rate) = &a.rate {
        sc.load.rate = rate.parse().context("--rate")?;
    }
    if let Some(io) = a.io {
        sc.agent.io = io;
    }
    if a.workers.is_some() {
        sc.agent.workers = a.workers;
    }
    sc.validate().context("after the command-line overrides")?;
    let report = run::run(
        &sc,
        &run::RunOptions {
            out: a.out.clone(),
            spate: a.spate,
            progress: !a.quiet,
            keep_files: a.keep_files,
        },
    )?;
    eprintln!(
        "{}: {} — report in {}",
        report.scenario,
        if report.passed { "passed" } else { "FAILED" },
        a.out.join("report.md").display()
    );
    for c in report.checks.iter().filter(|c| !c.ok) {
        eprintln!("  failed check {}: {}", c.name, c.detail);
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(report.passed)
}

fn run_sweep(a: SweepArgs) -> Result<()> {
    let sc = Scenario::load(&a.scenario)?;
    run::stop_on_signals()?;
    let report = sweep::sweep(
        &sc,
        &sweep::SweepOptions {
            out: a.out.clone(),
            spate: a.spate,
            slo_p99_ms: millis("slo-p99", &a.slo_p99)?,
            start: a.start,
            factor: a.factor,
            max_rate: a.max_rate,
            step: duration("step", &a.step)?,
            refine: a.refine,
            expected: a.expected,
            size: a.size,
            progress: !a.quiet,
        },
    )?;
    match (&report.headroom, report.max_sustainable_rate) {
        (Some(h), _) => eprintln!("{}", h.statement),
        (None, Some(max)) => eprintln!(
            "highest sustainable rate: {max:.0} events/s at p99 <= {} ms{}",
            report.slo_p99_ms,
            if sweep::generator_ceiling(&report).is_some() {
                " (a floor: the generator could not offer more)"
            } else {
                ""
            }
        ),
        (None, None) => eprintln!(
            "no step was sustainable within p99 <= {} ms: try a lower --start",
            report.slo_p99_ms
        ),
    }
    eprintln!("report in {}", a.out.join("report.md").display());
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    let json = match cli.command {
        Command::Prefill(a) => {
            serde_json::to_string(&prefill::prefill(&prefill::PrefillConfig {
                file: a.file,
                lines: a.lines,
                size: a.size,
                stream: a.stream,
                start_seq: a.start_seq,
                append: a.append,
            })?)?
        }
        Command::Recv(a) => {
            let cfg = recv::RecvConfig {
                listen: a.listen,
                framing: a.framing,
                expect: a.expect,
                idle_timeout: Some(seconds("idle-timeout", a.idle_timeout)?),
                max_time: a
                    .max_seconds
                    .map(|s| seconds("max-seconds", s))
                    .transpose()?,
                report_every: a
                    .report_every
                    .map(|s| seconds("report-every", s))
                    .transpose()?,
                max_frame: a.max_line,
                rcvlowat: a.rcvlowat,
            };
            serde_json::to_string(&recv::run(&cfg)?)?
        }
        Command::Run(a) => {
            if !run_scenario(a)? {
                bail!("the scenario's checks failed");
            }
            return Ok(());
        }
        Command::Sweep(a) => return run_sweep(a),
        Command::Send(a) => match a.file {
            Some(file) => {
                serde_json::to_string(&send::send(&send::SendConfig { file, addr: a.addr })?)?
            }
            None => {
                check_limit("send without --file", &a.load)?;
                let l = a.load;
                let cfg = gen::TcpLoad {
                    addr: a.addr,
                    connections: a.connections,
                    framing: a.framing,
                    rate: l.rate,
                    sizes: l.size,
                    lines: l.lines,
                    duration: l.duration,
                    tick: l.tick,
                    first_stream: l.first_stream,
                    seed: l.seed,
                };
                let counters = Counters::default();
                let stop = AtomicBool::new(false);
                let report = with_progress(&counters, || gen::send_lines(&cfg, &counters, &stop))?;
                serde_json::to_string(&report)?
            }
        },
        Command::Write(a) => {
            check_limit("write", &a.load)?;
            let rotation = match (a.rotate_bytes, a.rotate_every, a.rotate_mode) {
                (None, None, Some(_)) => {
                    bail!("--rotate-mode needs --rotate-bytes or --rotate-every")
                }
                (None, None, None) => None,
                (every_bytes, every, mode) => Some(gen::Rotation {
                    every_bytes,
                    every,
                    mode: mode.unwrap_or(RotateMode::Rename),
                }),
            };
            let l = a.load;
            let cfg = gen::FileLoad {
                dir: a.dir,
                files: a.files,
                name: a.name,
                first_stream: l.first_stream,
                rate: l.rate,
                sizes: l.size,
                lines: l.lines,
                duration: l.duration,
                tick: l.tick,
                rotation,
                seed: l.seed,
            };
            let counters = Counters::default();
            let stop = AtomicBool::new(false);
            let report = with_progress(&counters, || gen::write_files(&cfg, &counters, &stop))?;
            serde_json::to_string(&report)?
        }
    };
    println!("{json}");
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spate-loadgen: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_take_binary_suffixes() {
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("512K"), Ok(512 << 10));
        assert_eq!(parse_bytes("64m"), Ok(64 << 20));
        assert_eq!(parse_bytes(" 1G "), Ok(1 << 30));
        for bad in ["", "K", "5Q", "-1", "1.5M", "99999999999G"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
