//! The `spate` command: `spate agent` runs a Flume-compatible agent, `spate check` validates a
//! configuration. Errors below `main` are typed; here they become messages and exit codes:
//! 0 success, 1 failure while running, 2 bad command line or configuration.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use spate::agent::{Agent, AgentOptions, Stopped};
use spate::config::{self, AgentConfig};
use spate::monitoring::server::{Api, Endpoint};
use spate::monitoring::status::StatusLine;
use spate::monitoring::{Health, Metrics, ReloadOutcome};
use spate::runtime::{select_backend, IoMode};
use tracing::{error, info, warn};

#[derive(Debug, Parser)]
#[command(
    name = "spate",
    version,
    about = "A Flume-compatible, thread-per-core log collection agent"
)]
struct Cli {
    /// Log level (error, warn, info, debug, trace), or a tracing filter such as `spate=debug`.
    /// RUST_LOG, when set, takes precedence.
    #[arg(long, global = true, default_value = "info")]
    log_level: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an agent. Without -f, runs the built-in pipeline: tail ./logs/*.log to the log.
    Agent(AgentArgs),
    /// Validate a configuration and print the resolved pipeline, without running it.
    Check(ConfigArgs),
    /// Show a running agent's rates, channel fill and sink state, from its --metrics-addr.
    Stats(StatsArgs),
    /// Work on a file channel's directories offline.
    #[command(subcommand)]
    Channel(ChannelCommand),
}

#[derive(Debug, Subcommand)]
enum ChannelCommand {
    /// Check a file channel's data directories without changing them: every segment's records,
    /// damage and torn writes, and what a start would queue and repair; with --checkpoint,
    /// whether the checkpoint is sound and agrees with the log. Exit status: 0 clean, 1
    /// damaged (a start skips the damage, truncates torn writes, and reads the whole log in
    /// place of a damaged checkpoint), 2 not a channel or unreadable.
    Verify {
        /// The channel's `checkpointDir` (or `backupCheckpointDir`): check its checkpoint too.
        #[arg(long, value_name = "DIR")]
        checkpoint: Option<PathBuf>,
        /// The channel's `dataDirs` (all of them).
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// Flume agent configuration file (Java properties); several are merged in order.
    #[arg(short = 'f', long = "conf-file", value_name = "FILE")]
    conf_file: Vec<PathBuf>,

    /// Name of the agent to run, as in the configuration (`a1.sources = ...`).
    #[arg(short = 'n', long = "name", value_name = "NAME")]
    name: Option<String>,

    /// Flume's configuration directory; accepted for compatibility, not used.
    #[arg(short = 'c', long = "conf", value_name = "DIR")]
    conf: Option<PathBuf>,

    /// Java system properties as flume-ng takes them (-Dkey=value). `spate agent` honours
    /// Flume's JSON monitoring (`-Dflume.monitoring.type=http`, `-Dflume.monitoring.port=N`,
    /// default 41414; `-Dflume.monitoring.host=ADDR`, default 127.0.0.1, is spate's own);
    /// others are ignored with a warning.
    #[arg(short = 'D', value_name = "KEY=VALUE")]
    java_properties: Vec<String>,

    /// Refuse a configuration with warnings (what Flume ignores: unknown keys, components
    /// configured but not listed, keys set twice), as if they were errors.
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, Args)]
struct AgentArgs {
    #[command(flatten)]
    config: ConfigArgs,

    /// I/O backend: io_uring when available (auto), or force one.
    #[arg(long = "io", value_enum, default_value_t = IoMode::Auto)]
    io: IoMode,

    /// Worker threads, one per core. Default: the number of cores.
    #[arg(long)]
    workers: Option<usize>,

    /// Do not pin workers to cores.
    #[arg(long)]
    no_pin: bool,

    /// Seconds sinks may take at stop to deliver what is left in the channels.
    #[arg(long, default_value_t = 10)]
    drain_timeout: u64,

    /// Do not watch the configuration files. By default, as Flume does, they are checked every
    /// `--reload-interval` seconds, and a change restarts the agent on the new configuration
    /// (an invalid one is reported and ignored).
    #[arg(long)]
    no_reload_conf: bool,

    /// Seconds between two checks of the configuration files (Flume: 30).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    reload_interval: u64,

    /// Serve Prometheus metrics at /metrics, and /health and /ready, on this address
    /// (`HOST:PORT`, or a port alone for 127.0.0.1). Off by default.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen_addr)]
    metrics_addr: Option<SocketAddr>,

    /// Seconds a sink may hold a take undelivered (retrying a dead collector, for example)
    /// before /health answers 503.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    health_timeout: u64,

    /// Seconds between two status lines in the log (rates, channel fill, failures); 0 for none.
    #[arg(long, default_value_t = 30)]
    status_interval: u64,
}

#[derive(Debug, Args)]
struct StatsArgs {
    /// The agent's Prometheus endpoint (its --metrics-addr).
    #[arg(long, default_value = "127.0.0.1:9464", value_parser = parse_listen_addr)]
    addr: SocketAddr,

    /// Seconds between two refreshes.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    interval: u64,

    /// Print this many refreshes, then exit (default: until interrupted).
    #[arg(long)]
    count: Option<u64>,
}

/// `HOST:PORT`, or a port alone (then on 127.0.0.1: the loopback unless asked otherwise).
fn parse_listen_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse().map_err(|e| {
        format!("`{s}` is not an address: {e} (give HOST:PORT such as 127.0.0.1:9464, or a port)")
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_level);
    match cli.command {
        Command::Check(args) => check(&args),
        Command::Stats(args) => stats(&args),
        Command::Channel(ChannelCommand::Verify { dirs, checkpoint }) => {
            verify_channel(&dirs, checkpoint.as_deref())
        }
        Command::Agent(args) => {
            tune_allocator();
            run_agent(&args)
        }
    }
}

/// Keeps freed read buffers in the process instead of handing them back to the kernel.
///
/// A read buffer (`readBufferSize`, up to a few MiB) is freed on the sink's worker once its last
/// batch is delivered, and a new one is allocated for a later read. With glibc's defaults, such
/// frees often return the memory (`munmap`, or trimming the heap top), and the next allocation
/// faults it back in, zeroed: `clear_page` took 11 % of the agent's CPU in a `perf` profile of
/// the tail-to-tcp case. Raising the mmap and trim thresholds keeps that memory for reuse;
/// memory held is then the peak of what the channels and files buffered, which their
/// capacities already bound. Measured: 2.62 -> 2.95 GB per agent CPU-second (medians of 10,
/// `docs/benchmarks.md`). A `GLIBC_TUNABLES` given by the operator is left in charge.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("GLIBC_TUNABLES").is_none() {
        // SAFETY: mallopt only changes allocator parameters; it is called before any other
        // thread exists, and its failure (return 0) leaves the defaults, which is harmless.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        }
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: a log file or journald gets plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Loads the configuration the arguments name, or the built-in one, and shows its warnings with
/// `show` (refusing them with `--strict`).
fn load_config(args: &ConfigArgs, show: fn(&str)) -> Result<AgentConfig, String> {
    let config = load_config_file(args)?;
    if args.strict && !config.warnings.is_empty() {
        let n = config.warnings.len();
        let warnings = config.strict().unwrap_err();
        return Err(format!(
            "{warnings}\n--strict: refusing a configuration with {n} warning{}",
            if n == 1 { "" } else { "s" }
        ));
    }
    for w in &config.warnings {
        show(&w.to_string());
    }
    Ok(config)
}

fn load_config_file(args: &ConfigArgs) -> Result<AgentConfig, String> {
    if args.conf_file.is_empty() {
        if args.name.is_some() {
            return Err("-n/--name needs a configuration file: add -f FILE".into());
        }
        info!("no -f given: running the built-in pipeline (tail ./logs/*.log -> log)");
        return config::load_default().map_err(|e| e.to_string());
    }
    let Some(name) = &args.name else {
        return Err(
            "missing -n/--name: the agent of the configuration file to run (for example `-n a1`)"
                .into(),
        );
    };
    config::load(&args.conf_file, name).map_err(|e| e.to_string())
}

/// Flume's port for its JSON metrics.
const FLUME_MONITORING_PORT: u16 = 41414;

/// Where Flume's JSON metrics are to be served, as the `-D` flags ask: `None` without
/// `-Dflume.monitoring.type`. Other Java properties are ignored with a warning.
fn flume_monitoring(props: &[String]) -> Result<Option<SocketAddr>, String> {
    let (mut kind, mut port, mut host) = (None, None, None);
    for p in props {
        let (key, value) = p.split_once('=').unwrap_or((p, ""));
        match key {
            "flume.monitoring.type" => kind = Some(value),
            "flume.monitoring.port" => port = Some(value),
            "flume.monitoring.host" => host = Some(value),
            _ => warn!("-D{p} is a Java system property; spate ignores it"),
        }
    }
    let Some(kind) = kind else {
        if port.is_some() || host.is_some() {
            warn!(
                "-Dflume.monitoring.port and .host do nothing without -Dflume.monitoring.type=http"
            );
        }
        return Ok(None);
    };
    let http = kind.eq_ignore_ascii_case("http")
        || kind == "org.apache.flume.instrumentation.http.HTTPMetricsServer";
    if !http {
        return Err(format!(
            "-Dflume.monitoring.type={kind}: spate serves Flume's JSON metrics (`http`) only; \
             for Prometheus, use --metrics-addr"
        ));
    }
    let port = match port {
        None => FLUME_MONITORING_PORT,
        Some(p) => p
            .parse()
            .map_err(|_| format!("-Dflume.monitoring.port={p}: not a port (0 to 65535)"))?,
    };
    let host = match host {
        None => std::net::IpAddr::from([127, 0, 0, 1]),
        Some(h) => h.parse().map_err(|_| {
            format!("-Dflume.monitoring.host={h}: not an IP address (such as 0.0.0.0)")
        })?,
    };
    Ok(Some(SocketAddr::new(host, port)))
}

fn check(args: &ConfigArgs) -> ExitCode {
    if let Err(e) = flume_monitoring(&args.java_properties) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    match load_config(args, |w| eprintln!("{w}")) {
        Ok(config) => {
            print!("{}", config.describe());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn stats(args: &StatsArgs) -> ExitCode {
    let interval = Duration::from_secs(args.interval);
    match spate::monitoring::stats::run(args.addr, interval, args.count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn verify_channel(dirs: &[PathBuf], checkpoint: Option<&Path>) -> ExitCode {
    let survey = match spate::channel::file::channel::survey(dirs) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let checkpoint_sound = match checkpoint {
        Some(dir) => verify_checkpoint(dir, dirs, &survey),
        None => true,
    };
    if survey.segments.is_empty() {
        println!("no segments: an empty channel (or not a file channel's data directory)");
        return if checkpoint_sound {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    for s in &survey.segments {
        let mut line = format!(
            "{}: {} bytes, {} put records, {} take records",
            s.path.display(),
            s.bytes,
            s.puts,
            s.takes
        );
        if s.headerless {
            line += "; cut short before its header (a start removes it)";
        }
        if s.damaged.0 > 0 {
            line += &format!(
                "; {} damaged records or stretches, {} bytes (a start skips them: their events \
                 are lost)",
                s.damaged.0, s.damaged.1
            );
        }
        if s.torn > 0 && !s.headerless {
            line += &format!(
                "; a torn write of {} bytes at the end (never acknowledged; a start truncates it)",
                s.torn
            );
        }
        println!("{line}");
    }
    println!(
        "{} segments of log {:08x}; a start would queue {} events in {} batches",
        survey.segments.len(),
        survey.log_id.unwrap_or(0),
        survey.queued_events(),
        survey.queued_batches()
    );
    if survey.is_clean() && checkpoint_sound {
        println!("clean");
        ExitCode::SUCCESS
    } else {
        println!("damaged: a start repairs it as said above, and keeps everything else");
        ExitCode::from(1)
    }
}

/// Says what the checkpoint in `dir` holds and whether a start from it queues what the whole
/// log does; returns whether it is sound and agrees.
fn verify_checkpoint(
    dir: &Path,
    data_dirs: &[PathBuf],
    whole: &spate::channel::file::channel::Survey,
) -> bool {
    use spate::channel::file::checkpoint::Checkpoint;
    let path = dir.join(spate::channel::file::checkpoint::FILE);
    let checkpoint = match Checkpoint::read(dir) {
        Ok(Some(c)) => c,
        Ok(None) => {
            println!(
                "{}: no checkpoint (a start reads the whole log)",
                path.display()
            );
            return true;
        }
        Err(e) => {
            println!("{e}: a start reads the whole log instead");
            return false;
        }
    };
    let from = match spate::channel::file::channel::survey_from(data_dirs, Some(&checkpoint)) {
        Ok(s) => s,
        Err(e) => {
            println!(
                "{}: {e}; a start reads the whole log instead",
                path.display()
            );
            return false;
        }
    };
    println!(
        "{}: at segment {} byte {}, {} events in {} batches; a start reads the {} bytes of log \
         after it and queues {} events",
        path.display(),
        checkpoint.position.segment,
        checkpoint.position.offset,
        checkpoint.events(),
        checkpoint.live.len(),
        from.bytes_read(),
        from.queued_events()
    );
    if from.queue().eq(whole.queue()) {
        println!("the checkpoint agrees with the log");
        true
    } else {
        println!(
            "the checkpoint disagrees with the log: a start from it queues {} events in {} \
             batches, from the whole log {} in {} (records damaged since the checkpoint are \
             skipped when taken)",
            from.queued_events(),
            from.queued_batches(),
            whole.queued_events(),
            whole.queued_batches()
        );
        false
    }
}

fn log_warning(w: &str) {
    warn!("{w}");
}

fn run_agent(args: &AgentArgs) -> ExitCode {
    let config = match load_config(&args.config, log_warning) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let backend = match select_backend(args.io) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let flume_json = match flume_monitoring(&args.config.java_properties) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    raise_open_file_limit();
    let metrics = Metrics::new(&config.name);
    let health = Health {
        sink_timeout: Duration::from_secs(args.health_timeout),
    };
    let endpoints: Vec<Endpoint> = [
        flume_json.map(|addr| Endpoint {
            api: Api::FlumeJson,
            addr,
        }),
        args.metrics_addr.map(|addr| Endpoint {
            api: Api::Prometheus,
            addr,
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !endpoints.is_empty() || args.status_interval > 0 {
        metrics.want_files();
    }
    if !endpoints.is_empty() {
        match spate::monitoring::server::start(metrics.clone(), health, &endpoints) {
            Ok(server) => {
                for (e, addr) in endpoints.iter().zip(&server.addrs) {
                    match e.api {
                        Api::FlumeJson => info!(
                            "serving Flume's JSON metrics at http://{addr}/metrics{}",
                            if addr.ip().is_loopback() {
                                " (loopback only; -Dflume.monitoring.host=0.0.0.0 serves every \
                                 address, as Flume does)"
                            } else {
                                ""
                            }
                        ),
                        Api::Prometheus => info!(
                            "serving Prometheus metrics at http://{addr}/metrics, health at \
                             /health and /ready"
                        ),
                    }
                }
            }
            Err(e) => {
                eprintln!("monitoring: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let cores = core_affinity::get_core_ids().map_or(1, |c| c.len().max(1));
    let options = AgentOptions {
        backend,
        workers: args.workers.unwrap_or(cores).max(1),
        pin: !args.no_pin,
        drain_timeout: Duration::from_secs(args.drain_timeout),
        metrics: metrics.clone(),
    };
    let status_every = Duration::from_secs(args.status_interval);
    let mut status = StatusLine::default();
    let mut next_status = Instant::now() + status_every;

    let (tx, signals) = mpsc::channel();
    if let Err(e) = forward_signals(tx) {
        eprintln!("cannot install signal handlers: {e}");
        return ExitCode::from(1);
    }
    let mut agent = match Agent::start(&config, &options) {
        Ok(agent) => agent,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut config = config;
    let mut watch = (!args.no_reload_conf && !args.config.conf_file.is_empty()).then(|| {
        ConfigWatch::new(
            &args.config.conf_file,
            Duration::from_secs(args.reload_interval),
        )
    });
    loop {
        let reload_asked = match signals.recv_timeout(Duration::from_millis(500)) {
            Ok(SIGHUP) => {
                info!("SIGHUP: reading the configuration again");
                true
            }
            Ok(SIGUSR1) => {
                agent.log_status();
                continue;
            }
            Ok(signal) => {
                info!(
                    signal,
                    "stop requested (a second SIGTERM or SIGINT ends the drain at once)"
                );
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) if agent.has_failed_worker() => {
                error!("a worker stopped unexpectedly; stopping the agent");
                agent.stop();
                return ExitCode::from(1);
            }
            Err(_) => false,
        };
        if !status_every.is_zero() && Instant::now() >= next_status {
            next_status += status_every;
            info!("status: {}", status.line(&metrics.snapshot()));
        }
        let file_changed = watch.as_mut().is_some_and(ConfigWatch::changed);
        if !reload_asked && !file_changed {
            continue;
        }
        if args.config.conf_file.is_empty() {
            info!("the built-in pipeline has no configuration file to read again");
            continue;
        }
        let new = match load_config(&args.config, log_warning) {
            Ok(new) => new,
            Err(e) => {
                error!("the configuration changed but is not valid; still running the previous one:\n{e}");
                metrics.reloaded(ReloadOutcome::Rejected);
                continue;
            }
        };
        if new.describe() == config.describe() {
            if reload_asked {
                info!("the configuration is unchanged; the agent runs on");
            }
            continue;
        }
        info!("the configuration changed: stopping the agent and starting it on the new one");
        stopped(agent.stop());
        agent = match Agent::start(&new, &options) {
            Ok(started) => {
                config = new;
                metrics.reloaded(ReloadOutcome::Applied);
                started
            }
            Err(e) => {
                error!("cannot start the new configuration: {e}; going back to the previous one");
                metrics.reloaded(ReloadOutcome::Rejected);
                match Agent::start(&config, &options) {
                    Ok(previous) => previous,
                    Err(e) => {
                        error!("cannot start the previous configuration again either: {e}");
                        return ExitCode::from(1);
                    }
                }
            }
        };
    }
    let mut again = || matches!(signals.try_recv(), Ok(SIGTERM | SIGINT));
    if stopped(agent.stop_unless(&mut again)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Says how a stop went; returns whether it was clean (every final position written).
fn stopped(stop: Stopped) -> bool {
    if stop.is_clean() {
        return true;
    }
    error!(
        files = stop.finish_errors.len(),
        "stopped, but final positions were NOT written (see above): the next start sends again \
         what was delivered since their last write"
    );
    false
}

/// Flume's configuration polling: the files' modification time and size, checked every
/// interval. Only a change triggers a reload; a file that vanished is a change too (its reload
/// then fails with a clear error and the running agent stays).
struct ConfigWatch {
    files: Vec<PathBuf>,
    stamps: Vec<Option<(std::time::SystemTime, u64)>>,
    every: Duration,
    next: Instant,
}

impl ConfigWatch {
    fn new(files: &[PathBuf], every: Duration) -> ConfigWatch {
        ConfigWatch {
            files: files.to_vec(),
            stamps: files.iter().map(|f| stamp(f)).collect(),
            every,
            next: Instant::now() + every,
        }
    }

    /// Whether, at a due check, any file differs from the last check.
    fn changed(&mut self) -> bool {
        let now = Instant::now();
        if now < self.next {
            return false;
        }
        self.next = now + self.every;
        let stamps: Vec<_> = self.files.iter().map(|f| stamp(f)).collect();
        let changed = stamps != self.stamps;
        self.stamps = stamps;
        changed
    }
}

fn stamp(path: &Path) -> Option<(std::time::SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Sends the signals an operator uses to `tx`, from a signal-handling thread: SIGTERM and SIGINT
/// (stop; again: end the drain), SIGHUP (read the configuration again, as `logrotate`'s
/// `postrotate` scripts send it) and SIGUSR1 (log the state). None of them kills the agent.
/// SIGPIPE is ignored already: Rust's runtime sets it so before `main`, and a write to a closed
/// connection is an error the sink handles.
fn forward_signals(tx: mpsc::Sender<i32>) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1])?;
    std::thread::Builder::new()
        .name("spate-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if tx.send(signal).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

/// A host tailing many files needs many descriptors: lift the soft limit to the hard one.
fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` struct, which `lim` is.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 && lim.rlim_cur < lim.rlim_max
    {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: setrlimit reads one `rlimit` struct, which `lim` is.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            warn!(
                "cannot raise the open-file limit: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}
