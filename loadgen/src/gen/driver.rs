//! The write loop shared by the file writer and the TCP sender.
//!
//! Line `j` of a run (counting over all targets) goes to target `j % targets`, so each target
//! gets an even share and the total can stop at an exact count. At every step the loop computes
//! how many lines are due in total (from the [`Pacer`] at a fixed rate, or one full batch per
//! target when going as fast as possible), and writes each target's owed lines as one batch: one
//! `write` per due target per step, whatever the number of targets. A batch holds at most a pool's
//! worth of lines; a target owed more (big lines, a coarse tick, a writer that fell behind) gets
//! several.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::pool::LinePool;
use super::rate::{Pacer, Rate, TimerSlack};
use super::{Counters, GenReport};
use crate::line::{MAX_SEQ, MAX_STREAM};
use crate::prefill::now_ns;

/// Where batches go: a file or a connection.
pub(crate) trait Target {
    /// Writes one batch of whole frames (and, for files, rotates when it is time), with errors
    /// that say which target failed.
    fn put(&mut self, frames: &[u8], counters: &Counters) -> Result<()>;
}

/// When and how much to write (the validated part of a load config).
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub rate: Rate,
    pub tick: Duration,
    pub lines: Option<u64>,
    pub duration: Option<Duration>,
    pub first_stream: u16,
    pub seed: u64,
}

/// Longest tick accepted.
const MAX_TICK: Duration = Duration::from_secs(1);

impl Plan {
    /// Checks the plan for `targets` targets, counted by the config field `targets_field`
    /// (`files`, `connections`); errors name the field at fault.
    pub fn check(&self, targets: usize, targets_field: &str) -> Result<()> {
        if targets == 0 {
            bail!("{targets_field}: must be at least 1");
        }
        let last = usize::from(self.first_stream) + targets - 1;
        if last > usize::from(MAX_STREAM) {
            bail!(
                "first_stream, {targets_field}: streams {}..={last} do not fit the 4-digit stream \
                 id (at most {MAX_STREAM})",
                self.first_stream
            );
        }
        self.rate.check()?;
        if self.tick.is_zero() || self.tick > MAX_TICK {
            bail!(
                "tick: must be more than 0 and at most 1 s, got {:?}",
                self.tick
            );
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            bail!("duration: must be more than 0");
        }
        if self.lines.is_some_and(|n| n > MAX_SEQ) {
            bail!("lines: at most {MAX_SEQ} (the 16-digit sequence number)");
        }
        Ok(())
    }
}

/// A target's numbering: its stream, its next sequence number, its place in the pool.
struct Lane {
    stream: u16,
    seq: u64,
    cursor: usize,
}

/// How many of the first `due` lines, dealt round robin over `n` targets, go to target `i`.
fn share(due: u64, n: usize, i: usize) -> u64 {
    due.saturating_add((n - 1 - i) as u64) / n as u64
}

