//! How fast the generators write: as fast as possible, or a steady number of lines per second.
//!
//! A fixed rate is kept by a [`Pacer`] on an absolute grid of ticks (`start + k * tick`): at each
//! tick the writer learns how many lines are due since the start, `floor(rate * elapsed)`, and
//! writes the difference to what it has written. Sleeping to absolute deadlines, rather than for a
//! tick after each batch, keeps the offered load from drifting when a batch takes time. A writer
//! that falls behind does not sleep until it has caught up, and the pacer records how late it got
//! so that the report can say the offered rate was not the asked one.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Lines per second, over all targets of a load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// As fast as the targets take them.
    Max,
    /// This many lines per second (> 0, may be fractional).
    PerSec(f64),
}

impl Rate {
    /// Checks that a fixed rate is a positive finite number; the error names the `rate` field.
    pub fn check(&self) -> Result<()> {
        match *self {
            Rate::PerSec(r) if !(r.is_finite() && r > 0.0) => {
                bail!("rate: must be a positive number of lines per second or \"max\", got {r}")
            }
            _ => Ok(()),
        }
    }

    /// The asked rate, `None` for [`Rate::Max`].
    pub fn per_sec(&self) -> Option<f64> {
        match *self {
            Rate::Max => None,
            Rate::PerSec(r) => Some(r),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Max => f.write_str("max"),
            Rate::PerSec(r) => write!(f, "{r}"),
        }
    }
}

/// Parses `max` or a number of lines per second (checked by [`Rate::check`]).
impl FromStr for Rate {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Rate> {
        match s.trim() {
            "max" => Ok(Rate::Max),
            t => t.parse().map(Rate::PerSec).map_err(|_| {
                anyhow::anyhow!("rate: {s:?} is not a number of lines per second or \"max\"")
            }),
        }
    }
}

