//! `spate-loadgen`: writes numbered lines, sends them, and receives them with exactly-once
//! accounting, to measure spate's throughput (and, from the timestamp in every line, latency).
//!
//! ```text
//! spate-loadgen prefill --file /tmp/in.log --lines 10000000 --size 128
//! spate-loadgen recv --listen 127.0.0.1:5140 --expect 10000000 &
//! spate-loadgen send --file /tmp/in.log --addr 127.0.0.1:5140
//! ```
//!
//! Each command prints one JSON line to stdout; diagnostics go to stderr. The line format is in
//! [`line`].

use spate_loadgen::{prefill, recv, send};

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};

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
    /// Stream a file over one TCP connection (sendfile).
    Send(SendArgs),
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
}

#[derive(Debug, Args)]
struct SendArgs {
    /// File to send.
    #[arg(long)]
    file: PathBuf,
    /// Address to connect to.
    #[arg(long, default_value = "127.0.0.1:5140")]
    addr: String,
}

fn seconds(name: &str, s: f64) -> Result<Duration> {
    match Duration::try_from_secs_f64(s) {
        Ok(d) if s > 0.0 => Ok(d),
        _ => bail!("--{name} must be a positive number of seconds, got {s}"),
    }
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
            };
            serde_json::to_string(&recv::run(&cfg)?)?
        }
        Command::Send(a) => serde_json::to_string(&send::send(&send::SendConfig {
            file: a.file,
            addr: a.addr,
        })?)?,
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
