//! What a report says about where it was measured: host, CPU, memory, kernel, commit.
//!
//! Everything is read from /proc and `git`; anything unreadable is left empty rather than failing
//! the run, since a report without its hostname is still worth having.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use crate::report::model::Environment;

/// Describes this machine now. `repo` is where to ask git for the commit (usually the working
/// directory); outside a git work tree the commit is `None`.
pub fn describe(repo: &Path) -> Environment {
    Environment {
        hostname: read_trimmed("/proc/sys/kernel/hostname").unwrap_or_default(),
        cpu_model: cpu_model().unwrap_or_default(),
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_bytes: mem_total().unwrap_or(0),
        kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default(),
        io_uring_disabled: read_trimmed("/proc/sys/kernel/io_uring_disabled"),
        commit: commit(repo),
        loadgen_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn cpu_model() -> Option<String> {
    let info = fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn mem_total() -> Option<u64> {
    let info = fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `git rev-parse --short HEAD`, with `-dirty` when tracked files have uncommitted changes.
fn commit(repo: &Path) -> Option<String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--short", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_machine() {
        let env = describe(Path::new("."));
        assert!(env.cpus >= 1);
        assert!(env.memory_bytes > 0);
        assert!(!env.kernel.is_empty());
        // RFC 3339, UTC: 2026-11-22T04:46:54Z
        assert_eq!(env.started_at.len(), 20, "{}", env.started_at);
        assert!(env.started_at.ends_with('Z'));
    }
}
