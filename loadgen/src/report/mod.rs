//! Reports: the figures of a run or a sweep ([`model`]) and their rendering.
//!
//! `report.md` ([`run_markdown`], [`sweep_markdown`]) is the readable summary of a report, with
//! numbers rounded by [`human`]; it links the SVG charts by the relative file names below.

#[cfg(test)]
mod fixtures;
pub mod human;
mod markdown;
pub mod model;

pub use markdown::{run_markdown, sweep_markdown};

/// File names inside a report directory; `report.md` links the charts by these names.
pub const JSON: &str = "report.json";
pub const MARKDOWN: &str = "report.md";
pub const THROUGHPUT_SVG: &str = "throughput.svg";
pub const LATENCY_SVG: &str = "latency.svg";
pub const RESOURCES_SVG: &str = "resources.svg";
pub const LATENCY_VS_LOAD_SVG: &str = "latency-vs-load.svg";
pub const CPU_VS_LOAD_SVG: &str = "cpu-vs-load.svg";
