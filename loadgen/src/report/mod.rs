//! Reports: the figures of a run or a sweep ([`model`]) and their rendering.
//!
//! A report is a directory: `report.json` holds the figures exactly, as the [`model`] structs
//! serialised, so that later tools can compare runs; `report.md` ([`run_markdown`],
//! [`sweep_markdown`]) is the readable summary, with numbers rounded by [`human`]; the SVG
//! charts (`charts.rs`) show the timeline of a run or the curve of a sweep. `report.md` links the
//! charts by relative path, so the directory can be moved or attached whole.
//!
//! ```no_run
//! use spate_loadgen::report::{model::RunReport, write_run};
//!
//! let report = RunReport::default();
//! for file in write_run("target/report".as_ref(), &report)? {
//!     println!("wrote {}", file.display());
//! }
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

mod charts;
#[cfg(test)]
mod fixtures;
pub mod human;
mod markdown;
pub mod model;

pub use markdown::{run_markdown, sweep_markdown};
use model::{RunReport, SweepReport};

/// File names inside a report directory; `report.md` links the charts by these names.
pub const JSON: &str = "report.json";
pub const MARKDOWN: &str = "report.md";
pub const THROUGHPUT_SVG: &str = "throughput.svg";
pub const LATENCY_SVG: &str = "latency.svg";
pub const RESOURCES_SVG: &str = "resources.svg";
pub const LATENCY_VS_LOAD_SVG: &str = "latency-vs-load.svg";
pub const CPU_VS_LOAD_SVG: &str = "cpu-vs-load.svg";

/// Writes the report of one run into `dir` (created if needed): `report.json`, `report.md`,
/// `throughput.svg`, `latency.svg` and `resources.svg`. Returns the paths written.
pub fn write_run(dir: &Path, report: &RunReport) -> Result<Vec<PathBuf>> {
    write_all(
        dir,
        vec![
            (JSON, serde_json::to_string_pretty(report)? + "\n"),
            (MARKDOWN, run_markdown(report)),
            (
                THROUGHPUT_SVG,
                charts::throughput(report).context("drawing the throughput chart")?,
            ),
            (
                LATENCY_SVG,
                charts::latency(report).context("drawing the latency chart")?,
            ),
            (
                RESOURCES_SVG,
                charts::resources(report).context("drawing the resources chart")?,
            ),
        ],
    )
}

/// Writes the report of a sweep into `dir` (created if needed): `report.json`, `report.md`,
/// `latency-vs-load.svg` and `cpu-vs-load.svg`. Returns the paths written.
pub fn write_sweep(dir: &Path, report: &SweepReport) -> Result<Vec<PathBuf>> {
    write_all(
        dir,
        vec![
            (JSON, serde_json::to_string_pretty(report)? + "\n"),
            (MARKDOWN, sweep_markdown(report)),
            (
                LATENCY_VS_LOAD_SVG,
                charts::latency_vs_load(report)
                    .context("drawing the latency against load chart")?,
            ),
            (
                CPU_VS_LOAD_SVG,
                charts::cpu_vs_load(report).context("drawing the CPU against load chart")?,
            ),
        ],
    )
}

