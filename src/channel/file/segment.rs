//! The file channel's segment files: `log-NNNNNNNN.spate` in a data directory, each a 16-byte
//! header then records ([`super::record`]), appended until the segment reaches `maxFileSize`.
//!
//! ```text
//! offset size field
//!      0    8 magic      b"SPATECHL"
//!      8    2 version    1
//!     10    2 reserved   zero
//!     12    4 log_id     the channel's log identity, which every record repeats
//! ```
//!
//! The format is spate's own: Flume's file channel files (`log-N`, `log-N.meta`, `checkpoint`,
//! `inflightputs`, ...) are recognised and refused ([`refuse_flume_files`]), never misread.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::record::{self, Scan};

/// A segment header's size.
pub const HEADER_LEN: usize = 16;

/// What starts every segment.
pub const MAGIC: [u8; 8] = *b"SPATECHL";

/// The format version written and read.
pub const VERSION: u16 = 1;

/// A segment's file name.
pub fn file_name(index: u64) -> String {
    format!("log-{index:08}.spate")
}

/// The index of a segment file name, if it is one.
pub fn index_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("log-")?.strip_suffix(".spate")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A segment header for log `log_id`.
pub fn header(log_id: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&log_id.to_le_bytes());
    h
}

/// Why a segment cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// Reading it failed.
    #[error("{path}: {source}")]
    Io {
        /// The segment.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// It does not start with a segment header.
    #[error("{path}: not a spate file channel segment (no `SPATECHL` header)")]
    NotASegment {
        /// The segment.
        path: PathBuf,
    },
    /// It was written by a later spate.
    #[error("{path}: segment format version {version}, this spate reads version {VERSION}")]
    Version {
        /// The segment.
        path: PathBuf,
        /// Its version.
        version: u16,
    },
}

/// A segment's header, read back: its log's identity.
pub fn read_header(path: &Path, bytes: &[u8]) -> Result<u32, SegmentError> {
    if bytes.len() < HEADER_LEN || bytes[0..8] != MAGIC {
        return Err(SegmentError::NotASegment {
            path: path.to_owned(),
        });
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != VERSION {
        return Err(SegmentError::Version {
            path: path.to_owned(),
            version,
        });
    }
    Ok(u32::from_le_bytes(
        bytes[12..16].try_into().expect("4 bytes"),
    ))
}

/// A segment mapped into memory, with what its records are.
#[derive(Debug)]
pub struct Mapped {
    /// Its path.
    pub path: PathBuf,
    /// Its bytes (empty for an empty file).
    pub map: Option<memmap2::Mmap>,
    /// Its log's identity.
    pub log_id: u32,
    /// Its records, offsets relative to the file's start.
    pub scan: Scan,
}

impl Mapped {
    /// The segment's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Bytes past the last sound record: a torn tail, to truncate before appending. Zeros
    /// alone are not one: they are the padding of a direct write's last block (or blocks a
    /// crash left allocated and unwritten), where no record ever was.
    pub fn torn_tail(&self) -> usize {
        let tail = &self.bytes()[self.scan.end..];
        if tail.iter().all(|&b| b == 0) {
            0
        } else {
            tail.len()
        }
    }
}

/// Maps the segment at `path` and reads its records.
pub fn map(path: &Path) -> Result<Mapped, SegmentError> {
    map_from(path, HEADER_LEN)
}

/// Maps the segment at `path` and reads its records from offset `from` on (a record's start,
/// at least [`HEADER_LEN`]; past the end, none are read).
pub fn map_from(path: &Path, from: usize) -> Result<Mapped, SegmentError> {
    let io = |source| SegmentError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    // SAFETY: the channel's directories are locked by the agent that owns them (one agent per
    // channel), and a segment being read at start or by `verify` is not written meanwhile. A
    // file truncated by someone else under the mapping would make reads fault (SIGBUS), which
    // the lock is there to rule out.
    let map = (len > 0)
        .then(|| unsafe { memmap2::Mmap::map(&file) })
        .transpose()
        .map_err(io)?;
    let bytes = map.as_deref().unwrap_or(&[]);
    let log_id = read_header(path, bytes)?;
    let from = from.clamp(HEADER_LEN, bytes.len().max(HEADER_LEN));
    let mut scan = record::scan(&bytes[from..], log_id);
    scan.shift(from);
    Ok(Mapped {
        path: path.to_owned(),
        map,
        log_id,
        scan,
    })
}

/// The segments of `dir`, by index.
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(index) = entry.file_name().to_str().and_then(index_of) {
            out.push((index, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Files of Flume's own file channel in a directory.
#[derive(Debug, thiserror::Error)]
#[error(
    "{dir} holds Apache Flume's file channel files ({}): spate's file channel has a format of \
     its own and does not read Flume's; let Flume drain the channel first, or give spate \
     another directory",
    .files.join(", ")
)]
pub struct FlumeFiles {
    /// The directory.
    pub dir: PathBuf,
    /// Some of the files.
    pub files: Vec<String>,
}

/// Refuses a directory that holds Flume's file channel files: data files (`log-N`,
/// `log-N.meta`) or checkpoint files (`checkpoint`, `checkpoint.meta`, `inflightputs`,
/// `inflighttakes`, `queueset`).
pub fn refuse_flume_files(dir: &Path) -> Result<(), FlumeFiles> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(()); // absent: created later; unreadable: said when it is used
    };
    let mut files: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| is_flume_file(name))
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    files.sort();
    files.truncate(4);
    Err(FlumeFiles {
        dir: dir.to_owned(),
        files,
    })
}

