//! `spate-loadgen sweep`: the highest rate this host sustains within a latency SLO.
//!
//! A sweep runs a scenario again and again at increasing fixed rates (each step a fresh agent,
//! fresh files, `--step` long), multiplying the rate by `--factor` until a step is not
//! sustainable, then bisects between the last good and the first bad rate `--refine` times.
//!
//! A step is sustainable when, over its load:
//!
//! * nothing was lost;
//! * the p99 end-to-end latency is within the SLO;
//! * the agent kept up: at the end of the load, the lines written but not yet received are less
//!   than a quarter second's worth (a backlog that grows means the agent is falling behind, and a
//!   longer step would only make it worse);
//! * the agent stopped cleanly.
//!
//! If the generator itself cannot offer a rate (it writes less than 97 % of it), what it did
//! write becomes the upper bound of the search. When that bound, not a failure of the agent,
//! ends the search, the result is a floor for the agent and the report says so.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::gen::{LineSizes, Rate};
use crate::report::model::{Headroom, RunReport, SweepReport, SweepStep};
use crate::run::{self, RunOptions};
use crate::scenario::Scenario;

/// The generator must write at least this fraction of the offered rate for a step to count.
pub const GENERATOR_RATIO: f64 = 0.97;
/// Backlog allowed at the end of a step, in seconds of the offered rate.
pub const MAX_BACKLOG_SECONDS: f64 = 0.25;

/// How to sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub out: PathBuf,
    pub spate: Option<PathBuf>,
    /// The latency SLO, p99 in milliseconds.
    pub slo_p99_ms: f64,
    /// First rate, lines per second.
    pub start: f64,
    /// Each step multiplies the rate by this (> 1).
    pub factor: f64,
    /// Never offer more than this.
    pub max_rate: Option<f64>,
    /// Load duration of each step.
    pub step: Duration,
    /// Bisections between the last good and the first bad rate.
    pub refine: u32,
    /// The workload to compare with the result, lines per second.
    pub expected: Option<f64>,
    /// Line size for every step, overriding the scenario's.
    pub size: Option<usize>,
    pub progress: bool,
}

impl SweepOptions {
    fn validate(&self) -> Result<()> {
        if !(self.slo_p99_ms.is_finite() && self.slo_p99_ms > 0.0) {
            bail!("--slo-p99 must be a positive number of milliseconds");
        }
        if !(self.start.is_finite() && self.start > 0.0) {
            bail!("--start must be a positive rate");
        }
        if !(self.factor.is_finite() && self.factor > 1.0) {
            bail!("--factor must be above 1");
        }
        if matches!(self.max_rate, Some(m) if m.is_nan() || m < self.start) {
            bail!("--max-rate must be at least --start");
        }
        if self.step < Duration::from_secs(1) {
            bail!("--step must be at least 1s");
        }
        if matches!(self.expected, Some(e) if !(e.is_finite() && e > 0.0)) {
            bail!("--expected must be a positive rate");
        }
        Ok(())
    }
}

