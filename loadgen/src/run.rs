//! `spate-loadgen run`: one scenario, from start to report.
//!
//! The order of a run:
//!
//! 1. the receiver starts on a free loopback port ([`RecvHandle`]);
//! 2. a prefilled load is written in full;
//! 3. the agent starts with a generated configuration ([`crate::sut`]) and is given
//!    `agent.settle` to come up;
//! 4. the load runs on its own thread while this thread samples, every `report.interval`, what was
//!    written, what arrived and how late (the receiver's interval histogram), and the agent's CPU
//!    and RSS from /proc; it also plays the collector outage, and draws the progress bar;
//! 5. once the load is done, the run waits (up to `checks.drain_timeout`) for every line to
//!    arrive, takes a last CPU reading, and stops the agent with SIGTERM;
//! 6. the receiver's final accounting and the samples become a [`RunReport`], whose checks decide
//!    pass or fail.
//!
//! Latency needs the send time in each line to be the moment it was written, so a prefilled run
//! (written before the agent started) reports throughput only.

use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::environment;
use crate::gen::{self, Counters, FileLoad, GenReport, Rate, Rotation, TcpLoad};
use crate::procstat::{ProcSample, ProcSampler};
use crate::recv::tally::latency_summary;
use crate::recv::{RecvConfig, RecvHandle, RecvReport};
use crate::report::model::{
    Check, Delivery, LoadSummary, Mark, Resources, RunReport, Sample, SystemUnderTest,
};
use crate::scenario::{AgentKind, LoadKind, Scenario};
use crate::sut::{self, Agent, Wiring};

/// Set by SIGINT or SIGTERM once [`stop_on_signals`] was called: the run in progress stops its
/// load, stops the agent, and still writes its report (with a failed `interrupted` check).
fn interrupted() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Whether SIGINT or SIGTERM arrived since [`stop_on_signals`].
pub fn was_interrupted() -> bool {
    interrupted().load(Ordering::Relaxed)
}

/// Makes SIGINT and SIGTERM end runs early but cleanly (see [`was_interrupted`]), instead of
/// killing spate-loadgen and leaving the agent and gigabytes of generated files behind.
pub fn stop_on_signals() -> Result<()> {
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(interrupted()))
            .context("cannot install the signal handler")?;
    }
    Ok(())
}

/// How a run is carried out (as opposed to what it measures, which is the scenario).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The report directory.
    pub out: PathBuf,
    /// The spate binary; found next to spate-loadgen or on the PATH when `None`.
    pub spate: Option<PathBuf>,
    /// Draw a progress bar (on a terminal) or print a progress line every few seconds.
    pub progress: bool,
    /// Keep the generated log files and the position file (in `OUT/work`) after the run.
    pub keep_files: bool,
}

/// Runs `sc` and writes its report into `opts.out`.
pub fn run(sc: &Scenario, opts: &RunOptions) -> Result<RunReport> {
    sc.validate()?;
    fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create the report directory {}", opts.out.display()))?;
    // The agent's configuration needs absolute paths (Flume requires them for file groups).
    let opts = &RunOptions {
        out: fs::canonicalize(&opts.out)
            .with_context(|| format!("cannot resolve {}", opts.out.display()))?,
        ..opts.clone()
    };
    let work = opts.out.join("work");
    if work.exists() {
        fs::remove_dir_all(&work)
            .with_context(|| format!("cannot clear the old work directory {}", work.display()))?;
    }
    let logs = work.join("logs");
    fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;

    let result = Run::new(sc, opts, &work, &logs).and_then(Run::execute);
    if !opts.keep_files {
        let _ = fs::remove_dir_all(&work);
    }
    let report = result?;
    crate::report::write_run(&opts.out, &report)?;
    Ok(report)
}

