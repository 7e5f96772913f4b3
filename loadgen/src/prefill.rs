//! `prefill`: write numbered lines to a file as fast as the page cache takes them.
//!
//! A chunk of whole lines (about [`CHUNK_BYTES`]) is laid out once; for every further chunk only
//! the 41-byte headers are rewritten, and the chunk goes out in one `write`. The timestamp field is
//! the time the chunk was built (a prefilled file is for throughput, not latency).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::line::{self, MAX_SEQ, MAX_STREAM};

/// Bytes written per `write` call (rounded down to whole lines, at least one line).
pub const CHUNK_BYTES: usize = 4 << 20;

/// What to write.
#[derive(Debug, Clone)]
pub struct PrefillConfig {
    pub file: PathBuf,
    pub lines: u64,
    pub size: usize,
    pub stream: u16,
    pub start_seq: u64,
    pub append: bool,
}

/// The JSON line `prefill` prints.
#[derive(Debug, Serialize)]
pub struct PrefillReport {
    pub file: String,
    pub lines: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// Nanoseconds since the UNIX epoch, the line format's clock.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Writes `cfg.lines` lines numbered from `cfg.start_seq` to `cfg.file`.
pub fn prefill(cfg: &PrefillConfig) -> Result<PrefillReport> {
    line::check_size(cfg.size)?;
    if cfg.stream > MAX_STREAM {
        bail!(
            "stream id {} does not fit 4 digits (max {MAX_STREAM})",
            cfg.stream
        );
    }
    let last = cfg
        .start_seq
        .checked_add(cfg.lines)
        .map(|end| end.saturating_sub(1));
    if !matches!(last, Some(l) if l <= MAX_SEQ) {
        bail!(
            "sequence numbers {}..{}+{} do not fit 16 digits (max {MAX_SEQ})",
            cfg.start_seq,
            cfg.start_seq,
            cfg.lines
        );
    }
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(cfg.append)
        .truncate(!cfg.append)
        .open(&cfg.file)
        .with_context(|| format!("cannot open {} for writing", cfg.file.display()))?;

    let started = Instant::now();
    write_lines(&mut file, cfg).with_context(|| format!("writing {}", cfg.file.display()))?;
    let seconds = started.elapsed().as_secs_f64();

    Ok(PrefillReport {
        file: cfg.file.display().to_string(),
        lines: cfg.lines,
        bytes: cfg.lines * cfg.size as u64,
        seconds,
    })
}

fn write_lines(file: &mut File, cfg: &PrefillConfig) -> std::io::Result<()> {
    let per_chunk = (CHUNK_BYTES / cfg.size).max(1) as u64;
    let mut chunk = Vec::with_capacity(per_chunk as usize * cfg.size);
    let mut seq = cfg.start_seq;
    let end = cfg.start_seq + cfg.lines;
    while seq < end {
        let n = per_chunk.min(end - seq);
        let ts = now_ns();
        if chunk.len() != n as usize * cfg.size {
            // First chunk, or the short last one: lay the lines out in full.
            chunk.clear();
            for i in 0..n {
                line::format_line(&mut chunk, seq + i, ts, cfg.stream, cfg.size);
            }
        } else {
            for (i, l) in chunk.chunks_exact_mut(cfg.size).enumerate() {
                line::write_header(l, seq + i as u64, ts, cfg.stream);
            }
        }
        file.write_all(&chunk)?;
        seq += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::parse_line;

    fn cfg(file: PathBuf, lines: u64, size: usize) -> PrefillConfig {
        PrefillConfig {
            file,
            lines,
            size,
            stream: 3,
            start_seq: 0,
            append: false,
        }
    }

    #[test]
    fn writes_numbered_lines_across_chunks_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        let size = 1000;
        // Two full chunks and a short one.
        let lines = 2 * (CHUNK_BYTES / size) as u64 + 17;
        let report = prefill(&cfg(path.clone(), lines, size)).unwrap();
        assert_eq!(report.bytes, lines * size as u64);
        let mut more = cfg(path.clone(), 5, size);
        more.start_seq = lines;
        more.append = true;
        prefill(&more).unwrap();

        let data = std::fs::read(&path).unwrap();
        assert_eq!(data.len(), (lines as usize + 5) * size);
        for (i, l) in data.chunks_exact(size).enumerate() {
            let p = parse_line(l).unwrap();
            assert_eq!((p.seq, p.stream), (i as u64, 3));
            assert_eq!(l[size - 1], b'\n');
            assert!(!l[..size - 1].contains(&b'\n'));
        }
    }

    #[test]
    fn rejects_bad_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        assert!(prefill(&cfg(path.clone(), 1, 32)).is_err());
        let mut c = cfg(path.clone(), 2, 64);
        c.start_seq = MAX_SEQ;
        assert!(prefill(&c).is_err());
        c.start_seq = MAX_SEQ - 1;
        assert!(prefill(&c).is_ok());
        let mut c = cfg(path, 1, 64);
        c.stream = 10_000;
        assert!(prefill(&c).is_err());
    }
}