/// Renders everything before writing anything, so that a drawing error leaves no half report.
fn write_all(dir: &Path, files: Vec<(&str, String)>) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the report directory {}", dir.display()))?;
    files
        .into_iter()
        .map(|(name, content)| {
            let path = dir.join(name);
            fs::write(&path, content)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a file written into a report directory.
    fn read(dir: &Path, name: &str) -> String {
        fs::read_to_string(dir.join(name)).unwrap()
    }

    /// A well-formed enough SVG document: one `svg` root, balanced text elements, no value that
    /// is not a number, and every expected string (axis titles, series names) present.
    fn assert_svg(svg: &str, expected: &[&str]) {
        assert!(svg.starts_with("<svg"), "{svg:.80}");
        assert!(svg.trim_end().ends_with("</svg>"), "{svg:.80}");
        assert_eq!(svg.matches("<svg").count(), 1);
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        assert!(svg.contains(r#"width="960""#));
        for bad in ["NaN", "inf"] {
            assert!(!svg.contains(bad), "{bad} in the SVG");
        }
        for s in expected {
            assert!(svg.contains(s), "{s:?} missing from the SVG");
        }
    }

    fn names(files: &[PathBuf]) -> Vec<&str> {
        files
            .iter()
            .map(|f| f.file_name().unwrap().to_str().unwrap())
            .collect()
    }

    #[test]
    fn run_report_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("nested/run");
        let report = fixtures::run();
        let files = write_run(&out, &report).unwrap();
        assert_eq!(
            names(&files),
            [JSON, MARKDOWN, THROUGHPUT_SVG, LATENCY_SVG, RESOURCES_SVG]
        );
        assert!(files.iter().all(|f| f.starts_with(&out) && f.is_file()));

        let back: RunReport = serde_json::from_str(&read(&out, JSON)).unwrap();
        assert_eq!(back, report);

        let time = "time since load start (s)";
        let marks = ["receiver stopped", "receiver back"];
        let throughput = read(&out, THROUGHPUT_SVG);
        assert_svg(
            &throughput,
            &[time, "lines/s", "MB/s", "received", "written"],
        );
        assert_svg(&throughput, &marks);
        let latency = read(&out, LATENCY_SVG);
        assert_svg(
            &latency,
            &[time, "latency (ms)", "p50", "p99", "p99.9", "max"],
        );
        assert_svg(&latency, &marks);
        let resources = read(&out, RESOURCES_SVG);
        assert_svg(&resources, &[time, "CPU (% of one core)", "RSS (MiB)"]);
        assert_svg(&resources, &marks);

        let md = read(&out, MARKDOWN);
        assert_eq!(md, run_markdown(&report));
        for chart in [THROUGHPUT_SVG, LATENCY_SVG, RESOURCES_SVG] {
            assert!(md.contains(&format!("]({chart})")), "{chart} not linked");
        }
    }

    #[test]
    fn empty_run_still_renders() {
        let dir = tempfile::tempdir().unwrap();
        let report = fixtures::empty_run();
        let files = write_run(dir.path(), &report).unwrap();
        assert_eq!(files.len(), 5);
        let back: RunReport = serde_json::from_str(&read(dir.path(), JSON)).unwrap();
        assert_eq!(back, report);
        assert_svg(
            &read(dir.path(), THROUGHPUT_SVG),
            &["no samples", "received"],
        );
        assert_svg(
            &read(dir.path(), LATENCY_SVG),
            &["no line received", "p99.9"],
        );
        assert_svg(&read(dir.path(), RESOURCES_SVG), &["no samples", "RSS"]);
    }

    #[test]
    fn sweep_report_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let report = fixtures::sweep();
        let files = write_sweep(dir.path(), &report).unwrap();
        assert_eq!(
            names(&files),
            [JSON, MARKDOWN, LATENCY_VS_LOAD_SVG, CPU_VS_LOAD_SVG]
        );
        let back: SweepReport = serde_json::from_str(&read(dir.path(), JSON)).unwrap();
        assert_eq!(back, report);

        let rate = "offered rate (lines/s)";
        let sustainable = "highest sustainable: 100 k lines/s";
        assert_svg(
            &read(dir.path(), LATENCY_VS_LOAD_SVG),
            &[
                rate,
                "latency (ms)",
                "p50",
                "p99.9",
                "SLO: p99 ≤ 50.0 ms",
                sustainable,
                "not sustainable",
            ],
        );
        assert_svg(
            &read(dir.path(), CPU_VS_LOAD_SVG),
            &[
                rate,
                "CPU (% of one core)",
                "received (lines/s)",
                "offered",
                sustainable,
            ],
        );
        let md = read(dir.path(), MARKDOWN);
        assert_eq!(md, sweep_markdown(&report));
        for chart in [LATENCY_VS_LOAD_SVG, CPU_VS_LOAD_SVG] {
            assert!(md.contains(&format!("]({chart})")), "{chart} not linked");
        }
    }

    #[test]
    fn empty_sweep_still_renders() {
        let dir = tempfile::tempdir().unwrap();
        let report = fixtures::empty_sweep();
        assert_eq!(write_sweep(dir.path(), &report).unwrap().len(), 4);
        let back: SweepReport = serde_json::from_str(&read(dir.path(), JSON)).unwrap();
        assert_eq!(back, report);
        let latency = read(dir.path(), LATENCY_VS_LOAD_SVG);
        assert_svg(&latency, &["no line received", "not sustainable"]);
        assert!(!latency.contains("highest sustainable"));
        assert_svg(&read(dir.path(), CPU_VS_LOAD_SVG), &["CPU", "offered"]);
    }

    #[test]
    fn a_file_in_the_way_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("taken");
        fs::write(&file, "").unwrap();
        let err = write_run(&file, &fixtures::empty_run()).unwrap_err();
        assert!(format!("{err:#}").contains("cannot create the report directory"));
    }
}