/// In a scenario file: `rate = 10000`, `rate = 2.5` or `rate = "max"`.
impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RateVisitor;
        impl Visitor<'_> for RateVisitor {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of lines per second or \"max\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Rate, E> {
                Ok(Rate::PerSec(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Rate, E> {
                Ok(Rate::PerSec(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rate, E> {
                Ok(Rate::PerSec(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                match v {
                    "max" => Ok(Rate::Max),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(RateVisitor)
    }
}

/// Keeps a fixed rate on an absolute grid of ticks; see the module docs.
#[derive(Debug)]
pub struct Pacer {
    per_sec: f64,
    tick: Duration,
    start: Instant,
    /// No line is due after this instant (the load's duration), if set.
    end: Option<Instant>,
    /// The next tick's deadline.
    next: Instant,
    /// The last [`Pacer::wait`] counted up to the end.
    ended: bool,
    late_ticks: u64,
    max_behind: Duration,
}

impl Pacer {
    /// A pacer for `per_sec` lines per second whose first tick is one `tick` after `start`.
    pub fn new(per_sec: f64, tick: Duration, start: Instant, end: Option<Instant>) -> Pacer {
        Pacer {
            per_sec,
            tick,
            start,
            end,
            next: start + tick,
            ended: false,
            late_ticks: 0,
            max_behind: Duration::ZERO,
        }
    }

    /// Sleeps until the next tick unless it has passed already, and returns how many lines are
    /// due since the start (never counting past the end). `written` is how many lines were
    /// written so far; it is used to measure how far behind the writer is.
    pub fn wait(&mut self, written: u64) -> u64 {
        let mut now = Instant::now();
        let deadline = self.end.map_or(self.next, |end| self.next.min(end));
        if now < deadline {
            std::thread::sleep(deadline - now);
            now = Instant::now();
        } else if now >= deadline + self.tick {
            // A whole tick went by before the writer got here.
            self.late_ticks += 1;
        }
        // Next deadline: the first grid point after now, so that a late writer does not spin
        // through the ticks it missed (the lines of those ticks are due all the same).
        let elapsed = now.duration_since(self.start);
        let ticks = elapsed.as_nanos() / self.tick.as_nanos() + 1;
        self.next = self.start + nanos(self.tick.as_nanos() * ticks);
        let counted = match self.end {
            Some(end) if now >= end => {
                self.ended = true;
                end
            }
            _ => now,
        };
        // rate * ns / 1e9 rather than rate * seconds: exact for whole rates over whole
        // milliseconds, so `duration` at `rate` gives exactly rate * duration lines.
        let ns = counted.duration_since(self.start).as_nanos() as f64;
        let due = (self.per_sec * ns / 1e9) as u64;
        if due > written {
            // The oldest unwritten line fell due at (written + 1) / rate; up to a tick of waiting
            // is the pacing itself, anything beyond is lag.
            let due_at = Duration::from_secs_f64((written + 1) as f64 / self.per_sec);
            let behind = elapsed.saturating_sub(due_at).saturating_sub(self.tick);
            self.max_behind = self.max_behind.max(behind);
        }
        due
    }

    /// Whether the last [`Pacer::wait`] reached the end, so that the lines it returned are the
    /// last ones due (always false without an end).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Ticks the writer reached more than a tick after their deadline.
    pub fn late_ticks(&self) -> u64 {
        self.late_ticks
    }

    /// The longest time a due line waited beyond one tick.
    pub fn max_behind(&self) -> Duration {
        self.max_behind
    }
}

fn nanos(n: u128) -> Duration {
    Duration::new((n / 1_000_000_000) as u64, (n % 1_000_000_000) as u32)
}

/// Sets the calling thread's timer slack to 1 ns while it lives (restoring the old value on drop),
/// so that sleeps to a tick's deadline wake within microseconds instead of the default 50 µs
/// slack. Errors are ignored: the slack only affects precision.
#[derive(Debug)]
pub struct TimerSlack {
    old: libc::c_int,
}

impl TimerSlack {
    pub fn tight() -> TimerSlack {
        // SAFETY: PR_GET_TIMERSLACK takes no pointer arguments and only reads the calling
        // thread's slack value.
        let old = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
        let one_ns: libc::c_ulong = 1;
        // SAFETY: PR_SET_TIMERSLACK takes the new slack in nanoseconds by value and changes only
        // the calling thread's timer slack.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, one_ns, 0, 0, 0) };
        TimerSlack { old }
    }
}

impl Drop for TimerSlack {
    fn drop(&mut self) {
        if self.old > 0 {
            // SAFETY: as in `tight`: a by-value argument, only this thread's slack changes.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, self.old as libc::c_ulong, 0, 0, 0) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_max_and_numbers() {
        assert_eq!("max".parse::<Rate>().unwrap(), Rate::Max);
        assert_eq!("2500".parse::<Rate>().unwrap(), Rate::PerSec(2500.0));
        assert_eq!("0.5".parse::<Rate>().unwrap(), Rate::PerSec(0.5));
        let err = "fast".parse::<Rate>().unwrap_err().to_string();
        assert!(err.starts_with("rate: "), "{err}");
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = Rate::PerSec(bad).check().unwrap_err().to_string();
            assert!(err.starts_with("rate: must be a positive"), "{err}");
        }
        assert!(Rate::Max.check().is_ok());
    }

    #[test]
    fn reads_toml() {
        #[derive(Deserialize)]
        struct Doc {
            rate: Rate,
        }
        let rate = |t: &str| toml::from_str::<Doc>(t).map(|d| d.rate);
        assert_eq!(rate("rate = 100").unwrap(), Rate::PerSec(100.0));
        assert_eq!(rate("rate = 2.5").unwrap(), Rate::PerSec(2.5));
        assert_eq!(rate("rate = \"max\"").unwrap(), Rate::Max);
        let err = rate("rate = \"fast\"").unwrap_err().to_string();
        assert!(
            err.contains("a number of lines per second or \"max\""),
            "{err}"
        );
    }

    #[test]
    fn due_lines_follow_the_clock_and_stop_at_the_end() {
        let start = Instant::now();
        let tick = Duration::from_millis(1);
        let end = start + Duration::from_millis(20);
        let mut pacer = Pacer::new(10_000.0, tick, start, Some(end));
        let mut written = 0;
        let mut last = 0;
        while !pacer.ended() {
            let due = pacer.wait(written);
            assert!(due >= last, "due never goes back");
            assert!(due <= 200, "nothing past the end: {due}");
            last = due;
            written = due;
        }
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(
            last, 200,
            "the wait that reached the end made everything due"
        );
        assert_eq!(pacer.wait(written), 200);
    }

    #[test]
    fn a_writer_that_falls_behind_is_recorded() {
        let start = Instant::now() - Duration::from_millis(50);
        let mut pacer = Pacer::new(1000.0, Duration::from_millis(1), start, None);
        let due = pacer.wait(0);
        assert!(due >= 50, "{due}");
        assert_eq!(pacer.late_ticks(), 1);
        assert!(pacer.max_behind() >= Duration::from_millis(45));
    }
}
