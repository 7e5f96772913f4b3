//! [`AgentConfig::describe`]: the resolved pipeline as text, for `spate check`.

use super::AgentConfig;
use crate::component::{Component, Setting};

impl AgentConfig {
    /// The resolved pipeline for `spate check`: every component with its type, wiring and every
    /// effective setting, defaults included, one `key = value` per line. spate extensions are
    /// marked `# spate extension`.
    pub fn describe(&self) -> String {
        let mut out = format!("agent {}\n", self.name);
        for src in &self.sources {
            let wiring = format!("-> {}", src.channels.join(" "));
            write_component(&mut out, "source", &src.name, &*src.spec, &wiring);
            for (key, value) in src.selector.describe() {
                out += &format!("  {key} = {value}\n");
            }
            if !src.interceptors.is_empty() {
                let names: Vec<&str> = src.interceptors.iter().map(|i| i.name.as_str()).collect();
                out += &format!("  interceptors = {}\n", names.join(" "));
            }
            for i in &src.interceptors {
                out += &format!("  interceptors.{}.type = {}\n", i.name, i.spec.type_name());
                for Setting { key, value, note } in i.spec.describe() {
                    write_setting(
                        &mut out,
                        &format!("interceptors.{}.{key}", i.name),
                        &value,
                        note,
                    );
                }
            }
        }
        for ch in &self.channels {
            write_component(&mut out, "channel", &ch.name, &*ch.spec, "");
            out += &format!(
                "  # sources' positions advance past events {}\n",
                ch.spec.acknowledges()
            );
            if ch.spec.delivers_itself() {
                out += "  # delivers its events itself: no sink needs to read it\n";
            }
        }
        for sink in &self.sinks {
            let wiring = format!("<- {}", sink.channel);
            write_component(&mut out, "sink", &sink.name, &*sink.spec, &wiring);
        }
        for group in &self.sinkgroups {
            out += &format!("sinkgroup {}\n", group.name);
            for (key, value) in group.describe() {
                out += &format!("  {key} = {value}\n");
            }
        }
        out
    }
}

/// `kind name (type) wiring`, then its settings, indented.
fn write_component(out: &mut String, kind: &str, name: &str, spec: &dyn Component, wiring: &str) {
    let extension = if spec.spate_extension() {
        ", a spate extension"
    } else {
        ""
    };
    let wiring = if wiring.is_empty() {
        String::new()
    } else {
        format!(" {wiring}")
    };
    *out += &format!("{kind} {name} ({}{extension}){wiring}\n", spec.type_name());
    for Setting { key, value, note } in spec.describe() {
        write_setting(out, &key, &value, note);
    }
}

fn write_setting(out: &mut String, key: &str, value: &str, note: &str) {
    if note.is_empty() {
        *out += &format!("  {key} = {value}\n");
    } else {
        *out += &format!("  {key} = {value}  # {note}\n");
    }
}