/// Writes lines to `targets` until `plan.lines` are written, `plan.duration` has passed, or `stop`
/// is set. Target `i` gets stream `plan.first_stream + i`; the caller has run [`Plan::check`].
pub(crate) fn drive<T: Target>(
    targets: &mut [T],
    pool: &mut LinePool,
    plan: &Plan,
    counters: &Counters,
    stop: &AtomicBool,
) -> Result<GenReport> {
    let n = targets.len();
    // Not the pool's generator: the same seed would draw the same numbers.
    let mut rng = fastrand::Rng::with_seed(plan.seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut lanes: Vec<Lane> = (0..n)
        .map(|i| Lane {
            stream: plan.first_stream + i as u16,
            seq: 0,
            // Different starting points, so that targets do not write the same bodies in step.
            cursor: rng.usize(..pool.max_batch()),
        })
        .collect();
    let limit = plan.lines.unwrap_or(u64::MAX);
    let batch = pool.max_batch() as u64;
    let rotations_before = counters.rotations.load(Relaxed);

    let _slack = plan.rate.per_sec().map(|_| TimerSlack::tight());
    let start = Instant::now();
    let end = plan.duration.map(|d| start + d);
    let mut pacer = plan
        .rate
        .per_sec()
        .map(|r| Pacer::new(r, plan.tick, start, end));
    let past_end = || end.is_some_and(|e| Instant::now() >= e);
    let (mut written, mut bytes, mut line_bytes) = (0u64, 0u64, 0u64);

    'run: while written < limit && !stop.load(Relaxed) {
        let due = match &mut pacer {
            Some(p) => p.wait(written),
            None if past_end() => break,
            None => written.saturating_add(batch * n as u64),
        }
        .min(limit);
        for (i, (lane, target)) in lanes.iter_mut().zip(targets.iter_mut()).enumerate() {
            let mut owed = share(due, n, i).saturating_sub(lane.seq);
            while owed > 0 {
                if stop.load(Relaxed) || (pacer.is_none() && past_end()) {
                    break 'run;
                }
                let k = owed.min(batch);
                let (frames, lb) = pool.batch(
                    &mut lane.cursor,
                    k as usize,
                    lane.seq,
                    now_ns(),
                    lane.stream,
                );
                let len = frames.len() as u64;
                target
                    .put(frames, counters)
                    .with_context(|| format!("stopped after {written} lines"))?;
                lane.seq += k;
                owed -= k;
                written += k;
                bytes += len;
                line_bytes += lb;
                counters.lines.fetch_add(k, Relaxed);
                counters.bytes.fetch_add(len, Relaxed);
            }
        }
        if pacer.as_ref().is_some_and(Pacer::ended) {
            break;
        }
    }

    let seconds = start.elapsed().as_secs_f64();
    Ok(GenReport {
        lines: written,
        bytes,
        seconds,
        target_rate: plan.rate.per_sec(),
        achieved_rate: if seconds > 0.0 {
            written as f64 / seconds
        } else {
            0.0
        },
        targets: n,
        mean_line_bytes: if written > 0 {
            line_bytes as f64 / written as f64
        } else {
            0.0
        },
        rotations: counters.rotations.load(Relaxed) - rotations_before,
        late_ticks: pacer.as_ref().map_or(0, Pacer::late_ticks),
        max_behind_ms: pacer
            .as_ref()
            .map_or(0.0, |p| p.max_behind().as_secs_f64() * 1e3),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::sizes::LineSizes;
    use crate::line::parse_line;
    use crate::recv::framing::Framing;

    #[test]
    fn shares_deal_round_robin() {
        for n in [1, 2, 3, 7, 1000] {
            for due in [0, 1, 2, 6, 7, 8, 999, 1000, 1001, 123_457] {
                let shares: Vec<u64> = (0..n).map(|i| share(due, n, i)).collect();
                assert_eq!(shares.iter().sum::<u64>(), due, "n {n} due {due}");
                // Line j goes to target j % n: the first due % n targets get one more.
                for (i, &s) in shares.iter().enumerate() {
                    let extra = u64::from((i as u64) < due % n as u64);
                    assert_eq!(s, due / n as u64 + extra);
                }
            }
        }
    }

    /// Collects what was written, per target.
    #[derive(Default)]
    struct Collect(Vec<u8>);

    impl Target for Collect {
        fn put(&mut self, frames: &[u8], _: &Counters) -> Result<()> {
            self.0.extend_from_slice(frames);
            Ok(())
        }
    }

    fn plan(rate: Rate, lines: Option<u64>, duration: Option<Duration>) -> Plan {
        Plan {
            rate,
            tick: Duration::from_millis(1),
            lines,
            duration,
            first_stream: 40,
            seed: 1,
        }
    }

    fn run(targets: usize, plan: &Plan, stop: &AtomicBool) -> (Vec<Collect>, GenReport) {
        let mut pool = LinePool::new(&LineSizes::Fixed(50), Framing::Newline, 1);
        let mut t: Vec<Collect> = (0..targets).map(|_| Collect::default()).collect();
        let counters = Counters::default();
        let r = drive(&mut t, &mut pool, plan, &counters, stop).unwrap();
        assert_eq!(counters.lines.load(Relaxed), r.lines);
        assert_eq!(counters.bytes.load(Relaxed), r.bytes);
        (t, r)
    }

    #[test]
    fn an_exact_count_spread_over_targets() {
        let stop = AtomicBool::new(false);
        for rate in [Rate::Max, Rate::PerSec(200_000.0)] {
            let (targets, r) = run(3, &plan(rate, Some(10_001), None), &stop);
            assert_eq!(r.lines, 10_001);
            assert_eq!(r.bytes, 500_050);
            assert_eq!(r.mean_line_bytes, 50.0);
            for (i, t) in targets.iter().enumerate() {
                let seqs: Vec<u64> =
                    t.0.chunks_exact(50)
                        .map(|l| {
                            let p = parse_line(l).unwrap();
                            assert_eq!(p.stream, 40 + i as u16);
                            p.seq
                        })
                        .collect();
                let want = if i < 2 { 3334 } else { 3333 };
                assert_eq!(seqs, (0..want).collect::<Vec<_>>(), "{rate}");
            }
        }
    }

    #[test]
    fn more_lines_due_than_a_pool_holds_are_all_written() {
        // A pool of 4 lines of 1 MiB, 5 lines due per 1 ms tick: several batches per tick.
        let mut pool = LinePool::new(&LineSizes::Fixed(1 << 20), Framing::Newline, 1);
        assert_eq!(pool.max_batch(), 4);
        let mut t = vec![Collect::default()];
        let p = plan(Rate::PerSec(5000.0), Some(50), None);
        let r = drive(
            &mut t,
            &mut pool,
            &p,
            &Counters::default(),
            &AtomicBool::new(false),
        );
        assert_eq!(r.unwrap().lines, 50);
        assert_eq!(t[0].0.len(), 50 << 20);
    }

    #[test]
    fn a_duration_at_a_rate_caps_the_count() {
        let stop = AtomicBool::new(false);
        let p = plan(Rate::PerSec(2000.0), None, Some(Duration::from_millis(100)));
        let (_, r) = run(2, &p, &stop);
        assert_eq!(
            r.lines, 200,
            "everything due by the end, nothing after: {r:?}"
        );
        assert!(r.seconds >= 0.1, "{r:?}");
    }

    #[test]
    fn checks_name_the_field() {
        let err = |p: Plan, n: usize| p.check(n, "files").unwrap_err().to_string();
        let ok = plan(Rate::Max, None, None);
        assert!(ok.check(1, "files").is_ok());
        assert!(err(ok.clone(), 0).starts_with("files: must be at least 1"));
        assert!(err(ok.clone(), 9961).starts_with("first_stream, files: streams 40..=10000"));
        assert!(ok.check(9960, "files").is_ok());
        assert!(err(plan(Rate::PerSec(0.0), None, None), 1).starts_with("rate: "));
        let mut p = ok.clone();
        p.tick = Duration::ZERO;
        assert!(err(p.clone(), 1).starts_with("tick: "));
        p.tick = Duration::from_secs(2);
        assert!(err(p, 1).starts_with("tick: "));
        assert!(err(plan(Rate::Max, None, Some(Duration::ZERO)), 1).starts_with("duration: "));
        assert!(err(plan(Rate::Max, Some(MAX_SEQ + 1), None), 1).starts_with("lines: "));
    }

    #[test]
    fn a_set_stop_flag_ends_the_run() {
        let stop = AtomicBool::new(true);
        let (_, r) = run(2, &plan(Rate::Max, None, None), &stop);
        assert_eq!(r.lines, 0);
    }
}