/// Runs the sweep and writes its report into `o.out`.
pub fn sweep(base: &Scenario, o: &SweepOptions) -> Result<SweepReport> {
    o.validate()?;
    let mut sc = base.clone();
    sc.load.prefill = false;
    sc.load.lines = None;
    sc.load.duration = Some(o.step);
    sc.checks.p99_ms = Some(o.slo_p99_ms);
    sc.checks.drain_timeout = sc.checks.drain_timeout.min(Duration::from_secs(10));
    if let Some(size) = o.size {
        sc.load.size = LineSizes::Fixed(size);
    }
    sc.validate()?;

    let bar = o.progress.then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} {spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let mut steps: Vec<(SweepStep, RunReport)> = Vec::new();
    let run_step = |rate: f64, steps: &mut Vec<(SweepStep, RunReport)>| -> Result<bool> {
        let n = steps.len();
        if let Some(bar) = &bar {
            bar.set_message(format!("step {}: {rate:.0} lines/s", n + 1));
        }
        let mut step_sc = sc.clone();
        step_sc.load.rate = Rate::PerSec(rate);
        let report = run::run(
            &step_sc,
            &RunOptions {
                out: o.out.join("steps").join(format!("{:02}-{rate:.0}", n + 1)),
                spate: o.spate.clone(),
                progress: false,
                keep_files: false,
            },
        )?;
        let step = judge(rate, &report, o.slo_p99_ms, o.step);
        let line = format!(
            "step {}: {rate:.0} lines/s -> received {:.0}/s, p99 {}, {}",
            n + 1,
            step.received_rate,
            step.latency
                .as_ref()
                .map_or("-".into(), |l| format!("{:.2} ms", l.p99_ms)),
            step.reason.as_deref().unwrap_or("sustained")
        );
        match &bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
        let ok = step.sustainable;
        steps.push((step, report));
        Ok(ok)
    };

    // Climb. A step that fails because the generator could not offer its rate bounds the search
    // at what the generator did write, so the refinement stays within what can be offered.
    let failed_at = |rate: f64, steps: &[(SweepStep, RunReport)]| match steps.last() {
        Some((s, _)) if generator_limited(steps) => s.achieved_rate.min(rate),
        _ => rate,
    };
    let mut rate = o.start;
    let mut good: Option<f64> = None;
    let mut bad: Option<f64> = None;
    loop {
        if run_step(rate, &mut steps)? {
            good = Some(rate);
            let next = rate * o.factor;
            match o.max_rate {
                Some(max) if rate >= max => break,
                Some(max) => rate = next.min(max),
                None => rate = next,
            }
        } else {
            bad = Some(failed_at(rate, &steps));
            break;
        }
        if run::was_interrupted() {
            break;
        }
    }
    // Refine between the last good and the first bad rate.
    if let (Some(mut lo), Some(mut hi)) = (good, bad) {
        for _ in 0..o.refine {
            if run::was_interrupted() || hi <= lo * 1.02 {
                break;
            }
            let mid = (lo * hi).sqrt();
            if run_step(mid, &mut steps)? {
                lo = mid;
            } else {
                hi = failed_at(mid, &steps);
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let mut report = summarise(&sc, o, steps);
    if let (Some(reached), Some(h)) = (generator_ceiling(&report), &mut report.headroom) {
        h.statement.push_str(&format!(
            " That rate is a floor, not spate's ceiling: the load generator could not offer more \
             than {} events/s here (see the last step).",
            human_rate(reached)
        ));
    }
    crate::report::write_sweep(&o.out, &report)?;
    Ok(report)
}

/// When the first failing rate above the best sustained one failed because the generator could
/// not offer it, what the generator reached: the result is then a floor for the agent.
pub fn generator_ceiling(r: &SweepReport) -> Option<f64> {
    let best = r.max_sustainable_rate.unwrap_or(0.0);
    r.steps
        .iter()
        .filter(|s| !s.sustainable && s.offered_rate > best)
        .min_by(|a, b| a.offered_rate.total_cmp(&b.offered_rate))
        .filter(|s| s.achieved_rate < s.offered_rate * GENERATOR_RATIO)
        .map(|s| s.achieved_rate)
}

/// Whether the last step failed because the generator could not offer its rate.
fn generator_limited(steps: &[(SweepStep, RunReport)]) -> bool {
    steps
        .last()
        .is_some_and(|(s, _)| s.achieved_rate < s.offered_rate * GENERATOR_RATIO)
}

/// Decides whether one step was sustainable (see the module docs).
pub fn judge(offered: f64, r: &RunReport, slo_p99_ms: f64, step: Duration) -> SweepStep {
    // The lag when the load stopped: the last sample within the load's duration.
    let load_end = step.as_secs_f64();
    let lag_end = r
        .timeline
        .iter()
        .take_while(|s| s.t <= load_end + 0.5)
        .last()
        .map_or(0, |s| s.lag_lines);
    let received_rate = if r.load.seconds > 0.0 {
        // Lines that arrived while the load ran, per second of load.
        (r.load.lines as i64 - lag_end).max(0) as f64 / r.load.seconds
    } else {
        0.0
    };
    let reason = if r.load.achieved_rate < offered * GENERATOR_RATIO {
        Some(format!(
            "the generator reached only {:.0} lines/s",
            r.load.achieved_rate
        ))
    } else if r.delivery.missing > 0 {
        Some(format!("lost {} lines", r.delivery.missing))
    } else if lag_end as f64 > offered * MAX_BACKLOG_SECONDS {
        Some(format!(
            "fell behind: {lag_end} lines not yet delivered when the load stopped"
        ))
    } else if let Some(l) = r.latency.as_ref().filter(|l| l.p99_ms > slo_p99_ms) {
        Some(format!(
            "p99 {:.2} ms above the {slo_p99_ms} ms SLO",
            l.p99_ms
        ))
    } else if r.latency.is_none() {
        Some("no latency measured".into())
    } else {
        r.checks
            .iter()
            .find(|c| c.name == "agent exit" && !c.ok)
            .map(|c| format!("agent exit: {}", c.detail))
    };
    SweepStep {
        offered_rate: offered,
        achieved_rate: r.load.achieved_rate,
        received_rate,
        latency: r.latency.clone(),
        cpu_percent_mean: r.resources.cpu_percent_mean,
        cpu_seconds_per_million_events: r.resources.cpu_seconds_per_million_events,
        peak_rss_bytes: r.resources.peak_rss_bytes,
        missing: r.delivery.missing,
        duplicates: r.delivery.duplicates,
        lag_lines_end: lag_end,
        sustainable: reason.is_none(),
        reason,
    }
}

fn summarise(sc: &Scenario, o: &SweepOptions, steps: Vec<(SweepStep, RunReport)>) -> SweepReport {
    let first = steps.first().map(|(_, r)| r.clone()).unwrap_or_default();
    let line_bytes = match o.size {
        Some(s) => s as f64,
        None => first.load.mean_line_bytes,
    };
    let mut steps: Vec<SweepStep> = steps.into_iter().map(|(s, _)| s).collect();
    steps.sort_by(|a, b| a.offered_rate.total_cmp(&b.offered_rate));
    let best = steps
        .iter()
        .filter(|s| s.sustainable)
        .max_by(|a, b| a.offered_rate.total_cmp(&b.offered_rate))
        .cloned();
    let max_rate = best.as_ref().map(|b| b.offered_rate);
    let headroom = match (o.expected, max_rate) {
        (Some(expected), Some(max)) => Some(headroom(expected, max, line_bytes, o.slo_p99_ms)),
        _ => None,
    };
    SweepReport {
        scenario: sc.name.clone(),
        environment: first.environment,
        system_under_test: first.system_under_test,
        scenario_config: sc.to_json(),
        slo_p99_ms: o.slo_p99_ms,
        line_bytes,
        max_sustainable_rate: max_rate,
        max_sustainable_bytes_per_sec: max_rate.map(|r| r * line_bytes),
        cpu_seconds_per_million_events: best
            .as_ref()
            .and_then(|b| b.cpu_seconds_per_million_events),
        p99_ms_at_max: best
            .as_ref()
            .and_then(|b| b.latency.as_ref())
            .map(|l| l.p99_ms),
        headroom,
        steps,
    }
}

/// The plain-words comparison of an expected workload with the sustained maximum.
pub fn headroom(expected: f64, max: f64, line_bytes: f64, slo_p99_ms: f64) -> Headroom {
    let percent = expected / max * 100.0;
    let mut statement = format!(
        "This host sustains {} events/s of {line_bytes:.0} bytes ({:.1} MB/s) at p99 <= {slo_p99_ms} ms; \
         your expected load of {} events/s uses {percent:.0}% of it.",
        human_rate(max),
        max * line_bytes / 1e6,
        human_rate(expected),
    );
    if percent > 100.0 {
        statement.push_str(&format!(
            " It does not fit on one host: spread it over at least {} hosts (or a collector tier).",
            (expected / max).ceil()
        ));
    }
    Headroom {
        expected_rate: expected,
        line_bytes: line_bytes.round() as usize,
        percent_used: percent,
        statement,
    }
}

fn human_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.0} k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{Check, Latency, LoadSummary, Sample};

    fn report(achieved: f64, missing: u64, lag: i64, p99: f64) -> RunReport {
        let mut r = RunReport {
            load: LoadSummary {
                achieved_rate: achieved,
                lines: (achieved * 10.0) as u64,
                seconds: 10.0,
                ..LoadSummary::default()
            },
            ..RunReport::default()
        };
        r.delivery.missing = missing;
        r.latency = Some(Latency {
            p99_ms: p99,
            ..Latency::default()
        });
        r.timeline = (1..=12)
            .map(|t| Sample {
                t: t as f64,
                lag_lines: if t <= 10 { lag } else { 0 },
                ..Sample::default()
            })
            .collect();
        r
    }

    #[test]
    fn judges_each_way_a_step_can_fail() {
        let step = Duration::from_secs(10);
        let ok = judge(100_000.0, &report(100_000.0, 0, 50, 0.8), 1.0, step);
        assert!(ok.sustainable, "{ok:?}");
        assert_eq!(ok.lag_lines_end, 50);

        let slow_gen = judge(100_000.0, &report(90_000.0, 0, 50, 0.8), 1.0, step);
        assert!(slow_gen.reason.unwrap().contains("generator"));
        let lost = judge(100_000.0, &report(100_000.0, 3, 50, 0.8), 1.0, step);
        assert!(lost.reason.unwrap().contains("lost 3"));
        let behind = judge(100_000.0, &report(100_000.0, 0, 40_000, 0.8), 1.0, step);
        assert!(behind.reason.unwrap().contains("fell behind"));
        let slow = judge(100_000.0, &report(100_000.0, 0, 50, 1.5), 1.0, step);
        assert!(slow.reason.unwrap().contains("SLO"));

        let mut unclean = report(100_000.0, 0, 50, 0.8);
        unclean.checks.push(Check {
            name: "agent exit".into(),
            ok: false,
            detail: "was killed".into(),
        });
        assert!(judge(100_000.0, &unclean, 1.0, step)
            .reason
            .unwrap()
            .contains("killed"));
    }

    #[test]
    fn headroom_in_plain_words() {
        let h = headroom(250_000.0, 1_000_000.0, 128.0, 2.0);
        assert_eq!(h.percent_used, 25.0);
        assert_eq!(
            h.statement,
            "This host sustains 1.00 M events/s of 128 bytes (128.0 MB/s) at p99 <= 2 ms; \
             your expected load of 250 k events/s uses 25% of it."
        );
        let over = headroom(2_500_000.0, 1_000_000.0, 128.0, 2.0);
        assert!(
            over.statement.contains("at least 3 hosts"),
            "{}",
            over.statement
        );
    }

    #[test]
    fn the_result_is_a_floor_only_when_the_generator_bounded_it() {
        let step = |offered: f64, achieved: f64, ok: bool| SweepStep {
            offered_rate: offered,
            achieved_rate: achieved,
            sustainable: ok,
            ..SweepStep::default()
        };
        let mut r = SweepReport {
            max_sustainable_rate: Some(600_000.0),
            steps: vec![
                step(200_000.0, 200_000.0, true),
                step(600_000.0, 600_000.0, true),
                step(1_040_000.0, 1_040_000.0, false),
                step(1_800_000.0, 1_500_000.0, false),
            ],
            ..SweepReport::default()
        };
        // The agent failed at 1.04 M with the generator keeping up: a real ceiling.
        assert_eq!(generator_ceiling(&r), None);
        // Without that step, the generator's 1.5 M was the bound.
        r.steps.remove(2);
        assert_eq!(generator_ceiling(&r), Some(1_500_000.0));
    }
}