/// The regex of the load's file names: the name with `{i}` as digits, the rest literal.
pub fn name_pattern(name: &str) -> String {
    let mut out = String::new();
    for (i, part) in name.split("{i}").enumerate() {
        if i > 0 {
            out.push_str("[0-9]+");
        }
        for c in part.chars() {
            if "\\.+*?()|[]{}^$".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

struct Run<'a> {
    sc: &'a Scenario,
    opts: &'a RunOptions,
    logs: PathBuf,
    /// Taken at the end, by [`RecvHandle::finish`].
    recv: Option<RecvHandle>,
    wiring: Wiring,
    sut: SystemUnderTest,
    agent: Option<Agent>,
    sampler: Option<ProcSampler>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    marks: Vec<Mark>,
    checks: Vec<Check>,
    /// Lines and bytes written before the agent started.
    prefilled: Option<GenReport>,
}

impl<'a> Run<'a> {
    fn new(sc: &'a Scenario, opts: &'a RunOptions, work: &Path, logs: &Path) -> Result<Run<'a>> {
        let recv = RecvHandle::spawn(RecvConfig {
            listen: "127.0.0.1:0".into(),
            framing: sc.receiver.framing,
            expect: None,
            idle_timeout: None,
            max_time: None,
            report_every: None,
            max_frame: 8 << 20,
            rcvlowat: 0,
        })?;
        let wiring = Wiring {
            logs: logs.to_path_buf(),
            pattern: name_pattern(&sc.load.name),
            work: work.to_path_buf(),
            receiver: recv.addr(),
        };
        Ok(Run {
            sc,
            opts,
            logs: logs.to_path_buf(),
            recv: Some(recv),
            wiring,
            sut: SystemUnderTest::default(),
            agent: None,
            sampler: None,
            counters: Arc::new(Counters::default()),
            stop: Arc::new(AtomicBool::new(false)),
            marks: Vec::new(),
            checks: Vec::new(),
            prefilled: None,
        })
    }

    fn execute(mut self) -> Result<RunReport> {
        let environment = environment::describe(Path::new("."));
        if self.sc.load.prefill {
            self.prefill()?;
        }
        // A prefilled backlog is the work itself: it starts with the agent, and the agent's CPU
        // from its first instruction counts. A live load starts after the agent settled.
        let prefilled = self.sc.load.prefill;
        let agent_start = Instant::now();
        self.start_agent(!prefilled)?;
        let started = if prefilled {
            agent_start
        } else {
            Instant::now()
        };
        let load = self.start_load()?;
        let mut timeline = Timeline::new(started, self.sc.report.interval);
        let cpu_start = if prefilled {
            self.sampler.as_ref().map(|_| ProcSample {
                cpu_seconds: 0.0,
                rss_bytes: 0,
                root_peak_rss_bytes: 0,
            })
        } else {
            self.proc_sample()
        };
        let mut bar = self.progress_bar();

        // Load, then drain: sample until every line arrived or the drain timeout passed.
        let written_total = |run: &Run| {
            run.prefilled.as_ref().map_or(0, |p| p.lines)
                + run.counters.lines.load(Ordering::Relaxed)
        };
        let outage = self.sc.receiver.outage.clone();
        let mut outage_phase = OutagePhase::Before;
        let mut load_done: Option<(Instant, Result<GenReport>)> = None;
        let mut load_thread = Some(load);
        let mut agent_died = None;
        loop {
            std::thread::sleep(Duration::from_millis(20));
            let now = Instant::now();
            let t = now.duration_since(started);
            if let Some(o) = &outage {
                if outage_phase == OutagePhase::Before && t >= o.at {
                    self.recv().pause();
                    self.mark(t, "receiver stopped");
                    outage_phase = OutagePhase::During;
                } else if outage_phase == OutagePhase::During && t >= o.at + o.lasts {
                    self.recv().resume();
                    self.mark(t, "receiver back");
                    outage_phase = OutagePhase::After;
                }
            }
            if was_interrupted() && !self.stop.load(Ordering::Relaxed) {
                self.stop.store(true, Ordering::Relaxed);
                self.mark(t, "interrupted");
            }
            if let Some(agent) = &mut self.agent {
                if agent_died.is_none() {
                    if let Some(status) = agent.exited() {
                        agent_died = Some(status);
                        self.mark(t, &format!("agent exited ({status})"));
                        self.stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            if load_thread.as_ref().is_some_and(JoinHandle::is_finished) {
                let handle = load_thread.take().expect("checked above");
                let result = handle
                    .join()
                    .unwrap_or_else(|_| Err(anyhow!("the load generator panicked")));
                self.mark(t, "load finished");
                load_done = Some((now, result));
            }
            if timeline.due(now) {
                let sample = self.recv().sample();
                let proc = self.proc_sample();
                timeline.push(now, written_total(&self), &sample, proc);
                if let Some(bar) = &mut bar {
                    bar.update(&timeline, written_total(&self), &self.sc.load);
                }
            }
            let Some((load_end, Ok(_))) = &load_done else {
                if matches!(load_done, Some((_, Err(_)))) {
                    break;
                }
                continue;
            };
            let outage_over = outage_phase != OutagePhase::During;
            let drain_from = match &outage {
                Some(o) => (*load_end).max(started + o.at + o.lasts),
                None => *load_end,
            };
            let everything = self.recv().counts().unique >= written_total(&self);
            if (everything && outage_over)
                || agent_died.is_some()
                || was_interrupted()
                || now >= drain_from + self.sc.checks.drain_timeout
            {
                break;
            }
        }
        // The last lines, and the CPU at the end of delivery (before the stop's own work).
        let end = Instant::now();
        let final_sample = self.recv().sample();
        let cpu_end = self.proc_sample();
        timeline.push(end, written_total(&self), &final_sample, cpu_end);
        if let Some(bar) = bar {
            bar.finish();
        }
        let (_, load_result) = load_done.context("the load did not finish")?;
        let load = load_result.context("the load generator failed")?;
        let agent_exit = self.stop_agent(end.duration_since(started))?;
        let recv = self.recv.take().context("the receiver is gone")?.finish()?;
        Ok(self.build(
            environment,
            load,
            recv,
            timeline,
            (cpu_start, cpu_end, end.duration_since(started)),
            agent_exit,
        ))
    }

    fn recv(&self) -> &RecvHandle {
        self.recv
            .as_ref()
            .expect("the receiver lives until the end of the run")
    }

    fn mark(&mut self, t: Duration, what: &str) {
        self.marks.push(Mark {
            t: t.as_secs_f64(),
            what: what.to_string(),
        });
    }

    fn proc_sample(&self) -> Option<ProcSample> {
        self.sampler.as_ref().and_then(ProcSampler::sample)
    }

    fn file_load(&self, rate: Rate, lines: Option<u64>, duration: Option<Duration>) -> FileLoad {
        let l = &self.sc.load;
        FileLoad {
            dir: self.logs.clone(),
            files: l.files,
            name: l.name.clone(),
            first_stream: 0,
            rate,
            sizes: l.size,
            lines,
            duration,
            tick: l.tick,
            rotation: l.rotate.as_ref().map(|r| Rotation {
                every_bytes: r.every_bytes,
                every: r.every,
                mode: r.mode,
            }),
            seed: l.seed,
        }
    }

    /// Writes the whole load before the agent starts.
    fn prefill(&mut self) -> Result<()> {
        let cfg = self.file_load(Rate::Max, self.sc.load.lines, None);
        let spinner = self.opts.progress.then(|| {
            let s = ProgressBar::new_spinner();
            s.set_message("prefilling the files");
            s.enable_steady_tick(Duration::from_millis(200));
            s
        });
        let counters = Counters::default();
        let report =
            gen::write_files(&cfg, &counters, interrupted()).context("prefilling the files")?;
        if was_interrupted() {
            bail!("interrupted while prefilling the files");
        }
        if let Some(s) = spinner {
            s.finish_and_clear();
        }
        self.prefilled = Some(report);
        Ok(())
    }

    /// Starts the agent; with `settle`, waits `agent.settle` for it to come up.
    fn start_agent(&mut self, settle: bool) -> Result<()> {
        let a = &self.sc.agent;
        if a.kind == AgentKind::None {
            return Ok(());
        }
        let config_path = self.opts.out.join("agent.properties");
        let config = sut::flume_config(&self.wiring, &a.properties);
        fs::write(&config_path, &config)
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        let command: Vec<String> = match a.kind {
            AgentKind::Spate => {
                let spate = sut::find_spate(self.opts.spate.as_deref())?;
                let mut c = vec![
                    spate.display().to_string(),
                    "agent".into(),
                    "-f".into(),
                    config_path.display().to_string(),
                    "-n".into(),
                    "a1".into(),
                    "--io".into(),
                    a.io.clone(),
                ];
                if let Some(w) = a.workers {
                    c.extend(["--workers".into(), w.to_string()]);
                }
                c
            }
            _ => a
                .command
                .iter()
                .map(|arg| sut::expand(arg, &self.wiring, &config_path))
                .collect(),
        };
        let mut agent = Agent::start(&command, &self.opts.out.join("agent.log"))?;
        let deadline = Instant::now() + if settle { a.settle } else { Duration::ZERO };
        while Instant::now() < deadline {
            if let Some(status) = agent.exited() {
                bail!(
                    "the agent exited during start-up ({status}); the end of agent.log:\n{}",
                    agent.log_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.sampler = Some(ProcSampler::new(agent.pid()));
        self.sut = SystemUnderTest {
            command,
            config: Some(config),
            pid: Some(agent.pid()),
        };
        self.agent = Some(agent);
        Ok(())
    }

    /// Starts the load on its own thread (a prefilled load has nothing left to write).
    fn start_load(&self) -> Result<JoinHandle<Result<GenReport>>> {
        let l = &self.sc.load;
        let rate = l.rate;
        let counters = Arc::clone(&self.counters);
        let stop = Arc::clone(&self.stop);
        let thread = std::thread::Builder::new().name("load".into());
        let handle = if l.prefill {
            let done = self.prefilled.clone().context("prefill first")?;
            thread.spawn(move || Ok(done))
        } else {
            match l.kind {
                LoadKind::File => {
                    let cfg = self.file_load(rate, l.lines, l.duration);
                    thread.spawn(move || gen::write_files(&cfg, &counters, &stop))
                }
                LoadKind::Tcp => {
                    let addr = match self.sc.agent.kind {
                        AgentKind::None => self.recv().addr().to_string(),
                        _ => l.target.clone().context("load.target")?,
                    };
                    let cfg = TcpLoad {
                        addr,
                        connections: l.files,
                        framing: l.framing,
                        rate,
                        sizes: l.size,
                        lines: l.lines,
                        duration: l.duration,
                        tick: l.tick,
                        first_stream: 0,
                        seed: l.seed,
                    };
                    thread.spawn(move || gen::send_lines(&cfg, &counters, &stop))
                }
            }
        };
        handle.context("cannot start the load thread")
    }

    /// Stops the agent; `None` when there is none.
    fn stop_agent(&mut self, t: Duration) -> Result<Option<(String, bool, bool)>> {
        let Some(agent) = self.agent.take() else {
            return Ok(None);
        };
        let (status, killed) = agent.stop(self.sc.agent.stop_timeout)?;
        self.mark(t, "agent stopped");
        Ok(Some((status.to_string(), status.success(), killed)))
    }

    fn check(&mut self, name: &str, ok: bool, detail: String) {
        self.checks.push(Check {
            name: name.into(),
            ok,
            detail,
        });
    }

    fn build(
        mut self,
        environment: crate::report::model::Environment,
        load: GenReport,
        recv: RecvReport,
        timeline: Timeline,
        (cpu_start, cpu_end, elapsed): (Option<ProcSample>, Option<ProcSample>, Duration),
        agent_exit: Option<(String, bool, bool)>,
    ) -> RunReport {
        let sc = self.sc;
        let written = load.lines;
        if was_interrupted() {
            self.check(
                "interrupted",
                false,
                "stopped early by a signal: the figures cover the run up to then".into(),
            );
        }
        let missing = recv.missing.max(written.saturating_sub(recv.unique));
        let latency = if sc.load.prefill {
            None
        } else {
            recv.latency.clone()
        };

        self.check(
            "no loss",
            missing <= sc.checks.max_missing,
            format!(
                "{missing} of {written} lines missing (at most {} allowed)",
                sc.checks.max_missing
            ),
        );
        if let Some(max) = sc.checks.max_duplicates {
            self.check(
                "duplicates",
                recv.duplicates <= max,
                format!("{} duplicates (at most {max} allowed)", recv.duplicates),
            );
        }
        if let Some(limit) = sc.checks.p99_ms {
            let (ok, detail) = match &latency {
                Some(l) => (
                    l.p99_ms <= limit,
                    format!("p99 {:.3} ms (at most {limit} ms)", l.p99_ms),
                ),
                None => (false, "no latency measured".to_string()),
            };
            self.check("p99 latency", ok, detail);
        }
        if let (Some(target), false) = (sc.load.rate.per_sec(), sc.load.prefill) {
            let ratio = load.achieved_rate / target;
            self.check(
                "offered rate",
                ratio >= sc.checks.min_rate_ratio,
                format!(
                    "{:.0} lines/s written of {target:.0} asked ({:.1} %; at least {:.0} % needed)",
                    load.achieved_rate,
                    ratio * 100.0,
                    sc.checks.min_rate_ratio * 100.0
                ),
            );
        }
        if let (Some((status, success, killed)), true) = (&agent_exit, sc.checks.clean_exit) {
            let ok = *success && !killed;
            let detail = if *killed {
                format!(
                    "did not stop within {} of SIGTERM and was killed",
                    humantime::format_duration(sc.agent.stop_timeout)
                )
            } else {
                format!("exited with {status} on SIGTERM")
            };
            self.check("agent exit", ok, detail);
        }

        let cpu_seconds = match (cpu_start, cpu_end) {
            (Some(a), Some(b)) => (b.cpu_seconds - a.cpu_seconds).max(0.0),
            _ => 0.0,
        };
        let rss: Vec<u64> = timeline
            .samples
            .iter()
            .filter_map(|s| s.rss_bytes)
            .collect();
        let peak_rss = rss
            .iter()
            .copied()
            .chain(cpu_end.map(|s| s.root_peak_rss_bytes))
            .max()
            .unwrap_or(0);
        let has_agent = self.sampler.is_some();
        let resources = Resources {
            cpu_seconds,
            cpu_percent_mean: if elapsed.is_zero() {
                0.0
            } else {
                cpu_seconds / elapsed.as_secs_f64() * 100.0
            },
            cpu_seconds_per_million_events: (has_agent && recv.unique > 0)
                .then(|| cpu_seconds / (recv.unique as f64 / 1e6)),
            bytes_per_cpu_second: (has_agent && cpu_seconds > 0.0)
                .then(|| recv.bytes as f64 / cpu_seconds),
            peak_rss_bytes: peak_rss,
            mean_rss_bytes: if rss.is_empty() {
                0
            } else {
                rss.iter().sum::<u64>() / rss.len() as u64
            },
        };
        let passed = self.checks.iter().all(|c| c.ok);
        RunReport {
            scenario: sc.name.clone(),
            description: sc.description.clone(),
            environment,
            system_under_test: self.sut,
            scenario_config: sc.to_json(),
            load: LoadSummary {
                kind: match sc.load.kind {
                    LoadKind::File => "file".into(),
                    LoadKind::Tcp => "tcp".into(),
                },
                targets: load.targets,
                target_rate: if sc.load.prefill {
                    None
                } else {
                    sc.load.rate.per_sec()
                },
                achieved_rate: load.achieved_rate,
                lines: load.lines,
                bytes: load.bytes,
                seconds: load.seconds,
                mean_line_bytes: load.mean_line_bytes,
                rotations: load.rotations,
            },
            delivery: Delivery {
                lines: recv.lines,
                unique: recv.unique,
                missing,
                duplicates: recv.duplicates,
                out_of_order: recv.out_of_order,
                malformed: recv.malformed,
                bytes: recv.bytes,
                seconds: recv.seconds,
                events_per_sec: recv.events_per_sec,
                mb_per_sec: recv.mb_per_sec,
                receiver_cpu_seconds: recv.cpu_seconds,
            },
            latency,
            resources,
            timeline: timeline.samples,
            marks: self.marks,
            checks: self.checks,
            passed,
        }
    }

    fn progress_bar(&self) -> Option<Progress> {
        self.opts.progress.then(|| Progress::new(&self.sc.load))
    }
}

/// Where a run is with respect to its collector outage (a run without one stays `Before`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutagePhase {
    Before,
    During,
    After,
}

/// The samples of a run and what the next one is measured against.
struct Timeline {
    started: Instant,
    interval: Duration,
    next: Instant,
    last: (Instant, u64, u64, u64, Option<f64>),
    samples: Vec<Sample>,
}

impl Timeline {
    fn new(started: Instant, interval: Duration) -> Self {
        Timeline {
            started,
            interval,
            next: started + interval,
            last: (started, 0, 0, 0, None),
            samples: Vec::new(),
        }
    }

    fn due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next += self.interval;
        if self.next <= now {
            self.next = now + self.interval;
        }
        true
    }

    fn push(
        &mut self,
        now: Instant,
        written: u64,
        live: &crate::recv::LiveSample,
        proc: Option<ProcSample>,
    ) {
        let (t0, written0, unique0, bytes0, cpu0) = self.last;
        let dt = now.duration_since(t0).as_secs_f64();
        if dt <= 0.0 {
            return;
        }
        let c = &live.counts;
        let lat = latency_summary(&live.interval);
        let cpu = proc.map(|p| p.cpu_seconds);
        self.samples.push(Sample {
            t: now.duration_since(self.started).as_secs_f64(),
            written_per_sec: written.saturating_sub(written0) as f64 / dt,
            received_per_sec: c.unique.saturating_sub(unique0) as f64 / dt,
            received_mb_per_sec: c.bytes.saturating_sub(bytes0) as f64 / dt / 1e6,
            lag_lines: written as i64 - c.unique as i64,
            p50_ms: lat.as_ref().map(|l| l.p50_ms),
            p99_ms: lat.as_ref().map(|l| l.p99_ms),
            p999_ms: lat.as_ref().map(|l| l.p999_ms),
            max_ms: lat.as_ref().map(|l| l.max_ms),
            cpu_percent: match (cpu0, cpu) {
                (Some(a), Some(b)) => Some((b - a).max(0.0) / dt * 100.0),
                _ => None,
            },
            rss_bytes: proc.map(|p| p.rss_bytes),
        });
        self.last = (now, written, c.unique, c.bytes, cpu);
    }
}

/// The progress display: a bar on a terminal, a line every few seconds otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    last_line: Instant,
}

impl Progress {
    fn new(load: &crate::scenario::LoadSection) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let (len, unit) = match (load.duration, load.lines) {
                (Some(d), _) => (d.as_secs().max(1), "s"),
                (None, Some(n)) => (n, " lines"),
                (None, None) => (0, ""),
            };
            let bar = ProgressBar::new(len);
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}}{unit}  {{msg}}"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            last_line: Instant::now(),
        }
    }

    fn update(&mut self, timeline: &Timeline, written: u64, load: &crate::scenario::LoadSection) {
        let Some(s) = timeline.samples.last() else {
            return;
        };
        let p99 = s
            .p99_ms
            .map_or_else(|| "-".to_string(), |p| format!("{p:.2} ms"));
        let msg = format!(
            "{:.0} lines/s received, p99 {p99}, lag {} lines",
            s.received_per_sec, s.lag_lines
        );
        match &self.bar {
            Some(bar) => {
                let pos = match load.duration {
                    Some(_) => s.t as u64,
                    None => written,
                };
                bar.set_position(pos);
                bar.set_message(msg);
            }
            None => {
                if self.last_line.elapsed() >= Duration::from_secs(5) {
                    self.last_line = Instant::now();
                    eprintln!("[{:>6.1}s] {written} lines written, {msg}", s.t);
                }
            }
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_become_an_anchorable_regex() {
        assert_eq!(name_pattern("app-{i}.log"), r"app-[0-9]+\.log");
        assert_eq!(name_pattern("app.log"), r"app\.log");
        assert_eq!(name_pattern("a+b[{i}].log"), r"a\+b\[[0-9]+\]\.log");
    }
}