fn is_flume_file(name: &str) -> bool {
    const CHECKPOINT: &[&str] = &[
        "checkpoint",
        "checkpoint.meta",
        "inflightputs",
        "inflighttakes",
        "queueset",
    ];
    if CHECKPOINT.contains(&name) {
        return true;
    }
    let Some(rest) = name.strip_prefix("log-") else {
        return false;
    };
    let digits = rest.strip_suffix(".meta").unwrap_or(rest);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::super::record::RecordKind;
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(file_name(3), "log-00000003.spate");
        assert_eq!(index_of("log-00000003.spate"), Some(3));
        assert_eq!(index_of("log-3"), None);
        assert_eq!(index_of("log-.spate"), None);
        assert_eq!(index_of("log-1a.spate"), None);
    }

    #[test]
    fn a_segment_maps_with_its_records_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name(1));
        let mut bytes = header(42).to_vec();
        record::encode(&mut bytes, 42, RecordKind::Put, 1, b"first");
        let whole = bytes.len();
        record::encode(&mut bytes, 42, RecordKind::Put, 2, b"second");
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, &bytes).unwrap();
        let m = map(&path).unwrap();
        assert_eq!(m.log_id, 42);
        let records: Vec<_> = m.scan.records().cloned().collect();
        assert_eq!(records.len(), 1);
        assert_eq!(&m.bytes()[records[0].payload.clone()], b"first");
        assert_eq!(m.scan.end, whole);
        assert_eq!(m.torn_tail(), bytes.len() - whole);
    }

    #[test]
    fn what_is_not_a_segment_is_said() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name(1));
        std::fs::write(&path, b"hello").unwrap();
        assert!(matches!(map(&path), Err(SegmentError::NotASegment { .. })));
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(map(&path), Err(SegmentError::NotASegment { .. })));
        let mut h = header(1);
        h[8] = 9;
        std::fs::write(&path, h).unwrap();
        let e = map(&path).unwrap_err();
        assert!(e.to_string().contains("version 9"), "{e}");
    }

    #[test]
    fn flume_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(refuse_flume_files(dir.path()).is_ok());
        std::fs::write(dir.path().join(file_name(1)), header(1)).unwrap();
        assert!(
            refuse_flume_files(dir.path()).is_ok(),
            "spate's own segments"
        );
        std::fs::write(dir.path().join("log-3"), b"").unwrap();
        std::fs::write(dir.path().join("log-3.meta"), b"").unwrap();
        let e = refuse_flume_files(dir.path()).unwrap_err();
        assert_eq!(e.files, ["log-3", "log-3.meta"]);
        assert!(e.to_string().contains("does not read Flume's"), "{e}");
        let cp = tempfile::tempdir().unwrap();
        std::fs::write(cp.path().join("inflightputs"), b"").unwrap();
        assert!(refuse_flume_files(cp.path()).is_err());
        assert!(refuse_flume_files(&cp.path().join("absent")).is_ok());
    }
}
