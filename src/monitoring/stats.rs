//! `spate stats`: polls a running agent's Prometheus endpoint and shows per-component rates,
//! channel fill and sink state. On a terminal the view is redrawn in place; piped, one line is
//! printed per interval.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};

/// One component's figures in a scrape.
#[derive(Debug, Default, Clone, PartialEq)]
struct Figures(BTreeMap<String, f64>);

/// Every component's figures, by (kind, name).
type Components = BTreeMap<(String, String), Figures>;

/// Reads a scrape into figures per component: `spate_<kind>_<figure>{component=...}`.
fn components(text: &str) -> Result<Components, String> {
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .map_err(|e| format!("the endpoint's answer is not Prometheus text: {e}"))?;
    let mut out = Components::new();
    for sample in scrape.samples {
        let Some(rest) = sample.metric.strip_prefix("spate_") else {
            continue;
        };
        let Some((kind, figure)) = rest.split_once('_') else {
            continue;
        };
        if !matches!(kind, "source" | "channel" | "sink" | "sinkgroup") {
            continue;
        }
        let Some(name) = sample.labels.get("component") else {
            continue;
        };
        let value = match sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => continue,
        };
        let figure = figure.strip_suffix("_total").unwrap_or(figure);
        out.entry((kind.to_string(), name.to_string()))
            .or_default()
            .0
            .insert(figure.to_string(), value);
    }
    Ok(out)
}

/// The rows to show: one per component, from this scrape and the one before (`secs` apart).
fn rows(now: &Components, before: Option<&Components>, secs: f64) -> Vec<String> {
    let rate = |key: &(String, String), figure: &str| -> Option<f64> {
        let b = before?.get(key)?.0.get(figure)?;
        let n = now.get(key)?.0.get(figure)?;
        Some((n - b).max(0.0) / secs.max(1e-3))
    };
    let show = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.0}/s"));
    let mut out = Vec::new();
    let in_order = ["source", "channel", "sink"]
        .into_iter()
        .flat_map(|k| now.iter().filter(move |((kind, _), _)| kind == k));
    for (key, f) in in_order {
        let (kind, name) = key;
        let get = |figure: &str| f.0.get(figure).copied().unwrap_or(0.0);
        let row = match kind.as_str() {
            "source" => format!(
                "source  {name:<12} in {:>10}  filtered {:>8}  read failures {}",
                show(rate(key, "event_accepted")),
                get("event_filtered"),
                get("event_read_fail"),
            ),
            "channel" => format!(
                "channel {name:<12} {:>5.1}% full ({} of {})  put {:>10}  take {:>10}",
                get("fill_ratio") * 100.0,
                get("size"),
                get("capacity"),
                show(rate(key, "event_put_success")),
                show(rate(key, "event_take_success")),
            ),
            "sink" => format!(
                "sink    {name:<12} out {:>10}  connections {}  failing for {:.0} s ({} attempts)",
                show(rate(key, "event_drain_success")),
                get("open_connections"),
                if get("consecutive_failures") > 0.0 {
                    get("delivering_seconds")
                } else {
                    0.0
                },
                get("consecutive_failures"),
            ),
            _ => unreachable!("kinds are listed above"),
        };
        out.push(row);
    }
    out
}

/// Fetches the endpoint's text.
fn scrape(agent: &ureq::Agent, url: &str) -> Result<String, String> {
    agent
        .get(url)
        .call()
        .map_err(|e| format!("cannot read {url}: {e}"))?
        .into_string()
        .map_err(|e| format!("cannot read {url}: {e}"))
}

/// Polls `addr` every `interval`, `count` times (or until interrupted); returns an error
/// message if the agent cannot be reached at the first poll.
pub fn run(addr: SocketAddr, interval: Duration, count: Option<u64>) -> Result<(), String> {
    let url = format!("http://{addr}/metrics");
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .build();
    let terminal = std::io::stdout().is_terminal();
    let mut before: Option<(Instant, Components)> = None;
    let mut shown = 0u64;
    loop {
        let text = match scrape(&agent, &url) {
            Ok(t) => t,
            Err(e) if before.is_none() => {
                return Err(format!(
                    "{e} (is the agent running with --metrics-addr {addr}?)"
                ))
            }
            Err(e) => {
                eprintln!("{e}");
                std::thread::sleep(interval);
                continue;
            }
        };
        let now = components(&text)?;
        let at = Instant::now();
        let secs = before
            .as_ref()
            .map_or(0.0, |(t, _)| at.duration_since(*t).as_secs_f64());
        let rows = rows(&now, before.as_ref().map(|(_, c)| c), secs);
        let mut out = std::io::stdout().lock();
        let written = if terminal {
            // Home, clear, then the table.
            write!(
                out,
                "\x1b[H\x1b[2J{url}, every {} s\n\n",
                interval.as_secs()
            )
            .and_then(|()| rows.iter().try_for_each(|r| writeln!(out, "{r}")))
        } else {
            let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
            writeln!(out, "{stamp} {}", rows.join(" | "))
        };
        if written.and_then(|()| out.flush()).is_err() {
            return Ok(()); // stdout closed (piped into `head`)
        }
        before = Some((at, now));
        shown += 1;
        if count.is_some_and(|c| shown >= c) {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = "\
# TYPE spate_source_event_accepted counter
spate_source_event_accepted_total{agent=\"a1\",component=\"r1\"} 1000
# TYPE spate_channel_fill_ratio gauge
spate_channel_fill_ratio{agent=\"a1\",component=\"c1\"} 0.25
spate_channel_size{agent=\"a1\",component=\"c1\"} 250
spate_channel_capacity{agent=\"a1\",component=\"c1\"} 1024
spate_sink_event_drain_success_total{agent=\"a1\",component=\"k1\"} 900
spate_uptime_seconds{agent=\"a1\",component=\"a1\"} 12
";

    #[test]
    fn rates_come_from_two_scrapes() {
        let first = components(SCRAPE).unwrap();
        let second = components(
            &SCRAPE
                .replace("} 1000\n", "} 3000\n")
                .replace("} 900\n", "} 2900\n"),
        )
        .unwrap();
        let rows = rows(&second, Some(&first), 2.0);
        assert_eq!(rows.len(), 3, "{rows:?}");
        assert!(rows[0].contains("in     1000/s"), "{rows:?}");
        assert!(rows[1].contains("25.0% full (250 of 1024)"), "{rows:?}");
        assert!(rows[2].contains("out     1000/s"), "{rows:?}");
    }
}
