//! Flume's JSON metrics (`-Dflume.monitoring.type=http`): the body of `GET /metrics` as
//! Flume's `HTTPMetricsServer` writes it, a map from `SOURCE.<name>`, `CHANNEL.<name>` and
//! `SINK.<name>` to each component's attributes, every value a string.
//!
//! Beside Flume's attributes, each component carries spate's own counters (such as
//! `LinesSplitCount`): a dashboard reads the keys it knows and skips the others.

use serde_json::{Map, Value};

use super::Snapshot;

/// The JSON body for `snapshot`.
pub fn render(snapshot: &Snapshot) -> String {
    let mut body = Map::new();
    let stop = snapshot.stop_ms.to_string();
    let mut group = |kind: &str,
                     name: &str,
                     start_ms: u64,
                     extra: Vec<(&str, String)>,
                     counters: &[(&'static str, u64)]| {
        let mut attrs = Map::new();
        for (key, value) in extra {
            attrs.insert(key.to_string(), Value::String(value));
        }
        for (key, value) in counters {
            attrs.insert((*key).to_string(), Value::String(value.to_string()));
        }
        attrs.insert("Type".into(), Value::String(kind.into()));
        attrs.insert("StartTime".into(), Value::String(start_ms.to_string()));
        attrs.insert("StopTime".into(), Value::String(stop.clone()));
        body.insert(format!("{kind}.{name}"), Value::Object(attrs));
    };
    for s in &snapshot.sources {
        group("SOURCE", &s.name, s.start_ms, Vec::new(), &s.counters);
    }
    for c in &snapshot.channels {
        let extra = vec![
            ("ChannelSize", c.size.to_string()),
            ("ChannelCapacity", c.capacity.to_string()),
            ("ChannelFillPercentage", java_double(c.fill_percentage())),
        ];
        group("CHANNEL", &c.name, c.start_ms, extra, &c.counters);
    }
    for s in &snapshot.sinks {
        group("SINK", &s.name, s.start_ms, Vec::new(), &s.counters);
    }
    Value::Object(body).to_string()
}

/// `v` as Java's `String.valueOf(double)` writes it for the values a percentage takes: at least
/// one digit after the point (`0.0`, `12.5`, `100.0`).
fn java_double(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_read_as_java_writes_them() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(100.0), "100.0");
        assert_eq!(java_double(12.5), "12.5");
        assert_eq!(java_double(100.0 / 3.0), "33.333333333333336");
    }
}
