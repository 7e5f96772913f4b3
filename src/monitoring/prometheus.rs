//! Prometheus text exposition (format 0.0.4), written with `prometheus-client` from a
//! [`Snapshot`]: every Flume counter as `spate_<kind>_<name>_total{agent, component}`, the
//! gauges Flume reports beside them, and what Flume lacks (sink delivery state, uptime,
//! reloads, build info). docs/metrics.md lists the families.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::{ReloadOutcome, Snapshot};
use crate::metrics::{describe, ChannelCounters, SinkCounters, SourceCounters, LATENCY_BOUNDS};

/// The `Content-Type` of the body.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Flume counters that are gauges (they go down): written without `_total`.
const GAUGES: &[(&str, &str)] = &[("OpenConnectionCount", "open_connections")];

/// The exposition of `snapshot`.
pub fn render(snapshot: &Snapshot) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Families(snapshot.clone())));
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        .expect("writing into a String cannot fail");
    out
}

/// `EventReceivedCount` -> `event_received`.
pub fn family_name(flume: &str) -> String {
    let stem = flume.strip_suffix("Count").unwrap_or(flume);
    let mut out = String::with_capacity(stem.len() + 4);
    for (i, c) in stem.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug)]
struct Families(Snapshot);

/// One labelled value of a family.
type Row<'a> = (&'a str, f64);

