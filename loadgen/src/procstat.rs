//! CPU and memory of the system under test, from /proc.
//!
//! The system under test may be a process tree (a shell script that starts a JVM, say), so a
//! sample sums every process descended from the root pid: CPU is user plus system time
//! (`/proc/PID/stat` fields 14 and 15), memory the resident set (`VmRSS`). Children that exited
//! and were reaped are counted by their parent's `cutime`/`cstime`, which are included too.

use std::collections::HashMap;
use std::fs;

/// One reading of a process tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// CPU seconds used so far by the tree (user + system, reaped children included).
    pub cpu_seconds: f64,
    /// Resident memory of the tree now, in bytes.
    pub rss_bytes: u64,
    /// The root's own peak resident set (`VmHWM`), in bytes.
    pub root_peak_rss_bytes: u64,
}

/// Reads a process tree rooted at one pid.
#[derive(Debug)]
pub struct ProcSampler {
    root: u32,
    ticks_per_second: f64,
    page_bytes: u64,
}

/// The fields of `/proc/PID/stat` we use.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stat {
    ppid: u32,
    /// utime + stime + cutime + cstime, in clock ticks.
    ticks: u64,
    rss_pages: u64,
}

impl ProcSampler {
    pub fn new(root: u32) -> Self {
        // SAFETY: sysconf only reads configuration values and has no preconditions.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        ProcSampler {
            root,
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
            page_bytes: if page > 0 { page as u64 } else { 4096 },
        }
    }

    /// Samples the tree; `None` once the root process is gone.
    pub fn sample(&self) -> Option<ProcSample> {
        let root = read_stat(self.root)?;
        let mut ticks = root.ticks;
        let mut rss_pages = root.rss_pages;
        let descendants = self.descendants();
        for pid in descendants {
            if let Some(s) = read_stat(pid) {
                ticks += s.ticks;
                rss_pages += s.rss_pages;
            }
        }
        Some(ProcSample {
            cpu_seconds: ticks as f64 / self.ticks_per_second,
            rss_bytes: rss_pages * self.page_bytes,
            root_peak_rss_bytes: vm_hwm(self.root).unwrap_or(0),
        })
    }

    /// Every live process below the root.
    fn descendants(&self) -> Vec<u32> {
        let Ok(dir) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(s) = read_stat(pid) {
                children.entry(s.ppid).or_default().push(pid);
            }
        }
        let mut out = Vec::new();
        let mut todo = vec![self.root];
        while let Some(pid) = todo.pop() {
            for &child in children.get(&pid).map_or(&[][..], Vec::as_slice) {
                out.push(child);
                todo.push(child);
            }
        }
        out
    }
}

fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses `/proc/PID/stat`. The command name (field 2) is in parentheses and may contain spaces
/// and parentheses itself, so fields are counted from the last `)`.
fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state): field N is f[N - 3].
    let num = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    let ticks = num(14)? + num(15)? + num(16)? + num(17)?;
    Some(Stat {
        ppid: num(4)? as u32,
        ticks,
        rss_pages: num(24)?,
    })
}

fn vm_hwm(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_whose_name_has_spaces_and_parentheses() {
        let line = "4242 (a (weird) name) S 17 4242 4242 0 -1 4194560 1000 0 0 0 \
                    250 50 7 3 20 0 3 0 123456 1234567890 5000 18446744073709551615";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.ppid, 17);
        assert_eq!(s.ticks, 250 + 50 + 7 + 3);
        assert_eq!(s.rss_pages, 5000);
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 0 1"), None);
    }

    #[test]
    fn samples_a_child_that_burns_cpu() {
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 30",
            ])
            .spawn()
            .unwrap();
        let sampler = ProcSampler::new(child.id());
        // Wait for the loop to finish (the shell is then sleeping), then read.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut last = sampler.sample().unwrap();
        while last.cpu_seconds < 0.05 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
            last = sampler.sample().unwrap();
        }
        assert!(last.cpu_seconds >= 0.05, "{last:?}");
        assert!(
            last.rss_bytes > 0 && last.root_peak_rss_bytes > 0,
            "{last:?}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(sampler.sample(), None, "gone after exit");
    }
}
