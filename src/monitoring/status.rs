//! The status line the agent logs every `--status-interval`: rates in and out, channel fill,
//! failures since the last line. One line per interval, never per event.

use std::time::Duration;

use super::{counter, Snapshot, SourceSnapshot};

/// Counters whose increase is a failure an operator should look at.
const SOURCE_FAILURES: &[&str] = &["EventReadFail", "ChannelWriteFail", "GenericProcessingFail"];
const SINK_FAILURES: &[&str] = &["EventWriteFail", "ConnectionFailedCount", "ChannelReadFail"];

/// Totals at the previous line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    accepted: u64,
    delivered: u64,
    failures: u64,
}

impl Totals {
    fn of(s: &Snapshot) -> Totals {
        let sum = |names: &[&str], counters: &[(&'static str, u64)]| -> u64 {
            names.iter().map(|n| counter(counters, n)).sum()
        };
        Totals {
            accepted: s
                .sources
                .iter()
                .map(|x| counter(&x.counters, "EventAcceptedCount"))
                .sum(),
            delivered: s
                .sinks
                .iter()
                .map(|x| counter(&x.counters, "EventDrainSuccessCount"))
                .sum(),
            failures: s
                .sources
                .iter()
                .map(|x| sum(SOURCE_FAILURES, &x.counters))
                .chain(s.sinks.iter().map(|x| sum(SINK_FAILURES, &x.counters)))
                .sum(),
        }
    }
}

/// `n` bytes, readably.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Makes each status line from the figures and those of the line before.
#[derive(Debug, Default)]
pub struct StatusLine {
    last: Option<(Duration, Totals)>,
}

impl StatusLine {
    /// The line for `snapshot` (taken at `snapshot.uptime`).
    pub fn line(&mut self, snapshot: &Snapshot) -> String {
        let now = Totals::of(snapshot);
        let (since, before) = self.last.unwrap_or((Duration::ZERO, Totals::default()));
        self.last = Some((snapshot.uptime, now));
        let secs = snapshot
            .uptime
            .saturating_sub(since)
            .as_secs_f64()
            .max(1e-3);
        let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
        let channels: Vec<String> = snapshot
            .channels
            .iter()
            .map(|c| {
                format!(
                    "{} {:.0}% ({}/{})",
                    c.name,
                    c.fill_percentage(),
                    c.size,
                    c.capacity
                )
            })
            .collect();
        let stuck: Vec<String> = snapshot
            .sinks
            .iter()
            .chain(&snapshot.groups)
            .filter(|s| s.consecutive_failures > 0)
            .map(|s| format!("{} ({} failed attempts)", s.name, s.consecutive_failures))
            .collect();
        let lag: u64 = snapshot.sources.iter().map(SourceSnapshot::lag).sum();
        let mut line = format!(
            "in {:.0} events/s, out {:.0} events/s, lag {}; channels: {}; failures since last: {}",
            rate(now.accepted, before.accepted),
            rate(now.delivered, before.delivered),
            bytes(lag),
            if channels.is_empty() {
                "none".to_string()
            } else {
                channels.join(", ")
            },
            now.failures.saturating_sub(before.failures),
        );
        if !stuck.is_empty() {
            line += &format!("; retrying: {}", stuck.join(", "));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::Metrics;

    #[test]
    fn rates_and_failures_are_since_the_last_line() {
        let metrics = Metrics::new("a1");
        let mut r = metrics.register();
        let (src, files) = r.source("r1", "TAILDIR", 1);
        let (sink, state) = r.sink("k1", "tcp");
        r.install();
        let mut status = StatusLine::default();
        let mut snap = metrics.snapshot();
        snap.uptime = Duration::from_secs(10);
        src[0].event_accepted.add(1000);
        sink.event_drain_success.add(500);
        sink.event_write_fail.add(2);
        state.consecutive_failures.set(2);
        files.publish(
            0,
            vec![crate::metrics::FileFigure {
                path: "/nonexistent/app.log".into(),
                ino: 1,
                size: 3 << 20,
                delivered: 1 << 20,
            }],
        );
        let mut snap2 = metrics.snapshot();
        snap2.uptime = Duration::from_secs(10);
        let _ = status.line(&snap);
        snap2.uptime = Duration::from_secs(20);
        let line = status.line(&snap2);
        assert_eq!(
            line,
            "in 100 events/s, out 50 events/s, lag 2.0 MiB; channels: none; failures since last: 2; \
             retrying: k1 (2 failed attempts)"
        );
    }
}