impl Families {
    fn labels<'a>(&'a self, component: &'a str) -> [(&'static str, &'a str); 2] {
        [("agent", self.0.agent.as_str()), ("component", component)]
    }

    /// Writes family `name` with a value per component.
    fn family(
        &self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        metric_type: MetricType,
        rows: &[Row<'_>],
    ) -> Result<(), std::fmt::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
        for &(component, value) in rows {
            let labels = self.labels(component);
            let metric = family.encode_family(&labels)?;
            match metric_type {
                MetricType::Counter => ConstCounter::new(value as u64).encode(metric)?,
                _ => ConstGauge::new(value).encode(metric)?,
            }
        }
        Ok(())
    }

    /// Writes family `name` of the agent itself, labelled with the agent only.
    fn agent_family(
        &self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        metric_type: MetricType,
        value: f64,
    ) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
        let labels = [("agent", self.0.agent.as_str())];
        let metric = family.encode_family(&labels)?;
        match metric_type {
            MetricType::Counter => ConstCounter::new(value as u64).encode(metric),
            _ => ConstGauge::new(value).encode(metric),
        }
    }

    /// Writes one family per Flume counter of a kind.
    fn counters<'a>(
        &self,
        encoder: &mut DescriptorEncoder,
        kind: &str,
        descriptions: &[(&'static str, &'static str)],
        components: impl Iterator<Item = (&'a str, &'a [(&'static str, u64)])> + Clone,
    ) -> Result<(), std::fmt::Error> {
        for &(flume, _) in descriptions {
            let rows: Vec<Row<'_>> = components
                .clone()
                .map(|(name, counters)| (name, super::counter(counters, flume) as f64))
                .collect();
            let help = format!("{} (Flume: {flume})", describe(descriptions, flume));
            match GAUGES.iter().find(|(f, _)| *f == flume) {
                Some((_, gauge)) => self.family(
                    encoder,
                    &format!("spate_{kind}_{gauge}"),
                    &help,
                    MetricType::Gauge,
                    &rows,
                )?,
                None => self.family(
                    encoder,
                    &format!("spate_{kind}_{}", family_name(flume)),
                    &help,
                    MetricType::Counter,
                    &rows,
                )?,
            }
        }
        Ok(())
    }
}

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        let e = &mut encoder;
        let version = [
            ("agent", s.agent.as_str()),
            ("version", env!("CARGO_PKG_VERSION")),
        ];
        let info = ConstGauge::new(1i64);
        let mut family = e.encode_descriptor(
            "spate_build_info",
            "The running spate's version (always 1)",
            None,
            MetricType::Gauge,
        )?;
        info.encode(family.encode_family(&version)?)?;
        self.agent_family(
            e,
            "spate_uptime_seconds",
            "Seconds since the agent process started",
            MetricType::Gauge,
            s.uptime.as_secs_f64(),
        )?;
        self.agent_family(
            e,
            "spate_running",
            "1 while the configuration's components run, 0 while stopped (a reload between stop and start)",
            MetricType::Gauge,
            f64::from(u8::from(s.running)),
        )?;
        self.agent_family(
            e,
            "spate_reloads",
            "Configuration reloads attempted (a changed file or SIGHUP)",
            MetricType::Counter,
            s.reloads as f64,
        )?;
        if let Some(outcome) = s.last_reload {
            self.agent_family(
                e,
                "spate_last_reload_success",
                "1 if the last reload runs the new configuration, 0 if it was rejected",
                MetricType::Gauge,
                f64::from(u8::from(outcome == ReloadOutcome::Applied)),
            )?;
        }

        let sources = s.sources.iter().map(|x| (x.name.as_str(), &x.counters[..]));
        self.counters(e, "source", SourceCounters::DESCRIPTIONS, sources)?;

        let rows: Vec<Row<'_>> = s
            .sources
            .iter()
            .map(|x| (x.name.as_str(), x.files.len() as f64))
            .collect();
        self.family(
            e,
            "spate_source_files",
            "Files the source tracks, open or idle (TAILDIR; published with its positions)",
            MetricType::Gauge,
            &rows,
        )?;
        let rows: Vec<Row<'_>> = s
            .sources
            .iter()
            .map(|x| (x.name.as_str(), x.lag() as f64))
            .collect();
        self.family(
            e,
            "spate_source_lag_bytes",
            "Bytes of the source's files not yet delivered: the sum of spate_source_file_lag_bytes",
            MetricType::Gauge,
            &rows,
        )?;
        if s.sources.iter().any(|x| !x.files.is_empty()) {
            let mut family = e.encode_descriptor(
                "spate_source_file_lag_bytes",
                "Bytes of a file not yet delivered: its size minus the delivered offset",
                None,
                MetricType::Gauge,
            )?;
            for x in &s.sources {
                for f in &x.files {
                    let path = f.path.to_string_lossy();
                    let labels = [
                        ("agent", s.agent.as_str()),
                        ("component", x.name.as_str()),
                        ("file", &*path),
                    ];
                    ConstGauge::new(f.lag() as f64).encode(family.encode_family(&labels)?)?;
                }
            }
        }

        let channels = &s.channels;
        let rows = |f: &dyn Fn(&super::ChannelSnapshot) -> f64| -> Vec<Row<'_>> {
            channels.iter().map(|c| (c.name.as_str(), f(c))).collect()
        };
        self.family(
            e,
            "spate_channel_size",
            "Events in the channel, taken and uncommitted ones included (Flume: ChannelSize)",
            MetricType::Gauge,
            &rows(&|c| c.size as f64),
        )?;
        self.family(
            e,
            "spate_channel_capacity",
            "Events the channel can hold (Flume: ChannelCapacity)",
            MetricType::Gauge,
            &rows(&|c| c.capacity as f64),
        )?;
        self.family(
            e,
            "spate_channel_fill_ratio",
            "Size over capacity, 0 to 1 (Flume: ChannelFillPercentage / 100)",
            MetricType::Gauge,
            &rows(&|c| c.fill_percentage() / 100.0),
        )?;
        let counters = channels.iter().map(|x| (x.name.as_str(), &x.counters[..]));
        self.counters(e, "channel", ChannelCounters::DESCRIPTIONS, counters)?;

        let sinks = s.sinks.iter().map(|x| (x.name.as_str(), &x.counters[..]));
        self.counters(e, "sink", SinkCounters::DESCRIPTIONS, sinks)?;
        for (kind, list) in [("sink", &s.sinks), ("sinkgroup", &s.groups)] {
            let age = |since: u64| {
                if since == 0 {
                    0.0
                } else {
                    s.mono_ms.saturating_sub(since) as f64 / 1000.0
                }
            };
            let rows: Vec<Row<'_>> = list
                .iter()
                .map(|x| (x.name.as_str(), age(x.delivering_since_ms)))
                .collect();
            self.family(
                e,
                &format!("spate_{kind}_delivering_seconds"),
                "How long the take being delivered has been at it; 0 with nothing taken (what /health compares with its timeout)",
                MetricType::Gauge,
                &rows,
            )?;
            let rows: Vec<Row<'_>> = list
                .iter()
                .map(|x| (x.name.as_str(), x.consecutive_failures as f64))
                .collect();
            self.family(
                e,
                &format!("spate_{kind}_consecutive_failures"),
                "Failed attempts at the take being delivered; 0 after a success",
                MetricType::Gauge,
                &rows,
            )?;
        }
        for (kind, list) in [("sink", &s.sinks), ("sinkgroup", &s.groups)] {
            if list.is_empty() {
                continue;
            }
            let name = format!("spate_{kind}_delivery_latency_seconds");
            let mut family = e.encode_descriptor(
                &name,
                "Time from the source handing events over to their commit by this sink, per event",
                None,
                MetricType::Histogram,
            )?;
            for x in list {
                let (counts, sum) = &x.latency;
                let buckets: Vec<(f64, u64)> = LATENCY_BOUNDS
                    .iter()
                    .copied()
                    .chain([f64::INFINITY])
                    .zip(counts.iter().copied())
                    .collect();
                let labels = self.labels(&x.name);
                family
                    .encode_family(&labels)?
                    .encode_histogram::<NoLabelSet>(*sum, counts.iter().sum(), &buckets, None)?;
            }
        }
        let rows: Vec<Row<'_>> = s
            .sinks
            .iter()
            .map(|x| (x.name.as_str(), x.open_connections as f64))
            .collect();
        self.family(
            e,
            "spate_sink_open_connections",
            "Connections open now (ConnectionCreatedCount - ConnectionClosedCount)",
            MetricType::Gauge,
            &rows,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_named_from_flume_names() {
        assert_eq!(family_name("EventReceivedCount"), "event_received");
        assert_eq!(family_name("EventReadFail"), "event_read_fail");
        assert_eq!(family_name("BytesUnconfirmedCount"), "bytes_unconfirmed");
    }
}
